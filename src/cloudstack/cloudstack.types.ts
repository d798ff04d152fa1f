/**
 * The CloudStack resources the failover works with, as the client returns them: camelCase fields,
 * sizes in bytes, memory in MB. `raw` keeps the whole answer object (keys lowercased) for anything
 * not mapped here.
 */

/** VM states (VirtualMachine.State). */
export enum VmState {
  STARTING = 'Starting',
  RUNNING = 'Running',
  STOPPING = 'Stopping',
  STOPPED = 'Stopped',
  DESTROYED = 'Destroyed',
  EXPUNGING = 'Expunging',
  MIGRATING = 'Migrating',
  ERROR = 'Error',
}

/** Volume states (Volume.State), the subset this service meets. */
export enum VolumeState {
  ALLOCATED = 'Allocated',
  CREATING = 'Creating',
  READY = 'Ready',
  SNAPSHOTTING = 'Snapshotting',
  REVERT_SNAPSHOTTING = 'RevertSnapshotting',
  DESTROY = 'Destroy',
  EXPUNGED = 'Expunged',
}

/** Volume types. */
export enum VolumeType {
  ROOT = 'ROOT',
  DATADISK = 'DATADISK',
}

/** Snapshot states (Snapshot.State). */
export enum SnapshotState {
  ALLOCATED = 'Allocated',
  CREATING = 'Creating',
  CREATED_ON_PRIMARY = 'CreatedOnPrimary',
  BACKING_UP = 'BackingUp',
  BACKED_UP = 'BackedUp',
  DESTROYED = 'Destroyed',
  ERROR = 'Error',
}

/** VM snapshot states (VMSnapshot.State; `Removed` and `Hidden` ones are never listed). */
export enum VmSnapshotState {
  ALLOCATED = 'Allocated',
  CREATING = 'Creating',
  READY = 'Ready',
  REVERTING = 'Reverting',
  EXPUNGING = 'Expunging',
  REMOVED = 'Removed',
  ERROR = 'Error',
}

/** What a VM snapshot holds (VMSnapshot.Type). */
export enum VmSnapshotType {
  DISK = 'Disk',
  DISK_AND_MEMORY = 'DiskAndMemory',
}

/** `jobstatus` of an async job. */
export enum JobStatus {
  PENDING = 0,
  SUCCEEDED = 1,
  FAILED = 2,
  CANCELLED = 3,
}

/** A NIC of a VM. */
export interface Nic {
  readonly id: string;
  readonly networkId: string;
  readonly networkName?: string;
  readonly ipAddress?: string;
  readonly macAddress?: string;
  readonly isDefault: boolean;
}

/** A virtual machine. */
export interface VirtualMachine {
  readonly id: string;
  readonly name: string;
  readonly displayName?: string;
  /** A {@link VmState} value (kept as string: servers may add states). */
  readonly state: string;
  readonly zoneId?: string;
  readonly templateId?: string;
  readonly serviceOfferingId?: string;
  readonly cpuNumber?: number;
  readonly cpuSpeed?: number;
  readonly memoryMb?: number;
  readonly hypervisor?: string;
  readonly created?: string;
  /** NICs in device order; the default NIC is the one with `isDefault`. */
  readonly nics: readonly Nic[];
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A volume (disk). */
export interface Volume {
  readonly id: string;
  readonly name: string;
  /** A {@link VolumeType} value. */
  readonly type: string;
  /** A {@link VolumeState} value. */
  readonly state: string;
  readonly zoneId?: string;
  readonly virtualMachineId?: string;
  readonly vmName?: string;
  readonly vmState?: string;
  readonly deviceId?: number;
  readonly sizeBytes?: number;
  readonly created?: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A volume snapshot. */
export interface Snapshot {
  readonly id: string;
  readonly name?: string;
  readonly volumeId: string;
  readonly volumeType?: string;
  /** A {@link SnapshotState} value. */
  readonly state: string;
  readonly revertable?: boolean;
  readonly intervalType?: string;
  readonly created?: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A VM snapshot (all disks of a VM, optionally its memory). */
export interface VmSnapshot {
  readonly id: string;
  /** CloudStack's own name (`<instance name>_VS_<timestamp>`). */
  readonly name: string;
  /** The name given at creation (`name` parameter), else the same as `name`. */
  readonly displayName?: string;
  readonly description?: string;
  /** A {@link VmSnapshotState} value. */
  readonly state: string;
  /** A {@link VmSnapshotType} value. */
  readonly type?: string;
  readonly virtualMachineId?: string;
  readonly zoneId?: string;
  /** The VM's current snapshot (the one last taken or reverted to). */
  readonly current?: boolean;
  /** The snapshot this one was taken on top of. */
  readonly parentId?: string;
  readonly created?: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A guest network. */
export interface Network {
  readonly id: string;
  readonly name: string;
  readonly zoneId?: string;
  readonly state?: string;
  readonly type?: string;
  readonly cidr?: string;
  readonly canUseForDeploy?: boolean;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A compute (service) offering. */
export interface ServiceOffering {
  readonly id: string;
  readonly name: string;
  /** True when CPU/memory are given at deploy time (details[0].cpuNumber / memory). */
  readonly isCustomized: boolean;
  readonly cpuNumber?: number;
  readonly cpuSpeed?: number;
  readonly memoryMb?: number;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A zone. */
/** What listCapabilities says about the cloud and the caller (CapabilitiesResponse). */
export interface Capabilities {
  readonly cloudStackVersion?: string;
  /** `allow.user.expunge.recover.vm`, or the caller is an admin: destroyVirtualMachine may expunge. */
  readonly allowUserExpungeRecoverVm: boolean;
  /** `allow.user.view.destroyed.vm`, or the caller is an admin: lists show Destroyed VMs. */
  readonly allowUserViewDestroyedVm: boolean;
  /** `kvm.snapshot.enabled`: volumes of a Running KVM VM may be snapshotted. */
  readonly kvmSnapshotEnabled: boolean;
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface Zone {
  readonly id: string;
  readonly name: string;
  readonly allocationState?: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A template. */
export interface Template {
  readonly id: string;
  readonly name: string;
  readonly zoneId?: string;
  readonly isReady?: boolean;
  readonly osTypeName?: string;
  readonly hypervisor?: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** An async job as queryAsyncJobResult reports it. */
export interface AsyncJob {
  readonly jobId: string;
  /** The server's command class name (`cmd`). */
  readonly cmd?: string;
  readonly status: JobStatus;
  readonly procStatus: number;
  readonly resultCode: number;
  /** The job result object (keys lowercased): the resource, `success`, or `errorcode`/`errortext`. */
  readonly result?: Readonly<Record<string, unknown>>;
  readonly instanceType?: string;
  readonly instanceId?: string;
  readonly created?: string;
  readonly completed?: string;
}

/** Where failover VMs go: the zone, the boot template, the customised offering, and the appliance VM holding the replicated volumes. */
export interface CloudIds {
  readonly zoneId: string;
  readonly templateId: string;
  readonly serviceOfferingId: string;
  /** The appliance VM(s) the replicated volumes hang off (one KVM VM holds at most 32 data disks). */
  readonly applianceVmIds: readonly string[];
  /** The project the resources belong to, if any (CLOUDSTACK_PROJECT_ID). */
  readonly projectId?: string;
}
