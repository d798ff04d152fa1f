import { describe, expect, it } from 'vitest';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { DEMO_APPLIANCE_VM, DEMO_VMS } from '../../src/demo/demo-world.js';
import { callRaw, deployParams, rejectionOf, useCloud, waitFor } from '../helpers/cloudstack.js';

/**
 * The rules a stock Apache CloudStack enforces that matter to a failover, each with a success and
 * a refusal in the form (sync or job), code and text CloudStack gives — under the simulator's
 * defaults: a 4.18–4.21 KVM cloud (kvm.snapshot.enabled false, default.page.size 500,
 * allow.user.expunge.recover.vm false) reached with a non-admin key.
 */

const cloud = useCloud();

const WEB_DISK = DEMO_VMS[0]!.disks[0]!.volumeId;
const [DB_OS, DB_DATA] = DEMO_VMS[1]!.disks.map((d) => d.volumeId) as [string, string];
const GENERIC_530 = 'Internal error executing command, please contact your system administrator';
const KVM_TEXT =
  'KVM Snapshot is not supported for Running VMs. It is disabled by default due to a possible volume corruption in certain cases. To enable it set global settings kvm.snapshot.enabled to True. See the documentation for more details.';

const deployStopped = (name: string) => cloud.client.deployVirtualMachine(deployParams(cloud.sim, { name, startVm: false }));

async function expectSync(promise: Promise<unknown>, errorCode: number, errorText: string) {
  const error = await rejectionOf(promise);
  expect(error).toMatchObject({ kind: CloudStackErrorKind.API, httpStatus: errorCode, errorCode, errorText });
}

async function expectJob(promise: Promise<unknown>, errorCode: number, errorText: string) {
  const error = await rejectionOf(promise);
  expect(error).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode, errorText });
}

describe('createSnapshot of a volume attached to a Running KVM VM (SnapshotManagerImpl.supportedByHypervisor)', () => {
  it('is refused synchronously (530) while kvm.snapshot.enabled is false; a non-admin key reads the generic text, nothing is made', async () => {
    await expectSync(cloud.client.createSnapshot({ volumeId: WEB_DISK, name: 'attached' }), 530, GENERIC_530);
    cloud.sim.configure({ callerIsAdmin: true });
    await expectSync(cloud.client.createSnapshot({ volumeId: WEB_DISK, name: 'attached' }), 530, KVM_TEXT);
    expect(cloud.sim.getState().snapshots).toEqual([]);
    expect(cloud.sim.getState({ jobs: true }).jobs).toEqual([]);
  });

  it('is taken once the volume is detached, or once the VM is Stopped, or with kvm.snapshot.enabled (the 4.22 default)', async () => {
    await cloud.client.detachVolume({ id: WEB_DISK });
    expect(await cloud.client.createSnapshot({ volumeId: WEB_DISK, name: 'detached' })).toMatchObject({ state: 'BackedUp' });
    cloud.sim.configure({ kvmSnapshotEnabled: true });
    expect(await cloud.client.createSnapshot({ volumeId: DB_OS, name: 'enabled' })).toMatchObject({ state: 'BackedUp' });
    cloud.sim.configure({ kvmSnapshotEnabled: false });
    await cloud.client.stopVirtualMachine({ id: DEMO_APPLIANCE_VM.id });
    expect(await cloud.client.createSnapshot({ volumeId: DB_DATA, name: 'stopped' })).toMatchObject({ state: 'BackedUp' });
  });
});

describe('createSnapshot while another snapshot of a volume of the same VM is being taken', () => {
  it('is refused synchronously (431, "try again later"); a detached volume does not collide; it works once the first is done', async () => {
    cloud.sim.configure({ kvmSnapshotEnabled: true });
    cloud.sim.setJobLatency(400);
    const first = cloud.client.createSnapshot({ volumeId: DB_OS, name: 'first' });
    await waitFor(() => cloud.sim.getState().snapshots[0]?.state === 'Creating');
    await expectSync(
      cloud.client.createSnapshot({ volumeId: DB_DATA, name: 'second' }),
      431,
      'There is other active snapshot tasks on the instance to which the volume is attached, please try again later',
    );
    await first;
    cloud.sim.setJobLatency(20);
    expect(await cloud.client.createSnapshot({ volumeId: DB_DATA, name: 'second' })).toMatchObject({ state: 'BackedUp' });
  });

  it('does not apply to detached volumes: snapshots of volumes off the same appliance run side by side', async () => {
    await cloud.client.detachVolume({ id: DB_OS });
    await cloud.client.detachVolume({ id: DB_DATA });
    cloud.sim.setJobLatency(400);
    const pending = Promise.all([DB_OS, DB_DATA].map((volumeId) => cloud.client.createSnapshot({ volumeId, name: 'side-by-side' })));
    // Both being taken at one moment: neither refused the other.
    await waitFor(() => {
      const taking = cloud.sim.getState().snapshots.filter((s) => ['Creating', 'CreatedOnPrimary', 'BackingUp'].includes(s.state));
      return taking.length === 2;
    });
    const both = await pending;
    expect(both.map((s) => s.state)).toEqual(['BackedUp', 'BackedUp']);
  });
});

describe('device ids (VolumeApiServiceImpl.getDeviceId) and the data-disk limit (checkNumberOfAttachedVolumes)', () => {
  it('hands out 1, 2, 4 … (3 is reserved) and takes a requested id up to max data volumes + 1 (KVM: 33)', async () => {
    const vm = await deployStopped('devices');
    await cloud.client.detachVolume({ id: DB_OS });
    await cloud.client.detachVolume({ id: DB_DATA });
    await cloud.client.detachVolume({ id: WEB_DISK });
    const ids = [];
    for (const id of [DB_OS, DB_DATA, WEB_DISK]) ids.push((await cloud.client.attachVolume({ id, virtualMachineId: vm.id })).deviceId);
    expect(ids).toEqual([1, 2, 4]);
    await cloud.client.detachVolume({ id: WEB_DISK });
    expect((await cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id, deviceId: 33 })).deviceId).toBe(33);
  });

  it('refuses device 3 and ids above the maximum in the job (530 "deviceId should be 0,1,2,4-33"), and an id in use (530)', async () => {
    const vm = await deployStopped('devices');
    await cloud.client.detachVolume({ id: WEB_DISK });
    await expectJob(cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id, deviceId: 3 }), 530, 'deviceId should be 0,1,2,4-33');
    await expectJob(cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id, deviceId: 34 }), 530, 'deviceId should be 0,1,2,4-33');
    await expectJob(
      cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: DEMO_APPLIANCE_VM.id, deviceId: 2 }),
      530,
      `deviceId 2 is used by vm ${DEMO_APPLIANCE_VM.id}`,
    );
    expect(cloud.sim.getState().volumes.find((v) => v.id === WEB_DISK)!.virtualmachineid).toBeUndefined();
  });

  it('refuses a data disk beyond the hypervisor limit (job 431), and takes it below', async () => {
    cloud.sim.configure({ maxDataVolumes: { KVM: 2 } });
    const vm = await deployStopped('full');
    for (const id of [DB_OS, DB_DATA, WEB_DISK]) await cloud.client.detachVolume({ id });
    await cloud.client.attachVolume({ id: DB_OS, virtualMachineId: vm.id });
    await cloud.client.attachVolume({ id: DB_DATA, virtualMachineId: vm.id });
    await expectJob(
      cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id }),
      431,
      'The specified VM already has the maximum number of data disks (2) attached. Please specify another VM.',
    );
    // The limit is checked only for data disks: a root swap at device 0 still works.
    await cloud.client.detachVolume({ virtualMachineId: vm.id, deviceId: 0 });
    expect((await cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id, deviceId: 0 })).deviceId).toBe(0);
  });
});

describe('revertSnapshot (SnapshotManagerImpl.revertSnapshot)', () => {
  it('fails the job (530) where no snapshot strategy can revert; the snapshot says so in revertable', async () => {
    cloud.sim.configure({ snapshotsRevertable: false });
    await cloud.client.detachVolume({ id: WEB_DISK });
    const snapshot = await cloud.client.createSnapshot({ volumeId: WEB_DISK, name: 'no-revert' });
    expect(snapshot.revertable).toBe(false);
    await expectJob(
      cloud.client.revertSnapshot({ id: snapshot.id }),
      530,
      `Revert snapshot command failed for snapshot with id ${snapshot.id}, because this command is supported only for KVM hypervisor`,
    );
    cloud.sim.configure({ snapshotsRevertable: true });
    const revertable = await cloud.client.createSnapshot({ volumeId: WEB_DISK, name: 'revert' });
    expect(revertable.revertable).toBe(true);
    await cloud.client.revertSnapshot({ id: revertable.id });
  });

  it('fails the job (431) for a volume of a VM with VM snapshots', async () => {
    const vm = await cloud.client.deployVirtualMachine(deployParams(cloud.sim, { name: 'with-vm-snapshot' }));
    const [root] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });
    await cloud.client.stopVirtualMachine({ id: vm.id });
    const snapshot = await cloud.client.createSnapshot({ volumeId: root!.id, name: 'root' });
    await cloud.client.createVMSnapshot({ virtualMachineId: vm.id, name: 'vmsnap' });
    await expectJob(
      cloud.client.revertSnapshot({ id: snapshot.id }),
      431,
      'Unable to revert snapshot for VM, please remove VM snapshots before reverting VM from snapshot',
    );
  });
});

describe('lists: page size (BaseListCmd) and projects (AccountManagerImpl.buildACLSearchParameters)', () => {
  const list = (extra: [string, string][]) => callRaw(cloud.sim, 'listVolumes', extra);

  it('refuses a pagesize above default.page.size (431), takes it up to there, and -1 for everything (without page)', async () => {
    const over = await list([
      ['page', '1'],
      ['pagesize', '501'],
    ]);
    expect([over.status, over.json.listvolumesresponse!.errortext]).toEqual([431, "Page size can't exceed max allowed page size value: 500"]);
    const at = await list([
      ['page', '1'],
      ['pagesize', '500'],
    ]);
    expect(at.status).toBe(200);
    cloud.sim.configure({ defaultPageSize: 3 });
    const small = await list([
      ['page', '1'],
      ['pagesize', '4'],
    ]);
    expect(small.json.listvolumesresponse!.errortext).toBe("Page size can't exceed max allowed page size value: 3");
    expect(((await list([])).json.listvolumesresponse!.volume as unknown[]).length).toBe(3); // no pagesize: one page of the default
    const all = await list([['pagesize', '-1']]);
    expect((all.json.listvolumesresponse!.volume as unknown[]).length).toBe(cloud.sim.getState().volumes.length);
    const both = await list([
      ['page', '1'],
      ['pagesize', '-1'],
    ]);
    expect([both.status, both.json.listvolumesresponse!.errortext]).toEqual([431, "Can't specify page parameter when pagesize is -1 (Unlimited)"]);
  });

  it("skips a project's resources without projectid — even by id for a non-admin key; finds them with projectid or -1", async () => {
    cloud.sim.update((world) => {
      world.projects.push({ id: 'p-1', name: 'dr' });
      world.volumes.find((v) => v.id === WEB_DISK)!.projectid = 'p-1';
    });
    const ids = async (extra: [string, string][]) =>
      (((await list(extra)).json.listvolumesresponse!.volume ?? []) as { id: string; project?: string }[]).map((v) => v.id);
    expect(await ids([['virtualmachineid', DEMO_APPLIANCE_VM.id]])).not.toContain(WEB_DISK);
    expect(await ids([['id', WEB_DISK]])).toEqual([]);
    expect(await ids([['projectid', 'p-1']])).toEqual([WEB_DISK]);
    expect(await ids([['projectid', '-1']])).toEqual([WEB_DISK]);
    cloud.sim.configure({ callerIsAdmin: true });
    expect(await ids([['id', WEB_DISK]])).toEqual([WEB_DISK]);
    expect(await ids([['virtualmachineid', DEMO_APPLIANCE_VM.id]])).not.toContain(WEB_DISK);
    const unknown = await list([['projectid', 'p-404']]);
    expect(unknown.status).toBe(431);
  });
});

describe('destroyVirtualMachine with expunge (UserVmManagerImpl.destroyVm)', () => {
  it('fails the job (530, text kept: job results are never replaced) for a non-admin key without allow.user.expunge.recover.vm', async () => {
    const vm = await deployStopped('no-expunge');
    await expectJob(cloud.client.destroyVirtualMachine({ id: vm.id, expunge: true }), 530, 'Account does not have permission for expunging.');
    expect(cloud.sim.getState().vms.find((v) => v.id === vm.id)!.state).toBe('Stopped');
    const caps = await callRaw(cloud.sim, 'listCapabilities');
    expect(caps.json.listcapabilitiesresponse!.capability).toMatchObject({ allowuserexpungerecovervm: false, kvmsnapshotenabled: false });
    // Without expunge: Destroyed, recoverable, still there.
    await cloud.client.destroyVirtualMachine({ id: vm.id });
    expect(cloud.sim.getState().vms.find((v) => v.id === vm.id)).toMatchObject({ state: 'Destroyed' });
  });

  it('expunges with the setting, or for an admin key; listCapabilities says so', async () => {
    cloud.sim.configure({ allowUserExpungeRecoverVm: true });
    const a = await deployStopped('expunge-a');
    await cloud.client.destroyVirtualMachine({ id: a.id, expunge: true });
    expect(cloud.sim.getState().vms.find((v) => v.id === a.id)!.removed).toBeDefined();
    cloud.sim.configure({ allowUserExpungeRecoverVm: false, callerIsAdmin: true });
    const caps = await callRaw(cloud.sim, 'listCapabilities');
    expect(caps.json.listcapabilitiesresponse!.capability).toMatchObject({ allowuserexpungerecovervm: true });
    const b = await deployStopped('expunge-b');
    await cloud.client.destroyVirtualMachine({ id: b.id, expunge: true });
    expect(cloud.sim.getState().vms.find((v) => v.id === b.id)!.removed).toBeDefined();
  });
});

describe('answered before anything runs (ApiServer)', () => {
  it('in maintenance: every async command is refused (503) and runs nothing; lists still answer', async () => {
    cloud.sim.configure({ maintenance: true });
    const before = cloud.sim.getState();
    const refused = await callRaw(cloud.sim, 'detachVolume', [['id', WEB_DISK]]);
    expect([refused.status, refused.json.detachvolumeresponse!.errortext]).toEqual([
      503,
      'Maintenance or Shutdown has been initiated on this management server. Can not accept new jobs',
    ]);
    const create = await callRaw(cloud.sim, 'createSnapshot', [['volumeid', WEB_DISK]]);
    expect(create.status).toBe(503);
    expect(cloud.sim.getState()).toEqual(before);
    expect(cloud.sim.getState({ jobs: true }).jobs).toEqual([]);
    expect((await callRaw(cloud.sim, 'listVolumes', [['id', WEB_DISK]])).status).toBe(200);
    cloud.sim.configure({ maintenance: false });
    expect((await callRaw(cloud.sim, 'detachVolume', [['id', WEB_DISK]])).status).toBe(200);
  });

  it('over the API rate limit: 429 with CloudStack text, nothing runs; a root admin is exempt', async () => {
    cloud.sim.configure({ apiThrottlingMax: 2, apiThrottlingIntervalSeconds: 60 });
    expect((await callRaw(cloud.sim, 'listZones')).status).toBe(200);
    expect((await callRaw(cloud.sim, 'listZones')).status).toBe(200);
    const limited = await callRaw(cloud.sim, 'detachVolume', [['id', WEB_DISK]]);
    expect(limited.status).toBe(429);
    expect(limited.json.detachvolumeresponse!.errortext).toMatch(/^The given user has reached his\/her account api limit, please retry after \[\d+\] ms\.$/);
    expect(cloud.sim.getState({ jobs: true }).jobs).toEqual([]);
    cloud.sim.configure({ callerIsAdmin: true });
    expect((await callRaw(cloud.sim, 'listZones')).status).toBe(200);
  });
});

describe('settings from the admin endpoint', () => {
  it('reads and changes them (PUT takes a partial object), refusing unknown names and wrong types', async () => {
    const url = `${cloud.sim.url}/admin/settings`;
    expect(await (await fetch(url)).json()).toMatchObject({
      kvmSnapshotEnabled: false,
      defaultPageSize: 500,
      allowUserExpungeRecoverVm: false,
      callerIsAdmin: false,
    });
    const put = await fetch(url, { method: 'PUT', body: JSON.stringify({ kvmSnapshotEnabled: true, maxDataVolumes: { KVM: 16 } }) });
    expect(await put.json()).toMatchObject({ kvmSnapshotEnabled: true, maxDataVolumes: { KVM: 16 } });
    expect(cloud.sim.settings.kvmSnapshotEnabled).toBe(true);
    for (const body of [{ nope: 1 }, { defaultPageSize: 0 }, { callerIsAdmin: 'yes' }, [1]]) {
      expect((await fetch(url, { method: 'PUT', body: JSON.stringify(body) })).status).toBe(400);
    }
  });
});
