import type { EntityManager } from '@mikro-orm/core';
import {
  ACTIVE_FAILOVER_STATUSES,
  ACTIVE_REPLICATION_STATUSES,
  FailoverJob,
  HOLDING_FAILOVER_STATUS,
  isActiveStatus,
  NetworkMapping,
  toFailoverStatus,
} from '../entities/index.js';
import { date, num, placeholders, query, str, type Row } from './sql.js';

/** The replication job a failover would start from: the VM's latest. */
export interface ReplicationFact {
  readonly id: string;
  readonly status: string | null;
  readonly createdAt: Date | null;
}

/** The VM's spec, from the first disk row of the latest replication job with cpu_count > 0. */
export interface VmSpecFact {
  readonly cpuCount: number;
  readonly memoryMb: number;
  readonly osType: string;
  readonly displayName: string;
  readonly powerState: string;
  readonly vmToolsVersion: string;
  readonly vmwareUuid: string;
  /** Source networks in adapter order, from `network_config`. */
  readonly networks: readonly { readonly name: string; readonly adapterType: string | null }[];
}

/** The CloudStack volume a disk was replicated into (ossea_volumes). */
export interface VolumeFact {
  readonly rowId: number;
  readonly volumeId: string;
  readonly volumeName: string;
  readonly status: string | null;
  readonly sizeGb: number;
  readonly volumeType: string | null;
}

/** A replicated disk of the latest replication job. */
export interface DiskFact {
  readonly id: number;
  readonly diskId: string;
  readonly unitNumber: number | null;
  readonly sizeGb: number;
  readonly label: string | null;
  readonly osseaVolumeId: number | null;
  readonly volume: VolumeFact | null;
}

/** Everything the database knows about one VM that readiness and the dashboard need. */
export interface VmFacts {
  readonly vmId: string;
  readonly known: boolean;
  readonly name: string | null;
  readonly latestReplication: ReplicationFact | null;
  /** A replication job of the VM still running (any, not only the latest). */
  readonly activeReplicationJobId: string | null;
  readonly spec: VmSpecFact | null;
  /** Disks of the latest replication job, OS disk first (lowest unit number, then lowest id). */
  readonly disks: readonly DiskFact[];
  /** The latest successful CBT sync of the latest replication job that recorded a change id. */
  readonly cbt: { readonly changeId: string; readonly createdAt: Date | null } | null;
  readonly mappings: readonly NetworkMapping[];
  readonly activeJob: FailoverJob | null;
  /** Completed jobs, which hold the VM's volumes until cleaned up (test) or reverted (live). */
  readonly holdingJobs: readonly FailoverJob[];
  readonly latestJob: FailoverJob | null;
}

/**
 * Loads the facts of many VMs in a constant number of SQL statements (five), whatever their
 * number: the dashboard's page and a single `vmReadiness` use the same path.
 */
export async function loadVmFacts(em: EntityManager, vmIds: readonly string[]): Promise<Map<string, VmFacts>> {
  const ids = [...new Set(vmIds)];
  const result = new Map<string, VmFacts>();
  if (ids.length === 0) return result;
  const inVms = placeholders(ids.length);

  const replicationRows = await query(
    em,
    `SELECT id, source_vm_id, source_vm_name, status, created_at, active_id FROM (
       SELECT rj.id, rj.source_vm_id, rj.source_vm_name, rj.status, rj.created_at,
         ROW_NUMBER() OVER (PARTITION BY rj.source_vm_id ORDER BY rj.created_at DESC, rj.id DESC) AS rn,
         MAX(CASE WHEN rj.status IN (${placeholders(ACTIVE_REPLICATION_STATUSES.length)}) THEN rj.id END)
           OVER (PARTITION BY rj.source_vm_id) AS active_id
       FROM replication_jobs rj WHERE rj.source_vm_id IN (${inVms})
     ) latest WHERE rn = 1`,
    [...ACTIVE_REPLICATION_STATUSES, ...ids],
  );
  const latestByVm = new Map(replicationRows.map((r) => [String(r.source_vm_id), r]));
  const jobIds = replicationRows.map((r) => String(r.id));

  const [diskRows, cbtRows, mappings, jobRows] = await Promise.all([
    jobIds.length === 0
      ? Promise.resolve([] as Row[])
      : query(
          em,
          `SELECT vd.id, vd.job_id, vd.disk_id, vd.unit_number, vd.size_gb, vd.label, vd.ossea_volume_id,
             vd.cpu_count, vd.memory_mb, vd.os_type, vd.display_name, vd.power_state, vd.vm_tools_version,
             vd.vmware_uuid, vd.network_config,
             ov.id AS ov_id, ov.volume_id, ov.volume_name, ov.status AS volume_status,
             ov.size_gb AS volume_size_gb, ov.volume_type
           FROM vm_disks vd LEFT JOIN ossea_volumes ov ON ov.id = vd.ossea_volume_id
           WHERE vd.job_id IN (${placeholders(jobIds.length)})
           ORDER BY CASE WHEN vd.unit_number IS NULL THEN 1 ELSE 0 END, vd.unit_number, vd.id`,
          jobIds,
        ),
    jobIds.length === 0
      ? Promise.resolve([] as Row[])
      : query(
          em,
          `SELECT job_id, change_id, created_at FROM cbt_history
           WHERE job_id IN (${placeholders(jobIds.length)}) AND sync_success = 1
             AND change_id IS NOT NULL AND change_id <> ''
           ORDER BY created_at DESC, id DESC`,
          jobIds,
        ),
    em.find(NetworkMapping, { vmId: { $in: ids } }, { orderBy: { vmId: 'asc', isTestNetwork: 'asc', id: 'asc' } }),
    query(
      em,
      `SELECT * FROM failover_jobs WHERE vm_id IN (${inVms}) AND (
         status IS NULL OR status IN (${placeholders(ACTIVE_FAILOVER_STATUSES.length + 1)})
         OR id IN (SELECT MAX(id) FROM failover_jobs WHERE vm_id IN (${inVms}) GROUP BY vm_id))
       ORDER BY id DESC`,
      [...ids, ...ACTIVE_FAILOVER_STATUSES, HOLDING_FAILOVER_STATUS, ...ids],
    ),
  ]);

  const disksByJob = groupBy(diskRows, (r) => String(r.job_id));
  const cbtByJob = new Map<string, Row>();
  for (const row of cbtRows) if (!cbtByJob.has(String(row.job_id))) cbtByJob.set(String(row.job_id), row);
  const mappingsByVm = groupBy(mappings, (m) => m.vmId);
  const jobs = jobRows.map((row) => em.map(FailoverJob, row));
  const jobsByVm = groupBy(jobs, (j) => j.vmId);

  for (const vmId of ids) {
    const latest = latestByVm.get(vmId);
    const disks = latest ? (disksByJob.get(String(latest.id)) ?? []) : [];
    const cbt = latest ? cbtByJob.get(String(latest.id)) : undefined;
    const vmJobs = jobsByVm.get(vmId) ?? [];
    // The spec is on the first row (lowest id) of the job with cpu_count > 0 (the seed's strategy).
    const specRow = disks.filter((d) => (num(d.cpu_count) ?? 0) > 0).sort((a, b) => num(a.id)! - num(b.id)!)[0];
    result.set(vmId, {
      vmId,
      known: latest !== undefined,
      name: latest ? str(latest.source_vm_name) : null,
      latestReplication: latest ? { id: String(latest.id), status: str(latest.status), createdAt: date(latest.created_at) } : null,
      activeReplicationJobId: latest ? str(latest.active_id) : null,
      spec: specRow ? toSpec(specRow) : null,
      disks: disks.map(toDisk),
      cbt: cbt ? { changeId: String(cbt.change_id), createdAt: date(cbt.created_at) } : null,
      mappings: mappingsByVm.get(vmId) ?? [],
      activeJob: vmJobs.find((j) => isActiveStatus(j.status)) ?? null,
      holdingJobs: vmJobs.filter((j) => toFailoverStatus(j.status) === HOLDING_FAILOVER_STATUS),
      latestJob: vmJobs[0] ?? null,
    });
  }
  return result;
}

/** Source networks from `network_config` JSON: `{"adapters":[{"network":"VM Network","type":"vmxnet3"}]}`. */
export function parseNetworkConfig(raw: string | null): { name: string; adapterType: string | null }[] {
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return [];
  }
  const adapters = Array.isArray(parsed) ? parsed : (parsed as { adapters?: unknown })?.adapters;
  if (!Array.isArray(adapters)) return [];
  const networks: { name: string; adapterType: string | null }[] = [];
  for (const adapter of adapters) {
    const a = adapter as Record<string, unknown>;
    const name = a.network ?? a.network_name ?? a.networkName;
    if (typeof name === 'string' && name !== '' && !networks.some((n) => n.name === name)) {
      networks.push({ name, adapterType: typeof (a.type ?? a.adapter_type) === 'string' ? String(a.type ?? a.adapter_type) : null });
    }
  }
  return networks;
}

function toSpec(row: Row): VmSpecFact {
  return {
    cpuCount: num(row.cpu_count) ?? 0,
    memoryMb: num(row.memory_mb) ?? 0,
    osType: str(row.os_type) ?? '',
    displayName: str(row.display_name) ?? '',
    powerState: str(row.power_state) ?? '',
    vmToolsVersion: str(row.vm_tools_version) ?? '',
    vmwareUuid: str(row.vmware_uuid) ?? '',
    networks: parseNetworkConfig(str(row.network_config)),
  };
}

function toDisk(row: Row): DiskFact {
  return {
    id: num(row.id)!,
    diskId: String(row.disk_id),
    unitNumber: num(row.unit_number),
    sizeGb: num(row.size_gb) ?? 0,
    label: str(row.label),
    osseaVolumeId: num(row.ossea_volume_id),
    volume:
      row.ov_id === null || row.ov_id === undefined
        ? null
        : {
            rowId: num(row.ov_id)!,
            volumeId: String(row.volume_id),
            volumeName: String(row.volume_name),
            status: str(row.volume_status),
            sizeGb: num(row.volume_size_gb) ?? 0,
            volumeType: str(row.volume_type),
          },
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}
