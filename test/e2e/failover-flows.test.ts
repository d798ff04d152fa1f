import { hostName, testSuffix } from '../../src/failover/engine/plan.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_APPLIANCE_VM, DEMO_NETWORKS, DEMO_VMS, type DemoVm } from '../../src/demo/demo-world.js';
import { FailoverLedgerEntry, LedgerState } from '../../src/entities/index.js';
import { latestSequence } from '../../src/events/event-store.js';
import { gqlData, wsClient } from '../helpers/graphql.js';
import {
  CLEANUP,
  cloudView,
  isSettled,
  JOB,
  REVERT,
  START_LIVE,
  START_TEST,
  startFailoverApi,
  subscribeEvents,
  transitions,
  type FailoverHarness,
} from '../helpers/failover.js';

/**
 * Done-when 1–3: test failover then cleanup, live failover then revert, for a one-disk one-network
 * VM and a two-disk two-network VM — on MariaDB, with the simulator over HTTP and a real graphql-ws
 * subscriber that must see exactly the DESIGN's transitions.
 */

const [WEB, DB] = DEMO_VMS as [DemoVm, DemoVm];
const networkId = (vm: DemoVm, isTest: boolean) => vm.mappings.map((m) => (isTest ? m.testNetworkId : m.productionNetworkId)!);

const FAILOVER_TRANSITIONS = ['PENDING', 'VALIDATING', 'SNAPSHOTTING', 'CREATING_VM', 'SWITCHING_VOLUME', 'POWERING_ON', 'COMPLETED'];

describe.each([
  ['web-01 (one disk, one network)', WEB],
  ['db-01 (two disks, two networks)', DB],
])('%s on MariaDB', (_label, vm) => {
  let api: FailoverHarness;
  beforeAll(async () => {
    api = await startFailoverApi('flows');
  });
  afterAll(() => api?.close());

  async function runFlow(kind: 'test' | 'live') {
    const before = cloudView(api.sim.getState());
    const client = wsClient(api.wsUrl);
    try {
      // Subscribed before the job exists, from the last event committed so far: deterministic
      // (no race with the subscription's handshake), and still a subscriber that watches it happen.
      const stream = subscribeEvents(client, { vmId: vm.vmId, afterSequence: await latestSequence(api.orm.em.fork()) });
      const started = await gqlData<{ startTestFailover?: { jobId: string; status: string }; startLiveFailover?: { jobId: string; status: string } }>(
        api.url,
        kind === 'test' ? START_TEST : START_LIVE,
        { input: { vmId: vm.vmId } },
      );
      const job = (started.startTestFailover ?? started.startLiveFailover)!;
      expect(job.status).toBe('PENDING');
      const done = await stream.until(isSettled);
      expect(done.status).toBe('COMPLETED');
      stream.dispose();
      expect(stream.errors).toEqual([]);
      expect(new Set(stream.events.map((e) => e.jobId))).toEqual(new Set([job.jobId]));
      return { before, job, events: stream.events };
    } finally {
      await client.dispose();
    }
  }

  function assertFailedOver(jobId: string, kind: 'test' | 'live', vmCloudId: string) {
    const state = api.sim.getState();
    const created = state.vms.find((v) => v.id === vmCloudId && !v.removed)!;
    expect(created.state).toBe('Running');
    // One NIC per mapped network, in source order.
    expect(created.nics.map((n) => n.networkid)).toEqual(networkId(vm, kind === 'test'));
    expect(created.nics.map((n) => DEMO_NETWORKS.find((d) => d.id === n.networkid)!.isTest)).toEqual(vm.mappings.map(() => kind === 'test'));
    if (kind === 'live') {
      expect(created.name).toBe(vm.name);
      expect(created.displayname).toBe(vm.name);
    } else {
      expect(created.name).toBe(hostName(vm.name, testSuffix(jobId)));
    }
    // The replicated volumes, root first (device 0), then the data disks in unit order.
    const attached = state.volumes.filter((v) => !v.removed && v.virtualmachineid === vmCloudId).sort((a, b) => a.deviceid! - b.deviceid!);
    expect(attached.map((v) => v.id)).toEqual(vm.disks.map((d) => d.volumeId));
    expect(attached[0]!.deviceid).toBe(0);
    expect(attached[0]!.type).toBe('ROOT');
    expect(attached.map((v) => v.deviceid)).toEqual(vm.disks.map((_d, i) => i));
    // The template's own ROOT volume did not survive the swap.
    expect(state.volumes.filter((v) => !v.removed && v.name === `ROOT-${created.name}`)).toEqual([]);
    // A snapshot per volume, BackedUp.
    const snapshots = state.snapshots.filter((s) => !s.removed && s.name?.startsWith(jobId));
    expect(snapshots.map((s) => s.volumeid).sort()).toEqual(vm.disks.map((d) => d.volumeId).sort());
    expect(snapshots.every((s) => s.state === 'BackedUp')).toBe(true);
    return snapshots;
  }

  async function unwind(jobId: string, mutation: string, expected: string[]) {
    const client = wsClient(api.wsUrl);
    try {
      const data = await gqlData<Record<string, { status: string }>>(api.url, mutation, { jobId });
      expect(Object.values(data)[0]!.status).toBe(expected[0]);
      const stream = subscribeEvents(client, { jobId, afterSequence: 0 });
      const done = await stream.until((e) => e.status === expected[1]);
      stream.dispose();
      return { done, events: stream.events };
    } finally {
      await client.dispose();
    }
  }

  it('test failover: exactly the design’s transitions, then a running copy on the test networks; cleanup restores the cloud', async () => {
    const { before, job, events } = await runFlow('test');
    expect(transitions(events)).toEqual(FAILOVER_TRANSITIONS);
    // Progress is honest: it never goes back, and only the end is 100.
    const percents = events.map((e) => e.progressPercent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.filter((p) => p === 100)).toHaveLength(1);
    const sequences = events.map((e) => e.sequence);
    expect(new Set(sequences).size).toBe(sequences.length);

    const { failoverJob } = await gqlData<{ failoverJob: Record<string, any> }>(api.url, JOB, { jobId: job.jobId });
    expect(failoverJob).toMatchObject({ status: 'COMPLETED', active: false, progressPercent: 100, type: 'TEST' });
    expect(failoverJob.startedAt).not.toBeNull();
    expect(failoverJob.completedAt).not.toBeNull();
    const snapshots = assertFailedOver(job.jobId, 'test', failoverJob.destinationVmId);
    // The ledger, as the API shows it: every call the failover made, done, in order.
    const { failoverJob: withLedger } = await gqlData<{ failoverJob: { ledger: { action: string; resourceId: string | null; state: string }[] } }>(
      api.url,
      'query ($jobId: String!) { failoverJob(jobId: $jobId) { ledger { action resourceType resourceId state } } }',
      { jobId: job.jobId },
    );
    const n = vm.disks.length;
    // Each volume off the appliance, then snapshotted detached (a stock KVM cloud refuses a
    // snapshot of a volume on a Running VM); then the VM, the root swap, the data disks, the start.
    expect(withLedger.ledger.map((e) => e.action)).toEqual([
      ...vm.disks.flatMap(() => ['detach_volume', 'create_snapshot']),
      'deploy_vm',
      'detach_template_root',
      ...Array(n).fill('attach_volume'),
      'start_vm',
    ]);
    expect(withLedger.ledger.every((e) => e.state === 'done')).toBe(true);
    expect(withLedger.ledger.find((e) => e.action === 'deploy_vm')!.resourceId).toBe(failoverJob.destinationVmId);
    expect(snapshots.map((s) => s.id)).toContain(failoverJob.osseaSnapshotId);
    expect(snapshots.find((s) => s.id === failoverJob.osseaSnapshotId)!.volumeid).toBe(vm.disks[0]!.volumeId);

    const cleanup = await unwind(job.jobId, CLEANUP, ['CLEANUP', 'CLEANED_UP']);
    expect(transitions(cleanup.events).slice(-2)).toEqual(['CLEANUP', 'CLEANED_UP']);
    const after = cloudView(api.sim.getState());
    expect(after).toEqual(before);
    // Volumes are back on the appliance at their original device ids.
    for (const disk of vm.disks) {
      const volume = api.sim.getState().volumes.find((v) => v.id === disk.volumeId)!;
      expect([volume.virtualmachineid, volume.deviceid]).toEqual([DEMO_APPLIANCE_VM.id, disk.applianceDeviceId]);
    }
    const { failoverJob: ended } = await gqlData<{ failoverJob: Record<string, any> }>(api.url, JOB, { jobId: job.jobId });
    expect(ended.status).toBe('CLEANED_UP');
    // Every ledger entry of the job is settled (nothing only intended).
    const ledger = await api.orm.em.fork().find(FailoverLedgerEntry, { jobId: job.jobId });
    expect(ledger.filter((e) => e.state === LedgerState.INTENT)).toEqual([]);
  });

  it('live failover carries the source name; revert restores the cloud and ends reverted', async () => {
    const { before, job, events } = await runFlow('live');
    expect(transitions(events)).toEqual(FAILOVER_TRANSITIONS);
    const { failoverJob } = await gqlData<{ failoverJob: Record<string, any> }>(api.url, JOB, { jobId: job.jobId });
    expect(failoverJob.type).toBe('LIVE');
    assertFailedOver(job.jobId, 'live', failoverJob.destinationVmId);

    const revert = await unwind(job.jobId, REVERT, ['REVERTING', 'REVERTED']);
    expect(transitions(revert.events).slice(-2)).toEqual(['REVERTING', 'REVERTED']);
    expect(cloudView(api.sim.getState())).toEqual(before);
    // The volumes were reverted to the job's snapshots before they went back.
    for (const disk of vm.disks) {
      const volume = api.sim.getState().volumes.find((v) => v.id === disk.volumeId)!;
      expect(volume.revertedto).toBeDefined();
    }
    const { failoverJob: ended } = await gqlData<{ failoverJob: Record<string, any> }>(api.url, JOB, { jobId: job.jobId });
    expect(ended.status).toBe('REVERTED');
  });
});
