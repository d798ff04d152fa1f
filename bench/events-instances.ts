/**
 * `npm run bench` (part): several instances — how long a job event committed on instance A takes to
 * reach a graphql-ws subscriber on instance B woken through Redis (`EVENTS_REDIS_URL`), against the
 * same event reaching a subscriber on A itself in the same run (the baseline: no second instance,
 * no Redis), and, for the record of "before", a subscriber on an instance C that only polls.
 *
 * A is in this process (the bench commits through A's event store and calls A's notify, as A's
 * engine does); B and C are the built service (`dist/src/main.js`) as child processes on the same
 * MariaDB database. The subscribers run in this process too, so both sides pay the same client
 * cost. Latency is from the commit's return (A) to receipt, on one clock. The next event is written
 * once every subscriber has the one before (or after a timeout).
 *
 * `--quick`: a few events (CI runs it so the bench never rots; no assertion on time).
 * Knobs: `BENCH_EVENTS` (default 200; quick 20), `BENCH_SUBSCRIBERS` per instance (default 20; quick 3),
 * `EVENTS_REDIS_URL` (default redis://127.0.0.1:6379).
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { appendEvent } from '../src/events/event-store.js';
import { createLogger } from '../src/logger.js';
import { parseRedisUrl } from '../src/config.js';
import { startServer } from '../src/server/http-server.js';
import { buildAppSchema } from '../src/server/schema.js';
import { openMigratedDatabase } from '../test/helpers/api-server.js';
import { startServiceProcess, type ServiceProcess } from '../test/helpers/service-process.js';
import { FAST_ENGINE, testServices } from '../test/helpers/services.js';
import { QUICK } from './measure.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? (QUICK ? 20 : 200));
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? (QUICK ? 3 : 20));
/** The polling-only instance waits up to a poll interval per event: fewer of them. */
const POLL_EVENTS = Math.max(3, Math.round(EVENTS / 10));
const REDIS = parseRedisUrl(process.env.EVENTS_REDIS_URL ?? 'redis://127.0.0.1:6379')!;
const JOB = 'bench-instances-job';
const QUERY = 'subscription ($jobId: String) { failoverJobEvents(jobId: $jobId) { sequence job { status progressPercent } } }';

const probe = new Redis(REDIS.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
try {
  await probe.connect();
  await probe.ping();
} catch (error) {
  console.error(`bench events-instances: Redis at ${REDIS.redactedUrl} does not answer (${(error as Error).message}); start it (see .ci/run)`);
  process.exit(1);
} finally {
  probe.disconnect();
}

const logger = createLogger({ level: 'silent' });
const db = await openMigratedDatabase('bench_instances');
const dataDir = mkdtempSync(join(tmpdir(), 'bench-instances-'));
const children: ServiceProcess[] = [];
const clients: Client[] = [];
try {
  if (db.config.kind !== 'mariadb') throw new Error('the bench needs MariaDB');
  const engine = { ...FAST_ENGINE, eventPollIntervalMs: 1_000, eventRedis: REDIS, eventRedisPollIntervalMs: 10_000 };
  const services = await testServices(db.orm, logger, engine);
  const a = await startServer({ schema: await buildAppSchema(), em: db.orm.em, logger, port: 0, services: services.runtime.services });
  const env = (redis: boolean, name: string) => ({
    DATABASE_URL: db.config.kind === 'mariadb' ? db.config.url : '',
    CLOUDSTACK_SIMULATOR: 'true',
    DATA_DIR: join(dataDir, name),
    LOG_LEVEL: 'info',
    EVENTS_POLL_INTERVAL_MS: '1000',
    ...(redis ? { EVENTS_REDIS_URL: REDIS.url, EVENTS_REDIS_POLL_INTERVAL_MS: '10000' } : {}),
  });
  const b = await startServiceProcess(env(true, 'b'));
  children.push(b);
  const c = await startServiceProcess(env(false, 'c'));
  children.push(c);

  let progress = 0;
  /** An engine-like commit on A: the event through A's event store, then A's notify (which publishes the wake-up). */
  const commit = async () => {
    const event = await db.orm.em.fork().transactional((tx) =>
      appendEvent(tx, {
        jobId: JOB,
        vmId: 'bench-vm',
        jobType: 'test',
        status: 'snapshotting',
        previousStatus: 'snapshotting',
        progressPercent: (progress = (progress + 1) % 100),
        step: 'snapshot_volumes',
        message: null,
      }),
    );
    const committedAt = performance.now();
    services.runtime.events.notify();
    return { sequence: event.sequence, committedAt };
  };

  /** Subscribers, per instance, and what each received: sequence → receipt time. */
  type Side = { name: string; received: Map<number, number>[] };
  const subscribe = async (name: string, wsUrl: string): Promise<Side> => {
    const side: Side = { name, received: [] };
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.on('connected', () => resolve());
        client.on('error', reject);
      });
      const got = new Map<number, number>();
      side.received.push(got);
      client.subscribe(
        { query: QUERY, variables: { jobId: JOB } },
        {
          next: (value) => {
            const { sequence } = (value.data as { failoverJobEvents: { sequence: number } }).failoverJobEvents;
            if (got.has(sequence)) throw new Error(`${name}: sequence ${sequence} twice`);
            got.set(sequence, performance.now());
          },
          error: (error) => console.error(`${name}: subscription error`, error),
          complete: () => {},
        },
      );
    }
    return side;
  };
  const arrived = async (sides: Side[], sequence: number, ms: number) => {
    const deadline = performance.now() + ms;
    while (!sides.every((s) => s.received.every((r) => r.has(sequence)))) {
      if (performance.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return true;
  };
  /** Writes `count` events one after another, each once every subscriber of `sides` has the one before; latencies per side. */
  const run = async (sides: Side[], count: number) => {
    // Subscriptions register asynchronously: write until one event reaches everybody.
    for (;;) {
      const { sequence } = await commit();
      if (await arrived(sides, sequence, 3_000)) break;
    }
    const latencies = new Map<string, number[]>(sides.map((s) => [s.name, []]));
    let late = 0;
    for (let i = 0; i < count; i++) {
      const { sequence, committedAt } = await commit();
      if (!(await arrived(sides, sequence, 15_000))) late++;
      for (const side of sides) for (const got of side.received) if (got.has(sequence)) latencies.get(side.name)!.push(got.get(sequence)! - committedAt);
    }
    return { latencies, late };
  };

  const sameInstance = await subscribe('A (same instance)', a.wsUrl);
  const viaRedis = await subscribe('B (other instance, Redis wake-up)', b.url.replace(/^http/, 'ws'));
  const first = await run([sameInstance, viaRedis], EVENTS);
  const polling = await subscribe('C (other instance, polling every 1 s)', c.url.replace(/^http/, 'ws'));
  const second = await run([polling], POLL_EVENTS);

  const baseline = percentiles(first.latencies.get(sameInstance.name)!);
  const rows = [
    [sameInstance.name, first.latencies.get(sameInstance.name)!, EVENTS],
    [viaRedis.name, first.latencies.get(viaRedis.name)!, EVENTS],
    [polling.name, second.latencies.get(polling.name)!, POLL_EVENTS],
  ] as const;
  console.log(
    `\nSeveral instances on one MariaDB: commit on A → receipt, ${SUBSCRIBERS} graphql-ws subscribers per instance, job { status progressPercent } selected\n`,
  );
  console.log('| subscribers on | events | p50 | p99 | max | p99 × same instance | received |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, samples, events] of rows) {
    const p = percentiles(samples);
    console.log(
      `| ${name} | ${events} | ${p.p50.toFixed(1)} ms | ${p.p99.toFixed(1)} ms | ${p.max.toFixed(1)} ms | ${(p.p99 / baseline.p99).toFixed(2)}× | ${samples.length}/${events * SUBSCRIBERS} |`,
    );
  }
  if (first.late + second.late > 0) console.log(`\n${first.late + second.late} events reached not every subscriber within 15 s`);
  for (const client of clients) await client.dispose();
  await a.close();
  await services.close();
} finally {
  for (const child of children) await child.stop();
  await db.close();
  rmSync(dataDir, { recursive: true, force: true });
}

function percentiles(samples: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}
