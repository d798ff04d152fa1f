import { isActiveStatus, readJobType, readNetworkMappings, toFailoverStatus } from '../entities/failover-job.codec.js';
import { Arg, Ctx, FieldResolver, GraphQLISODateTime, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { FailoverJob } from '../entities/failover-job.entity.js';
import { FailoverLedgerEntry } from '../entities/failover-ledger-entry.entity.js';
import { FailoverStatus, FailoverType } from '../entities/enums.js';
import type { Context } from '../server/context.js';
import { findFailoverJob, listFailoverJobs } from '../services/failover-job.queries.js';
import { FailoverJobConnection, FailoverJobFilter, JobNetworkMapping } from './failover-job.types.js';
import { specFromJson, VmSpec } from './vm-spec.type.js';

@Resolver(() => FailoverJob)
export class FailoverJobResolver {
  @Query(() => FailoverJob, { nullable: true, description: 'One job by its job id; null when unknown.' })
  failoverJob(@Arg('jobId', () => String) jobId: string, @Ctx() { em }: Context): Promise<FailoverJob | null> {
    return findFailoverJob(em, jobId);
  }

  @Query(() => FailoverJobConnection, { description: 'Jobs, newest first.' })
  failoverJobs(
    @Ctx() { em, maxPageSize }: Context,
    @Arg('filter', () => FailoverJobFilter, { nullable: true }) filter?: FailoverJobFilter,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number = 50,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<FailoverJobConnection> {
    return listFailoverJobs(em, { filter, first, after, maxPageSize });
  }

  @FieldResolver(() => FailoverType, { nullable: true, description: 'LIVE or TEST; null for a job type this service does not know (see rawType).' })
  type(@Root() job: FailoverJob): FailoverType | null {
    return readJobType(job.jobType);
  }

  @FieldResolver(() => String, { description: 'The job type exactly as stored (for rows written by other tools).' })
  rawType(@Root() job: FailoverJob): string {
    return job.jobType;
  }

  @FieldResolver(() => FailoverStatus)
  status(@Root() job: FailoverJob): FailoverStatus {
    return toFailoverStatus(job.status);
  }

  @FieldResolver(() => String, { nullable: true, description: 'The status exactly as stored (for rows written by other tools).' })
  rawStatus(@Root() job: FailoverJob): string | null {
    return job.status ?? null;
  }

  @FieldResolver(() => Boolean, { description: 'Whether the job is still running.' })
  active(@Root() job: FailoverJob): boolean {
    return isActiveStatus(job.status);
  }

  @FieldResolver(() => VmSpec, { nullable: true, description: 'The VM spec the job recorded when it started.' })
  sourceVmSpec(@Root() job: FailoverJob): VmSpec | null {
    return specFromJson(job.sourceVmSpec);
  }

  @FieldResolver(() => [JobNetworkMapping], { description: 'The network mappings the job used.' })
  networkMappings(@Root() job: FailoverJob): JobNetworkMapping[] {
    return readNetworkMappings(job.networkMappings);
  }

  @FieldResolver(() => Int, {
    nullable: true,
    description:
      'Completed steps of the current flow over its total, refined within a step by its parts and the cloud job’s own progress. Null for jobs this service did not run.',
  })
  async progressPercent(@Root() job: FailoverJob, @Ctx() { loaders }: Context): Promise<number | null> {
    return (await loaders.executions.load(job.jobId))?.progressPercent ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'The step that failed for good (with errorMessage), when one did.' })
  async failedStep(@Root() job: FailoverJob, @Ctx() { loaders }: Context): Promise<string | null> {
    return (await loaders.executions.load(job.jobId))?.failedStep ?? null;
  }

  @FieldResolver(() => GraphQLISODateTime, { nullable: true, description: 'When a completed test failover is cleaned up automatically.' })
  async autoCleanupAt(@Root() job: FailoverJob, @Ctx() { loaders }: Context): Promise<Date | null> {
    const at = (await loaders.executions.load(job.jobId))?.autoCleanupAt;
    return at ? new Date(at) : null;
  }

  @FieldResolver(() => String, {
    nullable: true,
    description:
      'Who started the job: an API key’s name, `token:<fingerprint>` (API_TOKENS), `anonymous`, or `system:<what>`. Null for jobs this service did not run.',
  })
  async requestedBy(@Root() job: FailoverJob, @Ctx() { loaders }: Context): Promise<string | null> {
    return (await loaders.executions.load(job.jobId))?.requestedBy ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Who asked for the job’s current flow: the start, then its cleanup or revert.' })
  async flowRequestedBy(@Root() job: FailoverJob, @Ctx() { loaders }: Context): Promise<string | null> {
    return (await loaders.executions.load(job.jobId))?.flowRequestedBy ?? null;
  }

  @FieldResolver(() => ID, { nullable: true, description: 'The plan execution that started the job, if one did.' })
  async planExecutionId(@Root() job: FailoverJob, @Ctx() { loaders }: Context): Promise<number | null> {
    return (await loaders.executions.load(job.jobId))?.planExecutionId ?? null;
  }

  @FieldResolver(() => [FailoverLedgerEntry], {
    description:
      'Every cloud call the job made, oldest first: what it created or moved, by id and name. What is not `undone` of a failed job is what it left behind.',
  })
  ledger(@Root() job: FailoverJob, @Ctx() { loaders }: Context): Promise<FailoverLedgerEntry[]> {
    return loaders.ledger.load(job.jobId);
  }
}
