import { Arg, ID, Int, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { parseId } from '../arguments.js';
import { readPlanStatus } from '../entities/plan.codec.js';
import { badInput } from '../errors.js';
import type { PlanEvent } from '../events/plan-event-store.js';
import type { Context } from '../server/context.js';
import { PlanExecutionEvent } from './recovery-plan.types.js';

interface PlanEventArgs {
  executionId?: string | null;
  planId?: string | null;
  afterSequence?: number | null;
}

/** Checks the arguments and opens the plan event stream (replay, then live). */
function subscribe({ args, context }: SubscribeResolverData<unknown, PlanEventArgs, Context>): AsyncIterable<PlanEvent> {
  const { executionId, planId, afterSequence } = args;
  const execution = executionId === null || executionId === undefined ? null : parseId('executionId', executionId);
  const plan = planId === null || planId === undefined ? null : parseId('planId', planId);
  if (afterSequence !== null && afterSequence !== undefined && afterSequence < 0) throw badInput('afterSequence', 'afterSequence must not be negative');
  return context.services.planEvents.subscribe({ executionId: execution, planId: plan, afterSequence });
}

@Resolver(() => PlanExecutionEvent)
export class PlanEventResolver {
  @Subscription(() => PlanExecutionEvent, {
    subscribe,
    description:
      'Every change of one plan execution (executionId), of one plan’s executions (planId) or of all: status, waves, each VM launched and ended. With afterSequence, the stored events after it come first, then live ones: no gap, no duplicate. The per-VM jobs’ own events stream in failoverJobEvents (with planExecutionId).',
  })
  planExecutionEvents(
    @Root() event: PlanEvent,
    @Arg('executionId', () => ID, { nullable: true }) _executionId?: string,
    @Arg('planId', () => ID, { nullable: true }) _planId?: string,
    @Arg('afterSequence', () => Int, { nullable: true }) _afterSequence?: number,
  ): PlanExecutionEvent {
    return {
      ...event,
      status: readPlanStatus(event.status),
      previousStatus: event.previousStatus === null ? null : readPlanStatus(event.previousStatus),
    };
  }
}
