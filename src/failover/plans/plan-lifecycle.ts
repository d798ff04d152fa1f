import type { EntityManager } from '@mikro-orm/core';
import {
  FailoverType,
  PlanExecutionRow,
  PlanExecutionStatus,
  PlanExecutionVmRow,
  PlanExecutionWaveRow,
  PlanPhase,
  PlanUnwindState,
  PlanVmState,
  RecoveryPlanRow,
  readPlanStatus,
} from '../../entities/index.js';
import { appendPlanEvent, PlanEventKind, type NewPlanEvent } from '../../events/plan-event-store.js';
import { dbNowMs, dbNowPlus } from '../engine/lifecycle.js';

/**
 * The lifecycle of a plan execution: the one module that changes an execution's status, its cursor
 * (phase, wave), its lease, and the state of its VMs. Every change is a named function below; each
 * writes the execution row, the rows it touches and the event that reports it in one transaction,
 * fenced by the lease where the executor holds the execution. The plan commands call
 * {@link createExecution}, {@link requestCancel} and {@link beginPlanUnwind}; the executor calls the
 * {@link PlanLifecycle} of the execution it holds.
 *
 * Who sets status X:
 *
 * | status | set by |
 * |---|---|
 * | PENDING | {@link createExecution} |
 * | RUNNING | {@link PlanLifecycle.start} |
 * | CANCELLING | {@link requestCancel} |
 * | COMPLETED, PARTIALLY_COMPLETED, FAILED, CANCELLED | {@link PlanLifecycle.finish}; {@link PlanLifecycle.finishUnwind} (an unwind that failed goes back to how the run ended) |
 * | CLEANUP, REVERTING | {@link beginPlanUnwind} |
 * | CLEANED_UP, REVERTED | {@link PlanLifecycle.finishUnwind} |
 */

/** Every status an execution may move to from each status; anything else is a bug, refused before it is written. */
export const PLAN_TRANSITIONS: Readonly<Record<PlanExecutionStatus, readonly PlanExecutionStatus[]>> = {
  [PlanExecutionStatus.PENDING]: [PlanExecutionStatus.RUNNING, PlanExecutionStatus.CANCELLING],
  [PlanExecutionStatus.RUNNING]: [
    PlanExecutionStatus.COMPLETED,
    PlanExecutionStatus.PARTIALLY_COMPLETED,
    PlanExecutionStatus.FAILED,
    PlanExecutionStatus.CANCELLING,
  ],
  [PlanExecutionStatus.CANCELLING]: [PlanExecutionStatus.CANCELLED],
  [PlanExecutionStatus.COMPLETED]: [PlanExecutionStatus.CLEANUP, PlanExecutionStatus.REVERTING],
  [PlanExecutionStatus.PARTIALLY_COMPLETED]: [PlanExecutionStatus.CLEANUP, PlanExecutionStatus.REVERTING],
  [PlanExecutionStatus.FAILED]: [PlanExecutionStatus.CLEANUP, PlanExecutionStatus.REVERTING],
  [PlanExecutionStatus.CANCELLED]: [PlanExecutionStatus.CLEANUP, PlanExecutionStatus.REVERTING],
  [PlanExecutionStatus.CLEANUP]: [
    PlanExecutionStatus.CLEANED_UP,
    PlanExecutionStatus.COMPLETED,
    PlanExecutionStatus.PARTIALLY_COMPLETED,
    PlanExecutionStatus.FAILED,
    PlanExecutionStatus.CANCELLED,
  ],
  [PlanExecutionStatus.REVERTING]: [
    PlanExecutionStatus.REVERTED,
    PlanExecutionStatus.COMPLETED,
    PlanExecutionStatus.PARTIALLY_COMPLETED,
    PlanExecutionStatus.FAILED,
    PlanExecutionStatus.CANCELLED,
  ],
  [PlanExecutionStatus.CLEANED_UP]: [],
  [PlanExecutionStatus.REVERTED]: [],
};

/** Statuses a run ends in: what a cleanup or revert starts from. */
export const RUN_ENDED: readonly PlanExecutionStatus[] = [
  PlanExecutionStatus.COMPLETED,
  PlanExecutionStatus.PARTIALLY_COMPLETED,
  PlanExecutionStatus.FAILED,
  PlanExecutionStatus.CANCELLED,
];

/** Whether an execution may move from `from` to `to` (staying is always allowed). */
function canMovePlan(from: PlanExecutionStatus, to: PlanExecutionStatus): boolean {
  return from === to || PLAN_TRANSITIONS[from].includes(to);
}

function assertMove(id: number, from: PlanExecutionStatus, to: PlanExecutionStatus): void {
  if (!canMovePlan(from, to)) throw new Error(`plan execution ${id}: no transition from ${from} to ${to}`);
}

/** This executor no longer holds the execution's lease, or the row changed under it: stop and read again. */
export class PlanLeaseLost extends Error {
  constructor(id: number) {
    super(`lease of plan execution ${id} lost (or its row changed meanwhile)`);
    this.name = 'PlanLeaseLost';
  }
}

/** The plan as an execution copies it at its start. */
export interface PlanSnapshot {
  readonly plan: RecoveryPlanRow;
  /** The waves in order, each with its VMs (id and name) in order. */
  readonly waves: readonly (readonly { vmId: string; name: string | null }[])[];
}

/** What {@link createExecution} records. */
export interface NewExecution {
  readonly snapshot: PlanSnapshot;
  readonly type: FailoverType;
  readonly requestedBy: string;
  /** Written in the same transaction (the audit record, the idempotency key); given the new execution's id. */
  readonly alsoWrite?: (tx: EntityManager, executionId: number) => Promise<void>;
}

/** Why a create did not happen. */
export enum CreateRefusal {
  /** The plan changed (or was deleted) since it was read. */
  PLAN_CHANGED = 'plan_changed',
}

/**
 * Creates an execution PENDING with a copy of the plan's waves and VMs and its first event, in one
 * transaction; the plan's revision moves on (conditional on the revision read: an edit in between
 * makes it {@link CreateRefusal.PLAN_CHANGED}). Rejects with the driver's unique-constraint error
 * when the plan has an active execution (`active_lock`).
 */
export async function createExecution(root: EntityManager, { snapshot, type, requestedBy, alsoWrite }: NewExecution): Promise<number | CreateRefusal> {
  const { plan, waves } = snapshot;
  return root.fork().transactional(async (tx) => {
    const bumped = await tx.nativeUpdate(RecoveryPlanRow, { id: plan.id, revision: plan.revision, deletedAt: null }, { revision: plan.revision + 1 });
    if (bumped === 0) return CreateRefusal.PLAN_CHANGED;
    const now = new Date();
    const id = (await tx.insert(PlanExecutionRow, {
      planId: plan.id,
      planName: plan.name,
      type,
      status: PlanExecutionStatus.PENDING,
      phase: PlanPhase.RUN,
      wave: 0,
      waveCount: waves.length,
      maxInFlight: plan.maxInFlight,
      failurePolicy: plan.failurePolicy,
      activeLock: plan.id,
      requestedBy,
      flowRequestedBy: requestedBy,
      createdAt: now,
      updatedAt: now,
    })) as number;
    for (const [w, vms] of waves.entries()) {
      await tx.insert(PlanExecutionWaveRow, { executionId: id, position: w + 1 });
      if (vms.length > 0) {
        await tx.insertMany(
          PlanExecutionVmRow,
          vms.map((vm, i) => ({
            executionId: id,
            vmId: vm.vmId,
            vmName: vm.name,
            wavePosition: w + 1,
            position: i + 1,
            state: PlanVmState.PENDING,
            updatedAt: now,
          })),
        );
      }
    }
    await appendPlanEvent(tx, {
      executionId: id,
      planId: plan.id,
      kind: PlanEventKind.STATUS,
      status: PlanExecutionStatus.PENDING,
      progressPercent: 0,
      message: `${type} execution of plan ${plan.name} queued (${waves.length} waves, ${waves.reduce((n, w) => n + w.length, 0)} VMs)`,
      requestedBy,
    });
    await alsoWrite?.(tx, id);
    return id;
  });
}

/**
 * Asks a pending or running execution to stop: no new launches, running jobs finish, then CANCELLED
 * (the executor ends it). False when the execution is not pending or running (nothing written).
 */
export async function requestCancel(
  root: EntityManager,
  execution: PlanExecutionRow,
  { requestedBy, alsoWrite }: { requestedBy: string; alsoWrite?: (tx: EntityManager) => Promise<void> },
): Promise<boolean> {
  const from = readPlanStatus(execution.status);
  assertMove(execution.id, from, PlanExecutionStatus.CANCELLING);
  return root.fork().transactional(async (tx) => {
    const updated = await tx.nativeUpdate(
      PlanExecutionRow,
      { id: execution.id, status: from },
      { status: PlanExecutionStatus.CANCELLING, cancelRequestedAt: new Date(), updatedAt: new Date() },
    );
    if (updated === 0) return false;
    await appendPlanEvent(tx, {
      executionId: execution.id,
      planId: execution.planId,
      kind: PlanEventKind.CANCEL_REQUESTED,
      status: PlanExecutionStatus.CANCELLING,
      previousStatus: from,
      progressPercent: 0,
      message: 'cancel requested: no new launches; running jobs finish',
      requestedBy,
    });
    await alsoWrite?.(tx);
    return true;
  });
}

/**
 * Moves an execution whose run ended into its cleanup (test) or revert (live): the waves are unwound
 * in reverse. VMs already unwound stay so (a re-run after a partial failure never redoes them); VMs
 * whose job completed and is not unwound yet are to be unwound; the rest have nothing to unwind.
 * False when the row changed meanwhile, or the plan has another active execution (nothing written).
 */
export async function beginPlanUnwind(
  root: EntityManager,
  execution: PlanExecutionRow,
  { requestedBy, alsoWrite }: { requestedBy: string; alsoWrite?: (tx: EntityManager) => Promise<void> },
): Promise<boolean> {
  const from = readPlanStatus(execution.status);
  const to = execution.type === FailoverType.TEST ? PlanExecutionStatus.CLEANUP : PlanExecutionStatus.REVERTING;
  assertMove(execution.id, from, to);
  return root.fork().transactional(async (tx) => {
    const updated = await tx.nativeUpdate(
      PlanExecutionRow,
      { id: execution.id, status: from, phase: PlanPhase.DONE },
      {
        status: to,
        runStatus: execution.runStatus ?? from,
        phase: PlanPhase.UNWIND,
        wave: 0,
        activeLock: execution.planId,
        errorMessage: null,
        flowRequestedBy: requestedBy,
        unwindStartedAt: new Date(),
        unwindCompletedAt: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        updatedAt: new Date(),
      },
    );
    if (updated === 0) return false;
    const now = new Date();
    await tx.nativeUpdate(
      PlanExecutionVmRow,
      { executionId: execution.id, state: PlanVmState.COMPLETED, $or: [{ unwindState: null }, { unwindState: PlanUnwindState.FAILED }] },
      { unwindState: PlanUnwindState.PENDING, updatedAt: now },
    );
    await tx.nativeUpdate(PlanExecutionVmRow, { executionId: execution.id, unwindState: null }, { unwindState: PlanUnwindState.NONE, updatedAt: now });
    await tx.nativeUpdate(PlanExecutionWaveRow, { executionId: execution.id }, { unwindStartedAt: null, unwindCompletedAt: null });
    await appendPlanEvent(tx, {
      executionId: execution.id,
      planId: execution.planId,
      kind: PlanEventKind.STATUS,
      status: to,
      previousStatus: from,
      progressPercent: 0,
      message: `${to === PlanExecutionStatus.CLEANUP ? 'cleanup' : 'revert'} requested: waves unwound in reverse order`,
      requestedBy,
    });
    await alsoWrite?.(tx);
    return true;
  });
}

/** A fenced change of the execution row, with the rows it touches and its event. */
interface Change {
  readonly execution?: Partial<Omit<PlanExecutionRow, 'id'>>;
  /** Conditions the row must still meet (besides the lease). */
  readonly expect?: Partial<Pick<PlanExecutionRow, 'status' | 'phase' | 'wave'>>;
  readonly also?: (tx: EntityManager) => Promise<void>;
  readonly event?: Omit<NewPlanEvent, 'executionId' | 'planId' | 'requestedBy'>;
}

/**
 * The changes of one execution as the executor holding its lease makes them. Every write is fenced
 * by the lease and by the status the executor read ({@link PlanLeaseLost} when either changed, and
 * nothing is written). The in-memory row follows what was committed.
 */
export class PlanLifecycle {
  constructor(
    private readonly root: EntityManager,
    readonly execution: PlanExecutionRow,
    private readonly owner: string,
    private readonly notify: () => void,
  ) {}

  get status(): PlanExecutionStatus {
    return readPlanStatus(this.execution.status);
  }

  private get ref() {
    return { executionId: this.execution.id, planId: this.execution.planId, requestedBy: this.execution.flowRequestedBy ?? null };
  }

  /** The lease fence inside `tx`: touches the execution row only while this executor holds it and the row is as read. */
  async fence(tx: EntityManager, patch: Partial<Omit<PlanExecutionRow, 'id'>> = {}, expect: Change['expect'] = {}): Promise<void> {
    const updated = await tx.nativeUpdate(
      PlanExecutionRow,
      { id: this.execution.id, leaseOwner: this.owner, status: this.execution.status, phase: this.execution.phase, ...expect },
      { ...patch, updatedAt: new Date() },
    );
    if (updated === 0) throw new PlanLeaseLost(this.execution.id);
  }

  private async write(change: Change): Promise<void> {
    if (change.execution?.status) assertMove(this.execution.id, this.status, readPlanStatus(change.execution.status));
    await this.root.fork().transactional(async (tx) => {
      await this.fence(tx, change.execution, change.expect);
      await change.also?.(tx);
      if (change.event) await appendPlanEvent(tx, { ...this.ref, ...change.event });
    });
    Object.assign(this.execution, change.execution ?? {});
    if (change.event) this.notify();
  }

  /** PENDING → RUNNING: the run begins at its first wave (whose start time is written with it). */
  start(progressPercent: number): Promise<void> {
    const now = new Date();
    return this.write({
      execution: { status: PlanExecutionStatus.RUNNING, startedAt: now },
      also: (tx) => this.markWaveStarted(tx, 1, false, now),
      event: { kind: PlanEventKind.STATUS, status: PlanExecutionStatus.RUNNING, previousStatus: this.status, progressPercent, message: 'execution started' },
    });
  }

  /** Writes a wave's start time, unless it has one. */
  private async markWaveStarted(tx: EntityManager, position: number, unwind: boolean, now: Date): Promise<void> {
    await tx.nativeUpdate(
      PlanExecutionWaveRow,
      unwind ? { executionId: this.execution.id, position, unwindStartedAt: null } : { executionId: this.execution.id, position, startedAt: null },
      unwind ? { unwindStartedAt: now } : { startedAt: now },
    );
  }

  /** A wave begins (the run's waves forward, an unwind's in reverse); its start time is kept when it has one. */
  waveStarted(position: number, unwind: boolean, progressPercent: number): Promise<void> {
    const now = new Date();
    return this.write({
      also: (tx) => this.markWaveStarted(tx, position, unwind, now),
      event: {
        kind: PlanEventKind.WAVE_STARTED,
        status: this.status,
        previousStatus: this.status,
        wave: position,
        progressPercent,
        message: `wave ${position} ${unwind ? 'unwinding' : 'started'}`,
      },
    });
  }

  /**
   * A wave's every job ended: the cursor moves to the next wave (in the phase's order), whose start
   * time is written with it, so a crash before its own event leaves no wave without a start.
   */
  waveCompleted(position: number, unwind: boolean, nextCursor: number, progressPercent: number): Promise<void> {
    const now = new Date();
    const next = unwind ? position - 1 : position + 1;
    const last = nextCursor === this.execution.wave;
    return this.write({
      execution: { wave: nextCursor },
      also: async (tx) => {
        await tx.nativeUpdate(PlanExecutionWaveRow, { executionId: this.execution.id, position }, unwind ? { unwindCompletedAt: now } : { completedAt: now });
        if (!last) await this.markWaveStarted(tx, next, unwind, now);
      },
      event: {
        kind: PlanEventKind.WAVE_COMPLETED,
        status: this.status,
        previousStatus: this.status,
        wave: position,
        progressPercent,
        message: `wave ${position} ${unwind ? 'unwound' : 'ended'}`,
      },
    });
  }

  /** The intent to launch a VM, recorded before its job is started: on resume the VM is started (or its job adopted), never twice. */
  launchIntent(vmIds: readonly string[]): Promise<void> {
    return this.write({
      also: async (tx) => {
        await tx.nativeUpdate(
          PlanExecutionVmRow,
          { executionId: this.execution.id, vmId: { $in: [...vmIds] }, state: PlanVmState.PENDING },
          { state: PlanVmState.LAUNCHING, updatedAt: new Date() },
        );
      },
    });
  }

  /**
   * Links a VM's new job to the execution — inside the job's own creating transaction (`tx`), so
   * the job exists exactly when the link does; fenced by the lease (a job started by an executor that
   * lost the lease is rolled back with it).
   */
  async linkJob(tx: EntityManager, vm: { vmId: string; wavePosition: number }, jobId: string, progressPercent: number): Promise<void> {
    await this.fence(tx);
    await this.linkJobRow(tx, vm, jobId);
    await appendPlanEvent(tx, {
      ...this.ref,
      kind: PlanEventKind.VM_LAUNCHED,
      status: this.status,
      previousStatus: this.status,
      wave: vm.wavePosition,
      vmId: vm.vmId,
      jobId,
      progressPercent,
      message: `${vm.vmId}: job ${jobId} started`,
    });
  }

  /** Links a job of this execution found without its link (see the executor's resume). */
  adoptJob(vm: { vmId: string; wavePosition: number }, jobId: string, progressPercent: number): Promise<void> {
    return this.write({
      also: (tx) => this.linkJobRow(tx, vm, jobId),
      event: {
        kind: PlanEventKind.VM_LAUNCHED,
        status: this.status,
        previousStatus: this.status,
        wave: vm.wavePosition,
        vmId: vm.vmId,
        jobId,
        progressPercent,
        message: `${vm.vmId}: job ${jobId} adopted`,
      },
    });
  }

  private async linkJobRow(tx: EntityManager, vm: { vmId: string }, jobId: string): Promise<void> {
    const now = new Date();
    const linked = await tx.nativeUpdate(
      PlanExecutionVmRow,
      { executionId: this.execution.id, vmId: vm.vmId, state: PlanVmState.LAUNCHING },
      { state: PlanVmState.LAUNCHED, jobId, launchedAt: now, updatedAt: now },
    );
    if (linked === 0) throw new PlanLeaseLost(this.execution.id);
  }

  /** Published after a {@link linkJob} transaction committed. */
  linked(): void {
    this.notify();
  }

  /** A VM ended in the run: its job completed or failed, or it could not be started (`message` says why). */
  vmEnded(
    vm: { vmId: string; wavePosition: number; jobId?: string | null },
    state: PlanVmState.COMPLETED | PlanVmState.FAILED,
    message: string,
    progressPercent: number,
  ): Promise<void> {
    const now = new Date();
    return this.write({
      also: async (tx) => {
        await tx.nativeUpdate(
          PlanExecutionVmRow,
          { executionId: this.execution.id, vmId: vm.vmId },
          { state, errorMessage: state === PlanVmState.FAILED ? message : null, endedAt: now, updatedAt: now },
        );
      },
      event: {
        kind: PlanEventKind.VM_ENDED,
        status: this.status,
        previousStatus: this.status,
        wave: vm.wavePosition,
        vmId: vm.vmId,
        jobId: vm.jobId ?? null,
        progressPercent,
        message,
      },
    });
  }

  /**
   * The run ends: VMs never launched are SKIPPED, the plan is free for another execution, the lease let go.
   * `status` is COMPLETED, PARTIALLY_COMPLETED, FAILED or CANCELLED.
   */
  finish(status: PlanExecutionStatus, message: string, progressPercent: number): Promise<void> {
    const now = new Date();
    return this.write({
      execution: {
        status,
        runStatus: status,
        phase: PlanPhase.DONE,
        activeLock: null,
        completedAt: now,
        errorMessage: status === PlanExecutionStatus.COMPLETED ? null : message,
        leaseOwner: null,
        leaseExpiresAt: null,
      },
      also: async (tx) => {
        await tx.nativeUpdate(
          PlanExecutionVmRow,
          { executionId: this.execution.id, state: { $in: [PlanVmState.PENDING, PlanVmState.LAUNCHING] } },
          { state: PlanVmState.SKIPPED, updatedAt: now },
        );
      },
      event: { kind: PlanEventKind.STATUS, status, previousStatus: this.status, progressPercent, message },
    });
  }

  /** A VM's cleanup/revert was begun — inside the job's own beginUnwind transaction (`tx`), fenced by the lease. */
  async unwindStarted(tx: EntityManager, vm: { vmId: string; wavePosition: number; jobId: string }, progressPercent: number): Promise<void> {
    await this.fence(tx);
    await tx.nativeUpdate(
      PlanExecutionVmRow,
      { executionId: this.execution.id, vmId: vm.vmId },
      { unwindState: PlanUnwindState.STARTED, errorMessage: null, updatedAt: new Date() },
    );
    await appendPlanEvent(tx, {
      ...this.ref,
      kind: PlanEventKind.VM_UNWIND_STARTED,
      status: this.status,
      previousStatus: this.status,
      wave: vm.wavePosition,
      vmId: vm.vmId,
      jobId: vm.jobId,
      progressPercent,
      message: `${vm.vmId}: ${this.status === PlanExecutionStatus.CLEANUP ? 'cleanup' : 'revert'} of job ${vm.jobId} begun`,
    });
  }

  /** A VM's cleanup/revert ended (DONE), or failed (FAILED: `message` says why; a re-run resumes it). */
  vmUnwound(
    vm: { vmId: string; wavePosition: number; jobId?: string | null },
    state: PlanUnwindState.DONE | PlanUnwindState.FAILED,
    message: string,
    progressPercent: number,
  ): Promise<void> {
    return this.write({
      also: async (tx) => {
        await tx.nativeUpdate(
          PlanExecutionVmRow,
          { executionId: this.execution.id, vmId: vm.vmId },
          { unwindState: state, errorMessage: state === PlanUnwindState.FAILED ? message : null, updatedAt: new Date() },
        );
      },
      event: {
        kind: PlanEventKind.VM_UNWOUND,
        status: this.status,
        previousStatus: this.status,
        wave: vm.wavePosition,
        vmId: vm.vmId,
        jobId: vm.jobId ?? null,
        progressPercent,
        message,
      },
    });
  }

  /** The unwind ends: CLEANED_UP / REVERTED, or (a VM failed) back to how the run ended, with the reason, to be resumed. */
  finishUnwind(ok: boolean, message: string, progressPercent: number): Promise<void> {
    const to = ok
      ? this.status === PlanExecutionStatus.CLEANUP
        ? PlanExecutionStatus.CLEANED_UP
        : PlanExecutionStatus.REVERTED
      : readPlanStatus(this.execution.runStatus ?? PlanExecutionStatus.COMPLETED);
    return this.write({
      execution: {
        status: to,
        phase: PlanPhase.DONE,
        activeLock: null,
        unwindCompletedAt: ok ? new Date() : null,
        errorMessage: ok ? null : message,
        leaseOwner: null,
        leaseExpiresAt: null,
      },
      event: { kind: PlanEventKind.STATUS, status: to, previousStatus: this.status, progressPercent, message },
    });
  }
}

// Leases: owner + expiry on the execution row, on the database's clock.

const CLAIMABLE = (em: EntityManager) => ({
  phase: { $in: [PlanPhase.RUN, PlanPhase.UNWIND] },
  $or: [{ leaseOwner: null }, { leaseExpiresAt: null }, { leaseExpiresAt: { $lt: dbNowMs(em) } }],
});

/** Takes an execution's lease when it has work and nobody holds a live lease. True when taken. */
export async function claimPlanLease(root: EntityManager, id: number, owner: string, leaseMs: number): Promise<boolean> {
  const em = root.fork();
  return (await em.nativeUpdate(PlanExecutionRow, { id, ...CLAIMABLE(em) }, { leaseOwner: owner, leaseExpiresAt: dbNowPlus(em, leaseMs) })) === 1;
}

/** Extends the lease; false when this executor no longer holds it. */
export async function renewPlanLease(root: EntityManager, id: number, owner: string, leaseMs: number): Promise<boolean> {
  const em = root.fork();
  return (await em.nativeUpdate(PlanExecutionRow, { id, leaseOwner: owner }, { leaseExpiresAt: dbNowPlus(em, leaseMs) })) === 1;
}

/** Lets go of the lease (any executor may take the execution at once). */
export async function releasePlanLease(root: EntityManager, id: number, owner: string): Promise<void> {
  await root.fork().nativeUpdate(PlanExecutionRow, { id, leaseOwner: owner }, { leaseOwner: null, leaseExpiresAt: null });
}

/** Executions with work and no live lease, oldest first. */
export async function claimableExecutions(root: EntityManager, limit: number): Promise<number[]> {
  const em = root.fork();
  const rows = await em.find(PlanExecutionRow, CLAIMABLE(em), { fields: ['id'], orderBy: { id: 'asc' }, limit, disableIdentityMap: true });
  return rows.map((r) => r.id);
}

/** An execution, read fresh. */
export function loadPlanExecution(root: EntityManager, id: number): Promise<PlanExecutionRow | null> {
  return root.fork().findOne(PlanExecutionRow, { id }, { disableIdentityMap: true });
}
