import { csTime, newId, type CloudState, type SimSnapshot, type SimVolume } from '../simulator.state.js';
import { snapshotView } from '../simulator.views.js';
import { async, check, list, where, type CommandHandler } from './command.js';

/**
 * Volume snapshot commands. createSnapshot is an async create: the volume must be Ready when it is
 * asked for (a sync 431 otherwise) and the snapshot exists (Creating) as soon as the answer is
 * sent; in the job the volume is Snapshotting, then the snapshot is BackingUp, then BackedUp.
 * revertSnapshot and deleteSnapshot check their rules inside the job.
 */

const notReady = (volume: SimVolume) => `VolumeId: ${volume.id} is not in Ready state but ${volume.state}. Cannot take snapshot.`;
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
  const snapshot: SimSnapshot = {
    id: newId(),
    name: params.get('name') ?? defaultName(state, volume),
    volumeid: volume.id,
    volumetype: volume.type,
    state: 'Creating',
    zoneid: volume.zoneid,
    intervaltype: 'MANUAL',
    snapshottype: 'MANUAL',
    created: csTime(),
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
    },
    onStep: (step) => {
      if (step !== 2) return;
      volume.state = 'Ready';
      snapshot.state = 'BackingUp';
    },
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
    validate: () => {
      check(snapshot.state === 'BackedUp', `Snapshot ${snapshot.id} is in ${snapshot.state} state, only a BackedUp snapshot can be reverted`);
      check(volume.removed === undefined && volume.state === 'Ready', 'The volume is not in Ready state.');
      if (volume.virtualmachineid !== undefined) {
        check(state.vm(volume.virtualmachineid)?.state === 'Stopped', 'The VM the specified disk is attached to is not in the shutdown state.');
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
    validate: () =>
      check(
        snapshot.state !== 'Creating' && snapshot.state !== 'BackingUp',
        `Can't delete snapshotshot ${snapshot.id} due to it is in ${snapshot.state} Status`,
      ),
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
