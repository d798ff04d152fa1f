import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { FailoverJobResolver } from '../resolvers/failover-job.resolver.js';
import { NetworkMappingResolver } from '../resolvers/network-mapping.resolver.js';
import { ReadinessResolver } from '../resolvers/readiness.resolver.js';
import { VirtualMachineResolver } from '../resolvers/virtual-machine.resolver.js';
import { authChecker } from './auth.js';

/** Every resolver class of the API. */
export const RESOLVERS = [FailoverJobResolver, NetworkMappingResolver, ReadinessResolver, VirtualMachineResolver] as const;

/** Builds the executable schema from the resolver classes (the source of schema.graphql). */
export function buildAppSchema(): Promise<GraphQLSchema> {
  return buildSchema({ resolvers: RESOLVERS, validate: false, emitSchemaFile: false, authChecker });
}
