import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { readEvents } from '../../src/events/event-store.js';
import { gqlData, wsClient } from '../helpers/graphql.js';
import { CLEANUP, isSettled, START_TEST, startFailoverApi, subscribeEvents, type EventRecord, type FailoverHarness } from '../helpers/failover.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Done-when 6: a subscriber that disconnects mid-job and resubscribes with its last sequence
 * receives every missed event exactly once — on MariaDB, over real WebSockets, while the job keeps
 * writing events (the replay/live seam is crossed under load).
 */

const DB_VM = DEMO_VMS[1]!;

describe('resubscribing with afterSequence (MariaDB)', () => {
  let api: FailoverHarness;
  beforeAll(async () => {
    // Slow cloud jobs: the job is still running while the subscriber is away and when it returns.
    api = await startFailoverApi('resubscribe', { sim: { jobLatencyMs: 80 } });
  });
  afterAll(() => api?.close());

  async function stored(jobId: string): Promise<number[]> {
    return (await readEvents(api.orm.em.fork(), { after: 0, filter: { jobId } })).map((e) => e.sequence);
  }

  for (const when of ['while the job still runs', 'after the job finished'] as const) {
    it(`gets every missed event exactly once when it comes back ${when}`, async () => {
      const { startTestFailover: job } = await gqlData<{ startTestFailover: { jobId: string } }>(api.url, START_TEST, { input: { vmId: DB_VM.vmId } });
      const first = wsClient(api.wsUrl);
      const before = subscribeEvents(first, { jobId: job.jobId, afterSequence: 0 });
      await before.until((e) => e.status === 'SNAPSHOTTING');
      // The connection drops (the client goes away without completing its subscription).
      await first.dispose();
      const seen = [...before.events];
      const last = seen[seen.length - 1]!.sequence;
      if (when === 'after the job finished') {
        const watcher = wsClient(api.wsUrl);
        await subscribeEvents(watcher, { jobId: job.jobId, afterSequence: last }).until(isSettled);
        await watcher.dispose();
      }
      const status = (
        await gqlData<{ failoverJob: { active: boolean } }>(api.url, `query ($j: String!) { failoverJob(jobId: $j) { active } }`, { j: job.jobId })
      ).failoverJob;
      expect(status.active).toBe(when === 'while the job still runs');
      const second = wsClient(api.wsUrl);
      const after = subscribeEvents(second, { jobId: job.jobId, afterSequence: last });
      const done = await after.until(isSettled);
      expect(done.status).toBe('COMPLETED');
      await second.dispose();

      const all: EventRecord[] = [...seen, ...after.events];
      const sequences = all.map((e) => e.sequence);
      // Exactly the stored events of the job: none missed, none twice, in order.
      expect(sequences).toEqual(await stored(job.jobId));
      expect(after.events.every((e) => e.sequence > last)).toBe(true);
      expect(after.errors).toEqual([]);

      await gqlData(api.url, CLEANUP, { jobId: job.jobId });
      const cleanup = wsClient(api.wsUrl);
      await subscribeEvents(cleanup, { jobId: job.jobId, afterSequence: done.sequence }).until((e) => e.status === 'CLEANED_UP');
      await cleanup.dispose();
    });
  }

  it('an afterSequence beyond the last stored event waits for live events only', async () => {
    const client = wsClient(api.wsUrl);
    const stream = subscribeEvents(client, { vmId: DB_VM.vmId, afterSequence: 1_000_000 });
    const { startTestFailover: job } = await gqlData<{ startTestFailover: { jobId: string } }>(api.url, START_TEST, { input: { vmId: DB_VM.vmId } });
    const watcher = wsClient(api.wsUrl);
    const done = await subscribeEvents(watcher, { jobId: job.jobId, afterSequence: 0 }).until(isSettled);
    await watcher.dispose();
    expect(stream.events).toEqual([]);
    await client.dispose();
    await gqlData(api.url, CLEANUP, { jobId: job.jobId });
    const cleanup = wsClient(api.wsUrl);
    await subscribeEvents(cleanup, { jobId: job.jobId, afterSequence: done.sequence }).until((e) => e.status === 'CLEANED_UP');
    await cleanup.dispose();
  });

  it('a negative afterSequence is refused with BAD_USER_INPUT', async () => {
    const client = wsClient(api.wsUrl);
    const stream = subscribeEvents(client, { afterSequence: -1 });
    await waitFor(() => stream.errors.length > 0, { what: 'the refusal of a negative afterSequence' });
    expect(JSON.stringify(stream.errors)).toMatch(/BAD_USER_INPUT/);
    await client.dispose();
  });
});
