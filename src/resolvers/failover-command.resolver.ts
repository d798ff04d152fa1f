import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { AuditedMutation } from './audited-mutation.js';
import { FailoverJob } from '../entities/failover-job.entity.js';
import { FailoverType } from '../entities/enums.js';
import { Role } from '../server/auth.js';
import type { Context } from '../server/context.js';
import { StartFailoverInput } from './failover-command.input.js';

/** The failover mutations: each returns the job at once; the engine works in the background. */
@Resolver()
export class FailoverCommandResolver {
  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => FailoverJob, { description: 'Boots a copy of the VM on its test networks. Refused: VM_NOT_READY, JOB_CONFLICT, CLOUD_UNAVAILABLE.' })
  startTestFailover(@Arg('input', () => StartFailoverInput) input: StartFailoverInput, @Ctx() ctx: Context): Promise<FailoverJob> {
    return ctx.services.failover.start(FailoverType.TEST, input, ctx.audit.change);
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => FailoverJob, { description: 'Makes the CloudStack VM the production VM. Refused: VM_NOT_READY, JOB_CONFLICT, CLOUD_UNAVAILABLE.' })
  startLiveFailover(@Arg('input', () => StartFailoverInput) input: StartFailoverInput, @Ctx() ctx: Context): Promise<FailoverJob> {
    return ctx.services.failover.start(FailoverType.LIVE, input, ctx.audit.change);
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => FailoverJob, {
    description: 'Cleans up a completed test failover: the cloud returns to its state before the job. Refused: NOT_FOUND, INVALID_JOB_TRANSITION.',
  })
  cleanupTestFailover(@Arg('jobId', () => String) jobId: string, @Ctx() ctx: Context): Promise<FailoverJob> {
    return ctx.services.failover.cleanupTestFailover(jobId, ctx.audit.change);
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => FailoverJob, {
    description: 'Reverts a completed live failover to its pre-failover snapshots. Refused: NOT_FOUND, INVALID_JOB_TRANSITION.',
  })
  revertFailover(@Arg('jobId', () => String) jobId: string, @Ctx() ctx: Context): Promise<FailoverJob> {
    return ctx.services.failover.revertFailover(jobId, ctx.audit.change);
  }
}
