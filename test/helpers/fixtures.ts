import type { EntityManager } from '@mikro-orm/core';
import { CbtHistory, FailoverJob, FailoverStatus, FailoverType, NetworkMapping, OsseaVolume, ReplicationJob, VmDisk } from '../../src/entities/index.js';

let serial = 0;
const next = () => ++serial;

/** What a test VM looks like; every field has a "ready" default. */
export interface VmFixtureOptions {
  vmId?: string;
  name?: string;
  replicationStatus?: string;
  /** Extra, older replication jobs (e.g. one still 'running'). */
  olderReplications?: { id?: string; status: string }[];
  disks?: number;
  /** Disks (by index) that have no ossea volume. */
  disksWithoutVolume?: number[];
  networks?: string[];
  /** Which mappings to create for each network. */
  mapTest?: boolean;
  mapLive?: boolean;
  cbt?: 'ok' | 'failed' | 'empty-change-id' | 'none';
  cpuCount?: number;
  memoryMb?: number;
  /** false: no disk carries the spec. */
  withSpec?: boolean;
}

/** A created test VM. */
export interface VmFixture {
  vmId: string;
  name: string;
  replicationJobId: string;
  volumeIds: string[];
}

/** Inserts a replicated VM (replication job, disks, volumes, CBT, mappings) through the entities. */
export async function insertVm(root: EntityManager, options: VmFixtureOptions = {}): Promise<VmFixture> {
  const n = next();
  const {
    vmId = `vm-${n}-${Math.random().toString(16).slice(2, 8)}`,
    name = `vm-${String(n).padStart(4, '0')}`,
    replicationStatus = 'completed',
    olderReplications = [],
    disks = 1,
    disksWithoutVolume = [],
    networks = ['VM Network'],
    mapTest = true,
    mapLive = true,
    cbt = 'ok',
    cpuCount = 2,
    memoryMb = 4096,
    withSpec = true,
  } = options;
  const em = root.fork();
  const replicationJobId = `job-${vmId}`;
  const base = Date.now() - 3_600_000;
  olderReplications.forEach((older, i) =>
    em.create(ReplicationJob, {
      id: older.id ?? `${replicationJobId}-old${i}`,
      sourceVmId: vmId,
      sourceVmName: name,
      sourceVmPath: `/dc/vm/${name}`,
      vcenterHost: 'vc',
      datacenter: 'dc',
      status: older.status,
      createdAt: new Date(base - (i + 1) * 60_000),
    }),
  );
  em.create(ReplicationJob, {
    id: replicationJobId,
    sourceVmId: vmId,
    sourceVmName: name,
    sourceVmPath: `/dc/vm/${name}`,
    vcenterHost: 'vc',
    datacenter: 'dc',
    status: replicationStatus,
    createdAt: new Date(base),
  });
  const volumeIds: string[] = [];
  for (let d = 0; d < disks; d++) {
    let volumeRow: OsseaVolume | undefined;
    if (!disksWithoutVolume.includes(d)) {
      const volumeId = `vol-${vmId}-${d}`;
      volumeIds.push(volumeId);
      volumeRow = em.create(OsseaVolume, { volumeId, volumeName: `${name}-disk-${d}`, sizeGb: 10 + d, volumeType: 'DATADISK', status: 'attached' });
      await em.flush();
    }
    em.create(VmDisk, {
      jobId: replicationJobId,
      diskId: `disk-${2000 + d}`,
      vmDkPath: `[ds] ${name}/${name}_${d}.vmdk`,
      sizeGb: 10 + d,
      unitNumber: d,
      label: `Hard disk ${d + 1}`,
      osseaVolumeId: volumeRow?.id ?? null,
      ...(d === 0 && withSpec
        ? {
            cpuCount,
            memoryMb,
            osType: 'ubuntu64Guest',
            displayName: name,
            powerState: 'poweredOn',
            networkConfig: JSON.stringify({ adapters: networks.map((network) => ({ network, type: 'vmxnet3' })) }),
          }
        : {}),
    });
  }
  if (cbt !== 'none') {
    em.create(CbtHistory, {
      jobId: replicationJobId,
      changeId: cbt === 'empty-change-id' ? '' : `52 aa bb/${n}`,
      syncSuccess: cbt !== 'failed',
    });
  }
  for (const network of networks) {
    if (mapLive)
      em.create(NetworkMapping, {
        vmId,
        sourceNetworkName: network,
        destinationNetworkId: `prod-${network}`,
        destinationNetworkName: `Prod ${network}`,
        isTestNetwork: false,
      });
    if (mapTest)
      em.create(NetworkMapping, {
        vmId,
        sourceNetworkName: network,
        destinationNetworkId: `test-${network}`,
        destinationNetworkName: `Test ${network}`,
        isTestNetwork: true,
      });
  }
  await em.flush();
  return { vmId, name, replicationJobId, volumeIds };
}

/** Inserts a failover job row as another writer (or an earlier run) would have left it. */
export async function insertFailoverJob(
  root: EntityManager,
  {
    vmId,
    type = FailoverType.TEST,
    status = FailoverStatus.COMPLETED,
    sourceVmName = 'vm',
    createdAt,
  }: { vmId: string; type?: FailoverType; status?: FailoverStatus; sourceVmName?: string; createdAt?: Date },
): Promise<FailoverJob> {
  const em = root.fork();
  const job = em.create(FailoverJob, {
    jobId: `${type}-failover-${vmId}-${Math.floor(Date.now() / 1000)}-${next()}`,
    vmId,
    jobType: type,
    status,
    sourceVmName,
    ...(createdAt ? { createdAt } : {}),
  });
  await em.flush();
  return job;
}
