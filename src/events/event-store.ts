import { raw, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { FailoverEvent, FailoverSequence } from '../entities/index.js';
import { num, query } from '../inventory/sql.js';
import type { EventFilter, JobEvent, NewJobEvent } from './event.types.js';

/** The counter the event sequence is taken from. */
export const EVENT_SEQUENCE = 'failover_job_events';

/**
 * Takes the next event sequence inside the caller's transaction. The counter row stays locked
 * (MariaDB row lock; SQLite's write lock) until that transaction ends, so event-writing
 * transactions commit in sequence order and a rolled-back one gives its number back: the
 * sequence is dense, and a reader that has seen N has seen everything before N.
 */
export async function nextSequence(tx: EntityManager): Promise<number> {
  for (;;) {
    const updated = await tx.nativeUpdate(FailoverSequence, { name: EVENT_SEQUENCE }, { value: raw('value + 1') });
    if (updated > 0) {
      const [row] = await query(tx, 'SELECT value FROM failover_sequences WHERE name = ?', [EVENT_SEQUENCE]);
      return num(row!.value)!;
    }
    // First event of a database made from the entities (SQLite): create the counter, then take from it.
    const start = (await maxStoredSequence(tx)) ?? 0;
    try {
      await tx.insert(FailoverSequence, { name: EVENT_SEQUENCE, value: start });
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
    }
  }
}

async function maxStoredSequence(em: EntityManager): Promise<number | null> {
  const [row] = await query(em, 'SELECT MAX(sequence) AS s FROM failover_job_events');
  return num(row?.s);
}

/** Writes one event in the caller's transaction and returns it as stored. */
export async function appendEvent(tx: EntityManager, event: NewJobEvent): Promise<JobEvent> {
  const stored: JobEvent = { ...event, requestedBy: event.requestedBy ?? null, sequence: await nextSequence(tx), occurredAt: new Date() };
  await tx.insert(FailoverEvent, { ...stored });
  return stored;
}

/** The highest sequence committed so far (0 when there is none). */
export async function latestSequence(em: EntityManager): Promise<number> {
  return (await maxStoredSequence(em)) ?? 0;
}

/** Stored events with `after < sequence <= upTo` that pass `filter`, in sequence order. */
export async function readEvents(
  em: EntityManager,
  { after, upTo, filter = {}, limit = 1000 }: { after: number; upTo?: number; filter?: EventFilter; limit?: number },
): Promise<JobEvent[]> {
  const where: Record<string, unknown> = { sequence: upTo === undefined ? { $gt: after } : { $gt: after, $lte: upTo } };
  if (filter.jobId) where.jobId = filter.jobId;
  if (filter.vmId) where.vmId = filter.vmId;
  const rows = await em.find(FailoverEvent, where, { orderBy: { sequence: 'asc' }, limit, disableIdentityMap: true });
  return rows.map(toJobEvent);
}

/** An event row as plain data. */
export function toJobEvent(row: FailoverEvent): JobEvent {
  return {
    sequence: Number(row.sequence),
    jobId: row.jobId,
    vmId: row.vmId,
    jobType: row.jobType,
    status: row.status,
    previousStatus: row.previousStatus ?? null,
    progressPercent: row.progressPercent,
    step: row.step ?? null,
    message: row.message ?? null,
    requestedBy: row.requestedBy ?? null,
    occurredAt: row.occurredAt,
  };
}
