import { describe, expect, it } from 'vitest';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { DEMO_APPLIANCE_VM, DEMO_APPLIANCE_VMS, DEMO_VMS } from '../../src/demo/demo-world.js';
import { JobStatus } from '../../src/cloudstack/cloudstack.types.js';
import { callRaw, deployParams, rejectionOf, useCloud, waitFor } from '../helpers/cloudstack.js';

const cloud = useCloud();

const WEB = DEMO_VMS[0]!;
const DB = DEMO_VMS[1]!;
const WEB_DISK = WEB.disks[0]!.volumeId;
const [DB_OS, DB_DATA] = DB.disks.map((d) => d.volumeId) as [string, string];

const deployStopped = (name: string) => cloud.client.deployVirtualMachine(deployParams(cloud.sim, { name, startVm: false }));

/** Submits `command` by hand and returns its finished job (the submission must be accepted). */
async function rawJob(command: string, extra: [string, string][]) {
  const answer = await callRaw(cloud.sim, command, extra);
  expect(answer.status).toBe(200);
  const jobId = answer.json[`${command.toLowerCase()}response`]!.jobid as string;
  return waitFor(async () => {
    const job = await cloud.client.queryAsyncJobResult({ jobId });
    return job.status !== JobStatus.PENDING && job;
  });
}

/** Expects a failed job with code 431 (or `code`) and exactly this text. */
async function expectJobFailure(promise: Promise<unknown>, errorText: string, errorCode = 431) {
  const error = await rejectionOf(promise);
  expect(error).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode, errorText, retryable: false });
}

describe('the seeded appliance VMs', () => {
  it.each(DEMO_APPLIANCE_VMS.map((a) => [a.name, a] as const))(
    '%s is Running with its own ROOT at device 0 and its replicated volumes attached at their device ids, never 3',
    async (_name, appliance) => {
      const [vm] = await cloud.client.listVirtualMachines({ id: appliance.id });
      expect(vm).toMatchObject({ name: appliance.name, state: 'Running' });
      const volumes = await cloud.client.listVolumes({ virtualMachineId: appliance.id });
      const expected = [
        { id: appliance.rootVolumeId, deviceId: 0, type: 'ROOT' },
        ...DEMO_VMS.flatMap((demo) =>
          demo.disks.filter((d) => d.applianceVmId === appliance.id).map((d) => ({ id: d.volumeId, deviceId: d.applianceDeviceId, type: 'DATADISK' })),
        ),
      ].sort((a, b) => a.deviceId - b.deviceId);
      expect(expected.length).toBeGreaterThan(4);
      expect(volumes.map((v) => ({ id: v.id, deviceId: v.deviceId, type: v.type }))).toEqual(expected);
      expect(volumes.map((v) => v.deviceId)).not.toContain(3);
      expect(volumes.every((v) => v.state === 'Ready')).toBe(true);
    },
  );

  it('holds eight ready demo VMs on two appliance VMs, one VM with three data disks', () => {
    const onAppliance = (id: string) => DEMO_VMS.filter((vm) => vm.disks.some((d) => d.applianceVmId === id));
    expect(DEMO_APPLIANCE_VMS.map((a) => onAppliance(a.id).length)).toEqual([5, 4]);
    expect(DEMO_VMS.filter((vm) => vm.replicationStatus === 'completed' && vm.cbt.success)).toHaveLength(8);
    expect(DEMO_VMS.filter((vm) => !(vm.replicationStatus === 'completed' && vm.cbt.success)).map((vm) => vm.name)).toEqual(['legacy-app-01']);
    expect(Math.max(...DEMO_VMS.map((vm) => vm.disks.length))).toBe(4);
  });

  it('sizes the volumes as the replicated disks', async () => {
    const [volume] = await cloud.client.listVolumes({ id: WEB_DISK });
    expect(volume?.sizeBytes).toBe(WEB.disks[0]!.sizeGb * 1024 ** 3);
  });
});

describe('root swap', () => {
  it('boots a VM from a replicated root: deploy stopped, detach template ROOT, attach at 0 (becomes ROOT), data at 1, start', async () => {
    const vm = await deployStopped('db-01-test');
    const [templateRoot] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });
    const detached = await cloud.client.detachVolume({ id: templateRoot!.id });
    expect(detached).toMatchObject({ type: 'DATADISK', state: 'Allocated' });
    expect(detached.virtualMachineId).toBeUndefined();

    await cloud.client.detachVolume({ id: DB_OS }); // data disk of a Running VM: allowed
    await cloud.client.detachVolume({ id: DB_DATA });
    const root = await cloud.client.attachVolume({ id: DB_OS, virtualMachineId: vm.id, deviceId: 0 });
    expect(root).toMatchObject({ type: 'ROOT', deviceId: 0, virtualMachineId: vm.id });
    const data = await cloud.client.attachVolume({ id: DB_DATA, virtualMachineId: vm.id, deviceId: 1 });
    expect(data).toMatchObject({ type: 'DATADISK', deviceId: 1 });

    expect((await cloud.client.startVirtualMachine({ id: vm.id })).state).toBe('Running');
    const volumes = await cloud.client.listVolumes({ virtualMachineId: vm.id });
    expect(volumes.map((v) => [v.id, v.type, v.deviceId, v.vmState])).toEqual([
      [DB_OS, 'ROOT', 0, 'Running'],
      [DB_DATA, 'DATADISK', 1, 'Running'],
    ]);
    await cloud.client.deleteVolume({ id: templateRoot!.id });
    expect(await cloud.client.listVolumes({ id: templateRoot!.id })).toEqual([]);
  });

  it('gives the volume back to the appliance at its original device id as a DATADISK', async () => {
    const vm = await deployStopped('web-01-test');
    const [templateRoot] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });
    await cloud.client.detachVolume({ id: templateRoot!.id });
    await cloud.client.detachVolume({ id: WEB_DISK });
    await cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id, deviceId: 0 });

    const back = await cloud.client.detachVolume({ virtualMachineId: vm.id, deviceId: 0 });
    expect(back).toMatchObject({ id: WEB_DISK, type: 'DATADISK' });
    const reattached = await cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: DEMO_APPLIANCE_VM.id, deviceId: WEB.disks[0]!.applianceDeviceId });
    expect(reattached).toMatchObject({
      type: 'DATADISK',
      deviceId: WEB.disks[0]!.applianceDeviceId,
      virtualMachineId: DEMO_APPLIANCE_VM.id,
      vmState: 'Running',
    });
  });
});

describe('attachVolume rules (checked in the job: jobstatus 2)', () => {
  it('refuses a volume attached to any VM', async () => {
    const vm = await deployStopped('x');
    await expectJobFailure(cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id }), 'Please specify a volume that is not attached to any VM.');
  });

  it('refuses a destroyed volume, and one in a state other than Allocated/Ready/Uploaded', async () => {
    const vm = await deployStopped('x');
    await cloud.client.detachVolume({ id: WEB_DISK });
    cloud.sim.update((w) => void (w.volumes.find((v) => v.id === WEB_DISK)!.state = 'Destroy'));
    await expectJobFailure(cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id }), 'Please specify a volume that is not destroyed.');
    cloud.sim.update((w) => void (w.volumes.find((v) => v.id === WEB_DISK)!.state = 'Creating'));
    await expectJobFailure(
      cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id }),
      'Volume state must be in Allocated, Ready or in Uploaded state',
    );
  });

  it('refuses a VM that is neither Running nor Stopped, and a VM in another zone', async () => {
    const vm = await deployStopped('x');
    await cloud.client.detachVolume({ id: WEB_DISK });
    await cloud.client.destroyVirtualMachine({ id: vm.id });
    await expectJobFailure(cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id }), 'Please specify a VM that is either running or stopped.');
    cloud.sim.update((w) => void (w.volumes.find((v) => v.id === WEB_DISK)!.zoneid = 'another-zone'));
    await expectJobFailure(
      cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: DEMO_APPLIANCE_VM.id }),
      'Please specify a VM that is in the same zone as the volume.',
    );
  });

  it('at device 0: refuses a Running VM and a VM that already has a root', async () => {
    await cloud.client.detachVolume({ id: WEB_DISK });
    await expectJobFailure(
      cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: DEMO_APPLIANCE_VM.id, deviceId: 0 }),
      'Root volume detach can happen only when vm is in states: Stopped or Destroyed',
    );
    const vm = await deployStopped('x');
    await expectJobFailure(cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: vm.id, deviceId: 0 }), 'Vm already has root volume attached to it');
  });

  it('refuses a device id already in use (530) and picks the lowest free one when none is given', async () => {
    await cloud.client.detachVolume({ id: DB_OS });
    await expectJobFailure(
      cloud.client.attachVolume({ id: DB_OS, virtualMachineId: DEMO_APPLIANCE_VM.id, deviceId: 1 }),
      `deviceId 1 is used by vm ${DEMO_APPLIANCE_VM.id}`,
      530,
    );
    const attached = await cloud.client.attachVolume({ id: DB_OS, virtualMachineId: DEMO_APPLIANCE_VM.id });
    expect(attached.deviceId).toBe(DB.disks[0]!.applianceDeviceId);
  });

  it('lets two concurrent attaches of one volume race: one wins, the other fails 530', async () => {
    const a = await deployStopped('racer-a');
    const b = await deployStopped('racer-b');
    await cloud.client.detachVolume({ id: WEB_DISK });
    const results = await Promise.allSettled([
      cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: a.id }),
      cloud.client.attachVolume({ id: WEB_DISK, virtualMachineId: b.id }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error & Record<string, unknown>] : []));
    expect(won).toHaveLength(1);
    const winnerId = (won[0] as PromiseFulfilledResult<{ virtualMachineId?: string }>).value.virtualMachineId;
    // checkAndSetAttaching names the VM by its internal name (instancename).
    const winner = cloud.sim.getState().vms.find((v) => v.id === winnerId)!.instancename;
    expect(lost[0]).toMatchObject({
      kind: CloudStackErrorKind.JOB_FAILED,
      errorCode: 530,
      errorText: `volume: ${WEB.disks[0]!.volumeName} is already attached to a VM: ${winner}`,
    });
  });

  it('validates ids synchronously (431 before any job)', async () => {
    const error = await rejectionOf(cloud.client.attachVolume({ id: 'no-such-volume', virtualMachineId: DEMO_APPLIANCE_VM.id }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.API, httpStatus: 431 });
    expect(error.errorText).toContain('Invalid parameter id value=no-such-volume');
    expect(error.jobId).toBeUndefined();
  });
});

describe('detachVolume rules', () => {
  it('refuses a volume that is not attached', async () => {
    await cloud.client.detachVolume({ id: WEB_DISK });
    await expectJobFailure(cloud.client.detachVolume({ id: WEB_DISK }), 'The specified volume is not attached to a VM.');
  });

  it('detaches a ROOT only from a Stopped VM', async () => {
    await expectJobFailure(
      cloud.client.detachVolume({ id: DEMO_APPLIANCE_VM.rootVolumeId }),
      'Root volume detach can happen only when vm is in states: Stopped or Destroyed',
    );
    await cloud.client.stopVirtualMachine({ id: DEMO_APPLIANCE_VM.id });
    expect(await cloud.client.detachVolume({ id: DEMO_APPLIANCE_VM.rootVolumeId })).toMatchObject({ type: 'DATADISK' });
  });

  it('refuses a VM that is neither Running, Stopped nor Destroyed', async () => {
    cloud.sim.update((w) => void (w.vms.find((v) => v.id === DEMO_APPLIANCE_VM.id)!.state = 'Error'));
    await expectJobFailure(cloud.client.detachVolume({ id: WEB_DISK }), 'Please specify a VM that is either running or stopped.');
  });

  it('detaches by the pair (virtualmachineid, deviceid)', async () => {
    const detached = await cloud.client.detachVolume({ virtualMachineId: DEMO_APPLIANCE_VM.id, deviceId: WEB.disks[0]!.applianceDeviceId });
    expect(detached).toMatchObject({ id: WEB_DISK, type: 'DATADISK' });
    expect(detached.virtualMachineId).toBeUndefined();
  });

  it('needs an id or the pair (virtualmachineid, deviceid), not both: checked in the job, as DetachVolumeCmd.execute() does', async () => {
    const text = 'Please provide either a volume id, or a tuple(device id, instance id)';
    for (const extra of [
      [['deviceid', '1']],
      [['virtualmachineid', DEMO_APPLIANCE_VM.id]],
      [],
      [
        ['id', WEB_DISK],
        ['virtualmachineid', DEMO_APPLIANCE_VM.id],
        ['deviceid', '1'],
      ],
      [
        ['id', WEB_DISK],
        ['deviceid', '1'],
      ],
    ] as [string, string][][]) {
      const job = await rawJob('detachVolume', extra);
      expect(job).toMatchObject({ status: JobStatus.FAILED, resultCode: 431, result: { errorcode: 431, errortext: text } });
    }
    expect(cloud.sim.getState().volumes.find((v) => v.id === WEB_DISK)!.virtualmachineid).toBe(DEMO_APPLIANCE_VM.id);
  });

  it.each(['42', '-1'])('fails the job (530) when no volume sits at device %s, as findByInstanceAndDeviceId(…).get(0) does', async (deviceId) => {
    // -1 is a valid Long for the parameter layer: only the job finds nothing there.
    const job = await rawJob('detachVolume', [
      ['virtualmachineid', DEMO_APPLIANCE_VM.id],
      ['deviceid', deviceId],
    ]);
    expect(job).toMatchObject({ status: JobStatus.FAILED, resultCode: 530, result: { errortext: 'Index 0 out of bounds for length 0' } });
  });
});

describe('attach and detach parameters (checked before the job is queued: sync 431, no job)', () => {
  const before = () => cloud.sim.getState({ jobs: true }).jobs!.length;

  it.each([
    ['attachVolume', [['id', WEB_DISK]], 'Unable to execute API command attachvolume due to missing parameter virtualmachineid'],
    ['attachVolume', [['virtualmachineid', DEMO_APPLIANCE_VM.id]], 'Unable to execute API command attachvolume due to missing parameter id'],
    [
      'attachVolume',
      [
        ['id', WEB_DISK],
        ['virtualmachineid', 'no-such-vm'],
      ],
      'Invalid parameter virtualmachineid value=no-such-vm',
    ],
    [
      'attachVolume',
      [
        ['id', WEB_DISK],
        ['virtualmachineid', DEMO_APPLIANCE_VM.id],
        ['deviceid', 'one'],
      ],
      'Unable to execute API command attachvolume due to invalid value one for parameter deviceid',
    ],
    ['detachVolume', [['id', 'no-such-volume']], 'Invalid parameter id value=no-such-volume'],
    [
      'detachVolume',
      [
        ['virtualmachineid', 'no-such-vm'],
        ['deviceid', '1'],
      ],
      'Invalid parameter virtualmachineid value=no-such-vm',
    ],
  ] as [string, [string, string][], string][])('%s %j → 431', async (command, extra, text) => {
    const jobs = before();
    const answer = await callRaw(cloud.sim, command, extra);
    expect(answer.status).toBe(431);
    expect(answer.json[`${command.toLowerCase()}response`]!.errortext).toContain(text);
    expect(cloud.sim.getState({ jobs: true }).jobs!.length).toBe(jobs);
  });
});

describe('deleteVolume and listVolumes', () => {
  it('refuses to delete an attached volume (sync 431); deletes a detached one', async () => {
    const error = await rejectionOf(cloud.client.deleteVolume({ id: WEB_DISK }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.API, errorCode: 431, errorText: 'Please specify a volume that is not attached to any VM.' });
    await cloud.client.detachVolume({ id: WEB_DISK });
    await cloud.client.deleteVolume({ id: WEB_DISK });
    expect(await cloud.client.listVolumes({ id: WEB_DISK })).toEqual([]);
    expect(cloud.sim.getState().volumes.find((v) => v.id === WEB_DISK)).toMatchObject({ state: 'Expunged' });
  });

  it('refuses to delete a volume with a snapshot operation in progress', async () => {
    await cloud.client.detachVolume({ id: WEB_DISK });
    cloud.sim.update((w) => void (w.volumes.find((v) => v.id === WEB_DISK)!.state = 'Snapshotting'));
    expect((await rejectionOf(cloud.client.deleteVolume({ id: WEB_DISK }))).errorText).toBe(
      'There are snapshot operations in progress on the volume, unable to delete it',
    );
  });

  it('filters by type, state and name', async () => {
    expect((await cloud.client.listVolumes({ type: 'ROOT' })).map((v) => v.id)).toEqual(DEMO_APPLIANCE_VMS.map((a) => a.rootVolumeId));
    expect(await cloud.client.listVolumes({ state: 'Ready' })).toHaveLength(DEMO_APPLIANCE_VMS.length + DEMO_VMS.flatMap((vm) => vm.disks).length);
    expect((await cloud.client.listVolumes({ name: WEB.disks[0]!.volumeName })).map((v) => v.id)).toEqual([WEB_DISK]);
  });
});
