import type { EntityManager } from '@mikro-orm/core';
import type { CloudStack, JobProgress, OperationOptions } from '../../cloudstack/cloudstack.port.js';
import type { CloudIds } from '../../cloudstack/cloudstack.types.js';
import { ExecutionPhase, FailoverJob, FailoverStatus, FlowName, LedgerState, toFailoverStatus, type FailoverExecution } from '../../entities/index.js';
import type { JobEvent } from '../../events/event.types.js';
import type { Logger } from '../../logger.js';
import { retry } from '../../retry.js';
import type { Readiness } from '../readiness/evaluate.js';
import { call, entriesToUndo, undoEntry } from './actions.js';
import { classify, describeFailure, FailureClass, StepFailure, WorkerStopping } from './errors.js';
import { FLOWS } from './flows.js';
import { JobLifecycle, loadExecution } from './lifecycle.js';
import { Ledger } from './ledger.js';
import { readPlan, type JobPlan } from './plan.js';
import { FlowKind, type Flow, type Reads, type Step, type StepContext } from './step.js';
import { ProgressGate } from './progress-gate.js';

/** What running a job needs. */
export interface RunnerDeps {
  readonly root: EntityManager;
  readonly cloud: CloudStack;
  readonly ids: CloudIds;
  readonly logger: Logger;
  /** Publishes committed events (called after each commit that wrote one). */
  readonly notify: () => void;
  /** Every readiness check for the plan, the job's own hold excused. */
  readonly checkReadiness: (plan: JobPlan) => Promise<Readiness>;
  readonly now?: () => number;
  /** Tries to undo one ledger entry before compensation gives up on it. */
  readonly undoAttempts?: number;
}

/** Progress updates of one job are written at most once per this many ms (the latest is kept); status transitions never wait. */
export const PROGRESS_INTERVAL_MS = 250;

const COMPENSATION_RETRY = { initialMs: 500, maxMs: 30_000, multiplier: 2 };
const UNDO_DEADLINE_MS = 15 * 60_000;
/** After a failed automatic cleanup, when it is tried again. */
const AUTO_CLEANUP_RETRY_MS = 5 * 60_000;

/**
 * Runs one claimed job from its persisted cursor to the end of its flow (or of its compensation).
 * Every transition goes through the job's {@link JobLifecycle} (committed with its event before the
 * next cloud call); every cloud write goes through the action registry's door. A crash anywhere
 * leaves the cursor and the ledger to resume from. Returns when the job is done or this worker must
 * stop (lease lost, shutting down: the error is rethrown, nothing is marked failed).
 */
export class JobRunner {
  private readonly now: () => number;
  private progressChain: Promise<unknown> = Promise.resolve();
  /** The highest progress reported (progress writes run behind; this is what they will have written). */
  private reported: number;
  /** Progress writes, coalesced: at most one per PROGRESS_INTERVAL_MS (the latest value). */
  private readonly progressGate: ProgressGate<{ step: string; percent: number }>;

  private constructor(
    private readonly deps: RunnerDeps,
    private readonly signal: AbortSignal,
    private readonly execution: FailoverExecution,
    private readonly plan: JobPlan,
    private readonly flow: Flow,
    private readonly ledger: Ledger,
    private readonly lifecycle: JobLifecycle,
  ) {
    this.now = deps.now ?? Date.now;
    this.reported = lifecycle.progressPercent;
    this.progressGate = new ProgressGate(PROGRESS_INTERVAL_MS, this.now, ({ step, percent }) => {
      this.progressChain = this.progressChain
        .then(() => this.lifecycle.progress(step, percent))
        .then((event) => event && this.deps.notify())
        .catch((error) => this.log.warn({ jobId: this.plan.jobId, err: error }, 'progress update not written'));
    });
  }

  /** Loads the job and runs it; resolves when there is nothing left to run. */
  static async run(deps: RunnerDeps, jobId: string, owner: string, signal: AbortSignal): Promise<void> {
    const execution = await loadExecution(deps.root, jobId);
    if (!execution || execution.phase === ExecutionPhase.DONE) return;
    const job = await deps.root.fork().findOneOrFail(FailoverJob, { jobId }, { disableIdentityMap: true });
    const ledger = new Ledger(deps.root, jobId, owner);
    await ledger.load();
    const lifecycle = new JobLifecycle(
      deps.root,
      Object.assign(job, { requestedBy: execution.flowRequestedBy ?? null }),
      owner,
      toFailoverStatus(job.status),
      execution.progressPercent,
      deps.now ?? Date.now,
    );
    const status = toFailoverStatus(job.status);
    if (status === FailoverStatus.UNKNOWN || status === FailoverStatus.EXECUTING) {
      deps.logger.error({ jobId, status: job.status }, 'job row carries a status this service never writes; leaving the job alone');
      return lifecycle.abandon(`status "${job.status}" was written by another tool; the engine stopped running this job`);
    }
    const runner = new JobRunner(deps, signal, execution, readPlan(job), FLOWS[execution.flow], ledger, lifecycle);
    try {
      await (execution.phase === ExecutionPhase.RUN ? runner.forward() : runner.compensate());
    } finally {
      // A worker that stops leaves no progress write behind it.
      runner.progressGate.cancel();
    }
  }

  private get log(): Logger {
    return this.deps.logger;
  }

  private percent(stepIndex: number, fraction: number): number {
    const total = this.flow.steps.length;
    return Math.max(0, Math.min(100, Math.floor((100 * (stepIndex + Math.min(1, fraction))) / total)));
  }

  /** Runs one lifecycle change after any progress write still queued, and publishes its event. */
  private async change(write: () => Promise<JobEvent | null | void>): Promise<void> {
    this.throwIfStopping();
    // A status transition is never held back; a progress update held back goes first.
    this.progressGate.flush();
    await this.progressChain;
    const event = await write();
    this.reported = Math.max(this.reported, this.lifecycle.progressPercent);
    if (event) this.deps.notify();
  }

  private throwIfStopping(): void {
    if (this.signal.aborted) throw this.signal.reason instanceof Error ? this.signal.reason : new WorkerStopping();
  }

  private async forward(): Promise<void> {
    const steps = this.flow.steps;
    for (let i = this.execution.step; i < steps.length; i++) {
      const step = steps[i]!;
      if (this.lifecycle.status !== step.status) await this.change(() => this.lifecycle.enterStep(i, step.name, step.status, this.percent(i, 0)));
      try {
        await this.runStep(step, i);
      } catch (error) {
        const kind = classify(error, this.signal);
        if (kind === FailureClass.STOPPED || kind === FailureClass.DATABASE) throw error;
        return this.stepFailed(step, i, error);
      }
      await this.change(() => this.lifecycle.stepDone(i + 1, Math.max(this.reported, this.percent(i + 1, 0))));
    }
    const failover = this.flow.kind === FlowKind.FAILOVER;
    const minutes = this.execution.autoCleanupAfterMinutes ?? null;
    await this.change(() =>
      this.lifecycle.finish({
        doneStatus: this.flow.doneStatus,
        steps: steps.length,
        keepsVm: failover,
        autoCleanupAfterMinutes: minutes,
        message: failover && minutes ? `${this.flow.name} completed; automatic cleanup in ${minutes} min` : `${this.flow.name} completed`,
      }),
    );
  }

  /** Runs a step, retrying transient failures with backoff until the step's deadline. */
  private async runStep(step: Step, index: number): Promise<void> {
    const deadline = this.now() + step.timeoutMs;
    await retry(() => step.run(this.context(step, index, deadline)), {
      backoff: step.retry,
      deadlineAt: deadline,
      signal: this.signal,
      now: this.now,
      retryable: (error) => classify(error, this.signal) === FailureClass.TRANSIENT,
      onGiveUp: (error, attempts) =>
        new StepFailure(`gave up after ${attempts} attempts within ${step.timeoutMs / 1000}s: ${describeFailure(error)}`, { cause: error }),
      onRetry: async (error, attempt) => {
        this.log.warn({ jobId: this.plan.jobId, step: step.name, attempt, err: error }, 'transient failure; retrying the step');
        await this.change(() => this.lifecycle.retrying(step.name, `${step.name}: ${describeFailure(error)}; retrying (attempt ${attempt + 1})`));
      },
    }).catch((error) => {
      if (this.signal.aborted) this.throwIfStopping();
      throw error;
    });
  }

  /** What reading the cloud needs, with the step's deadline and progress reporting in every call's options. */
  private reads(deadline: number, onProgress?: (progress: JobProgress) => void): Reads & { readonly writer: CloudStack } {
    return {
      plan: this.plan,
      ids: this.deps.ids,
      cloud: this.deps.cloud,
      writer: this.deps.cloud,
      ledger: this.ledger,
      signal: this.signal,
      op: (): OperationOptions => ({ signal: this.signal, deadlineMs: Math.max(1_000, deadline - this.now()), ...(onProgress ? { onProgress } : {}) }),
    };
  }

  private context(step: Step, index: number, deadline: number): StepContext {
    let parts = { done: 0, total: 1 };
    const report = (fraction: number) => {
      const percent = this.percent(index, fraction);
      if (percent <= this.reported) return;
      this.reported = percent;
      this.progressGate.offer({ step: step.name, percent });
    };
    const onProgress = (progress: JobProgress) => {
      // CloudStack's jobprocstatus, where a command reports one, is a percentage of that call.
      if (progress.procStatus > 0 && progress.procStatus < 100) report((parts.done + progress.procStatus / 100) / parts.total);
    };
    const io = this.reads(deadline, onProgress);
    const site = { ledger: this.ledger, flow: this.flow.name, step: step.name };
    // The step sees the read-only port; the writer stays with the door.
    const { writer: _writer, ...reads } = io;
    return {
      ...reads,
      flow: this.flow.name,
      step: step.name,
      logger: this.log,
      call: (action, params) => call(io, site, action, params),
      progress: (done, total) => {
        parts = { done, total };
        report(done / total);
      },
      recordOnJob: (patch) => this.change(() => this.lifecycle.record(patch)),
      checkReadiness: () => this.deps.checkReadiness(this.plan),
    };
  }

  /** A step failed for good: a failover compensates; an unwind goes back to `completed`, to be retried. */
  private async stepFailed(step: Step, index: number, error: unknown): Promise<void> {
    const failure = describeFailure(error);
    this.log.warn({ jobId: this.plan.jobId, step: step.name, err: error }, 'step failed');
    if (this.flow.kind === FlowKind.FAILOVER) {
      await this.change(() => this.lifecycle.startCompensation(index, step.name, failure));
      this.execution.failedStep = step.name;
      this.execution.failure = failure;
      return this.compensate();
    }
    // A test failover that cleans itself up tries again later on its own (the cloud may be back by then).
    const retryInMs = this.flow.name === FlowName.CLEANUP && this.execution.autoCleanupAfterMinutes ? AUTO_CLEANUP_RETRY_MS : null;
    const again = `run ${this.flow.name === FlowName.CLEANUP ? 'cleanupTestFailover' : 'revertFailover'} again to resume`;
    const when = retryInMs === null ? again : `automatic cleanup retries at ${new Date(this.now() + retryInMs).toISOString()}, or ${again}`;
    const message = `${this.flow.name} failed at ${step.name}: ${failure}. The job still holds the VM's volumes (the VM may be stopped); ${when}`;
    await this.change(() => this.lifecycle.unwindFailed(index, step.name, failure, message, retryInMs));
  }

  /** Undoes the job's ledger entries newest first, then ends the job `failed`. */
  private async compensate(): Promise<void> {
    const failedStep = this.execution.failedStep ?? 'unknown step';
    const failure = this.execution.failure ?? 'unknown error';
    const attempts = this.deps.undoAttempts ?? 8;
    for (const entry of entriesToUndo(this.ledger.entries)) {
      let lastError: unknown;
      const undone = await retry(
        async () => {
          await this.ledger.undoing(entry);
          await undoEntry(this.reads(this.now() + UNDO_DEADLINE_MS), entry);
          await this.ledger.undone(entry);
          return true;
        },
        {
          backoff: COMPENSATION_RETRY,
          deadlineAt: Number.POSITIVE_INFINITY,
          signal: this.signal,
          now: this.now,
          retryable: (error, attempt) => {
            const kind = classify(error, this.signal);
            if (kind === FailureClass.STOPPED || kind === FailureClass.DATABASE) return false;
            this.log.warn({ jobId: this.plan.jobId, action: entry.actionKey, attempt, err: error }, 'undo failed');
            lastError = error;
            return kind === FailureClass.TRANSIENT || attempt < attempts;
          },
          onGiveUp: (error) => (error instanceof Error ? error : new Error(String(error))),
          onRetry: (error) =>
            this.change(() => this.lifecycle.undoRetrying(failedStep, `rolling back ${entry.actionKey}: ${describeFailure(error)}; retrying`)),
        },
      ).catch((error) => {
        if (this.signal.aborted) this.throwIfStopping();
        const kind = classify(error, this.signal);
        if (kind === FailureClass.STOPPED || kind === FailureClass.DATABASE || error !== lastError) throw error;
        return false;
      });
      if (!undone) return this.rollbackIncomplete(failedStep, failure, entry.actionKey, lastError);
    }
    const message = `Failed at ${failedStep}: ${failure}`;
    await this.change(() => this.lifecycle.fail(failedStep, message, `${message}. Rolled back: the cloud is as it was before the job`));
  }

  /** An undo failed for good: the job ends `failed`, keeps the VM locked, and says what is left. */
  private async rollbackIncomplete(failedStep: string, failure: string, actionKey: string, error: unknown): Promise<void> {
    const left = entriesToUndo(this.ledger.entries)
      .filter((e) => e.state !== LedgerState.UNDONE)
      .map((e) => `${e.action} ${e.resourceId ?? e.resourceName ?? ''}`.trim());
    const message = `Failed at ${failedStep}: ${failure}. Rollback incomplete: ${actionKey} could not be undone (${describeFailure(error)}); left in the cloud: ${left.join(', ')}. The VM stays locked for manual cleanup`;
    await this.change(() => this.lifecycle.rollbackIncomplete(failedStep, message));
  }
}
