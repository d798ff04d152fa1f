import { raw, type EntityManager } from '@mikro-orm/core';
import { SqlitePlatform } from '@mikro-orm/sql';
import { ExecutionPhase, FailoverExecution, FailoverJob, FailoverStatus, FailoverType, FlowName, readJobType, toFailoverStatus } from '../../entities/index.js';
import { appendEvent } from '../../events/event-store.js';
import type { JobEvent } from '../../events/event.types.js';
import { LeaseLost } from './errors.js';
import { planColumns, type JobPlan } from './plan.js';

/**
 * The lifecycle of a failover job: the one module that changes a job's status, its cursor (flow,
 * phase, step) and its lease. Every change is a named function below; each writes the execution
 * row, the job row and the event that reports it in one transaction, fenced by the lease where a
 * worker runs the job. The mutation service validates and calls {@link createJob} and
 * {@link beginUnwind} (so does the engine, for an automatic cleanup); the runner calls the {@link JobLifecycle} of the job it holds; the engine
 * takes, renews and releases leases here.
 *
 * Who sets status X:
 *
 * | status | set by |
 * |---|---|
 * | PENDING | {@link createJob} |
 * | VALIDATING … POWERING_ON, CLEANUP/REVERTING steps | {@link JobLifecycle.enterStep} |
 * | COMPLETED | {@link JobLifecycle.finish} (a failover), {@link JobLifecycle.unwindFailed} (a cleanup or revert that failed) |
 * | CLEANED_UP, REVERTED | {@link JobLifecycle.finish} (an unwind) |
 * | CLEANUP, REVERTING | {@link beginUnwind} |
 * | FAILED | {@link JobLifecycle.fail}, {@link JobLifecycle.rollbackIncomplete} |
 */

/** Every status a job may move to from each status; anything else is a bug, refused before it is written. */
export const TRANSITIONS: Readonly<Record<FailoverStatus, readonly FailoverStatus[]>> = {
  [FailoverStatus.PENDING]: [FailoverStatus.VALIDATING, FailoverStatus.FAILED],
  [FailoverStatus.VALIDATING]: [FailoverStatus.SNAPSHOTTING, FailoverStatus.FAILED],
  [FailoverStatus.SNAPSHOTTING]: [FailoverStatus.CREATING_VM, FailoverStatus.FAILED],
  [FailoverStatus.CREATING_VM]: [FailoverStatus.SWITCHING_VOLUME, FailoverStatus.FAILED],
  [FailoverStatus.SWITCHING_VOLUME]: [FailoverStatus.POWERING_ON, FailoverStatus.FAILED],
  [FailoverStatus.POWERING_ON]: [FailoverStatus.COMPLETED, FailoverStatus.FAILED],
  [FailoverStatus.COMPLETED]: [FailoverStatus.CLEANUP, FailoverStatus.REVERTING],
  [FailoverStatus.CLEANUP]: [FailoverStatus.CLEANED_UP, FailoverStatus.COMPLETED],
  [FailoverStatus.REVERTING]: [FailoverStatus.REVERTED, FailoverStatus.COMPLETED],
  [FailoverStatus.FAILED]: [],
  [FailoverStatus.CLEANED_UP]: [],
  [FailoverStatus.REVERTED]: [],
  // Written only by the original appliance or another tool: this service never moves such a job.
  [FailoverStatus.EXECUTING]: [],
  [FailoverStatus.UNKNOWN]: [],
};

/** Whether a job may move from `from` to `to` (staying in a status is always allowed: a resumed step). */
export function canMove(from: FailoverStatus, to: FailoverStatus): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

function assertMove(jobId: string, from: FailoverStatus, to: FailoverStatus): void {
  if (!canMove(from, to)) throw new Error(`job ${jobId}: no transition from ${from} to ${to}`);
}

/** The flow a failover of each type runs. */
export const FAILOVER_FLOW = { [FailoverType.TEST]: FlowName.TEST_FAILOVER, [FailoverType.LIVE]: FlowName.LIVE_FAILOVER } as const;

/** Flows a completed job may be moved into. */
export type UnwindFlow = FlowName.CLEANUP | FlowName.REVERT;

/** The database's clock in epoch milliseconds, as SQL (typed as the number it evaluates to): leases and due times are compared against it, so instances need no clock sync. */
export function dbNowMs(em: EntityManager): number {
  return em.getPlatform() instanceof SqlitePlatform
    ? raw<number>(`cast((julianday('now') - 2440587.5) * 86400000 as integer)`)
    : raw<number>(`cast(unix_timestamp(now(3)) * 1000 as signed)`);
}

/** `now + ms` on the database's clock, as SQL. */
export function dbNowPlus(em: EntityManager, ms: number): number {
  const offset = Math.trunc(ms);
  // MariaDB: unix_timestamp(now(3)) is epoch-based because the session's time zone is UTC (db/orm.ts).
  return em.getPlatform() instanceof SqlitePlatform
    ? raw<number>(`cast((julianday('now') - 2440587.5) * 86400000 as integer) + ${offset}`)
    : raw<number>(`cast(unix_timestamp(now(3)) * 1000 as signed) + ${offset}`);
}

/** Which job a change is about (its event repeats the VM and type). */
export type JobRef = Pick<FailoverJob, 'jobId' | 'vmId' | 'jobType'> & {
  /** Who asked for the flow being run (the execution's `flowRequestedBy`): every event of it carries the name. */
  readonly requestedBy: string | null;
};

/** What the lifecycle writes on the job row: the status only ever as one this service knows. */
type JobPatch = Partial<Pick<FailoverJob, 'destinationVmId' | 'osseaSnapshotId' | 'errorMessage' | 'startedAt' | 'completedAt'>> & { status?: FailoverStatus };
type ExecutionPatch = Partial<
  Pick<FailoverExecution, 'flow' | 'phase' | 'step' | 'failedStep' | 'failure' | 'progressPercent' | 'vmLock' | 'leaseOwner' | 'leaseExpiresAt'>
> & { autoCleanupAt?: number | null };
interface EventFields {
  readonly status: FailoverStatus;
  readonly previousStatus: string | null;
  readonly progressPercent: number;
  readonly step: string | null;
  readonly message: string | null;
}
interface Change {
  readonly execution?: ExecutionPatch;
  readonly job?: JobPatch;
  readonly event?: EventFields;
}

/**
 * The lease fence, inside a write's transaction: touches the execution row only while `owner`
 * holds the lease, else throws {@link LeaseLost} (and the transaction writes nothing). Every
 * lifecycle write of a held job passes it first (the ledger's writes carry the same condition in
 * their one statement, ledger.ts).
 */
export async function fence(tx: EntityManager, jobId: string, owner: string, execution: ExecutionPatch = {}): Promise<void> {
  const updated = await tx.nativeUpdate(FailoverExecution, { jobId, leaseOwner: owner }, { ...execution, updatedAt: new Date() });
  if (updated === 0) throw new LeaseLost(jobId);
}

/**
 * Writes one change in one transaction: the execution row (fenced: only while `owner` holds the
 * lease, else {@link LeaseLost} and nothing is written), the job row and the event. Returns the
 * event as committed (the caller publishes after commit).
 */
async function commit(root: EntityManager, { jobId, vmId, jobType, requestedBy }: JobRef, owner: string, change: Change): Promise<JobEvent | null> {
  // A change of the execution row alone is one fenced UPDATE: atomic by itself, no transaction around it.
  if (!change.job && !change.event) {
    await fence(root.fork(), jobId, owner, change.execution);
    return null;
  }
  return root.fork().transactional(async (tx) => {
    await fence(tx, jobId, owner, change.execution);
    if (change.job) await tx.nativeUpdate(FailoverJob, { jobId }, { ...change.job, updatedAt: new Date() });
    return change.event ? appendEvent(tx, { jobId, vmId, jobType, requestedBy, ...change.event }) : null;
  });
}

/** What {@link createJob} records. */
export interface NewJob {
  readonly plan: JobPlan;
  readonly replicationJobId: string | null;
  readonly autoCleanupAfterMinutes: number | null;
  readonly now: Date;
  /** Who asked for it (recorded on the execution and every event of the flow). */
  readonly requestedBy: string;
  /** The plan execution that starts it, if one does. */
  readonly planExecutionId?: number | null;
  /** Written in the same transaction (the audit log's record of the request). */
  readonly alsoWrite?: (tx: EntityManager) => Promise<void>;
}

/**
 * Creates a job PENDING, with its execution row (cursor at the first step, the VM locked) and its
 * first event, in one transaction. Rejects with the driver's unique-constraint error when the VM
 * is locked by another job or the id is taken (the caller decides which).
 */
export async function createJob(
  root: EntityManager,
  { plan, replicationJobId, autoCleanupAfterMinutes, now, requestedBy, planExecutionId = null, alsoWrite }: NewJob,
): Promise<void> {
  const { jobId, vmId, type } = plan;
  await root.fork().transactional(async (tx) => {
    await tx.insert(FailoverExecution, {
      jobId,
      vmId,
      vmLock: vmId,
      flow: FAILOVER_FLOW[type],
      phase: ExecutionPhase.RUN,
      step: 0,
      progressPercent: 0,
      autoCleanupAfterMinutes,
      requestedBy,
      flowRequestedBy: requestedBy,
      planExecutionId,
      createdAt: now,
      updatedAt: now,
    });
    await tx.insert(FailoverJob, {
      jobId,
      vmId,
      replicationJobId,
      jobType: type,
      status: FailoverStatus.PENDING,
      sourceVmName: plan.sourceName,
      ...planColumns(plan),
      createdAt: now,
      updatedAt: now,
    });
    await alsoWrite?.(tx);
    // The event last: its sequence row stays locked until the commit, so nothing else waits behind it.
    await appendEvent(tx, {
      jobId,
      vmId,
      jobType: type,
      status: FailoverStatus.PENDING,
      previousStatus: null,
      progressPercent: 0,
      step: null,
      message: `${type} failover of ${plan.sourceName} queued`,
      requestedBy,
    });
  });
}

/**
 * Why a job cannot be moved into `flow` now, or null when it can: only a completed failover of the
 * matching type that still holds its VM (or a cleanup/revert of it that failed, to resume).
 */
function unwindRefusal(job: FailoverJob, execution: FailoverExecution | null, flow: UnwindFlow): string | null {
  const cleanup = flow === FlowName.CLEANUP;
  const wanted = cleanup ? FailoverType.TEST : FailoverType.LIVE;
  const jobId = job.jobId;
  if (readJobType(job.jobType) !== wanted) {
    return cleanup
      ? `Job ${jobId} is a live failover: cleanupTestFailover cleans up test failovers; use revertFailover`
      : `Job ${jobId} is a test failover: revertFailover reverts live failovers; use cleanupTestFailover`;
  }
  const what = cleanup ? 'cleaned up' : 'reverted';
  if (!execution) return `Job ${jobId} was not run by this service: it has no ledger to be ${what} from`;
  const resumable = execution.flow === flow || execution.flow === FAILOVER_FLOW[wanted];
  if (toFailoverStatus(job.status) !== FailoverStatus.COMPLETED || execution.phase !== ExecutionPhase.DONE || !execution.vmLock || !resumable) {
    return `Job ${jobId} is ${job.status}: only a completed ${wanted} failover can be ${what}`;
  }
  return null;
}

/** What {@link beginUnwind} did. */
export type UnwindOutcome =
  /** The job is in its cleanup or revert flow now. */
  | { readonly kind: 'begun' }
  /** No job has that id. */
  | { readonly kind: 'no-job' }
  /** The job cannot be moved into the flow (the reason in words). */
  | { readonly kind: 'refused'; readonly job: FailoverJob; readonly reason: string }
  /** The job changed between the read and the write (nothing written); the job as it is now. */
  | { readonly kind: 'changed'; readonly job: FailoverJob };

/**
 * Moves a completed job into its cleanup or revert flow (COMPLETED → CLEANUP/REVERTING): a first
 * unwind starts at its first step, one that failed resumes at the step that failed. The one way
 * in, for the mutations and the engine's automatic cleanup alike: reads the job, decides whether
 * it may, and writes conditionally on the row being as it was read.
 */
export async function beginUnwind(
  root: EntityManager,
  jobId: string,
  flow: UnwindFlow,
  { reason, requestedBy, alsoWrite }: { reason: string; requestedBy: string; alsoWrite?: (tx: EntityManager) => Promise<void> },
): Promise<UnwindOutcome> {
  const em = root.fork();
  const job = await em.findOne(FailoverJob, { jobId }, { disableIdentityMap: true });
  if (!job) return { kind: 'no-job' };
  const execution = await em.findOne(FailoverExecution, { jobId }, { disableIdentityMap: true });
  const refusal = unwindRefusal(job, execution, flow);
  if (refusal !== null || !execution) return { kind: 'refused', job, reason: refusal ?? `Job ${jobId} has no execution` };
  const status = flow === FlowName.CLEANUP ? FailoverStatus.CLEANUP : FailoverStatus.REVERTING;
  assertMove(jobId, FailoverStatus.COMPLETED, status);
  const begun = await root.fork().transactional(async (tx) => {
    const updated = await tx.nativeUpdate(
      FailoverExecution,
      { jobId, phase: ExecutionPhase.DONE, flow: execution.flow, step: execution.step, vmLock: { $ne: null } },
      {
        flow,
        phase: ExecutionPhase.RUN,
        step: execution.flow === flow ? execution.step : 0,
        progressPercent: 0,
        autoCleanupAt: null,
        failedStep: null,
        failure: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        flowRequestedBy: requestedBy,
        updatedAt: new Date(),
      },
    );
    if (updated === 0) return false;
    await tx.nativeUpdate(FailoverJob, { jobId }, { status, errorMessage: null, updatedAt: new Date() });
    await alsoWrite?.(tx);
    // The event last (its sequence row stays locked until the commit).
    await appendEvent(tx, {
      jobId,
      vmId: job.vmId,
      jobType: job.jobType,
      status,
      // The status as this service reads it (unwindRefusal checked it is COMPLETED).
      previousStatus: FailoverStatus.COMPLETED,
      progressPercent: 0,
      step: null,
      message: reason,
      requestedBy,
    });
    return true;
  });
  if (begun) return { kind: 'begun' };
  return { kind: 'changed', job: (await root.fork().findOne(FailoverJob, { jobId }, { disableIdentityMap: true })) ?? job };
}

/** What a finished flow leaves: a failover keeps the VM locked (optionally with an automatic cleanup due); an unwind lets go. */
export interface Finish {
  readonly doneStatus: FailoverStatus;
  readonly steps: number;
  readonly keepsVm: boolean;
  readonly autoCleanupAfterMinutes: number | null;
  readonly message: string;
}

/**
 * The changes of one job as the worker holding its lease makes them. Each method is one named
 * transition that builds its own event; every write is fenced by the lease ({@link LeaseLost}).
 * The in-memory status and progress follow what was committed.
 */
export class JobLifecycle {
  private current: FailoverStatus;
  private percent: number;

  constructor(
    private readonly root: EntityManager,
    private readonly job: JobRef & { startedAt?: Date | null },
    private readonly owner: string,
    status: FailoverStatus,
    progressPercent: number,
    private readonly now: () => number,
  ) {
    this.current = status;
    this.percent = progressPercent;
  }

  get status(): FailoverStatus {
    return this.current;
  }

  get progressPercent(): number {
    return this.percent;
  }

  private async write(change: Change): Promise<JobEvent | null> {
    if (change.job?.status) assertMove(this.job.jobId, this.current, change.job.status);
    const event = await commit(this.root, this.job, this.owner, change);
    if (change.job?.status) this.current = change.job.status;
    if (change.event) this.percent = change.event.progressPercent;
    return event;
  }

  /** Enters step `index` of the flow: its status (and the job's start time, the first time), the cursor, an event. */
  async enterStep(index: number, name: string, status: FailoverStatus, percent: number): Promise<JobEvent | null> {
    const started = this.job.startedAt ? {} : { startedAt: new Date(this.now()) };
    const event = await this.write({
      execution: { step: index, progressPercent: percent },
      job: { status, ...started },
      event: { status, previousStatus: this.current, progressPercent: percent, step: name, message: `${name} started` },
    });
    this.job.startedAt ??= new Date(this.now());
    return event;
  }

  /** A step ended: the cursor moves past it (no event: the next step's start, or the finish, reports it). */
  async stepDone(nextIndex: number, percent: number): Promise<void> {
    this.percent = Math.max(this.percent, percent);
    await this.write({ execution: { step: nextIndex, progressPercent: this.percent } });
  }

  /** Progress inside a step (only ever forward). */
  async progress(step: string, percent: number): Promise<JobEvent | null> {
    if (percent <= this.percent) return null;
    return this.write({
      execution: { progressPercent: percent },
      event: { status: this.current, previousStatus: this.current, progressPercent: percent, step, message: null },
    });
  }

  /** A transient failure: the step is tried again (the event says why). */
  retrying(step: string, message: string): Promise<JobEvent | null> {
    return this.write({ event: { status: this.current, previousStatus: this.current, progressPercent: this.percent, step, message } });
  }

  /** Columns of the job row that are facts, not lifecycle: the VM it deployed, the root's snapshot. */
  async record(patch: Pick<JobPatch, 'destinationVmId' | 'osseaSnapshotId'>): Promise<void> {
    await this.write({ job: patch });
  }

  /** A failover's step failed for good: the cursor enters compensation (the job's status stays the step's until it ends). */
  startCompensation(index: number, step: string, failure: string): Promise<JobEvent | null> {
    return this.write({
      execution: { phase: ExecutionPhase.COMPENSATE, step: index, failedStep: step, failure },
      event: { status: this.current, previousStatus: this.current, progressPercent: this.percent, step, message: `${step} failed: ${failure}; rolling back` },
    });
  }

  /** The flow's steps all ran: the job ends in the flow's done status. */
  finish({ doneStatus, steps, keepsVm, autoCleanupAfterMinutes, message }: Finish): Promise<JobEvent | null> {
    const minutes = keepsVm ? autoCleanupAfterMinutes : null;
    return this.write({
      execution: {
        phase: ExecutionPhase.DONE,
        step: steps,
        progressPercent: 100,
        leaseOwner: null,
        leaseExpiresAt: null,
        failedStep: null,
        failure: null,
        ...(keepsVm ? { autoCleanupAt: minutes ? dbNowPlus(this.root, minutes * 60_000) : null } : { vmLock: null, autoCleanupAt: null }),
      },
      job: { status: doneStatus, completedAt: new Date(this.now()), errorMessage: null },
      event: { status: doneStatus, previousStatus: this.current, progressPercent: 100, step: null, message },
    });
  }

  /**
   * A cleanup or revert failed at a step: the job goes back to COMPLETED (it still holds the VM),
   * the cursor stays at the step to resume there, and an automatic cleanup may be due again later.
   */
  unwindFailed(index: number, step: string, failure: string, message: string, retryInMs: number | null): Promise<JobEvent | null> {
    return this.write({
      execution: {
        phase: ExecutionPhase.DONE,
        step: index,
        failedStep: step,
        failure,
        leaseOwner: null,
        leaseExpiresAt: null,
        autoCleanupAt: retryInMs === null ? null : dbNowPlus(this.root, retryInMs),
      },
      job: { status: FailoverStatus.COMPLETED, errorMessage: message },
      event: { status: FailoverStatus.COMPLETED, previousStatus: this.current, progressPercent: this.percent, step, message },
    });
  }

  /**
   * The job's row carries a status this service never writes (another tool changed it): the job is
   * left alone — its cursor ends, its lease is let go, the reason is kept in `failure` — rather than
   * run on, or be claimed again and again.
   */
  async abandon(reason: string): Promise<void> {
    await this.write({ execution: { phase: ExecutionPhase.DONE, failure: reason, leaseOwner: null, leaseExpiresAt: null } });
  }

  /** An undo failed transiently: compensation tries it again (the event says why). */
  undoRetrying(step: string, message: string): Promise<JobEvent | null> {
    return this.retrying(step, message);
  }

  /** Compensation undid everything: the job ends FAILED and lets go of the VM. */
  fail(step: string, message: string, eventMessage: string): Promise<JobEvent | null> {
    return this.write({
      execution: { phase: ExecutionPhase.DONE, vmLock: null, leaseOwner: null, leaseExpiresAt: null },
      job: { status: FailoverStatus.FAILED, errorMessage: message, completedAt: new Date(this.now()) },
      event: { status: FailoverStatus.FAILED, previousStatus: this.current, progressPercent: this.percent, step, message: eventMessage },
    });
  }

  /** An undo failed for good: the job ends FAILED and keeps the VM locked for manual cleanup. */
  rollbackIncomplete(step: string, message: string): Promise<JobEvent | null> {
    return this.write({
      execution: { phase: ExecutionPhase.DONE, leaseOwner: null, leaseExpiresAt: null },
      job: { status: FailoverStatus.FAILED, errorMessage: message, completedAt: new Date(this.now()) },
      event: { status: FailoverStatus.FAILED, previousStatus: this.current, progressPercent: this.percent, step, message },
    });
  }
}

// Leases: owner + expiry on the execution row, on the database's clock.

const CLAIMABLE = (em: EntityManager) => ({
  phase: { $in: [ExecutionPhase.RUN, ExecutionPhase.COMPENSATE] },
  $or: [{ leaseOwner: null }, { leaseExpiresAt: null }, { leaseExpiresAt: { $lt: dbNowMs(em) } }],
});

/** Takes the job's lease when it has work and nobody holds a live lease. True when taken. */
export async function claimLease(root: EntityManager, jobId: string, owner: string, leaseMs: number): Promise<boolean> {
  const em = root.fork();
  const updated = await em.nativeUpdate(FailoverExecution, { jobId, ...CLAIMABLE(em) }, { leaseOwner: owner, leaseExpiresAt: dbNowPlus(em, leaseMs) });
  return updated === 1;
}

/** Extends the lease; false when this worker no longer holds it. */
export async function renewLease(root: EntityManager, jobId: string, owner: string, leaseMs: number): Promise<boolean> {
  const em = root.fork();
  const updated = await em.nativeUpdate(FailoverExecution, { jobId, leaseOwner: owner }, { leaseExpiresAt: dbNowPlus(em, leaseMs) });
  return updated === 1;
}

/** Lets go of the lease (the job can be taken at once by any worker). */
export async function releaseLease(root: EntityManager, jobId: string, owner: string): Promise<void> {
  await root.fork().nativeUpdate(FailoverExecution, { jobId, leaseOwner: owner }, { leaseOwner: null, leaseExpiresAt: null });
}

/** Jobs with work and no live lease, oldest first. */
export async function claimableJobs(root: EntityManager, limit: number): Promise<string[]> {
  const em = root.fork();
  const rows = await em.find(FailoverExecution, CLAIMABLE(em), { fields: ['jobId'], orderBy: { createdAt: 'asc' }, limit, disableIdentityMap: true });
  return rows.map((r) => r.jobId);
}

/** Completed test failovers whose automatic cleanup is due. */
export async function dueAutoCleanups(root: EntityManager, limit: number): Promise<string[]> {
  const em = root.fork();
  const rows = await em.find(
    FailoverExecution,
    { phase: ExecutionPhase.DONE, autoCleanupAt: { $lte: dbNowMs(em) } },
    { fields: ['jobId'], orderBy: { autoCleanupAt: 'asc' }, limit, disableIdentityMap: true },
  );
  return rows.map((r) => r.jobId);
}

/** The execution of a job, read fresh. */
export function loadExecution(root: EntityManager, jobId: string): Promise<FailoverExecution | null> {
  return root.fork().findOne(FailoverExecution, { jobId }, { disableIdentityMap: true });
}
