import { raw, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { FailoverSequence, PlanExecutionEventRow } from '../entities/index.js';
import { num, query } from '../inventory/sql.js';
import type { EventSource } from './event-bus.js';

/** The counter plan event sequences are taken from (a row of `failover_sequences`). */
export const PLAN_EVENT_SEQUENCE = 'plan_execution_events';

/** What a plan event reports. */
export enum PlanEventKind {
  /** The execution's status changed (`previousStatus` → `status`). */
  STATUS = 'status',
  WAVE_STARTED = 'wave_started',
  WAVE_COMPLETED = 'wave_completed',
  /** A VM's failover job was started (`jobId`). */
  VM_LAUNCHED = 'vm_launched',
  /** A VM's job ended (completed or failed), or the VM could not be started, or it was skipped. */
  VM_ENDED = 'vm_ended',
  /** A VM's cleanup or revert was begun. */
  VM_UNWIND_STARTED = 'vm_unwind_started',
  /** A VM's cleanup or revert ended. */
  VM_UNWOUND = 'vm_unwound',
  /** A cancel was asked for. */
  CANCEL_REQUESTED = 'cancel_requested',
}

/** One plan execution event as stored and delivered: plain data. */
export interface PlanEvent {
  /** Dense and monotonic across all executions. */
  readonly sequence: number;
  /** Dense within the execution (1, 2, 3, …). */
  readonly executionSequence: number;
  readonly executionId: number;
  readonly planId: number;
  readonly kind: PlanEventKind;
  /** The execution's status after the change. */
  readonly status: string;
  readonly previousStatus: string | null;
  /** The wave's order (1-based), when the event is about a wave or a VM. */
  readonly wave: number | null;
  readonly vmId: string | null;
  readonly jobId: string | null;
  readonly progressPercent: number;
  readonly message: string | null;
  readonly requestedBy: string | null;
  readonly occurredAt: Date;
}

/** What a writer gives to {@link appendPlanEvent}. */
export type NewPlanEvent = Omit<PlanEvent, 'sequence' | 'executionSequence' | 'occurredAt' | 'wave' | 'vmId' | 'jobId' | 'previousStatus' | 'message'> &
  Partial<Pick<PlanEvent, 'wave' | 'vmId' | 'jobId' | 'previousStatus' | 'message'>>;

/** Which plan events a subscriber wants: one execution, one plan, or (neither) all. */
export interface PlanEventFilter {
  readonly executionId?: number | null;
  readonly planId?: number | null;
}

/**
 * Takes the next plan event sequence inside the caller's transaction, under the counter row's lock
 * (as the job events do): plan events commit in sequence order and the sequence is dense.
 */
async function nextPlanSequence(tx: EntityManager): Promise<number> {
  for (;;) {
    const updated = await tx.nativeUpdate(FailoverSequence, { name: PLAN_EVENT_SEQUENCE }, { value: raw('value + 1') });
    if (updated > 0) {
      const [row] = await query(tx, 'SELECT value FROM failover_sequences WHERE name = ?', [PLAN_EVENT_SEQUENCE]);
      return num(row!.value)!;
    }
    // A database made from the entities (SQLite): create the counter, then take from it.
    const [max] = await query(tx, 'SELECT MAX(sequence) AS s FROM plan_execution_events');
    try {
      await tx.insert(FailoverSequence, { name: PLAN_EVENT_SEQUENCE, value: num(max?.s) ?? 0 });
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
    }
  }
}

/** Writes one plan event in the caller's transaction and returns it as stored. */
export async function appendPlanEvent(tx: EntityManager, event: NewPlanEvent): Promise<PlanEvent> {
  const sequence = await nextPlanSequence(tx);
  // Under the counter's lock: no other writer takes the execution's next number meanwhile.
  const [row] = await query(tx, 'SELECT MAX(execution_sequence) AS s FROM plan_execution_events WHERE execution_id = ?', [event.executionId]);
  const stored: PlanEvent = {
    wave: null,
    vmId: null,
    jobId: null,
    previousStatus: null,
    message: null,
    ...event,
    sequence,
    executionSequence: (num(row?.s) ?? 0) + 1,
    occurredAt: new Date(),
  };
  await tx.insert(PlanExecutionEventRow, { ...stored });
  return stored;
}

function toPlanEvent(row: PlanExecutionEventRow): PlanEvent {
  return {
    sequence: Number(row.sequence),
    executionSequence: row.executionSequence,
    executionId: row.executionId,
    planId: row.planId,
    kind: row.kind as PlanEventKind,
    status: row.status,
    previousStatus: row.previousStatus ?? null,
    wave: row.wave ?? null,
    vmId: row.vmId ?? null,
    jobId: row.jobId ?? null,
    progressPercent: row.progressPercent,
    message: row.message ?? null,
    requestedBy: row.requestedBy ?? null,
    occurredAt: row.occurredAt,
  };
}

/** The plan events, as an event bus reads them. */
export const PLAN_EVENTS: EventSource<PlanEvent, PlanEventFilter> = {
  async latest(em) {
    const [row] = await query(em, 'SELECT MAX(sequence) AS s FROM plan_execution_events');
    return num(row?.s) ?? 0;
  },
  async read(em, { after, upTo, filter = {}, limit }) {
    const where: Record<string, unknown> = { sequence: upTo === undefined ? { $gt: after } : { $gt: after, $lte: upTo } };
    if (filter.executionId) where.executionId = filter.executionId;
    if (filter.planId) where.planId = filter.planId;
    const rows = await em.find(PlanExecutionEventRow, where, { orderBy: { sequence: 'asc' }, limit, disableIdentityMap: true });
    return rows.map(toPlanEvent);
  },
  matches: (filter, event) => (!filter.executionId || event.executionId === filter.executionId) && (!filter.planId || event.planId === filter.planId),
};
