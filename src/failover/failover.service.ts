import { systemChange, type ChangeRecord } from '../access/audit.js';
import { requireText, requireWholeNumber } from '../arguments.js';
import { DeadlockException, LockWaitTimeoutException, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { retry } from '../retry.js';
import { CloudStackError } from '../cloudstack/errors.js';
import { FailoverExecution, FailoverJob, FailoverStatus, FailoverType, FlowName, isActiveStatus, toFailoverStatus } from '../entities/index.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import { requireNetworkOfKind } from '../inventory/network-kinds.js';
import { loadVmFacts, type VmFacts } from '../inventory/vm-facts.js';
import type { Logger } from '../logger.js';
import { beginUnwind, createJob, type UnwindFlow } from './engine/lifecycle.js';
import { planJob, withOverrides, type NetworkOverride } from './engine/plan.js';
import type { ReadinessService } from './readiness/readiness.service.js';
import { checkIdempotencyKey, findKeyed, recordKey, requestHash, type KeyedRequest } from './idempotency.js';
import { query } from '../inventory/sql.js';

/** How a start whose transaction deadlocked with another's is tried again, and for how long. */
const DEADLOCK_BACKOFF = { initialMs: 20, maxMs: 500, multiplier: 2 };
const DEADLOCK_RETRY_MS = 10_000;

/** What a start asks for. */
export interface StartFailoverRequest {
  readonly vmId: string;
  readonly networkOverrides?: readonly NetworkOverride[] | null;
  /** Test failover only: clean up automatically this many minutes after it completed. */
  readonly autoCleanupAfterMinutes?: number | null;
  /** The same key with the same request returns the same job for 24 hours (per caller). */
  readonly idempotencyKey?: string | null;
}

/** How a start is made: by a caller on its own, or by a plan execution (whose VMs no one else may start). */
export interface StartOptions {
  readonly planExecutionId?: number | null;
}

/** Options of {@link FailoverService}. */
export interface FailoverServiceOptions {
  /** The ORM's root EntityManager. */
  readonly em: EntityManager;
  readonly readiness: ReadinessService;
  readonly logger: Logger;
  /** Publishes committed events. */
  readonly notify: () => void;
  /** Tells the engine there is work. */
  readonly wake: () => void;
  readonly now?: () => number;
}

/** The longest automatic cleanup delay (30 days). */
export const MAX_AUTO_CLEANUP_MINUTES = 43_200;

/**
 * The failover commands behind the mutations: they validate, decide, and record the job (with its
 * first event) in one transaction; the engine does the work in the background.
 */
export class FailoverService {
  private readonly em: EntityManager;
  private readonly now: () => number;

  constructor(private readonly options: FailoverServiceOptions) {
    this.em = options.em;
    this.now = options.now ?? Date.now;
  }

  /**
   * Starts a test or live failover of a VM. Refuses with VM_NOT_READY (and the failing checks),
   * JOB_CONFLICT (and the active job's id), or CLOUD_UNAVAILABLE; of many concurrent starts for one
   * VM exactly one creates a job (the unique `vm_lock` decides).
   */
  async start(
    type: FailoverType,
    request: StartFailoverRequest,
    record: ChangeRecord = systemChange('unattributed'),
    { planExecutionId = null }: StartOptions = {},
  ): Promise<FailoverJob> {
    const { vmId } = request;
    const key = checkIdempotencyKey('idempotencyKey', request.idempotencyKey);
    const overrides = this.validateStart(type, request);
    const operation = type === FailoverType.TEST ? 'startTestFailover' : 'startLiveFailover';
    const keyed: KeyedRequest | null = key
      ? {
          caller: record.requestedBy,
          key,
          operation,
          hash: requestHash(operation, {
            vmId,
            networkOverrides: [...overrides].sort((a, b) => a.sourceNetworkName.localeCompare(b.sourceNetworkName)),
            autoCleanupAfterMinutes: request.autoCleanupAfterMinutes ?? null,
          }),
        }
      : null;
    const earlier = keyed ? await this.keyedJob(keyed) : null;
    if (earlier) return earlier;
    const stored = (await loadVmFacts(this.em.fork(), [vmId])).get(vmId)!;
    this.validateOverrides(stored, overrides);
    for (const o of overrides) await requireNetworkOfKind(this.em, 'networkOverrides', o.destinationNetworkId, type === FailoverType.TEST);
    if (stored.activeJob) throw conflict(stored.activeJob);
    if (planExecutionId === null) await this.refuseIfInActivePlan(vmId);
    const facts = withOverrides(stored, type, overrides);
    const readiness = await this.options.readiness.full(facts, type);
    const failing = readiness.checks.filter((c) => !c.passed);
    if (failing.length > 0) {
      // A concurrent start may have won meanwhile (its job already took the volumes off the
      // appliance): that is a conflict, not a VM that is not ready.
      const holder = await this.em.fork().findOne(FailoverExecution, { vmLock: vmId }, { disableIdentityMap: true });
      const refusal = holder ? await this.holderError(holder, type, stored) : undefined;
      if (refusal?.code === ErrorCode.JOB_CONFLICT) throw refusal;
    }
    const unreachable = failing.find((c) => c.error instanceof CloudStackError);
    if (unreachable) {
      throw new AppError(ErrorCode.CLOUD_UNAVAILABLE, `CloudStack could not be asked whether VM ${vmId} is ready: ${unreachable.message}`, { vmId });
    }
    if (failing.length > 0) throw notReady(vmId, type, failing);
    return this.createJob(type, facts, request.autoCleanupAfterMinutes ?? null, record, stored, planExecutionId, keyed);
  }

  /**
   * The job as the change left it, read before the engine is woken (so the answer is that state —
   * PENDING for a start — not whatever step a fast engine reached meanwhile); then subscribers and
   * the engine are told.
   */
  private async announce(jobId: string): Promise<FailoverJob> {
    const job = await this.em.fork().findOneOrFail(FailoverJob, { jobId }, { disableIdentityMap: true });
    this.options.notify();
    this.options.wake();
    return job;
  }

  /** The job an earlier request with the same key made (IDEMPOTENCY_MISMATCH when the key was used for another request). */
  private async keyedJob(keyed: KeyedRequest): Promise<FailoverJob | null> {
    const jobId = await findKeyed(this.em, keyed);
    return jobId === null ? null : this.em.fork().findOneOrFail(FailoverJob, { jobId });
  }

  /** A VM of an active plan execution is started by that execution only (JOB_CONFLICT). */
  private async refuseIfInActivePlan(vmId: string): Promise<void> {
    const [row] = await query(
      this.em.fork(),
      'SELECT e.id, e.plan_name FROM plan_execution_vms v JOIN plan_executions e ON e.id = v.execution_id WHERE v.vm_id = ? AND e.active_lock IS NOT NULL LIMIT 1',
      [vmId],
    );
    if (row) {
      throw new AppError(
        ErrorCode.JOB_CONFLICT,
        `VM ${vmId} is in the active execution ${String(row.id)} of plan ${String(row.plan_name)}: that execution starts it`,
        { planExecutionId: String(row.id) },
      );
    }
  }

  /** Cleans up a completed test failover (or resumes a cleanup that failed). */
  cleanupTestFailover(jobId: string, record: ChangeRecord = systemChange('unattributed'), reason = 'cleanup requested'): Promise<FailoverJob> {
    return this.beginUnwind(jobId, FlowName.CLEANUP, reason, record);
  }

  /** Reverts a completed live failover (or resumes a revert that failed). */
  revertFailover(jobId: string, record: ChangeRecord = systemChange('unattributed')): Promise<FailoverJob> {
    return this.beginUnwind(jobId, FlowName.REVERT, 'revert requested', record);
  }

  private validateStart(type: FailoverType, { vmId, networkOverrides, autoCleanupAfterMinutes }: StartFailoverRequest): NetworkOverride[] {
    requireText('vmId', vmId);
    if (autoCleanupAfterMinutes !== null && autoCleanupAfterMinutes !== undefined) {
      if (type !== FailoverType.TEST) throw badInput('autoCleanupAfterMinutes', 'autoCleanupAfterMinutes applies to test failovers only');
      requireWholeNumber('autoCleanupAfterMinutes', autoCleanupAfterMinutes, { min: 1, max: MAX_AUTO_CLEANUP_MINUTES });
    }
    const overrides = networkOverrides ?? [];
    const seen = new Set<string>();
    for (const o of overrides) {
      requireText('networkOverrides', o.sourceNetworkName, { label: 'sourceNetworkName', max: Number.POSITIVE_INFINITY });
      requireText('networkOverrides', o.destinationNetworkId, { label: `destinationNetworkId of "${o.sourceNetworkName}"` });
      if (seen.has(o.sourceNetworkName)) throw badInput('networkOverrides', `"${o.sourceNetworkName}" is overridden twice`);
      seen.add(o.sourceNetworkName);
    }
    return [...overrides];
  }

  private validateOverrides(facts: VmFacts, overrides: readonly NetworkOverride[]): void {
    const networks = facts.spec?.networks;
    if (!networks) return;
    const unknown = overrides.filter((o) => !networks.some((n) => n.name === o.sourceNetworkName));
    if (unknown.length > 0) {
      throw badInput(
        'networkOverrides',
        `VM ${facts.name ?? facts.vmId} has no source network ${unknown.map((o) => `"${o.sourceNetworkName}"`).join(', ')}; its networks are ${networks.map((n) => `"${n.name}"`).join(', ')}`,
      );
    }
  }

  private async createJob(
    type: FailoverType,
    facts: VmFacts,
    autoCleanupAfterMinutes: number | null,
    record: ChangeRecord,
    seen: VmFacts,
    planExecutionId: number | null,
    keyed: KeyedRequest | null,
  ): Promise<FailoverJob> {
    const vmId = facts.vmId;
    // job_id is `{type}-failover-{vm_id}-{unix seconds}`: the later of now and one second after this
    // VM's latest job of the type, so ids never collide and keep their order however fast jobs come.
    const prefix = `${type}-failover-${vmId}-`;
    const [latest] = await this.em
      .fork()
      .find(FailoverJob, { vmId, jobType: type }, { fields: ['jobId'], orderBy: { id: 'desc' }, limit: 1, disableIdentityMap: true });
    const lastSeconds = latest?.jobId.startsWith(prefix) ? Number(latest.jobId.slice(prefix.length)) : Number.NaN;
    const first = Math.max(Math.floor(this.now() / 1000), Number.isSafeInteger(lastSeconds) ? lastSeconds + 1 : 0);
    for (let attempt = 0; attempt < 10; attempt++) {
      const jobId = `${prefix}${first + attempt}`;
      const plan = planJob(jobId, type, facts);
      try {
        // Concurrent starts can deadlock in InnoDB (their inserts' gap locks): the loser's
        // transaction was rolled back whole, so it is tried again as it was, never reported as an error.
        await retry(
          () =>
            createJob(this.em, {
              plan,
              replicationJobId: facts.latestReplication?.id ?? null,
              autoCleanupAfterMinutes,
              now: new Date(this.now()),
              requestedBy: record.requestedBy,
              planExecutionId,
              alsoWrite: async (tx) => {
                await record.inTransaction(tx, jobId);
                if (keyed) await recordKey(tx, keyed, jobId);
              },
            }),
          {
            backoff: DEADLOCK_BACKOFF,
            deadlineAt: Date.now() + DEADLOCK_RETRY_MS,
            retryable: (error) => error instanceof DeadlockException || error instanceof LockWaitTimeoutException,
            onGiveUp: (error) => error as Error,
            onRetry: (error, n) => this.options.logger.debug({ err: error, jobId, attempt: n }, 'job creation deadlocked; trying again'),
          },
        );
      } catch (error) {
        if (!(error instanceof UniqueConstraintViolationException)) throw error;
        // A concurrent request with the same key won: its job is this request's answer.
        const earlier = keyed ? await this.keyedJob(keyed) : null;
        if (earlier) return earlier;
        const holder = await this.em.fork().findOne(FailoverExecution, { vmLock: vmId }, { disableIdentityMap: true });
        if (holder) throw await this.holderError(holder, type, seen);
        continue;
      }
      this.options.logger.info({ jobId, vmId, type, requestedBy: record.requestedBy }, 'failover job created');
      return this.announce(jobId);
    }
    throw new Error(`no free job id for VM ${vmId}`);
  }

  /**
   * Why a start is refused when another job holds the VM's lock. Active: JOB_CONFLICT. Finished
   * (it holds the volumes, or a rollback it could not finish keeps the VM locked) and already there
   * when this start first looked (`seen`, whose latest job is the newest row then): a later start,
   * VM_NOT_READY naming it. Finished but newer than anything this start saw: it was created, and
   * ran, while this start was being checked — this start lost a race to an active job, so
   * JOB_CONFLICT too, whatever the winner's status is by now.
   */
  private async holderError(holder: FailoverExecution, type: FailoverType, seen: VmFacts): Promise<AppError> {
    const job = await this.em.fork().findOne(FailoverJob, { jobId: holder.jobId }, { disableIdentityMap: true });
    if (!job || isActiveStatus(job.status))
      return conflict({ jobId: holder.jobId, jobType: job?.jobType ?? type, status: job?.status ?? FailoverStatus.PENDING });
    if (job.id > (seen.latestJob?.id ?? 0)) return conflict(job, 'raced');
    return notReady(holder.vmId, type, [
      { name: 'volumes_not_held', kind: 'database', message: `${job.jobType} failover ${job.jobId} holds the volumes`, blockingJobId: job.jobId },
    ]);
  }

  private async beginUnwind(jobId: string, flow: UnwindFlow, reason: string, record: ChangeRecord): Promise<FailoverJob> {
    requireText('jobId', jobId, { max: Number.POSITIVE_INFINITY });
    const outcome = await beginUnwind(this.em, jobId, flow, { reason, requestedBy: record.requestedBy, alsoWrite: (tx) => record.inTransaction(tx, jobId) });
    switch (outcome.kind) {
      case 'no-job':
        throw notFound('Failover job', jobId);
      case 'refused':
        throw invalidTransition(outcome.job, outcome.reason);
      case 'changed': {
        const what = flow === FlowName.CLEANUP ? 'cleaned up' : 'reverted';
        throw invalidTransition(outcome.job, `Job ${jobId} changed meanwhile (now ${outcome.job.status}); it cannot be ${what} now`);
      }
      case 'begun':
        break;
    }
    this.options.logger.info({ jobId, flow }, 'unwind begun');
    return this.announce(jobId);
  }
}

/** JOB_CONFLICT: the VM has an active job. */
function conflict(job: Pick<FailoverJob, 'jobId' | 'jobType' | 'status'>, how: 'active' | 'raced' = 'active'): AppError {
  const message =
    how === 'active'
      ? `VM already has an active ${job.jobType} failover ${job.jobId} (${job.status ?? 'pending'})`
      : `A concurrent start won: ${job.jobType} failover ${job.jobId} began while this start was being checked (now ${job.status ?? 'pending'})`;
  return new AppError(ErrorCode.JOB_CONFLICT, message, { jobId: job.jobId });
}

/** VM_NOT_READY, with the failing checks. */
function notReady(
  vmId: string,
  type: FailoverType,
  failing: readonly { name: string; kind: string; message: string; blockingJobId?: string | null }[],
): AppError {
  return new AppError(ErrorCode.VM_NOT_READY, `VM ${vmId} is not ready for a ${type} failover: ${failing.map((c) => c.message).join('; ')}`, {
    vmId,
    checks: failing.map((c) => ({ name: c.name, kind: c.kind.toUpperCase(), message: c.message, blockingJobId: c.blockingJobId ?? null })),
  });
}

/** INVALID_JOB_TRANSITION, with the job's id and status. */
function invalidTransition(job: FailoverJob, message: string): AppError {
  return new AppError(ErrorCode.INVALID_JOB_TRANSITION, message, { jobId: job.jobId, status: toFailoverStatus(job.status).toUpperCase() });
}
