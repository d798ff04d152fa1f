import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { AuditOutcome } from '../access/audit.js';
import { AuditEntry } from '../entities/index.js';
import { badInput } from '../errors.js';
import { checkFirst, decodeCursor, encodeCursor, page } from './pagination.js';

/** What an audit log query may filter on. */
export interface AuditFilter {
  readonly actor?: string | null;
  readonly operation?: string | null;
  readonly target?: string | null;
  readonly outcome?: AuditOutcome | null;
  readonly since?: Date | null;
  readonly until?: Date | null;
}

const CURSOR_KIND = 'audit';
const isIdTuple = (v: unknown[]): v is [number] => v.length === 1 && Number.isInteger(v[0]);

/** A page of the audit log, newest first. */
export async function listAudit(
  em: EntityManager,
  { filter, first, after, maxPageSize }: { filter?: AuditFilter | null; first: number; after?: string | null; maxPageSize: number },
) {
  const limit = checkFirst(first, maxPageSize);
  const and: FilterQuery<AuditEntry>[] = [];
  if (filter?.actor) and.push({ actor: filter.actor });
  if (filter?.operation) and.push({ operation: filter.operation });
  if (filter?.target) and.push({ target: filter.target });
  if (filter?.outcome) and.push({ outcome: filter.outcome });
  if (filter?.since) and.push({ occurredAt: { $gte: filter.since } });
  if (filter?.until) and.push({ occurredAt: { $lt: filter.until } });
  if (filter?.since && filter.until && filter.since >= filter.until) throw badInput('filter.until', 'filter.until must be after filter.since');
  const before = after ? decodeCursor<[number]>(after, CURSOR_KIND, isIdTuple)[0] : null;
  if (before !== null) and.push({ id: { $lt: before } });
  const rows = await em.find(AuditEntry, and.length === 0 ? {} : { $and: and }, { orderBy: { id: 'desc' }, limit: limit + 1, disableIdentityMap: true });
  return page(rows, limit, (row) => encodeCursor(CURSOR_KIND, [Number(row.id)]), after);
}
