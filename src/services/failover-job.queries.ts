import { requireList, requireText } from '../arguments.js';
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { ACTIVE_FAILOVER_STATUSES, FailoverJob, FailoverStatus, type FailoverType } from '../entities/index.js';
import { checkFirst, decodeCursor, encodeCursor, page } from './pagination.js';

const CURSOR_KIND = 'job';
const isIdTuple = (v: unknown[]): v is [number] => v.length === 1 && Number.isInteger(v[0]);

/** Which jobs a list shows (the GraphQL input has this shape). */
export interface FailoverJobFilter {
  readonly vmId?: string | null;
  readonly type?: FailoverType | null;
  readonly statuses?: readonly FailoverStatus[] | null;
  readonly active?: boolean | null;
}

/** The job with this job id, or null. */
export function findFailoverJob(em: EntityManager, jobId: string): Promise<FailoverJob | null> {
  return em.findOne(FailoverJob, { jobId });
}

/** A page of jobs, newest first, with the total matching the filter. */
export async function listFailoverJobs(
  em: EntityManager,
  { filter, first, after, maxPageSize }: { filter?: FailoverJobFilter | null; first: number; after?: string | null; maxPageSize: number },
) {
  const limit = checkFirst(first, maxPageSize);
  const where = jobFilter(filter);
  const before = after ? decodeCursor<[number]>(after, CURSOR_KIND, isIdTuple)[0] : null;
  const [rows, totalCount] = await Promise.all([
    em.find(FailoverJob, before === null ? where : { $and: [where, { id: { $lt: before } }] }, {
      orderBy: { id: 'desc' },
      limit: limit + 1,
    }),
    em.count(FailoverJob, where),
  ]);
  return { ...page(rows, limit, (job) => encodeCursor(CURSOR_KIND, [job.id]), after), totalCount };
}

function jobFilter(filter: FailoverJobFilter | null | undefined): FilterQuery<FailoverJob> {
  const and: FilterQuery<FailoverJob>[] = [];
  if (!filter) return {};
  if (filter.vmId != null) {
    requireText('filter.vmId', filter.vmId, { max: Number.POSITIVE_INFINITY });
    and.push({ vmId: filter.vmId });
  }
  // Other writers may spell the type in capitals (`LIVE`): both spellings match.
  if (filter.type != null) and.push({ jobType: { $in: [filter.type, filter.type.toUpperCase() as FailoverType] } });
  if (filter.statuses != null) {
    requireList('filter.statuses', filter.statuses, Number.POSITIVE_INFINITY, { noun: 'status', nouns: 'statuses' });
    const known = filter.statuses.filter((st) => st !== FailoverStatus.UNKNOWN);
    const any: FilterQuery<FailoverJob>[] = [{ status: { $in: known } }];
    // Statuses as the API shows them: NULL reads as PENDING, anything unknown as UNKNOWN.
    if (known.includes(FailoverStatus.PENDING)) any.push({ status: null });
    if (known.length < filter.statuses.length) {
      any.push({ status: { $nin: Object.values(FailoverStatus).filter((st) => st !== FailoverStatus.UNKNOWN) } });
    }
    and.push({ $or: any });
  }
  if (filter.active === true) and.push({ $or: [{ status: { $in: [...ACTIVE_FAILOVER_STATUSES] } }, { status: null }] });
  if (filter.active === false) and.push({ status: { $nin: [...ACTIVE_FAILOVER_STATUSES] } });
  return and.length === 0 ? {} : { $and: and };
}
