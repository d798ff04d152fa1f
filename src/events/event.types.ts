import type { FailoverExecution, FailoverJob } from '../entities/index.js';

/** One job event as published and stored: plain, serialisable data (the subscription's payload). */
export interface JobEvent {
  /** Dense and monotonic across all jobs: events commit in sequence order. */
  readonly sequence: number;
  readonly jobId: string;
  readonly vmId: string;
  /** The job type as stored (`test` / `live`). */
  readonly jobType: string;
  /** The status as stored, after the change. */
  readonly status: string;
  /** The status before (equal to `status` for a progress update; null for the job's first event). */
  readonly previousStatus: string | null;
  readonly progressPercent: number;
  /** The flow step the job is in, when it is in one. */
  readonly step: string | null;
  readonly message: string | null;
  /** Who asked for the flow the event belongs to: a key name, `anonymous`, or `system:<why>` (null on rows older than the audit). */
  readonly requestedBy: string | null;
  readonly occurredAt: Date;
}

/**
 * An event as the bus delivers it: with the job's row and the engine's execution row as they were
 * when the bus read the event (one joined read per batch of events, whatever the subscribers select).
 * `null` when the job (or its execution) is not in the database.
 */
export interface DeliveredEvent extends JobEvent {
  readonly job: FailoverJob | null;
  readonly execution: FailoverExecution | null;
}

/** What a writer gives to {@link appendEvent}: the event without its sequence and time. */
export type NewJobEvent = Omit<JobEvent, 'sequence' | 'occurredAt' | 'requestedBy'> & { readonly requestedBy?: string | null };

/** Which events a subscriber wants: one job, one VM, or (neither) all. */
export interface EventFilter {
  readonly jobId?: string | null;
  readonly vmId?: string | null;
}

/** Whether an event passes a filter. */
export function matches(filter: EventFilter, event: JobEvent): boolean {
  return (!filter.jobId || event.jobId === filter.jobId) && (!filter.vmId || event.vmId === filter.vmId);
}
