import { Writable } from 'node:stream';
import type { MikroORM } from '@mikro-orm/core';
import type { Client } from 'graphql-ws';
import { pino } from 'pino';
import type { Logger } from '../../src/logger.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { createOrm } from '../../src/db/orm.js';
import { EventBus } from '../../src/events/event-bus.js';
import { appendEvent, latestSequence, readEvents } from '../../src/events/event-store.js';
import type { JobEvent, NewJobEvent } from '../../src/events/event.types.js';
import { RedisWakeUp, WAKE_UP_CHANNEL } from '../../src/events/redis-wake-up.js';
import { startServer, type RunningServer } from '../../src/server/http-server.js';
import { buildAppSchema } from '../../src/server/schema.js';
import { openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';
import { wsClient } from '../helpers/graphql.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { FAST_ENGINE, testServices, type TestServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Several instances on one MariaDB database, woken through Redis (EVENTS_REDIS_URL): instance A
 * commits events, subscribers on instance B (real graphql-ws sockets) receive them. Both instances
 * poll only once a minute, so an event that arrives within the waits below came by wake-up. Redis
 * is killed and started again mid-stream: the events each subscriber received are exactly the
 * stored ones (no gap, no duplicate, in order), and no log line holds the Redis password.
 */

const JOB = 'test-failover-instances-1';
const OTHER = 'test-failover-instances-2';
/** Far longer than any wait below: what arrives in time was woken, not polled. */
const NO_POLL = 60_000;
/** How long a wake-up may take here (a condition wait, not a measurement: it only has to beat NO_POLL). */
const WOKEN = 15_000;

/** A pino logger whose lines are kept (as text) for the test to read. */
function capturedLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

const event = (jobId: string, n: number): NewJobEvent => ({
  jobId,
  vmId: `vm-${jobId}`,
  jobType: 'test',
  status: 'snapshotting',
  previousStatus: 'snapshotting',
  progressPercent: n % 100,
  step: 'snapshot_volumes',
  message: `event ${n}`,
});

interface Received {
  sequence: number;
  jobId: string;
  progressPercent: number;
  message: string | null;
}

/** One service instance: its own ORM (connection pool), bus, engine and API server, on the shared database. */
interface Instance {
  readonly orm: MikroORM;
  readonly services: TestServices;
  readonly server: RunningServer;
  close(): Promise<void>;
}

async function startInstance(orm: MikroORM, engine: Config['engine'], logger: Logger): Promise<Instance> {
  const services = await testServices(orm, logger, engine);
  const server = await startServer({ schema: await buildAppSchema(), em: orm.em, logger, port: 0, services: services.runtime.services });
  return {
    orm,
    services,
    server,
    async close() {
      await server.close();
      await services.close();
    },
  };
}

describe('two instances woken through Redis (MariaDB)', () => {
  let db: MigratedDatabase;
  let ormB: MikroORM;
  let redis: TestRedis;
  let a: Instance;
  let b: Instance;
  const logs = capturedLogger();

  beforeAll(async () => {
    redis = await startTestRedis();
    db = await openMigratedDatabase('event_instances');
    ormB = await createOrm(db.config);
    const engine: Config['engine'] = {
      ...FAST_ENGINE,
      eventPollIntervalMs: NO_POLL,
      eventRedis: { url: redis.url, redactedUrl: redis.url.replace(redis.password, '***') },
      eventRedisPollIntervalMs: NO_POLL,
    };
    a = await startInstance(db.orm, engine, logs.logger.child({ instance: 'A' }));
    b = await startInstance(ormB, engine, logs.logger.child({ instance: 'B' }));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await ormB?.close();
    await db?.close();
    await redis?.kill();
  });

  /** An engine-like write on instance A: the event in its own transaction through A's event store, then A's notify. */
  async function writeOnA(jobId: string, n: number): Promise<JobEvent> {
    const stored = await a.orm.em.fork().transactional((tx) => appendEvent(tx, event(jobId, n)));
    a.services.runtime.events.notify();
    return stored;
  }

  /** How many instances' buses are subscribed to the wake-up channel, as Redis counts them. */
  async function listening(): Promise<number> {
    const client = redis.client();
    try {
      const [, count] = (await client.pubsub('NUMSUB', WAKE_UP_CHANNEL)) as [string, number];
      return Number(count);
    } finally {
      client.disconnect();
    }
  }

  it('events committed on A reach subscribers on B by wake-up, exactly the stored ones across a Redis restart', async () => {
    await waitFor(async () => (await listening()) === 2, { timeoutMs: WOKEN, what: 'both instances subscribed to the wake-up channel' });
    const start = await latestSequence(db.orm.em.fork());

    // Three subscribers on B, over two sockets: every event, one job's, and every event again.
    const clients: Client[] = [wsClient(b.server.wsUrl), wsClient(b.server.wsUrl)];
    const selection = 'sequence jobId progressPercent message';
    const subscriptions = [{}, { jobId: JOB }, {}].map((variables, i) => {
      const into: Received[] = [];
      const errors: unknown[] = [];
      clients[i % 2]!.subscribe<{ failoverJobEvents: Received }>(
        {
          query: `subscription ($jobId: String, $after: Int) { failoverJobEvents(jobId: $jobId, afterSequence: $after) { ${selection} } }`,
          variables: { ...variables, after: start },
        },
        { next: (value) => into.push(value.data!.failoverJobEvents), error: (error) => errors.push(error), complete: () => {} },
      );
      return { filter: variables as { jobId?: string }, into, errors };
    });
    const stored = async () => {
      const rows = await readEvents(db.orm.em.fork(), { after: start, limit: 10_000 });
      return rows.map(({ sequence, jobId, progressPercent, message }) => ({ sequence, jobId, progressPercent, message }));
    };
    /** Waits until each subscriber holds as many events as are stored for its filter. */
    const allArrived = async (what: string) =>
      waitFor(
        async () => {
          const rows = await stored();
          return subscriptions.every((s) => s.into.length >= rows.filter((r) => !s.filter.jobId || r.jobId === s.filter.jobId).length);
        },
        { timeoutMs: WOKEN, intervalMs: 20, what },
      );

    let n = 0;
    // Before the restart: each event is written once the one before reached every subscriber.
    for (let i = 0; i < 10; i++) {
      await writeOnA(i % 3 === 0 ? OTHER : JOB, n++);
      await allArrived(`event ${n} on every subscriber of B`);
    }

    // Mid-stream: a writer keeps committing on A while Redis is killed; what it commits while Redis
    // is away can only arrive by the catch-up after the reconnect (B's read once it is subscribed
    // again, A's owed wake-up), since nobody polls.
    let writing = true;
    const write = async () => {
      while (writing) {
        await writeOnA(n % 3 === 0 ? OTHER : JOB, n++);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    let writer = write();
    const atKill = n;
    await waitFor(() => n >= atKill + 5, { what: 'events written before the kill' });
    await redis.kill();
    const whileDown = n;
    await waitFor(() => n >= whileDown + 10, { what: 'events written while Redis is down' });
    writing = false;
    await writer;
    await redis.restart();
    await allArrived('the events committed while Redis was down, once it is back');
    await waitFor(async () => (await listening()) === 2, { timeoutMs: WOKEN, what: 'both instances subscribed again' });
    // And the writer again over the new connections.
    writing = true;
    writer = write();
    const afterRestart = n;
    await waitFor(() => n >= afterRestart + 10, { what: 'events written after the restart' });
    writing = false;
    await writer;
    // And a few more one by one, each by wake-up over the new connections.
    for (let i = 0; i < 5; i++) {
      await writeOnA(JOB, n++);
      await allArrived(`event ${n} after the restart on every subscriber of B`);
    }
    await allArrived('every event on every subscriber of B');

    const rows = await stored();
    expect(rows.length).toBe(n);
    for (const s of subscriptions) {
      expect(s.errors).toEqual([]);
      // Exactly the stored events of its filter: none missing, none twice, in sequence order.
      expect(s.into).toEqual(rows.filter((r) => !s.filter.jobId || r.jobId === s.filter.jobId));
    }
    for (const client of clients) await client.dispose();

    // Both instances saw Redis go and come back, and said so without the password.
    const text = logs.lines.join('');
    expect(text).toContain('Redis connection error');
    expect(text).toContain('Redis connection is back');
    expect(text).toContain('127.0.0.1');
    expect(text).not.toContain(redis.password);
  });

  it('closing an instance closes its Redis connections', async () => {
    const named = async () => {
      const client = redis.client();
      try {
        const list = (await client.client('LIST')) as string;
        return list.split('\n').filter((line) => /name=failover-api-events-/.test(line)).length;
      } finally {
        client.disconnect();
      }
    };
    await waitFor(async () => (await named()) === 4, { timeoutMs: WOKEN, what: 'two connections per instance' });
    await b.close();
    await waitFor(async () => (await named()) === 2, { what: "B's connections closed" });
    await a.close();
    await waitFor(async () => (await named()) === 0, { what: "A's connections closed" });
  });
});

describe('a lost wake-up is made up by polling', () => {
  let db: MigratedDatabase;
  let redis: TestRedis;
  const buses: EventBus[] = [];
  const { logger } = capturedLogger();

  beforeAll(async () => {
    redis = await startTestRedis();
    db = await openMigratedDatabase('event_instances_poll');
  });
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    await db?.close();
    await redis?.kill();
  });

  /** Commits an event as an instance that announces nothing would (no Redis of its own, or its wake-up dropped). */
  const writeUnannounced = (n: number) => db.orm.em.fork().transactional((tx) => appendEvent(tx, event(JOB, n)));

  async function collect(bus: EventBus, count: number): Promise<JobEvent[]> {
    const stream = bus.subscribe({ afterSequence: await latestSequence(db.orm.em.fork()) });
    const got: JobEvent[] = [];
    for (let i = 0; i < count; i++) {
      const next = await stream.next();
      if (next.done) break;
      got.push(next.value);
    }
    await stream.return?.();
    return got;
  }

  it('while Redis is healthy, at the slower safety-net interval', async () => {
    const bus = new EventBus({
      em: db.orm.em,
      logger,
      pollIntervalMs: NO_POLL,
      wakeUp: new RedisWakeUp({ url: redis.url, redactedUrl: 'redis://***', logger }),
      wakeUpPollIntervalMs: 100,
    });
    buses.push(bus);
    await bus.start();
    const client = redis.client();
    await waitFor(async () => Number(((await client.pubsub('NUMSUB', WAKE_UP_CHANNEL)) as [string, number])[1]) === 1, {
      timeoutMs: WOKEN,
      what: 'the bus subscribed',
    });
    client.disconnect();
    const received = collect(bus, 3);
    const written: JobEvent[] = [];
    for (let i = 0; i < 3; i++) written.push(await writeUnannounced(i));
    expect((await received).map((e) => e.sequence)).toEqual(written.map((e) => e.sequence));
  });

  it('while Redis is down, at the normal interval, and the service goes on', async () => {
    await redis.kill();
    const bus = new EventBus({
      em: db.orm.em,
      logger,
      pollIntervalMs: 100,
      wakeUp: new RedisWakeUp({ url: redis.url, redactedUrl: 'redis://***', logger }),
      wakeUpPollIntervalMs: NO_POLL,
    });
    buses.push(bus);
    await bus.start();
    const received = collect(bus, 3);
    const written: JobEvent[] = [];
    for (let i = 0; i < 3; i++) {
      written.push(await writeUnannounced(i));
      // Its own commits are delivered at once, Redis or not.
      bus.notify();
    }
    expect((await received).map((e) => e.sequence)).toEqual(written.map((e) => e.sequence));
    const late = collect(bus, 2);
    const unannounced = [await writeUnannounced(10), await writeUnannounced(11)];
    expect((await late).map((e) => e.sequence)).toEqual(unannounced.map((e) => e.sequence));
  });
});
