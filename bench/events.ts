/**
 * `npm run bench` (second part): how long a job event takes from its transaction to a subscriber,
 * against a raw baseline measured in the same run.
 *
 * Baseline (raw SQL + raw WebSocket): one transaction that takes the next sequence and inserts the
 * event row with hand-written SQL, then the row sent as JSON over a bare `ws` socket to a bare
 * client. Measured: the same transaction through the event store (appendEvent), the bus reading it
 * back after commit, and graphql-ws delivering `failoverJobEvents` to a real client. The ratio is
 * what "publish after commit, read back by sequence, GraphQL over graphql-ws" costs on top.
 */
import { FAST_ENGINE, testServices } from '../test/helpers/services.js';
import 'reflect-metadata';
import { ITERATIONS, stats, time } from './measure.js';
import WebSocket, { WebSocketServer } from 'ws';
import { createClient } from 'graphql-ws';
import { appendEvent } from '../src/events/event-store.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/server/http-server.js';
import { buildAppSchema } from '../src/server/schema.js';
import { openMigratedDatabase } from '../test/helpers/api-server.js';

/** A queue of received messages that a measurement awaits one at a time. */
function inbox<T>() {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  return {
    push(item: T) {
      items.push(item);
      wake?.();
    },
    async next(): Promise<T> {
      while (items.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      return items.shift()!;
    },
  };
}

const db = await openMigratedDatabase('bench_events');
const { orm } = db;
const logger = createLogger({ level: 'silent' });
// The real services (the engine not started); events from another instance are looked for at the default interval.
const services = await testServices(orm, logger, { ...FAST_ENGINE, eventPollIntervalMs: 1_000 });
const bus = services.runtime.events;
const server = await startServer({ schema: await buildAppSchema(), em: orm.em, logger, port: 0, services: services.runtime.services });
const event = (i: number) => ({
  jobId: 'bench-job',
  vmId: 'bench-vm',
  jobType: 'test',
  status: 'snapshotting',
  previousStatus: 'snapshotting',
  progressPercent: i % 100,
  step: 'snapshot_volumes',
  message: null,
});

try {
  // Baseline: raw SQL transaction, then a bare WebSocket message.
  const raw = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => raw.once('listening', resolve));
  const rawPort = (raw.address() as { port: number }).port;
  const rawInbox = inbox<string>();
  const rawClient = new WebSocket(`ws://127.0.0.1:${rawPort}`);
  rawClient.on('message', (data) => rawInbox.push(String(data)));
  const serverSide = await new Promise<WebSocket>((resolve) => raw.once('connection', resolve));
  await new Promise((resolve) => (rawClient.readyState === WebSocket.OPEN ? resolve(null) : rawClient.once('open', resolve)));
  const conn = orm.em.getConnection();
  const baseline = await time(async (i) => {
    const row = await conn.transactional(async (trx) => {
      await conn.execute(`UPDATE failover_sequences SET value = value + 1 WHERE name = 'failover_job_events'`, [], 'run', trx);
      const [seq] = (await conn.execute(`SELECT value FROM failover_sequences WHERE name = 'failover_job_events'`, [], 'all', trx)) as { value: number }[];
      const e = event(i);
      await conn.execute(
        `INSERT INTO failover_job_events (sequence, job_id, vm_id, job_type, status, previous_status, progress_percent, step, message, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [seq!.value, e.jobId, e.vmId, e.jobType, e.status, e.previousStatus, e.progressPercent, e.step, e.message, new Date()],
        'run',
        trx,
      );
      return { sequence: Number(seq!.value), ...e };
    });
    serverSide.send(JSON.stringify(row));
    await rawInbox.next();
  });
  rawClient.close();
  raw.close();

  // Measured: the event store, the bus, graphql-ws.
  const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  const apiInbox = inbox<unknown>();
  client.subscribe(
    { query: 'subscription { failoverJobEvents(jobId: "bench-job") { sequence status progressPercent message occurredAt } }' },
    { next: (value) => apiInbox.push(value), error: (error) => console.error(error), complete: () => {} },
  );
  // Wait until the subscription is registered: write events until one comes through.
  for (;;) {
    await orm.em.fork().transactional((tx) => appendEvent(tx, event(0)));
    bus.notify();
    const got = await Promise.race([apiInbox.next().then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 200))]);
    if (got) break;
  }
  const api = await time(async (i) => {
    await orm.em.fork().transactional((tx) => appendEvent(tx, event(i)));
    bus.notify();
    await apiInbox.next();
  });
  await client.dispose();

  const b = stats(baseline);
  const a = stats(api);
  console.log(`\nJob event, transaction → subscriber, ${ITERATIONS} sequential events, median\n`);
  console.log('| operation | raw SQL + raw WebSocket | event store + bus + graphql-ws | ratio | p95 |');
  console.log('|---|---|---|---|---|');
  console.log(
    `| one event delivered | ${b.median.toFixed(2)} ms | ${a.median.toFixed(2)} ms | ${(a.median / b.median).toFixed(2)}× | ${a.p95.toFixed(2)} ms |`,
  );
} finally {
  await server.close();
  await services.close();
  await db.close();
}
