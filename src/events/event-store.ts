import { raw, UniqueConstraintViolationException, type EntityManager, type EntityName } from '@mikro-orm/core';
import { SqlitePlatform } from '@mikro-orm/sql';
import { FailoverEvent, FailoverExecution, FailoverJob, FailoverSequence } from '../entities/index.js';
import { num, query, run } from '../inventory/sql.js';
import type { DeliveredEvent, EventFilter, JobEvent, NewJobEvent } from './event.types.js';

/** The counter the event sequence is taken from. */
export const EVENT_SEQUENCE = 'failover_job_events';

/**
 * Takes the next event sequence inside the caller's transaction. The counter row stays locked
 * (MariaDB row lock; SQLite's write lock) until that transaction ends, so event-writing
 * transactions commit in sequence order and a rolled-back one gives its number back: the
 * sequence is dense, and a reader that has seen N has seen everything before N.
 */
export async function nextSequence(tx: EntityManager): Promise<number> {
  const mariadb = !(tx.getPlatform() instanceof SqlitePlatform);
  for (;;) {
    if (mariadb) {
      // One statement: LAST_INSERT_ID(expr) hands the new value back in the UPDATE's own answer, so
      // the row is locked for one round trip less than an UPDATE followed by a SELECT.
      const result = await run(tx, 'UPDATE failover_sequences SET value = LAST_INSERT_ID(value + 1) WHERE name = ?', [EVENT_SEQUENCE]);
      if (result.affectedRows > 0) return num(result.insertId)!;
    } else {
      const updated = await tx.nativeUpdate(FailoverSequence, { name: EVENT_SEQUENCE }, { value: raw('value + 1') });
      if (updated > 0) {
        const [row] = await query(tx, 'SELECT value FROM failover_sequences WHERE name = ?', [EVENT_SEQUENCE]);
        return num(row!.value)!;
      }
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

/**
 * Stored events with `after < sequence <= upTo` that pass `filter`, in sequence order, each with its
 * job's row and execution row as they are now — one statement (the event table joined with both),
 * so the work of a batch of events does not depend on what subscribers select of `job`.
 */
export async function readDeliveries(
  em: EntityManager,
  { after, upTo, filter = {}, limit = 500 }: { after: number; upTo?: number; filter?: EventFilter; limit?: number },
): Promise<DeliveredEvent[]> {
  const e = columns(em, FailoverEvent);
  const j = columns(em, FailoverJob);
  const x = columns(em, FailoverExecution);
  const select = [...e.map((c) => `e.${c} AS e_${c}`), ...j.map((c) => `j.${c} AS j_${c}`), ...x.map((c) => `x.${c} AS x_${c}`)].join(', ');
  const where = ['e.sequence > ?'];
  const params: unknown[] = [after];
  if (upTo !== undefined) {
    where.push('e.sequence <= ?');
    params.push(upTo);
  }
  if (filter.jobId) {
    where.push('e.job_id = ?');
    params.push(filter.jobId);
  }
  if (filter.vmId) {
    where.push('e.vm_id = ?');
    params.push(filter.vmId);
  }
  params.push(Math.max(1, Math.trunc(limit)));
  const rows = await query(
    em,
    `SELECT ${select} FROM failover_job_events e LEFT JOIN failover_jobs j ON j.job_id = e.job_id LEFT JOIN failover_executions x ON x.job_id = e.job_id WHERE ${where.join(' AND ')} ORDER BY e.sequence LIMIT ?`,
    params,
  );
  // One entity per job and batch: the events of one job share its rows.
  const jobs = new Map<string, { job: FailoverJob | null; execution: FailoverExecution | null }>();
  return rows.map((row) => {
    const event = toJobEvent(em.map(FailoverEvent, pick(row, 'e_', e)) as FailoverEvent);
    let rows = jobs.get(event.jobId);
    if (!rows) {
      rows = {
        job: row.j_job_id === null || row.j_job_id === undefined ? null : (em.map(FailoverJob, pick(row, 'j_', j)) as FailoverJob),
        execution: row.x_job_id === null || row.x_job_id === undefined ? null : (em.map(FailoverExecution, pick(row, 'x_', x)) as FailoverExecution),
      };
      jobs.set(event.jobId, rows);
    }
    return { ...event, ...rows };
  });
}

/** The column names of an entity's table. */
function columns<T extends object>(em: EntityManager, entity: EntityName<T>): string[] {
  return em
    .getMetadata()
    .get(entity)
    .props.filter((p) => p.persist !== false && p.fieldNames?.length)
    .flatMap((p) => p.fieldNames);
}

function pick(row: Record<string, unknown>, prefix: string, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(names.map((c) => [c, row[prefix + c]]));
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
