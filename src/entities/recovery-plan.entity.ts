import { BigIntType, type Opt } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/**
 * A recovery plan (table `recovery_plans`, added by Migration009): a named, ordered list of waves of
 * VMs, run with at most `maxInFlight` failovers at once. `nameLock` holds the name while the plan
 * exists (its unique index keeps names unique) and is NULL once the plan is deleted: a deleted plan
 * stays, for its executions' history. `revision` moves on with every change and every start, so a
 * start and an edit never interleave.
 */
@Entity({ tableName: 'recovery_plans' })
@Unique({ name: 'idx_recovery_plans_name_lock', properties: ['nameLock'] })
export class RecoveryPlanRow {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number & Opt;

  @Property({ type: 'string', length: 100 })
  name!: string;

  @Property({ type: 'string', length: 100, nullable: true })
  nameLock?: string | null;

  @Property({ type: 'string', length: 1000, nullable: true })
  description?: string | null;

  @Property({ type: 'integer' })
  maxInFlight!: number;

  @Property({ type: 'string', length: 16 })
  failurePolicy!: string;

  @Property({ type: 'integer' })
  revision!: number;

  @Property({ type: 'string', length: 128, nullable: true })
  createdBy?: string | null;

  @Property({ type: 'datetime', length: 3 })
  createdAt!: Date;

  @Property({ type: 'datetime', length: 3 })
  updatedAt!: Date;

  @Property({ type: 'datetime', length: 3, nullable: true })
  deletedAt?: Date | null;
}

/** One wave of a plan (table `recovery_plan_waves`): its position (1-based) is its order. */
@Entity({ tableName: 'recovery_plan_waves' })
export class RecoveryPlanWaveRow {
  @PrimaryKey({ type: 'integer', autoincrement: false })
  planId!: number;

  @PrimaryKey({ type: 'integer', autoincrement: false })
  position!: number;
}

/** One VM of a plan (table `recovery_plan_vms`): the wave it is in and its place there. A VM is in at most one wave of a plan (the key). */
@Entity({ tableName: 'recovery_plan_vms' })
@Index({ name: 'idx_recovery_plan_vms_wave', properties: ['planId', 'wavePosition', 'position'] })
@Index({ name: 'idx_recovery_plan_vms_vm', properties: ['vmId'] })
export class RecoveryPlanVmRow {
  @PrimaryKey({ type: 'integer', autoincrement: false })
  planId!: number;

  @PrimaryKey({ type: 'string', length: 255 })
  vmId!: string;

  @Property({ type: 'integer' })
  wavePosition!: number;

  @Property({ type: 'integer' })
  position!: number;
}

/**
 * One run of a plan (table `plan_executions`): status, the executor's cursor (phase, wave), its lease
 * (owner + expiry, epoch ms on the database's clock), and `activeLock` — the plan's id while the
 * execution is active; its unique index gives a plan one active execution. The plan's waves, VMs,
 * max-in-flight and failure policy are copied at the start: editing the plan later changes no run.
 */
@Entity({ tableName: 'plan_executions' })
@Unique({ name: 'idx_plan_executions_active', properties: ['activeLock'] })
@Index({ name: 'idx_plan_executions_plan', properties: ['planId', 'id'] })
@Index({ name: 'idx_plan_executions_phase', properties: ['phase', 'leaseExpiresAt'] })
export class PlanExecutionRow {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number & Opt;

  @Property({ type: 'integer' })
  planId!: number;

  @Property({ type: 'string', length: 100 })
  planName!: string;

  @Property({ type: 'string', length: 8 })
  type!: string;

  @Property({ type: 'string', length: 32 })
  status!: string;

  /** How the run ended (what a cleanup or revert that failed goes back to). */
  @Property({ type: 'string', length: 32, nullable: true })
  runStatus?: string | null;

  @Property({ type: 'string', length: 16 })
  phase!: string;

  /** Index of the wave the executor is at, in the phase's order (forward for a run, reverse for an unwind). */
  @Property({ type: 'integer' })
  wave!: number;

  @Property({ type: 'integer' })
  waveCount!: number;

  @Property({ type: 'integer' })
  maxInFlight!: number;

  @Property({ type: 'string', length: 16 })
  failurePolicy!: string;

  @Property({ type: 'integer', nullable: true })
  activeLock?: number | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  cancelRequestedAt?: Date | null;

  @Property({ type: 'string', length: 128, nullable: true })
  leaseOwner?: string | null;

  @Property({ type: new BigIntType('number'), columnType: 'bigint', nullable: true })
  leaseExpiresAt?: number | null;

  @Property({ type: 'string', length: 128, nullable: true })
  requestedBy?: string | null;

  /** Who asked for the current phase (the start, then a cleanup or revert). */
  @Property({ type: 'string', length: 128, nullable: true })
  flowRequestedBy?: string | null;

  @Property({ type: 'text', nullable: true })
  errorMessage?: string | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  startedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  completedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  unwindStartedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  unwindCompletedAt?: Date | null;

  @Property({ type: 'datetime', length: 3 })
  createdAt!: Date;

  @Property({ type: 'datetime', length: 3 })
  updatedAt!: Date;
}

/** One wave of an execution (table `plan_execution_waves`), with when it ran and when it was unwound. */
@Entity({ tableName: 'plan_execution_waves' })
export class PlanExecutionWaveRow {
  @PrimaryKey({ type: 'integer', autoincrement: false })
  executionId!: number;

  @PrimaryKey({ type: 'integer', autoincrement: false })
  position!: number;

  @Property({ type: 'datetime', length: 3, nullable: true })
  startedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  completedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  unwindStartedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  unwindCompletedAt?: Date | null;
}

/**
 * One VM of an execution (table `plan_execution_vms`): its state in the run, its failover job (set in
 * the job's own creating transaction), and its cleanup or revert.
 */
@Entity({ tableName: 'plan_execution_vms' })
@Index({ name: 'idx_plan_execution_vms_wave', properties: ['executionId', 'wavePosition', 'position'] })
@Index({ name: 'idx_plan_execution_vms_vm', properties: ['vmId'] })
@Index({ name: 'idx_plan_execution_vms_job', properties: ['jobId'] })
export class PlanExecutionVmRow {
  @PrimaryKey({ type: 'integer', autoincrement: false })
  executionId!: number;

  @PrimaryKey({ type: 'string', length: 255 })
  vmId!: string;

  @Property({ type: 'string', length: 255, nullable: true })
  vmName?: string | null;

  @Property({ type: 'integer' })
  wavePosition!: number;

  @Property({ type: 'integer' })
  position!: number;

  @Property({ type: 'string', length: 16 })
  state!: string;

  @Property({ type: 'string', length: 255, nullable: true })
  jobId?: string | null;

  @Property({ type: 'string', length: 16, nullable: true })
  unwindState?: string | null;

  @Property({ type: 'text', nullable: true })
  errorMessage?: string | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  launchedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  endedAt?: Date | null;

  @Property({ type: 'datetime', length: 3 })
  updatedAt!: Date;
}

/**
 * One change of an execution (table `plan_execution_events`). `sequence` is dense and monotonic
 * across executions (taken under the `failover_sequences` row `plan_execution_events`, so events
 * commit in sequence order); `executionSequence` is dense within one execution.
 */
@Entity({ tableName: 'plan_execution_events' })
@Unique({ name: 'idx_plan_execution_events_execution', properties: ['executionId', 'executionSequence'] })
@Index({ name: 'idx_plan_execution_events_plan', properties: ['planId', 'sequence'] })
export class PlanExecutionEventRow {
  @PrimaryKey({ type: new BigIntType('number'), columnType: 'bigint', autoincrement: false })
  sequence!: number;

  @Property({ type: 'integer' })
  executionId!: number;

  @Property({ type: 'integer' })
  planId!: number;

  @Property({ type: 'integer' })
  executionSequence!: number;

  @Property({ type: 'string', length: 32 })
  kind!: string;

  @Property({ type: 'string', length: 32 })
  status!: string;

  @Property({ type: 'string', length: 32, nullable: true })
  previousStatus?: string | null;

  @Property({ type: 'integer', nullable: true })
  wave?: number | null;

  @Property({ type: 'string', length: 255, nullable: true })
  vmId?: string | null;

  @Property({ type: 'string', length: 255, nullable: true })
  jobId?: string | null;

  @Property({ type: 'integer' })
  progressPercent!: number;

  @Property({ type: 'text', nullable: true })
  message?: string | null;

  @Property({ type: 'string', length: 128, nullable: true })
  requestedBy?: string | null;

  @Property({ type: 'datetime', length: 3 })
  occurredAt!: Date;
}

/**
 * An idempotency key (table `idempotency_keys`): for 24 hours the same key from the same caller
 * with the same request (its hash) gets what the first request created (`resultId`).
 */
@Entity({ tableName: 'idempotency_keys' })
@Index({ name: 'idx_idempotency_keys_expires', properties: ['expiresAt'] })
export class IdempotencyKeyRow {
  @PrimaryKey({ type: 'string', length: 128 })
  caller!: string;

  @PrimaryKey({ type: 'string', length: 100, fieldName: 'idempotency_key' })
  key!: string;

  @Property({ type: 'string', length: 64 })
  operation!: string;

  @Property({ type: 'string', length: 64 })
  requestHash!: string;

  @Property({ type: 'string', length: 255 })
  resultId!: string;

  @Property({ type: 'datetime', length: 3 })
  createdAt!: Date;

  @Property({ type: new BigIntType('number'), columnType: 'bigint' })
  expiresAt!: number;
}
