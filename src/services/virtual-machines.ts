import { requireList, requireText } from '../arguments.js';
import type { EntityManager } from '@mikro-orm/core';
import { placeholders, query } from '../inventory/sql.js';
import { checkFirst, decodeCursor, encodeCursor, page } from './pagination.js';

const CURSOR_KIND = 'vm';
const isNameIdTuple = (v: unknown[]): v is [string, string] => v.length === 2 && v.every((x) => typeof x === 'string');
/** Which VMs a page shows (the GraphQL input has this shape). */
export interface VirtualMachineFilter {
  readonly search?: string | null;
  readonly vmIds?: readonly string[] | null;
}

/** A VM as a page lists it: its id and name (every other field is loaded in batches). */
export interface VirtualMachine {
  readonly vmId: string;
  readonly name: string;
}

/** LIKE pattern escaping with `!` (a backslash means different things to MariaDB and SQLite). */
const escapeLike = (text: string) => text.replace(/[!%_]/g, (c) => `!${c}`);

/**
 * A page of the VMs the appliance knows (one per `source_vm_id`, named by its latest replication
 * job), ordered by name then id. Two statements, whatever the page size, both index-driven: the
 * page is a keyset range of `vm_directory`'s `(vm_name, vm_id)` index (Migration007: kept exact
 * by triggers on `replication_jobs`, so another writer's rows show on the next request), and the
 * unfiltered `totalCount` is the directory's counter row. A search still reads every name (a
 * substring can be anywhere), but only the directory's, one row per VM.
 */
export async function listVirtualMachines(
  em: EntityManager,
  { filter, first, after, maxPageSize }: { filter?: VirtualMachineFilter | null; first: number; after?: string | null; maxPageSize: number },
) {
  const limit = checkFirst(first, maxPageSize);
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filter?.search != null) {
    const search = requireText('filter.search', filter.search, { max: Number.POSITIVE_INFINITY }).trim().toLowerCase();
    conditions.push(`(LOWER(vm_name) LIKE ? ESCAPE '!' OR LOWER(vm_id) LIKE ? ESCAPE '!')`);
    params.push(`%${escapeLike(search)}%`, `%${escapeLike(search)}%`);
  }
  if (filter?.vmIds != null) {
    requireList('filter.vmIds', filter.vmIds, maxPageSize, { noun: 'VM', nouns: 'VMs' });
    conditions.push(`vm_id IN (${placeholders(filter.vmIds.length)})`);
    params.push(...filter.vmIds);
  }
  const pageConditions = [...conditions];
  const pageParams = [...params];
  if (after) {
    const [name, vmId] = decodeCursor<[string, string]>(after, CURSOR_KIND, isNameIdTuple);
    // (vm_name, vm_id) > (name, vmId), written so that vm_name bounds the index range.
    pageConditions.push('vm_name >= ? AND (vm_name > ? OR vm_id > ?)');
    pageParams.push(name, name, vmId);
  }
  const where = (list: string[]) => (list.length === 0 ? '' : `WHERE ${list.join(' AND ')}`);
  const [rows, countRows] = await Promise.all([
    query(em, `SELECT vm_id, vm_name FROM vm_directory ${where(pageConditions)} ORDER BY vm_name, vm_id LIMIT ?`, [...pageParams, limit + 1]),
    conditions.length === 0
      ? query(em, 'SELECT vm_count AS total FROM vm_directory_totals WHERE id = 1')
      : query(em, `SELECT COUNT(*) AS total FROM vm_directory ${where(conditions)}`, params),
  ]);
  const vms: VirtualMachine[] = rows.map((r) => ({ vmId: String(r.vm_id), name: String(r.vm_name) }));
  return { ...page(vms, limit, (vm) => encodeCursor(CURSOR_KIND, [vm.name, vm.vmId]), after), totalCount: Number(countRows[0]?.total ?? 0) };
}
