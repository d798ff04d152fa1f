import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { FailoverType } from '../entities/enums.js';
import { badInput } from '../errors.js';
import type { Context } from '../server/context.js';
import { vmReadiness } from '../services/readiness.js';
import { VmReadiness } from './readiness.type.js';

@Resolver()
export class ReadinessResolver {
  @Query(() => VmReadiness, { description: 'Whether a VM can fail over now, with every check behind the answer.' })
  vmReadiness(
    @Arg('vmId', () => String) vmId: string,
    @Arg('type', () => FailoverType) type: FailoverType,
    @Ctx() { loaders }: Context,
  ): Promise<VmReadiness> {
    if (vmId.trim() === '') throw badInput('vmId', 'vmId must not be empty');
    return vmReadiness(loaders, vmId, type) as Promise<VmReadiness>;
  }
}
