import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { FailoverJob } from '../entities/failover-job.entity.js';
import { FailoverStatus, FailoverType } from '../entities/enums.js';
import { PageInfo } from './connection.js';

/** Which jobs `failoverJobs` lists. All given conditions must hold. */
@InputType()
export class FailoverJobFilter {
  @Field(() => String, { nullable: true })
  vmId?: string | null;

  @Field(() => FailoverType, { nullable: true })
  type?: FailoverType | null;

  @Field(() => [FailoverStatus], { nullable: true })
  statuses?: FailoverStatus[] | null;

  @Field(() => Boolean, { nullable: true, description: 'true: only running jobs; false: only finished ones.' })
  active?: boolean | null;
}

/** How a job mapped one source network (from `failover_jobs.network_mappings`). */
@ObjectType({ simpleResolvers: true })
export class JobNetworkMapping {
  @Field(() => String)
  sourceNetworkName!: string;

  @Field(() => String)
  destinationNetworkId!: string;
}

@ObjectType({ simpleResolvers: true })
export class FailoverJobEdge {
  @Field(() => FailoverJob)
  node!: FailoverJob;

  @Field(() => String)
  cursor!: string;
}

@ObjectType({ simpleResolvers: true })
export class FailoverJobConnection {
  @Field(() => [FailoverJobEdge])
  edges!: FailoverJobEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
