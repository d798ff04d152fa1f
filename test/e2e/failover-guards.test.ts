import { hostName, testSuffix } from '../../src/failover/engine/plan.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NETWORKS, DEMO_VMS } from '../../src/demo/demo-world.js';
import { FailoverExecution } from '../../src/entities/index.js';
import { waitFor } from '../helpers/cloudstack.js';
import { CLEANUP, cloudView, FAST_ENGINE, JOB, START_LIVE, START_TEST, startFailoverApi, subscribeEvents, type FailoverHarness } from '../helpers/failover.js';
import { gqlData, gqlError, wsClient } from '../helpers/graphql.js';
import { latestSequence } from '../../src/events/event-store.js';

/**
 * Guards found in review: a rollback never touches a VM that is not the job's (one that carried
 * the host name before); the database going away mid-step breaks the run off (resumed later)
 * instead of failing the job; a failed automatic cleanup is tried again on its own.
 */

const WEB = DEMO_VMS[0]!;
const PRODUCTION_NETWORK = DEMO_NETWORKS.find((n) => !n.isTest && n.id === WEB.mappings[0]!.productionNetworkId)!;

interface Job {
  jobId: string;
  status: string;
  failedStep: string | null;
  errorMessage: string | null;
  autoCleanupAt: string | null;
}

describe('failover guards (MariaDB, simulator over HTTP)', () => {
  let api: FailoverHarness;
  beforeAll(async () => {
    api = await startFailoverApi('guards');
  });
  afterAll(() => api?.close());
  afterEach(() => api.sim.faults.clear());

  const job = async (jobId: string) => (await gqlData<{ failoverJob: Job }>(api.url, JOB, { jobId })).failoverJob;
  const settled = (jobId: string, status: string) =>
    waitFor(
      async () => {
        const current = await job(jobId);
        return current.status === status ? current : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );

  const deployStranger = () =>
    api.client.deployVirtualMachine({
      zoneId: api.sim.ids.zoneId,
      serviceOfferingId: api.sim.ids.serviceOfferingId,
      templateId: api.sim.ids.templateId,
      networkIds: [PRODUCTION_NETWORK.id],
      name: WEB.name,
      startVm: false,
      cpuNumber: 1,
      memoryMb: 512,
    });
  /** Expunges the stranger (as an admin would: this key may not). */
  const forget = async (vmId: string) => {
    api.sim.configure({ callerIsAdmin: true });
    try {
      if (!api.sim.getState().vms.find((v) => v.id === vmId)?.removed) await api.client.destroyVirtualMachine({ id: vmId, expunge: true });
    } finally {
      api.sim.configure({ callerIsAdmin: false });
    }
  };

  it('a live failover is refused (VM_NOT_READY) while another VM holds the source host name on a production network', async () => {
    const stranger = await deployStranger();
    try {
      const error = await gqlError(api.url, START_LIVE, { input: { vmId: WEB.vmId } });
      expect(error.extensions?.code).toBe('VM_NOT_READY');
      const check = (error.extensions!.checks as { name: string; message: string }[]).find((c) => c.name === 'cloud_unwind_possible');
      expect(check?.message).toBe(`Host name ${WEB.name} is held by VM ${stranger.id} (Stopped) on a production network the failover VM joins`);
    } finally {
      await forget(stranger.id);
    }
  });

  it('a VM that takes the host name after validation is neither adopted nor destroyed by the rollback', async () => {
    // A live failover's VM carries the source's name (a test VM's name is the job's own). The
    // stranger appears while the job snapshots, after its readiness passed.
    api.sim.faults.add({ command: 'createSnapshot', kind: 'latency', ms: 600, count: 1 });
    const before = cloudView(api.sim.getState());
    const { startLiveFailover: started } = await gqlData<{ startLiveFailover: Job }>(api.url, START_LIVE, { input: { vmId: WEB.vmId } });
    await waitFor(async () => (await job(started.jobId)).status === 'SNAPSHOTTING', { timeoutMs: 20_000, intervalMs: 20 });
    const stranger = await deployStranger();
    try {
      const failed = await settled(started.jobId, 'FAILED');
      expect(failed.failedStep).toBe('create_vm');
      expect(failed.errorMessage).toMatch(new RegExp(`Host name ${WEB.name} is already used by VM ${stranger.id}`));
      // The stranger is untouched, and nothing else changed.
      expect(api.sim.getState().vms.find((v) => v.id === stranger.id)).toMatchObject({ state: 'Stopped' });
      expect(api.sim.getState().vms.find((v) => v.id === stranger.id)!.removed).toBeUndefined();
      await forget(stranger.id);
      expect(cloudView(api.sim.getState())).toEqual(before);
    } finally {
      await forget(stranger.id);
    }
  });

  it('an automatic cleanup that fails is scheduled again, and succeeds when its time comes', async () => {
    const before = cloudView(api.sim.getState());
    const { startTestFailover: started } = await gqlData<{ startTestFailover: Job }>(api.url, START_TEST, {
      input: { vmId: WEB.vmId, autoCleanupAfterMinutes: 1 },
    });
    await settled(started.jobId, 'COMPLETED');
    // The cleanup's revert is refused once; then its time is made due (the stored time is the seam).
    api.sim.faults.add({ command: 'revertSnapshot', kind: 'jobFailure', errorCode: 431, errorText: 'revert refused for the test' });
    await api.orm.em.fork().nativeUpdate(FailoverExecution, { jobId: started.jobId }, { autoCleanupAt: Date.now() });
    const failedOnce = await waitFor(
      async () => {
        const current = await job(started.jobId);
        return current.status === 'COMPLETED' && current.errorMessage ? current : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    expect(failedOnce.errorMessage).toMatch(/cleanup failed at revert_volumes: .*revert refused for the test.*automatic cleanup retries at/);
    const retryAt = Date.parse(failedOnce.autoCleanupAt!);
    expect(retryAt - Date.now()).toBeGreaterThan(4 * 60_000);
    expect(retryAt - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    // Due again: the retry resumes at the failed step and the cloud is as before the failover.
    await api.orm.em.fork().nativeUpdate(FailoverExecution, { jobId: started.jobId }, { autoCleanupAt: Date.now() });
    await settled(started.jobId, 'CLEANED_UP');
    expect(cloudView(api.sim.getState())).toEqual(before);
  });

  it('the database going away mid-step is not a step failure: the job resumes and completes, nothing rolled back', async () => {
    const client = wsClient(api.wsUrl);
    try {
      const stream = subscribeEvents(client, { vmId: WEB.vmId, afterSequence: await latestSequence(api.orm.em.fork()) });
      // The start takes a while, and the ledger table disappears while it runs.
      api.sim.faults.add({ command: 'startVirtualMachine', kind: 'latency', ms: 600 });
      const { startTestFailover: started } = await gqlData<{ startTestFailover: Job }>(api.url, START_TEST, { input: { vmId: WEB.vmId } });
      await stream.until((e) => e.status === 'POWERING_ON');
      const connection = api.orm.em.getConnection();
      await connection.execute('RENAME TABLE failover_ledger TO failover_ledger_away');
      try {
        // The broken-off run keeps its lease until it runs out; then the job is claimed again and its
        // resume fails too while the table is away. Wait for such a claim: a lease whose term began
        // after the one seen before had ended (a renewal always begins before).
        let seen: number | undefined;
        await waitFor(
          async () => {
            const row = await api.orm.em.fork().findOne(FailoverExecution, { jobId: started.jobId }, { disableIdentityMap: true });
            const expires = row?.leaseExpiresAt ? Number(row.leaseExpiresAt) : undefined;
            if (expires !== undefined && seen !== undefined && expires - FAST_ENGINE.leaseMs >= seen) return true;
            if (expires !== undefined) seen = expires;
            return false;
          },
          { timeoutMs: 20_000, intervalMs: 20 },
        );
        expect((await job(started.jobId)).status).toBe('POWERING_ON');
      } finally {
        await connection.execute('RENAME TABLE failover_ledger_away TO failover_ledger');
      }
      const done = await settled(started.jobId, 'COMPLETED');
      expect(done.errorMessage).toBeNull();
      expect(stream.events.some((e) => e.status === 'FAILED' || /rolling back/.test(e.message ?? ''))).toBe(false);
      expect(api.sim.getState().vms.filter((v) => !v.removed && v.name === hostName(WEB.name, testSuffix(started.jobId)))).toHaveLength(1);
      stream.dispose();
      await gqlData(api.url, CLEANUP, { jobId: started.jobId });
      await settled(started.jobId, 'CLEANED_UP');
    } finally {
      await client.dispose();
    }
  });

  it('a manual cleanup that fails is not retried on its own', async () => {
    const { startTestFailover: started } = await gqlData<{ startTestFailover: Job }>(api.url, START_TEST, { input: { vmId: WEB.vmId } });
    await settled(started.jobId, 'COMPLETED');
    api.sim.faults.add({ command: 'revertSnapshot', kind: 'jobFailure', errorCode: 431, errorText: 'refused' });
    await gqlData(api.url, CLEANUP, { jobId: started.jobId });
    const failed = await waitFor(
      async () => {
        const current = await job(started.jobId);
        return current.status === 'COMPLETED' && current.errorMessage ? current : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    expect(failed.autoCleanupAt).toBeNull();
    expect(failed.errorMessage).toMatch(/run cleanupTestFailover again to resume$/);
    await gqlData(api.url, CLEANUP, { jobId: started.jobId });
    await settled(started.jobId, 'CLEANED_UP');
  });
});
