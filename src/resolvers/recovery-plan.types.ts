import { Field, GraphQLISODateTime, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { FailoverType } from '../entities/enums.js';
import { FailurePolicy, PlanExecutionStatus, PlanUnwindState, PlanVmState } from '../entities/plan.codec.js';
import { PageInfo } from './connection.js';
import { ReadinessCheck } from './readiness.type.js';

/** A VM of a plan's wave. */
@ObjectType({ simpleResolvers: true })
export class PlanVm {
  @Field(() => String)
  vmId!: string;

  @Field(() => String, { nullable: true, description: 'The VM’s name, as the appliance replicates it.' })
  name?: string | null;
}

/** A wave of a plan: its VMs fail over together, after every job of the wave before ended. */
@ObjectType({ simpleResolvers: true })
export class PlanWave {
  @Field(() => Int, { description: '1 for the first wave: the order is the position in the plan.' })
  order!: number;

  @Field(() => [PlanVm])
  vms!: PlanVm[];
}

/** One VM's readiness within a plan. */
@ObjectType({ simpleResolvers: true })
export class PlanVmReadiness {
  @Field(() => String)
  vmId!: string;

  @Field(() => Boolean)
  ready!: boolean;

  @Field(() => [ReadinessCheck])
  checks!: ReadinessCheck[];
}

/** Whether every VM of a plan can fail over now. */
@ObjectType({ simpleResolvers: true })
export class PlanReadiness {
  @Field(() => Boolean)
  ready!: boolean;

  @Field(() => [PlanVmReadiness])
  vms!: PlanVmReadiness[];
}

/** A recovery plan (the row of `recovery_plans`; waves and executions are field resolvers). */
@ObjectType({ description: 'A named, ordered list of waves of VMs, failed over wave after wave with at most maxInFlight jobs at once.' })
export class RecoveryPlan {
  @Field(() => ID)
  id!: number;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Int, { description: 'At most this many of the plan’s jobs run at once (never more than the engine’s concurrency).' })
  maxInFlight!: number;

  @Field(() => FailurePolicy)
  failurePolicy!: FailurePolicy;

  @Field(() => String, { nullable: true, description: 'Who created it.' })
  createdBy?: string | null;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;

  @Field(() => GraphQLISODateTime)
  updatedAt!: Date;

  @Field(() => GraphQLISODateTime, { nullable: true, description: 'When it was deleted (its executions keep it).' })
  deletedAt?: Date | null;
}

/** How one wave of an execution stands. */
export enum PlanWaveStatus {
  PENDING = 'pending',
  RUNNING = 'running',
  COMPLETED = 'completed',
  PARTIALLY_COMPLETED = 'partially_completed',
  FAILED = 'failed',
  SKIPPED = 'skipped',
  UNWINDING = 'unwinding',
  UNWOUND = 'unwound',
}
registerEnumType(PlanWaveStatus, { name: 'PlanWaveStatus', description: 'Where one wave of a plan execution is.' });

/** One VM of an execution: its outcome (the row of `plan_execution_vms`). */
@ObjectType({ description: 'One VM of a plan execution: its failover job and outcome, and its cleanup or revert.' })
export class PlanExecutionVm {
  @Field(() => String)
  vmId!: string;

  @Field(() => String, { nullable: true })
  vmName?: string | null;

  @Field(() => Int, { description: 'The order of its wave.' })
  wavePosition!: number;

  @Field(() => PlanVmState)
  state!: PlanVmState;

  @Field(() => PlanUnwindState, { nullable: true, description: 'Its cleanup or revert, once one was asked for.' })
  unwindState?: PlanUnwindState | null;

  @Field(() => String, { nullable: true, description: 'Its failover job (the same job is cleaned up or reverted).' })
  jobId?: string | null;

  @Field(() => String, { nullable: true, description: 'Why it failed, or could not be started or unwound.' })
  errorMessage?: string | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  launchedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  endedAt?: Date | null;
}

/** One wave of an execution. */
@ObjectType({ simpleResolvers: true })
export class PlanExecutionWave {
  @Field(() => Int)
  order!: number;

  @Field(() => PlanWaveStatus)
  status!: PlanWaveStatus;

  @Field(() => GraphQLISODateTime, { nullable: true })
  startedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  completedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  unwindStartedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  unwindCompletedAt?: Date | null;

  /** The wave's job ids (the `jobs` field reads them). */
  jobIds!: string[];

  @Field(() => [PlanExecutionVm])
  vms!: PlanExecutionVm[];
}

/** A plan execution (the row of `plan_executions`). */
@ObjectType({ description: 'One run of a recovery plan: its waves, jobs, progress and outcome.' })
export class PlanExecution {
  @Field(() => ID)
  id!: number;

  /** The plan's id (the `plan` field reads it). */
  planId!: number;

  @Field(() => FailoverType)
  type!: FailoverType;

  @Field(() => PlanExecutionStatus)
  status!: PlanExecutionStatus;

  @Field(() => Int, { description: 'The plan’s maxInFlight when the execution started.' })
  maxInFlight!: number;

  @Field(() => FailurePolicy, { description: 'The plan’s failure policy when the execution started.' })
  failurePolicy!: FailurePolicy;

  @Field(() => GraphQLISODateTime, { nullable: true, description: 'When its first wave started.' })
  startedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true, description: 'When its run ended.' })
  completedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  cancelRequestedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true, description: 'When its (latest) cleanup or revert began.' })
  unwindStartedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  unwindCompletedAt?: Date | null;

  @Field(() => String, { nullable: true, description: 'Who started it: the per-VM jobs carry the same requestedBy.' })
  requestedBy?: string | null;

  @Field(() => String, { nullable: true, description: 'Who asked for its current phase (the start, then a cleanup or revert).' })
  flowRequestedBy?: string | null;

  @Field(() => String, { nullable: true, description: 'Why it did not complete (which VMs failed), or why its cleanup or revert stopped.' })
  errorMessage?: string | null;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;
}

@ObjectType({ simpleResolvers: true })
export class RecoveryPlanEdge {
  @Field(() => RecoveryPlan)
  node!: RecoveryPlan;

  @Field(() => String)
  cursor!: string;
}

@ObjectType({ simpleResolvers: true })
export class RecoveryPlanConnection {
  @Field(() => [RecoveryPlanEdge])
  edges!: RecoveryPlanEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType({ simpleResolvers: true })
export class PlanExecutionEdge {
  @Field(() => PlanExecution)
  node!: PlanExecution;

  @Field(() => String)
  cursor!: string;
}

@ObjectType({ simpleResolvers: true })
export class PlanExecutionConnection {
  @Field(() => [PlanExecutionEdge])
  edges!: PlanExecutionEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

/** One wave of a plan input: its VMs. A wave's order is its position in `waves`. */
@InputType()
export class PlanWaveInput {
  @Field(() => [String], { description: 'The VMs of the wave (each in at most one wave of the plan).' })
  vmIds!: string[];
}

/** A plan's definition. */
@InputType()
export class RecoveryPlanInput {
  @Field(() => String, { description: '1–100 characters, unique among plans.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'At most 1,000 characters.' })
  description?: string | null;

  @Field(() => [PlanWaveInput], { description: '1–20 waves, in order; at most 2,000 VMs in all.' })
  waves!: PlanWaveInput[];

  @Field(() => Int, { nullable: true, description: '1–100 (default 10).' })
  maxInFlight?: number | null;

  @Field(() => FailurePolicy, { nullable: true, description: 'Default HALT.' })
  failurePolicy?: FailurePolicy | null;
}

/** What a plan execution starts from. */
@InputType()
export class StartPlanExecutionInput {
  @Field(() => ID)
  planId!: string;

  @Field(() => FailoverType)
  type!: FailoverType;

  @Field(() => String, {
    nullable: true,
    description:
      '1–100 printable characters: the same key with the same input returns the same execution for 24 hours; with another input, IDEMPOTENCY_MISMATCH.',
  })
  idempotencyKey?: string | null;
}

/** A plan execution event. */
@ObjectType({ simpleResolvers: true, description: 'A change of a plan execution: its status, a wave, or one of its VMs.' })
export class PlanExecutionEvent {
  @Field(() => Int, { description: 'Dense and monotonic across all executions: resubscribe with afterSequence to miss nothing.' })
  sequence!: number;

  @Field(() => Int, { description: 'Dense within the execution (1, 2, 3, …).' })
  executionSequence!: number;

  @Field(() => ID)
  executionId!: number;

  @Field(() => ID)
  planId!: number;

  @Field(() => String, {
    description: 'status, wave_started, wave_completed, vm_launched, vm_ended, vm_unwind_started, vm_unwound or cancel_requested.',
  })
  kind!: string;

  @Field(() => PlanExecutionStatus)
  status!: PlanExecutionStatus;

  @Field(() => PlanExecutionStatus, { nullable: true })
  previousStatus?: PlanExecutionStatus | null;

  @Field(() => Int, { nullable: true, description: 'The wave’s order, when the event is about a wave or a VM.' })
  wave?: number | null;

  @Field(() => String, { nullable: true })
  vmId?: string | null;

  @Field(() => String, { nullable: true })
  jobId?: string | null;

  @Field(() => Int)
  progressPercent!: number;

  @Field(() => String, { nullable: true })
  message?: string | null;

  @Field(() => String, { nullable: true })
  requestedBy?: string | null;

  @Field(() => GraphQLISODateTime)
  occurredAt!: Date;
}
