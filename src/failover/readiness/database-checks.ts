import { readJobType } from '../../entities/failover-job.codec.js';
import { FailoverType } from '../../entities/enums.js';
import type { FailoverJob } from '../../entities/index.js';
import { CheckKind, fail, kindOfFailover, pass, type ReadinessRule } from './check.js';

const describeJob = (job: FailoverJob) => `${job.jobType} failover ${job.jobId} (${job.status ?? 'pending'})`;

/** The VM is known: the appliance has replicated it at least once. */
export const vmKnown: ReadinessRule = {
  name: 'vm_known',
  kind: CheckKind.DATABASE,
  evaluate: ({ facts }) =>
    facts.known
      ? pass(`VM ${facts.name} is replicated by this appliance`)
      : fail(`No replication job exists for VM ${facts.vmId}: the appliance has never replicated it`),
};

/** The latest replication job completed. */
export const replicationCompleted: ReadinessRule = {
  name: 'replication_completed',
  kind: CheckKind.DATABASE,
  requires: ['vm_known'],
  evaluate: ({ facts }) => {
    const job = facts.latestReplication!;
    return job.status === 'completed'
      ? pass(`Latest replication job ${job.id} completed`)
      : fail(`Latest replication job ${job.id} is ${job.status ?? 'pending'}, not completed`);
  },
};

/** A successful CBT sync with a change id exists for the latest replication job. */
export const cbtChangeId: ReadinessRule = {
  name: 'cbt_change_id',
  kind: CheckKind.DATABASE,
  requires: ['vm_known'],
  evaluate: ({ facts }) =>
    facts.cbt
      ? pass(`Last successful CBT sync recorded change id ${facts.cbt.changeId}`)
      : fail(`Replication job ${facts.latestReplication!.id} has no successful CBT sync with a change id`),
};

/** The VM spec (CPU and memory) is recorded. */
export const vmSpec: ReadinessRule = {
  name: 'vm_spec',
  kind: CheckKind.DATABASE,
  requires: ['vm_known'],
  evaluate: ({ facts }) => {
    const spec = facts.spec;
    if (!spec) return fail(`Replication job ${facts.latestReplication!.id} recorded no VM spec (no disk with a CPU count)`);
    if (spec.cpuCount <= 0 || spec.memoryMb <= 0) {
      return fail(`VM spec is incomplete: ${spec.cpuCount} vCPU, ${spec.memoryMb} MB memory`);
    }
    return pass(`${spec.cpuCount} vCPU, ${spec.memoryMb} MB memory${spec.osType ? `, ${spec.osType}` : ''}`);
  },
};

/** Every replicated disk has a CloudStack volume. */
export const diskVolumes: ReadinessRule = {
  name: 'disk_volumes',
  kind: CheckKind.DATABASE,
  requires: ['vm_known'],
  evaluate: ({ facts }) => {
    if (facts.disks.length === 0) return fail(`Replication job ${facts.latestReplication!.id} recorded no disks`);
    const missing = facts.disks.filter((d) => !d.volume);
    if (missing.length > 0) {
      return fail(`No CloudStack volume for disk ${missing.map((d) => d.label ?? d.diskId).join(', ')}`);
    }
    return pass(`${facts.disks.length} disk${facts.disks.length === 1 ? '' : 's'}, each with a CloudStack volume`);
  },
};

/** Every source network of the VM is mapped to a destination of the right kind. */
export const networkMappings: ReadinessRule = {
  name: 'network_mappings',
  kind: CheckKind.DATABASE,
  requires: ['vm_known'],
  evaluate: ({ facts, type }) => {
    const wantTest = type === FailoverType.TEST;
    const kind = wantTest ? 'test' : 'production';
    if (!facts.spec) return fail('The source networks are unknown: the latest replication job recorded no VM spec');
    const networks = facts.spec.networks;
    if (networks.length === 0) return fail('The VM spec lists no source networks (network_config is empty)');
    const unmapped = networks.filter((n) => !facts.mappings.some((m) => m.sourceNetworkName === n.name && Boolean(m.isTestNetwork) === wantTest));
    if (unmapped.length > 0) {
      return fail(`No ${kind} network mapping for ${unmapped.map((n) => `"${n.name}"`).join(', ')} (needed for a ${kindOfFailover(type)} failover)`);
    }
    return pass(`All ${networks.length} source network${networks.length === 1 ? ' is' : 's are'} mapped to ${kind} networks`);
  },
};

/** No replication job of the VM is running. */
export const noActiveReplication: ReadinessRule = {
  name: 'no_active_replication',
  kind: CheckKind.DATABASE,
  requires: ['vm_known'],
  evaluate: ({ facts }) =>
    facts.activeReplicationJobId ? fail(`Replication job ${facts.activeReplicationJobId} is still running`) : pass('No replication job is running'),
};

/** No failover job of the VM is running. */
export const noActiveFailover: ReadinessRule = {
  name: 'no_active_failover',
  kind: CheckKind.DATABASE,
  evaluate: ({ facts }) =>
    facts.activeJob ? fail(`${describeJob(facts.activeJob)} is in progress`, facts.activeJob.jobId) : pass('No failover job is in progress'),
};

/**
 * The VM's volumes are free: no completed test failover still holds them (not cleaned up) and
 * no live failover is in effect (not reverted). Holds for both kinds of failover.
 */
export const volumesNotHeld: ReadinessRule = {
  name: 'volumes_not_held',
  kind: CheckKind.DATABASE,
  evaluate: ({ facts }) => {
    const holder = facts.holdingJobs[0];
    if (!holder) return pass('The replicated volumes are not held by a failover');
    const why =
      readJobType(holder.jobType) === FailoverType.TEST
        ? `test failover ${holder.jobId} still holds the volumes: clean it up first`
        : `live failover ${holder.jobId} is in effect: revert it first`;
    return fail(why.charAt(0).toUpperCase() + why.slice(1), holder.jobId);
  },
};

/** The database checks, in the order they are reported. */
export const DATABASE_CHECKS: readonly ReadinessRule[] = [
  vmKnown,
  replicationCompleted,
  cbtChangeId,
  vmSpec,
  diskVolumes,
  networkMappings,
  noActiveReplication,
  noActiveFailover,
  volumesNotHeld,
];
