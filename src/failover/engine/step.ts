import type { CloudIds } from '../../cloudstack/cloudstack.types.js';
import type { CloudStackReader, OperationOptions } from '../../cloudstack/cloudstack.port.js';
import type { FailoverStatus, FlowName } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { Readiness } from '../readiness/evaluate.js';
import type { Action, ActionParams, ActionResult } from './actions.js';
import type { LedgerView } from './ledger.js';
import type { JobPlan } from './plan.js';

/** How a step retries transient failures: exponential backoff, within the step's deadline. */
export interface RetryPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
}

/** What reading the cloud needs: the read-only port, the job's plan and ids, the ledger (read-only), the call options. */
export interface Reads {
  readonly plan: JobPlan;
  readonly ids: CloudIds;
  /** The cloud, read-only: every write goes through {@link StepContext.call}. */
  readonly cloud: CloudStackReader;
  /** The job's ledger, read-only. */
  readonly ledger: LedgerView;
  /** Fires when the lease is lost or the worker stops. */
  readonly signal: AbortSignal;
  /** Options for every cloud call: the signal, the step's deadline, and progress reporting. */
  op(): OperationOptions;
}

/** What a step works with. */
export interface StepContext extends Reads {
  readonly flow: FlowName;
  readonly step: string;
  readonly logger: Logger;
  /**
   * The one door to the cloud for writes: ledger lookup → intent → the call → "did it already
   * happen" → done (see actions.ts). Resolves with the action's result (done already: the recorded one).
   */
  call<A extends Action>(action: A, params: ActionParams[A]): Promise<ActionResult[A]>;
  /** Reports progress within the step: `done` of `total` parts. */
  progress(done: number, total: number): void;
  /** Writes facts on the job row (destination VM, root snapshot). */
  recordOnJob(patch: { destinationVmId?: string | null; osseaSnapshotId?: string | null }): Promise<void>;
  /** Every readiness check, database and cloud, for this job's plan (the job's own hold excused). */
  checkReadiness(): Promise<Readiness>;
}

/** One step of a flow: the status it publishes, an idempotent run, a time limit and a retry policy. */
export interface Step {
  readonly name: string;
  readonly status: FailoverStatus;
  /** Time allowed for the step, retries included. */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  /**
   * Does the step's work. Idempotent: re-run after a crash it finds what it already did (ledger,
   * then the cloud by name/state) and never does it twice. Compensation is by ledger entry (see
   * `actions.ts`), so a step undoes exactly the calls it made, also when it failed half-way.
   */
  run(ctx: StepContext): Promise<void>;
}

/** What a flow is for: a failover moves forward and compensates on failure; an unwind only moves forward. */
export enum FlowKind {
  FAILOVER = 'failover',
  UNWIND = 'unwind',
}

/** A flow: an ordered list of steps, and the statuses it ends in. */
export interface Flow {
  readonly name: FlowName;
  readonly kind: FlowKind;
  readonly steps: readonly Step[];
  /** The status the job has when the flow succeeded. */
  readonly doneStatus: FailoverStatus;
}
