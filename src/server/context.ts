import type { EntityManager } from '@mikro-orm/core';
import type { EventBus } from '../events/event-bus.js';
import type { FailoverService } from '../failover/failover.service.js';
import type { ReadinessService } from '../failover/readiness/readiness.service.js';
import type { Logger } from '../logger.js';
import type { AuthContext, Principal } from './auth.js';
import { createLoaders, type Loaders } from '../services/loaders.js';

export type { Loaders };

/** What the failover mutations and the events subscription work with. */
export interface AppServices {
  readonly failover: FailoverService;
  readonly readiness: ReadinessService;
  readonly events: EventBus;
}

/** What every resolver receives: a request-scoped EntityManager, loaders, and the service's settings. */
export interface Context extends AuthContext {
  readonly em: EntityManager;
  readonly loaders: Loaders;
  readonly logger: Logger;
  readonly maxPageSize: number;
  readonly services: AppServices;
}

/** A fresh context: forks the ORM's EntityManager so requests never share an identity map. */
export function createContext(
  root: EntityManager,
  {
    logger,
    maxPageSize,
    principal,
    authEnabled,
    services,
  }: { logger: Logger; maxPageSize: number; principal: Principal | null; authEnabled: boolean; services: AppServices },
): Context {
  const em = root.fork();
  return {
    em,
    loaders: createLoaders(em),
    logger: principal ? logger.child({ token: principal.tokenId }) : logger,
    maxPageSize,
    principal,
    authEnabled,
    services,
  };
}
