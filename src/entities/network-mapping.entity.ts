import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ID, ObjectType } from 'type-graphql';
import { Timestamped } from './timestamps.js';

/** Where one source (VMware) network of a VM lands in CloudStack, for test or for live failover. */
@ObjectType({ description: 'Where one source network of a VM lands in CloudStack, for test or live failover.', simpleResolvers: true })
@Entity({ tableName: 'network_mappings' })
@Unique({ name: 'idx_network_mappings_unique', properties: ['vmId', 'sourceNetworkName', 'isTestNetwork'] })
@Index({ name: 'idx_network_mappings_vm_id', properties: ['vmId'] })
@Index({ name: 'idx_network_mappings_destination', properties: ['destinationNetworkId'] })
@Index({ name: 'idx_network_mappings_test', properties: ['isTestNetwork'] })
export class NetworkMapping extends Timestamped {
  @Field(() => ID)
  @PrimaryKey({ type: 'integer', unsigned: false })
  id!: number;

  @Field(() => String)
  @Property({ type: 'string', length: 255 })
  vmId!: string;

  @Field(() => String)
  @Property({ type: 'string', length: 255 })
  sourceNetworkName!: string;

  @Field(() => String, { description: 'CloudStack network id.' })
  @Property({ type: 'string', length: 255 })
  destinationNetworkId!: string;

  @Field(() => String)
  @Property({ type: 'string', length: 255 })
  destinationNetworkName!: string;

  /** Exposed through NetworkMappingResolver (the seed column is nullable; NULL means production). */
  @Property({ type: 'boolean', nullable: true, default: false })
  isTestNetwork: boolean = false;
}
