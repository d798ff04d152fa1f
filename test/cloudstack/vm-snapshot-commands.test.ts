import { describe, expect, it } from 'vitest';
import { JobStatus } from '../../src/cloudstack/cloudstack.types.js';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { FaultKind } from '../../src/cloudstack/simulator/faults.js';
import { VM_SNAPSHOT_MAX } from '../../src/cloudstack/simulator/commands/vm-snapshot.commands.js';
import { DEMO_APPLIANCE_VM, DEMO_VMS } from '../../src/demo/demo-world.js';
import { callRaw, deployParams, rejectionOf, useCloud, waitFor } from '../helpers/cloudstack.js';

const cloud = useCloud();

const APPLIANCE = DEMO_APPLIANCE_VM.id;
const DISK = DEMO_VMS[0]!.disks[0]!;
const ANOTHER_DISK = DEMO_VMS[1]!.disks[0]!;

/** Expects a failed job with this code and exactly this text. */
async function expectJobFailure(promise: Promise<unknown>, errorText: string, errorCode = 431) {
  const error = await rejectionOf(promise);
  expect(error).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode, errorText, retryable: false });
  expect(typeof error.jobId).toBe('string');
}

/** Expects a sync refusal (no job) with this code and exactly this text. */
async function expectSyncRefusal(promise: Promise<unknown>, errorText: string, errorCode = 431) {
  const jobs = cloud.sim.getState({ jobs: true }).jobs!.length;
  const error = await rejectionOf(promise);
  expect(error).toMatchObject({ kind: CloudStackErrorKind.API, httpStatus: errorCode, errorCode, errorText });
  expect(cloud.sim.getState({ jobs: true }).jobs).toHaveLength(jobs);
}

/** A Stopped VM whose ROOT is Ready (it ran once), as VM snapshots want. */
async function stoppedVmWithReadyRoot(name: string) {
  const vm = await cloud.client.deployVirtualMachine(deployParams(cloud.sim, { name }));
  return cloud.client.stopVirtualMachine({ id: vm.id });
}

describe('createVMSnapshot', () => {
  it('is an async create (id + jobid), Allocated → Creating → Ready, current, named <instance name>_VS_<time>', async () => {
    cloud.sim.setJobLatency(200);
    const seen = new Set<string>();
    const watching = waitFor(
      () => {
        const snapshot = cloud.sim.getState().vmSnapshots[0];
        if (snapshot) seen.add(snapshot.state);
        return snapshot?.state === 'Ready';
      },
      { intervalMs: 2 },
    );
    const answer = await callRaw(cloud.sim, 'createVMSnapshot', [
      ['virtualmachineid', APPLIANCE],
      ['name', 'before-failover'],
      ['snapshotmemory', 'true'],
      ['description', 'kept'],
    ]);
    const submitted = answer.json.createvmsnapshotresponse!;
    expect(Object.keys(submitted).sort()).toEqual(['id', 'jobid']);
    await watching;
    expect([...seen]).toEqual(['Allocated', 'Creating', 'Ready']);
    const job = await waitFor(async () => {
      const j = await cloud.client.queryAsyncJobResult({ jobId: submitted.jobid as string });
      return j.status === JobStatus.SUCCEEDED && j;
    });
    expect(job).toMatchObject({
      instanceType: 'VmSnapshot',
      instanceId: submitted.id,
      cmd: 'org.apache.cloudstack.api.command.user.vmsnapshot.CreateVMSnapshotCmd',
    });
    expect(job.result).toMatchObject({
      vmsnapshot: { id: submitted.id, displayname: 'before-failover', state: 'Ready', type: 'DiskAndMemory', current: true },
    });
    const [listed] = await cloud.client.listVMSnapshot({ virtualMachineId: APPLIANCE });
    expect(listed).toMatchObject({
      id: submitted.id,
      displayName: 'before-failover',
      description: 'kept',
      virtualMachineId: APPLIANCE,
      zoneId: cloud.sim.ids.zoneId,
    });
    expect(listed!.name).toMatch(/^i-2-1-VM_VS_\d{14}$/);
  });

  it('through the client: a Disk snapshot of a Stopped VM; the next one has it as parent and becomes current', async () => {
    const vm = await stoppedVmWithReadyRoot('web-01-test');
    const first = await cloud.client.createVMSnapshot({ virtualMachineId: vm.id, name: 'one' });
    expect(first).toMatchObject({ displayName: 'one', state: 'Ready', type: 'Disk', current: true, virtualMachineId: vm.id });
    expect(first.parentId).toBeUndefined();
    const second = await cloud.client.createVMSnapshot({ virtualMachineId: vm.id, quiesceVm: true });
    expect(second).toMatchObject({ state: 'Ready', current: true, parentId: first.id });
    expect(second.displayName).toBe(second.name);
    const listed = await cloud.client.listVMSnapshot({ virtualMachineId: vm.id });
    expect(listed.map((s) => [s.id, s.current])).toEqual([
      [second.id, true],
      [first.id, false],
    ]);
  });

  it('an answer lost after it ran: found by VM and name (names are not unique: an older namesake is not taken)', async () => {
    const older = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, name: 'pre' });
    cloud.sim.faults.add({ command: 'createVMSnapshot', kind: FaultKind.DROP, when: 'after' });
    const snapshot = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, name: 'pre' });
    expect(snapshot.id).not.toBe(older.id);
    expect(snapshot).toMatchObject({ displayName: 'pre', state: 'Ready' });
    expect(cloud.sim.faults.calls().createVMSnapshot).toBe(2);
  });

  describe('refusals of the create phase (allocVMSnapshot: sync, no job)', () => {
    it('a VM that is neither Running nor Stopped (431)', async () => {
      const vm = await stoppedVmWithReadyRoot('web-01-test');
      cloud.sim.update((w) => void (w.vms.find((v) => v.id === vm.id)!.state = 'Starting'));
      await expectSyncRefusal(
        cloud.client.createVMSnapshot({ virtualMachineId: vm.id }),
        `Creating Instance Snapshot failed because Instance:${vm.id} is not in Running or Stopped state`,
      );
    });

    it('a name or description longer than 255 characters (431)', async () => {
      const long = 'x'.repeat(256);
      await expectSyncRefusal(
        cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, name: long }),
        'Creating Instance Snapshot failed due to length of Instance Snapshot vsDisplayName should not exceed 255',
      );
      await expectSyncRefusal(
        cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, description: long }),
        'Creating Instance Snapshot failed due to length of Instance Snapshot vsDescription should not exceed 255',
      );
    });

    it('memory of a VM that is not Running (431)', async () => {
      const vm = await stoppedVmWithReadyRoot('web-01-test');
      await expectSyncRefusal(
        cloud.client.createVMSnapshot({ virtualMachineId: vm.id, snapshotMemory: true }),
        'Can not Snapshot memory when the Instance is not in Running state',
      );
    });

    it('a VM without a Ready ROOT — one never started, or mid root swap (530)', async () => {
      cloud.sim.configure({ callerIsAdmin: true }); // a sync 530 text is shown to admins only (others get the generic one)
      const vm = await cloud.client.deployVirtualMachine(deployParams(cloud.sim, { name: 'web-01-test', startVm: false }));
      await expectSyncRefusal(cloud.client.createVMSnapshot({ virtualMachineId: vm.id }), `Unable to find root volume for the user Instance:${vm.id}`, 530);
    });

    it('another VM snapshot task on the VM (530), and a volume snapshot being taken on one of its disks (530)', async () => {
      cloud.sim.configure({ callerIsAdmin: true }); // a sync 530 text is shown to admins only (others get the generic one)
      cloud.sim.setJobLatency(2_000);
      const pending = cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE }).catch(() => undefined);
      await waitFor(() => cloud.sim.getState().vmSnapshots.length === 1);
      await expectSyncRefusal(
        cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE }),
        'There are other active Instance Snapshot tasks on the Instance, please try again later',
        530,
      );
      cloud.sim.update((w) => {
        w.vmSnapshots = [];
        w.snapshots.push({
          id: 'busy',
          name: 'busy',
          volumeid: DISK.volumeId,
          volumetype: 'DATADISK',
          state: 'BackingUp',
          zoneid: cloud.sim.ids.zoneId,
          intervaltype: 'MANUAL',
          snapshottype: 'MANUAL',
          created: '2026-01-01T00:00:00+0000',
        });
      });
      await expectSyncRefusal(
        cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE }),
        'There are other active volume Snapshot tasks on the Instance to which the volume is attached, please try again later.',
        530,
      );
      cloud.sim.reset();
      await pending;
    });

    it(`more than vmsnapshot.max (${VM_SNAPSHOT_MAX}) per VM (530)`, async () => {
      cloud.sim.configure({ callerIsAdmin: true }); // a sync 530 text is shown to admins only (others get the generic one)
      for (let i = 0; i < VM_SNAPSHOT_MAX; i++) await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE });
      await expectSyncRefusal(
        cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE }),
        `Creating Instance Snapshot failed due to a Instance can just have : ${VM_SNAPSHOT_MAX} Instance Snapshots. Please delete old ones`,
        530,
      );
    });

    it('a missing or unknown virtualmachineid (431)', async () => {
      const missing = await callRaw(cloud.sim, 'createVMSnapshot');
      expect(missing.status).toBe(431);
      expect(missing.json.createvmsnapshotresponse!.errortext).toBe('Unable to execute API command createvmsnapshot due to missing parameter virtualmachineid');
      const unknown = await rejectionOf(cloud.client.createVMSnapshot({ virtualMachineId: 'no-such-vm' }));
      expect(unknown).toMatchObject({ kind: CloudStackErrorKind.API, errorCode: 431 });
      expect(unknown.errorText).toContain('Invalid parameter virtualmachineid value=no-such-vm');
    });
  });

  it('in the job: a ROOT that is no longer Ready fails it (530) and leaves the snapshot in Error', async () => {
    cloud.sim.setJobLatency(1_000); // its checks run after the first quarter: time to change the ROOT
    const pending = cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, name: 'doomed' });
    await waitFor(() => cloud.sim.getState().vmSnapshots[0]?.state === 'Allocated');
    cloud.sim.update((w) => void (w.volumes.find((v) => v.id === DEMO_APPLIANCE_VM.rootVolumeId)!.state = 'Snapshotting'));
    const error = await rejectionOf(pending);
    expect(error).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode: 530 });
    expect(error.errorText).toBe(
      `Create Instance to Snapshot failed due to Instance: VM instance {"instanceName":"i-2-1-VM","type":"User","uuid":"${APPLIANCE}"} has root disk in Snapshotting state`,
    );
    expect(cloud.sim.getState().vmSnapshots[0]!.state).toBe('Error');
  });
});

describe('revertToVMSnapshot (rules checked in the job)', () => {
  it('reverts a Stopped VM to a Disk snapshot and answers with the VM; the snapshot becomes current', async () => {
    const vm = await stoppedVmWithReadyRoot('web-01-test');
    const first = await cloud.client.createVMSnapshot({ virtualMachineId: vm.id, name: 'one' });
    await cloud.client.createVMSnapshot({ virtualMachineId: vm.id, name: 'two' });
    const reverted = await cloud.client.revertToVMSnapshot({ vmSnapshotId: first.id });
    expect(reverted).toMatchObject({ id: vm.id, state: 'Stopped' });
    expect((await cloud.client.listVMSnapshot({ id: first.id }))[0]).toMatchObject({ state: 'Ready', current: true });
  });

  it('reverts a Running VM to a memory snapshot', async () => {
    const snapshot = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, snapshotMemory: true });
    expect(await cloud.client.revertToVMSnapshot({ vmSnapshotId: snapshot.id })).toMatchObject({ id: APPLIANCE, state: 'Running' });
  });

  it('refuses a Disk snapshot of a Running VM, and a memory snapshot of a Stopped VM', async () => {
    const disk = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE });
    await expectJobFailure(
      cloud.client.revertToVMSnapshot({ vmSnapshotId: disk.id }),
      'Reverting to the Instance Snapshot is not allowed for running Instances as this would result in an Instance state change. For running Instances only Snapshots with memory can be reverted. In order to revert to a Snapshot without memory you need to first stop the Instance.',
    );
    const memory = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, snapshotMemory: true });
    await cloud.client.stopVirtualMachine({ id: APPLIANCE });
    await expectJobFailure(
      cloud.client.revertToVMSnapshot({ vmSnapshotId: memory.id }),
      'Reverting to the Instance Snapshot is not allowed for stopped Instances when the Snapshot contains memory as this would result in an Instance state change. In order to revert to a Snapshot with memory you need to first start the Instance.',
    );
  });

  it('refuses a VM that is neither Running nor Stopped, a snapshot that is not Ready, and a VM with a snapshot task running', async () => {
    const vm = await stoppedVmWithReadyRoot('web-01-test');
    const snapshot = await cloud.client.createVMSnapshot({ virtualMachineId: vm.id });
    cloud.sim.update((w) => void (w.vms.find((v) => v.id === vm.id)!.state = 'Error'));
    await expectJobFailure(
      cloud.client.revertToVMSnapshot({ vmSnapshotId: snapshot.id }),
      'Instance Snapshot reverting failed because the Instance is not in Running or Stopped state.',
    );
    cloud.sim.update((w) => {
      w.vms.find((v) => v.id === vm.id)!.state = 'Stopped';
      w.vmSnapshots.find((s) => s.id === snapshot.id)!.state = 'Error';
    });
    await expectJobFailure(
      cloud.client.revertToVMSnapshot({ vmSnapshotId: snapshot.id }),
      'Instance Snapshot reverting failed because the Instance Snapshot is not in Created state.',
    );
    cloud.sim.update((w) => void (w.vmSnapshots.find((s) => s.id === snapshot.id)!.state = 'Creating'));
    await expectJobFailure(
      cloud.client.revertToVMSnapshot({ vmSnapshotId: snapshot.id }),
      'There are other active Instance Snapshot tasks on the Instance, please try again later',
    );
  });

  it.each(['revertToVMSnapshot', 'deleteVMSnapshot'])('%s: a missing or unknown vmsnapshotid is refused before any job (sync 431)', async (command) => {
    const missing = await callRaw(cloud.sim, command);
    expect(missing.status).toBe(431);
    expect(missing.json[`${command.toLowerCase()}response`]!.errortext).toBe(
      `Unable to execute API command ${command.toLowerCase()} due to missing parameter vmsnapshotid`,
    );
    const unknown = await callRaw(cloud.sim, command, [['vmsnapshotid', 'nope']]);
    expect(unknown.status).toBe(431);
    expect(unknown.json[`${command.toLowerCase()}response`]!.errortext).toContain('Invalid parameter vmsnapshotid value=nope');
    expect(cloud.sim.getState({ jobs: true }).jobs).toEqual([]);
  });

  it('through the client: an unknown id is a sync API error', async () => {
    expect(await rejectionOf(cloud.client.revertToVMSnapshot({ vmSnapshotId: 'nope' }))).toMatchObject({
      kind: CloudStackErrorKind.API,
      errorCode: 431,
      jobId: undefined,
    });
  });
});

describe('deleteVMSnapshot', () => {
  it('deletes: gone from lists, id no longer resolves (sync 431), its parent becomes current', async () => {
    const first = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, name: 'one' });
    const second = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, name: 'two' });
    await cloud.client.deleteVMSnapshot({ vmSnapshotId: second.id });
    expect((await cloud.client.listVMSnapshot({ virtualMachineId: APPLIANCE })).map((s) => [s.id, s.current])).toEqual([[first.id, true]]);
    expect(cloud.sim.getState().vmSnapshots.find((s) => s.id === second.id)).toMatchObject({ state: 'Removed', removed: expect.any(String) });
    expect((await rejectionOf(cloud.client.deleteVMSnapshot({ vmSnapshotId: second.id }))).errorCode).toBe(431);
  });

  it('refuses, in the job, a snapshot that is not Ready, Error or Expunging, and one while another task runs on the VM', async () => {
    const snapshot = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE });
    const other = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE });
    cloud.sim.update((w) => void (w.vmSnapshots.find((s) => s.id === snapshot.id)!.state = 'Reverting'));
    const name = cloud.sim.getState().vmSnapshots.find((s) => s.id === snapshot.id)!.name;
    await expectJobFailure(
      cloud.client.deleteVMSnapshot({ vmSnapshotId: snapshot.id }),
      `Can't delete the Instance Snapshotshot VMSnapshot {"name":"${name}","uuid":"${snapshot.id}"} due to it is not in Created or Error, or Expunging State`,
    );
    await expectJobFailure(
      cloud.client.deleteVMSnapshot({ vmSnapshotId: other.id }),
      'There are other active Instance Snapshot tasks on the Instance, please try again later',
    );
  });

  it('deletes a snapshot in Error', async () => {
    const snapshot = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE });
    cloud.sim.update((w) => void (w.vmSnapshots[0]!.state = 'Error'));
    await cloud.client.deleteVMSnapshot({ vmSnapshotId: snapshot.id });
    expect(await cloud.client.listVMSnapshot()).toEqual([]);
  });
});

describe('listVMSnapshot', () => {
  it('answers under the key vmSnapshot, {} when empty, and filters by id, name (display name) and state', async () => {
    expect((await callRaw(cloud.sim, 'listVMSnapshot')).json.listvmsnapshotresponse).toEqual({});
    const a = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, name: 'a' });
    const b = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE, name: 'b' });
    const raw = (await callRaw(cloud.sim, 'listVMSnapshot', [['virtualmachineid', APPLIANCE]])).json.listvmsnapshotresponse!;
    expect(raw.count).toBe(2);
    expect(Object.keys(raw)).toContain('vmSnapshot');
    expect((await cloud.client.listVMSnapshot({ id: a.id })).map((s) => s.id)).toEqual([a.id]);
    expect((await cloud.client.listVMSnapshot({ name: 'b' })).map((s) => s.id)).toEqual([b.id]);
    expect(await cloud.client.listVMSnapshot({ state: 'Error' })).toEqual([]);
    expect(await cloud.client.listVMSnapshot({ state: 'ready' })).toHaveLength(2);
  });
});

describe('a VM with VM snapshots: no volume attached or detached (checked in the job), no root swap', () => {
  it("refuses attach and detach with CloudStack's texts; both work again once the VM snapshots are deleted", async () => {
    const snapshot = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE });
    await expectJobFailure(
      cloud.client.detachVolume({ id: DISK.volumeId }),
      'Unable to detach volume, please specify an Instance that does not have Instance Snapshots',
    );
    await expectJobFailure(
      cloud.client.detachVolume({ virtualMachineId: APPLIANCE, deviceId: DISK.applianceDeviceId }),
      'Unable to detach volume, please specify an Instance that does not have Instance Snapshots',
    );
    await cloud.client.deleteVMSnapshot({ vmSnapshotId: snapshot.id });
    await cloud.client.detachVolume({ id: DISK.volumeId });
    const again = await cloud.client.createVMSnapshot({ virtualMachineId: APPLIANCE });
    await expectJobFailure(
      cloud.client.attachVolume({ id: DISK.volumeId, virtualMachineId: APPLIANCE }),
      `Unable to attach volume to Instance i-2-1-VM/${APPLIANCE}, please specify an Instance that does not have Instance Snapshots`,
    );
    await cloud.client.deleteVMSnapshot({ vmSnapshotId: again.id });
    expect(await cloud.client.attachVolume({ id: DISK.volumeId, virtualMachineId: APPLIANCE })).toMatchObject({ virtualMachineId: APPLIANCE });
  });

  it('refuses the root swap of a VM with a VM snapshot — even one in Error', async () => {
    const vm = await stoppedVmWithReadyRoot('web-01-test');
    await cloud.client.createVMSnapshot({ virtualMachineId: vm.id });
    cloud.sim.update((w) => void (w.vmSnapshots[0]!.state = 'Error'));
    const [root] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });
    await expectJobFailure(
      cloud.client.detachVolume({ id: root!.id }),
      'Unable to detach volume, please specify an Instance that does not have Instance Snapshots',
    );
    await cloud.client.detachVolume({ id: ANOTHER_DISK.volumeId });
    await expectJobFailure(
      cloud.client.attachVolume({ id: ANOTHER_DISK.volumeId, virtualMachineId: vm.id, deviceId: 1 }),
      `Unable to attach volume to Instance ${cloud.sim.getState().vms.find((v) => v.id === vm.id)!.instancename}/${vm.id}, please specify an Instance that does not have Instance Snapshots`,
    );
  });

  it('expunging the VM deletes its VM snapshots', async () => {
    const vm = await stoppedVmWithReadyRoot('web-01-test');
    await cloud.client.createVMSnapshot({ virtualMachineId: vm.id });
    cloud.sim.configure({ allowUserExpungeRecoverVm: true });
    await cloud.client.destroyVirtualMachine({ id: vm.id, expunge: true });
    expect(await cloud.client.listVMSnapshot()).toEqual([]);
    expect(cloud.sim.getState().vmSnapshots[0]).toMatchObject({ state: 'Removed' });
  });
});
