import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Timestamped } from './timestamps.js';

/** A replication run of the appliance (seed table `replication_jobs`, owned by the appliance). */
@Entity({ tableName: 'replication_jobs' })
@Index({ name: 'idx_replication_jobs_vm_id', properties: ['sourceVmId'] })
@Index({ name: 'idx_replication_jobs_status', properties: ['status'] })
export class ReplicationJob extends Timestamped {
  @PrimaryKey({ type: 'string', length: 255 })
  id!: string;

  @Property({ type: 'string', length: 255 })
  sourceVmId!: string;

  @Property({ type: 'string', length: 255 })
  sourceVmName!: string;

  @Property({ type: 'string', length: 255 })
  sourceVmPath!: string;

  @Property({ type: 'string', length: 255 })
  vcenterHost!: string;

  @Property({ type: 'string', length: 255 })
  datacenter!: string;

  @Property({ type: 'string', length: 50, nullable: true, default: 'pending' })
  status?: string | null = 'pending';
}
