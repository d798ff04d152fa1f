import { registerEnumType } from 'type-graphql';

/** What a plan does when one of its failovers fails. */
export enum FailurePolicy {
  /** The first failed job stops new launches; running jobs finish; the execution ends FAILED. */
  HALT = 'halt',
  /** The other VMs go on; the execution ends PARTIALLY_COMPLETED when some failed. */
  CONTINUE = 'continue',
}

/** Where a plan execution is. Values are what `plan_executions.status` stores. */
export enum PlanExecutionStatus {
  PENDING = 'pending',
  RUNNING = 'running',
  COMPLETED = 'completed',
  PARTIALLY_COMPLETED = 'partially_completed',
  FAILED = 'failed',
  CANCELLING = 'cancelling',
  CANCELLED = 'cancelled',
  CLEANUP = 'cleanup',
  CLEANED_UP = 'cleaned_up',
  REVERTING = 'reverting',
  REVERTED = 'reverted',
}

/** The executor's phase: running the waves forward, unwinding them in reverse, or nothing to do. */
export enum PlanPhase {
  RUN = 'run',
  UNWIND = 'unwind',
  DONE = 'done',
}

/** A VM's state in an execution's run. */
export enum PlanVmState {
  /** Not launched yet. */
  PENDING = 'pending',
  /** The executor decided to launch it (recorded before the start): on resume it is started, or its job adopted. */
  LAUNCHING = 'launching',
  /** Its job exists (linked in the job's own creating transaction). */
  LAUNCHED = 'launched',
  COMPLETED = 'completed',
  FAILED = 'failed',
  /** Never launched: the execution halted or was cancelled first. */
  SKIPPED = 'skipped',
}

/** A VM's cleanup or revert in an execution's unwind. */
export enum PlanUnwindState {
  /** To be unwound (its job holds the VM). */
  PENDING = 'pending',
  /** Its job's cleanup/revert was begun (recorded in that transaction). */
  STARTED = 'started',
  DONE = 'done',
  FAILED = 'failed',
  /** Nothing to unwind (its job failed and rolled itself back, or it never ran). */
  NONE = 'none',
}

/** Statuses in which an execution holds its plan's `active_lock`. */
export const ACTIVE_PLAN_STATUSES: readonly PlanExecutionStatus[] = [
  PlanExecutionStatus.PENDING,
  PlanExecutionStatus.RUNNING,
  PlanExecutionStatus.CANCELLING,
  PlanExecutionStatus.CLEANUP,
  PlanExecutionStatus.REVERTING,
];

/** The one reading of the plans' stored enum columns: a value this service never writes is a bug, said plainly. */
function reader<T extends string>(name: string, values: Record<string, T>) {
  const known = new Set<string>(Object.values(values));
  return (raw: string): T => {
    if (!known.has(raw)) throw new Error(`${name} "${raw}" is not one this service writes`);
    return raw as T;
  };
}

export const readPlanStatus = reader('plan execution status', PlanExecutionStatus);
export const readFailurePolicy = reader('failure policy', FailurePolicy);
export const readPlanPhase = reader('plan phase', PlanPhase);
export const readPlanVmState = reader('plan VM state', PlanVmState);
export const readUnwindState = (raw: string | null | undefined): PlanUnwindState | null =>
  raw === null || raw === undefined ? null : reader('plan unwind state', PlanUnwindState)(raw);

registerEnumType(FailurePolicy, { name: 'FailurePolicy', description: 'HALT: the first failed job stops new launches. CONTINUE: the other VMs go on.' });
registerEnumType(PlanExecutionStatus, { name: 'PlanExecutionStatus', description: 'Where a plan execution is.' });
registerEnumType(PlanVmState, { name: 'PlanVmState', description: 'Where one VM of a plan execution is.' });
registerEnumType(PlanUnwindState, { name: 'PlanUnwindState', description: 'Where the cleanup or revert of one VM of a plan execution is.' });
