import type { EntityManager } from '@mikro-orm/core';
import type { ChangeRecord } from '../../access/audit.js';
import {
  FailoverExecution,
  FailoverStatus,
  FailoverType,
  FailurePolicy,
  FlowName,
  PlanExecutionStatus,
  PlanExecutionWaveRow,
  PlanPhase,
  PlanUnwindState,
  PlanVmState,
  readPlanPhase,
  readPlanVmState,
  readUnwindState,
  toFailoverStatus,
  type PlanExecutionRow,
} from '../../entities/index.js';
import { AppError, ErrorCode } from '../../errors.js';
import { num, placeholders, query, str } from '../../inventory/sql.js';
import type { Logger } from '../../logger.js';
import type { FailoverService } from '../failover.service.js';
import { PlanLifecycle } from './plan-lifecycle.js';

/** One VM of an execution with its job as the executor reads them (one statement per pass). */
export interface ExecutionVm {
  readonly vmId: string;
  readonly wavePosition: number;
  readonly state: PlanVmState;
  readonly jobId: string | null;
  readonly unwindState: PlanUnwindState | null;
  readonly errorMessage: string | null;
  /** The job's status (null: no job). */
  readonly jobStatus: FailoverStatus | null;
  readonly jobError: string | null;
  /** The engine's progress of the job's current flow, and which flow that is. */
  readonly jobProgress: number;
  readonly jobFlow: FlowName | null;
  readonly jobPhase: string | null;
}

/** Reads every VM of an execution with its job's status and progress, in wave order. */
export async function readExecutionVms(em: EntityManager, executionId: number): Promise<ExecutionVm[]> {
  return (await readExecutionsVms(em, [executionId])).get(executionId) ?? [];
}

/** {@link readExecutionVms} for several executions in one statement (the API's loader batches a page). */
export async function readExecutionsVms(em: EntityManager, executionIds: readonly number[]): Promise<Map<number, ExecutionVm[]>> {
  const byExecution = new Map<number, ExecutionVm[]>();
  if (executionIds.length === 0) return byExecution;
  const rows = await query(
    em,
    `SELECT v.execution_id, v.vm_id, v.wave_position, v.state, v.job_id, v.unwind_state, v.error_message,
            j.status AS job_status, j.error_message AS job_error, x.progress_percent AS job_progress, x.flow AS job_flow, x.phase AS job_phase
       FROM plan_execution_vms v
       LEFT JOIN failover_jobs j ON j.job_id = v.job_id
       LEFT JOIN failover_executions x ON x.job_id = v.job_id
      WHERE v.execution_id IN (${placeholders(executionIds.length)})
      ORDER BY v.execution_id, v.wave_position, v.position`,
    [...executionIds],
  );
  for (const r of rows) {
    const executionId = num(r.execution_id)!;
    const vms = byExecution.get(executionId) ?? [];
    if (vms.length === 0) byExecution.set(executionId, vms);
    vms.push({
      vmId: String(r.vm_id),
      wavePosition: num(r.wave_position)!,
      state: readPlanVmState(String(r.state)),
      jobId: str(r.job_id),
      unwindState: readUnwindState(str(r.unwind_state)),
      errorMessage: str(r.error_message),
      jobStatus: r.job_id === null || r.job_id === undefined ? null : r.job_status === undefined ? null : toFailoverStatus(str(r.job_status)),
      jobError: str(r.job_error),
      jobProgress: num(r.job_progress) ?? 0,
      jobFlow: (str(r.job_flow) as FlowName | null) ?? null,
      jobPhase: str(r.job_phase),
    });
  }
  return byExecution;
}

const FAILOVER_ENDED_OK = new Set([
  FailoverStatus.COMPLETED,
  FailoverStatus.CLEANUP,
  FailoverStatus.CLEANED_UP,
  FailoverStatus.REVERTING,
  FailoverStatus.REVERTED,
]);
const RUN_TERMINAL = new Set([PlanVmState.COMPLETED, PlanVmState.FAILED, PlanVmState.SKIPPED]);
const UNWIND_TERMINAL = new Set([PlanUnwindState.DONE, PlanUnwindState.FAILED, PlanUnwindState.NONE]);
const UNWIND_FLOWS = new Set([FlowName.CLEANUP, FlowName.REVERT]);

/** A VM's share of the run's progress: ended 100, running its job's, not started 0. */
function runShare(vm: ExecutionVm): number {
  if (RUN_TERMINAL.has(vm.state)) return 100;
  return vm.state === PlanVmState.LAUNCHED ? vm.jobProgress : 0;
}

/** A VM's share of an unwind's progress. */
function unwindShare(vm: ExecutionVm): number {
  if (vm.unwindState === null || UNWIND_TERMINAL.has(vm.unwindState)) return 100;
  return vm.unwindState === PlanUnwindState.STARTED && vm.jobFlow && UNWIND_FLOWS.has(vm.jobFlow) ? vm.jobProgress : 0;
}

/** The execution's progress: its jobs' progress aggregated (a VM that ended counts 100, one not started 0). */
export function aggregateProgress(phase: PlanPhase, vms: readonly ExecutionVm[]): number {
  if (vms.length === 0) return phase === PlanPhase.DONE ? 100 : 0;
  const share = phase === PlanPhase.UNWIND ? unwindShare : runShare;
  return Math.floor(vms.reduce((sum, vm) => sum + share(vm), 0) / vms.length);
}

/** What an executor needs. */
export interface PlanExecutorDeps {
  readonly root: EntityManager;
  /** The same service path as a single start, cleanup or revert (readiness, JOB_CONFLICT). */
  readonly failover: FailoverService;
  /** The engine's concurrency: an execution never runs more jobs at once. */
  readonly engineConcurrency: number;
  readonly logger: Logger;
}

/** The result of one pass. */
export enum PassResult {
  /** The execution's phase ended: nothing left to do. */
  DONE = 'done',
  /** Jobs are running: look again when one changes. */
  WAITING = 'waiting',
}

/**
 * One pass of an execution's executor: reads the execution's VMs and their jobs, settles the VMs
 * whose jobs ended, launches (or unwinds) the next VMs of the current wave within the execution's
 * limit, moves to the next wave when every job of this one ended, and ends the execution after the
 * last. Everything it decides from is in the database, so a pass after a crash resumes where the
 * last one stopped; every change goes through the execution's {@link PlanLifecycle}.
 */
export async function runPass(deps: PlanExecutorDeps, lifecycle: PlanLifecycle): Promise<PassResult> {
  const execution = lifecycle.execution;
  const phase = readPlanPhase(execution.phase);
  if (phase === PlanPhase.DONE) return PassResult.DONE;
  return phase === PlanPhase.RUN ? runForward(deps, lifecycle) : runUnwind(deps, lifecycle);
}

function limitOf(deps: PlanExecutorDeps, execution: PlanExecutionRow): number {
  return Math.max(1, Math.min(execution.maxInFlight, deps.engineConcurrency));
}

async function runForward(deps: PlanExecutorDeps, lifecycle: PlanLifecycle): Promise<PassResult> {
  const execution = lifecycle.execution;
  let vms = await readExecutionVms(deps.root.fork(), execution.id);
  const progress = () => aggregateProgress(PlanPhase.RUN, vms);
  if (lifecycle.status === PlanExecutionStatus.PENDING) {
    await lifecycle.start(progress());
    await lifecycle.waveStarted(1, false, progress());
  }
  // Settle the VMs whose jobs ended.
  let changed = false;
  for (const vm of vms) {
    if (vm.state !== PlanVmState.LAUNCHED) continue;
    if (vm.jobStatus === null) {
      await lifecycle.vmEnded(vm, PlanVmState.FAILED, `${vm.vmId}: job ${vm.jobId} is gone`, progress());
      changed = true;
    } else if (FAILOVER_ENDED_OK.has(vm.jobStatus)) {
      await lifecycle.vmEnded(vm, PlanVmState.COMPLETED, `${vm.vmId}: job ${vm.jobId} completed`, progress());
      changed = true;
    } else if (vm.jobStatus === FailoverStatus.FAILED) {
      await lifecycle.vmEnded(vm, PlanVmState.FAILED, `${vm.vmId}: job ${vm.jobId} failed: ${vm.jobError ?? 'no reason recorded'}`, progress());
      changed = true;
    }
  }
  // A VM whose launch was decided but not linked: if the execution's job for it exists, adopt it
  // (a job and its link commit together, so this only finds what another writer left), else it is started again.
  const launching = vms.filter((vm) => vm.state === PlanVmState.LAUNCHING);
  if (launching.length > 0) {
    const orphans = await deps.root
      .fork()
      .find(FailoverExecution, { planExecutionId: execution.id, vmId: { $in: launching.map((vm) => vm.vmId) } }, { disableIdentityMap: true });
    for (const orphan of orphans) {
      await lifecycle.adoptJob(
        launching.find((vm) => vm.vmId === orphan.vmId)!,
        orphan.jobId,
        progress(),
      );
      changed = true;
    }
  }
  if (changed) vms = await readExecutionVms(deps.root.fork(), execution.id);

  const failed = vms.filter((vm) => vm.state === PlanVmState.FAILED);
  const cancelling = lifecycle.status === PlanExecutionStatus.CANCELLING;
  const halted = execution.failurePolicy === FailurePolicy.HALT && failed.length > 0;
  const inFlight = vms.filter((vm) => vm.state === PlanVmState.LAUNCHED);
  if (cancelling || halted) {
    if (inFlight.length > 0) return PassResult.WAITING;
    const status = cancelling ? PlanExecutionStatus.CANCELLED : PlanExecutionStatus.FAILED;
    const why = cancelling
      ? 'cancelled: no new launches; the running jobs finished'
      : `halted: ${failed.map((vm) => vm.vmId).join(', ')} failed (failurePolicy HALT); the running jobs finished, no new launches`;
    await lifecycle.finish(status, why, progress());
    return PassResult.DONE;
  }

  const position = execution.wave + 1;
  const wave = vms.filter((vm) => vm.wavePosition === position);
  const free = limitOf(deps, execution) - inFlight.length;
  const next = wave.filter((vm) => vm.state === PlanVmState.PENDING || vm.state === PlanVmState.LAUNCHING).slice(0, Math.max(0, free));
  if (next.length > 0) {
    await lifecycle.launchIntent(next.map((vm) => vm.vmId));
    await settleAll(next.map((vm) => launch(deps, lifecycle, vm, progress())));
    return PassResult.WAITING;
  }
  if (wave.some((vm) => !RUN_TERMINAL.has(vm.state))) return PassResult.WAITING;

  // Every job of the wave ended.
  const last = position >= execution.waveCount;
  await lifecycle.waveCompleted(position, false, last ? execution.wave : execution.wave + 1, progress());
  if (!last) {
    await lifecycle.waveStarted(position + 1, false, progress());
    return runForward(deps, lifecycle);
  }
  const total = vms.length;
  const status =
    failed.length === 0 ? PlanExecutionStatus.COMPLETED : failed.length === total ? PlanExecutionStatus.FAILED : PlanExecutionStatus.PARTIALLY_COMPLETED;
  const message =
    failed.length === 0
      ? `completed: ${total} VMs failed over`
      : `${total - failed.length} of ${total} VMs failed over; failed: ${failed.map((vm) => vm.vmId).join(', ')}`;
  await lifecycle.finish(status, message, progress());
  return PassResult.DONE;
}

/** Waits for every launch of a pass (none is left running behind the next pass), then throws the first failure. */
async function settleAll(work: readonly Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Starts one VM's failover through the single-start path; a refusal ends the VM FAILED (with the code and reason). */
async function launch(deps: PlanExecutorDeps, lifecycle: PlanLifecycle, vm: ExecutionVm, progressPercent: number): Promise<void> {
  const execution = lifecycle.execution;
  const record: ChangeRecord = {
    requestedBy: execution.requestedBy ?? 'system:plan',
    inTransaction: (tx, jobId) => lifecycle.linkJob(tx, vm, jobId!, progressPercent),
  };
  try {
    await deps.failover.start(execution.type as FailoverType, { vmId: vm.vmId }, record, { planExecutionId: execution.id });
    lifecycle.linked();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    deps.logger.warn({ executionId: execution.id, vmId: vm.vmId, code: error.code }, 'plan VM could not be started');
    await lifecycle.vmEnded(vm, PlanVmState.FAILED, `${vm.vmId}: not started (${error.code}): ${error.message}`, progressPercent);
  }
}

async function runUnwind(deps: PlanExecutorDeps, lifecycle: PlanLifecycle): Promise<PassResult> {
  const execution = lifecycle.execution;
  let vms = await readExecutionVms(deps.root.fork(), execution.id);
  const progress = () => aggregateProgress(PlanPhase.UNWIND, vms);
  let changed = false;
  for (const vm of vms) {
    if (vm.unwindState !== PlanUnwindState.STARTED) continue;
    if (vm.jobStatus === FailoverStatus.CLEANED_UP || vm.jobStatus === FailoverStatus.REVERTED) {
      await lifecycle.vmUnwound(vm, PlanUnwindState.DONE, `${vm.vmId}: job ${vm.jobId} ${vm.jobStatus}`, progress());
      changed = true;
    } else if (vm.jobStatus === FailoverStatus.COMPLETED && vm.jobPhase === 'done') {
      await lifecycle.vmUnwound(vm, PlanUnwindState.FAILED, `${vm.vmId}: ${vm.jobError ?? 'the unwind failed'}`, progress());
      changed = true;
    } else if (vm.jobStatus === null || vm.jobStatus === FailoverStatus.FAILED) {
      await lifecycle.vmUnwound(vm, PlanUnwindState.FAILED, `${vm.vmId}: job ${vm.jobId} is ${vm.jobStatus ?? 'gone'}`, progress());
      changed = true;
    }
  }
  if (changed) vms = await readExecutionVms(deps.root.fork(), execution.id);

  const count = execution.waveCount;
  const position = count - execution.wave;
  const wave = vms.filter((vm) => vm.wavePosition === position);
  const inFlight = vms.filter((vm) => vm.unwindState === PlanUnwindState.STARTED);
  const failedHere = wave.filter((vm) => vm.unwindState === PlanUnwindState.FAILED);
  const free = limitOf(deps, execution) - inFlight.length;
  const next = failedHere.length > 0 ? [] : wave.filter((vm) => vm.unwindState === PlanUnwindState.PENDING).slice(0, Math.max(0, free));
  if (
    execution.wave === 0 &&
    inFlight.length === 0 &&
    wave.every((vm) => vm.unwindState === PlanUnwindState.PENDING || vm.unwindState === PlanUnwindState.NONE)
  ) {
    const started = await deps.root.fork().findOne(PlanExecutionWaveRow, { executionId: execution.id, position }, { disableIdentityMap: true });
    if (!started?.unwindStartedAt) await lifecycle.waveStarted(position, true, progress());
  }
  if (next.length > 0) {
    await settleAll(next.map((vm) => unwindVm(deps, lifecycle, vm, progress())));
    return PassResult.WAITING;
  }
  if (inFlight.length > 0 || wave.some((vm) => vm.unwindState === PlanUnwindState.PENDING)) return PassResult.WAITING;

  const what = lifecycle.status === PlanExecutionStatus.CLEANUP ? 'cleanup' : 'revert';
  const again = what === 'cleanup' ? 'cleanupPlanExecution' : 'revertPlanExecution';
  if (failedHere.length > 0) {
    await lifecycle.finishUnwind(
      false,
      `${what} stopped at wave ${position}: ${failedHere.map((vm) => vm.errorMessage ?? vm.vmId).join('; ')}. Run ${again} again to resume (VMs already done are not redone)`,
      progress(),
    );
    return PassResult.DONE;
  }
  const last = position <= 1;
  await lifecycle.waveCompleted(position, true, last ? execution.wave : execution.wave + 1, progress());
  if (!last) {
    await lifecycle.waveStarted(position - 1, true, progress());
    return runUnwind(deps, lifecycle);
  }
  const done = vms.filter((vm) => vm.unwindState === PlanUnwindState.DONE).length;
  await lifecycle.finishUnwind(true, `${what} completed: ${done} VMs ${what === 'cleanup' ? 'cleaned up' : 'reverted'}`, progress());
  return PassResult.DONE;
}

/** Begins one VM's cleanup or revert through the single-job path; a refusal is settled from the job's state. */
async function unwindVm(deps: PlanExecutorDeps, lifecycle: PlanLifecycle, vm: ExecutionVm, progressPercent: number): Promise<void> {
  const execution = lifecycle.execution;
  const jobId = vm.jobId!;
  const record: ChangeRecord = {
    requestedBy: execution.flowRequestedBy ?? execution.requestedBy ?? 'system:plan',
    inTransaction: (tx) => lifecycle.unwindStarted(tx, { ...vm, jobId }, progressPercent),
  };
  try {
    if (execution.type === FailoverType.TEST) await deps.failover.cleanupTestFailover(jobId, record, `cleanup of plan execution ${execution.id}`);
    else await deps.failover.revertFailover(jobId, record);
    lifecycle.linked();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    // Unwound meanwhile by a single cleanup/revert: done, not redone.
    const status = error.code === ErrorCode.INVALID_JOB_TRANSITION ? String(error.extensions.status ?? '') : '';
    if (status === 'CLEANED_UP' || status === 'REVERTED') {
      await lifecycle.vmUnwound(vm, PlanUnwindState.DONE, `${vm.vmId}: job ${jobId} was already ${status.toLowerCase()}`, progressPercent);
    } else {
      await lifecycle.vmUnwound(vm, PlanUnwindState.FAILED, `${vm.vmId}: not unwound (${error.code}): ${error.message}`, progressPercent);
    }
  }
}
