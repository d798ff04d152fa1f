import { requireText } from '../arguments.js';
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { FailoverType } from '../entities/enums.js';
import type { Context } from '../server/context.js';
import { vmReadiness } from '../services/readiness.js';
import { VmReadiness } from './readiness.type.js';

@Resolver()
export class ReadinessResolver {
  @Query(() => VmReadiness, {
    description:
      'Whether a VM can fail over now, with every check behind the answer: the database checks, then the CloudStack checks (volumes Ready, destination networks exist).',
  })
  vmReadiness(
    @Arg('vmId', () => String) vmId: string,
    @Arg('type', () => FailoverType) type: FailoverType,
    @Ctx() { loaders, services }: Context,
  ): Promise<VmReadiness> {
    requireText('vmId', vmId, { max: Number.POSITIVE_INFINITY });
    // One VM: the cloud checks join the database checks (a few cloud calls).
    return vmReadiness(loaders, vmId, type, services.readiness) as Promise<VmReadiness>;
  }
}
