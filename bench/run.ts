/**
 * `npm run bench`: the dashboard page against a raw-SQL baseline measured in the same run.
 *
 * Baseline: the same rows the page needs, read with hand-written SQL on one connection (no
 * GraphQL, no ORM hydration, no HTTP). Measured: `virtualMachines(first: N)` with readiness,
 * mappings, jobs and disks, over real HTTP. The ratio is what the API layer costs on top of the
 * database work it cannot avoid. Results go to stdout as a Markdown table (copy into README.md).
 */
import { testServices } from '../test/helpers/services.js';
import 'reflect-metadata';
import { ITERATIONS, QUICK, stats, time } from './measure.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server/http-server.js';
import { buildAppSchema } from '../src/server/schema.js';
import { insertVm, insertFailoverJob } from '../test/helpers/fixtures.js';
import { openMigratedDatabase } from '../test/helpers/api-server.js';
import { FailoverStatus } from '../src/entities/index.js';

const VMS = Number(process.env.BENCH_VMS ?? (QUICK ? 50 : 500));
const PAGE_SIZES = [10, 100];

const PAGE = `query ($first: Int) { virtualMachines(first: $first) { totalCount edges { node {
  vmId name spec { cpuCount memoryMb networks { name } } disks { unitNumber volumeId }
  networkMappings { sourceNetworkName isTestNetwork destinationNetworkId }
  activeJob { jobId status } latestJob { jobId status }
  test: readiness(type: TEST) { ready checks { name passed message } } live: readiness(type: LIVE) { ready }
} } } }`;

const db = await openMigratedDatabase('bench');
const { orm } = db;
try {
  for (let i = 0; i < VMS; i++) {
    const vm = await insertVm(orm.em, { name: `bench-${String(i).padStart(4, '0')}`, disks: 1 + (i % 3), networks: i % 2 ? ['A', 'B'] : ['A'] });
    if (i % 4 === 0) await insertFailoverJob(orm.em, { vmId: vm.vmId, status: FailoverStatus.CLEANED_UP });
    if (i % 9 === 0) await insertFailoverJob(orm.em, { vmId: vm.vmId, status: FailoverStatus.SNAPSHOTTING });
  }
  const logger = createLogger({ level: 'silent' });
  const services = await testServices(orm, logger);
  const server = await startServer({ schema: await buildAppSchema(), em: orm.em, logger, port: 0, services: services.runtime.services });
  const conn = orm.em.getConnection();
  const rows: string[] = [];
  for (const first of PAGE_SIZES) {
    const baseline = await time(async () => {
      const page = (await conn.execute(
        `SELECT source_vm_id FROM (SELECT source_vm_id, source_vm_name, ROW_NUMBER() OVER (PARTITION BY source_vm_id ORDER BY created_at DESC, id DESC) rn FROM replication_jobs) v WHERE rn = 1 ORDER BY source_vm_name, source_vm_id LIMIT ?`,
        [first],
      )) as { source_vm_id: string }[];
      const ids = page.map((r) => r.source_vm_id);
      const marks = ids.map(() => '?').join(',');
      const jobs = (await conn.execute(`SELECT id FROM replication_jobs WHERE source_vm_id IN (${marks})`, ids)) as { id: string }[];
      const jobMarks = jobs.map(() => '?').join(',');
      await Promise.all([
        conn.execute(
          `SELECT vd.*, ov.* FROM vm_disks vd LEFT JOIN ossea_volumes ov ON ov.id = vd.ossea_volume_id WHERE vd.job_id IN (${jobMarks})`,
          jobs.map((j) => j.id),
        ),
        conn.execute(
          `SELECT * FROM cbt_history WHERE job_id IN (${jobMarks}) AND sync_success = 1`,
          jobs.map((j) => j.id),
        ),
        conn.execute(`SELECT * FROM network_mappings WHERE vm_id IN (${marks})`, ids),
        conn.execute(`SELECT * FROM failover_jobs WHERE vm_id IN (${marks})`, ids),
        conn.execute(`SELECT COUNT(DISTINCT source_vm_id) FROM replication_jobs`),
      ]);
    });
    const api = await time(async () => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: PAGE, variables: { first } }),
      });
      const body = (await response.json()) as { errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
    });
    const b = stats(baseline);
    const a = stats(api);
    rows.push(
      `| virtualMachines(first: ${first}) | ${b.median.toFixed(2)} ms | ${a.median.toFixed(2)} ms | ${(a.median / b.median).toFixed(2)}× | ${a.p95.toFixed(2)} ms |`,
    );
  }
  await server.close();
  await services.close();
  console.log(`${VMS} VMs in MariaDB, ${ITERATIONS} sequential requests each, median of each\n`);
  console.log('| operation | raw SQL baseline | GraphQL over HTTP | ratio | API p95 |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
} finally {
  await db.close();
}
