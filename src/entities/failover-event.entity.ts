import { BigIntType } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * One status transition or progress update of a job (table `failover_job_events`, added by
 * Migration006), written in the same transaction as the change it reports. `sequence` comes from
 * {@link FailoverSequence} under its row lock, so sequences are dense and commit in their order.
 */
@Entity({ tableName: 'failover_job_events' })
@Index({ name: 'idx_failover_job_events_job', properties: ['jobId', 'sequence'] })
@Index({ name: 'idx_failover_job_events_vm', properties: ['vmId', 'sequence'] })
export class FailoverEvent {
  @PrimaryKey({ type: new BigIntType('number'), columnType: 'bigint', autoincrement: false })
  sequence!: number;

  @Property({ type: 'string', length: 255 })
  jobId!: string;

  @Property({ type: 'string', length: 255 })
  vmId!: string;

  @Property({ type: 'string', length: 50 })
  jobType!: string;

  @Property({ type: 'string', length: 50 })
  status!: string;

  @Property({ type: 'string', length: 50, nullable: true })
  previousStatus?: string | null;

  @Property({ type: 'integer' })
  progressPercent!: number;

  /** The step the job is in, when it is in one. */
  @Property({ type: 'string', length: 64, nullable: true })
  step?: string | null;

  @Property({ type: 'text', nullable: true })
  message?: string | null;

  @Property({ type: 'datetime', length: 3 })
  occurredAt!: Date;

  /** Who asked for the flow the event belongs to (added by Migration008). */
  @Property({ type: 'string', length: 128, nullable: true })
  requestedBy?: string | null;
}

/** Named counters (table `failover_sequences`): the event sequence is allocated under this row's lock. */
@Entity({ tableName: 'failover_sequences' })
export class FailoverSequence {
  @PrimaryKey({ type: 'string', length: 64 })
  name!: string;

  @Property({ type: new BigIntType('number'), columnType: 'bigint' })
  value!: number;
}
