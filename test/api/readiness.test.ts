import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailoverJob, FailoverStatus, FailoverType } from '../../src/entities/index.js';
import { insertFailoverJob, insertVm } from '../helpers/fixtures.js';
import { gqlData, gqlError } from '../helpers/graphql.js';
import { DATABASE_KINDS, startApi, type ApiHarness } from '../helpers/api-server.js';

const READINESS = `query ($vmId: String!, $type: FailoverType!) {
  vmReadiness(vmId: $vmId, type: $type) { vmId type ready checks { name kind passed message blockingJobId } }
}`;

interface Check {
  name: string;
  kind: string;
  passed: boolean;
  message: string;
  blockingJobId: string | null;
}

describe.each(DATABASE_KINDS)('on %s', (kind) => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('readiness', { kind });
  });
  afterAll(() => api?.close());

  // vmReadiness runs the cloud checks too: the cloud holds what the database says was replicated
  // (these tests are about the database checks; test/e2e/readiness-cloud is about the cloud's).
  async function readiness(vmId: string, type: 'TEST' | 'LIVE' = 'TEST') {
    await api.services.mirrorDatabase();
    const data = await gqlData<{ vmReadiness: { vmId: string; type: string; ready: boolean; checks: Check[] } }>(api.url, READINESS, { vmId, type });
    const byName = Object.fromEntries(data.vmReadiness.checks.map((c) => [c.name, c]));
    return { ...data.vmReadiness, byName };
  }

  /** The failing database checks (a cloud check whose database prerequisite failed says "Not checked"). */
  const failing = (checks: Check[]) => checks.filter((c) => !c.passed && c.kind === 'DATABASE').map((c) => c.name);

  describe('vmReadiness', () => {
    it('passes every check for a fully replicated, mapped VM, for both kinds', async () => {
      const vm = await insertVm(api.orm.em, { networks: ['VM Network', 'Backend'] });
      for (const type of ['TEST', 'LIVE'] as const) {
        const r = await readiness(vm.vmId, type);
        expect(r.ready).toBe(true);
        expect(r.type).toBe(type);
        expect(r.checks.map((c) => c.name)).toEqual([
          'vm_known',
          'replication_completed',
          'cbt_change_id',
          'vm_spec',
          'disk_volumes',
          'network_mappings',
          'no_active_replication',
          'no_active_failover',
          'volumes_not_held',
          'cloud_volumes_ready',
          'cloud_destination_networks',
          'cloud_unwind_possible',
        ]);
        expect(r.checks.map((c) => c.kind)).toEqual([...Array(9).fill('DATABASE'), 'CLOUD', 'CLOUD', 'CLOUD']);
        expect(r.checks.every((c) => c.passed && c.message.length > 0)).toBe(true);
      }
    });

    it('an unknown VM fails vm_known and the checks that depend on it say they were not checked', async () => {
      const r = await readiness('no-such-vm');
      expect(r.ready).toBe(false);
      expect(r.byName.vm_known!.message).toMatch(/No replication job exists for VM no-such-vm/);
      expect(r.byName.replication_completed!.message).toBe('Not checked: vm_known failed');
      expect(r.byName.network_mappings!.message).toMatch(/^Not checked/);
      expect(r.byName.no_active_failover!.passed).toBe(true);
    });

    it('fails when the latest replication job has not completed', async () => {
      const vm = await insertVm(api.orm.em, { replicationStatus: 'failed' });
      const r = await readiness(vm.vmId);
      expect(failing(r.checks)).toEqual(['replication_completed']);
      expect(r.byName.replication_completed!.message).toBe(`Latest replication job ${vm.replicationJobId} is failed, not completed`);
    });

    it('fails while any replication job of the VM is active, also an older one', async () => {
      const vm = await insertVm(api.orm.em, { olderReplications: [{ status: 'running' }] });
      const r = await readiness(vm.vmId);
      expect(failing(r.checks)).toEqual(['no_active_replication']);
      expect(r.byName.no_active_replication!.message).toMatch(/Replication job job-.*-old0 is still running/);
    });

    it.each([
      ['failed', 'failed sync'],
      ['empty-change-id', 'empty change id'],
      ['none', 'no sync at all'],
    ] as const)('fails cbt_change_id with %s (%s)', async (cbt, _label) => {
      const vm = await insertVm(api.orm.em, { cbt });
      const r = await readiness(vm.vmId);
      expect(failing(r.checks)).toEqual(['cbt_change_id']);
      expect(r.byName.cbt_change_id!.message).toMatch(/has no successful CBT sync with a change id/);
    });

    it('fails vm_spec without a spec disk, and with zero memory', async () => {
      const noSpec = await insertVm(api.orm.em, { withSpec: false });
      const r1 = await readiness(noSpec.vmId);
      expect(failing(r1.checks)).toEqual(['vm_spec', 'network_mappings']);
      expect(r1.byName.vm_spec!.message).toMatch(/recorded no VM spec/);
      const zero = await insertVm(api.orm.em, { memoryMb: 0 });
      const r2 = await readiness(zero.vmId);
      expect(failing(r2.checks)).toEqual(['vm_spec']);
      expect(r2.byName.vm_spec!.message).toBe('VM spec is incomplete: 2 vCPU, 0 MB memory');
    });

    it('fails disk_volumes naming the disk that has no volume', async () => {
      const vm = await insertVm(api.orm.em, { disks: 3, disksWithoutVolume: [1] });
      const r = await readiness(vm.vmId);
      expect(failing(r.checks)).toEqual(['disk_volumes']);
      expect(r.byName.disk_volumes!.message).toBe('No CloudStack volume for disk Hard disk 2');
    });

    it('needs test mappings for a test failover and production ones for a live failover', async () => {
      const liveOnly = await insertVm(api.orm.em, { networks: ['VM Network', 'Backend'], mapTest: false });
      const test = await readiness(liveOnly.vmId, 'TEST');
      expect(failing(test.checks)).toEqual(['network_mappings']);
      expect(test.byName.network_mappings!.message).toBe('No test network mapping for "VM Network", "Backend" (needed for a test failover)');
      expect((await readiness(liveOnly.vmId, 'LIVE')).ready).toBe(true);

      const testOnly = await insertVm(api.orm.em, { mapLive: false });
      expect((await readiness(testOnly.vmId, 'TEST')).ready).toBe(true);
      const live = await readiness(testOnly.vmId, 'LIVE');
      expect(live.byName.network_mappings!.message).toBe('No production network mapping for "VM Network" (needed for a live failover)');
    });

    it('fails no_active_failover naming the running job', async () => {
      const vm = await insertVm(api.orm.em);
      for (const status of [FailoverStatus.PENDING, FailoverStatus.EXECUTING, FailoverStatus.SWITCHING_VOLUME, FailoverStatus.CLEANUP]) {
        const job = await insertFailoverJob(api.orm.em, { vmId: vm.vmId, status });
        const r = await readiness(vm.vmId, 'LIVE');
        expect(failing(r.checks)).toEqual(['no_active_failover']);
        expect(r.byName.no_active_failover!.blockingJobId).toBe(job.jobId);
        expect(r.byName.no_active_failover!.message).toContain(`(${status}) is in progress`);
        await api.orm.em.fork().nativeUpdate(FailoverJob, { id: job.id }, { status: FailoverStatus.FAILED });
      }
      expect((await readiness(vm.vmId, 'LIVE')).ready).toBe(true);
    });

    it('a completed test failover holds the volumes until it is cleaned up, for test and live', async () => {
      const vm = await insertVm(api.orm.em);
      const job = await insertFailoverJob(api.orm.em, { vmId: vm.vmId, type: FailoverType.TEST, status: FailoverStatus.COMPLETED });
      for (const type of ['TEST', 'LIVE'] as const) {
        const r = await readiness(vm.vmId, type);
        expect(failing(r.checks)).toEqual(['volumes_not_held']);
        expect(r.byName.volumes_not_held!.message).toBe(`Test failover ${job.jobId} still holds the volumes: clean it up first`);
        expect(r.byName.volumes_not_held!.blockingJobId).toBe(job.jobId);
      }
      await api.orm.em.fork().nativeUpdate(FailoverJob, { id: job.id }, { status: FailoverStatus.CLEANED_UP });
      expect((await readiness(vm.vmId, 'LIVE')).ready).toBe(true);
    });

    it('a live failover in effect blocks every new failover until it is reverted', async () => {
      const vm = await insertVm(api.orm.em);
      const job = await insertFailoverJob(api.orm.em, { vmId: vm.vmId, type: FailoverType.LIVE, status: FailoverStatus.COMPLETED });
      const r = await readiness(vm.vmId, 'TEST');
      expect(r.byName.volumes_not_held!.message).toBe(`Live failover ${job.jobId} is in effect: revert it first`);
      await api.orm.em.fork().nativeUpdate(FailoverJob, { id: job.id }, { status: FailoverStatus.REVERTED });
      expect((await readiness(vm.vmId, 'TEST')).ready).toBe(true);
    });

    it('rejects an empty vmId and an unknown type with codes', async () => {
      const empty = await gqlError(api.url, READINESS, { vmId: ' ', type: 'TEST' });
      expect(empty.extensions?.code).toBe('BAD_USER_INPUT');
      const badType = await gqlError(api.url, READINESS, { vmId: 'x', type: 'BOTH' });
      expect(badType.extensions?.code).toBe('BAD_USER_INPUT');
    });
  });
});
