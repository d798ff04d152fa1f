import { internalError, paramError } from '../simulator.params.js';
import { csTime, instanceName, newId, type CloudState, type SimVm, type SimVmSnapshot } from '../simulator.state.js';
import { vmSnapshotView, vmView } from '../simulator.views.js';
import { TAKING } from './snapshot.commands.js';
import { async, check, contains, list, where, type CommandHandler } from './command.js';

/**
 * VM snapshot commands, as VMSnapshotManagerImpl runs them. createVMSnapshot is an async create:
 * its create phase (allocVMSnapshot: VM state, memory only of a Running VM, a Ready ROOT, the
 * per-VM limit, no other snapshot task on the VM) answers synchronously, and the snapshot exists
 * (Allocated) as soon as the answer is sent; the job takes it Creating → Ready (Error on failure).
 * revertToVMSnapshot and deleteVMSnapshot check their rules inside the job. A VM that has VM
 * snapshots in any state but Removed cannot have volumes attached or detached.
 *
 * Error texts, codes and sync/job placement follow apache/cloudstack
 * server/src/main/java/com/cloud/vm/snapshot/VMSnapshotManagerImpl.java at commit 0005911fb7ebc10773d882ed976680647c6e2a1b,
 * the newest version of that file in the reference index (log4j2 `logger`, Shared FileSystem check: 4.20 or later). Apache
 * itself words these texts "Instance" / "Instance Snapshot" (an older indexed version, f73eea8723b7, still says "VM snapshot").
 * InvalidParameterValueException → 431 (check/paramError), CloudRuntimeException → 530 (internalError); thrown from
 * allocVMSnapshot (CreateVMSnapshotCmd.create) → sync answer; thrown from execute()/the job → job failure.
 * Where Java prints an internal numeric id the simulator prints the uuid (it has no internal ids); a VO's toString()
 * is approximated with its internal id left out.
 */

/** `vmsnapshot.max`, CloudStack's default. */
export const VM_SNAPSHOT_MAX = 10;
const ACTIVE = new Set(['Creating', 'Expunging', 'Reverting', 'Allocated']);
/** allocVMSnapshot (CloudRuntimeException), revertToSnapshot and deleteVMSnapshot (InvalidParameterValueException). */
const OTHER_TASKS_TEXT = 'There are other active Instance Snapshot tasks on the Instance, please try again later';

const hasActiveTasks = (state: CloudState, vmId: string) => state.vmSnapshotsOf(vmId).some((s) => ACTIVE.has(s.state));
/** VMInstanceVO.toString (internal ids left out: the simulator has none). */
const vmText = (state: CloudState, vm: SimVm) => `VM instance {"instanceName":"${instanceName(state.world, vm)}","type":"User","uuid":"${vm.id}"}`;
/** VMSnapshotVO.toString (internal ids left out). */
const snapshotText = (snapshot: SimVmSnapshot) => `VMSnapshot {"name":"${snapshot.name}","uuid":"${snapshot.id}"}`;

/** Makes `snapshot` the VM's current one (the others stop being current). */
function makeCurrent(state: CloudState, snapshot: SimVmSnapshot): void {
  for (const other of state.vmSnapshotsOf(snapshot.virtualmachineid)) other.current = other === snapshot;
}

const createVMSnapshot: CommandHandler = ({ state, params }) => {
  const vm = params.need('virtualmachineid', state.vm);
  const memory = params.boolean('snapshotmemory', false);
  params.boolean('quiescevm', false);
  // allocVMSnapshot: `vmId` (internal) is printed as the VM's uuid below.
  const displayName = params.get('name');
  const description = params.get('description');
  if (displayName !== undefined && displayName.length > 255)
    throw paramError('Creating Instance Snapshot failed due to length of Instance Snapshot vsDisplayName should not exceed 255');
  if (description !== undefined && description.length > 255)
    throw paramError('Creating Instance Snapshot failed due to length of Instance Snapshot vsDescription should not exceed 255');
  check(vm.state === 'Running' || vm.state === 'Stopped', `Creating Instance Snapshot failed because Instance:${vm.id} is not in Running or Stopped state`);
  check(!memory || vm.state === 'Running', 'Can not Snapshot memory when the Instance is not in Running state');
  const readyRoot = state.volumesOf(vm.id).some((v) => v.type === 'ROOT' && v.state === 'Ready');
  if (!readyRoot) throw internalError(`Unable to find root volume for the user Instance:${vm.id}`);
  if (state.vmSnapshotsOf(vm.id).length >= VM_SNAPSHOT_MAX) {
    throw internalError(`Creating Instance Snapshot failed due to a Instance can just have : ${VM_SNAPSHOT_MAX} Instance Snapshots. Please delete old ones`);
  }
  const volumeIds = new Set(state.volumesOf(vm.id).map((v) => v.id));
  if (state.liveSnapshots().some((s) => volumeIds.has(s.volumeid) && TAKING.has(s.state))) {
    throw internalError('There are other active volume Snapshot tasks on the Instance to which the volume is attached, please try again later.');
  }
  if (hasActiveTasks(state, vm.id)) throw internalError(OTHER_TASKS_TEXT);
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const name = `${instanceName(state.world, vm)}_VS_${stamp}`;
  const snapshot: SimVmSnapshot = {
    id: newId(),
    name,
    displayname: displayName ?? name,
    description,
    virtualmachineid: vm.id,
    zoneid: vm.zoneid,
    state: 'Allocated',
    type: memory && vm.state === 'Running' ? 'DiskAndMemory' : 'Disk',
    current: false,
    created: csTime(),
  };
  if (description === undefined) delete snapshot.description;
  state.world.vmSnapshots.push(snapshot);
  return async({
    instanceType: 'VmSnapshot',
    instanceId: snapshot.id,
    queueKey: vm.id,
    createdId: snapshot.id,
    // createVMSnapshot / orchestrateCreateVMSnapshot, in the job.
    validate: () => {
      check(vm.removed === undefined, `Create Instance to Snapshot failed because Instance: ${vm.id} is not found`);
      const root = state.volumesOf(vm.id).find((v) => v.type === 'ROOT');
      if (!root) throw internalError('Create Instance to Snapshot failed because no root disk was found');
      if (root.state !== 'Ready')
        throw internalError(`Create Instance to Snapshot failed due to Instance: ${vmText(state, vm)} has root disk in ${root.state} state`);
    },
    begin: () => {
      snapshot.state = 'Creating';
    },
    commit: () => {
      const parent = state.vmSnapshotsOf(vm.id).find((s) => s.current);
      if (parent) snapshot.parent = parent.id;
      snapshot.state = 'Ready';
      makeCurrent(state, snapshot);
      return { vmsnapshot: vmSnapshotView(state, snapshot) };
    },
    fail: () => {
      snapshot.state = 'Error';
    },
  });
};

const revertToVMSnapshot: CommandHandler = ({ state, params }) => {
  const snapshot = params.need('vmsnapshotid', state.vmSnapshot);
  const vm = state.world.vms.find((v) => v.id === snapshot.virtualmachineid)!;
  return async({
    instanceType: 'VmSnapshot',
    instanceId: snapshot.id,
    queueKey: vm.id,
    // revertToSnapshot (RevertToVMSnapshotCmd.execute), in the job; `%d` vmId printed as the uuid.
    validate: () => {
      check(vm.removed === undefined, `Revert Instance to Snapshot: ${snapshotText(snapshot)} failed due to Instance: ${vm.id} is not found`);
      check(!hasActiveTasks(state, vm.id), OTHER_TASKS_TEXT);
      check(vm.state === 'Running' || vm.state === 'Stopped', 'Instance Snapshot reverting failed because the Instance is not in Running or Stopped state.');
      check(
        !(vm.state === 'Running' && snapshot.type === 'Disk'),
        'Reverting to the Instance Snapshot is not allowed for running Instances as this would result in an Instance state change. ' +
          'For running Instances only Snapshots with memory can be reverted. ' +
          'In order to revert to a Snapshot without memory you need to first stop the Instance.',
      );
      check(
        !(vm.state === 'Stopped' && snapshot.type === 'DiskAndMemory'),
        'Reverting to the Instance Snapshot is not allowed for stopped Instances when the Snapshot contains memory as this would result in an Instance state change. ' +
          'In order to revert to a Snapshot with memory you need to first start the Instance.',
      );
      check(snapshot.state === 'Ready', 'Instance Snapshot reverting failed because the Instance Snapshot is not in Created state.');
    },
    begin: () => {
      snapshot.state = 'Reverting';
    },
    commit: () => {
      snapshot.state = 'Ready';
      makeCurrent(state, snapshot);
      return { virtualmachine: vmView(state, vm) };
    },
    fail: () => {
      if (snapshot.state === 'Reverting') snapshot.state = 'Ready';
    },
  });
};

const deleteVMSnapshot: CommandHandler = ({ state, params }) => {
  const snapshot = params.need('vmsnapshotid', state.vmSnapshot);
  const vmId = snapshot.virtualmachineid;
  return async({
    instanceType: 'VmSnapshot',
    instanceId: snapshot.id,
    queueKey: vmId,
    // deleteVMSnapshot (DeleteVMSnapshotCmd.execute), in the job.
    validate: () => {
      check(
        snapshot.state === 'Ready' || snapshot.state === 'Expunging' || snapshot.state === 'Error',
        `Can't delete the Instance Snapshotshot ${snapshotText(snapshot)} due to it is not in Created or Error, or Expunging State`,
      );
      // Active tasks on the VM refuse it, unless this snapshot is the (first) Expunging one: a delete retried.
      if (hasActiveTasks(state, vmId)) {
        check(state.vmSnapshotsOf(vmId).find((s) => s.state === 'Expunging') === snapshot, OTHER_TASKS_TEXT);
      }
    },
    begin: () => {
      snapshot.state = 'Expunging';
    },
    commit: () => {
      // Its children hang off its parent from now on; if it was current, its parent is.
      for (const child of state.vmSnapshotsOf(vmId)) if (child.parent === snapshot.id) child.parent = snapshot.parent;
      const parent = snapshot.parent === undefined ? undefined : state.vmSnapshot(snapshot.parent);
      if (snapshot.current && parent) parent.current = true;
      Object.assign(snapshot, { state: 'Removed', current: false, removed: csTime() });
      return { success: true };
    },
    fail: () => {
      if (snapshot.state === 'Expunging') snapshot.state = 'Error';
    },
  });
};

/** Newest first, as VMSnapshotManagerImpl.listVMSnapshots orders them (`created` descending). */
const listVMSnapshot: CommandHandler = ({ state, params }) => {
  const ids = params.list('vmsnapshotids');
  const matching = where(params, state.liveVmSnapshots(), {
    vmsnapshotid: 'id',
    virtualmachineid: 'virtualmachineid',
    state: (s, value) => s.state.toLowerCase() === value.toLowerCase(),
    name: 'displayname',
    keyword: (s, value) => contains(s.name, value) || contains(s.displayname, value) || contains(s.description, value),
  }).filter((s) => ids.length === 0 || ids.includes(s.id));
  const newestFirst = matching.reverse().sort((a, b) => b.created.localeCompare(a.created));
  return list(
    'vmSnapshot',
    newestFirst.map((s) => vmSnapshotView(state, s)),
  );
};

/** The VM snapshot commands by name. */
export const VM_SNAPSHOT_COMMANDS: Record<string, CommandHandler> = { createVMSnapshot, revertToVMSnapshot, deleteVMSnapshot, listVMSnapshot };
