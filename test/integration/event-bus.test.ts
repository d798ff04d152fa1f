import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailoverEvent } from '../../src/entities/index.js';
import { EventBus } from '../../src/events/event-bus.js';
import { appendEvent, latestSequence, readEvents } from '../../src/events/event-store.js';
import type { JobEvent, NewJobEvent } from '../../src/events/event.types.js';
import { createLogger } from '../../src/logger.js';
import { DATABASE_KINDS, openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';

/**
 * The event store and bus on both databases: sequences are dense and commit in order under
 * concurrent writers, and a subscriber that joins mid-stream with afterSequence gets every event
 * after it exactly once, in order, across the replay/live seam.
 */

const logger = createLogger({ level: 'silent' });

const event = (jobId: string, vmId: string, n: number): NewJobEvent => ({
  jobId,
  vmId,
  jobType: 'test',
  status: 'snapshotting',
  previousStatus: 'validating',
  progressPercent: n % 100,
  step: 'snapshot_volumes',
  message: `event ${n}`,
});

/** Collects from a stream until `count` events arrived (or it ends). */
async function take(stream: AsyncIterableIterator<JobEvent>, count: number): Promise<JobEvent[]> {
  const got: JobEvent[] = [];
  while (got.length < count) {
    const next = await stream.next();
    if (next.done) break;
    got.push(next.value);
  }
  return got;
}

describe.each(DATABASE_KINDS)('events on %s', (kind) => {
  let db: MigratedDatabase;
  let bus: EventBus;

  beforeAll(async () => {
    db = await openMigratedDatabase('events', { kind });
    bus = new EventBus({ em: db.orm.em, logger, pollIntervalMs: 50 });
    await bus.start();
  });
  afterAll(async () => {
    await bus?.close();
    await db?.close();
  });

  /** Appends one event in its own transaction, then tells the bus (as the engine does). */
  async function write(e: NewJobEvent): Promise<JobEvent> {
    const stored = await db.orm.em.fork().transactional((tx) => appendEvent(tx, e));
    bus.notify();
    return stored;
  }

  it('concurrent writers get dense sequences, and every committed event is stored once', async () => {
    const start = await latestSequence(db.orm.em.fork());
    const written = await Promise.all(Array.from({ length: 40 }, (_, i) => write(event(`job-dense-${i % 4}`, 'vm-dense', i))));
    const sequences = written.map((e) => e.sequence).sort((a, b) => a - b);
    expect(sequences).toEqual(Array.from({ length: 40 }, (_, i) => start + i + 1));
    const stored = await readEvents(db.orm.em.fork(), { after: start });
    expect(stored.map((e) => e.sequence)).toEqual(sequences);
  });

  it('a transaction that rolls back gives its sequence back: no gap', async () => {
    const start = await latestSequence(db.orm.em.fork());
    await expect(
      db.orm.em.fork().transactional(async (tx) => {
        await appendEvent(tx, event('job-rollback', 'vm-rollback', 1));
        throw new Error('abandon');
      }),
    ).rejects.toThrow('abandon');
    const next = await write(event('job-rollback', 'vm-rollback', 2));
    expect(next.sequence).toBe(start + 1);
    expect(await db.orm.em.fork().count(FailoverEvent, { jobId: 'job-rollback' })).toBe(1);
  });

  it('a subscriber joining mid-stream with afterSequence gets every later event exactly once, in order', async () => {
    const start = await latestSequence(db.orm.em.fork());
    const total = 60;
    // Writers run while the subscriber replays: events land before, during and after the seam.
    const first = await Promise.all(Array.from({ length: 20 }, (_, i) => write(event('job-seam', 'vm-seam', i))));
    const after = start + 10;
    const stream = bus.subscribe({ afterSequence: after });
    const rest = Promise.all(Array.from({ length: total - 20 }, (_, i) => write(event('job-seam', 'vm-seam', 20 + i))));
    const got = await take(stream, total - 10);
    await rest;
    await stream.return!();
    expect(first).toHaveLength(20);
    expect(got.map((e) => e.sequence)).toEqual(Array.from({ length: total - 10 }, (_, i) => after + i + 1));
  });

  it('filters by job and by VM; without afterSequence only live events arrive', async () => {
    const byJob = bus.subscribe({ jobId: 'job-f1' });
    const byVm = bus.subscribe({ vmId: 'vm-f2' });
    await bus.flush();
    const sent = [];
    for (const [jobId, vmId] of [
      ['job-f1', 'vm-f1'],
      ['job-f2', 'vm-f2'],
      ['job-f3', 'vm-f2'],
      ['job-f1', 'vm-f1'],
    ] as const) {
      sent.push(await write(event(jobId, vmId, sent.length)));
    }
    expect((await take(byJob, 2)).map((e) => e.sequence)).toEqual([sent[0]!.sequence, sent[3]!.sequence]);
    expect((await take(byVm, 2)).map((e) => e.jobId)).toEqual(['job-f2', 'job-f3']);
    await byJob.return!();
    await byVm.return!();
  });

  it('return() ends a subscription that is waiting for an event, at once', async () => {
    const stream = bus.subscribe({ jobId: 'never' });
    const pending = stream.next();
    await stream.return!();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
  });

  it('events another process commits (no notify) reach subscribers through the poll', async () => {
    const stream = bus.subscribe({ jobId: 'job-other-process' });
    await bus.flush();
    const stored = await db.orm.em.fork().transactional((tx) => appendEvent(tx, event('job-other-process', 'vm-x', 1)));
    const [got] = await take(stream, 1);
    expect(got!.sequence).toBe(stored.sequence);
    await stream.return!();
  });
});
