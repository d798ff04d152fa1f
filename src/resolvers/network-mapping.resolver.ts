import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { AuditedMutation } from './audited-mutation.js';
import { NetworkMapping } from '../entities/network-mapping.entity.js';
import { Role } from '../server/auth.js';
import type { Context } from '../server/context.js';
import { deleteNetworkMapping, listNetworkMappings, setNetworkMapping } from '../services/network-mappings.js';
import { NetworkMappingKeyInput, SetNetworkMappingInput } from './network-mapping.input.js';

@Resolver(() => NetworkMapping)
export class NetworkMappingResolver {
  @Query(() => [NetworkMapping], { description: "A VM's network mappings, production first." })
  networkMappings(@Arg('vmId', () => String) vmId: string, @Ctx() { em }: Context): Promise<NetworkMapping[]> {
    return listNetworkMappings(em, vmId);
  }

  @FieldResolver(() => Boolean, { description: 'true: an isolated test network (test failover); false: production (live).' })
  isTestNetwork(@Root() mapping: NetworkMapping): boolean {
    return Boolean(mapping.isTestNetwork);
  }

  @AuditedMutation(Role.ADMIN)
  @Mutation(() => NetworkMapping, { description: 'Creates or replaces the mapping of one source network.' })
  setNetworkMapping(
    @Arg('input', () => SetNetworkMappingInput) input: SetNetworkMappingInput,
    @Ctx() { em, loaders, audit }: Context,
  ): Promise<NetworkMapping> {
    return setNetworkMapping(em, loaders, input, audit.change);
  }

  @AuditedMutation(Role.ADMIN)
  @Mutation(() => NetworkMapping, { description: 'Deletes one mapping; returns it as it was.' })
  deleteNetworkMapping(@Arg('input', () => NetworkMappingKeyInput) input: NetworkMappingKeyInput, @Ctx() { em, audit }: Context): Promise<NetworkMapping> {
    return deleteNetworkMapping(em, input, audit.change);
  }
}
