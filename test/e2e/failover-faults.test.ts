import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultSpec } from '../../src/cloudstack/simulator/faults.js';
import { DEMO_NETWORKS, DEMO_VMS, type DemoVm } from '../../src/demo/demo-world.js';
import { FailoverExecution, FailoverLedgerEntry, LedgerState } from '../../src/entities/index.js';
import { latestSequence } from '../../src/events/event-store.js';
import { waitFor } from '../helpers/cloudstack.js';
import { gqlData, gqlError, wsClient } from '../helpers/graphql.js';
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
 * Done-when 4: a fault injected at each failover step in turn ends the job `failed`, naming the
 * step and the cloud's own words, with the cloud exactly as it was before the job — for db-01 (two
 * disks, two networks, so a fault on the second call of a step leaves partial work inside the step
 * to undo), for test and live failovers. Transient faults are retried within the step; a fault in
 * an unwind (cleanup, revert) leaves the job completed and resumable.
 */

const [WEB, DB] = DEMO_VMS as [DemoVm, DemoVm];
type Kind = 'test' | 'live';
type Job = Record<string, any> & { jobId: string; status: string };

/** The statuses a failover publishes, step by step, after PENDING. */
const STEP_STATUS = {
  validate: 'VALIDATING',
  snapshot_volumes: 'SNAPSHOTTING',
  create_vm: 'CREATING_VM',
  switch_volumes: 'SWITCHING_VOLUME',
  power_on: 'POWERING_ON',
} as const;
type StepName = keyof typeof STEP_STATUS;
const STEPS = Object.keys(STEP_STATUS) as StepName[];

/** The transitions a failover that failed at `step` publishes. */
const transitionsUpTo = (step: StepName) => ['PENDING', ...Object.values(STEP_STATUS).slice(0, STEPS.indexOf(step) + 1), 'FAILED'];

/** The destination network ids a VM's failover of `kind` uses. */
const destinationNetworks = (vm: DemoVm, kind: Kind) => vm.mappings.map((m) => (kind === 'test' ? m.testNetworkId : m.productionNetworkId)!);

describe('fault injection on MariaDB', () => {
  let api: FailoverHarness;
  beforeAll(async () => {
    // Many live failovers of one VM back to back: a key that may expunge (otherwise a reverted live VM, Destroyed
    // until the cloud's expunge.delay, keeps the source's host name and the next live failover must wait for it).
    api = await startFailoverApi('faults', { sim: { settings: { allowUserExpungeRecoverVm: true } } });
  });
  afterAll(() => api?.close());
  afterEach(() => {
    api.sim.faults.clear();
  });

  /** Starts a failover and follows it (a graphql-ws subscriber, from before the job existed) until it settles. */
  async function failover(kind: Kind, vm: DemoVm, duringRun?: (job: Job) => Promise<void>) {
    const before = cloudView(api.sim.getState());
    const client = wsClient(api.wsUrl);
    try {
      const stream = subscribeEvents(client, { vmId: vm.vmId, afterSequence: await latestSequence(api.orm.em.fork()) });
      const data = await gqlData<Record<string, Job>>(api.url, kind === 'test' ? START_TEST : START_LIVE, { input: { vmId: vm.vmId } });
      const job = Object.values(data)[0]!;
      expect(job.status).toBe('PENDING');
      await duringRun?.(job);
      const settled = await stream.until(isSettled);
      stream.dispose();
      expect(stream.errors).toEqual([]);
      expect(new Set(stream.events.map((e) => e.jobId))).toEqual(new Set([job.jobId]));
      const { failoverJob } = await gqlData<{ failoverJob: Job }>(api.url, JOB, { jobId: job.jobId });
      return { before, job: failoverJob, settled, events: [...stream.events] };
    } finally {
      await client.dispose();
    }
  }

  /** Runs `mutation` (cleanup or revert) on a job and follows it until `until` (a status). */
  async function unwind(jobId: string, mutation: string, until: string) {
    const client = wsClient(api.wsUrl);
    try {
      const afterSequence = await latestSequence(api.orm.em.fork());
      const stream = subscribeEvents(client, { jobId, afterSequence });
      const data = await gqlData<Record<string, Job>>(api.url, mutation, { jobId });
      expect(Object.values(data)[0]!.status).toBe(mutation === CLEANUP ? 'CLEANUP' : 'REVERTING');
      const done = await stream.until((e) => e.status === until && e.previousStatus !== until);
      stream.dispose();
      expect(stream.errors).toEqual([]);
      const { failoverJob } = await gqlData<{ failoverJob: Job }>(api.url, JOB, { jobId });
      return { done, job: failoverJob, events: [...stream.events] };
    } finally {
      await client.dispose();
    }
  }

  async function ledgerOf(jobId: string) {
    return api.orm.em.fork().find(FailoverLedgerEntry, { jobId }, { orderBy: { id: 'asc' } });
  }

  /** A failed job lets go of the VM, and undid every cloud call it recorded. */
  async function assertRolledBack(jobId: string) {
    const execution = await api.orm.em.fork().findOneOrFail(FailoverExecution, { jobId }, { disableIdentityMap: true });
    expect(execution.vmLock ?? null).toBeNull();
    const ledger = await ledgerOf(jobId);
    expect(ledger.filter((e) => e.state !== LedgerState.UNDONE).map((e) => `${e.actionKey}:${e.state}`)).toEqual([]);
    return ledger;
  }

  describe.each(['test', 'live'] as const)('%s failover of db-01: a non-retryable fault at each step', (kind) => {
    const text = (step: string) => `INJECTED-${kind}-${step}: the cloud refuses`;

    /** How each step is made to fail, for good: its own command, on the second call where a step makes two. */
    const FAULTS: Record<Exclude<StepName, 'validate'>, FaultSpec> = {
      // The second volume's snapshot: the first one is taken and must be deleted again.
      snapshot_volumes: { command: 'createSnapshot', kind: 'jobFailure', nth: 2, count: 0, errorCode: 431, errorText: text('snapshot_volumes') },
      // Both snapshots exist. Test: the deploy's job fails (a VM in Error and its ROOT volume are
      // left to destroy); live: the deploy is refused outright.
      create_vm: { command: 'deployVirtualMachine', kind: kind === 'test' ? 'jobFailure' : 'error', count: 0, errorCode: 431, errorText: text('create_vm') },
      // The template root is gone, the root volume moved to the new VM, the data disk detached from
      // the appliance: all of it goes back. count 1: compensation attaches volumes again.
      switch_volumes: { command: 'attachVolume', kind: 'jobFailure', nth: 2, count: 1, errorCode: 431, errorText: text('switch_volumes') },
      // Everything done but the start.
      power_on: { command: 'startVirtualMachine', kind: 'jobFailure', count: 0, errorCode: 431, errorText: text('power_on') },
    };

    it.each(STEPS)('fails at %s, names it, and leaves the cloud as it was', async (step) => {
      let duringRun: ((job: Job) => Promise<void>) | undefined;
      let restore = () => {};
      if (step === 'validate') {
        // The start's own readiness looks both destination networks up (calls 1 and 2); the job's
        // validation asks again (3 and 4). Those two are held while one network disappears from
        // the cloud, so that the job's readiness check finds it missing.
        expect(api.sim.faults.calls().listNetworks ?? 0).toBe(0);
        const hold = api.sim.faults.add({ command: 'listNetworks', kind: 'latency', nth: 3, count: 2, ms: 1_500 });
        const vanishing = destinationNetworks(DB, kind)[1]!;
        duringRun = async () => {
          await waitFor(() => hold.seen >= 4, { timeoutMs: 10_000 });
          api.sim.update((world) => {
            const index = world.networks.findIndex((n) => n.id === vanishing);
            const [network] = world.networks.splice(index, 1);
            restore = () => api.sim.update((w) => void w.networks.splice(index, 0, network!));
          });
        };
      } else {
        api.sim.faults.add(FAULTS[step]);
      }
      try {
        const { before, job, settled, events } = await failover(kind, DB, duringRun);

        expect(settled.status).toBe('FAILED');
        expect(settled.step).toBe(step);
        expect(transitions(events)).toEqual(transitionsUpTo(step));
        expect(events.map((e) => e.status)).not.toContain('COMPLETED');
        expect(events.some((e) => e.step === step && e.message?.startsWith(`${step} failed:`) && e.message.endsWith('rolling back'))).toBe(true);
        expect(settled.message).toMatch(/Rolled back: the cloud is as it was before the job/);

        expect(job).toMatchObject({ status: 'FAILED', rawStatus: 'failed', active: false, failedStep: step, type: kind.toUpperCase() });
        expect(job.errorMessage).toContain(`Failed at ${step}: `);
        if (step === 'validate') {
          const vanished = DEMO_NETWORKS.find((n) => n.id === destinationNetworks(DB, kind)[1])!;
          expect(job.errorMessage).toContain('cloud_destination_networks');
          expect(job.errorMessage).toContain(`(${vanished.id}) that "Backend Network" maps to does not exist in CloudStack`);
        } else {
          expect(job.errorMessage).toContain(`${FAULTS[step].command}: ${text(step)}`);
        }
        expect(job.completedAt).not.toBeNull();

        // Nothing left behind: every live VM, volume (and where it is attached), snapshot and VM snapshot as before.
        expect(cloudView(api.sim.getState())).toEqual(before);
        const ledger = await assertRolledBack(job.jobId);
        if (step !== 'validate') expect(ledger.length).toBeGreaterThan(0);
        if (step === 'validate') expect(ledger).toEqual([]);
      } finally {
        restore();
      }
    });
  });

  describe('refusals a stock cloud gives', () => {
    it('"busy, try again later" (another snapshot task on the VM) is waited out, never a failure', async () => {
      api.sim.faults.add({
        command: 'createSnapshot',
        kind: 'error',
        count: 2,
        errorCode: 431,
        errorText: 'There is other active snapshot tasks on the instance to which the volume is attached, please try again later',
      });
      const { before, job, settled, events } = await failover('test', WEB);
      expect(settled.status).toBe('COMPLETED');
      const retries = events.filter((e) => /retrying \(attempt \d+\)/.test(e.message ?? ''));
      expect(retries.map((e) => e.step)).toEqual(['snapshot_volumes', 'snapshot_volumes']);
      expect(retries[0]!.message).toMatch(/please try again later; retrying \(attempt 2\)$/);
      await unwind(job.jobId, CLEANUP, 'CLEANED_UP');
      expect(cloudView(api.sim.getState())).toEqual(before);
    });

    it('storage that cannot revert snapshots: the failover stops at the snapshot step, before anything boots on the volumes', async () => {
      api.sim.configure({ snapshotsRevertable: false });
      try {
        const { before, job, settled } = await failover('test', DB);
        expect(settled.status).toBe('FAILED');
        expect(job).toMatchObject({ status: 'FAILED', failedStep: 'snapshot_volumes' });
        expect(job.errorMessage).toMatch(/CloudStack cannot revert snapshot .* \(revertable: false/);
        expect(cloudView(api.sim.getState())).toEqual(before);
        expect(api.sim.getState().snapshots.filter((s) => !s.removed)).toEqual([]);
      } finally {
        api.sim.configure({ snapshotsRevertable: true });
      }
    });
  });

  describe('transient faults are retried within the step', () => {
    it('test failover: a dropped attachVolume connection (nothing ran) is retried; the job completes', async () => {
      api.sim.faults.add({ command: 'attachVolume', kind: 'drop', when: 'before', count: 1 });
      const { before, job, settled, events } = await failover('test', WEB);
      expect(settled.status).toBe('COMPLETED');
      expect(transitions(events)).toEqual(['PENDING', 'VALIDATING', 'SNAPSHOTTING', 'CREATING_VM', 'SWITCHING_VOLUME', 'POWERING_ON', 'COMPLETED']);
      const retries = events.filter((e) => /retrying \(attempt \d+\)/.test(e.message ?? ''));
      expect(retries.length).toBeGreaterThanOrEqual(1);
      expect(retries[0]).toMatchObject({ status: 'SWITCHING_VOLUME', previousStatus: 'SWITCHING_VOLUME', step: 'switch_volumes' });
      expect(retries[0]!.message).toMatch(/^switch_volumes: attachVolume failed: .*; retrying \(attempt 2\)$/);
      expect(job).toMatchObject({ status: 'COMPLETED', failedStep: null, errorMessage: null });
      // The volume is attached once, to the new VM, at device 0.
      const volume = api.sim.getState().volumes.find((v) => v.id === WEB.disks[0]!.volumeId)!;
      expect([volume.virtualmachineid, volume.deviceid]).toEqual([job.destinationVmId, 0]);

      const cleanup = await unwind(job.jobId, CLEANUP, 'CLEANED_UP');
      expect(cleanup.job.status).toBe('CLEANED_UP');
      expect(cloudView(api.sim.getState())).toEqual(before);
    });

    it('live failover: a lost startVirtualMachine answer (the VM did start) is retried; the job completes with one running VM', async () => {
      api.sim.faults.add({ command: 'startVirtualMachine', kind: 'drop', when: 'after', count: 1 });
      const { before, job, settled, events } = await failover('live', DB);
      expect(settled.status).toBe('COMPLETED');
      expect(transitions(events)).toEqual(['PENDING', 'VALIDATING', 'SNAPSHOTTING', 'CREATING_VM', 'SWITCHING_VOLUME', 'POWERING_ON', 'COMPLETED']);
      const retries = events.filter((e) => /retrying \(attempt \d+\)/.test(e.message ?? ''));
      expect(retries.map((e) => e.step)).toEqual(['power_on']);
      expect(retries[0]!.message).toMatch(/^power_on: startVirtualMachine failed: .*; retrying \(attempt 2\)$/);
      const live = api.sim.getState().vms.filter((v) => !v.removed && v.name === DB.name);
      expect(live.map((v) => [v.id, v.state])).toEqual([[job.destinationVmId, 'Running']]);
      expect(live[0]!.nics.map((n) => n.networkid)).toEqual(destinationNetworks(DB, 'live'));

      const revert = await unwind(job.jobId, REVERT, 'REVERTED');
      expect(revert.job.status).toBe('REVERTED');
      expect(cloudView(api.sim.getState())).toEqual(before);
    });

    it('a sync 530 on a write is not re-sent (it may have done part of its work): the job fails and rolls back', async () => {
      api.sim.faults.add({ command: 'deployVirtualMachine', kind: 'error', errorCode: 530, errorText: 'INJECTED-530: internal error', count: 1 });
      const { before, job, settled, events } = await failover('test', WEB);
      expect(settled.status).toBe('FAILED');
      expect(transitions(events)).toEqual(transitionsUpTo('create_vm'));
      expect(job).toMatchObject({ status: 'FAILED', failedStep: 'create_vm' });
      expect(job.errorMessage).toBe('Failed at create_vm: deployVirtualMachine: INJECTED-530: internal error');
      expect(cloudView(api.sim.getState())).toEqual(before);
      await assertRolledBack(job.jobId);
    });
  });

  describe('faults while unwinding', () => {
    it('cleanup fails at revert_volumes: the job is completed again, says so, and a second cleanup resumes to cleaned_up', async () => {
      const { before, job } = await failover('test', DB);
      expect(job.status).toBe('COMPLETED');
      const snapshots = api.sim.getState().snapshots.filter((s) => !s.removed && s.name?.startsWith(job.jobId));
      expect(snapshots).toHaveLength(2);

      const fault = api.sim.faults.add({
        command: 'revertSnapshot',
        kind: 'jobFailure',
        count: 1,
        errorCode: 431,
        errorText: 'INJECTED-cleanup: revert refused',
      });
      const failed = await unwind(job.jobId, CLEANUP, 'COMPLETED');
      expect(fault.fired).toBe(1);
      expect(transitions(failed.events)).toEqual(['CLEANUP', 'COMPLETED']);
      expect(failed.done.step).toBe('revert_volumes');
      expect(failed.job.status).toBe('COMPLETED');
      expect(failed.job.failedStep).toBe('revert_volumes');
      expect(failed.job.errorMessage).toContain('cleanup failed at revert_volumes: revertSnapshot: INJECTED-cleanup: revert refused');
      expect(failed.job.errorMessage).toContain('run cleanupTestFailover again to resume');
      // Part-way: the test VM is stopped and holds no replicated volume; the VM stays held.
      const state = api.sim.getState();
      expect(state.vms.find((v) => v.id === job.destinationVmId)!.state).toBe('Stopped');
      expect(state.volumes.filter((v) => !v.removed && v.virtualmachineid === job.destinationVmId && DB.disks.some((d) => d.volumeId === v.id))).toEqual([]);
      const held = await gqlError(api.url, START_TEST, { input: { vmId: DB.vmId } });
      expect(held.extensions?.code).toBe('VM_NOT_READY');
      expect(held.extensions?.checks.find((c: { name: string }) => c.name === 'volumes_not_held')).toMatchObject({ blockingJobId: job.jobId });

      const resumed = await unwind(job.jobId, CLEANUP, 'CLEANED_UP');
      expect(transitions(resumed.events)).toEqual(['CLEANUP', 'CLEANED_UP']);
      // It resumed at the step that failed: the stop and detach steps did not run again.
      expect(resumed.events.filter((e) => e.step === 'stop_vm' || e.step === 'detach_volumes')).toEqual([]);
      expect(resumed.job).toMatchObject({ status: 'CLEANED_UP', errorMessage: null, failedStep: null });
      expect(cloudView(api.sim.getState())).toEqual(before);
      for (const disk of DB.disks) {
        const volume = api.sim.getState().volumes.find((v) => v.id === disk.volumeId)!;
        expect(volume.revertedto).toBeDefined();
      }
    });

    it('revert fails at reattach_volumes: the live job is completed again; a second revert resumes to reverted', async () => {
      const { before, job } = await failover('live', WEB);
      expect(job.status).toBe('COMPLETED');

      api.sim.faults.add({ command: 'attachVolume', kind: 'error', count: 1, errorCode: 431, errorText: 'INJECTED-revert: attach refused' });
      const failed = await unwind(job.jobId, REVERT, 'COMPLETED');
      expect(transitions(failed.events)).toEqual(['REVERTING', 'COMPLETED']);
      expect(failed.job).toMatchObject({ status: 'COMPLETED', failedStep: 'reattach_volumes' });
      expect(failed.job.errorMessage).toContain('revert failed at reattach_volumes: attachVolume: INJECTED-revert: attach refused');
      expect(failed.job.errorMessage).toContain('run revertFailover again to resume');

      const resumed = await unwind(job.jobId, REVERT, 'REVERTED');
      expect(resumed.job).toMatchObject({ status: 'REVERTED', errorMessage: null, failedStep: null });
      expect(cloudView(api.sim.getState())).toEqual(before);
      const volume = api.sim.getState().volumes.find((v) => v.id === WEB.disks[0]!.volumeId)!;
      expect([volume.virtualmachineid, volume.deviceid]).toEqual([api.sim.ids.applianceVmIds[0]!, WEB.disks[0]!.applianceDeviceId]);
    });
  });
});
