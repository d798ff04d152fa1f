import type { AsyncJob, Capabilities, Network, ServiceOffering, Snapshot, Template, VirtualMachine, VmSnapshot, Volume, Zone } from './cloudstack.types.js';

/**
 * The port the failover engine depends on: the CloudStack commands it needs, typed. The HTTP
 * {@link CloudStackClient} implements it against a real CloudStack or the simulator.
 *
 * Async commands resolve when their job has succeeded and reject with a `CloudStackError`
 * (kind JOB_FAILED, with the job's `errorCode`/`errorText`) when it failed. When the outcome of a
 * write cannot be known (its answer was lost, or the deadline passed while waiting for its job),
 * the error has `ambiguous: true`, `retryable: false`, and the `jobId`/`resourceId` it knows.
 */

/** Progress of an async operation, reported after each poll that finds the job still running. */
export interface JobProgress {
  readonly command: string;
  readonly jobId: string;
  /** The job's `jobprocstatus`. */
  readonly procStatus: number;
  /** Time since the operation started. */
  readonly elapsedMs: number;
}

/** Per-call controls for an operation. */
export interface OperationOptions {
  /** Cancels the operation (the HTTP request, retries and job polling). */
  readonly signal?: AbortSignal;
  /** Overall time allowed for the operation, submission and job included. */
  readonly deadlineMs?: number;
  /** Called while the async job runs. */
  readonly onProgress?: (progress: JobProgress) => void;
}

/** deployVirtualMachine. */
export interface DeployVirtualMachineParams {
  readonly zoneId: string;
  readonly serviceOfferingId: string;
  readonly templateId: string;
  /** Networks in NIC order; the first becomes the default NIC. */
  readonly networkIds?: readonly string[];
  /** Host name; also the key that makes a retried deploy safe (it is looked up before re-sending). */
  readonly name?: string;
  readonly displayName?: string;
  /** Default true (CloudStack's default). */
  readonly startVm?: boolean;
  /** For a customised offering: details[0].cpuNumber. */
  readonly cpuNumber?: number;
  /** For a customised offering without a fixed speed: details[0].cpuSpeed (MHz). */
  readonly cpuSpeed?: number;
  /** For a customised offering: details[0].memory (MB). */
  readonly memoryMb?: number;
  /** IP address of the default NIC. */
  readonly ipAddress?: string;
  readonly hypervisor?: string;
}

/** stopVirtualMachine. */
export interface StopVirtualMachineParams {
  readonly id: string;
  /** Force the stop (power off). */
  readonly forced?: boolean;
}

/** destroyVirtualMachine. */
export interface DestroyVirtualMachineParams {
  readonly id: string;
  /** Expunge at once instead of leaving it Destroyed (recoverable). */
  readonly expunge?: boolean;
  /** Data volumes to destroy with the VM (its ROOT volume is always destroyed). */
  readonly volumeIds?: readonly string[];
}

/** createSnapshot. */
export interface CreateSnapshotParams {
  readonly volumeId: string;
  /** Snapshot name; also the key that makes a retried create safe. */
  readonly name?: string;
}

/** createVMSnapshot. */
export interface CreateVmSnapshotParams {
  readonly virtualMachineId: string;
  /** The snapshot's display name; also the key that makes a retried create safe. Not unique. */
  readonly name?: string;
  readonly description?: string;
  /** Include the memory (the VM must be Running). Default false. */
  readonly snapshotMemory?: boolean;
  /** Quiesce the file systems first. Default false. */
  readonly quiesceVm?: boolean;
}

/** listVMSnapshot filters. */
export interface ListVmSnapshotParams {
  /** `vmsnapshotid`. */
  readonly id?: string;
  readonly virtualMachineId?: string;
  readonly state?: string;
  /** Matched exactly against the display name. */
  readonly name?: string;
}

/** attachVolume. */
export interface AttachVolumeParams {
  readonly id: string;
  readonly virtualMachineId: string;
  /** 0 attaches as the VM's ROOT disk (the VM must be Stopped and have no root). */
  readonly deviceId?: number;
}

/** detachVolume: by volume id, or by VM + device id. */
export type DetachVolumeParams = { readonly id: string } | { readonly virtualMachineId: string; readonly deviceId: number };

/** listVirtualMachines filters. */
export interface ListVirtualMachinesParams {
  readonly id?: string;
  readonly ids?: readonly string[];
  /** Matched by the server as a substring; the client keeps exact matches only. */
  readonly name?: string;
  readonly state?: string;
  readonly zoneId?: string;
}

/** listVolumes filters. */
export interface ListVolumesParams {
  readonly id?: string;
  readonly virtualMachineId?: string;
  readonly type?: string;
  readonly zoneId?: string;
  readonly state?: string;
  readonly name?: string;
}

/** listSnapshots filters. */
export interface ListSnapshotsParams {
  readonly id?: string;
  readonly volumeId?: string;
  readonly name?: string;
  readonly intervalType?: string;
  readonly zoneId?: string;
}

/** listNetworks filters. */
export interface ListNetworksParams {
  readonly id?: string;
  readonly zoneId?: string;
  readonly name?: string;
  readonly canUseForDeploy?: boolean;
}

/** listServiceOfferings filters. */
export interface ListServiceOfferingsParams {
  readonly id?: string;
  readonly name?: string;
  readonly zoneId?: string;
}

/** listZones filters. */
export interface ListZonesParams {
  readonly id?: string;
  readonly name?: string;
}

/** listTemplates: `templateFilter` is required by CloudStack. */
export interface ListTemplatesParams {
  readonly templateFilter: 'featured' | 'self' | 'selfexecutable' | 'sharedexecutable' | 'executable' | 'community' | 'all';
  readonly id?: string;
  readonly name?: string;
  readonly zoneId?: string;
}

/** The CloudStack operations failover needs. */
export interface CloudStack {
  deployVirtualMachine(params: DeployVirtualMachineParams, options?: OperationOptions): Promise<VirtualMachine>;
  startVirtualMachine(params: { readonly id: string }, options?: OperationOptions): Promise<VirtualMachine>;
  stopVirtualMachine(params: StopVirtualMachineParams, options?: OperationOptions): Promise<VirtualMachine>;
  destroyVirtualMachine(params: DestroyVirtualMachineParams, options?: OperationOptions): Promise<VirtualMachine | undefined>;
  createSnapshot(params: CreateSnapshotParams, options?: OperationOptions): Promise<Snapshot>;
  revertSnapshot(params: { readonly id: string }, options?: OperationOptions): Promise<Snapshot | undefined>;
  deleteSnapshot(params: { readonly id: string }, options?: OperationOptions): Promise<void>;
  createVMSnapshot(params: CreateVmSnapshotParams, options?: OperationOptions): Promise<VmSnapshot>;
  /** Resolves with the VM as the revert left it. */
  revertToVMSnapshot(params: { readonly vmSnapshotId: string }, options?: OperationOptions): Promise<VirtualMachine>;
  deleteVMSnapshot(params: { readonly vmSnapshotId: string }, options?: OperationOptions): Promise<void>;
  attachVolume(params: AttachVolumeParams, options?: OperationOptions): Promise<Volume>;
  detachVolume(params: DetachVolumeParams, options?: OperationOptions): Promise<Volume>;
  deleteVolume(params: { readonly id: string }, options?: OperationOptions): Promise<void>;
  listVirtualMachines(params?: ListVirtualMachinesParams, options?: OperationOptions): Promise<VirtualMachine[]>;
  listVolumes(params?: ListVolumesParams, options?: OperationOptions): Promise<Volume[]>;
  listSnapshots(params?: ListSnapshotsParams, options?: OperationOptions): Promise<Snapshot[]>;
  listVMSnapshot(params?: ListVmSnapshotParams, options?: OperationOptions): Promise<VmSnapshot[]>;
  listNetworks(params?: ListNetworksParams, options?: OperationOptions): Promise<Network[]>;
  listServiceOfferings(params?: ListServiceOfferingsParams, options?: OperationOptions): Promise<ServiceOffering[]>;
  listZones(params?: ListZonesParams, options?: OperationOptions): Promise<Zone[]>;
  /** What the cloud allows this key (listCapabilities). */
  listCapabilities(options?: OperationOptions): Promise<Capabilities>;
  listTemplates(params: ListTemplatesParams, options?: OperationOptions): Promise<Template[]>;
  queryAsyncJobResult(params: { readonly jobId: string }, options?: OperationOptions): Promise<AsyncJob>;
}

/** The read-only half of {@link CloudStack}: what a failover step may ask without going through the ledger. */
export type CloudStackReader = Pick<
  CloudStack,
  | 'listVirtualMachines'
  | 'listVolumes'
  | 'listSnapshots'
  | 'listVMSnapshot'
  | 'listNetworks'
  | 'listServiceOfferings'
  | 'listZones'
  | 'listCapabilities'
  | 'listTemplates'
  | 'queryAsyncJobResult'
>;
