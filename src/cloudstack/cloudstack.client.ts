import { ApiCaller } from './api-caller.js';
import { readAsync, readCount, readList, readObject, readSuccess, type Json } from './envelope.js';
import { CloudStackError, CloudStackErrorKind } from './errors.js';
import { silentLogger, type CloudStackLogger } from './logger.js';
import { pollUntil, type Backoff } from './polling.js';
import { apiEndpoint, FetchTransport, type HttpTransport } from './cloudstack.transport.js';
import * as map from './cloudstack.mappers.js';
import { JobStatus, SnapshotState, VmState, type AsyncJob, type Snapshot, type VirtualMachine, type Volume } from './cloudstack.types.js';
import type * as P from './cloudstack.port.js';

/** How to reach and talk to a CloudStack. */
export interface CloudStackClientOptions {
  /** Base URL (`https://cloud.example.com`) or the API endpoint (`…/client/api`). */
  readonly url: string;
  readonly apiKey: string;
  readonly secretKey: string;
  /** HTTP method for every command (both are signed the same way). */
  readonly method?: 'GET' | 'POST';
  /** Timeout of one HTTP request. */
  readonly requestTimeoutMs?: number;
  /** How far in the future `expires` is set. */
  readonly expiresInMs?: number;
  /** Tries per read on transient failures (1 = no retry). */
  readonly readAttempts?: number;
  /** Backoff between read retries. */
  readonly retryBackoff?: Backoff;
  /** Backoff between queryAsyncJobResult polls (capped). */
  readonly pollBackoff?: Backoff;
  /** Default deadline of one operation (submission + job). */
  readonly operationDeadlineMs?: number;
  /** Tries of a create whose earlier try was lost and is not found by name. */
  readonly createAttempts?: number;
  /** Page size used to walk list answers. */
  readonly pageSize?: number;
  readonly logger?: CloudStackLogger;
  readonly transport?: HttpTransport;
  readonly now?: () => number;
}

interface Operation {
  readonly started: number;
  readonly deadlineAt: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: P.JobProgress) => void;
}

const GONE_VM = new Set<string>([VmState.DESTROYED, VmState.EXPUNGING]);

/** Drops undefined values and turns everything else into strings. */
function params(values: Record<string, string | number | boolean | readonly string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return out;
}

/**
 * The HTTP CloudStack client: implements the {@link P.CloudStack} port over the real protocol.
 * Reads retry on transient failures; async commands wait for their job with capped backoff, a
 * deadline and an AbortSignal; a create whose answer was lost is looked up by name before it is
 * ever sent again.
 */
export class CloudStackClient implements P.CloudStack {
  private readonly caller: ApiCaller;
  private readonly logger: CloudStackLogger;
  private readonly now: () => number;
  private readonly pollBackoff: Backoff;
  private readonly operationDeadlineMs: number;
  private readonly createAttempts: number;
  private readonly pageSize: number;

  constructor({
    url,
    apiKey,
    secretKey,
    method = 'POST',
    requestTimeoutMs = 30_000,
    expiresInMs = 10 * 60_000,
    readAttempts = 4,
    retryBackoff = { initialMs: 500, maxMs: 5_000, multiplier: 2 },
    pollBackoff = { initialMs: 1_000, maxMs: 10_000, multiplier: 1.5 },
    operationDeadlineMs = 300_000,
    createAttempts = 3,
    pageSize = 500,
    logger = silentLogger,
    transport = new FetchTransport(),
    now = Date.now,
  }: CloudStackClientOptions) {
    this.logger = logger;
    this.now = now;
    this.pollBackoff = pollBackoff;
    this.operationDeadlineMs = operationDeadlineMs;
    this.createAttempts = createAttempts;
    this.pageSize = pageSize;
    const endpoint = apiEndpoint(url);
    this.caller = new ApiCaller({ endpoint, apiKey, secretKey, transport, method, requestTimeoutMs, expiresInMs, readAttempts, retryBackoff, logger, now });
  }

  // ---- async commands -------------------------------------------------------------------------

  async deployVirtualMachine(p: P.DeployVirtualMachineParams, options?: P.OperationOptions): Promise<VirtualMachine> {
    const startVm = p.startVm ?? true;
    const body = params({
      zoneid: p.zoneId,
      serviceofferingid: p.serviceOfferingId,
      templateid: p.templateId,
      networkids: p.networkIds,
      name: p.name,
      displayname: p.displayName,
      startvm: startVm,
      ipaddress: p.ipAddress,
      hypervisor: p.hypervisor,
      'details[0].cpuNumber': p.cpuNumber,
      'details[0].cpuSpeed': p.cpuSpeed,
      'details[0].memory': p.memoryMb,
    });
    const op = this.operation(options);
    const name = p.name;
    const find = name === undefined ? undefined : async () => this.findVmByName(name, p.zoneId, op);
    const settle = (vm: VirtualMachine) => this.settleVm(vm.id, startVm ? VmState.RUNNING : VmState.STOPPED, op);
    return this.create('deployVirtualMachine', body, op, find, settle, (r) => map.toVirtualMachine(readObject(r, 'virtualmachine', 'deployVirtualMachine')));
  }

  async startVirtualMachine(p: { readonly id: string }, options?: P.OperationOptions): Promise<VirtualMachine> {
    const result = await this.runAsync('startVirtualMachine', { id: p.id }, this.operation(options));
    return map.toVirtualMachine(readObject(result, 'virtualmachine', 'startVirtualMachine'));
  }

  async stopVirtualMachine(p: P.StopVirtualMachineParams, options?: P.OperationOptions): Promise<VirtualMachine> {
    const result = await this.runAsync('stopVirtualMachine', params({ id: p.id, forced: p.forced }), this.operation(options));
    return map.toVirtualMachine(readObject(result, 'virtualmachine', 'stopVirtualMachine'));
  }

  async destroyVirtualMachine(p: P.DestroyVirtualMachineParams, options?: P.OperationOptions): Promise<VirtualMachine | undefined> {
    const body = params({ id: p.id, expunge: p.expunge, volumeids: p.volumeIds });
    const result = await this.runAsync('destroyVirtualMachine', body, this.operation(options));
    return result.virtualmachine === undefined ? undefined : map.toVirtualMachine(readObject(result, 'virtualmachine', 'destroyVirtualMachine'));
  }

  async createSnapshot(p: P.CreateSnapshotParams, options?: P.OperationOptions): Promise<Snapshot> {
    const op = this.operation(options);
    const name = p.name;
    const find =
      name === undefined
        ? undefined
        : async () => {
            const found = await this.listSnapshots({ volumeId: p.volumeId, name }, op);
            return found.filter((s) => s.name === name && s.state !== SnapshotState.DESTROYED && s.state !== SnapshotState.ERROR).at(-1);
          };
    const settle = (s: Snapshot) => this.settleSnapshot(s.id, op);
    return this.create('createSnapshot', params({ volumeid: p.volumeId, name }), op, find, settle, (r) =>
      map.toSnapshot(readObject(r, 'snapshot', 'createSnapshot')),
    );
  }

  async revertSnapshot(p: { readonly id: string }, options?: P.OperationOptions): Promise<Snapshot | undefined> {
    const result = await this.runAsync('revertSnapshot', { id: p.id }, this.operation(options));
    return result.snapshot === undefined ? undefined : map.toSnapshot(readObject(result, 'snapshot', 'revertSnapshot'));
  }

  async deleteSnapshot(p: { readonly id: string }, options?: P.OperationOptions): Promise<void> {
    readSuccess(await this.runAsync('deleteSnapshot', { id: p.id }, this.operation(options)), 'deleteSnapshot');
  }

  async attachVolume(p: P.AttachVolumeParams, options?: P.OperationOptions): Promise<Volume> {
    const body = params({ id: p.id, virtualmachineid: p.virtualMachineId, deviceid: p.deviceId });
    return map.toVolume(readObject(await this.runAsync('attachVolume', body, this.operation(options)), 'volume', 'attachVolume'));
  }

  async detachVolume(p: P.DetachVolumeParams, options?: P.OperationOptions): Promise<Volume> {
    const body = 'id' in p ? { id: p.id } : params({ virtualmachineid: p.virtualMachineId, deviceid: p.deviceId });
    return map.toVolume(readObject(await this.runAsync('detachVolume', body, this.operation(options)), 'volume', 'detachVolume'));
  }

  /** deleteVolume is synchronous: a success-only answer. */
  async deleteVolume(p: { readonly id: string }, options?: P.OperationOptions): Promise<void> {
    const op = this.operation(options);
    readSuccess(await this.caller.call('deleteVolume', { id: p.id }, { read: false, signal: op.signal, deadlineAt: op.deadlineAt }), 'deleteVolume');
  }

  // ---- reads ----------------------------------------------------------------------------------

  async listVirtualMachines(p: P.ListVirtualMachinesParams = {}, options?: P.OperationOptions) {
    const body = params({ id: p.id, ids: p.ids, name: p.name, state: p.state, zoneid: p.zoneId, listall: true });
    const vms = await this.list('listVirtualMachines', 'virtualmachine', body, options, map.toVirtualMachine);
    return p.name === undefined ? vms : vms.filter((vm) => vm.name.toLowerCase() === p.name!.toLowerCase());
  }

  async listVolumes(p: P.ListVolumesParams = {}, options?: P.OperationOptions) {
    const body = params({ id: p.id, virtualmachineid: p.virtualMachineId, type: p.type, zoneid: p.zoneId, state: p.state, name: p.name, listall: true });
    return this.list('listVolumes', 'volume', body, options, map.toVolume);
  }

  async listSnapshots(p: P.ListSnapshotsParams = {}, options?: P.OperationOptions) {
    const body = params({ id: p.id, volumeid: p.volumeId, name: p.name, intervaltype: p.intervalType, zoneid: p.zoneId, listall: true });
    return this.list('listSnapshots', 'snapshot', body, options, map.toSnapshot);
  }

  async listNetworks(p: P.ListNetworksParams = {}, options?: P.OperationOptions) {
    const body = params({ id: p.id, zoneid: p.zoneId, name: p.name, canusefordeploy: p.canUseForDeploy, listall: true });
    return this.list('listNetworks', 'network', body, options, map.toNetwork);
  }

  async listServiceOfferings(p: P.ListServiceOfferingsParams = {}, options?: P.OperationOptions) {
    return this.list('listServiceOfferings', 'serviceoffering', params({ id: p.id, name: p.name, zoneid: p.zoneId }), options, map.toServiceOffering);
  }

  async listZones(p: P.ListZonesParams = {}, options?: P.OperationOptions) {
    return this.list('listZones', 'zone', params({ id: p.id, name: p.name }), options, map.toZone);
  }

  async listTemplates(p: P.ListTemplatesParams, options?: P.OperationOptions) {
    const body = params({ templatefilter: p.templateFilter, id: p.id, name: p.name, zoneid: p.zoneId });
    return this.list('listTemplates', 'template', body, options, map.toTemplate);
  }

  async queryAsyncJobResult(p: { readonly jobId: string }, options?: P.OperationOptions): Promise<AsyncJob> {
    return this.queryJob(p.jobId, this.operation(options));
  }

  // ---- machinery ------------------------------------------------------------------------------

  private operation(options: P.OperationOptions = {}): Operation {
    const started = this.now();
    return { started, deadlineAt: started + (options.deadlineMs ?? this.operationDeadlineMs), signal: options.signal, onProgress: options.onProgress };
  }

  private async list<T>(command: string, key: string, body: Record<string, string>, options: P.OperationOptions | Operation | undefined, toItem: (j: Json) => T): Promise<T[]> {
    const op = options && 'started' in options ? options : this.operation(options);
    const items: T[] = [];
    for (let page = 1; ; page++) {
      const inner = await this.caller.call(command, { ...body, page: String(page), pagesize: String(this.pageSize) }, { read: true, signal: op.signal, deadlineAt: op.deadlineAt });
      const batch = readList(inner, key);
      items.push(...batch.map(toItem));
      if (batch.length < this.pageSize || items.length >= readCount(inner)) return items;
    }
  }

  private async queryJob(jobId: string, op: Operation): Promise<AsyncJob> {
    const inner = await this.caller.call('queryAsyncJobResult', { jobid: jobId }, { read: true, signal: op.signal, deadlineAt: op.deadlineAt });
    return map.toAsyncJob(inner);
  }

  /** Submits an async command (sent once) and waits for its job; returns the job result. */
  private async runAsync(command: string, body: Record<string, string>, op: Operation): Promise<Json> {
    const submission = readAsync(await this.caller.call(command, body, { read: false, signal: op.signal, deadlineAt: op.deadlineAt }), command);
    return this.waitForJob(command, submission.jobId, op);
  }

  /** Polls queryAsyncJobResult until the job ends; a failed job becomes a JOB_FAILED error. */
  private async waitForJob(command: string, jobId: string, op: Operation): Promise<Json> {
    const job = await this.poll(command, op, jobId, async () => {
      const current = await this.queryJob(jobId, op);
      if (current.status !== JobStatus.PENDING) return current;
      op.onProgress?.({ command, jobId, procStatus: current.procStatus, elapsedMs: this.now() - op.started });
      return undefined;
    });
    if (job.status === JobStatus.SUCCEEDED) return (job.result ?? {}) as Json;
    const errorCode = Number(job.result?.errorcode ?? job.resultCode);
    const errorText = typeof job.result?.errortext === 'string' ? job.result.errortext : job.status === JobStatus.CANCELLED ? 'job cancelled' : 'job failed';
    this.logger.warn({ command, jobId, errorCode }, 'cloudstack job failed');
    throw new CloudStackError(CloudStackErrorKind.JOB_FAILED, `${command} failed: ${errorText} (errorcode ${errorCode})`, { command, jobId, errorCode, errorText, retryable: false });
  }

  /** {@link pollUntil} with the client's backoff, the operation's deadline and abort handling. */
  private async poll<T>(command: string, op: Operation, jobId: string | undefined, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = () =>
      new CloudStackError(CloudStackErrorKind.DEADLINE, `${command} did not finish within ${op.deadlineAt - op.started} ms`, { command, jobId, retryable: true, ambiguous: true });
    try {
      return await pollUntil(probe, { backoff: this.pollBackoff, deadlineAt: op.deadlineAt, signal: op.signal, now: this.now, onDeadline: deadline });
    } catch (error) {
      // A poll cut short by the deadline is the operation's deadline, not a failure of the poll.
      if (error instanceof CloudStackError && error.kind === CloudStackErrorKind.TIMEOUT && this.now() >= op.deadlineAt) throw deadline();
      if (error instanceof CloudStackError) throw error;
      if (op.signal?.aborted) throw new CloudStackError(CloudStackErrorKind.ABORTED, `${command} aborted`, { command, jobId, retryable: false });
      throw error;
    }
  }

  /**
   * A create that is never blindly re-sent: when an answer is lost (ambiguous failure), the
   * resource is looked up by name first; found, it is awaited and returned; not found, the create
   * is sent again (up to `createAttempts`). Without a name there is nothing to look up: the
   * ambiguous error is thrown.
   */
  private async create<T>(
    command: string,
    body: Record<string, string>,
    op: Operation,
    find: (() => Promise<T | undefined>) | undefined,
    settle: (found: T) => Promise<T>,
    toResult: (jobResult: Json) => T,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let submission;
      try {
        submission = readAsync(await this.caller.call(command, body, { read: false, signal: op.signal, deadlineAt: op.deadlineAt }), command);
      } catch (error) {
        if (!(error instanceof CloudStackError) || !error.ambiguous || !find) throw error;
        const found = await find();
        if (found !== undefined) {
          this.logger.info({ command, attempt }, 'cloudstack create answer lost; found the resource by name');
          return settle(found);
        }
        if (attempt >= this.createAttempts) throw error;
        this.logger.warn({ command, attempt }, 'cloudstack create answer lost and the resource does not exist; sending again');
        continue;
      }
      return toResult(await this.waitForJob(command, submission.jobId, op));
    }
  }

  private async findVmByName(name: string, zoneId: string, op: Operation): Promise<VirtualMachine | undefined> {
    const vms = await this.listVirtualMachines({ name, zoneId }, op);
    return vms.filter((vm) => !GONE_VM.has(vm.state)).at(-1);
  }

  /** Waits until a VM found by name reaches `target`; Error or disappearance is a failure. */
  private settleVm(id: string, target: VmState, op: Operation): Promise<VirtualMachine> {
    const command = 'deployVirtualMachine';
    return this.poll(command, op, undefined, async () => {
      const [vm] = await this.listVirtualMachines({ id }, op);
      if (vm === undefined || vm.state === VmState.ERROR || GONE_VM.has(vm.state)) {
        const errorText = `VM ${id} ${vm ? `is in state ${vm.state}` : 'no longer exists'}`;
        throw new CloudStackError(CloudStackErrorKind.JOB_FAILED, `${command} failed: ${errorText}`, { command, errorText, retryable: false });
      }
      return vm.state === target ? vm : undefined;
    });
  }

  /** Waits until a snapshot found by name is BackedUp. */
  private settleSnapshot(id: string, op: Operation): Promise<Snapshot> {
    const command = 'createSnapshot';
    return this.poll(command, op, undefined, async () => {
      const [snapshot] = await this.listSnapshots({ id }, op);
      if (snapshot === undefined || snapshot.state === SnapshotState.ERROR || snapshot.state === SnapshotState.DESTROYED) {
        const errorText = `snapshot ${id} ${snapshot ? `is in state ${snapshot.state}` : 'no longer exists'}`;
        throw new CloudStackError(CloudStackErrorKind.JOB_FAILED, `${command} failed: ${errorText}`, { command, errorText, retryable: false });
      }
      return snapshot.state === SnapshotState.BACKED_UP ? snapshot : undefined;
    });
  }
}
