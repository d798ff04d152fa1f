import {
  FailoverType,
  NetworkMapping,
  readJobType,
  readJsonObject,
  readNetworkMappings,
  readSourceVmSpec,
  writeNetworkMappings,
  writeSourceVmSpec,
} from '../../entities/index.js';
import type { VmFacts } from '../../inventory/vm-facts.js';

/** One replicated volume as the job uses it, OS disk first, then the data disks in unit order. */
export interface PlannedVolume {
  readonly diskId: string;
  readonly unitNumber: number | null;
  readonly sizeGb: number;
  readonly volumeId: string;
  readonly volumeName: string;
}

/** One NIC of the failover VM, in source adapter order. */
export interface PlannedNetwork {
  readonly sourceNetworkName: string;
  readonly destinationNetworkId: string;
  readonly adapterType: string | null;
}

/**
 * What a job does, fixed when it is created and stored on its `failover_jobs` row
 * (`source_vm_spec`, `network_mappings`), so a resumed job does exactly what it set out to do
 * even if the inventory or the mappings changed meanwhile.
 */
export interface JobPlan {
  readonly jobId: string;
  readonly vmId: string;
  readonly type: FailoverType;
  readonly sourceName: string;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly osType: string | null;
  readonly volumes: readonly PlannedVolume[];
  readonly networks: readonly PlannedNetwork[];
  /** CloudStack host name of the failover VM (live: the source name; test: suffixed). */
  readonly vmName: string;
  readonly displayName: string;
}

/** A source network's destination chosen for one job, overriding the stored mapping. */
export interface NetworkOverride {
  readonly sourceNetworkName: string;
  readonly destinationNetworkId: string;
}

/**
 * The VM's facts as a failover of `type` sees them: the stored mappings with the job's overrides
 * laid over them (an override stands in for a mapping of that kind).
 */
export function withOverrides(facts: VmFacts, type: FailoverType, overrides: readonly NetworkOverride[]): VmFacts {
  if (overrides.length === 0) return facts;
  const isTest = type === FailoverType.TEST;
  const kept = facts.mappings.filter((m) => Boolean(m.isTestNetwork) !== isTest || !overrides.some((o) => o.sourceNetworkName === m.sourceNetworkName));
  const added = overrides.map((o) =>
    Object.assign(new NetworkMapping(), {
      vmId: facts.vmId,
      sourceNetworkName: o.sourceNetworkName,
      destinationNetworkId: o.destinationNetworkId,
      destinationNetworkName: o.destinationNetworkId,
      isTestNetwork: isTest,
    }),
  );
  return { ...facts, mappings: [...kept, ...added] };
}

/** The facts a job's validation step checks: the job's own networks stand in for the stored mappings. */
export function factsForPlan(facts: VmFacts, plan: JobPlan): VmFacts {
  const isTest = plan.type === FailoverType.TEST;
  const others = facts.mappings.filter((m) => Boolean(m.isTestNetwork) !== isTest);
  return withOverrides({ ...facts, mappings: others }, plan.type, plan.networks);
}

/** A CloudStack host name from a VMware VM name: letters, digits and hyphens, ≤ 63, not starting with a digit. */
export function hostName(name: string, suffix = ''): string {
  let host = name
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (host === '' || /^\d/.test(host)) host = `vm-${host}`.replace(/-$/, '');
  host = host.slice(0, 63 - suffix.length).replace(/-+$/, '');
  return `${host}${suffix}`;
}

/**
 * The host-name suffix of a test failover's VM: `-test-` and the job's own part (its id's seconds,
 * base 36), so every test VM has a name of its own — host names are unique per network among VMs
 * that are not expunged, and a key that may not expunge leaves a Destroyed test VM for a while.
 */
export function testSuffix(jobId: string): string {
  const seconds = Number(/-(\d+)$/.exec(jobId)?.[1]);
  return Number.isSafeInteger(seconds) ? `-test-${seconds.toString(36)}` : '-test';
}

/** Builds a job's plan from the VM's facts (ready: spec, volumes and mappings of the kind present). */
export function planJob(jobId: string, type: FailoverType, facts: VmFacts): JobPlan {
  const spec = facts.spec!;
  const isTest = type === FailoverType.TEST;
  const sourceName = facts.name ?? facts.vmId;
  return {
    jobId,
    vmId: facts.vmId,
    type,
    sourceName,
    cpus: spec.cpuCount,
    memoryMb: spec.memoryMb,
    osType: spec.osType || null,
    volumes: facts.disks.map((d) => ({
      diskId: d.diskId,
      unitNumber: d.unitNumber,
      sizeGb: d.sizeGb,
      volumeId: d.volume!.volumeId,
      volumeName: d.volume!.volumeName,
    })),
    networks: spec.networks.map((n) => {
      const mapping = facts.mappings.find((m) => m.sourceNetworkName === n.name && Boolean(m.isTestNetwork) === isTest)!;
      return { sourceNetworkName: n.name, destinationNetworkId: mapping.destinationNetworkId, adapterType: n.adapterType };
    }),
    vmName: isTest ? hostName(sourceName, testSuffix(jobId)) : hostName(sourceName),
    displayName: isTest ? `${sourceName} (Test)` : sourceName,
  };
}

/**
 * The plan as the seed's `failover_jobs` columns hold it: `source_vm_spec` (the seed's JSON, with
 * the job's disks and names added) and `network_mappings` (`{ "<source network>": "<destination id>" }`,
 * in source order), written by the row's codec.
 */
export function planColumns(plan: JobPlan): { sourceVmSpec: string; networkMappings: string } {
  return {
    sourceVmSpec: writeSourceVmSpec({
      name: plan.sourceName,
      displayName: plan.displayName,
      vmName: plan.vmName,
      cpus: plan.cpus,
      memoryMb: plan.memoryMb,
      osType: plan.osType,
      networks: plan.networks.map((n) => ({ name: n.sourceNetworkName, adapterType: n.adapterType })),
      disks: plan.volumes,
    }),
    networkMappings: writeNetworkMappings(plan.networks),
  };
}

/** Reads a plan back from a job row written by {@link planColumns}; throws when the row holds none. */
export function readPlan(row: {
  jobId: string;
  vmId: string;
  jobType: string;
  sourceVmName: string;
  sourceVmSpec?: string | null;
  networkMappings?: string | null;
}): JobPlan {
  const spec = readSourceVmSpec(row.sourceVmSpec);
  const type = readJobType(row.jobType);
  if (!spec?.disks || !readJsonObject(row.networkMappings) || !type) throw new Error(`job ${row.jobId} holds no plan this service wrote`);
  return {
    jobId: row.jobId,
    vmId: row.vmId,
    type,
    sourceName: spec.name ?? row.sourceVmName,
    cpus: spec.cpus,
    memoryMb: spec.memoryMb,
    osType: spec.osType,
    volumes: spec.disks,
    networks: readNetworkMappings(row.networkMappings).map(({ sourceNetworkName, destinationNetworkId }) => ({
      sourceNetworkName,
      destinationNetworkId,
      adapterType: spec.networks.find((n) => n.name === sourceNetworkName)?.adapterType ?? null,
    })),
    vmName: spec.vmName ?? hostName(row.sourceVmName, type === FailoverType.TEST ? '-test' : ''),
    displayName: spec.displayName ?? row.sourceVmName,
  };
}
