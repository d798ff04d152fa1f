import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settings422, type SimSettings } from '../../src/cloudstack/simulator/index.js';
import { DEMO_APPLIANCE_VMS, DEMO_VMS } from '../../src/demo/demo-world.js';
import {
  CLEANUP,
  cloudView,
  FAST_ENGINE,
  JOB,
  REVERT,
  START_LIVE,
  START_TEST,
  startFailoverApi,
  subscribeEvents,
  transitions,
  type FailoverHarness,
} from '../helpers/failover.js';
import { gqlData, wsClient } from '../helpers/graphql.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Every ready demo VM failed over at once on a stock cloud, and unwound at once: the pre-4.22
 * defaults (no snapshot of a volume attached to a Running KVM VM, a non-admin key that may not
 * expunge; every volume on one appliance VM, so the snapshots would collide there) and the 4.22
 * defaults (kvm.snapshot.enabled; the volumes on the two appliance VMs of the demo world). Eight
 * jobs in flight (ENGINE_CONCURRENCY=8); after each round the cloud is as it was. MariaDB, the
 * simulator over HTTP, a graphql-ws subscriber watching every job.
 */

const READY = DEMO_VMS.filter((vm) => vm.replicationStatus === 'completed' && vm.cbt.success);
const [APPLIANCE] = DEMO_APPLIANCE_VMS;

interface Job {
  jobId: string;
  vmId: string;
  status: string;
  errorMessage: string | null;
}

/** Moves every replicated volume onto the first appliance VM, at free device ids (never 3). */
function everythingOnOneAppliance(api: FailoverHarness): void {
  api.sim.update((world) => {
    const used = new Set(world.volumes.filter((v) => !v.removed && v.virtualmachineid === APPLIANCE.id).map((v) => v.deviceid));
    for (const volume of world.volumes) {
      if (volume.removed || volume.virtualmachineid === undefined || volume.virtualmachineid === APPLIANCE.id || volume.type !== 'DATADISK') continue;
      let id = 1;
      while (used.has(id) || id === 3) id++;
      used.add(id);
      volume.virtualmachineid = APPLIANCE.id;
      volume.deviceid = id;
    }
  });
}

const cases: { label: string; settings: Partial<SimSettings>; oneAppliance: boolean }[] = [
  { label: 'pre-4.22 defaults, every volume on one appliance VM', settings: {}, oneAppliance: true },
  { label: '4.22 defaults, volumes on two appliance VMs', settings: settings422(), oneAppliance: false },
];

describe.each(cases)('eight failovers at once on a stock KVM cloud: $label', ({ settings, oneAppliance }) => {
  let api: FailoverHarness;
  beforeAll(async () => {
    api = await startFailoverApi(oneAppliance ? 'stock_pre422' : 'stock_422', {
      sim: { settings, jobLatencyMs: 40 },
      engine: { ...FAST_ENGINE, concurrency: 8 },
    });
    if (oneAppliance) everythingOnOneAppliance(api);
  });
  afterAll(() => api?.close());

  const job = async (jobId: string) => (await gqlData<{ failoverJob: Job }>(api.url, JOB, { jobId })).failoverJob;
  const allSettled = (jobIds: readonly string[], status: string) =>
    waitFor(
      async () => {
        const jobs = await Promise.all(jobIds.map(job));
        const stuck = jobs.find((j) => j.status === 'FAILED');
        if (stuck) throw new Error(`job ${stuck.jobId} failed: ${stuck.errorMessage}`);
        return jobs.every((j) => j.status === status) ? jobs : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 100, what: `${jobIds.length} jobs ${status}` },
    );

  it.each([
    { kind: 'test', start: START_TEST, unwind: CLEANUP, done: 'CLEANED_UP' },
    { kind: 'live', start: START_LIVE, unwind: REVERT, done: 'REVERTED' },
  ])('$kind failovers of the eight ready VMs complete together, then unwind together; the cloud ends as it began', async ({ start, unwind, done }) => {
    expect(READY).toHaveLength(8);
    const before = cloudView(api.sim.getState());
    const ws = wsClient(api.wsUrl);
    const stream = subscribeEvents(ws, { afterSequence: 0 });
    try {
      const started = await Promise.all(
        READY.map(async (vm) => Object.values(await gqlData<Record<string, Job>>(api.url, start, { input: { vmId: vm.vmId } }))[0]!),
      );
      await allSettled(
        started.map((j) => j.jobId),
        'COMPLETED',
      );
      // Every failover VM runs on its replicated volumes; no volume is left on an appliance VM.
      const state = api.sim.getState();
      for (const vm of READY) {
        for (const disk of vm.disks) {
          const volume = state.volumes.find((v) => v.id === disk.volumeId)!;
          expect(DEMO_APPLIANCE_VMS.map((a) => a.id)).not.toContain(volume.virtualmachineid);
          expect(state.vms.find((v) => v.id === volume.virtualmachineid)?.state).toBe('Running');
        }
      }
      const deviceIds = state.volumes.filter((v) => !v.removed && v.virtualmachineid !== undefined).map((v) => v.deviceid);
      expect(deviceIds).not.toContain(3);

      await Promise.all(started.map((j) => gqlData(api.url, unwind, { jobId: j.jobId })));
      await allSettled(
        started.map((j) => j.jobId),
        done,
      );
      expect(cloudView(api.sim.getState())).toEqual(before);
      expect(api.sim.getState().snapshots.filter((s) => !s.removed)).toEqual([]);
      // The subscriber saw each job's whole sequence, in order.
      await stream.until((e) => e.status === done && started.every((j) => stream.events.some((x) => x.jobId === j.jobId && x.status === done)), 30_000);
      for (const { jobId } of started) {
        const seen = transitions(stream.events.filter((e) => e.jobId === jobId));
        const head = ['PENDING', 'VALIDATING', 'SNAPSHOTTING', 'CREATING_VM', 'SWITCHING_VOLUME', 'POWERING_ON', 'COMPLETED'];
        expect(seen.slice(0, head.length)).toEqual(head);
        expect(seen.at(-1)).toBe(done);
      }
    } finally {
      stream.dispose();
      await ws.dispose();
    }
  });
});
