import type { EntityManager } from '@mikro-orm/core';
import DataLoader from 'dataloader';
import { FailoverExecution, FailoverLedgerEntry } from '../entities/index.js';
import { loadVmFacts, type VmFacts } from '../inventory/vm-facts.js';

/** Per-request batch loaders: everything a page asks of the same VMs is read once, in batches. */
export interface Loaders {
  readonly vmFacts: DataLoader<string, VmFacts>;
  /** The engine's row of a job (null for jobs this service did not run). */
  readonly executions: DataLoader<string, FailoverExecution | null>;
  /** A job's ledger of cloud calls, oldest first. */
  readonly ledger: DataLoader<string, FailoverLedgerEntry[]>;
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
