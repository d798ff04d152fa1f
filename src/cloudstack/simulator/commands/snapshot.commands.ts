import { internalError, paramError, SimApiError } from '../simulator.params.js';
import { csTime, instanceName, newId, type CloudState, type SimSnapshot, type SimVolume } from '../simulator.state.js';
import { snapshotView } from '../simulator.views.js';
import { async, check, list, where, type CommandHandler } from './command.js';

/**
 * Volume snapshot commands. createSnapshot is an async create: what its `create()` checks
 * (SnapshotManagerImpl.allocSnapshot) answers synchronously — the volume Ready, on KVM a volume of
 * a VM that is not Stopped only with `kvm.snapshot.enabled`, no other snapshot being taken of a
 * volume of the same VM — and the snapshot exists (Allocated) as soon as the answer is sent; in
 * the job it is Creating (the volume Snapshotting), CreatedOnPrimary, BackingUp, then BackedUp.
 * Whatever fails inside the job is reported as CreateSnapshotCmd.execute wraps it (530).
 * revertSnapshot and deleteSnapshot check their rules inside the job.
 */

const notReady = (volume: SimVolume) => `VolumeId: ${volume.id} is not in Ready state but ${volume.state}. Cannot take snapshot.`;
/** SnapshotManagerImpl: a KVM snapshot of a volume whose VM runs, with `kvm.snapshot.enabled` false. */
export const KVM_RUNNING_SNAPSHOT_TEXT =
  'KVM Snapshot is not supported for Running VMs. It is disabled by default due to a possible volume corruption in certain cases. To enable it set global settings kvm.snapshot.enabled to True. See the documentation for more details.';
/** SnapshotManagerImpl: another snapshot of a volume of the same VM is being taken. */
export const ACTIVE_SNAPSHOT_TASKS_TEXT = 'There is other active snapshot tasks on the instance to which the volume is attached, please try again later';
/** Snapshot states of a snapshot being taken (Snapshot.State Creating, CreatedOnPrimary, BackingUp). */
export const TAKING = new Set(['Creating', 'CreatedOnPrimary', 'BackingUp']);
/** CreateSnapshotCmd.execute: how any failure inside the job is reported. */
const createFailedText = (volume: SimVolume) => `Failed to create snapshot due to an internal error creating snapshot for volume ${volume.id}`;

/** VM snapshot states of a VM snapshot task (VMSnapshot.State Creating, Reverting, Expunging). */
const VM_SNAPSHOT_TASK = new Set(['Creating', 'Reverting', 'Expunging']);

/**
 * What SnapshotManagerImpl.supportedByHypervisor checks about the VM a volume is attached to (a
 * detached volume passes), in its order: KVM and a VM that is not Stopped/Destroyed without
 * `kvm.snapshot.enabled` (530); a Destroyed/Expunging VM (530); on KVM and VMware another snapshot
 * of a volume of the VM being taken (431); a VM snapshot task on the VM (530).
 */
function checkAttachedVm(state: CloudState, volume: SimVolume): void {
  if (volume.virtualmachineid === undefined) return;
  const vm = state.vm(volume.virtualmachineid);
  if (!vm) return;
  const hypervisor = vm.hypervisor;
  if (hypervisor === 'KVM' && vm.state !== 'Stopped' && vm.state !== 'Destroyed' && !state.settings.kvmSnapshotEnabled) {
    throw internalError(KVM_RUNNING_SNAPSHOT_TEXT);
  }
  if (vm.state === 'Destroyed' || vm.state === 'Expunging') {
    throw internalError(`Creating snapshot failed due to volume:${volume.id} is associated with vm:${instanceName(state.world, vm)} is in ${vm.state} state`);
  }
  if (hypervisor === 'KVM' || hypervisor === 'VMware') {
    const onVm = new Set(state.volumesOf(vm.id).map((v) => v.id));
    if (state.liveSnapshots().some((s) => onVm.has(s.volumeid) && TAKING.has(s.state))) throw paramError(ACTIVE_SNAPSHOT_TASKS_TEXT);
  }
  if (state.vmSnapshotsOf(vm.id).some((s) => VM_SNAPSHOT_TASK.has(s.state))) {
    throw internalError('There is other active vm snapshot tasks on the instance to which the volume is attached, please try again later');
  }
}
const result = (state: CloudState, snapshot: SimSnapshot) => ({ snapshot: snapshotView(state, snapshot) });

/** CloudStack's default snapshot name: `<vm>_<volume>_<yyyyMMddHHmmss>`. */
function defaultName(state: CloudState, volume: SimVolume): string {
  const vm = volume.virtualmachineid === undefined ? undefined : state.vm(volume.virtualmachineid);
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${vm?.displayname ?? 'detached'}_${volume.name}_${stamp}`;
}

const createSnapshot: CommandHandler = ({ state, params }) => {
  const volume = params.need('volumeid', state.volume);
  check(volume.state === 'Ready', notReady(volume));
  checkAttachedVm(state, volume);
  const snapshot: SimSnapshot = {
    id: newId(),
    name: params.get('name') ?? defaultName(state, volume),
    volumeid: volume.id,
    volumetype: volume.type,
    state: 'Allocated',
    zoneid: volume.zoneid,
    intervaltype: 'MANUAL',
    snapshottype: 'MANUAL',
    created: csTime(),
    revertable: state.settings.snapshotsRevertable,
    ...(volume.projectid ? { projectid: volume.projectid } : {}),
  };
  state.world.snapshots.push(snapshot);
  return async({
    instanceType: 'Snapshot',
    instanceId: snapshot.id,
    queueKey: volume.virtualmachineid ?? volume.id,
    createdId: snapshot.id,
    validate: () => check(volume.state === 'Ready', notReady(volume)),
    begin: () => {
      volume.state = 'Snapshotting';
      snapshot.state = 'Creating';
    },
    onStep: (step) => {
      if (step === 2) {
        volume.state = 'Ready';
        snapshot.state = 'CreatedOnPrimary';
      } else snapshot.state = 'BackingUp';
    },
    wrapFailure: (error) =>
      error.errorCode === 530 && error.errorText.startsWith('Failed to create snapshot') ? error : new SimApiError(530, createFailedText(volume)),
    commit: () => {
      if (volume.state === 'Snapshotting') volume.state = 'Ready';
      snapshot.state = 'BackedUp';
      return result(state, snapshot);
    },
    fail: () => {
      if (volume.state === 'Snapshotting') volume.state = 'Ready';
      snapshot.state = 'Error';
    },
  });
};

const revertSnapshot: CommandHandler = ({ state, params }) => {
  const snapshot = params.need('id', state.snapshot);
  const volume = state.world.volumes.find((v) => v.id === snapshot.volumeid)!;
  return async({
    instanceType: 'Snapshot',
    instanceId: snapshot.id,
    queueKey: volume.virtualmachineid ?? volume.id,
    // SnapshotManagerImpl.revertSnapshot, from execute(): in the job.
    validate: () => {
      check(snapshot.state === 'BackedUp', `Snapshot ${snapshot.id} is in ${snapshot.state} state, only a BackedUp snapshot can be reverted`);
      check(volume.removed === undefined && volume.state === 'Ready', 'The volume is not in Ready state.');
      if (volume.virtualmachineid !== undefined) {
        const vmState = state.vm(volume.virtualmachineid)?.state;
        check(vmState === 'Stopped' || vmState === 'Shutdown', 'The VM the specified disk is attached to is not in the shutdown state.');
        check(
          state.vmSnapshotsOf(volume.virtualmachineid).length === 0,
          'Unable to revert snapshot for VM, please remove VM snapshots before reverting VM from snapshot',
        );
      }
      // No snapshot strategy that can revert it (DefaultSnapshotStrategy wants QCOW2 on primary): CloudRuntimeException.
      if (snapshot.revertable === false) {
        throw internalError(`Revert snapshot command failed for snapshot with id ${snapshot.id}, because this command is supported only for KVM hypervisor`);
      }
    },
    begin: () => {
      volume.state = 'RevertSnapshotting';
    },
    commit: () => {
      volume.state = 'Ready';
      volume.revertedto = snapshot.id;
      return result(state, snapshot);
    },
    fail: () => {
      if (volume.state === 'RevertSnapshotting') volume.state = 'Ready';
    },
  });
};

const deleteSnapshot: CommandHandler = ({ state, params }) => {
  const snapshot = params.need('id', state.snapshot);
  return async({
    instanceType: 'Snapshot',
    instanceId: snapshot.id,
    queueKey: `snapshot:${snapshot.id}`,
    // DefaultSnapshotStrategy.deleteSnapshot: only a BackedUp or Error snapshot (or one Destroying,
    // not modelled) — one being taken, and one still Allocated (its job has not begun), are refused.
    validate: () =>
      check(snapshot.state === 'BackedUp' || snapshot.state === 'Error', `Can't delete snapshot ${snapshot.id} due to it is in ${snapshot.state} Status`),
    commit: () => {
      snapshot.state = 'Destroyed';
      snapshot.removed = csTime();
      return { success: true };
    },
  });
};

const listSnapshots: CommandHandler = ({ state, params }) => {
  const snapshots = where(params, state.liveSnapshots(), {
    id: 'id',
    volumeid: 'volumeid',
    name: 'name',
    intervaltype: (s, value) => s.intervaltype.toLowerCase() === value.toLowerCase(),
    zoneid: 'zoneid',
  });
  return list(
    'snapshot',
    snapshots.map((s) => snapshotView(state, s)),
  );
};

/** The snapshot commands by name. */
export const SNAPSHOT_COMMANDS: Record<string, CommandHandler> = { createSnapshot, revertSnapshot, deleteSnapshot, listSnapshots };
