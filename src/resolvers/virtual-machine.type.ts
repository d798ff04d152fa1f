import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLISODateTime } from 'type-graphql';
import { PageInfo } from './connection.js';

/** A VM the appliance replicates (known from replication_jobs). Its other fields are resolved in batches. */
@ObjectType({ description: 'A VM the appliance replicates.', simpleResolvers: true })
export class VirtualMachine {
  @Field(() => ID, { description: 'VMware VM id.' })
  vmId!: string;

  @Field(() => String, { description: 'Name from the latest replication job.' })
  name!: string;
}

/** The replication job a failover would start from. */
@ObjectType({ simpleResolvers: true })
export class ReplicationJobSummary {
  @Field(() => String)
  id!: string;

  @Field(() => String, { nullable: true })
  status?: string | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  createdAt?: Date | null;
}

/** A replicated disk and the CloudStack volume it lives in. */
@ObjectType({ simpleResolvers: true })
export class VirtualMachineDisk {
  @Field(() => String)
  diskId!: string;

  @Field(() => Int, { nullable: true })
  unitNumber?: number | null;

  @Field(() => Int)
  sizeGb!: number;

  @Field(() => String, { nullable: true })
  label?: string | null;

  @Field(() => String, { nullable: true, description: 'CloudStack volume UUID; null when the disk has no volume.' })
  volumeId?: string | null;

  @Field(() => String, { nullable: true })
  volumeName?: string | null;

  @Field(() => String, { nullable: true, description: 'ossea_volumes.status' })
  volumeStatus?: string | null;
}

/** Which VMs `virtualMachines` lists. */
@InputType()
export class VirtualMachineFilter {
  @Field(() => String, { nullable: true, description: 'Case-insensitive part of the name or VM id.' })
  search?: string | null;

  @Field(() => [String], { nullable: true })
  vmIds?: string[] | null;
}

@ObjectType({ simpleResolvers: true })
export class VirtualMachineEdge {
  @Field(() => VirtualMachine)
  node!: VirtualMachine;

  @Field(() => String)
  cursor!: string;
}

@ObjectType({ simpleResolvers: true })
export class VirtualMachineConnection {
  @Field(() => [VirtualMachineEdge])
  edges!: VirtualMachineEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
