import { nextAddress } from '../simulator.seed.js';
import { internalError, paramError } from '../simulator.params.js';
import { csTime, detach, newId, newMac, type CloudState, type SimNetwork, type SimNic, type SimVm, type SimVolume } from '../simulator.state.js';
import { vmView } from '../simulator.views.js';
import { async, check, contains, list, where, type CommandContext, type CommandHandler, type CommandOutcome } from './command.js';

/**
 * VM commands: deployVirtualMachine (validated synchronously — it is an async *create*: the VM
 * and its template ROOT volume exist as soon as the answer is sent), start, stop, destroy and
 * listVirtualMachines.
 */

const MAX_CPU = 128;
const MIN_MEMORY = 32;
const MAX_MEMORY = 1_048_576;
const HOSTNAME = /^(?![0-9])(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$/;

const result = (state: CloudState, vm: SimVm) => ({ virtualmachine: vmView(state, vm) });

/** Volumes still Allocated become Ready when the VM first runs (CloudStack creates them on primary storage then). */
function materialise(state: CloudState, vm: SimVm): void {
  for (const volume of state.volumesOf(vm.id)) if (volume.state === 'Allocated') volume.state = 'Ready';
}

function customSize(params: CommandContext['params'], offering: { iscustomized: boolean; cpunumber?: number; cpuspeed?: number; memory?: number }) {
  if (!offering.iscustomized) return { cpunumber: offering.cpunumber ?? 1, cpuspeed: offering.cpuspeed ?? 1000, memory: offering.memory ?? 512 };
  const details = params.map('details');
  if (Object.keys(details).length === 0) throw paramError('Need to specify custom parameter values cpu, cpu speed and memory when using custom offering');
  const int = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN);
  const cpunumber = offering.cpunumber ?? int(details.cpuNumber);
  if (!(cpunumber >= 1 && cpunumber <= MAX_CPU)) throw paramError(`Invalid cpu cores value, specify a value between 1 and ${MAX_CPU}`);
  const cpuspeed = offering.cpuspeed ?? int(details.cpuSpeed);
  if (!(cpuspeed >= 1)) throw paramError(`Invalid cpu speed value, specify a value between 1 and ${2 ** 31 - 1}`);
  const memory = offering.memory ?? int(details.memory);
  if (!(memory >= MIN_MEMORY && memory <= MAX_MEMORY)) throw paramError(`Invalid memory value, specify a value between ${MIN_MEMORY} and ${MAX_MEMORY} MB`);
  return { cpunumber, cpuspeed, memory };
}

const deployVirtualMachine: CommandHandler = ({ state, params }) => {
  const zone = params.need('zoneid', state.zone);
  const offering = params.need('serviceofferingid', state.offering);
  const template = params.need('templateid', state.template);
  const project = params.entity('projectid', state.project, { optional: true });
  const networks = params.list('networkids').map((id) => state.network(id) ?? throwInvalid(params, 'networkids', id));
  if (networks.length === 0) {
    const fallback = state.world.networks.find((n) => n.zoneid === zone.id && n.canusefordeploy && n.type === 'Isolated');
    if (!fallback) throw paramError(`Unable to find a network to deploy the VM in zone ${zone.name}; specify networkids`);
    networks.push(fallback);
  }
  const id = newId();
  const name = params.get('name') ?? `VM-${id}`;
  if (!HOSTNAME.test(name)) {
    throw paramError(
      "Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with \"-\" and can't start with digit",
    );
  }
  checkHostNameUnique(state, name, networks);
  const size = customSize(params, offering);
  const startVm = params.boolean('startvm', true);
  const created = csTime();
  const nics: SimNic[] = networks.map((network, index) => ({
    id: newId(),
    networkid: network.id,
    deviceid: index,
    isdefault: index === 0,
    macaddress: newMac(),
    ipaddress: index === 0 && params.get('ipaddress') ? params.get('ipaddress') : nextAddress(network),
  }));
  const vm: SimVm = {
    id,
    name,
    instancename: `i-2-${state.world.vms.length + 1}-VM`,
    displayname: params.get('displayname') ?? name,
    state: 'Stopped',
    zoneid: zone.id,
    templateid: template.id,
    serviceofferingid: offering.id,
    ...size,
    hypervisor: params.get('hypervisor') ?? template.hypervisor,
    created,
    nics,
    ...(project ? { projectid: project.id } : {}),
  };
  const root: SimVolume = {
    id: newId(),
    name: `ROOT-${name}`,
    type: 'ROOT',
    state: 'Allocated',
    zoneid: zone.id,
    size: template.size,
    created,
    virtualmachineid: id,
    deviceid: 0,
    attached: created,
    templateid: template.id,
    ...(project ? { projectid: project.id } : {}),
  };
  state.world.vms.push(vm);
  state.world.volumes.push(root);
  return async({
    instanceType: 'VirtualMachine',
    instanceId: id,
    queueKey: id,
    createdId: id,
    begin: () => {
      if (startVm) vm.state = 'Starting';
    },
    commit: () => {
      if (startVm) {
        vm.state = 'Running';
        materialise(state, vm);
      }
      return result(state, vm);
    },
    fail: () => {
      vm.state = 'Error';
    },
  });
};

/**
 * Host names are unique per network, as `vm.distinct.hostname.scope` has it by default
 * (UserVmManagerImpl.checkIfHostNameUniqueInNtwkDomain): no VM that is not expunged
 * may carry the name in any network the new VM joins. The same name in another network is fine.
 */
function checkHostNameUnique(state: CloudState, name: string, networks: readonly SimNetwork[]): void {
  const lower = name.toLowerCase();
  for (const network of networks) {
    const taken = state.liveVms().some((vm) => vm.name.toLowerCase() === lower && vm.nics.some((nic) => nic.networkid === network.id));
    if (taken)
      throw paramError(`The vm with hostName ${name} already exists in the network domain: ${network.networkdomain ?? 'null'}; network=${network.name}`);
  }
}

function throwInvalid(params: CommandContext['params'], name: string, value: string): never {
  throw params.invalid(name, value);
}

const startVirtualMachine: CommandHandler = ({ state, params }) => {
  const vm = params.need('id', state.vm);
  return async({
    instanceType: 'VirtualMachine',
    instanceId: vm.id,
    queueKey: vm.id,
    validate: () => {
      check(vm.state !== 'Running', `The virtual machine ${vm.id} (${vm.displayname}) is already running`);
      check(vm.state === 'Stopped', `Unable to start VM ${vm.id} in state ${vm.state}`);
      if (!state.volumesOf(vm.id).some((v) => v.deviceid === 0)) throw internalError(`Unable to start VM ${vm.name}: it has no ROOT volume at device 0`);
    },
    begin: () => {
      vm.state = 'Starting';
    },
    commit: () => {
      vm.state = 'Running';
      materialise(state, vm);
      return result(state, vm);
    },
    fail: () => {
      if (vm.state === 'Starting') vm.state = 'Stopped';
    },
  });
};

const stopVirtualMachine: CommandHandler = ({ state, params }) => {
  const vm = params.need('id', state.vm);
  params.boolean('forced', false);
  return async({
    instanceType: 'VirtualMachine',
    instanceId: vm.id,
    queueKey: vm.id,
    validate: () => check(vm.state === 'Running' || vm.state === 'Stopped', `Unable to stop VM ${vm.id} in state ${vm.state}`),
    begin: () => {
      if (vm.state === 'Running') vm.state = 'Stopping';
    },
    commit: () => {
      vm.state = 'Stopped';
      return result(state, vm);
    },
    fail: () => {
      if (vm.state === 'Stopping') vm.state = 'Running';
    },
  });
};

/**
 * destroyVirtualMachine: the VM's ROOT volume is destroyed with it (whatever volume is the ROOT at
 * that moment — a swapped-in replicated root too); data volumes survive. Without `expunge` the VM
 * stays Destroyed with its volumes attached; with it the VM is removed, the ROOT volume expunged,
 * the data volumes detached and its VM snapshots deleted. `volumeids` names data volumes to
 * destroy as well.
 */
const destroyVirtualMachine: CommandHandler = ({ state, params }) => {
  const vm = params.need('id', state.vm);
  const expunge = params.boolean('expunge', false);
  const extra = params.list('volumeids').map((id) => state.volume(id) ?? throwInvalid(params, 'volumeids', id));
  const destroyVolume = (volume: SimVolume, now: string) => {
    volume.state = expunge ? 'Expunged' : 'Destroy';
    if (expunge) {
      volume.removed = now;
      detach(volume, { keepType: true });
    }
  };
  return async({
    instanceType: 'VirtualMachine',
    instanceId: vm.id,
    queueKey: vm.id,
    validate: () => {
      // UserVmManagerImpl.destroyVm: a PermissionDeniedException, which a job reports as 530.
      const { callerIsAdmin, allowUserExpungeRecoverVm } = state.settings;
      if (expunge && !callerIsAdmin && !allowUserExpungeRecoverVm) throw internalError('Account does not have permission for expunging.');
      check(vm.state !== 'Expunging', `VM ${vm.id} is being expunged`);
      // UserVmManagerImpl.checkForUnattachedVolumes (VolumeVO.toString approximated: no internal ids here).
      const strangers = extra.filter((volume) => volume.virtualmachineid !== vm.id || volume.type !== 'DATADISK');
      check(
        strangers.length === 0,
        `The following supplied volumes are not DATADISK attached to the VM: ${strangers.map((v) => `Volume {"name":"${v.name}","uuid":"${v.id}"}; `).join('')}`,
      );
    },
    begin: () => {
      if (vm.state === 'Running') vm.state = 'Stopping';
    },
    commit: () => {
      const now = csTime();
      for (const volume of extra) {
        detach(volume);
        destroyVolume(volume, now);
      }
      for (const volume of state.volumesOf(vm.id)) {
        if (volume.type === 'ROOT') destroyVolume(volume, now);
        else if (expunge) detach(volume);
      }
      vm.state = expunge ? 'Expunging' : 'Destroyed';
      const answer = result(state, vm);
      if (expunge) {
        vm.removed = now;
        for (const snapshot of state.vmSnapshotsOf(vm.id)) Object.assign(snapshot, { state: 'Removed', removed: now });
      }
      return answer;
    },
    fail: () => {
      if (vm.state === 'Stopping') vm.state = 'Running';
    },
  });
};

/**
 * listVirtualMachines. A caller that is not an admin sees no Destroyed or Expunging VM unless
 * `allow.user.view.destroyed.vm` (QueryManagerImpl adds `state NOT IN (Destroyed, Expunging)`), by
 * id too.
 */
const listVirtualMachines: CommandHandler = ({ state, params }): CommandOutcome => {
  const ids = params.list('ids');
  const { callerIsAdmin, allowUserViewDestroyedVm } = state.settings;
  const visible = state.liveVms().filter((vm) => callerIsAdmin || allowUserViewDestroyedVm || (vm.state !== 'Destroyed' && vm.state !== 'Expunging'));
  const vms = where(params, visible, {
    id: 'id',
    name: (vm, value) => contains(vm.name, value),
    state: (vm, value) => vm.state.toLowerCase() === value.toLowerCase(),
    zoneid: 'zoneid',
    keyword: (vm, value) => contains(vm.name, value) || contains(vm.displayname, value),
  }).filter((vm) => ids.length === 0 || ids.includes(vm.id));
  return list(
    'virtualmachine',
    vms.map((vm) => vmView(state, vm)),
  );
};

/** The VM commands by name. */
export const VM_COMMANDS: Record<string, CommandHandler> = {
  deployVirtualMachine,
  startVirtualMachine,
  stopVirtualMachine,
  destroyVirtualMachine,
  listVirtualMachines,
};
