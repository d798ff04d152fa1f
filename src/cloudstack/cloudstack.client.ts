import { ApiCaller } from './api-caller.js';
import { readAsync, readCount, readList, readObject, readSuccess, type Json } from './envelope.js';
import { ApiErrorCode, CloudStackError, CloudStackErrorKind } from './errors.js';
import { silentLogger, type CloudStackLogger } from './logger.js';
import { pollUntil, retry, type Backoff } from '../retry.js';
import { apiEndpoint, FetchTransport, type HttpTransport } from './cloudstack.transport.js';
import * as map from './cloudstack.mappers.js';
import {
  JobStatus,
  SnapshotState,
  VmSnapshotState,
  VmState,
  type AsyncJob,
  type Capabilities,
  type Snapshot,
  type VirtualMachine,
  type VmSnapshot,
  type Volume,
} from './cloudstack.types.js';
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
  /** Tries of a create whose earlier tries provably never reached the server (connection refused…). */
  readonly createAttempts?: number;
  /** Page size used to walk list answers (lowered to what the cloud allows when it refuses one). */
  readonly pageSize?: number;
  /**
   * The project the resources belong to: sent as `projectid` with every deploy and with the lists
   * of VMs, volumes, snapshots, VM snapshots and networks (without it CloudStack leaves a project's
   * resources out of lists).
   */
  readonly projectId?: string;
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

/** What a wait is about, for the errors that end it early. */
interface Wait {
  readonly command: string;
  readonly jobId?: string;
  readonly resourceId?: string;
  /** The write may have happened (or still happen) although the wait ended. */
  readonly ambiguous: boolean;
  /** What started the wait (a lost answer): the cause of a DEADLINE, rather than the last failed poll. */
  readonly cause?: CloudStackError;
}

/** How a create finds what it created when its answer was lost. */
interface CreateLookup<T> {
  /** Every resource that carries the create's name, whatever its state. */
  list(): Promise<T[]>;
  /** Whether a new resource of {@link list} can be the one this create made. */
  ours(resource: T): boolean;
  /** Waits until the found resource is usable (or fails). */
  settle(found: T): Promise<T>;
}

const GONE_VM = new Set<string>([VmState.DESTROYED, VmState.EXPUNGING]);

/** The lists whose resources a project can own (they take `projectid`). */
const PROJECT_SCOPED_LISTS = new Set(['listVirtualMachines', 'listVolumes', 'listSnapshots', 'listVMSnapshot', 'listNetworks']);

/** The page size a 431 "Page size can't exceed max allowed page size value: N" allows (BaseListCmd), if that is the refusal. */
function allowedPageSize(error: unknown): number | undefined {
  if (!(error instanceof CloudStackError) || error.kind !== CloudStackErrorKind.API || error.errorCode !== ApiErrorCode.PARAM_ERROR) return undefined;
  const match = /^Page size can't exceed max allowed page size value: (\d+)$/.exec(error.errorText ?? '');
  const allowed = match ? Number(match[1]) : Number.NaN;
  return Number.isSafeInteger(allowed) && allowed >= 1 ? allowed : undefined;
}

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
 * deadline and an AbortSignal; a create whose answer was lost is looked up by name until the
 * deadline and never sent again unless it provably never reached the server.
 */
export class CloudStackClient implements P.CloudStack {
  private readonly caller: ApiCaller;
  private readonly logger: CloudStackLogger;
  private readonly now: () => number;
  private readonly pollBackoff: Backoff;
  private readonly retryBackoff: Backoff;
  private readonly operationDeadlineMs: number;
  private readonly createAttempts: number;
  private pageSize: number;
  private readonly projectId: string | undefined;

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
    projectId,
    logger = silentLogger,
    transport = new FetchTransport(),
    now = Date.now,
  }: CloudStackClientOptions) {
    this.logger = logger;
    this.now = now;
    this.pollBackoff = pollBackoff;
    this.retryBackoff = retryBackoff;
    this.operationDeadlineMs = operationDeadlineMs;
    this.createAttempts = createAttempts;
    this.pageSize = pageSize;
    this.projectId = projectId;
    const endpoint = apiEndpoint(url);
    this.caller = new ApiCaller({ endpoint, apiKey, secretKey, transport, method, requestTimeoutMs, expiresInMs, readAttempts, retryBackoff, logger, now });
  }

  // ---- async commands -------------------------------------------------------------------------

  async deployVirtualMachine(p: P.DeployVirtualMachineParams, options?: P.OperationOptions): Promise<VirtualMachine> {
    const startVm = p.startVm ?? true;
    const body = params({
      projectid: this.projectId,
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
    const network = p.networkIds?.[0];
    const lookup: CreateLookup<VirtualMachine> | undefined =
      name === undefined
        ? undefined
        : {
            list: () => this.listVirtualMachines({ name, zoneId: p.zoneId }, op),
            // Host names are unique per network, so a VM of that name in our first network is ours.
            ours: (vm) => network === undefined || vm.nics.some((nic) => nic.networkId === network),
            settle: (vm) => this.settleVm(vm.id, startVm ? VmState.RUNNING : VmState.STOPPED, op),
          };
    return this.create('deployVirtualMachine', body, op, lookup, (r) => map.toVirtualMachine(readObject(r, 'virtualmachine', 'deployVirtualMachine')));
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
    const lookup: CreateLookup<Snapshot> | undefined =
      name === undefined
        ? undefined
        : {
            list: async () => (await this.listSnapshots({ volumeId: p.volumeId, name }, op)).filter((s) => s.name === name),
            ours: () => true,
            settle: (s) => this.settleSnapshot(s.id, op),
          };
    return this.create('createSnapshot', params({ volumeid: p.volumeId, name }), op, lookup, (r) =>
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

  async createVMSnapshot(p: P.CreateVmSnapshotParams, options?: P.OperationOptions): Promise<VmSnapshot> {
    const op = this.operation(options);
    const name = p.name;
    const body = params({ virtualmachineid: p.virtualMachineId, name, description: p.description, snapshotmemory: p.snapshotMemory, quiescevm: p.quiesceVm });
    const lookup: CreateLookup<VmSnapshot> | undefined =
      name === undefined
        ? undefined
        : {
            list: () => this.listVMSnapshot({ virtualMachineId: p.virtualMachineId, name }, op),
            ours: () => true,
            settle: (s) => this.settleVmSnapshot(s.id, op),
          };
    return this.create('createVMSnapshot', body, op, lookup, (r) => map.toVmSnapshot(readObject(r, 'vmsnapshot', 'createVMSnapshot')));
  }

  async revertToVMSnapshot(p: { readonly vmSnapshotId: string }, options?: P.OperationOptions): Promise<VirtualMachine> {
    const result = await this.runAsync('revertToVMSnapshot', { vmsnapshotid: p.vmSnapshotId }, this.operation(options));
    return map.toVirtualMachine(readObject(result, 'virtualmachine', 'revertToVMSnapshot'));
  }

  async deleteVMSnapshot(p: { readonly vmSnapshotId: string }, options?: P.OperationOptions): Promise<void> {
    readSuccess(await this.runAsync('deleteVMSnapshot', { vmsnapshotid: p.vmSnapshotId }, this.operation(options)), 'deleteVMSnapshot');
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

  /** listVMSnapshot (its list key is `vmSnapshot`); newest first, as CloudStack sorts it. */
  async listVMSnapshot(p: P.ListVmSnapshotParams = {}, options?: P.OperationOptions) {
    const body = params({ vmsnapshotid: p.id, virtualmachineid: p.virtualMachineId, state: p.state, name: p.name, listall: true });
    return this.list('listVMSnapshot', 'vmSnapshot', body, options, map.toVmSnapshot);
  }

  async listNetworks(p: P.ListNetworksParams = {}, options?: P.OperationOptions) {
    const body = params({ id: p.id, zoneid: p.zoneId, name: p.name, canusefordeploy: p.canUseForDeploy, listall: true });
    return this.list('listNetworks', 'network', body, options, map.toNetwork);
  }

  async listServiceOfferings(p: P.ListServiceOfferingsParams = {}, options?: P.OperationOptions) {
    return this.list('listServiceOfferings', 'serviceoffering', params({ id: p.id, name: p.name, zoneid: p.zoneId }), options, map.toServiceOffering);
  }

  async listCapabilities(options?: P.OperationOptions): Promise<Capabilities> {
    const op = this.operation(options);
    const inner = await this.caller.call('listCapabilities', {}, { read: true, signal: op.signal, deadlineAt: op.deadlineAt });
    return map.toCapabilities(readObject(inner, 'capability', 'listCapabilities'));
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

  private async list<T>(
    command: string,
    key: string,
    body: Record<string, string>,
    options: P.OperationOptions | Operation | undefined,
    toItem: (j: Json) => T,
  ): Promise<T[]> {
    const op = options && 'started' in options ? options : this.operation(options);
    const items: T[] = [];
    const scoped = this.projectId !== undefined && PROJECT_SCOPED_LISTS.has(command) ? { ...body, projectid: this.projectId } : body;
    for (let page = 1; ; page++) {
      const size = this.pageSize;
      let inner: Json;
      try {
        inner = await this.caller.call(
          command,
          { ...scoped, page: String(page), pagesize: String(size) },
          { read: true, signal: op.signal, deadlineAt: op.deadlineAt },
        );
      } catch (error) {
        // A cloud whose default.page.size is below ours says its limit: walk in pages of that size from the start.
        const allowed = allowedPageSize(error);
        if (allowed === undefined || allowed >= size) throw error;
        this.logger.warn({ command, pageSize: size, allowed }, 'cloudstack refused the page size; using the largest it allows');
        this.pageSize = allowed;
        items.length = 0;
        page = 0;
        continue;
      }
      const batch = readList(inner, key);
      items.push(...batch.map(toItem));
      if (batch.length < size || items.length >= readCount(inner)) return items;
    }
  }

  /** One queryAsyncJobResult; `attempts` 1 when the caller polls (its loop is the retry). */
  private async queryJob(jobId: string, op: Operation, attempts?: number): Promise<AsyncJob> {
    const inner = await this.caller.call('queryAsyncJobResult', { jobid: jobId }, { read: true, signal: op.signal, deadlineAt: op.deadlineAt, attempts });
    return map.toAsyncJob(inner);
  }

  /** Submits an async command (sent once) and waits for its job; returns the job result. */
  private async runAsync(command: string, body: Record<string, string>, op: Operation): Promise<Json> {
    const submission = readAsync(await this.caller.call(command, body, { read: false, signal: op.signal, deadlineAt: op.deadlineAt }), command);
    return this.waitForJob({ command, jobId: submission.jobId, resourceId: submission.id }, op);
  }

  /**
   * Polls queryAsyncJobResult until the job ends; a failed job becomes a JOB_FAILED error. A poll
   * that fails transiently counts as "still running": the job was submitted, so only its end or
   * the deadline stops the wait.
   */
  private async waitForJob(wait: Omit<Wait, 'ambiguous'> & { readonly jobId: string }, op: Operation): Promise<Json> {
    const { command, jobId, resourceId } = wait;
    const job = await this.poll({ ...wait, ambiguous: true }, op, async () => {
      const current = await this.queryJob(jobId, op, 1);
      if (current.status !== JobStatus.PENDING) return current;
      op.onProgress?.({ command, jobId, procStatus: current.procStatus, elapsedMs: this.now() - op.started });
      return undefined;
    });
    if (job.status === JobStatus.SUCCEEDED) return (job.result ?? {}) as Json;
    const errorCode = Number(job.result?.errorcode ?? job.resultCode);
    const errorText = typeof job.result?.errortext === 'string' ? job.result.errortext : job.status === JobStatus.CANCELLED ? 'job cancelled' : 'job failed';
    this.logger.warn({ command, jobId, errorCode }, 'cloudstack job failed');
    throw new CloudStackError(CloudStackErrorKind.JOB_FAILED, `${command} failed: ${errorText} (errorcode ${errorCode})`, {
      command,
      jobId,
      resourceId,
      errorCode,
      errorText,
      retryable: false,
    });
  }

  /**
   * {@link pollUntil} with the client's backoff, the operation's deadline and abort handling. A
   * probe that fails with a retryable error counts as "not yet". Whatever ends the wait early
   * (deadline, abort, a final probe failure) is reported against the operation's command with
   * what is known of it (`jobId`, `resourceId`) and, for a write, `ambiguous: true`.
   */
  private async poll<T>(wait: Wait, op: Operation, probe: () => Promise<T | undefined>): Promise<T> {
    const { command, jobId, resourceId, ambiguous } = wait;
    let lastFailure: CloudStackError | undefined;
    const tolerant = async () => {
      try {
        return await probe();
      } catch (error) {
        if (!(error instanceof CloudStackError) || !error.retryable || op.signal?.aborted) throw error;
        lastFailure = error;
        this.logger.warn({ command, jobId, failed: error.command, kind: error.kind, httpStatus: error.httpStatus }, 'cloudstack poll failed; still waiting');
        return undefined;
      }
    };
    const deadline = () =>
      new CloudStackError(
        CloudStackErrorKind.DEADLINE,
        `${command} did not finish within ${op.deadlineAt - op.started} ms${ambiguous ? '; it may still happen' : ''}`,
        {
          command,
          jobId,
          resourceId,
          retryable: false,
          ambiguous,
          cause: wait.cause ?? lastFailure,
        },
      );
    try {
      return await pollUntil(tolerant, { backoff: this.pollBackoff, deadlineAt: op.deadlineAt, signal: op.signal, now: this.now, onDeadline: deadline });
    } catch (error) {
      if (op.signal?.aborted)
        throw new CloudStackError(CloudStackErrorKind.ABORTED, `${command} aborted`, { command, jobId, resourceId, retryable: false, ambiguous });
      if (!(error instanceof CloudStackError) || error.command === command) throw error;
      // A poll (queryAsyncJobResult, a list) failed for good: the operation's outcome is still unknown.
      throw new CloudStackError(error.kind, `${command}: waiting failed: ${error.message}`, {
        command,
        jobId,
        resourceId,
        httpStatus: error.httpStatus,
        errorCode: error.errorCode,
        errorText: error.errorText,
        retryable: false,
        ambiguous,
        cause: error,
      });
    }
  }

  /**
   * A create that is never re-sent while the first try may still run. Before sending, the
   * resources that already carry the name are noted (they are not ours: names are not unique).
   * When the answer is lost (timeout, dropped connection, a 5xx from a proxy), the resource is
   * looked up by name — repeatedly, with backoff, until the deadline: a late-running original
   * shows up there. Found, it is awaited and returned; never found, the error is a DEADLINE with
   * `ambiguous: true`. Only a failure that proves the request never left (connection refused,
   * name not resolved) sends it again, up to `createAttempts`. Without a name there is nothing to
   * look up: the ambiguous error is thrown.
   */
  private async create<T extends { readonly id: string }>(
    command: string,
    body: Record<string, string>,
    op: Operation,
    lookup: CreateLookup<T> | undefined,
    toResult: (jobResult: Json) => T,
  ): Promise<T> {
    const before = lookup ? new Set((await lookup.list()).map((r) => r.id)) : undefined;
    let submission;
    try {
      submission = await retry(
        async () => readAsync(await this.caller.call(command, body, { read: false, signal: op.signal, deadlineAt: op.deadlineAt }), command),
        {
          backoff: this.retryBackoff,
          deadlineAt: op.deadlineAt,
          signal: op.signal,
          now: this.now,
          // Sent again only when the failure proves the request never left (never when its answer was lost).
          retryable: (error, attempt) => error instanceof CloudStackError && !error.ambiguous && error.retryable && attempt < this.createAttempts,
          onGiveUp: (error) => error as CloudStackError,
          onRetry: (error, attempt) =>
            this.logger.warn({ command, attempt, kind: (error as CloudStackError).kind }, 'cloudstack create never reached the server; sending again'),
        },
      );
    } catch (error) {
      // Aborted while waiting to send again: the wait's own rejection becomes the client's ABORTED.
      if (!(error instanceof CloudStackError) && op.signal?.aborted)
        throw new CloudStackError(CloudStackErrorKind.ABORTED, `${command} aborted`, { command, retryable: false });
      if (!(error instanceof CloudStackError) || !error.ambiguous || !lookup || !before) throw error;
      this.logger.warn({ command, kind: error.kind }, 'cloudstack create answer lost; looking the resource up by name');
      const found = await this.poll({ command, ambiguous: true, cause: error }, op, async () => {
        const fresh = (await lookup.list()).filter((r) => !before.has(r.id) && lookup.ours(r));
        if (fresh.length > 1) {
          throw new CloudStackError(error.kind, `${command}: its answer was lost and ${fresh.length} new resources carry its name; cannot tell which is ours`, {
            command,
            retryable: false,
            ambiguous: true,
            cause: error,
          });
        }
        return fresh[0];
      });
      this.logger.info({ command, id: found.id }, 'cloudstack create answer lost; found the resource by name');
      return lookup.settle(found);
    }
    return toResult(await this.waitForJob({ command, jobId: submission.jobId, resourceId: submission.id }, op));
  }

  /** Waits until a VM found by name reaches `target`; Error or disappearance is a failure. */
  private settleVm(id: string, target: VmState, op: Operation): Promise<VirtualMachine> {
    const fetch = async () => (await this.listVirtualMachines({ id }, op))[0];
    return this.settle(
      'deployVirtualMachine',
      `VM ${id}`,
      id,
      op,
      fetch,
      (s) => s === VmState.ERROR || GONE_VM.has(s),
      (s) => s === target,
    );
  }

  /** Waits until a snapshot found by name is BackedUp. */
  private settleSnapshot(id: string, op: Operation): Promise<Snapshot> {
    const fetch = async () => (await this.listSnapshots({ id }, op))[0];
    const failed = (s: string) => s === SnapshotState.ERROR || s === SnapshotState.DESTROYED;
    return this.settle('createSnapshot', `snapshot ${id}`, id, op, fetch, failed, (s) => s === SnapshotState.BACKED_UP);
  }

  /** Waits until a VM snapshot found by name is Ready. */
  private settleVmSnapshot(id: string, op: Operation): Promise<VmSnapshot> {
    const fetch = async () => (await this.listVMSnapshot({ id }, op))[0];
    const failed = (s: string) => s === VmSnapshotState.ERROR || s === VmSnapshotState.EXPUNGING;
    return this.settle('createVMSnapshot', `VM snapshot ${id}`, id, op, fetch, failed, (s) => s === VmSnapshotState.READY);
  }

  /**
   * Polls a resource a lost create answer was found by until its state is `done`; a `failed` state
   * or its disappearance is a JOB_FAILED error (the create's job failed, or someone removed it).
   */
  private settle<T extends { readonly state: string }>(
    command: string,
    what: string,
    id: string,
    op: Operation,
    fetch: () => Promise<T | undefined>,
    failed: (state: string) => boolean,
    done: (state: string) => boolean,
  ): Promise<T> {
    return this.poll({ command, resourceId: id, ambiguous: true }, op, async () => {
      const resource = await fetch();
      if (resource === undefined || failed(resource.state)) {
        const errorText = `${what} ${resource ? `is in state ${resource.state}` : 'no longer exists'}`;
        throw new CloudStackError(CloudStackErrorKind.JOB_FAILED, `${command} failed: ${errorText}`, { command, resourceId: id, errorText, retryable: false });
      }
      return done(resource.state) ? resource : undefined;
    });
  }
}
