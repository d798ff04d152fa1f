import { BigIntType } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * The service's own index of the VMs the appliance knows (table `vm_directory`, added by
 * Migration007): one row per `source_vm_id` of `replication_jobs`, with the name and id of its
 * latest replication job (by `created_at`, then `id`). Kept exact by triggers on
 * `replication_jobs`, whoever writes there, in the writer's own transaction: the dashboard pages
 * through it by `(vm_name, vm_id)` instead of deriving the latest job of every VM per request.
 * Never written by the service itself.
 */
@Entity({ tableName: 'vm_directory' })
@Index({ name: 'idx_vm_directory_name', properties: ['vmName', 'vmId'] })
export class VmDirectoryEntry {
  @PrimaryKey({ type: 'string', length: 255 })
  vmId!: string;

  @Property({ type: 'string', length: 255 })
  vmName!: string;

  @Property({ type: 'string', length: 255 })
  latestJobId!: string;

  @Property({ type: 'datetime', columnType: 'timestamp', nullable: true })
  latestCreatedAt?: Date | null;
}

/** The number of rows of `vm_directory` (table `vm_directory_totals`, one row, id 1), kept by triggers on it. */
@Entity({ tableName: 'vm_directory_totals' })
export class VmDirectoryTotals {
  @PrimaryKey({ type: 'integer', autoincrement: false })
  id!: number;

  @Property({ type: new BigIntType('number'), columnType: 'bigint' })
  vmCount!: number;
}
