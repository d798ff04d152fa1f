import { Field, GraphQLISODateTime, ID, Int, ObjectType } from 'type-graphql';
import { FailoverStatus, FailoverType } from '../entities/enums.js';
import type { FailoverExecution } from '../entities/failover-execution.entity.js';
import type { FailoverJob } from '../entities/failover-job.entity.js';

/** A status transition or progress update of a failover job. */
@ObjectType({ simpleResolvers: true, description: 'A status transition (previousStatus ≠ status) or progress update of a failover job.' })
export class FailoverJobEvent {
  @Field(() => Int, { description: 'Monotonic and dense across all jobs: resubscribe with afterSequence to miss nothing.' })
  sequence!: number;

  @Field(() => String)
  jobId!: string;

  @Field(() => String)
  vmId!: string;

  @Field(() => FailoverType)
  type!: FailoverType;

  @Field(() => FailoverStatus)
  status!: FailoverStatus;

  @Field(() => FailoverStatus, { nullable: true, description: 'Null for the job’s first event.' })
  previousStatus?: FailoverStatus | null;

  @Field(() => Int)
  progressPercent!: number;

  @Field(() => String, { nullable: true, description: 'The flow step the job is in.' })
  step?: string | null;

  @Field(() => String, { nullable: true })
  message?: string | null;

  @Field(() => String, { nullable: true, description: 'Who asked for the flow the event belongs to (the start, a cleanup or a revert).' })
  requestedBy?: string | null;

  @Field(() => GraphQLISODateTime)
  occurredAt!: Date;

  @Field(() => ID, { nullable: true, description: 'The plan execution that started the job, if one did.' })
  planExecutionId?: number | null;

  /** The job's row as the bus read it with the event (not a field: `job` answers from it). */
  jobRow?: FailoverJob | null;

  /** The engine's row of the job as the bus read it with the event (`job.progressPercent` answers from it). */
  executionRow?: FailoverExecution | null;
}
