import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FailoverExecution, FailoverJob } from '../../src/entities/index.js';
import { EVENT_BATCH } from '../../src/events/event-bus.js';
import { appendEvent, latestSequence, readEvents } from '../../src/events/event-store.js';
import type { JobEvent } from '../../src/events/event.types.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server/http-server.js';
import { buildAppSchema } from '../../src/server/schema.js';
import { SLOW_CONSUMER_CLOSE_CODE } from '../../src/server/subscription-delivery.js';
import { openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';
import { wsClient } from '../helpers/graphql.js';
import { FAST_ENGINE, testServices, type TestServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Live events to many subscribers over real graphql-ws sockets (MariaDB): the database work per
 * event does not grow with the subscribers (the job is read with the event, once), a socket that
 * stops reading is closed (1013) and its subscriptions freed while the others go on, and a replay
 * longer than one read batch arrives complete, in order, once — read a batch at a time.
 */

const logger = createLogger({ level: 'silent' });
const JOB = 'test-failover-delivery-1';
const VM = 'vm-delivery';
const MAX_BUFFERED = 64 * 1024;

describe('event delivery at scale (MariaDB)', () => {
  let db: MigratedDatabase;
  let services: TestServices;
  let server: RunningServer;
  let statements: string[] = [];

  beforeAll(async () => {
    db = await openMigratedDatabase('event_delivery', { onQuery: (sql) => statements.push(sql) });
    // No poll in the way: every read of the bus below is one a write asked for.
    services = await testServices(db.orm, logger, { ...FAST_ENGINE, eventPollIntervalMs: 60_000 });
    server = await startServer({
      schema: await buildAppSchema(),
      em: db.orm.em,
      logger,
      port: 0,
      services: services.runtime.services,
      transportLimits: { maxBufferedBytes: MAX_BUFFERED },
    });
    const now = new Date();
    await db.orm.em
      .fork()
      .insert(FailoverJob, { jobId: JOB, vmId: VM, jobType: 'test', status: 'snapshotting', sourceVmName: 'delivery', createdAt: now, updatedAt: now });
    await db.orm.em.fork().insert(FailoverExecution, {
      jobId: JOB,
      vmId: VM,
      flow: 'test_failover',
      phase: 'done',
      step: 1,
      progressPercent: 0,
      createdAt: now,
      updatedAt: now,
    } as never);
  });
  afterAll(async () => {
    await server?.close();
    await services?.close();
    await db?.close();
  });

  const bus = () => services.runtime.events;

  /** An engine-like change: the execution's progress and the event in one transaction, then notify. */
  async function write(percent: number, message: string | null = null): Promise<JobEvent> {
    const event = await db.orm.em.fork().transactional(async (tx) => {
      await tx.nativeUpdate(FailoverExecution, { jobId: JOB }, { progressPercent: percent });
      return appendEvent(tx, {
        jobId: JOB,
        vmId: VM,
        jobType: 'test',
        status: 'snapshotting',
        previousStatus: 'snapshotting',
        progressPercent: percent,
        step: 'snapshot_volumes',
        message,
      });
    });
    bus().notify();
    return event;
  }

  interface Received {
    sequence: number;
    job: { status: string; progressPercent: number; ledger?: unknown[] } | null;
  }

  /** `count` graphql-ws subscribers on `sockets` sockets, all with the same operation. */
  function subscribers(count: number, sockets: number, selection: string, variables: Record<string, unknown> = {}) {
    const clients = Array.from({ length: sockets }, () => wsClient(server.wsUrl));
    const received: Received[][] = Array.from({ length: count }, () => []);
    const errors: unknown[] = [];
    const stops = received.map((into, i) =>
      clients[i % sockets]!.subscribe<{ failoverJobEvents: Received }>(
        {
          query: `subscription ($jobId: String, $after: Int) { failoverJobEvents(jobId: $jobId, afterSequence: $after) { ${selection} } }`,
          variables: { jobId: JOB, ...variables },
        },
        { next: (value) => into.push(value.data!.failoverJobEvents), error: (error) => errors.push(error), complete: () => {} },
      ),
    );
    return {
      received,
      errors,
      async close() {
        for (const stop of stops) stop();
        await Promise.all(clients.map((c) => c.dispose()));
      },
    };
  }

  it('one read per event whatever the subscribers select; every subscriber gets the job as it is now', async () => {
    const before = bus().stats().subscribers;
    const plain = subscribers(20, 4, 'sequence job { status progressPercent }');
    const withLedger = subscribers(10, 2, 'sequence job { status progressPercent ledger { action } }');
    await waitFor(() => bus().stats().subscribers === before + 30, { what: 'the 30 subscriptions registered' });
    await bus().flush();
    try {
      for (const percent of [11, 12, 13]) {
        statements = [];
        const event = await write(percent);
        await waitFor(() => [...plain.received, ...withLedger.received].every((r) => r.some((e) => e.sequence === event.sequence)), {
          what: `event ${event.sequence} at every subscriber`,
        });
        const reads = statements.filter((sql) => /^(\[query\] )?select/i.test(sql) && /failover_(jobs|executions|job_events|ledger)/i.test(sql));
        // The write's own SELECT of the counter aside: the bus's one joined read, and (for the
        // subscribers that select the ledger, whatever their number) one ledger read.
        expect(reads.filter((sql) => /failover_job_events/i.test(sql))).toHaveLength(1);
        expect(reads.filter((sql) => /failover_ledger/i.test(sql))).toHaveLength(1);
        expect(reads).toHaveLength(2);
        for (const got of [...plain.received, ...withLedger.received]) {
          expect(got.find((e) => e.sequence === event.sequence)!.job).toMatchObject({ status: 'SNAPSHOTTING', progressPercent: percent });
        }
      }
      expect(plain.errors).toEqual([]);
      expect(withLedger.errors).toEqual([]);
    } finally {
      await plain.close();
      await withLedger.close();
    }
    await waitFor(() => bus().stats().subscribers === before, { what: 'the subscriptions ended' });
  });

  it('a socket that stops reading is closed with 1013 and its subscriptions freed; the other sockets get every event', async () => {
    const before = bus().stats().subscribers;
    const good = subscribers(1, 1, 'sequence');
    const slow = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    const slowClosed = new Promise<number>((resolve) => slow.once('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => slow.once('open', resolve).once('error', reject));
    const acked = new Promise((resolve) => slow.once('message', resolve));
    slow.send(JSON.stringify({ type: 'connection_init' }));
    await acked;
    slow.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `subscription { failoverJobEvents(jobId: "${JOB}") { sequence message } }` } }));
    await waitFor(() => bus().stats().subscribers === before + 2, { what: 'both subscriptions registered' });
    // The slow client stops reading: its kernel buffers fill, then the server's send buffer.
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'x'.repeat(32 * 1024);
    const written: number[] = [];
    const rss = process.memoryUsage().rss;
    let maxHeld = 0;
    while (bus().stats().subscribers > before + 1) {
      written.push((await write(50, big)).sequence);
      maxHeld = Math.max(maxHeld, bus().stats().maxBuffered);
      if (written.length > 20_000) throw new Error('the slow consumer was never closed');
    }
    // Its subscription ended the moment the bound was passed; nothing piled up for it.
    expect(maxHeld).toBeLessThanOrEqual(10);
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 1024 * 1024);
    written.push((await write(51)).sequence);
    await waitFor(() => good.received[0]!.some((e) => e.sequence === written[written.length - 1]), { what: 'the good subscriber caught up' });
    expect(good.received[0]!.map((e) => e.sequence).filter((s) => s >= written[0]!)).toEqual(written);
    expect(good.errors).toEqual([]);
    // Reading again, the slow client finds the close (after what was sent before it).
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await slowClosed).toBe(SLOW_CONSUMER_CLOSE_CODE);
    await good.close();
  });

  it('a replay longer than one read arrives complete, in order, once, while live events keep coming', async () => {
    const start = await latestSequence(db.orm.em.fork());
    const total = EVENT_BATCH * 2 + 200;
    await db.orm.em.fork().transactional(async (tx) => {
      for (let i = 0; i < total; i++) {
        await appendEvent(tx, {
          jobId: JOB,
          vmId: VM,
          jobType: 'test',
          status: 'snapshotting',
          previousStatus: 'snapshotting',
          progressPercent: 60,
          step: null,
          message: `r${i}`,
        });
      }
    });
    const replaying = subscribers(2, 2, 'sequence', { after: start });
    const live: number[] = [];
    for (let i = 0; i < 20; i++) live.push((await write(61)).sequence);
    const last = live[live.length - 1]!;
    await waitFor(() => replaying.received.every((r) => r.some((e) => e.sequence === last)), {
      timeoutMs: 20_000,
      what: 'both replays reached the live events',
    });
    const stored = (await readEvents(db.orm.em.fork(), { after: start, limit: 10_000, filter: { jobId: JOB } })).map((e) => e.sequence);
    expect(stored).toHaveLength(total + 20);
    for (const got of replaying.received) expect(got.map((e) => e.sequence)).toEqual(stored);
    expect(replaying.errors).toEqual([]);
    await replaying.close();
  });

  it('a replay is read a batch at a time: a subscriber that does not take its events holds at most one batch', async () => {
    const start = await latestSequence(db.orm.em.fork());
    await db.orm.em.fork().transactional(async (tx) => {
      for (let i = 0; i < EVENT_BATCH * 2 + 10; i++) {
        await appendEvent(tx, {
          jobId: 'job-batch',
          vmId: VM,
          jobType: 'test',
          status: 'snapshotting',
          previousStatus: 'snapshotting',
          progressPercent: 1,
          step: null,
          message: null,
        });
      }
    });
    const stream = bus().subscribe({ jobId: 'job-batch', afterSequence: start });
    const got: number[] = [];
    const first = await stream.next();
    got.push(first.value!.sequence);
    await waitFor(() => bus().stats().maxBuffered === EVENT_BATCH - 1, { what: 'the first batch queued' });
    while (got.length < EVENT_BATCH * 2 + 10) {
      expect(bus().stats().maxBuffered).toBeLessThanOrEqual(EVENT_BATCH);
      const next = await stream.next();
      got.push(next.value!.sequence);
    }
    await stream.return!();
    expect(got).toEqual(Array.from({ length: EVENT_BATCH * 2 + 10 }, (_, i) => start + i + 1));
  });
});
