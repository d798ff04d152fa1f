import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, GraphQLISODateTime, ID, Int, ObjectType } from 'type-graphql';
import { FailoverStatus } from './enums.js';
import { Timestamped } from './timestamps.js';

/** One failover operation (seed table `failover_jobs`). */
@ObjectType({ description: 'A test or live failover of one VM, and what became of it.', simpleResolvers: true })
@Entity({ tableName: 'failover_jobs' })
@Index({ name: 'idx_failover_jobs_vm_id', properties: ['vmId'] })
@Index({ name: 'idx_failover_jobs_replication', properties: ['replicationJobId'] })
@Index({ name: 'idx_failover_jobs_status', properties: ['status'] })
@Index({ name: 'idx_failover_jobs_type', properties: ['jobType'] })
@Index({ name: 'idx_failover_jobs_created', properties: ['createdAt'] })
export class FailoverJob extends Timestamped {
  @Field(() => Int, { description: 'Database row id.' })
  @PrimaryKey({ type: 'integer', unsigned: false })
  id!: number;

  @Field(() => ID, { description: '`{type}-failover-{vmId}-{unix seconds}`' })
  @Property({ type: 'string', length: 255, unique: 'job_id' })
  jobId!: string;

  @Field(() => String, { description: 'VMware VM id.' })
  @Property({ type: 'string', length: 255 })
  vmId!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 255, nullable: true })
  replicationJobId?: string | null;

  /** As stored: other writers may hold any text. Read it through `readJobType` (failover-job.codec.ts); exposed as `type` and `rawType`. */
  @Property({ type: 'string', length: 50 })
  jobType!: string;

  /** As stored: NULL or any text from other writers. Read it through `toFailoverStatus` (failover-job.codec.ts); exposed as `status` and `rawStatus`. */
  @Property({ type: 'string', length: 50, nullable: true, default: FailoverStatus.PENDING })
  status: string | null = FailoverStatus.PENDING;

  @Field(() => String)
  @Property({ type: 'string', length: 255 })
  sourceVmName!: string;

  /** JSON: the VM spec as it was when the job started. */
  @Property({ type: 'text', nullable: true })
  sourceVmSpec?: string | null;

  @Field(() => String, { nullable: true, description: 'The CloudStack VM the failover created.' })
  @Property({ type: 'string', length: 255, nullable: true })
  destinationVmId?: string | null;

  @Field(() => String, { nullable: true, description: 'The root volume snapshot taken for rollback.' })
  @Property({ type: 'string', length: 255, nullable: true })
  osseaSnapshotId?: string | null;

  /** JSON: `{ "<source network>": "<destination network id>" }` as used by the job. */
  @Property({ type: 'text', nullable: true })
  networkMappings?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  errorMessage?: string | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  @Property({ type: 'datetime', columnType: 'timestamp', nullable: true })
  startedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  @Property({ type: 'datetime', columnType: 'timestamp', nullable: true })
  completedAt?: Date | null;
}
