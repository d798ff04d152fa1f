/**
 * `npm run bench` (issue 11 goal 3): the failover engine at load.
 *
 * 1. N test failovers and their cleanups (default 200) through the CloudStack simulator over HTTP
 *    with zero-latency async jobs, on MariaDB, the service running 16 jobs at once
 *    (ENGINE_CONCURRENCY=16). Measured in the service process: SQL statements per step (every
 *    statement its ORM runs, `begin`/`commit` included, by kind and table), CPU ms per step
 *    (`process.cpuUsage()`), the time its transactions spend in the `failover_sequences` UPDATE (the
 *    counter row every event-writing transaction locks until it commits), and the wall time. Every
 *    job is verified COMPLETED, then CLEANED_UP, and the cloud equal to what it was before.
 * 2. M concurrent `startTestFailover` mutations (default 500) on distinct VMs over HTTP: p50 and
 *    p99 from the request until each mutation returns.
 *
 * The service is a child process (this file with `--service`) started through `startService` from
 * the environment, as `main` starts it, so its CPU and statements are its own: the simulator, the
 * HTTP clients and the bench's checks run in this process, on their own database connections.
 * Part 1 runs twice: once with the statement listener on (statements, sequence-row time), once
 * without it (CPU and duration, nothing added to the service's work).
 *
 * `--quick`: 10 failovers, 20 concurrent starts (CI proves the bench still runs; no assertion on time).
 * Knobs: `BENCH_FAILOVERS` (200), `BENCH_STARTS` (500), `BENCH_ENGINE_CONCURRENCY` (16),
 * `BENCH_CPU_PROF=<dir>` (the uncounted run's service process writes a `--cpu-prof` there),
 * `BENCH_SERVICE_LOG=1` (the service's log lines on this process's stderr).
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

/** Parent → service. */
type ToService = { kind: 'reset' } | { kind: 'report' } | { kind: 'stop' };
/** Service → parent. */
type FromService = { kind: 'ready'; url: string } | ({ kind: 'report' } & ServiceReport) | { kind: 'stopped' };

/** What the service measured since the last reset. */
interface ServiceReport {
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /** Statements by `kind table` (e.g. `update failover_executions`); empty when not counting. */
  readonly statements: Record<string, number>;
  /** ORM-measured time (ms) by the same keys. */
  readonly statementMsByKey: Record<string, number>;
  /** ORM-measured duration (ms, whole milliseconds as MikroORM logs them) of each `failover_sequences` UPDATE. */
  readonly sequenceUpdateMs: number[];
  /** Total ORM-measured time in statements (ms). */
  readonly statementMs: number;
}

if (process.argv.includes('--service')) await serviceProcess();
else await main();

/** The child: the service, started from the environment as `main` starts it, plus its own meters. */
async function serviceProcess(): Promise<void> {
  const { loadConfig } = await import('../src/config.js');
  const { createLogger } = await import('../src/logger.js');
  const { startService } = await import('../src/service.js');
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const counting = process.env.BENCH_COUNT_STATEMENTS === '1';
  let statements = new Map<string, number>();
  let statementMsByKey = new Map<string, number>();
  let sequenceUpdateMs: number[] = [];
  let statementMs = 0;
  let cpu = process.cpuUsage();
  const onQuery = (message: string) => {
    const sql = message.replace(/^\[query\]\s*/, '');
    const kind = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase() ?? '?';
    const table =
      /^(?:select|delete)\b[\s\S]*?\bfrom\s+`?(\w+)`?/i.exec(sql)?.[1] ??
      /^insert\s+(?:ignore\s+)?into\s+`?(\w+)`?/i.exec(sql)?.[1] ??
      /^update\s+`?(\w+)`?/i.exec(sql)?.[1] ??
      '';
    const key = table ? `${kind} ${table}` : kind;
    statements.set(key, (statements.get(key) ?? 0) + 1);
    const took = Number(/\[took (\d+(?:\.\d+)?) ms/.exec(sql)?.[1] ?? 0);
    statementMs += took;
    statementMsByKey.set(key, (statementMsByKey.get(key) ?? 0) + took);
    if (kind === 'update' && table === 'failover_sequences') sequenceUpdateMs.push(took);
  };
  const service = await startService(config, logger, counting ? { onQuery } : {});
  const send = (m: FromService) => process.send!(m);
  process.on('message', async (m: ToService) => {
    if (m.kind === 'reset') {
      statements = new Map();
      statementMsByKey = new Map();
      sequenceUpdateMs = [];
      statementMs = 0;
      cpu = process.cpuUsage();
    } else if (m.kind === 'report') {
      const used = process.cpuUsage(cpu);
      send({
        kind: 'report',
        cpuUserMs: used.user / 1000,
        cpuSystemMs: used.system / 1000,
        statements: Object.fromEntries(statements),
        statementMsByKey: Object.fromEntries(statementMsByKey),
        sequenceUpdateMs,
        statementMs,
      });
    } else {
      await service.stop();
      send({ kind: 'stopped' });
      process.disconnect();
    }
  });
  send({ kind: 'ready', url: service.url });
}

async function main(): Promise<void> {
  const { QUICK } = await import('./measure.js');
  const { openMigratedDatabase } = await import('../test/helpers/api-server.js');
  const { insertVm } = await import('../test/helpers/fixtures.js');
  const { cloudView, START_TEST, CLEANUP } = await import('../test/helpers/failover.js');
  const { startSimulator } = await import('../src/cloudstack/simulator/simulator.server.js');
  const { DEMO_APPLIANCE_VMS, DEMO_ZONE } = await import('../src/demo/demo-world.js');
  const { FLOWS } = await import('../src/failover/engine/flows.js');
  const { FlowName } = await import('../src/entities/index.js');

  const failovers = Number(process.env.BENCH_FAILOVERS ?? (QUICK ? 10 : 200));
  const starts = Number(process.env.BENCH_STARTS ?? (QUICK ? 20 : 500));
  const concurrency = Number(process.env.BENCH_ENGINE_CONCURRENCY ?? 16);
  const vmCount = Math.max(failovers, starts);
  /** Data volumes per appliance VM (KVM allows 32). */
  const PER_APPLIANCE = 30;
  const stepsPerPair = FLOWS[FlowName.TEST_FAILOVER].steps.length + FLOWS[FlowName.CLEANUP].steps.length;

  const db = await openMigratedDatabase('bench_engine');
  const conn = db.orm.em.getConnection();
  const exec = (sql: string, params: unknown[] = []) => conn.execute(sql, params) as Promise<Record<string, unknown>[]>;
  const sim = await startSimulator({ jobLatencyMs: 0 });
  let child: ChildProcess | undefined;
  try {
    // The fleet: ready VMs (one disk, one network mapped to a test and a production network) in the
    // database, and their volumes attached to appliance VMs in the cloud (30 per VM), the networks there.
    const seedStart = performance.now();
    const vms: { vmId: string; volumeId: string }[] = [];
    for (let i = 0; i < vmCount; i++) {
      const vm = await insertVm(db.orm.em, { vmId: `eb-${i}`, name: `engine-bench-${String(i).padStart(4, '0')}` });
      vms.push({ vmId: vm.vmId, volumeId: vm.volumeIds[0]! });
    }
    const appliances = Array.from({ length: Math.ceil(vmCount / PER_APPLIANCE) }, (_, i) => `bench-appliance-${i}`);
    sim.update((world) => {
      const template = world.vms.find((vm) => vm.id === DEMO_APPLIANCE_VMS[0].id)!;
      const now = new Date().toISOString().replace(/\.\d+Z$/, '+0000');
      appliances.forEach((id, i) => {
        world.vms.push({ ...structuredClone(template), id, name: id, displayname: id, instancename: `i-2-${100 + i}-VM`, nics: [] });
        world.volumes.push({
          id: `${id}-root`,
          name: `ROOT-${id}`,
          type: 'ROOT',
          state: 'Ready',
          zoneid: DEMO_ZONE.id,
          size: 20 * 1024 ** 3,
          created: now,
          virtualmachineid: id,
          deviceid: 0,
          attached: now,
        });
      });
      vms.forEach((vm, i) => {
        const slot = i % PER_APPLIANCE;
        world.volumes.push({
          id: vm.volumeId,
          name: `${vm.vmId}-disk-0`,
          type: 'DATADISK',
          state: 'Ready',
          zoneid: DEMO_ZONE.id,
          size: 10 * 1024 ** 3,
          created: now,
          virtualmachineid: appliances[Math.floor(i / PER_APPLIANCE)]!,
          // CloudStack hands out 1, 2, 4, … (3 is reserved).
          deviceid: slot < 2 ? slot + 1 : slot + 2,
          attached: now,
        });
      });
      for (const [id, isTest] of [
        ['test-VM Network', true],
        ['prod-VM Network', false],
      ] as const) {
        world.networks.push({
          id,
          name: id,
          zoneid: DEMO_ZONE.id,
          type: isTest ? 'L2' : 'Isolated',
          state: 'Implemented',
          traffictype: 'Guest',
          canusefordeploy: true,
          nexthost: 10,
        });
      }
    });
    const seedMs = performance.now() - seedStart;
    const cloudBefore = cloudView(sim.getState());

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: process.env.BENCH_SERVICE_LOG ? 'info' : 'warn',
      DATABASE_URL: db.config.kind === 'mariadb' ? db.config.url : '',
      CLOUDSTACK_URL: sim.url,
      CLOUDSTACK_API_KEY: sim.apiKey,
      CLOUDSTACK_SECRET_KEY: sim.secretKey,
      CLOUDSTACK_ZONE_ID: sim.ids.zoneId,
      CLOUDSTACK_TEMPLATE_ID: sim.ids.templateId,
      CLOUDSTACK_SERVICE_OFFERING_ID: sim.ids.serviceOfferingId,
      CLOUDSTACK_APPLIANCE_VM_ID: [...sim.ids.applianceVmIds, ...appliances].join(','),
      // Zero-latency jobs: the first poll of an async job finds it done; the shortest allowed wait after that.
      CLOUDSTACK_POLL_INTERVAL_MS: '10',
      ENGINE_CONCURRENCY: String(concurrency),
      RATE_LIMIT_MUTATIONS: '1000000',
    };

    /** Starts the service process and waits until it listens. */
    const startService = async (counting: boolean, execArgv: string[] = []) => {
      const proc = fork(fileURLToPath(import.meta.url), ['--service'], {
        env: { ...env, BENCH_COUNT_STATEMENTS: counting ? '1' : '0' },
        execArgv,
        stdio: ['ignore', process.env.BENCH_SERVICE_LOG ? 'inherit' : 'ignore', 'inherit', 'ipc'],
      });
      child = proc;
      const inbox: FromService[] = [];
      let wake: (() => void) | undefined;
      proc.on('message', (m: FromService) => {
        inbox.push(m);
        wake?.();
      });
      const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
      const next = async <K extends FromService['kind']>(kind: K): Promise<Extract<FromService, { kind: K }>> => {
        for (;;) {
          const i = inbox.findIndex((m) => m.kind === kind);
          if (i >= 0) return inbox.splice(i, 1)[0] as Extract<FromService, { kind: K }>;
          const code = await Promise.race([new Promise<'message'>((resolve) => (wake = () => resolve('message'))), exited]);
          if (code !== 'message') throw new Error(`service process exited (${code}) before answering ${kind}`);
        }
      };
      const { url } = await next('ready');
      return {
        url,
        ask: async <K extends 'report' | 'stopped'>(m: ToService, kind: K) => {
          proc.send(m);
          return next(kind);
        },
        send: (m: ToService) => proc.send(m),
        async stop() {
          proc.send({ kind: 'stop' });
          await next('stopped');
          await exited;
          child = undefined;
        },
      };
    };

    const gql = async <T>(url: string, query: string, variables: Record<string, unknown>): Promise<T> => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      const body = (await response.json()) as { data?: T; errors?: unknown };
      if (body.errors || !body.data) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors)}`);
      return body.data;
    };

    /** N test failovers and their cleanups; returns the service's report and the wall time. */
    const failoverRound = async (counting: boolean, execArgv: string[] = []) => {
      const service = await startService(counting, execArgv);
      const round = vms.slice(0, failovers);
      service.send({ kind: 'reset' });
      const t0 = performance.now();
      const jobIds: string[] = [];
      const cleanups: Promise<unknown>[] = [];
      const cleanupAsked = new Set<string>();
      const done = new Set<string>();
      // Starts go out 16 at a time (a script's pace, not a storm: part 2 measures the storm).
      let nextVm = 0;
      const starters = Array.from({ length: 16 }, async () => {
        while (nextVm < round.length) {
          const vm = round[nextVm++]!;
          const data = await gql<{ startTestFailover: { jobId: string } }>(service.url, START_TEST, { input: { vmId: vm.vmId } });
          jobIds.push(data.startTestFailover.jobId);
        }
      });
      const startsDone = Promise.all(starters);
      let startsFinished = false;
      void startsDone.then(() => (startsFinished = true));
      const deadline = Date.now() + (QUICK ? 120_000 : 1_200_000);
      for (;;) {
        if (jobIds.length > 0) {
          const rows = await exec(`SELECT job_id, status, error_message FROM failover_jobs WHERE job_id IN (${jobIds.map(() => '?').join(',')})`, jobIds);
          for (const row of rows) {
            const jobId = String(row.job_id);
            if (row.status === 'failed') throw new Error(`job ${jobId} failed: ${String(row.error_message)}`);
            if (row.status === 'completed' && !cleanupAsked.has(jobId)) {
              cleanupAsked.add(jobId);
              cleanups.push(gql(service.url, CLEANUP, { jobId }));
            }
            if (row.status === 'cleaned_up') done.add(jobId);
          }
        }
        if (startsFinished && done.size === round.length) break;
        if (Date.now() > deadline) throw new Error(`only ${done.size} of ${round.length} jobs cleaned up in time`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await startsDone;
      await Promise.all(cleanups);
      const wallMs = performance.now() - t0;
      const report = await service.ask({ kind: 'report' }, 'report');
      await service.stop();
      await sim.idle();
      // Every job: completed (its cleanup began from COMPLETED) and cleaned up, with the events to prove it.
      const events = await exec(
        `SELECT job_id, COUNT(*) AS n, SUM(status = 'completed' AND previous_status <> 'completed') AS completed, SUM(status = 'cleaned_up') AS cleaned FROM failover_job_events WHERE job_id IN (${jobIds.map(() => '?').join(',')}) GROUP BY job_id`,
        jobIds,
      );
      const unverified = jobIds.filter((id) => {
        const row = events.find((e) => e.job_id === id);
        return !row || Number(row.completed) !== 1 || Number(row.cleaned) !== 1;
      });
      if (unverified.length > 0) throw new Error(`jobs not verified completed and cleaned up: ${unverified.slice(0, 5).join(', ')}`);
      if (!isDeepStrictEqual(cloudView(sim.getState()), cloudBefore)) throw new Error('the cloud after the cleanups is not what it was before');
      const eventCount = events.reduce((n, e) => n + Number(e.n), 0);
      return { report, wallMs, jobs: jobIds.length, eventCount };
    };

    const counted = await failoverRound(true);
    const profDir = process.env.BENCH_CPU_PROF;
    const uncounted = await failoverRound(false, profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);

    // Part 2: M concurrent starts on distinct VMs.
    const service = await startService(false);
    service.send({ kind: 'reset' });
    const latencies: number[] = [];
    const errors: string[] = [];
    const t0 = performance.now();
    await Promise.all(
      vms.slice(0, starts).map(async (vm) => {
        const s = performance.now();
        try {
          await gql(service.url, START_TEST, { input: { vmId: vm.vmId } });
          latencies.push(performance.now() - s);
        } catch (error) {
          if (errors.length < 5) errors.push(String(error).slice(0, 300));
        }
      }),
    );
    const startsWallMs = performance.now() - t0;
    const stormReport = await service.ask({ kind: 'report' }, 'report');
    await service.stop();
    if (errors.length > 0) throw new Error(`starts refused: ${errors.join(' | ')}`);

    // The report.
    const steps = counted.jobs * stepsPerPair;
    const statements = Object.entries(counted.report.statements).sort((a, b) => b[1] - a[1]);
    const totalStatements = statements.reduce((n, [, c]) => n + c, 0);
    const cpuMs = (r: ServiceReport) => r.cpuUserMs + r.cpuSystemMs;
    const seq = counted.report.sequenceUpdateMs;
    const seqTotal = seq.reduce((a, b) => a + b, 0);
    const q = (samples: number[], p: number) => {
      const sorted = [...samples].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
    };
    console.log(`\n### Engine at load — ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, MariaDB, Node ${process.version}`);
    console.log(
      `${failovers} test failovers + cleanups (${stepsPerPair} steps each: ${steps} steps), ENGINE_CONCURRENCY=${concurrency}, simulator over HTTP with zero-latency jobs; fleet of ${vmCount} VMs on ${appliances.length} appliance VMs seeded in ${(seedMs / 1000).toFixed(1)} s\n`,
    );
    console.log('| run | wall time | jobs/s (pairs) | statements / step | service CPU / step | events |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, r] of [
      ['statements counted', counted],
      ['not counted', uncounted],
    ] as const) {
      console.log(
        `| ${name} | ${(r.wallMs / 1000).toFixed(1)} s | ${(r.jobs / (r.wallMs / 1000)).toFixed(2)} | ${name === 'not counted' ? '—' : (totalStatements / steps).toFixed(1)} | ${(cpuMs(r.report) / steps).toFixed(2)} ms (user ${(r.report.cpuUserMs / steps).toFixed(2)}, sys ${(r.report.cpuSystemMs / steps).toFixed(2)}) | ${r.eventCount} |`,
      );
    }
    console.log(
      `\nfailover_sequences UPDATE (counted run): ${seq.length} statements, ${seqTotal.toFixed(0)} ms in total (${((100 * seqTotal) / Math.max(1, counted.report.statementMs)).toFixed(1)} % of all statement time, ${(seqTotal / (counted.wallMs / 1000) / 1000).toFixed(3)} s per s of wall time), p50 ${q(seq, 0.5)} ms, p99 ${q(seq, 0.99)} ms, max ${q(seq, 1)} ms (ORM-timed, whole ms)\n`,
    );
    const msOf = (key: string) => counted.report.statementMsByKey[key] ?? 0;
    console.log('| statement | count | per step | time (ORM-timed) | mean |');
    console.log('|---|---|---|---|---|');
    for (const [key, count] of statements)
      console.log(`| ${key} | ${count} | ${(count / steps).toFixed(2)} | ${(msOf(key) / 1000).toFixed(1)} s | ${(msOf(key) / count).toFixed(1)} ms |`);
    console.log(
      `| all | ${totalStatements} | ${(totalStatements / steps).toFixed(2)} | ${(counted.report.statementMs / 1000).toFixed(1)} s | ${(counted.report.statementMs / totalStatements).toFixed(1)} ms |`,
    );
    console.log(
      `\n${starts} concurrent startTestFailover on distinct VMs over HTTP: p50 ${q(latencies, 0.5).toFixed(0)} ms, p99 ${q(latencies, 0.99).toFixed(0)} ms, max ${q(latencies, 1).toFixed(0)} ms, all ${latencies.length} returned in ${(startsWallMs / 1000).toFixed(1)} s; service CPU ${cpuMs(stormReport).toFixed(0)} ms in that time (${(cpuMs(stormReport) / starts).toFixed(1)} ms per start, the engine's first steps of the jobs included)`,
    );
  } finally {
    child?.kill('SIGKILL');
    await sim.close();
    await db.close();
  }
}
