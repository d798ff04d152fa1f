import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { AccessResolver } from '../resolvers/access.resolver.js';
import { FailoverCommandResolver } from '../resolvers/failover-command.resolver.js';
import { FailoverEventResolver } from '../resolvers/failover-event.resolver.js';
import { FailoverJobResolver } from '../resolvers/failover-job.resolver.js';
import { NetworkMappingResolver } from '../resolvers/network-mapping.resolver.js';
import { ReadinessResolver } from '../resolvers/readiness.resolver.js';
import { PlanEventResolver } from '../resolvers/plan-event.resolver.js';
import { PlanExecutionResolver, PlanExecutionVmResolver, PlanExecutionWaveResolver, RecoveryPlanResolver } from '../resolvers/recovery-plan.resolver.js';
import { VirtualMachineResolver } from '../resolvers/virtual-machine.resolver.js';
import { authChecker } from './auth.js';

/** Every resolver class of the API. */
export const RESOLVERS = [
  AccessResolver,
  FailoverJobResolver,
  FailoverCommandResolver,
  FailoverEventResolver,
  NetworkMappingResolver,
  ReadinessResolver,
  VirtualMachineResolver,
  RecoveryPlanResolver,
  PlanExecutionResolver,
  PlanExecutionWaveResolver,
  PlanExecutionVmResolver,
  PlanEventResolver,
] as const;

/**
 * type-graphql insists on a PubSub once a schema has a subscription, but ours opens its own
 * stream (the event bus: replay by sequence, then live), so there are no topics to publish to.
 */
const NO_TOPICS: PubSub = {
  publish: () => {
    throw new Error('subscriptions read the event bus; there are no pub/sub topics');
  },
  subscribe: () => {
    throw new Error('subscriptions read the event bus; there are no pub/sub topics');
  },
};

/** Builds the executable schema from the resolver classes (the source of schema.graphql); tests may add resolvers. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- type-graphql takes resolver classes as `Function`
export function buildAppSchema(extraResolvers: readonly Function[] = []): Promise<GraphQLSchema> {
  return buildSchema({ resolvers: [...RESOLVERS, ...extraResolvers], validate: false, emitSchemaFile: false, authChecker, pubSub: NO_TOPICS });
}
