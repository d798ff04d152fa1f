import { Field, InputType, Int } from 'type-graphql';

/** One source network sent somewhere else than its stored mapping, for this job only. */
@InputType()
export class NetworkOverrideInput {
  @Field(() => String, { description: 'The VMware network name, as the VM spec lists it.' })
  sourceNetworkName!: string;

  @Field(() => String, { description: 'The CloudStack network id to use instead of the mapped one.' })
  destinationNetworkId!: string;
}

/** What a failover starts from. */
@InputType()
export class StartFailoverInput {
  @Field(() => String)
  vmId!: string;

  @Field(() => [NetworkOverrideInput], { nullable: true, description: 'Per-network overrides of the stored mappings (this job only).' })
  networkOverrides?: NetworkOverrideInput[] | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Test failover only: clean the test up automatically this many minutes after it completed (1–43200).',
  })
  autoCleanupAfterMinutes?: number | null;

  @Field(() => String, {
    nullable: true,
    description: '1–100 printable characters: the same key with the same input returns the same job for 24 hours; with another input, IDEMPOTENCY_MISMATCH.',
  })
  idempotencyKey?: string | null;
}
