import { setTimeout as sleep } from 'node:timers/promises';
import { DriverException, type EntityManager } from '@mikro-orm/core';
import type { CloudStack, JobProgress, OperationOptions } from '../../cloudstack/cloudstack.port.js';
import { ExecutionPhase, FailoverJob, FailoverStatus, FlowName, LedgerState, type FailoverExecution } from '../../entities/index.js';
import type { Logger } from '../../logger.js';
import type { Readiness } from '../readiness/evaluate.js';
import { describeFailure, isTransient, LeaseLost, StepFailure, WorkerStopping } from './errors.js';
import { FlowKind, type CloudIds, type Flow, type Step, type StepContext } from './flow.js';
import { FLOWS } from './flows.js';
import { commitChange, loadExecution, type JobChange } from './job-store.js';
import { Ledger, type Intent } from './ledger.js';
import { readPlan, type JobPlan } from './plan.js';
import { entriesToUndo, undo } from './undo.js';

/** What running a job needs. */
export interface RunnerDeps {
  readonly root: EntityManager;
  readonly cloud: CloudStack;
  readonly ids: CloudIds;
  readonly logger: Logger;
  /** Publishes committed events (called after each commit). */
  readonly notify: () => void;
  /** Every readiness check for the plan, the job's own hold excused. */
  readonly checkReadiness: (plan: JobPlan) => Promise<Readiness>;
  readonly now?: () => number;
  /** Tries to undo one ledger entry before compensation gives up on it. */
  readonly undoAttempts?: number;
}

const COMPENSATION_RETRY = { initialMs: 500, maxMs: 30_000, multiplier: 2 };
const UNDO_DEADLINE_MS = 15 * 60_000;
/** After a failed automatic cleanup, when it is tried again. */
const AUTO_CLEANUP_RETRY_MS = 5 * 60_000;

/**
 * Runs one claimed job from its persisted cursor to the end of its flow (or of its compensation).
 * Every transition is committed with its event before the next cloud call; a crash anywhere leaves
 * the cursor and the ledger to resume from. Returns when the job is done or this worker must stop
 * (lease lost, shutting down: the error is rethrown, nothing is marked failed).
 */
export class JobRunner {
  private readonly now: () => number;
  private status: string;
  private progressChain: Promise<unknown> = Promise.resolve();
  private lastPercent = 0;

  private constructor(
    private readonly deps: RunnerDeps,
    private readonly owner: string,
    private readonly signal: AbortSignal,
    private readonly execution: FailoverExecution,
    private readonly job: FailoverJob,
    private readonly plan: JobPlan,
    private readonly flow: Flow,
    private readonly ledger: Ledger,
  ) {
    this.now = deps.now ?? Date.now;
    this.status = job.status;
    this.lastPercent = execution.progressPercent;
  }

  /** Loads the job and runs it; resolves when there is nothing left to run. */
  static async run(deps: RunnerDeps, jobId: string, owner: string, signal: AbortSignal): Promise<void> {
    const execution = await loadExecution(deps.root, jobId);
    if (!execution || execution.phase === ExecutionPhase.DONE) return;
    const job = await deps.root.fork().findOneOrFail(FailoverJob, { jobId }, { disableIdentityMap: true });
    const ledger = new Ledger(deps.root, jobId, owner);
    await ledger.load();
    const runner = new JobRunner(deps, owner, signal, execution, job, readPlan(job), FLOWS[execution.flow], ledger);
    await (execution.phase === ExecutionPhase.RUN ? runner.forward() : runner.compensate());
  }

  private get log(): Logger {
    return this.deps.logger;
  }

  private percent(stepIndex: number, fraction: number): number {
    const total = this.flow.steps.length;
    return Math.max(0, Math.min(100, Math.floor((100 * (stepIndex + Math.min(1, fraction))) / total)));
  }

  private async commit(change: JobChange): Promise<void> {
    this.throwIfStopping();
    await this.progressChain;
    const event = await commitChange(this.deps.root, this.job, this.owner, change);
    if (change.job?.status) this.status = change.job.status;
    if (change.event) this.lastPercent = change.event.progressPercent;
    if (event) this.deps.notify();
  }

  private throwIfStopping(): void {
    if (this.signal.aborted) throw this.signal.reason instanceof Error ? this.signal.reason : new WorkerStopping();
  }

  private async forward(): Promise<void> {
    const steps = this.flow.steps;
    for (let i = this.execution.step; i < steps.length; i++) {
      const step = steps[i]!;
      if (this.status !== step.status) {
        const percent = this.percent(i, 0);
        await this.commit({
          execution: { step: i, progressPercent: percent },
          job: { status: step.status, ...(this.job.startedAt ? {} : { startedAt: new Date(this.now()) }) },
          event: { status: step.status, previousStatus: this.status, progressPercent: percent, step: step.name, message: `${step.name} started` },
        });
        this.job.startedAt ??= new Date(this.now());
      }
      try {
        await this.runStep(step, i);
      } catch (error) {
        // The database being away is not the step failing: the run breaks off, keeps its lease
        // until it runs out, and the job resumes at this step then (nothing is rolled back for it).
        if (this.stopped(error) || error instanceof DriverException) throw error;
        return this.stepFailed(step, i, error);
      }
      this.lastPercent = Math.max(this.lastPercent, this.percent(i + 1, 0));
      await this.commit({ execution: { step: i + 1, progressPercent: this.lastPercent } });
    }
    await this.finish();
  }

  private stopped(error: unknown): boolean {
    return error instanceof LeaseLost || error instanceof WorkerStopping || this.signal.aborted;
  }

  /** Runs a step, retrying transient failures with backoff until the step's deadline. */
  private async runStep(step: Step, index: number): Promise<void> {
    const deadline = this.now() + step.timeoutMs;
    let delay = step.retry.initialMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await step.run(this.context(step, index, deadline));
        return;
      } catch (error) {
        if (this.stopped(error) || error instanceof StepFailure || error instanceof DriverException || !isTransient(error)) throw error;
        if (this.now() + delay >= deadline)
          throw new StepFailure(`gave up after ${attempt} attempts within ${step.timeoutMs / 1000}s: ${describeFailure(error)}`, { cause: error });
        this.log.warn({ jobId: this.plan.jobId, step: step.name, attempt, err: error }, 'transient failure; retrying the step');
        await this.commit({
          event: {
            status: step.status,
            previousStatus: this.status,
            progressPercent: this.lastPercent,
            step: step.name,
            message: `${step.name}: ${describeFailure(error)}; retrying (attempt ${attempt + 1})`,
          },
        });
        await sleep(delay, undefined, { signal: this.signal }).catch(() => this.throwIfStopping());
        delay = Math.min(step.retry.maxMs, delay * step.retry.multiplier);
      }
    }
  }

  private context(step: Step, index: number, deadline: number): StepContext {
    let parts = { done: 0, total: 1 };
    const report = (fraction: number) => {
      const percent = this.percent(index, fraction);
      if (percent <= this.lastPercent) return;
      this.lastPercent = percent;
      this.progressChain = this.progressChain
        .then(() =>
          commitChange(this.deps.root, this.job, this.owner, {
            execution: { progressPercent: percent },
            event: { status: step.status, previousStatus: this.status, progressPercent: percent, step: step.name, message: null },
          }),
        )
        .then(() => this.deps.notify())
        .catch((error) => this.log.warn({ jobId: this.plan.jobId, err: error }, 'progress update not written'));
    };
    const onProgress = (progress: JobProgress) => {
      // CloudStack's jobprocstatus, where a command reports one, is a percentage of that call.
      if (progress.procStatus > 0 && progress.procStatus < 100) report((parts.done + progress.procStatus / 100) / parts.total);
    };
    return {
      plan: this.plan,
      flow: this.flow.name,
      step: step.name,
      cloud: this.deps.cloud,
      ids: this.deps.ids,
      ledger: this.ledger,
      logger: this.log,
      signal: this.signal,
      op: (): OperationOptions => ({ signal: this.signal, deadlineMs: Math.max(1_000, deadline - this.now()), onProgress }),
      intent: (intent: Intent) => this.ledger.intent(this.flow.name, step.name, intent),
      progress: (done, total) => {
        parts = { done, total };
        report(done / total);
      },
      recordOnJob: (patch) => this.commit({ job: patch }),
      checkReadiness: () => this.deps.checkReadiness(this.plan),
    };
  }

  private async finish(): Promise<void> {
    const now = this.now();
    const done = this.flow.doneStatus;
    const failover = this.flow.kind === FlowKind.FAILOVER;
    const minutes = this.execution.autoCleanupAfterMinutes;
    await this.commit({
      execution: {
        phase: ExecutionPhase.DONE,
        step: this.flow.steps.length,
        progressPercent: 100,
        leaseOwner: null,
        leaseExpiresAt: null,
        failedStep: null,
        failure: null,
        // A failover keeps the VM (its volumes) until cleaned up or reverted; an unwind lets go.
        ...(failover ? { autoCleanupAt: minutes ? now + minutes * 60_000 : null } : { vmLock: null, autoCleanupAt: null }),
      },
      job: { status: done, completedAt: new Date(now), errorMessage: null },
      event: {
        status: done,
        previousStatus: this.status,
        progressPercent: 100,
        step: null,
        message: failover && minutes ? `${this.flow.name} completed; automatic cleanup in ${minutes} min` : `${this.flow.name} completed`,
      },
    });
  }

  /** A step failed for good: a failover compensates; an unwind goes back to `completed`, to be retried. */
  private async stepFailed(step: Step, index: number, error: unknown): Promise<void> {
    const failure = describeFailure(error);
    this.log.warn({ jobId: this.plan.jobId, step: step.name, err: error }, 'step failed');
    if (this.flow.kind === FlowKind.FAILOVER) {
      await this.commit({
        execution: { phase: ExecutionPhase.COMPENSATE, step: index, failedStep: step.name, failure },
        event: {
          status: step.status,
          previousStatus: this.status,
          progressPercent: this.lastPercent,
          step: step.name,
          message: `${step.name} failed: ${failure}; rolling back`,
        },
      });
      this.execution.failedStep = step.name;
      this.execution.failure = failure;
      return this.compensate();
    }
    // A test failover that cleans itself up tries again later on its own (the cloud may be back by then).
    const retryAt = this.flow.name === FlowName.CLEANUP && this.execution.autoCleanupAfterMinutes ? this.now() + AUTO_CLEANUP_RETRY_MS : null;
    const again = `run ${this.flow.name === FlowName.CLEANUP ? 'cleanupTestFailover' : 'revertFailover'} again to resume`;
    const message = `${this.flow.name} failed at ${step.name}: ${failure}. The job still holds the VM's volumes (the VM may be stopped); ${retryAt ? `automatic cleanup retries at ${new Date(retryAt).toISOString()}, or ${again}` : again}`;
    await this.commit({
      execution: { phase: ExecutionPhase.DONE, step: index, failedStep: step.name, failure, leaseOwner: null, leaseExpiresAt: null, autoCleanupAt: retryAt },
      job: { status: FailoverStatus.COMPLETED, errorMessage: message },
      event: { status: FailoverStatus.COMPLETED, previousStatus: this.status, progressPercent: this.lastPercent, step: step.name, message },
    });
  }

  /** Undoes the job's ledger entries newest first, then ends the job `failed`. */
  private async compensate(): Promise<void> {
    const failedStep = this.execution.failedStep ?? 'unknown step';
    const failure = this.execution.failure ?? 'unknown error';
    const step = this.flow.steps.find((s) => s.name === failedStep) ?? this.flow.steps[0]!;
    const attempts = this.deps.undoAttempts ?? 8;
    for (const entry of entriesToUndo(this.ledger.entries)) {
      let delay = COMPENSATION_RETRY.initialMs;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.ledger.undoing(entry);
          await undo(this.context(step, 0, this.now() + UNDO_DEADLINE_MS), entry);
          await this.ledger.undone(entry);
          break;
        } catch (error) {
          if (this.stopped(error) || error instanceof DriverException) throw error;
          this.log.warn({ jobId: this.plan.jobId, action: entry.actionKey, attempt, err: error }, 'undo failed');
          if (!isTransient(error) && attempt >= attempts) return this.rollbackIncomplete(failedStep, failure, entry.actionKey, error);
          await this.commit({
            event: {
              status: this.status as FailoverStatus,
              previousStatus: this.status,
              progressPercent: this.lastPercent,
              step: failedStep,
              message: `rolling back ${entry.actionKey}: ${describeFailure(error)}; retrying`,
            },
          });
          await sleep(delay, undefined, { signal: this.signal }).catch(() => this.throwIfStopping());
          delay = Math.min(COMPENSATION_RETRY.maxMs, delay * COMPENSATION_RETRY.multiplier);
        }
      }
    }
    const message = `Failed at ${failedStep}: ${failure}`;
    await this.commit({
      execution: { phase: ExecutionPhase.DONE, vmLock: null, leaseOwner: null, leaseExpiresAt: null },
      job: { status: FailoverStatus.FAILED, errorMessage: message, completedAt: new Date(this.now()) },
      event: {
        status: FailoverStatus.FAILED,
        previousStatus: this.status,
        progressPercent: this.lastPercent,
        step: failedStep,
        message: `${message}. Rolled back: the cloud is as it was before the job`,
      },
    });
  }

  /** An undo failed for good: the job ends `failed`, keeps the VM locked, and says what is left. */
  private async rollbackIncomplete(failedStep: string, failure: string, actionKey: string, error: unknown): Promise<void> {
    const left = entriesToUndo(this.ledger.entries)
      .filter((e) => e.state !== LedgerState.UNDONE)
      .map((e) => `${e.action} ${e.resourceId ?? e.resourceName ?? ''}`.trim());
    const message = `Failed at ${failedStep}: ${failure}. Rollback incomplete: ${actionKey} could not be undone (${describeFailure(error)}); left in the cloud: ${left.join(', ')}. The VM stays locked for manual cleanup`;
    await this.commit({
      execution: { phase: ExecutionPhase.DONE, leaseOwner: null, leaseExpiresAt: null },
      job: { status: FailoverStatus.FAILED, errorMessage: message, completedAt: new Date(this.now()) },
      event: { status: FailoverStatus.FAILED, previousStatus: this.status, progressPercent: this.lastPercent, step: failedStep, message },
    });
  }
}
