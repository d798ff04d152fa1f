import type { EntityManager } from '@mikro-orm/core';
import { appendEvent } from '../../events/event-store.js';
import type { JobEvent } from '../../events/event.types.js';
import { ExecutionPhase, FailoverExecution, FailoverJob, type FailoverStatus, type FlowName } from '../../entities/index.js';
import { LeaseLost } from './errors.js';

/** Columns of `failover_jobs` the engine writes. */
export type JobPatch = Partial<Pick<FailoverJob, 'status' | 'destinationVmId' | 'osseaSnapshotId' | 'errorMessage' | 'startedAt' | 'completedAt'>>;

/** Columns of `failover_executions` the engine writes. */
export type ExecutionPatch = Partial<
  Pick<
    FailoverExecution,
    'flow' | 'phase' | 'step' | 'failedStep' | 'failure' | 'progressPercent' | 'vmLock' | 'autoCleanupAt' | 'leaseOwner' | 'leaseExpiresAt'
  >
>;

/** One change of a job: what to write, and the event that reports it (none: a silent write). */
export interface JobChange {
  readonly execution?: ExecutionPatch;
  readonly job?: JobPatch;
  readonly event?: {
    readonly status: FailoverStatus;
    readonly previousStatus: string | null;
    readonly progressPercent: number;
    readonly step: string | null;
    readonly message: string | null;
  };
}

/** Which job a change is about (the event row repeats its VM and type). */
export type JobRef = Pick<FailoverJob, 'jobId' | 'vmId' | 'jobType'>;

/**
 * Writes a job's change in one transaction: the execution row (fenced: only while `owner` holds
 * the lease, else {@link LeaseLost} and nothing is written), the job row, and the event. Returns the
 * event as committed; the caller publishes it (bus.notify) after this resolves, i.e. after commit.
 */
export async function commitChange(root: EntityManager, { jobId, vmId, jobType }: JobRef, owner: string | null, change: JobChange): Promise<JobEvent | null> {
  return root.fork().transactional(async (tx) => {
    if (change.execution || owner !== null) {
      const where = owner === null ? { jobId } : { jobId, leaseOwner: owner };
      const updated = await tx.nativeUpdate(FailoverExecution, where, { ...change.execution, updatedAt: new Date() });
      if (updated === 0) throw new LeaseLost(jobId);
    }
    if (change.job) await tx.nativeUpdate(FailoverJob, { jobId }, { ...change.job, updatedAt: new Date() });
    if (!change.event) return null;
    return appendEvent(tx, { jobId, vmId, jobType, ...change.event });
  });
}

/** Options of the lease operations. */
export interface LeaseOptions {
  readonly owner: string;
  readonly leaseMs: number;
  readonly now: number;
}

/** Takes the job's lease when it has work and nobody holds a live lease. True when taken. */
export async function claimLease(root: EntityManager, jobId: string, { owner, leaseMs, now }: LeaseOptions): Promise<boolean> {
  const updated = await root.fork().nativeUpdate(
    FailoverExecution,
    {
      jobId,
      phase: { $in: [ExecutionPhase.RUN, ExecutionPhase.COMPENSATE] },
      $or: [{ leaseOwner: null }, { leaseExpiresAt: null }, { leaseExpiresAt: { $lt: now } }],
    },
    { leaseOwner: owner, leaseExpiresAt: now + leaseMs },
  );
  return updated === 1;
}

/** Extends the lease; false when this worker no longer holds it. */
export async function renewLease(root: EntityManager, jobId: string, { owner, leaseMs, now }: LeaseOptions): Promise<boolean> {
  const updated = await root.fork().nativeUpdate(FailoverExecution, { jobId, leaseOwner: owner }, { leaseExpiresAt: now + leaseMs });
  return updated === 1;
}

/** Lets go of the lease (the job can be taken at once by any worker). */
export async function releaseLease(root: EntityManager, jobId: string, owner: string): Promise<void> {
  await root.fork().nativeUpdate(FailoverExecution, { jobId, leaseOwner: owner }, { leaseOwner: null, leaseExpiresAt: null });
}

/** Jobs with work and no live lease, oldest first. */
export async function claimableJobs(root: EntityManager, now: number, limit: number): Promise<string[]> {
  const rows = await root.fork().find(
    FailoverExecution,
    {
      phase: { $in: [ExecutionPhase.RUN, ExecutionPhase.COMPENSATE] },
      $or: [{ leaseOwner: null }, { leaseExpiresAt: null }, { leaseExpiresAt: { $lt: now } }],
    },
    { fields: ['jobId'], orderBy: { createdAt: 'asc' }, limit, disableIdentityMap: true },
  );
  return rows.map((r) => r.jobId);
}

/** Completed test failovers whose automatic cleanup is due. */
export async function dueAutoCleanups(root: EntityManager, now: number, limit: number): Promise<string[]> {
  const rows = await root
    .fork()
    .find(
      FailoverExecution,
      { phase: ExecutionPhase.DONE, autoCleanupAt: { $lte: now } },
      { fields: ['jobId'], orderBy: { autoCleanupAt: 'asc' }, limit, disableIdentityMap: true },
    );
  return rows.map((r) => r.jobId);
}

/** The execution of a job, read fresh. */
export function loadExecution(root: EntityManager, jobId: string): Promise<FailoverExecution | null> {
  return root.fork().findOne(FailoverExecution, { jobId }, { disableIdentityMap: true });
}

/** Flows the engine may move a completed job into. */
export type UnwindFlow = FlowName.CLEANUP | FlowName.REVERT;
