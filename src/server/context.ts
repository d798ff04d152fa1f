import type { EntityManager } from '@mikro-orm/core';
import { ActorKind, type RequestSource } from '../access/actor.js';
import { RequestAudit } from '../access/audit.js';
import type { EventBus } from '../events/event-bus.js';
import type { FailoverService } from '../failover/failover.service.js';
import type { PlanCommands } from '../failover/plans/plan-commands.js';
import type { PlanEvent, PlanEventFilter } from '../events/plan-event-store.js';
import type { ReadinessService } from '../failover/readiness/readiness.service.js';
import type { Logger } from '../logger.js';
import type { AuthContext, Principal } from './auth.js';
import { createLoaders, type Loaders } from '../services/loaders.js';

export type { Loaders };

/** What API key management needs from the server: to re-read keys (and close a revoked key's sockets) at once. */
export interface KeyWatch {
  refresh(): Promise<void>;
}

/** What the failover mutations and the events subscription work with. */
export interface AppServices {
  readonly failover: FailoverService;
  readonly readiness: ReadinessService;
  readonly events: EventBus;
  /** The plan execution commands. */
  readonly plans: PlanCommands;
  readonly planEvents: EventBus<PlanEvent, PlanEventFilter>;
}

/** What every resolver receives: a request-scoped EntityManager, loaders, who asks, and the service's settings. */
export interface Context extends AuthContext {
  readonly em: EntityManager;
  readonly loaders: Loaders;
  readonly logger: Logger;
  readonly maxPageSize: number;
  readonly services: AppServices;
  /** The audit of this request's mutations. */
  readonly audit: RequestAudit;
  readonly keys: KeyWatch;
}

/** A fresh context: forks the ORM's EntityManager so requests never share an identity map. */
export function createContext(
  root: EntityManager,
  {
    logger,
    maxPageSize,
    principal,
    source,
    services,
    keys,
  }: { logger: Logger; maxPageSize: number; principal: Principal; source: RequestSource; services: AppServices; keys: KeyWatch },
): Context {
  const em = root.fork();
  return {
    em,
    loaders: createLoaders(em),
    logger: principal.kind === ActorKind.ANONYMOUS ? logger : logger.child({ caller: principal.name }),
    maxPageSize,
    principal,
    services,
    audit: new RequestAudit(root, principal, source),
    keys,
  };
}
