import { BigIntType } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/** One changed-block-tracking sync of a replication job (seed table `cbt_history`). */
@Entity({ tableName: 'cbt_history' })
@Index({ name: 'idx_cbt_history_job_id', properties: ['jobId'] })
@Index({ name: 'idx_cbt_history_sync_success', properties: ['syncSuccess'] })
export class CbtHistory {
  @PrimaryKey({ type: new BigIntType('number'), unsigned: false })
  id!: number;

  /** replication_jobs.id */
  @Property({ type: 'string', length: 255 })
  jobId!: string;

  @Property({ type: 'text', nullable: true })
  changeId?: string | null;

  @Property({ type: 'boolean', nullable: true, default: false })
  syncSuccess?: boolean | null = false;

  @Property({ type: new BigIntType('number'), nullable: true, defaultRaw: '0' })
  bytesSynced?: number | null = 0;

  @Property({ type: 'datetime', columnType: 'timestamp', nullable: true, defaultRaw: 'current_timestamp', onCreate: () => new Date() })
  createdAt?: Date | null;
}
