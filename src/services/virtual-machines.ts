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
 * job), ordered by name then id. Two statements, whatever the page size.
 */
export async function listVirtualMachines(
  em: EntityManager,
  { filter, first, after, maxPageSize }: { filter?: VirtualMachineFilter | null; first: number; after?: string | null; maxPageSize: number },
) {
  const limit = checkFirst(first, maxPageSize);
  const conditions: string[] = ['rn = 1'];
  const params: unknown[] = [];
  if (filter?.search != null) {
    const search = requireText('filter.search', filter.search, { max: Number.POSITIVE_INFINITY }).trim().toLowerCase();
    conditions.push(`(LOWER(source_vm_name) LIKE ? ESCAPE '!' OR LOWER(source_vm_id) LIKE ? ESCAPE '!')`);
    params.push(`%${escapeLike(search)}%`, `%${escapeLike(search)}%`);
  }
  if (filter?.vmIds != null) {
    requireList('filter.vmIds', filter.vmIds, maxPageSize, { noun: 'VM', nouns: 'VMs' });
    conditions.push(`source_vm_id IN (${placeholders(filter.vmIds.length)})`);
    params.push(...filter.vmIds);
  }
  const latest = `SELECT source_vm_id, source_vm_name,
      ROW_NUMBER() OVER (PARTITION BY source_vm_id ORDER BY created_at DESC, id DESC) AS rn
    FROM replication_jobs`;
  const filtered = `FROM (${latest}) vms WHERE ${conditions.join(' AND ')}`;
  const pageConditions: string[] = [];
  const pageParams = [...params];
  if (after) {
    const [name, vmId] = decodeCursor<[string, string]>(after, CURSOR_KIND, isNameIdTuple);
    pageConditions.push('AND (source_vm_name > ? OR (source_vm_name = ? AND source_vm_id > ?))');
    pageParams.push(name, name, vmId);
  }
  const [rows, countRows] = await Promise.all([
    query(
      em,
      `SELECT source_vm_id, source_vm_name ${filtered} ${pageConditions.join(' ')}
       ORDER BY source_vm_name, source_vm_id LIMIT ?`,
      [...pageParams, limit + 1],
    ),
    query(em, `SELECT COUNT(*) AS total ${filtered}`, params),
  ]);
  const vms: VirtualMachine[] = rows.map((r) => ({ vmId: String(r.source_vm_id), name: String(r.source_vm_name) }));
  return { ...page(vms, limit, (vm) => encodeCursor(CURSOR_KIND, [vm.name, vm.vmId]), after), totalCount: Number(countRows[0]?.total ?? 0) };
}
