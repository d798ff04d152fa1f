/**
 * `npm run bench` (second part): live job events at fleet scale — how long an event takes from its
 * commit (`occurredAt`) to receipt at each of N graphql-ws subscribers, against a raw `ws` broadcast
 * of the same payloads to N raw clients in the same run; and the server memory per idle subscriber.
 * (Several instances woken through Redis: bench/events-instances.ts.)
 *
 * The clients run in a child process (this file with `--clients`), so the server's event loop does
 * only the server's work, as it would with remote viewers. Both sides commit each event with the
 * same transaction (the execution row's progress, the job row, the event through the event store);
 * the next event is written once every client has the previous one (or after a timeout).
 *
 * `--quick`: small sizes, a few events (CI runs it so the bench never rots; no assertion on time).
 * Knobs: `BENCH_EVENT_SIZES` (default 1000,5000; quick 50,200), `BENCH_EVENTS` (default 30; quick 5).
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket, { WebSocketServer } from 'ws';
import { createClient } from 'graphql-ws';

const QUERY = 'subscription ($jobId: String) { failoverJobEvents(jobId: $jobId) { sequence occurredAt job { status progressPercent } } }';
const JOB_ID = 'bench-events-job';

/** Parent ↔ clients messages. */
type ToClients = { kind: 'connect'; mode: 'raw' | 'gql'; url: string; n: number } | { kind: 'report' } | { kind: 'close' };
type FromClients =
  { kind: 'connected' } | { kind: 'received'; sequence: number } | { kind: 'report'; latencies: number[]; errors: string[] } | { kind: 'closed' };

if (process.argv.includes('--clients')) await clientProcess();
else await main();

/** The child: N sockets of one kind; records, per message, the time since the event's occurredAt. */
async function clientProcess(): Promise<void> {
  let latencies: number[] = [];
  const errors: string[] = [];
  const counts = new Map<number, number>();
  let n = 0;
  let closers: (() => Promise<void> | void)[] = [];
  const send = (m: FromClients) => process.send!(m);
  const receive = (data: { sequence: number; occurredAt: string }) => {
    latencies.push(Date.now() - Date.parse(data.occurredAt));
    const c = (counts.get(data.sequence) ?? 0) + 1;
    counts.set(data.sequence, c);
    if (c === n) {
      counts.delete(data.sequence);
      send({ kind: 'received', sequence: data.sequence });
    }
  };
  process.on('message', async (m: ToClients) => {
    if (m.kind === 'connect') {
      n = m.n;
      for (let i = 0; i < m.n; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, m.n - i) }, async () => {
            if (m.mode === 'raw') {
              const ws = new WebSocket(m.url);
              ws.on('message', (raw) => receive(JSON.parse(String(raw)).payload.data.failoverJobEvents));
              await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
              closers.push(() => ws.close());
            } else {
              const client = createClient({ url: m.url, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
              await new Promise<void>((resolve, reject) => {
                client.on('connected', () => resolve());
                client.on('error', reject);
              });
              client.subscribe(
                { query: QUERY, variables: { jobId: JOB_ID } },
                {
                  next: (value) => receive((value.data as { failoverJobEvents: { sequence: number; occurredAt: string } }).failoverJobEvents),
                  error: (error) => errors.length < 5 && errors.push(JSON.stringify(error).slice(0, 300)),
                  complete: () => {},
                },
              );
              closers.push(() => client.dispose());
            }
          }),
        );
      }
      send({ kind: 'connected' });
    } else if (m.kind === 'report') {
      send({ kind: 'report', latencies, errors: [...errors] });
      latencies = [];
      counts.clear();
    } else {
      await Promise.all(closers.map((close) => close()));
      closers = [];
      send({ kind: 'closed' });
    }
  });
}

async function main(): Promise<void> {
  const { openMigratedDatabase } = await import('../test/helpers/api-server.js');
  const { FAST_ENGINE, testServices } = await import('../test/helpers/services.js');
  const { appendEvent } = await import('../src/events/event-store.js');
  const { FailoverExecution, FailoverJob } = await import('../src/entities/index.js');
  const { createLogger } = await import('../src/logger.js');
  const { startServer } = await import('../src/server/http-server.js');
  const { buildAppSchema } = await import('../src/server/schema.js');

  const quick = process.argv.includes('--quick');
  const sizes = (process.env.BENCH_EVENT_SIZES ?? (quick ? '50,200' : '1000,5000')).split(',').map(Number);
  const eventsPerSize = Number(process.env.BENCH_EVENTS ?? (quick ? 5 : 30));
  const waitMs = quick ? 10_000 : 60_000;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  const db = await openMigratedDatabase('bench_events');
  const { orm } = db;
  const logger = createLogger({ level: 'silent' });
  const services = await testServices(orm, logger, { ...FAST_ENGINE, eventPollIntervalMs: 1_000 });
  const bus = services.runtime.events;
  const schema = await buildAppSchema();
  const server = await startServer({ schema, em: orm.em, logger, port: 0, services: services.runtime.services });
  await orm.em.fork().insert(FailoverJob, {
    jobId: JOB_ID,
    vmId: 'bench-vm',
    jobType: 'test',
    status: 'snapshotting',
    sourceVmName: 'bench',
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  await orm.em.fork().insert(FailoverExecution, {
    jobId: JOB_ID,
    vmId: 'bench-vm',
    flow: 'test_failover',
    phase: 'done',
    step: 1,
    progressPercent: 0,
    createdAt: new Date(),
    updatedAt: new Date(),
  } as never);

  let progress = 0;
  /** One engine-like write: the execution's progress, the job row and the event, in one transaction. */
  const commit = () =>
    orm.em.fork().transactional(async (tx) => {
      progress = (progress + 1) % 100;
      await tx.nativeUpdate(FailoverExecution, { jobId: JOB_ID }, { progressPercent: progress, updatedAt: new Date() });
      await tx.nativeUpdate(FailoverJob, { jobId: JOB_ID }, { updatedAt: new Date() });
      return appendEvent(tx, {
        jobId: JOB_ID,
        vmId: 'bench-vm',
        jobType: 'test',
        status: 'snapshotting',
        previousStatus: 'snapshotting',
        progressPercent: progress,
        step: 'snapshot_volumes',
        message: null,
      });
    });

  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--clients'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const received = new Set<number>();
  let wake: (() => void) | undefined;
  const inbox: FromClients[] = [];
  child.on('message', (m: FromClients) => {
    if (m.kind === 'received') received.add(m.sequence);
    else inbox.push(m);
    wake?.();
  });
  const until = async <T>(check: () => T | undefined, ms: number): Promise<T | undefined> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) return undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  const ask = async <K extends FromClients['kind']>(m: ToClients, kind: K, ms = 600_000): Promise<Extract<FromClients, { kind: K }>> => {
    child.send(m);
    const got = await until(() => {
      const i = inbox.findIndex((x) => x.kind === kind);
      return i < 0 ? undefined : inbox.splice(i, 1)[0];
    }, ms);
    if (!got) throw new Error(`clients did not answer ${m.kind}`);
    return got as Extract<FromClients, { kind: K }>;
  };

  /** Writes `count` events one after another (each once all clients have the one before) and returns the clients' latencies. */
  const run = async (count: number, write: () => Promise<{ sequence: number }>) => {
    let missed = 0;
    for (let i = 0; i < count; i++) {
      const { sequence } = await write();
      if ((await until(() => (received.has(sequence) ? true : undefined), waitMs)) === undefined) missed++;
    }
    const report = await ask({ kind: 'report' }, 'report');
    return { ...report, missed };
  };

  const memory = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed + m.external };
  };

  const rows: string[] = [];
  try {
    for (const n of sizes) {
      // Baseline: a bare ws server broadcasts the committed event, serialised once, to N bare clients.
      const raw = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      await new Promise((resolve) => raw.once('listening', resolve));
      await ask({ kind: 'connect', mode: 'raw', url: `ws://127.0.0.1:${(raw.address() as { port: number }).port}`, n }, 'connected');
      const baseline = await run(eventsPerSize, async () => {
        const event = await commit();
        const body = JSON.stringify({
          id: '1',
          type: 'next',
          payload: {
            data: {
              failoverJobEvents: {
                sequence: event.sequence,
                occurredAt: event.occurredAt.toISOString(),
                job: { status: 'SNAPSHOTTING', progressPercent: event.progressPercent },
              },
            },
          },
        });
        for (const socket of raw.clients) socket.send(body);
        return event;
      });
      await ask({ kind: 'close' }, 'closed');
      await new Promise((resolve) => raw.close(resolve));

      // Measured: the event store, the bus, graphql-ws to N real graphql-ws clients.
      const before = memory();
      await ask({ kind: 'connect', mode: 'gql', url: server.wsUrl, n }, 'connected');
      // Subscriptions register asynchronously: write events until one reaches every client.
      for (;;) {
        const event = await commit();
        bus.notify();
        if (await until(() => (received.has(event.sequence) ? true : undefined), 2_000)) break;
      }
      await ask({ kind: 'report' }, 'report');
      const idle = memory();
      const measured = await run(eventsPerSize, async () => {
        const event = await commit();
        bus.notify();
        return event;
      });
      await ask({ kind: 'close' }, 'closed');

      const b = percentiles(baseline.latencies);
      const a = percentiles(measured.latencies);
      if (measured.errors.length > 0) console.error('subscription errors:', measured.errors);
      rows.push(
        `| ${n} | ${b.p50} / ${b.p99} ms | ${a.p50} / ${a.p99} ms | ${(a.p99 / Math.max(1, b.p99)).toFixed(2)}× | ${a.count}/${n * eventsPerSize}${measured.missed ? ` (${measured.missed} events late)` : ''} | ${kb((idle.rss - before.rss) / n)} / ${kb((idle.heap - before.heap) / n)} |`,
      );
      console.log(rows[rows.length - 1]);
    }
    console.log(`\nJob event, commit (occurredAt) → receipt, ${eventsPerSize} events per size, job { status progressPercent } selected\n`);
    console.log(
      '| subscribers | raw ws broadcast p50 / p99 | graphql-ws p50 / p99 | p99 ratio | received | server memory per idle subscriber (RSS / heap+external) |',
    );
    console.log('|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    child.kill();
    await server.close();
    await services.close();
    await db.close();
  }
}

function percentiles(samples: number[]): { p50: number; p99: number; count: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), count: sorted.length };
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}
