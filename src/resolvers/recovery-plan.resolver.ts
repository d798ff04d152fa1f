import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { badInput } from '../errors.js';
import { FailoverType } from '../entities/enums.js';
import { FailoverJob } from '../entities/failover-job.entity.js';
import {
  PlanExecutionStatus,
  PlanPhase,
  PlanVmState,
  readPlanPhase,
  type PlanExecutionRow,
  type PlanExecutionVmRow,
  type RecoveryPlanRow,
} from '../entities/index.js';
import { aggregateProgress } from '../failover/plans/plan-executor.js';
import { Role } from '../server/auth.js';
import type { Context } from '../server/context.js';
import { createPlan, deletePlan, findExecution, findPlan, listExecutions, listPlans, updatePlan } from '../services/plans.js';
import { vmReadiness } from '../services/readiness.js';
import { AuditedMutation } from './audited-mutation.js';
import {
  PlanExecution,
  PlanExecutionConnection,
  PlanExecutionVm,
  PlanExecutionWave,
  PlanReadiness,
  PlanWave,
  PlanWaveStatus,
  RecoveryPlan,
  RecoveryPlanConnection,
  RecoveryPlanInput,
  StartPlanExecutionInput,
} from './recovery-plan.types.js';

/** Whether a field sits under `key` (a root field or any field on the way). */
function pathHas(path: GraphQLResolveInfo['path'] | undefined, key: string): boolean {
  for (let p = path; p; p = p.prev) if (p.key === key) return true;
  return false;
}

/** Readiness answers a plan's `readiness` asks at once. */
const READINESS_PARALLEL = 8;

const asPlan = (row: RecoveryPlanRow) => row as unknown as RecoveryPlan;
const asExecution = (row: PlanExecutionRow) => row as unknown as PlanExecution;

@Resolver(() => RecoveryPlan)
export class RecoveryPlanResolver {
  @Query(() => RecoveryPlanConnection, { description: 'Recovery plans, oldest first.' })
  async recoveryPlans(
    @Ctx() { em, maxPageSize }: Context,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number = 50,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<RecoveryPlanConnection> {
    const result = await listPlans(em, { first, after, maxPageSize });
    return { ...result, edges: result.edges.map((e) => ({ cursor: e.cursor, node: asPlan(e.node) })) };
  }

  @Query(() => RecoveryPlan, { nullable: true, description: 'One plan by id; null when unknown or deleted.' })
  async recoveryPlan(@Arg('id', () => ID) id: string, @Ctx() { em }: Context): Promise<RecoveryPlan | null> {
    const row = await findPlan(em, id);
    return row && asPlan(row);
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => RecoveryPlan, {
    description: 'Creates a plan. Refused: BAD_USER_INPUT (bounds, a VM in two waves, a name taken), NOT_FOUND (a VM the appliance does not replicate).',
  })
  async createRecoveryPlan(@Arg('input', () => RecoveryPlanInput) input: RecoveryPlanInput, @Ctx() ctx: Context): Promise<RecoveryPlan> {
    return asPlan(await createPlan(ctx.em, input, ctx.audit.change));
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => RecoveryPlan, {
    description: 'Replaces a plan’s definition. Refused: PLAN_RUNNING while it has an active execution; NOT_FOUND; BAD_USER_INPUT.',
  })
  async updateRecoveryPlan(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => RecoveryPlanInput) input: RecoveryPlanInput,
    @Ctx() ctx: Context,
  ): Promise<RecoveryPlan> {
    return asPlan(await updatePlan(ctx.em, id, input, ctx.audit.change));
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => RecoveryPlan, {
    description: 'Deletes a plan (its executions keep their history). Refused: PLAN_RUNNING while it has an active execution; NOT_FOUND.',
  })
  async deleteRecoveryPlan(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<RecoveryPlan> {
    return asPlan(await deletePlan(ctx.em, id, ctx.audit.change));
  }

  @FieldResolver(() => [PlanWave])
  waves(@Root() plan: RecoveryPlan, @Ctx() { loaders }: Context): Promise<PlanWave[]> {
    return loaders.planWaves.load(plan.id);
  }

  @FieldResolver(() => PlanReadiness, { description: 'Whether every VM of the plan can fail over now: every check of each VM (database and CloudStack).' })
  async readiness(
    @Root() plan: RecoveryPlan,
    @Arg('type', () => FailoverType) type: FailoverType,
    @Ctx() { loaders, services }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<PlanReadiness> {
    // Each plan's readiness asks CloudStack about up to 2,000 VMs: one plan per request, never a page of them.
    if (pathHas(info.path, 'recoveryPlans')) {
      throw badInput('readiness', 'readiness is answered for one plan at a time: ask recoveryPlan(id) { readiness(type) }, not recoveryPlans');
    }
    const vmIds = (await loaders.planWaves.load(plan.id)).flatMap((w) => w.vms.map((vm) => vm.vmId));
    const vms: PlanReadiness['vms'] = [];
    for (let i = 0; i < vmIds.length; i += READINESS_PARALLEL) {
      const answers = await Promise.all(vmIds.slice(i, i + READINESS_PARALLEL).map((vmId) => vmReadiness(loaders, vmId, type, services.readiness)));
      vms.push(...answers.map((a) => ({ vmId: a.vmId, ready: a.ready, checks: a.checks.map((c) => ({ ...c, blockingJobId: c.blockingJobId ?? null })) })));
    }
    return { ready: vms.every((vm) => vm.ready), vms };
  }

  @FieldResolver(() => PlanExecution, { nullable: true, description: 'The plan’s newest execution.' })
  async latestExecution(@Root() plan: RecoveryPlan, @Ctx() { em, maxPageSize }: Context): Promise<PlanExecution | null> {
    const { edges } = await listExecutions(em, plan.id, { first: 1, maxPageSize });
    return edges[0] ? asExecution(edges[0].node) : null;
  }

  @FieldResolver(() => PlanExecutionConnection, { description: 'The plan’s executions, newest first: the history, with each run’s duration and outcome.' })
  async executions(
    @Root() plan: RecoveryPlan,
    @Ctx() { em, maxPageSize }: Context,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number = 20,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<PlanExecutionConnection> {
    const result = await listExecutions(em, plan.id, { first, after, maxPageSize });
    return { ...result, edges: result.edges.map((e) => ({ cursor: e.cursor, node: asExecution(e.node) })) };
  }
}

/** A wave's status, from its times and its VMs. */
function waveStatus(
  execution: PlanExecution,
  wave: { startedAt?: Date | null; completedAt?: Date | null; unwindStartedAt?: Date | null; unwindCompletedAt?: Date | null },
  vms: readonly PlanExecutionVmRow[],
): PlanWaveStatus {
  if (wave.unwindCompletedAt) return PlanWaveStatus.UNWOUND;
  if (wave.unwindStartedAt) return PlanWaveStatus.UNWINDING;
  const states = vms.map((vm) => vm.state as PlanVmState);
  const ended = (s: PlanVmState) => s === PlanVmState.COMPLETED || s === PlanVmState.FAILED || s === PlanVmState.SKIPPED;
  if (!wave.startedAt) return states.length > 0 && states.every((s) => s === PlanVmState.SKIPPED) ? PlanWaveStatus.SKIPPED : PlanWaveStatus.PENDING;
  if (!states.every(ended)) return PlanWaveStatus.RUNNING;
  const failed = states.filter((s) => s === PlanVmState.FAILED).length;
  const completed = states.filter((s) => s === PlanVmState.COMPLETED).length;
  if (failed === 0 && completed === 0) return PlanWaveStatus.SKIPPED;
  if (failed === 0) return states.includes(PlanVmState.SKIPPED) ? PlanWaveStatus.PARTIALLY_COMPLETED : PlanWaveStatus.COMPLETED;
  return completed === 0 ? PlanWaveStatus.FAILED : PlanWaveStatus.PARTIALLY_COMPLETED;
}

@Resolver(() => PlanExecution)
export class PlanExecutionResolver {
  @Query(() => PlanExecution, { nullable: true, description: 'One plan execution by id; null when unknown.' })
  async planExecution(@Arg('id', () => ID) id: string, @Ctx() { em }: Context): Promise<PlanExecution | null> {
    const row = await findExecution(em, id);
    return row && asExecution(row);
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => PlanExecution, {
    description:
      'Starts an execution of a plan (returned at once, PENDING): wave after wave, at most maxInFlight jobs at once. Refused: VM_NOT_READY (extensions.vms: each VM that is not ready, with its failing checks), JOB_CONFLICT (the plan has an active execution), IDEMPOTENCY_MISMATCH, NOT_FOUND, CLOUD_UNAVAILABLE.',
  })
  async startPlanExecution(@Arg('input', () => StartPlanExecutionInput) input: StartPlanExecutionInput, @Ctx() ctx: Context): Promise<PlanExecution> {
    return asExecution(await ctx.services.plans.start(input, ctx.audit.change));
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => PlanExecution, {
    description: 'Cancels an execution: no new launches, running jobs finish, then CANCELLED. Refused: INVALID_PLAN_TRANSITION, NOT_FOUND.',
  })
  async cancelPlanExecution(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<PlanExecution> {
    return asExecution(await ctx.services.plans.cancel(id, ctx.audit.change));
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => PlanExecution, {
    description:
      'Cleans up a test execution: its waves in reverse, within maxInFlight; a re-run after a partial failure resumes and never redoes a VM already cleaned up. Refused: INVALID_PLAN_TRANSITION, JOB_CONFLICT, NOT_FOUND.',
  })
  async cleanupPlanExecution(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<PlanExecution> {
    return asExecution(await ctx.services.plans.cleanup(id, ctx.audit.change));
  }

  @AuditedMutation(Role.OPERATOR)
  @Mutation(() => PlanExecution, {
    description:
      'Reverts a live execution: its waves in reverse, within maxInFlight; resumable like a cleanup. Refused: INVALID_PLAN_TRANSITION, JOB_CONFLICT, NOT_FOUND.',
  })
  async revertPlanExecution(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<PlanExecution> {
    return asExecution(await ctx.services.plans.revert(id, ctx.audit.change));
  }

  @FieldResolver(() => RecoveryPlan, { description: 'The plan it ran (a deleted plan too: see deletedAt).' })
  async plan(@Root() execution: PlanExecution, @Ctx() { loaders }: Context): Promise<RecoveryPlan> {
    return asPlan((await loaders.plans.load(execution.planId))!);
  }

  @FieldResolver(() => [PlanExecutionWave], { description: 'The waves as the execution copied them from the plan at its start, in order.' })
  async waves(@Root() execution: PlanExecution, @Ctx() { loaders }: Context): Promise<PlanExecutionWave[]> {
    const waves = await loaders.executionWaves.load(execution.id);
    return waves.map(({ wave, vms }) => ({
      order: wave.position,
      status: waveStatus(execution, wave, vms),
      startedAt: wave.startedAt ?? null,
      completedAt: wave.completedAt ?? null,
      unwindStartedAt: wave.unwindStartedAt ?? null,
      unwindCompletedAt: wave.unwindCompletedAt ?? null,
      jobIds: vms.flatMap((vm) => (vm.jobId ? [vm.jobId] : [])),
      vms: vms as unknown as PlanExecutionVm[],
    }));
  }

  @FieldResolver(() => [PlanExecutionVm], { description: 'Every VM of the execution with its outcome, in wave order.' })
  async vms(@Root() execution: PlanExecution, @Ctx() { loaders }: Context): Promise<PlanExecutionVm[]> {
    return (await loaders.executionWaves.load(execution.id)).flatMap((w) => w.vms) as unknown as PlanExecutionVm[];
  }

  @FieldResolver(() => Int, {
    description:
      'The jobs’ progress aggregated: each VM counts its job’s progress, 100 once it ended, 0 before it started; during a cleanup or revert, that of its unwind.',
  })
  async progressPercent(@Root() execution: PlanExecution, @Ctx() { loaders }: Context): Promise<number> {
    const row = execution as unknown as PlanExecutionRow;
    const phase = readPlanPhase(row.phase);
    const vms = await loaders.executionVms.load(execution.id);
    if (phase === PlanPhase.DONE) {
      const status = execution.status as PlanExecutionStatus;
      const unwound = status === PlanExecutionStatus.CLEANED_UP || status === PlanExecutionStatus.REVERTED;
      return aggregateProgress(unwound || row.unwindStartedAt ? PlanPhase.UNWIND : PlanPhase.RUN, vms);
    }
    return aggregateProgress(phase, vms);
  }

  @FieldResolver(() => Int, { nullable: true, description: 'How long the run took, start to end (the achieved RTO); null until it ended.' })
  durationSeconds(@Root() execution: PlanExecution): number | null {
    if (!execution.startedAt || !execution.completedAt) return null;
    return Math.round((execution.completedAt.getTime() - execution.startedAt.getTime()) / 1000);
  }
}

@Resolver(() => PlanExecutionWave)
export class PlanExecutionWaveResolver {
  @FieldResolver(() => [FailoverJob], { description: 'The wave’s failover jobs (of the VMs that were started).' })
  async jobs(@Root() wave: PlanExecutionWave, @Ctx() { loaders }: Context): Promise<FailoverJob[]> {
    return (await loaders.jobs.loadMany(wave.jobIds)).filter((job): job is FailoverJob => job !== null && !(job instanceof Error));
  }
}

@Resolver(() => PlanExecutionVm)
export class PlanExecutionVmResolver {
  @FieldResolver(() => FailoverJob, { nullable: true, description: 'Its failover job, once started.' })
  job(@Root() vm: PlanExecutionVm, @Ctx() { loaders }: Context): Promise<FailoverJob | null> | null {
    return vm.jobId ? loaders.jobs.load(vm.jobId) : null;
  }
}
