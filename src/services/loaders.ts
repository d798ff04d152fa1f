import type { EntityManager } from '@mikro-orm/core';
import DataLoader from 'dataloader';
import { FailoverExecution, FailoverJob, FailoverLedgerEntry, RecoveryPlanRow, type PlanExecutionVmRow, type PlanExecutionWaveRow } from '../entities/index.js';
import { loadVmFacts, type VmFacts } from '../inventory/vm-facts.js';
import { readExecutionsVms, type ExecutionVm } from '../failover/plans/plan-executor.js';
import { executionWaves, planWaves } from './plans.js';

/** Per-request batch loaders: everything a page asks of the same VMs is read once, in batches. */
export interface Loaders {
  readonly vmFacts: DataLoader<string, VmFacts>;
  /** The engine's row of a job (null for jobs this service did not run). */
  readonly executions: DataLoader<string, FailoverExecution | null>;
  /** A job's ledger of cloud calls, oldest first. */
  readonly ledger: DataLoader<string, FailoverLedgerEntry[]>;
  /** Jobs by job id (null when unknown). */
  readonly jobs: DataLoader<string, FailoverJob | null>;
  /** Plans by id, deleted ones included (an execution keeps its plan). */
  readonly plans: DataLoader<number, RecoveryPlanRow | null>;
  /** A plan's waves with their VMs. */
  readonly planWaves: DataLoader<number, { order: number; vms: { vmId: string; name: string | null }[] }[]>;
  /** An execution's waves with their VMs. */
  readonly executionWaves: DataLoader<number, { wave: PlanExecutionWaveRow; vms: PlanExecutionVmRow[] }[]>;
  /** An execution's VMs with their jobs' status and progress. */
  readonly executionVms: DataLoader<number, ExecutionVm[]>;
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
    jobs: new DataLoader(async (jobIds) => {
      const rows = await em.find(FailoverJob, { jobId: { $in: [...jobIds] } });
      return jobIds.map((id) => rows.find((r) => r.jobId === id) ?? null);
    }),
    plans: new DataLoader(async (ids) => {
      const rows = await em.find(RecoveryPlanRow, { id: { $in: [...ids] } }, { disableIdentityMap: true });
      return ids.map((id) => rows.find((r) => r.id === id) ?? null);
    }),
    planWaves: new DataLoader(async (ids) => {
      const waves = await planWaves(em, ids);
      return ids.map((id) => waves.get(id) ?? []);
    }),
    executionWaves: new DataLoader(async (ids) => {
      const waves = await executionWaves(em, ids);
      return ids.map((id) => waves.get(id) ?? []);
    }),
    executionVms: new DataLoader(async (ids) => {
      const vms = await readExecutionsVms(em, ids);
      return ids.map((id) => vms.get(id) ?? []);
    }),
  };
}
