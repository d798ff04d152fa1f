import { registerEnumType } from 'type-graphql';

/** The two kinds of failover. Keys are the GraphQL values, values the seed's DB strings. */
export enum FailoverType {
  LIVE = 'live',
  TEST = 'test',
}

/**
 * A failover job's status. Values are the seed's strings; `cleaned_up` and `reverted` are the
 * terminal states this service adds. `executing` is only ever written by the original appliance.
 */
export enum FailoverStatus {
  PENDING = 'pending',
  VALIDATING = 'validating',
  EXECUTING = 'executing',
  SNAPSHOTTING = 'snapshotting',
  CREATING_VM = 'creating_vm',
  SWITCHING_VOLUME = 'switching_volume',
  POWERING_ON = 'powering_on',
  COMPLETED = 'completed',
  FAILED = 'failed',
  CLEANUP = 'cleanup',
  CLEANED_UP = 'cleaned_up',
  REVERTING = 'reverting',
  REVERTED = 'reverted',
  /** A status this service does not know, written by another tool (see `rawStatus`). */
  UNKNOWN = 'unknown',
}

/** Statuses in which a job is running (or queued to run): a VM with such a job takes no new one. */
export const ACTIVE_FAILOVER_STATUSES: readonly FailoverStatus[] = [
  FailoverStatus.PENDING,
  FailoverStatus.VALIDATING,
  FailoverStatus.EXECUTING,
  FailoverStatus.SNAPSHOTTING,
  FailoverStatus.CREATING_VM,
  FailoverStatus.SWITCHING_VOLUME,
  FailoverStatus.POWERING_ON,
  FailoverStatus.CLEANUP,
  FailoverStatus.REVERTING,
];

/**
 * A completed job holds the VM's volumes: a test failover until it is cleaned up, a live failover
 * until it is reverted.
 */
export const HOLDING_FAILOVER_STATUS = FailoverStatus.COMPLETED;

/** replication_jobs.status values the appliance uses while a replication is still running. */
export const ACTIVE_REPLICATION_STATUSES: readonly string[] = ['pending', 'running', 'replicating'];

registerEnumType(FailoverType, { name: 'FailoverType', description: 'TEST boots an isolated copy; LIVE makes CloudStack the production VM.' });
registerEnumType(FailoverStatus, { name: 'FailoverStatus', description: 'Where a failover job is in its flow.' });
