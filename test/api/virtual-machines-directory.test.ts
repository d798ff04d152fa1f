import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gqlData } from '../helpers/graphql.js';
import { DATABASE_KINDS, openMigratedDatabase, startApi, type ApiHarness } from '../helpers/api-server.js';
import { prepareSchema } from '../../src/db/orm.js';
import { VM_DIRECTORY_TRIGGERS } from '../../migrations/Migration007DashboardIndexes.js';

/**
 * The dashboard reads `vm_directory` (Migration007), which triggers on `replication_jobs` keep exact. These tests
 * write as another writer would (plain SQL on the tables, never through the service) and check that the next
 * request shows it: new VMs, newer jobs, renames, deletes, disks; that `totalCount` follows; and that keyset
 * pages over names with ties neither repeat nor skip a VM. The expected list is always derived from
 * `replication_jobs` itself (the latest job per VM by `created_at DESC, id DESC`), the definition the
 * directory stands in for.
 */
const LIST = `query ($first: Int, $after: String, $filter: VirtualMachineFilter) {
  virtualMachines(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { vmId name latestReplicationJob { id } disks { diskId unitNumber } } }
  }
}`;

type Node = { vmId: string; name: string; latestReplicationJob: { id: string } | null; disks: { diskId: string; unitNumber: number | null }[] };
type Page = { virtualMachines: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { cursor: string; node: Node }[] } };

describe.each(DATABASE_KINDS)('vm_directory on %s', (kind) => {
  let api: ApiHarness;
  let serial = 0;
  const sql = (statement: string, params: unknown[] = []) => api.orm.em.getConnection().execute(statement, params) as Promise<Record<string, unknown>[]>;

  /** Inserts a replication job as the appliance would: plain SQL, an explicit created_at (or NULL). */
  async function job(vmId: string, name: string, createdAt: string | null, id = `rj-${++serial}`): Promise<string> {
    await sql(
      `INSERT INTO replication_jobs (id, source_vm_id, source_vm_name, source_vm_path, vcenter_host, datacenter, status, created_at)
       VALUES (?, ?, ?, ?, 'vc', 'dc', 'completed', ?)`,
      [id, vmId, name, `/dc/vm/${name}`, createdAt],
    );
    return id;
  }

  /** Every VM, latest job first, straight from replication_jobs: what the directory must show. */
  async function expected(search?: string): Promise<{ vmId: string; name: string; jobId: string }[]> {
    const rows = await sql(`SELECT source_vm_id, source_vm_name, id FROM (
        SELECT source_vm_id, source_vm_name, id, ROW_NUMBER() OVER (PARTITION BY source_vm_id ORDER BY created_at DESC, id DESC) AS rn
        FROM replication_jobs) l WHERE rn = 1 ORDER BY source_vm_name, source_vm_id`);
    return rows
      .map((r) => ({ vmId: String(r.source_vm_id), name: String(r.source_vm_name), jobId: String(r.id) }))
      .filter((vm) => !search || vm.name.toLowerCase().includes(search) || vm.vmId.toLowerCase().includes(search));
  }

  /** Pages through the whole list `first` at a time; returns the nodes and every page's totalCount. */
  async function pageThrough(first: number, filter?: Record<string, unknown>): Promise<{ nodes: Node[]; totals: number[] }> {
    const nodes: Node[] = [];
    const totals: number[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const data: Page = await gqlData<Page>(api.url, LIST, { first, after, filter });
      nodes.push(...data.virtualMachines.edges.map((e) => e.node));
      totals.push(data.virtualMachines.totalCount);
      if (!data.virtualMachines.pageInfo.hasNextPage) break;
      after = data.virtualMachines.pageInfo.endCursor;
    }
    return { nodes, totals };
  }

  async function expectListMatches(first = 3): Promise<void> {
    const want = await expected();
    const { nodes, totals } = await pageThrough(first);
    expect(nodes.map((n) => [n.vmId, n.name, n.latestReplicationJob?.id])).toEqual(want.map((vm) => [vm.vmId, vm.name, vm.jobId]));
    expect(new Set(totals)).toEqual(new Set([want.length]));
  }

  beforeAll(async () => {
    api = await startApi('vmdir', { kind, maxPageSize: 100 });
  });
  afterAll(() => api?.close());
  beforeEach(async () => {
    // DELETE (not TRUNCATE): the triggers see it, so the directory empties with the table.
    await sql('DELETE FROM vm_disks');
    await sql('DELETE FROM replication_jobs');
    const [count] = await sql('SELECT vm_count AS n FROM vm_directory_totals WHERE id = 1');
    expect(Number(count!.n)).toBe(0);
  });

  it('shows a VM another writer adds on the next request, and counts it', async () => {
    await job('vm-a', 'alpha', '2026-11-01 10:00:00');
    await expectListMatches();
    await job('vm-b', 'bravo', '2026-11-01 10:00:00');
    await job('vm-c', 'charlie', null);
    await expectListMatches();
    const data = await gqlData<Page>(api.url, LIST, { first: 10 });
    expect(data.virtualMachines.totalCount).toBe(3);
  });

  it('names a VM by its latest job: a newer job renames it, an older one, a NULL created_at or a lower id on a tie does not', async () => {
    await job('vm-a', 'alpha', '2026-11-01 10:00:00', 'rj-a-2');
    await job('vm-a', 'older-name', '2026-10-01 10:00:00');
    await job('vm-a', 'null-created', null);
    await job('vm-a', 'tie-lower-id', '2026-11-01 10:00:00', 'rj-a-1');
    await expectListMatches();
    expect((await pageThrough(10)).nodes.map((n) => n.name)).toEqual(['alpha']);
    await job('vm-a', 'tie-higher-id', '2026-11-01 10:00:00', 'rj-a-3');
    expect((await pageThrough(10)).nodes.map((n) => n.name)).toEqual(['tie-higher-id']);
    await job('vm-a', 'zulu', '2026-12-01 10:00:00');
    await expectListMatches();
    expect((await pageThrough(10)).nodes.map((n) => n.name)).toEqual(['zulu']);
  });

  it('follows deletes, renames and moves by another writer; other updates change nothing', async () => {
    const old = await job('vm-a', 'alpha-old', '2026-10-01 10:00:00');
    const latest = await job('vm-a', 'alpha', '2026-11-01 10:00:00');
    await job('vm-b', 'bravo', '2026-11-01 10:00:00');
    await sql('UPDATE replication_jobs SET status = ? WHERE id = ?', ['failed', latest]);
    await expectListMatches();
    // Deleting the latest job names the VM by the one before it.
    await sql('DELETE FROM replication_jobs WHERE id = ?', [latest]);
    await expectListMatches();
    expect((await pageThrough(10)).nodes.map((n) => n.name)).toEqual(['alpha-old', 'bravo']);
    // A rename of the latest job.
    await sql('UPDATE replication_jobs SET source_vm_name = ? WHERE id = ?', ['aardvark', old]);
    await expectListMatches();
    // A job moved to another VM: vm-a has no job left and goes; vm-b is named by the moved job if it is later.
    await sql('UPDATE replication_jobs SET source_vm_id = ?, created_at = ? WHERE id = ?', ['vm-b', '2026-12-01 00:00:00', old]);
    await expectListMatches();
    expect((await pageThrough(10)).nodes.map((n) => [n.vmId, n.name])).toEqual([['vm-b', 'aardvark']]);
    // The last job of a VM deleted: the VM goes, the count follows.
    await sql('DELETE FROM replication_jobs WHERE source_vm_id = ?', ['vm-b']);
    await expectListMatches();
    expect((await gqlData<Page>(api.url, LIST, { first: 10 })).virtualMachines.totalCount).toBe(0);
  });

  it('shows disks another writer adds to the latest job on the next request', async () => {
    const latest = await job('vm-a', 'alpha', '2026-11-01 10:00:00');
    const disk = (jobId: string, unit: number) =>
      sql(`INSERT INTO vm_disks (job_id, disk_id, vm_dk_path, size_gb, unit_number) VALUES (?, ?, '[ds] a.vmdk', 10, ?)`, [jobId, `disk-${unit}`, unit]);
    expect((await pageThrough(10)).nodes[0]!.disks).toEqual([]);
    await disk(latest, 0);
    expect((await pageThrough(10)).nodes[0]!.disks).toEqual([{ diskId: 'disk-0', unitNumber: 0 }]);
    await disk(latest, 1);
    expect((await pageThrough(10)).nodes[0]!.disks.map((d) => d.unitNumber)).toEqual([0, 1]);
    // A newer job replaces the disks shown (its own, none yet).
    const newer = await job('vm-a', 'alpha', '2026-11-02 10:00:00');
    expect((await pageThrough(10)).nodes[0]!.disks).toEqual([]);
    await disk(newer, 0);
    expect((await pageThrough(10)).nodes[0]!.disks).toEqual([{ diskId: 'disk-0', unitNumber: 0 }]);
  });

  it('pages by (name, id) with ties on the name: every VM exactly once, in order, at every page size', async () => {
    // 17 VMs over 5 names, ids deliberately out of name order; each with two jobs (the older differently named).
    const names = [
      'echo',
      'alpha',
      'alpha',
      'delta',
      'alpha',
      'bravo',
      'echo',
      'bravo',
      'alpha',
      'charlie',
      'delta',
      'alpha',
      'echo',
      'bravo',
      'alpha',
      'delta',
      'echo',
    ];
    for (const [i, name] of names.entries()) {
      const vmId = `vm-${String((i * 7) % 17).padStart(2, '0')}`;
      await job(vmId, `zz-old-${i}`, '2026-10-01 00:00:00');
      await job(vmId, name, '2026-11-01 00:00:00');
    }
    for (const first of [1, 2, 3, 5, 16, 17, 18]) await expectListMatches(first);
    const { nodes } = await pageThrough(4);
    expect(new Set(nodes.map((n) => n.vmId)).size).toBe(17);
  });

  it('a VM another writer adds between two pages shows on the later page when it sorts after the cursor, and nothing repeats', async () => {
    for (let i = 0; i < 6; i++) await job(`vm-${i}`, `name-${i}`, '2026-11-01 00:00:00');
    const first = await gqlData<Page>(api.url, LIST, { first: 3 });
    expect(first.virtualMachines.edges.map((e) => e.node.name)).toEqual(['name-0', 'name-1', 'name-2']);
    await job('vm-early', 'name-0a', '2026-11-01 00:00:00'); // before the cursor: not on the next page
    await job('vm-late', 'name-2a', '2026-11-01 00:00:00'); // after it: on the next page
    const second = await gqlData<Page>(api.url, LIST, { first: 10, after: first.virtualMachines.pageInfo.endCursor });
    expect(second.virtualMachines.edges.map((e) => e.node.name)).toEqual(['name-2a', 'name-3', 'name-4', 'name-5']);
    expect(second.virtualMachines.totalCount).toBe(8);
  });

  it('searches names and ids, counts the matches, and pages through them', async () => {
    for (let i = 0; i < 12; i++) await job(`vm-${i}`, i % 3 === 0 ? `Needle-${i}` : `hay-${i}`, '2026-11-01 00:00:00');
    await job('vm-needle-id', 'plain', '2026-11-01 00:00:00');
    const want = await expected('needle');
    expect(want).toHaveLength(5);
    const { nodes, totals } = await pageThrough(2, { search: 'NEEDLE' });
    expect(nodes.map((n) => n.vmId)).toEqual(want.map((vm) => vm.vmId));
    expect(new Set(totals)).toEqual(new Set([5]));
    // Another writer renames a match away and adds one: the next search shows both.
    await job('vm-0', 'hay-now', '2026-12-01 00:00:00');
    await job('vm-new', 'needle-new', '2026-11-01 00:00:00');
    const after = await pageThrough(10, { search: 'needle' });
    expect(after.nodes.map((n) => n.vmId)).toEqual((await expected('needle')).map((vm) => vm.vmId));
    expect(after.totals).toEqual([5]);
    // Terms shorter than a trigram (every name is read), ids, and a term whose trigrams are all there but not in a row.
    for (const term of ['ne', 'N', 'vm-1', 'VM-NEEDLE', 'needlehay', 'dle-', '-1']) {
      const found = await pageThrough(4, { search: term });
      expect(found.nodes.map((n) => n.vmId)).toEqual((await expected(term.toLowerCase())).map((vm) => vm.vmId));
      expect(found.totals.every((t) => t === found.nodes.length)).toBe(true);
    }
    // A VM whose every job is deleted leaves the search too.
    await sql("DELETE FROM replication_jobs WHERE source_vm_id = 'vm-new'");
    expect((await pageThrough(10, { search: 'needle-new' })).nodes).toEqual([]);
  });

  it('the counter stays exact through a burst of concurrent writers', async () => {
    const writers = Array.from({ length: 8 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 10; i++) await job(`vm-${i % 5}-${w % 4}`, `n-${w}-${i}`, `2026-11-01 00:00:${String(i).padStart(2, '0')}`);
      })(),
    );
    await Promise.all(writers);
    await expectListMatches(7);
    expect((await gqlData<Page>(api.url, LIST, { first: 1 })).virtualMachines.totalCount).toBe(20);
    await sql("DELETE FROM replication_jobs WHERE source_vm_id LIKE 'vm-1-%'");
    await expectListMatches(7);
    expect((await gqlData<Page>(api.url, LIST, { first: 1 })).virtualMachines.totalCount).toBe(16);
  });
});

describe('vm_directory on sqlite: the embedded database installs its triggers once, and repairs them', () => {
  it('a second prepareSchema changes nothing; one over a database without the triggers reinstalls them and backfills', async () => {
    const db = await openMigratedDatabase('vmdir_restart', { kind: 'sqlite' });
    try {
      const connection = db.orm.em.getConnection();
      const run = (statement: string) => connection.execute(statement) as Promise<Record<string, unknown>[]>;
      const insert = (id: string, vm: string, name: string) =>
        run(
          `INSERT INTO replication_jobs (id, source_vm_id, source_vm_name, source_vm_path, vcenter_host, datacenter, created_at) VALUES ('${id}', '${vm}', '${name}', '/p', 'vc', 'dc', '2026-11-01 00:00:00')`,
        );
      await insert('j1', 'vm-1', 'needle-one');
      const triggers = async () => (await run("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")).map((r) => r.name);
      // A restart. (The entity diff on SQLite rebuilds the seed tables each time, which drops their triggers:
      // prepareSchema puts them back in the same call.)
      await prepareSchema(db.orm, db.config);
      expect(await triggers()).toEqual(VM_DIRECTORY_TRIGGERS);
      expect(await run('SELECT vm_id, vm_name FROM vm_directory')).toEqual([{ vm_id: 'vm-1', vm_name: 'needle-one' }]);
      // A database from before the directory (or with its triggers lost): rows the directory never saw.
      for (const trigger of VM_DIRECTORY_TRIGGERS) await run(`DROP TRIGGER ${trigger}`);
      await insert('j2', 'vm-2', 'needle-two');
      await run('UPDATE vm_directory_totals SET vm_count = 0');
      expect(await prepareSchema(db.orm, db.config)).toContain('sqlite vm_directory triggers installed');
      expect(await triggers()).toEqual(VM_DIRECTORY_TRIGGERS);
      expect(await run('SELECT vm_id FROM vm_directory ORDER BY vm_id')).toEqual([{ vm_id: 'vm-1' }, { vm_id: 'vm-2' }]);
      expect(await run('SELECT vm_count FROM vm_directory_totals')).toEqual([{ vm_count: 2 }]);
      await insert('j3', 'vm-3', 'three');
      expect(await run('SELECT vm_count FROM vm_directory_totals')).toEqual([{ vm_count: 3 }]);
    } finally {
      await db.close();
    }
  });
});
