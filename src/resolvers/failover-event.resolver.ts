import { optionalText, requireWholeNumber } from '../arguments.js';
import { readJobType, toFailoverStatus } from '../entities/failover-job.codec.js';
import { Arg, Ctx, FieldResolver, Int, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { FailoverJob } from '../entities/failover-job.entity.js';
import { FailoverType } from '../entities/enums.js';
import type { DeliveredEvent, JobEvent } from '../events/event.types.js';
import type { Context } from '../server/context.js';
import { FailoverJobEvent } from './failover-event.type.js';

interface EventArgs {
  jobId?: string | null;
  vmId?: string | null;
  afterSequence?: number | null;
}

/** Checks the arguments and opens the event stream (replay, then live). */
function subscribe({ args, context }: SubscribeResolverData<unknown, EventArgs, Context>): AsyncIterable<DeliveredEvent> {
  const { jobId, vmId, afterSequence } = args;
  optionalText('jobId', jobId, { max: Number.POSITIVE_INFINITY, hint: 'omit it for all jobs' });
  optionalText('vmId', vmId, { max: Number.POSITIVE_INFINITY, hint: 'omit it for all VMs' });
  if (afterSequence !== null && afterSequence !== undefined) requireWholeNumber('afterSequence', afterSequence, { min: 0 });
  return context.services.events.subscribe({ jobId, vmId, afterSequence });
}

@Resolver(() => FailoverJobEvent)
export class FailoverEventResolver {
  @Subscription(() => FailoverJobEvent, {
    subscribe,
    description:
      'Every status transition and progress update of one job (jobId), one VM (vmId) or all jobs. With afterSequence, the stored events after it come first, then live ones: no gap, no duplicate.',
  })
  failoverJobEvents(
    @Root() event: JobEvent & Partial<DeliveredEvent>,
    @Arg('jobId', () => String, { nullable: true }) _jobId?: string,
    @Arg('vmId', () => String, { nullable: true }) _vmId?: string,
    @Arg('afterSequence', () => Int, { nullable: true }) _afterSequence?: number,
  ): FailoverJobEvent {
    return {
      sequence: event.sequence,
      jobId: event.jobId,
      vmId: event.vmId,
      type: eventJobType(event),
      status: toFailoverStatus(event.status),
      previousStatus: event.previousStatus === null ? null : toFailoverStatus(event.previousStatus),
      progressPercent: event.progressPercent,
      step: event.step,
      message: event.message,
      requestedBy: event.requestedBy,
      occurredAt: event.occurredAt,
      planExecutionId: event.execution === undefined ? null : (event.execution?.planExecutionId ?? null),
      jobRow: event.job,
      executionRow: event.execution,
    };
  }

  @FieldResolver(() => FailoverJob, {
    nullable: true,
    description: 'The job as it was when the event was delivered (read with the event: once per event, not per subscriber).',
  })
  job(@Root() event: FailoverJobEvent, @Ctx() { em, loaders }: Context): FailoverJob | null | Promise<FailoverJob | null> {
    if (event.jobRow === undefined) return em.fork().findOne(FailoverJob, { jobId: event.jobId }, { disableIdentityMap: true });
    // The job's fields that read the execution row find it in the loader, read with the event too.
    if (event.executionRow !== undefined) loaders.executions.clear(event.jobId).prime(event.jobId, event.executionRow);
    return event.jobRow;
  }
}

/** An event's job type: events are written by this service only, so an unknown type is corrupt data, not a guess. */
function eventJobType(event: JobEvent): FailoverType {
  const type = readJobType(event.jobType);
  if (!type) throw new Error(`event ${event.sequence} carries job type "${event.jobType}", which this service never writes`);
  return type;
}
