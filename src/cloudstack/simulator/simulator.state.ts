import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { silentLogger, type CloudStackLogger } from '../logger.js';
import { defaultSettings, type SimSettings } from './simulator.settings.js';

/**
 * The simulated cloud's state: plain JSON-serialisable records (field names as CloudStack's
 * answers spell them), so that it can be copied for tests, written to a file and read back.
 * Removed resources (expunged VMs and volumes, deleted snapshots) keep their record with a
 * `removed` time, as CloudStack keeps its rows, but are invisible to the API. At the end of the
 * file: keeping the world in a JSON file (compact, atomic, coalesced writes).
 */

/** A zone. */
export interface SimZone {
  id: string;
  name: string;
  allocationstate: string;
  networktype: string;
}

/** A template. */
export interface SimTemplate {
  id: string;
  name: string;
  displaytext: string;
  ostypename: string;
  zoneid: string;
  hypervisor: string;
  format: string;
  size: number;
  isready: boolean;
  isfeatured: boolean;
  ispublic: boolean;
  templatetype: string;
  created: string;
}

/** A compute offering; `cpunumber`/`memory` absent when customised. */
export interface SimServiceOffering {
  id: string;
  name: string;
  displaytext: string;
  iscustomized: boolean;
  cpunumber?: number;
  cpuspeed?: number;
  memory?: number;
  storagetype: string;
  created: string;
}

/** A guest network. */
export interface SimNetwork {
  id: string;
  name: string;
  zoneid: string;
  type: string;
  state: string;
  cidr?: string;
  traffictype: string;
  canusefordeploy: boolean;
  /** DNS domain of the network (Isolated networks); host names are unique per network. */
  networkdomain?: string;
  /** Next host number handed out from the CIDR. */
  nexthost: number;
}

/** A NIC of a VM. */
export interface SimNic {
  id: string;
  networkid: string;
  deviceid: number;
  isdefault: boolean;
  macaddress: string;
  ipaddress?: string;
}

/** A VM. */
export interface SimVm {
  id: string;
  /** The host name. */
  name: string;
  /** CloudStack's internal name, `i-<account>-<n>-VM` (older state files lack it: see {@link instanceName}). */
  instancename?: string;
  displayname: string;
  state: string;
  zoneid: string;
  templateid: string;
  serviceofferingid: string;
  cpunumber: number;
  cpuspeed: number;
  memory: number;
  hypervisor: string;
  created: string;
  nics: SimNic[];
  /** The project that owns the VM (absent: the key's account owns it). */
  projectid?: string;
  removed?: string;
}

/** A volume. `virtualmachineid`/`deviceid` are set while attached. */
export interface SimVolume {
  id: string;
  name: string;
  type: 'ROOT' | 'DATADISK';
  state: string;
  zoneid: string;
  size: number;
  created: string;
  virtualmachineid?: string;
  deviceid?: number;
  attached?: string;
  templateid?: string;
  /** The snapshot the volume was last reverted to (simulator bookkeeping, not in API answers). */
  revertedto?: string;
  /** The project that owns the volume. */
  projectid?: string;
  removed?: string;
}

/** A volume snapshot. */
export interface SimSnapshot {
  id: string;
  name: string;
  volumeid: string;
  volumetype: string;
  state: string;
  zoneid: string;
  intervaltype: string;
  snapshottype: string;
  created: string;
  /** Whether the storage can revert it (the settings' snapshotsRevertable when it was taken). */
  revertable?: boolean;
  /** The project that owns the snapshot (its volume's). */
  projectid?: string;
  removed?: string;
}

/** A VM snapshot; `displayname` is the `name` given at creation. */
export interface SimVmSnapshot {
  id: string;
  name: string;
  displayname: string;
  description?: string;
  virtualmachineid: string;
  zoneid: string;
  /** Allocated, Creating, Ready, Reverting, Expunging, Removed or Error (VMSnapshot.State). */
  state: string;
  /** Disk or DiskAndMemory. */
  type: string;
  current: boolean;
  parent?: string;
  created: string;
  removed?: string;
}

/** An async job; `jobresult` is what queryAsyncJobResult returns under that key. */
export interface SimJob {
  jobid: string;
  command: string;
  cmd: string;
  jobstatus: number;
  jobprocstatus: number;
  jobresultcode: number;
  jobresulttype: string;
  jobresult?: Record<string, unknown>;
  jobinstancetype?: string;
  jobinstanceid?: string;
  created: string;
  completed?: string;
  /** When it finished, in epoch ms (simulator bookkeeping for pruning; not in API answers). */
  completedms?: number;
}

/** A project: resources it owns are listed only with its `projectid` (or `projectid=-1`). */
export interface SimProject {
  id: string;
  name: string;
}

/** The whole simulated cloud. */
export interface SimWorld {
  version: 1;
  /** The management server's settings the rules depend on. */
  settings: SimSettings;
  projects: SimProject[];
  zones: SimZone[];
  templates: SimTemplate[];
  serviceOfferings: SimServiceOffering[];
  networks: SimNetwork[];
  vms: SimVm[];
  volumes: SimVolume[];
  snapshots: SimSnapshot[];
  vmSnapshots: SimVmSnapshot[];
  jobs: SimJob[];
}

/** A copy of the world for tests; jobs only when asked for. */
export type SimulatorSnapshot = Omit<SimWorld, 'jobs'> & { jobs?: SimJob[] };

/** CloudStack's time format: `2021-10-04T09:24:38+0000`. */
export function csTime(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}+0000`;
}

/** A fresh uuid. */
export const newId = (): string => randomUUID();

/** A locally administered MAC address. */
export function newMac(): string {
  const bytes = [0x02, ...randomBytes(5)];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Clears a volume's attachment. A ROOT volume becomes a DATADISK again (VolumeDaoImpl.detachVolume
 * does the same), unless `keepType` (an expunged ROOT stays what it was).
 */
export function detach(volume: SimVolume, { keepType = false } = {}): void {
  delete volume.virtualmachineid;
  delete volume.deviceid;
  delete volume.attached;
  if (!keepType && volume.type === 'ROOT') volume.type = 'DATADISK';
}

/** CloudStack's internal name of a VM (`i-2-<n>-VM`: account 2 is admin, n counts VMs from 1). */
export function instanceName(world: SimWorld, vm: SimVm): string {
  return vm.instancename ?? `i-2-${world.vms.indexOf(vm) + 1}-VM`;
}

/** How many finished jobs are kept by default (running ones are always kept). */
export const KEEP_FINISHED_JOBS = 500;

/**
 * Drops the finished jobs that completed longest ago, beyond `keep`; running jobs stay. CloudStack
 * also purges finished jobs (after `job.expire.minutes`); queryAsyncJobResult then no longer finds
 * them.
 */
export function pruneJobs(world: SimWorld, keep: number = KEEP_FINISHED_JOBS): void {
  const finished = world.jobs.filter((job) => job.jobstatus !== 0);
  if (finished.length <= keep) return;
  const finishedAt = (job: SimJob) => job.completedms ?? Date.parse((job.completed ?? '').replace('+0000', 'Z'));
  // Oldest completion first; Array.prototype.sort is stable, so ties keep submission order.
  const dropped = new Set(finished.sort((a, b) => finishedAt(a) - finishedAt(b)).slice(0, finished.length - keep));
  world.jobs = world.jobs.filter((job) => !dropped.has(job));
}

/** Lookups over a world that see only what the API sees (nothing removed). */
export class CloudState {
  constructor(public world: SimWorld) {}

  private static live<T extends { id: string; removed?: string }>(items: T[], id: string): T | undefined {
    return items.find((item) => item.id === id && item.removed === undefined);
  }

  zone = (id: string) => this.world.zones.find((z) => z.id === id);
  template = (id: string) => this.world.templates.find((t) => t.id === id);
  offering = (id: string) => this.world.serviceOfferings.find((o) => o.id === id);
  network = (id: string) => this.world.networks.find((n) => n.id === id);
  vm = (id: string) => CloudState.live(this.world.vms, id);
  volume = (id: string) => CloudState.live(this.world.volumes, id);
  snapshot = (id: string) => CloudState.live(this.world.snapshots, id);
  vmSnapshot = (id: string) => CloudState.live(this.world.vmSnapshots, id);
  job = (id: string) => this.world.jobs.find((j) => j.jobid === id);
  project = (id: string) => this.world.projects.find((p) => p.id === id);

  get settings(): SimSettings {
    return this.world.settings;
  }

  /** VMs the API lists (not removed). */
  liveVms(): SimVm[] {
    return this.world.vms.filter((vm) => vm.removed === undefined);
  }

  /** Volumes the API lists (not removed). */
  liveVolumes(): SimVolume[] {
    return this.world.volumes.filter((v) => v.removed === undefined);
  }

  /** Snapshots the API lists (not removed). */
  liveSnapshots(): SimSnapshot[] {
    return this.world.snapshots.filter((s) => s.removed === undefined);
  }

  /** VM snapshots the API lists (not removed). */
  liveVmSnapshots(): SimVmSnapshot[] {
    return this.world.vmSnapshots.filter((s) => s.removed === undefined);
  }

  /** The VM snapshots of a VM that are not removed, in any state (what VMSnapshotDao.findByVm returns). */
  vmSnapshotsOf(vmId: string): SimVmSnapshot[] {
    return this.liveVmSnapshots().filter((s) => s.virtualmachineid === vmId);
  }

  /** Volumes attached to a VM, by device id. */
  volumesOf(vmId: string): SimVolume[] {
    return this.liveVolumes()
      .filter((v) => v.virtualmachineid === vmId)
      .sort((a, b) => (a.deviceid ?? 0) - (b.deviceid ?? 0));
  }

  /** A deep, JSON-safe copy of the world. */
  snapshotWorld({ jobs = false } = {}): SimulatorSnapshot {
    const copy = structuredClone(this.world) as SimulatorSnapshot;
    if (!jobs) delete copy.jobs;
    return copy;
  }
}

/**
 * Keeps the simulated cloud in a JSON file so that a restarted service finds it as it left it.
 * Every write is atomic: the whole world goes, as compact JSON, to a temporary file in the same
 * directory, which is then renamed over the old one — a crash leaves either the old or the new
 * file, never half of one. Writes are asynchronous and coalesced ({@link StateWriter}): the
 * simulator may run inside the service's process, and must not stall its event loop.
 */

/** Thrown when a state file exists but cannot be used. */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`simulator state file ${file}: ${reason}`);
    this.name = 'StateFileError';
  }
}

/** Reads a state file; undefined when there is none. Files written before VM snapshots existed load too. */
export function loadWorld(file: string): SimWorld | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(file, (error as Error).message);
  }
  let world: SimWorld;
  try {
    world = JSON.parse(text) as SimWorld;
  } catch {
    throw new StateFileError(file, 'is not valid JSON');
  }
  if (world?.version !== 1 || !Array.isArray(world.vms) || !Array.isArray(world.volumes)) {
    throw new StateFileError(file, 'is not a simulator state (version 1)');
  }
  world.vmSnapshots ??= [];
  world.projects ??= [];
  world.settings = { ...defaultSettings(), ...world.settings };
  return world;
}

let sequence = 0;

/** Writes the world atomically (temporary file + rename) as compact JSON, serialised at the call. */
export async function saveWorld(file: string, world: SimWorld): Promise<void> {
  const text = JSON.stringify(world);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${++sequence}.tmp`;
  try {
    await writeFile(tmp, text, { encoding: 'utf8', mode: 0o600 });
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Coalesces writes of a changing value: {@link schedule} after every change; at most one write is
 * in flight, changes made while it runs lead to exactly one more write (of the state at that
 * time), and a burst of changes in one tick is one write. {@link flush} resolves once everything
 * scheduled is on disk, and rejects when the last write failed.
 */
export class StateWriter {
  private running: Promise<void> | undefined;
  private again = false;
  private lastError: unknown;

  constructor(
    private readonly write: () => Promise<void>,
    private readonly logger: CloudStackLogger = silentLogger,
  ) {}

  /** Notes a change: starts a write soon, or one more after the current one. */
  schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = Promise.resolve().then(() => this.drain());
  }

  /** Resolves when no write is in flight or due; rejects with the error of the last write if it failed. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    if (this.lastError !== undefined) throw this.lastError;
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.write();
        this.lastError = undefined;
      } catch (error) {
        this.lastError = error;
        this.logger.error({ error: String(error) }, 'simulator: writing the state file failed');
      }
    } while (this.again);
    this.running = undefined;
  }
}
