import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Timestamped } from './timestamps.js';

/** A CloudStack volume the appliance replicates a disk into (seed table `ossea_volumes`). */
@Entity({ tableName: 'ossea_volumes' })
@Index({ name: 'idx_ossea_volumes_config', properties: ['osseaConfigId'] })
@Index({ name: 'idx_ossea_volumes_status', properties: ['status'] })
export class OsseaVolume extends Timestamped {
  @PrimaryKey({ type: 'integer', unsigned: false })
  id!: number;

  /** The CloudStack volume UUID. */
  @Property({ type: 'string', length: 255, unique: 'volume_id' })
  volumeId!: string;

  @Property({ type: 'string', length: 255 })
  volumeName!: string;

  @Property({ type: 'integer' })
  sizeGb!: number;

  @Property({ type: 'integer', nullable: true })
  osseaConfigId?: number | null;

  @Property({ type: 'string', length: 50, nullable: true })
  volumeType?: string | null;

  @Property({ type: 'string', length: 255, nullable: true })
  devicePath?: string | null;

  @Property({ type: 'string', length: 255, nullable: true })
  mountPoint?: string | null;

  @Property({ type: 'string', length: 50, nullable: true, default: 'creating' })
  status?: string | null = 'creating';
}
