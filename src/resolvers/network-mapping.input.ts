import { Field, InputType } from 'type-graphql';

/** Maps one source network of a VM to a CloudStack network, for test or for live failover. */
@InputType()
export class SetNetworkMappingInput {
  @Field(() => String)
  vmId!: string;

  @Field(() => String, { description: 'The VMware network name, as the VM spec lists it.' })
  sourceNetworkName!: string;

  @Field(() => String, { description: 'The CloudStack network id.' })
  destinationNetworkId!: string;

  @Field(() => String, { description: 'The CloudStack network name (for display).' })
  destinationNetworkName!: string;

  @Field(() => Boolean, { description: 'true: the mapping a test failover uses; false: the live one.' })
  isTestNetwork!: boolean;
}

/** Names one mapping: a VM's source network, for test or for live failover. */
@InputType()
export class NetworkMappingKeyInput {
  @Field(() => String)
  vmId!: string;

  @Field(() => String)
  sourceNetworkName!: string;

  @Field(() => Boolean)
  isTestNetwork!: boolean;
}
