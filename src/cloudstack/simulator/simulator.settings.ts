/**
 * The management server's settings that the simulated rules depend on, with the defaults of a
 * stock Apache CloudStack 4.18–4.21 KVM cloud reached with a non-admin key. They are part of the
 * world (persisted with it), changed by tests through `update()` / `configure()` and by the admin
 * endpoint (`PUT /admin/settings`). Each names the global setting or table it models.
 */
export interface SimSettings {
  /**
   * `kvm.snapshot.enabled`: whether a volume attached to a KVM VM that is not Stopped may be
   * snapshotted. False until 4.22 (and an upgraded cloud keeps what it stored).
   */
  kvmSnapshotEnabled: boolean;
  /** `default.page.size`: the largest `pagesize` a list accepts (500). */
  defaultPageSize: number;
  /** `allow.user.expunge.recover.vm`: whether a non-admin account may expunge (false). */
  allowUserExpungeRecoverVm: boolean;
  /** `allow.user.view.destroyed.vm`: whether a non-admin account's lists show Destroyed VMs (false). */
  allowUserViewDestroyedVm: boolean;
  /** `hypervisor_capabilities.max_data_volumes_limit` by hypervisor (KVM 32); other hypervisors fall back to 6. */
  maxDataVolumes: Record<string, number>;
  /** Whether the API key's account is a root admin (false: a user or domain-admin key). */
  callerIsAdmin: boolean;
  /**
   * Whether the primary storage has a snapshot strategy that can revert (DefaultSnapshotStrategy on
   * QCOW2 volumes, or Ceph/ScaleIO/managed storage); shown as the snapshots' `revertable`.
   */
  snapshotsRevertable: boolean;
  /** The management server is preparing for maintenance or shutdown: every async command is answered 503 (lists still answer). */
  maintenance: boolean;
  /** `api.throttling.max` calls per `api.throttling.interval` seconds per account; 0 = throttling off (the default). */
  apiThrottlingMax: number;
  apiThrottlingIntervalSeconds: number;
}

/** The defaults of a stock 4.18–4.21 KVM cloud and a non-admin key. */
export function defaultSettings(): SimSettings {
  return {
    kvmSnapshotEnabled: false,
    defaultPageSize: 500,
    allowUserExpungeRecoverVm: false,
    allowUserViewDestroyedVm: false,
    maxDataVolumes: { KVM: 32 },
    callerIsAdmin: false,
    snapshotsRevertable: true,
    maintenance: false,
    apiThrottlingMax: 0,
    apiThrottlingIntervalSeconds: 1,
  };
}

/** The settings of CloudStack 4.22 (kvm.snapshot.enabled true by default); the rest as {@link defaultSettings}. */
export function settings422(): SimSettings {
  return { ...defaultSettings(), kvmSnapshotEnabled: true };
}

/** `max_data_volumes_limit` of a hypervisor (6 where hypervisor_capabilities has no row, as VolumeApiServiceImpl falls back). */
export function maxDataVolumes(settings: SimSettings, hypervisor: string): number {
  return settings.maxDataVolumes[hypervisor] ?? 6;
}

const BOOLEAN_KEYS = [
  'kvmSnapshotEnabled',
  'allowUserExpungeRecoverVm',
  'allowUserViewDestroyedVm',
  'callerIsAdmin',
  'snapshotsRevertable',
  'maintenance',
] as const;
const COUNT_KEYS = ['defaultPageSize', 'apiThrottlingMax', 'apiThrottlingIntervalSeconds'] as const;

/**
 * Checks a partial settings object (from JSON) and returns it typed, or the reason it is refused:
 * booleans, whole numbers ≥ 0 (page size and interval ≥ 1), `maxDataVolumes` a map of whole numbers ≥ 1.
 */
export function parseSettings(input: unknown): Partial<SimSettings> | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'settings must be a JSON object';
  const out: Partial<SimSettings> = {};
  for (const [key, value] of Object.entries(input)) {
    if ((BOOLEAN_KEYS as readonly string[]).includes(key)) {
      if (typeof value !== 'boolean') return `${key} must be true or false`;
      out[key as (typeof BOOLEAN_KEYS)[number]] = value;
    } else if ((COUNT_KEYS as readonly string[]).includes(key)) {
      const min = key === 'apiThrottlingMax' ? 0 : 1;
      if (!Number.isSafeInteger(value) || (value as number) < min) return `${key} must be a whole number ≥ ${min}`;
      out[key as (typeof COUNT_KEYS)[number]] = value as number;
    } else if (key === 'maxDataVolumes') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'maxDataVolumes must map hypervisors to numbers';
      const limits: Record<string, number> = {};
      for (const [hypervisor, limit] of Object.entries(value)) {
        if (!Number.isSafeInteger(limit) || (limit as number) < 1) return `maxDataVolumes.${hypervisor} must be a whole number ≥ 1`;
        limits[hypervisor] = limit as number;
      }
      out.maxDataVolumes = limits;
    } else return `unknown setting ${key}`;
  }
  return out;
}
