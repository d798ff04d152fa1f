import { internalError } from '../simulator.params.js';
import { maxDataVolumes } from '../simulator.settings.js';
import { csTime, detach, instanceName, newId, type CloudState, type SimVm, type SimVolume } from '../simulator.state.js';
import { volumeView } from '../simulator.views.js';
import { async, check, list, where, type CommandHandler } from './command.js';

/**
 * Volume commands. attachVolume and detachVolume validate only their parameters synchronously —
 * what ApiServer's parameter processing checks before it queues the job: required parameters,
 * number formats, ids that match nothing. Everything AttachVolumeCmd/DetachVolumeCmd.execute()
 * checks (VolumeApiServiceImpl, run from the async job) is checked inside the job, so a broken
 * rule is a failed job (jobstatus 2, 431) — detachVolume's "volume id, or a tuple(device id,
 * instance id)" rule included. deleteVolume is synchronous.
 *
 * Volume type follows the device: attached at device 0 a volume becomes the VM's ROOT; detached, a
 * ROOT becomes a DATADISK again — so a replicated disk that served as a failed-over VM's root is a
 * DATADISK when it goes back to the appliance at its original device id.
 */

const ATTACHABLE = new Set(['Allocated', 'Ready', 'Uploaded']);
const ROOT_STATE_TEXT = 'Root volume detach can happen only when vm is in states: Stopped or Destroyed';
const DETACH_PARAMS_TEXT = 'Please provide either a volume id, or a tuple(device id, instance id)';
const DETACH_WITH_VM_SNAPSHOTS_TEXT = 'Unable to detach volume, please specify an Instance that does not have Instance Snapshots';

const result = (state: CloudState, volume: SimVolume) => ({ volume: volumeView(state, volume) });

/**
 * VolumeApiServiceImpl.getDeviceId: device ids run 0 … max data volumes of the hypervisor + 1,
 * 3 is reserved on every hypervisor; a requested id outside that, or in use, and no free id left
 * are RuntimeExceptions (job 530). Without a request the lowest free id from 1, skipping 3
 * (data disks get 1, 2, 4, 5 …). Texts print the VM's uuid where CloudStack prints its internal id.
 */
function deviceIdFor(state: CloudState, vm: SimVm, volume: SimVolume, requested: number | undefined): number {
  const maxDeviceId = maxDataVolumes(state.settings, vm.hypervisor) + 1;
  const used = new Set(
    state
      .volumesOf(vm.id)
      .filter((v) => v.id !== volume.id)
      .map((v) => v.deviceid),
  );
  if (requested !== undefined) {
    if (requested < 0 || requested > maxDeviceId || requested === 3) throw internalError(`deviceId should be 0,1,2,4-${maxDeviceId}`);
    if (used.has(requested)) throw internalError(`deviceId ${requested} is used by vm ${vm.id}`);
    return requested;
  }
  for (let id = 1; id <= maxDeviceId; id++) if (id !== 3 && !used.has(id)) return id;
  throw internalError(`All device Ids are used by vm ${vm.id}`);
}

const attachVolume: CommandHandler = ({ state, params }) => {
  const volume = params.need('id', state.volume);
  const vm = params.need('virtualmachineid', state.vm);
  const deviceId = params.integer('deviceid', { signed: true });
  const deviceInUse = (id: number) => state.volumesOf(vm.id).some((v) => v.deviceid === id && v.id !== volume.id);
  const dataDisks = () => state.volumesOf(vm.id).filter((v) => v.type === 'DATADISK').length;
  return async({
    instanceType: 'Volume',
    instanceId: volume.id,
    queueKey: vm.id,
    validate: () => {
      check(volume.virtualmachineid === undefined, 'Please specify a volume that is not attached to any VM.');
      check(volume.state !== 'Destroy', 'Please specify a volume that is not destroyed.');
      check(ATTACHABLE.has(volume.state), 'Volume state must be in Allocated, Ready or in Uploaded state');
      check(vm.state === 'Running' || vm.state === 'Stopped', 'Please specify a VM that is either running or stopped.');
      check(vm.zoneid === volume.zoneid, 'Please specify a VM that is in the same zone as the volume.');
      if (deviceId === 0) {
        check(vm.state === 'Stopped', ROOT_STATE_TEXT);
        check(!deviceInUse(0), 'Vm already has root volume attached to it');
      } else {
        // checkNumberOfAttachedVolumes: the hypervisor's max_data_volumes_limit (KVM 32).
        const max = maxDataVolumes(state.settings, vm.hypervisor);
        check(dataDisks() < max, `The specified VM already has the maximum number of data disks (${max}) attached. Please specify another VM.`);
      }
      check(
        state.vmSnapshotsOf(vm.id).length === 0,
        `Unable to attach volume to Instance ${instanceName(state.world, vm)}/${vm.id}, please specify an Instance that does not have Instance Snapshots`,
      );
    },
    commit: () => {
      // The check CloudStack repeats under a lock just before attaching (checkAndSetAttaching).
      if (volume.virtualmachineid !== undefined) {
        const holder = state.vm(volume.virtualmachineid);
        throw internalError(`volume: ${volume.name} is already attached to a VM: ${holder ? instanceName(state.world, holder) : volume.virtualmachineid}`);
      }
      const device = deviceIdFor(state, vm, volume, deviceId);
      volume.virtualmachineid = vm.id;
      volume.deviceid = device;
      volume.attached = csTime();
      if (device === 0) volume.type = 'ROOT';
      if (vm.state === 'Running' && volume.state === 'Allocated') volume.state = 'Ready';
      return result(state, volume);
    },
  });
};

/**
 * detachVolume: by `id`, or by the pair `virtualmachineid` + `deviceid` — exactly one of the two
 * forms (VolumeApiServiceImpl.detachVolumeFromVM checks it, inside the job). The volume at a
 * device is looked up when the job runs; none there is the IndexOutOfBoundsException CloudStack's
 * `findByInstanceAndDeviceId(…).get(0)` throws (530).
 */
const detachVolume: CommandHandler = ({ state, params }) => {
  const byId = params.entity('id', state.volume, { optional: true });
  const vmParam = params.entity('virtualmachineid', state.vm, { optional: true });
  const deviceId = params.integer('deviceid', { signed: true });
  const wellFormed = byId !== undefined ? vmParam === undefined && deviceId === undefined : vmParam !== undefined && deviceId !== undefined;
  let target: SimVolume | undefined;
  return async({
    instanceType: 'Volume',
    instanceId: byId?.id,
    queueKey: byId?.virtualmachineid ?? vmParam?.id ?? byId?.id ?? `detach:${newId()}`,
    validate: () => {
      check(wellFormed, DETACH_PARAMS_TEXT);
      target = byId ?? state.volumesOf(vmParam!.id).find((v) => v.deviceid === deviceId);
      if (target === undefined) throw internalError('Index 0 out of bounds for length 0');
      const vmId = vmParam?.id ?? target.virtualmachineid;
      check(vmId !== undefined, 'The specified volume is not attached to a VM.');
      const vm = state.vm(vmId!);
      const vmState = vm?.state ?? 'Expunging';
      check(vmState === 'Running' || vmState === 'Stopped' || vmState === 'Destroyed', 'Please specify a VM that is either running or stopped.');
      if (target.type === 'ROOT') check(vmState === 'Stopped', ROOT_STATE_TEXT);
      check(state.vmSnapshotsOf(vmId!).length === 0, DETACH_WITH_VM_SNAPSHOTS_TEXT);
    },
    commit: () => {
      check(target!.virtualmachineid !== undefined, 'The specified volume is not attached to a VM.');
      detach(target!);
      return result(state, target!);
    },
  });
};

const deleteVolume: CommandHandler = ({ state, params }) => {
  const volume = params.need('id', state.volume);
  check(
    volume.state !== 'Snapshotting' && volume.state !== 'RevertSnapshotting',
    'There are snapshot operations in progress on the volume, unable to delete it',
  );
  check(volume.virtualmachineid === undefined, 'Please specify a volume that is not attached to any VM.');
  volume.state = 'Expunged';
  volume.removed = csTime();
  return { kind: 'success' };
};

const listVolumes: CommandHandler = ({ state, params }) => {
  const volumes = where(params, state.liveVolumes(), {
    id: 'id',
    virtualmachineid: 'virtualmachineid',
    type: (v, value) => v.type.toLowerCase() === value.toLowerCase(),
    zoneid: 'zoneid',
    state: (v, value) => v.state.toLowerCase() === value.toLowerCase(),
    name: 'name',
  });
  return list(
    'volume',
    volumes.map((v) => volumeView(state, v)),
  );
};

/** The volume commands by name. */
export const VOLUME_COMMANDS: Record<string, CommandHandler> = { attachVolume, detachVolume, deleteVolume, listVolumes };
