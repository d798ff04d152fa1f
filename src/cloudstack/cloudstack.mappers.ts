import type { Json } from './envelope.js';
import type {
  AsyncJob,
  Capabilities,
  JobStatus,
  Network,
  Nic,
  ServiceOffering,
  Snapshot,
  Template,
  VirtualMachine,
  VmSnapshot,
  Volume,
  Zone,
} from './cloudstack.types.js';

/**
 * Answer objects (keys already lowercased by the envelope parser) → typed resources. Absent
 * fields stay absent; numbers sent as strings are accepted.
 */

const str = (j: Json, key: string): string | undefined => {
  const v = j[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
};
const num = (j: Json, key: string): number | undefined => {
  const v = j[key];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};
const bool = (j: Json, key: string): boolean | undefined => {
  const v = j[key];
  return typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : undefined;
};
const req = (j: Json, key: string): string => str(j, key) ?? '';

/** Drops the keys whose value is undefined so results compare and print cleanly. */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

/** A NIC. */
export function toNic(j: Json): Nic {
  return compact({
    id: req(j, 'id'),
    networkId: req(j, 'networkid'),
    networkName: str(j, 'networkname'),
    ipAddress: str(j, 'ipaddress'),
    macAddress: str(j, 'macaddress'),
    isDefault: bool(j, 'isdefault') ?? false,
  });
}

/** A VM; NICs sorted by `deviceid` when the server gives one. */
export function toVirtualMachine(j: Json): VirtualMachine {
  const nics = Array.isArray(j.nic) ? (j.nic as Json[]) : [];
  const ordered = [...nics].sort((a, b) => (num(a, 'deviceid') ?? 0) - (num(b, 'deviceid') ?? 0));
  return compact({
    id: req(j, 'id'),
    name: req(j, 'name'),
    displayName: str(j, 'displayname'),
    state: req(j, 'state'),
    zoneId: str(j, 'zoneid'),
    templateId: str(j, 'templateid'),
    serviceOfferingId: str(j, 'serviceofferingid'),
    cpuNumber: num(j, 'cpunumber'),
    cpuSpeed: num(j, 'cpuspeed'),
    memoryMb: num(j, 'memory'),
    hypervisor: str(j, 'hypervisor'),
    created: str(j, 'created'),
    nics: ordered.map(toNic),
    raw: j,
  });
}

/** A volume. */
export function toVolume(j: Json): Volume {
  return compact({
    id: req(j, 'id'),
    name: req(j, 'name'),
    type: req(j, 'type'),
    state: req(j, 'state'),
    zoneId: str(j, 'zoneid'),
    virtualMachineId: str(j, 'virtualmachineid'),
    vmName: str(j, 'vmname'),
    vmState: str(j, 'vmstate'),
    deviceId: num(j, 'deviceid'),
    sizeBytes: num(j, 'size'),
    created: str(j, 'created'),
    raw: j,
  });
}

/** A snapshot. */
export function toSnapshot(j: Json): Snapshot {
  return compact({
    id: req(j, 'id'),
    name: str(j, 'name'),
    volumeId: req(j, 'volumeid'),
    volumeType: str(j, 'volumetype'),
    state: req(j, 'state'),
    revertable: bool(j, 'revertable'),
    intervalType: str(j, 'intervaltype'),
    created: str(j, 'created'),
    raw: j,
  });
}

/** A VM snapshot. */
export function toVmSnapshot(j: Json): VmSnapshot {
  return compact({
    id: req(j, 'id'),
    name: req(j, 'name'),
    displayName: str(j, 'displayname'),
    description: str(j, 'description'),
    state: req(j, 'state'),
    type: str(j, 'type'),
    virtualMachineId: str(j, 'virtualmachineid'),
    zoneId: str(j, 'zoneid'),
    current: bool(j, 'current'),
    parentId: str(j, 'parent'),
    created: str(j, 'created'),
    raw: j,
  });
}

/** A network. */
export function toNetwork(j: Json): Network {
  return compact({
    id: req(j, 'id'),
    name: req(j, 'name'),
    zoneId: str(j, 'zoneid'),
    state: str(j, 'state'),
    type: str(j, 'type'),
    cidr: str(j, 'cidr'),
    canUseForDeploy: bool(j, 'canusefordeploy'),
    raw: j,
  });
}

/** A service offering. */
export function toServiceOffering(j: Json): ServiceOffering {
  return compact({
    id: req(j, 'id'),
    name: req(j, 'name'),
    isCustomized: bool(j, 'iscustomized') ?? false,
    cpuNumber: num(j, 'cpunumber'),
    cpuSpeed: num(j, 'cpuspeed'),
    memoryMb: num(j, 'memory'),
    raw: j,
  });
}

/** A zone. */
export function toCapabilities(j: Json): Capabilities {
  return compact({
    cloudStackVersion: str(j, 'cloudstackversion'),
    allowUserExpungeRecoverVm: bool(j, 'allowuserexpungerecovervm') ?? false,
    allowUserViewDestroyedVm: bool(j, 'allowuserviewdestroyedvm') ?? false,
    kvmSnapshotEnabled: bool(j, 'kvmsnapshotenabled') ?? false,
    raw: j,
  });
}

export function toZone(j: Json): Zone {
  return compact({ id: req(j, 'id'), name: req(j, 'name'), allocationState: str(j, 'allocationstate'), raw: j });
}

/** A template. */
export function toTemplate(j: Json): Template {
  return compact({
    id: req(j, 'id'),
    name: req(j, 'name'),
    zoneId: str(j, 'zoneid'),
    isReady: bool(j, 'isready'),
    osTypeName: str(j, 'ostypename'),
    hypervisor: str(j, 'hypervisor'),
    raw: j,
  });
}

/** A queryAsyncJobResult answer. */
export function toAsyncJob(j: Json): AsyncJob {
  const result = j.jobresult;
  return compact({
    jobId: req(j, 'jobid'),
    cmd: str(j, 'cmd'),
    status: (num(j, 'jobstatus') ?? 0) as JobStatus,
    procStatus: num(j, 'jobprocstatus') ?? 0,
    resultCode: num(j, 'jobresultcode') ?? 0,
    result: result !== null && typeof result === 'object' && !Array.isArray(result) ? (result as Json) : undefined,
    instanceType: str(j, 'jobinstancetype'),
    instanceId: str(j, 'jobinstanceid'),
    created: str(j, 'created'),
    completed: str(j, 'completed'),
  });
}
