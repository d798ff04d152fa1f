import type { EntityManager } from '@mikro-orm/core';
import DataLoader from 'dataloader';
import { FailoverExecution, FailoverLedgerEntry } from '../entities/index.js';
import { AppError, ErrorCode } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { FailoverService } from '../failover/failover.service.js';
import type { ReadinessService } from '../failover/readiness/readiness.service.js';
import { loadVmFacts, type VmFacts } from '../inventory/vm-facts.js';
import type { Logger } from '../logger.js';
import type { AuthContext, Principal } from './auth.js';

/** Per-request batch loaders: everything a page asks of the same VMs is read once, in batches. */
export interface Loaders {
  readonly vmFacts: DataLoader<string, VmFacts>;
  /** The engine's row of a job (null for jobs this service did not run). */
  readonly executions: DataLoader<string, FailoverExecution | null>;
  /** A job's ledger of cloud calls, oldest first. */
  readonly ledger: DataLoader<string, FailoverLedgerEntry[]>;
}

/** What the failover mutations and the events subscription work with. */
export interface AppServices {
  readonly failover: FailoverService;
  readonly readiness: ReadinessService;
  readonly events: EventBus;
}

/** The services, or a clear error where the server runs without them (schema-only tests). */
export function requireServices(context: Context): AppServices {
  if (!context.services) throw new AppError(ErrorCode.CLOUD_UNAVAILABLE, 'The failover engine is not running in this server');
  return context.services;
}

/** What every resolver receives: a request-scoped EntityManager, loaders, and the service's settings. */
export interface Context extends AuthContext {
  readonly em: EntityManager;
  readonly loaders: Loaders;
  readonly logger: Logger;
  readonly maxPageSize: number;
  readonly services?: AppServices;
}

/** Builds the per-request loaders on a forked EntityManager. */
export function createLoaders(em: EntityManager): Loaders {
  return {
    vmFacts: new DataLoader(async (vmIds) => {
      const facts = await loadVmFacts(em, vmIds);
      return vmIds.map((id) => facts.get(id)!);
    }),
    executions: new DataLoader(async (jobIds) => {
      const rows = await em.find(FailoverExecution, { jobId: { $in: [...jobIds] } }, { disableIdentityMap: true });
      return jobIds.map((id) => rows.find((r) => r.jobId === id) ?? null);
    }),
    ledger: new DataLoader(async (jobIds) => {
      const rows = await em.find(FailoverLedgerEntry, { jobId: { $in: [...jobIds] } }, { orderBy: { id: 'asc' }, disableIdentityMap: true });
      return jobIds.map((id) => rows.filter((r) => r.jobId === id));
    }),
  };
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
  }: { logger: Logger; maxPageSize: number; principal: Principal | null; authEnabled: boolean; services?: AppServices },
): Context {
  const em = root.fork();
  return {
    em,
    loaders: createLoaders(em),
    logger: principal ? logger.child({ token: principal.tokenId }) : logger,
    maxPageSize,
    principal,
    authEnabled,
    ...(services ? { services } : {}),
  };
}
