import { BigIntType } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * A replicated disk of a VM (seed table `vm_disks`). The first disk of a replication job with
 * `cpu_count > 0` also carries the VM's spec (the seed's storage strategy).
 */
@Entity({ tableName: 'vm_disks' })
@Index({ name: 'idx_vm_disks_job_id', properties: ['jobId'], columns: [{ name: 'job_id', length: 255 }] })
@Index({ name: 'idx_vm_disks_ossea_volume', properties: ['osseaVolumeId'] })
@Index({ name: 'idx_vm_disks_sync_status', properties: ['syncStatus'] })
export class VmDisk {
  @PrimaryKey({ type: new BigIntType('number'), unsigned: false })
  id!: number;

  /** replication_jobs.id */
  @Property({ type: 'text', columnType: 'longtext' })
  jobId!: string;

  @Property({ type: 'text', columnType: 'longtext' })
  diskId!: string;

  @Property({ type: 'text', columnType: 'longtext' })
  vmDkPath!: string;

  @Property({ type: new BigIntType('number') })
  sizeGb!: number;

  @Property({ type: 'text', columnType: 'longtext', nullable: true })
  datastore?: string | null;

  @Property({ type: new BigIntType('number'), nullable: true })
  unitNumber?: number | null;

  @Property({ type: 'text', columnType: 'longtext', nullable: true })
  label?: string | null;

  @Property({ type: new BigIntType('number'), nullable: true })
  capacityBytes?: number | null;

  @Property({ type: 'text', columnType: 'longtext', nullable: true })
  provisioningType?: string | null;

  /** ossea_volumes.id */
  @Property({ type: new BigIntType('number'), nullable: true })
  osseaVolumeId?: number | null;

  @Property({ type: 'text', columnType: 'longtext', nullable: true })
  diskChangeId?: string | null;

  @Property({ type: 'string', length: 191, nullable: true, default: 'pending' })
  syncStatus?: string | null = 'pending';

  @Property({ type: 'double', nullable: true, default: 0 })
  syncProgressPercent?: number | null = 0;

  @Property({ type: new BigIntType('number'), nullable: true, defaultRaw: '0' })
  bytesSynced?: number | null = 0;

  @Property({ type: 'datetime', length: 3, nullable: true, onCreate: () => new Date() })
  createdAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true, onCreate: () => new Date(), onUpdate: () => new Date() })
  updatedAt?: Date | null;

  @Property({ type: 'integer', nullable: true, default: 0 })
  cpuCount?: number | null = 0;

  @Property({ type: 'integer', nullable: true, default: 0 })
  memoryMb?: number | null = 0;

  @Property({ type: 'string', length: 255, nullable: true, default: '' })
  osType?: string | null = '';

  @Property({ type: 'string', length: 255, nullable: true, default: '' })
  vmToolsVersion?: string | null = '';

  /** JSON: `{"adapters":[{"network":"VM Network","type":"vmxnet3"}]}` */
  @Property({ type: 'text', nullable: true })
  networkConfig?: string | null;

  @Property({ type: 'string', length: 255, nullable: true, default: '' })
  displayName?: string | null = '';

  @Property({ type: 'text', nullable: true })
  annotation?: string | null;

  @Property({ type: 'string', length: 50, nullable: true, default: '' })
  powerState?: string | null = '';

  @Property({ type: 'string', length: 255, nullable: true, default: '' })
  vmwareUuid?: string | null = '';

  @Property({ type: 'text', nullable: true })
  biosSetup?: string | null;
}
