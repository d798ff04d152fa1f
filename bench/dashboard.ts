/**
 * `npm run bench` (dashboard at fleet scale): `virtualMachines(first: 100)` over 1,000, 30,000 and
 * 100,000 VMs with 3 replication jobs each, at concurrency 1 and 32, against the best raw SQL for
 * the same page measured in the same run.
 *
 * Four pages: the first, the second (after the first's end cursor), a deep page (after the VM in
 * the middle of the list) and a search matching 10 VMs. Each is measured over real HTTP with the
 * dashboard's selection (spec, disks, mappings, jobs, both readiness evaluations), and as raw SQL:
 * the same rows read with hand-written, index-driven statements on the same connection pool.
 *
 * The fleet grows in place (1,000 → 30,000 → 100,000) with bulk `INSERT … SELECT`, so generating
 * it stays fast. Each measurement is bounded in requests and in time, so the whole run is bounded.
 * `--quick`: 100 and 1,000 VMs, short budgets (CI proves the benchmark still runs; no assertion).
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import { testServices } from '../test/helpers/services.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server/http-server.js';
import { buildAppSchema } from '../src/server/schema.js';
import { openMigratedDatabase } from '../test/helpers/api-server.js';
import { QUICK } from './measure.js';

const SIZES = process.env.BENCH_DASHBOARD_SIZES ? process.env.BENCH_DASHBOARD_SIZES.split(',').map(Number) : QUICK ? [100, 1_000] : [1_000, 30_000, 100_000];
const FIRST = 100;
/** Every measurement stops at this many requests or after this budget, whichever comes first. */
const MAX_REQUESTS = QUICK ? 20 : 200;
const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? (QUICK ? 400 : 4_000));
const CONCURRENCIES = process.env.BENCH_CONCURRENCIES ? process.env.BENCH_CONCURRENCIES.split(',').map(Number) : [1, 32];
const NEEDLE = 'needle';
const NEEDLES = 10;

const PAGE = `query ($first: Int, $after: String, $filter: VirtualMachineFilter) {
  virtualMachines(first: $first, after: $after, filter: $filter) { totalCount pageInfo { endCursor } edges { node {
  vmId name spec { cpuCount memoryMb networks { name } } disks { unitNumber volumeId }
  networkMappings { sourceNetworkName isTestNetwork destinationNetworkId }
  activeJob { jobId status } latestJob { jobId status }
  test: readiness(type: TEST) { ready checks { name passed message } } live: readiness(type: LIVE) { ready }
} } } }`;

const pad = (i: number) => String(i).padStart(6, '0');
const vmIdOf = (i: number) => `vm-${i}`;
const nameOf = (i: number, size: number) => `bench-${pad(i)}${isNeedle(i, size) ? `-${NEEDLE}` : ''}`;
/** The 10 VMs a search for `needle` finds: spread over the first fleet, never added later. */
const isNeedle = (i: number, firstSize: number) => i < firstSize && i % (firstSize / NEEDLES) === 7;

const db = await openMigratedDatabase('bench_dashboard');
const { orm } = db;
const conn = orm.em.getConnection();
const exec = (sql: string, params: unknown[] = []) => conn.execute(sql, params) as Promise<Record<string, unknown>[]>;

/** Adds VMs [from, to): 3 replication jobs each (a day apart), the latest with 2 disks on volumes, older with 1. */
async function grow(from: number, to: number, firstSize: number): Promise<number> {
  const start = performance.now();
  const range = `SELECT a.n * 1000 + b.n AS i FROM bench_digits a CROSS JOIN bench_digits b WHERE a.n * 1000 + b.n >= ${from} AND a.n * 1000 + b.n < ${to}`;
  const needle = `(i < ${firstSize} AND MOD(i, ${firstSize / NEEDLES}) = 7)`;
  const name = `CONCAT('bench-', LPAD(i, 6, '0'), IF(${needle}, '-${NEEDLE}', ''))`;
  await exec(`INSERT INTO replication_jobs (id, source_vm_id, source_vm_name, source_vm_path, vcenter_host, datacenter, status, created_at)
    SELECT CONCAT('rj-', i, '-', k.k), CONCAT('vm-', i), ${name}, CONCAT('/dc/vm/', i), 'vc', 'dc', 'completed',
      TIMESTAMP('2026-11-01 00:00:00') + INTERVAL k.k DAY
    FROM (${range}) n CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) k`);
  await exec(`INSERT INTO ossea_volumes (volume_id, volume_name, size_gb, volume_type, status)
    SELECT CONCAT('vol-', i, '-', u.u), CONCAT('bench-', i, '-disk-', u.u), 10 + u.u, 'DATADISK', 'attached'
    FROM (${range}) n CROSS JOIN (SELECT 0 AS u UNION ALL SELECT 1) u`);
  const spec = `cpu_count, memory_mb, os_type, display_name, power_state, network_config`;
  const specValues = (i: string) =>
    `IF(u.u = 0, 2, 0), IF(u.u = 0, 4096, 0), 'ubuntu64Guest', ${i}, 'poweredOn',
     IF(u.u = 0, '{"adapters":[{"network":"VM Network","type":"vmxnet3"}]}', NULL)`;
  // The latest job's two disks, each on its volume.
  await exec(`INSERT INTO vm_disks (job_id, disk_id, vm_dk_path, size_gb, unit_number, label, ossea_volume_id, ${spec})
    SELECT CONCAT('rj-', i, '-2'), CONCAT('disk-', 2000 + u.u), CONCAT('[ds] ', i, '_', u.u, '.vmdk'), 10 + u.u, u.u,
      CONCAT('Hard disk ', u.u + 1), ov.id, ${specValues("CONCAT('bench-', i)")}
    FROM (${range}) n CROSS JOIN (SELECT 0 AS u UNION ALL SELECT 1) u
    JOIN ossea_volumes ov ON ov.volume_id = CONCAT('vol-', i, '-', u.u)`);
  // The two older jobs' one disk each (history: no volume).
  await exec(`INSERT INTO vm_disks (job_id, disk_id, vm_dk_path, size_gb, unit_number, label, ${spec})
    SELECT CONCAT('rj-', i, '-', k.k), 'disk-2000', CONCAT('[ds] ', i, '_0.vmdk'), 10, 0, 'Hard disk 1',
      ${specValues("CONCAT('bench-', i)").replace(/u\.u/g, '0')}
    FROM (${range}) n CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1) k`);
  await exec(`INSERT INTO cbt_history (job_id, change_id, sync_success)
    SELECT CONCAT('rj-', i, '-', k.k), CONCAT('52 aa bb/', i, '/', k.k), 1
    FROM (${range}) n CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) k`);
  await exec(`INSERT INTO network_mappings (vm_id, source_network_name, destination_network_id, destination_network_name, is_test_network)
    SELECT CONCAT('vm-', i), 'VM Network', IF(t.t = 1, 'test-net', 'prod-net'), IF(t.t = 1, 'Test', 'Prod'), t.t
    FROM (${range}) n CROSS JOIN (SELECT 0 AS t UNION ALL SELECT 1) t`);
  // Every fourth VM has a cleaned-up test failover behind it.
  await exec(`INSERT INTO failover_jobs (job_id, vm_id, job_type, status, source_vm_name)
    SELECT CONCAT('test-failover-vm-', i, '-1'), CONCAT('vm-', i), 'test', 'cleaned_up', ${name}
    FROM (${range}) n WHERE MOD(i, 4) = 0`);
  return performance.now() - start;
}

interface Load {
  samples: number[];
  wallMs: number;
}

/** Runs `fn` from `concurrency` workers until {@link MAX_REQUESTS} requests or {@link BUDGET_MS} have gone. */
async function load(fn: () => Promise<unknown>, concurrency: number): Promise<Load> {
  for (let i = 0; i < 2; i++) await fn();
  const samples: number[] = [];
  let started = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (started < MAX_REQUESTS && (started < concurrency || performance.now() - t0 < BUDGET_MS)) {
      started++;
      const s = performance.now();
      await fn();
      samples.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { samples, wallMs: performance.now() - t0 };
}

const quantile = (samples: number[], q: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const summary = (l: Load) => ({
  rps: (l.samples.length / l.wallMs) * 1000,
  p50: quantile(l.samples, 0.5),
  p99: quantile(l.samples, 0.99),
  n: l.samples.length,
});

const logger = createLogger({ level: 'silent' });
const services = await testServices(orm, logger);
const server = await startServer({ schema: await buildAppSchema(), em: orm.em, logger, port: 0, services: services.runtime.services });

async function gql<T>(variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: PAGE, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (body.errors || !body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
type Page = { virtualMachines: { totalCount: number; pageInfo: { endCursor: string }; edges: { node: { vmId: string } }[] } };

/**
 * The best raw SQL for a page: the page's VMs by an index-ordered, keyset read of `vm_directory`
 * (the service's own index of VMs, see Migration007), the count from its counter row (or, for a
 * search, one scan of the directory's name index), then the facts by primary and foreign-key
 * indexes. When the directory does not exist (before Migration007) the page read is the
 * `ROW_NUMBER()` derivation, which is then the best that SQL can do on the seed's indexes.
 */
async function rawPage({ after, search }: { after?: { name: string; vmId: string }; search?: string }): Promise<number> {
  const hasDirectory = await directoryExists;
  const where: string[] = [];
  const params: unknown[] = [];
  if (search) {
    where.push(`vm_name LIKE ?`);
    params.push(`%${search}%`);
  }
  const countParams = [...params];
  if (after) {
    where.push('vm_name >= ? AND (vm_name > ? OR vm_id > ?)');
    params.push(after.name, after.name, after.vmId);
  }
  const source = hasDirectory
    ? 'vm_directory'
    : `(SELECT source_vm_id AS vm_id, source_vm_name AS vm_name, id AS latest_job_id FROM (SELECT source_vm_id, source_vm_name, id,
         ROW_NUMBER() OVER (PARTITION BY source_vm_id ORDER BY created_at DESC, id DESC) rn FROM replication_jobs) l WHERE rn = 1) d`;
  const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const countSql =
    search || !hasDirectory ? `SELECT COUNT(*) AS n FROM ${source} ${search ? 'WHERE vm_name LIKE ?' : ''}` : 'SELECT vm_count AS n FROM vm_directory_totals';
  const [rows] = await Promise.all([
    exec(`SELECT vm_id, vm_name, latest_job_id FROM ${source} ${whereSql} ORDER BY vm_name, vm_id LIMIT ${FIRST + 1}`, params),
    exec(countSql, countParams),
  ]);
  const ids = rows.map((r) => String(r.vm_id));
  if (ids.length === 0) return 0;
  const marks = ids.map(() => '?').join(',');
  const jobIds = rows.map((r) => String(r.latest_job_id));
  const jobMarks = jobIds.map(() => '?').join(',');
  await Promise.all([
    exec(`SELECT id, status, created_at FROM replication_jobs WHERE source_vm_id IN (${marks})`, ids),
    exec(`SELECT vd.*, ov.* FROM vm_disks vd LEFT JOIN ossea_volumes ov ON ov.id = vd.ossea_volume_id WHERE vd.job_id IN (${jobMarks})`, jobIds),
    exec(`SELECT * FROM cbt_history WHERE job_id IN (${jobMarks}) AND sync_success = 1`, jobIds),
    exec(`SELECT * FROM network_mappings WHERE vm_id IN (${marks})`, ids),
    exec(`SELECT * FROM failover_jobs WHERE vm_id IN (${marks})`, ids),
  ]);
  return rows.length;
}
const directoryExists = exec(`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'vm_directory'`).then(
  (r) => Number(r[0]?.n) > 0,
);

interface Row {
  size: number;
  kind: string;
  concurrency: number;
  api: ReturnType<typeof summary>;
  raw: ReturnType<typeof summary>;
}
const results: Row[] = [];
const seedMs: Record<number, number> = {};

try {
  await exec('CREATE TABLE bench_digits (n INT PRIMARY KEY)');
  await exec(`INSERT INTO bench_digits (n) VALUES ${Array.from({ length: 1000 }, (_, i) => `(${i})`).join(',')}`);
  let have = 0;
  for (const size of SIZES) {
    seedMs[size] = await grow(have, size, SIZES[0]!);
    have = size;
    const mid = Math.floor(size / 2);
    const first = await gql<Page>({ first: FIRST });
    if (first.virtualMachines.totalCount !== size) throw new Error(`totalCount ${first.virtualMachines.totalCount}, expected ${size}`);
    // The deep cursor: the cursor of the middle VM, as a page filtered to that VM issues it.
    const midVm = vmIdOf(mid);
    const midPage = await gql<Page>({ first: 1, filter: { vmIds: [midVm] } });
    const deepCursor = midPage.virtualMachines.pageInfo.endCursor;
    const searchPage = await gql<Page>({ first: FIRST, filter: { search: NEEDLE } });
    if (searchPage.virtualMachines.totalCount !== NEEDLES) throw new Error(`search found ${searchPage.virtualMachines.totalCount}`);
    const firstEnd = first.virtualMachines.edges.at(-1)!.node.vmId;
    const firstEndIndex = Number(firstEnd.slice(3));
    const kinds: [string, Record<string, unknown>, Parameters<typeof rawPage>[0]][] = [
      ['first page', { first: FIRST }, {}],
      ['second page', { first: FIRST, after: first.virtualMachines.pageInfo.endCursor }, { after: { name: nameOf(firstEndIndex, SIZES[0]!), vmId: firstEnd } }],
      ['deep page (middle)', { first: FIRST, after: deepCursor }, { after: { name: nameOf(mid, SIZES[0]!), vmId: midVm } }],
      [`search (${NEEDLES} VMs)`, { first: FIRST, filter: { search: NEEDLE } }, { search: NEEDLE }],
    ];
    for (const [kind, variables, raw] of kinds) {
      for (const concurrency of CONCURRENCIES) {
        const r = summary(await load(() => rawPage(raw), concurrency));
        const a = summary(await load(() => gql<Page>(variables), concurrency));
        results.push({ size, kind, concurrency, api: a, raw: r });
        console.error(
          `${size} ${kind} c${concurrency}: api p50 ${a.p50.toFixed(1)} p99 ${a.p99.toFixed(1)} ${a.rps.toFixed(1)}/s (n ${a.n}); raw p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)}`,
        );
      }
    }
  }
  await server.close();
  await services.close();

  const base = (kind: string, concurrency: number) => results.find((r) => r.size === SIZES[0] && r.kind === kind && r.concurrency === concurrency)!;
  console.log(
    `\n### Dashboard at fleet scale — ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, MariaDB, Node ${process.version}`,
  );
  console.log(
    `virtualMachines(first: ${FIRST}), 3 replication jobs per VM; fleet generated in ${SIZES.map((s) => `${s}: ${(seedMs[s]! / 1000).toFixed(1)} s`).join(', ')}`,
  );
  console.log(`each cell: at most ${MAX_REQUESTS} requests or ${BUDGET_MS} ms; ratios are of p50s\n`);
  console.log(`| VMs | page | conc. | API req/s | API p50 | API p99 | raw SQL p50 | × raw SQL | × ${SIZES[0]} VMs |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const b = base(r.kind, r.concurrency);
    console.log(
      `| ${r.size.toLocaleString('en')} | ${r.kind} | ${r.concurrency} | ${r.api.rps.toFixed(1)} | ${r.api.p50.toFixed(1)} ms | ${r.api.p99.toFixed(1)} ms | ${r.raw.p50.toFixed(1)} ms | ${(r.api.p50 / r.raw.p50).toFixed(2)}× | ${(r.api.p50 / b.api.p50).toFixed(2)}× |`,
    );
  }
} finally {
  await db.close();
}
