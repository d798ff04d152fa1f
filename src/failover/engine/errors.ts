import { DriverException } from '@mikro-orm/core';
import { CloudStackError, CloudStackErrorKind, isBusyRefusal } from '../../cloudstack/errors.js';

/** A step failed for good: the job compensates and ends `failed` with this message. */
export class StepFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StepFailure';
  }
}

/** This worker no longer holds the job's lease (it expired, another worker took it): stop at once. */
export class LeaseLost extends Error {
  constructor(jobId: string) {
    super(`lease of job ${jobId} lost`);
    this.name = 'LeaseLost';
  }
}

/** The worker is shutting down: stop at the next safe point; the job resumes elsewhere. */
export class WorkerStopping extends Error {
  constructor() {
    super('worker stopping');
    this.name = 'WorkerStopping';
  }
}

/**
 * Whether trying the same (idempotent) action again may succeed: a transient CloudStack failure,
 * or one whose outcome is unknown (every action re-reads the cloud before it acts).
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof CloudStackError)) return false;
  if (error.kind === CloudStackErrorKind.ABORTED) return false;
  // "Busy, try again later" is waited out, never a failure (concurrent failovers from one appliance).
  return error.retryable || error.ambiguous || error.kind === CloudStackErrorKind.DEADLINE || isBusyRefusal(error);
}

/** The cloud's own words for a failure, for `error_message`. */
export function describeFailure(error: unknown): string {
  if (error instanceof CloudStackError) return error.errorText ? `${error.command}: ${error.errorText}` : error.message;
  return error instanceof Error ? error.message : String(error);
}

/** What a failure means for the job: the one classifier the runner asks. */
export enum FailureClass {
  /** This worker must stop (lease lost, shutting down): nothing is marked failed; the job resumes elsewhere. */
  STOPPED = 'stopped',
  /** The database is away: the run breaks off and resumes when its lease runs out (nothing is rolled back for it). */
  DATABASE = 'database',
  /** Trying again may succeed (the cloud's answer was transient or lost). */
  TRANSIENT = 'transient',
  /** A real "no": the step fails (a failover compensates). */
  PERMANENT = 'permanent',
}

export function classify(error: unknown, signal?: AbortSignal): FailureClass {
  if (error instanceof LeaseLost || error instanceof WorkerStopping || signal?.aborted) return FailureClass.STOPPED;
  if (error instanceof DriverException) return FailureClass.DATABASE;
  if (error instanceof StepFailure) return FailureClass.PERMANENT;
  return isTransient(error) ? FailureClass.TRANSIENT : FailureClass.PERMANENT;
}
