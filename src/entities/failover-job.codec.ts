import { ACTIVE_FAILOVER_STATUSES, FailoverStatus, FailoverType } from './enums.js';

/**
 * The one reading of a `failover_jobs` row's free-form columns. Rows may be written by other tools
 * (the original appliance, scripts), so every reader goes through these functions: a value this
 * service does not know reads as "unknown" (null), never as a guess, and never as an error that
 * would hide a whole list. Type, status and the JSON columns are read here, and the JSON columns
 * are written here too ({@link writeSourceVmSpec}, {@link writeNetworkMappings}), so what is
 * written is what is read.
 */

const KNOWN_STATUSES = new Set<string>(Object.values(FailoverStatus));

/**
 * `status` as the API shows it: NULL is the column's default (`pending`); a value this
 * service does not know is UNKNOWN rather than an error that would hide the whole list.
 */
export function toFailoverStatus(raw: string | null | undefined): FailoverStatus {
  if (raw === null || raw === undefined) return FailoverStatus.PENDING;
  const status = raw.toLowerCase();
  return KNOWN_STATUSES.has(status) && status !== FailoverStatus.UNKNOWN ? (status as FailoverStatus) : FailoverStatus.UNKNOWN;
}

/** Whether a status is active (see {@link ACTIVE_FAILOVER_STATUSES}); null (a raw insert) counts as pending. */
export function isActiveStatus(status: string | null | undefined): boolean {
  return ACTIVE_FAILOVER_STATUSES.includes(toFailoverStatus(status));
}

/** `job_type`: LIVE or TEST, whatever the case and spacing; null for a type this service does not know. */
export function readJobType(raw: string | null | undefined): FailoverType | null {
  const type = raw?.trim().toLowerCase();
  return type === FailoverType.LIVE || type === FailoverType.TEST ? type : null;
}

/** A JSON column: the parsed object, or null when absent, unreadable or not an object. */
export function readJsonObject(raw: string | null | undefined): Record<string, unknown> | null {
  if (!raw) return null;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `network_mappings`: `{ "<source network>": "<destination id>" }`, in source order; entries that are not strings are left out. */
export function readNetworkMappings(raw: string | null | undefined): { sourceNetworkName: string; destinationNetworkId: string }[] {
  const json = readJsonObject(raw);
  if (!json) return [];
  return Object.entries(json)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([sourceNetworkName, destinationNetworkId]) => ({ sourceNetworkName, destinationNetworkId }));
}

/** A source network as `source_vm_spec.networks[]` holds it. */
export interface StoredNetwork {
  readonly name: string;
  readonly adapterType: string | null;
}

/** A replicated disk as `source_vm_spec.disks[]` holds it (this service adds them to the seed's JSON). */
export interface StoredDisk {
  readonly diskId: string;
  readonly unitNumber: number | null;
  readonly sizeGb: number;
  readonly volumeId: string;
  readonly volumeName: string;
}

/** `source_vm_spec` as read: the seed's JSON (`cpus`, `memory_mb`, `os_type`, `display_name`, `power_state`, `networks`) and what this service adds (`name`, `vm_name`, `disks`). */
export interface StoredVmSpec {
  readonly name: string | null;
  readonly displayName: string | null;
  /** The CloudStack host name the job gave its VM. */
  readonly vmName: string | null;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly osType: string | null;
  readonly powerState: string | null;
  readonly networks: readonly StoredNetwork[];
  /** Null when the row lists no disks (a row this service did not write). */
  readonly disks: readonly StoredDisk[] | null;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** `source_vm_spec`: null when absent or unreadable; fields it lacks read as null, 0 or empty. */
export function readSourceVmSpec(raw: string | null | undefined): StoredVmSpec | null {
  const json = readJsonObject(raw);
  if (!json) return null;
  const networks = Array.isArray(json.networks) ? (json.networks as unknown[]) : [];
  return {
    name: text(json.name),
    displayName: text(json.display_name),
    vmName: text(json.vm_name),
    cpus: Number(json.cpus ?? json.cpu_count ?? 0) || 0,
    memoryMb: Number(json.memory_mb ?? 0) || 0,
    osType: text(json.os_type),
    powerState: text(json.power_state),
    networks: networks
      .map((n) => n as Record<string, unknown>)
      .filter((n) => typeof n.network_name === 'string')
      .map((n) => ({ name: String(n.network_name), adapterType: text(n.adapter_type) })),
    disks: Array.isArray(json.disks)
      ? (json.disks as Record<string, unknown>[]).map((d) => ({
          diskId: String(d.disk_id),
          unitNumber: d.unit_number === null || d.unit_number === undefined ? null : Number(d.unit_number),
          sizeGb: Number(d.size_gb ?? 0),
          volumeId: String(d.volume_id),
          volumeName: String(d.volume_name ?? d.volume_id),
        }))
      : null,
  };
}

/** What {@link writeSourceVmSpec} writes. */
export type NewVmSpec = Omit<StoredVmSpec, 'powerState' | 'disks' | 'name' | 'displayName' | 'vmName'> & {
  readonly name: string;
  readonly displayName: string;
  readonly vmName: string;
  readonly disks: readonly StoredDisk[];
};

/** `source_vm_spec` as this service writes it: the seed's keys, with the job's names and disks added. */
export function writeSourceVmSpec(spec: NewVmSpec): string {
  return JSON.stringify({
    name: spec.name,
    display_name: spec.displayName,
    vm_name: spec.vmName,
    cpus: spec.cpus,
    memory_mb: spec.memoryMb,
    os_type: spec.osType,
    networks: spec.networks.map((n) => ({ network_name: n.name, adapter_type: n.adapterType, connected: true })),
    disks: spec.disks.map((d) => ({ disk_id: d.diskId, unit_number: d.unitNumber, size_gb: d.sizeGb, volume_id: d.volumeId, volume_name: d.volumeName })),
  });
}

/** `network_mappings` as this service writes it: `{ "<source network>": "<destination id>" }`, in source order. */
export function writeNetworkMappings(mappings: readonly { readonly sourceNetworkName: string; readonly destinationNetworkId: string }[]): string {
  return JSON.stringify(Object.fromEntries(mappings.map((m) => [m.sourceNetworkName, m.destinationNetworkId])));
}
