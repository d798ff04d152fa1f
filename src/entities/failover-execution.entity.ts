import { BigIntType, type Opt } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/** The flows the engine runs; a job runs a failover flow, then (maybe) cleanup or revert. */
export enum FlowName {
  TEST_FAILOVER = 'test_failover',
  LIVE_FAILOVER = 'live_failover',
  CLEANUP = 'cleanup',
  REVERT = 'revert',
}

/** Where the execution of the current flow stands. */
export enum ExecutionPhase {
  /** Running the flow's steps forward, from `step`. */
  RUN = 'run',
  /** A step failed for good: undoing what the job did, newest first. */
  COMPENSATE = 'compensate',
  /** Nothing to run (the flow ended; see the job's status). */
  DONE = 'done',
}

/**
 * The engine's durable cursor for one job (table `failover_executions`, added by Migration006): which
 * flow it is in, the step to (re)run, who holds its lease and until when. `vmLock` holds the VM id
 * while the job holds the VM (from creation until it is cleaned up, reverted or failed): its unique
 * index is what lets exactly one of many concurrent starts for a VM create a job.
 */
@Entity({ tableName: 'failover_executions' })
@Unique({ name: 'idx_failover_executions_vm_lock', properties: ['vmLock'] })
@Index({ name: 'idx_failover_executions_vm_id', properties: ['vmId'] })
@Index({ name: 'idx_failover_executions_phase', properties: ['phase', 'leaseExpiresAt'] })
@Index({ name: 'idx_failover_executions_auto_cleanup', properties: ['autoCleanupAt'] })
@Index({ name: 'idx_failover_executions_plan_execution', properties: ['planExecutionId'] })
export class FailoverExecution {
  @PrimaryKey({ type: 'string', length: 255 })
  jobId!: string;

  @Property({ type: 'string', length: 255 })
  vmId!: string;

  /** The VM id while this job holds the VM; NULL once it let go. */
  @Property({ type: 'string', length: 255, nullable: true })
  vmLock?: string | null;

  @Property({ type: 'string', length: 32 })
  flow!: FlowName;

  @Property({ type: 'string', length: 16 })
  phase!: ExecutionPhase;

  /** Index in the flow of the step to run next (RUN), or of the failed step (COMPENSATE). */
  @Property({ type: 'integer', default: 0 })
  step: number & Opt = 0;

  /** The step that failed for good, while compensating and after. */
  @Property({ type: 'string', length: 64, nullable: true })
  failedStep?: string | null;

  /** What made it fail (the cloud's error text), kept while compensating. */
  @Property({ type: 'text', nullable: true })
  failure?: string | null;

  @Property({ type: 'integer', default: 0 })
  progressPercent: number & Opt = 0;

  /** The worker that holds the lease. */
  @Property({ type: 'string', length: 128, nullable: true })
  leaseOwner?: string | null;

  /** When the lease runs out (epoch milliseconds). */
  @Property({ type: new BigIntType('number'), columnType: 'bigint', nullable: true })
  leaseExpiresAt?: number | null;

  /** A test failover cleans itself up at this time (epoch milliseconds). */
  @Property({ type: new BigIntType('number'), columnType: 'bigint', nullable: true })
  autoCleanupAt?: number | null;

  /** Requested with the start: minutes after completion before the automatic cleanup. */
  @Property({ type: 'integer', nullable: true })
  autoCleanupAfterMinutes?: number | null;

  /** Who started the job: a key name, `token:<fingerprint>`, `anonymous`, or `system:<what>` (added by Migration008). */
  @Property({ type: 'string', length: 128, nullable: true })
  requestedBy?: string | null;

  /** Who asked for the current flow: the start, then the cleanup or revert (its events carry it). */
  @Property({ type: 'string', length: 128, nullable: true })
  flowRequestedBy?: string | null;

  /** The plan execution that started the job, if one did (added by Migration009). */
  @Property({ type: 'integer', nullable: true })
  planExecutionId?: number | null;

  @Property({ type: 'datetime', length: 3, onCreate: () => new Date() })
  createdAt: Date & Opt = new Date();

  @Property({ type: 'datetime', length: 3, onCreate: () => new Date(), onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();
}
