import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { systemChange, type ChangeRecord } from '../../access/audit.js';
import { CloudStackError } from '../../cloudstack/errors.js';
import { FailoverType, PlanExecutionRow, PlanExecutionStatus, PlanPhase, RecoveryPlanRow, readPlanStatus } from '../../entities/index.js';
import { AppError, ErrorCode, notFound } from '../../errors.js';
import { query } from '../../inventory/sql.js';
import { loadVmFacts } from '../../inventory/vm-facts.js';
import type { Logger } from '../../logger.js';
import { parseId } from '../../arguments.js';
import { planWaves } from '../../inventory/plan-waves.js';
import { checkIdempotencyKey, findKeyed, recordKey, requestHash, type KeyedRequest } from '../idempotency.js';
import type { Readiness } from '../readiness/evaluate.js';
import type { ReadinessService } from '../readiness/readiness.service.js';
import { beginPlanUnwind, createExecution, CreateRefusal, requestCancel, RUN_ENDED } from './plan-lifecycle.js';

/** What {@link PlanCommands.start} takes. */
export interface StartPlanExecutionRequest {
  readonly planId: string;
  readonly type: FailoverType;
  readonly idempotencyKey?: string | null;
}

/** Options of {@link PlanCommands}. */
export interface PlanCommandsOptions {
  readonly em: EntityManager;
  readonly readiness: ReadinessService;
  readonly logger: Logger;
  /** Publishes committed plan events. */
  readonly notify: () => void;
  /** Tells the plan executor there is work. */
  readonly wake: () => void;
}

/** Readiness answers asked at once when a plan starts. */
const READINESS_PARALLEL = 8;

/**
 * The plan execution commands behind the mutations: they validate, decide, and record the change
 * (with its event) in one transaction through the plan lifecycle; the plan executor does the work.
 */
export class PlanCommands {
  private readonly em: EntityManager;

  constructor(private readonly options: PlanCommandsOptions) {
    this.em = options.em;
  }

  /**
   * Starts an execution of a plan: every VM's readiness is checked again (VM_NOT_READY lists each VM
   * that is not ready with its failing checks); a plan has one active execution (JOB_CONFLICT).
   */
  async start(request: StartPlanExecutionRequest, record: ChangeRecord = systemChange('unattributed')): Promise<PlanExecutionRow> {
    const planId = parseId('planId', request.planId);
    const key = checkIdempotencyKey('idempotencyKey', request.idempotencyKey);
    const keyed: KeyedRequest | null = key
      ? { caller: record.requestedBy, key, operation: 'startPlanExecution', hash: requestHash('startPlanExecution', { planId, type: request.type }) }
      : null;
    const earlier = keyed ? await this.keyedExecution(keyed) : null;
    if (earlier) return earlier;
    const plan = await this.em.fork().findOne(RecoveryPlanRow, { id: planId, deletedAt: null }, { disableIdentityMap: true });
    if (!plan) throw notFound('Recovery plan', request.planId);
    await this.refuseIfActive(planId);
    const waves = (await planWaves(this.em.fork(), [planId])).get(planId) ?? [];
    await this.requireReady(
      waves.flatMap((w) => w.vms.map((vm) => vm.vmId)),
      request.type,
      planId,
    );
    let id: number | CreateRefusal;
    try {
      id = await createExecution(this.em, {
        snapshot: { plan, waves: waves.map((w) => w.vms) },
        type: request.type,
        requestedBy: record.requestedBy,
        alsoWrite: async (tx, executionId) => {
          await record.inTransaction(tx, String(planId));
          if (keyed) await recordKey(tx, keyed, String(executionId));
        },
      });
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      const won = keyed ? await this.keyedExecution(keyed) : null;
      if (won) return won;
      await this.refuseIfActive(planId);
      throw error;
    }
    if (id === CreateRefusal.PLAN_CHANGED) {
      throw new AppError(ErrorCode.JOB_CONFLICT, `Plan ${planId} changed while the execution was being started; start it again`, { planId: String(planId) });
    }
    this.options.logger.info({ executionId: id, planId, type: request.type, requestedBy: record.requestedBy }, 'plan execution created');
    return this.announce(id);
  }

  /**
   * The execution as the change left it, read before the executor is woken (so the answer is that
   * state, not whatever a fast executor reached meanwhile); then subscribers and the executor are told.
   */
  private async announce(id: number): Promise<PlanExecutionRow> {
    const row = await this.em.fork().findOneOrFail(PlanExecutionRow, { id }, { disableIdentityMap: true });
    this.options.notify();
    this.options.wake();
    return row;
  }

  private async keyedExecution(keyed: KeyedRequest): Promise<PlanExecutionRow | null> {
    const id = await findKeyed(this.em, keyed);
    return id === null ? null : this.em.fork().findOneOrFail(PlanExecutionRow, { id: Number(id) });
  }

  private async refuseIfActive(planId: number): Promise<void> {
    const active = await this.em.fork().findOne(PlanExecutionRow, { activeLock: planId }, { disableIdentityMap: true });
    if (active) {
      throw new AppError(ErrorCode.JOB_CONFLICT, `Plan ${planId} already has an active execution ${active.id} (${active.status})`, {
        planId: String(planId),
        executionId: String(active.id),
      });
    }
  }

  /** Every VM's readiness, asked afresh (database and cloud checks); VM_NOT_READY lists each VM that is not ready. */
  private async requireReady(vmIds: readonly string[], type: FailoverType, planId: number): Promise<void> {
    const facts = await loadVmFacts(this.em.fork(), vmIds);
    const inOtherPlans = await this.vmsInActiveExecutions(vmIds);
    const answers: Readiness[] = [];
    for (let i = 0; i < vmIds.length; i += READINESS_PARALLEL) {
      answers.push(...(await Promise.all(vmIds.slice(i, i + READINESS_PARALLEL).map((vmId) => this.options.readiness.full(facts.get(vmId)!, type)))));
    }
    const unreachable = answers.flatMap((a) => a.checks).find((c) => !c.passed && c.error instanceof CloudStackError);
    if (unreachable)
      throw new AppError(ErrorCode.CLOUD_UNAVAILABLE, `CloudStack could not be asked whether the plan's VMs are ready: ${unreachable.message}`, {});
    const failing = answers
      .map((a) => ({
        vmId: a.vmId,
        checks: [
          ...a.checks
            .filter((c) => !c.passed)
            .map((c) => ({ name: c.name, kind: c.kind.toUpperCase(), message: c.message, blockingJobId: c.blockingJobId ?? null })),
          ...(inOtherPlans.has(a.vmId)
            ? [
                {
                  name: 'no_active_plan',
                  kind: 'DATABASE',
                  message: `in the active execution ${inOtherPlans.get(a.vmId)!} of another plan`,
                  blockingJobId: null,
                },
              ]
            : []),
        ],
      }))
      .filter((vm) => vm.checks.length > 0);
    if (failing.length > 0) {
      throw new AppError(
        ErrorCode.VM_NOT_READY,
        `Plan ${planId}: ${failing.length} of ${vmIds.length} VMs are not ready for a ${type} failover: ${failing
          .slice(0, 5)
          .map((vm) => `${vm.vmId} (${vm.checks.map((c) => c.name).join(', ')})`)
          .join('; ')}${failing.length > 5 ? '; …' : ''}`,
        { planId: String(planId), vms: failing },
      );
    }
  }

  private async vmsInActiveExecutions(vmIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < vmIds.length; i += 500) {
      const chunk = vmIds.slice(i, i + 500);
      const rows = await query(
        this.em.fork(),
        `SELECT v.vm_id, e.id FROM plan_execution_vms v JOIN plan_executions e ON e.id = v.execution_id WHERE e.active_lock IS NOT NULL AND v.vm_id IN (${chunk.map(() => '?').join(', ')})`,
        chunk,
      );
      for (const row of rows) out.set(String(row.vm_id), Number(row.id));
    }
    return out;
  }

  private async load(id: string): Promise<PlanExecutionRow> {
    const execution = await this.em.fork().findOne(PlanExecutionRow, { id: parseId('id', id) }, { disableIdentityMap: true });
    if (!execution) throw notFound('Plan execution', id);
    return execution;
  }

  /** Cancels a pending or running execution: no new launches, running jobs finish, then CANCELLED. */
  async cancel(id: string, record: ChangeRecord = systemChange('unattributed')): Promise<PlanExecutionRow> {
    const execution = await this.load(id);
    const status = readPlanStatus(execution.status);
    if (status === PlanExecutionStatus.CANCELLING) return execution;
    if (status !== PlanExecutionStatus.PENDING && status !== PlanExecutionStatus.RUNNING) {
      throw invalidPlanTransition(execution, `Plan execution ${id} is ${status}: only a pending or running execution can be cancelled`);
    }
    if (!(await requestCancel(this.em, execution, { requestedBy: record.requestedBy, alsoWrite: (tx) => record.inTransaction(tx, id) }))) {
      return this.cancel(id, record);
    }
    return this.announce(execution.id);
  }

  /** Cleans up a test execution (or resumes a cleanup that failed): its waves in reverse, within maxInFlight. */
  cleanup(id: string, record: ChangeRecord = systemChange('unattributed')): Promise<PlanExecutionRow> {
    return this.unwind(id, FailoverType.TEST, record);
  }

  /** Reverts a live execution (or resumes a revert that failed). */
  revert(id: string, record: ChangeRecord = systemChange('unattributed')): Promise<PlanExecutionRow> {
    return this.unwind(id, FailoverType.LIVE, record);
  }

  private async unwind(id: string, type: FailoverType, record: ChangeRecord): Promise<PlanExecutionRow> {
    const execution = await this.load(id);
    const cleanup = type === FailoverType.TEST;
    if (execution.type !== type) {
      throw invalidPlanTransition(
        execution,
        cleanup
          ? `Plan execution ${id} is a live execution: cleanupPlanExecution cleans up test executions; use revertPlanExecution`
          : `Plan execution ${id} is a test execution: revertPlanExecution reverts live executions; use cleanupPlanExecution`,
      );
    }
    const status = readPlanStatus(execution.status);
    if (!RUN_ENDED.includes(status) || execution.phase !== PlanPhase.DONE) {
      throw invalidPlanTransition(
        execution,
        `Plan execution ${id} is ${status}: only an execution whose run ended (completed, partially completed, failed or cancelled) can be ${cleanup ? 'cleaned up' : 'reverted'}`,
      );
    }
    await this.refuseIfActive(execution.planId);
    let begun: boolean;
    try {
      begun = await beginPlanUnwind(this.em, execution, { requestedBy: record.requestedBy, alsoWrite: (tx) => record.inTransaction(tx, id) });
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      await this.refuseIfActive(execution.planId);
      throw error;
    }
    if (!begun) throw invalidPlanTransition(execution, `Plan execution ${id} changed meanwhile; it cannot be ${cleanup ? 'cleaned up' : 'reverted'} now`);
    return this.announce(execution.id);
  }
}

/** INVALID_PLAN_TRANSITION, with the execution's id and status. */
function invalidPlanTransition(execution: PlanExecutionRow, message: string): AppError {
  return new AppError(ErrorCode.INVALID_PLAN_TRANSITION, message, { executionId: String(execution.id), status: execution.status.toUpperCase() });
}
