import type { EntityManager } from '@mikro-orm/core';
import type { FailoverType } from '../../entities/enums.js';
import { loadVmFacts, type VmFacts } from '../../inventory/vm-facts.js';
import { factsForPlan, type JobPlan } from '../engine/plan.js';
import { READINESS_CHECKS, type CloudCheckContext } from './cloud-checks.js';
import { DATABASE_CHECKS } from './database-checks.js';
import { evaluateReadiness, type Readiness } from './evaluate.js';

/** How long the API's readiness answers for one VM are shared (`READINESS_SHARE_MS`). */
export const READINESS_SHARE_MS = 2_000;
const MAX_SHARED_ANSWERS = 10_000;

/**
 * Readiness, in one place: the API's `vmReadiness` and dashboard page, the start mutations and
 * the engine's validate step all ask here. The database checks read batched facts; the full list
 * asks the cloud too (never on a page).
 */
export class ReadinessService {
  private readonly answers = new Map<string, { readonly until: number; readonly readiness: Promise<Readiness> }>();

  /**
   * @param shareForMs how long the API's answers for one VM are shared ({@link shared}); 0: never.
   */
  constructor(
    private readonly em: EntityManager,
    private readonly cloud: CloudCheckContext,
    private readonly shareForMs = READINESS_SHARE_MS,
  ) {}

  /**
   * Every check, as {@link full}, but an answer for the same VM, type and facts is shared for
   * `shareForMs` with every caller (the ones asking while it is computed included): what the API's
   * `vmReadiness` uses, so that no pattern of requests multiplies the calls to CloudStack. A start
   * and the engine never use it: they check afresh.
   */
  shared(facts: VmFacts, type: FailoverType): Promise<Readiness> {
    const now = Date.now();
    const key = JSON.stringify([type, facts]);
    const known = this.answers.get(key);
    if (known && known.until > now) return known.readiness;
    if (this.answers.size >= MAX_SHARED_ANSWERS) for (const [k, v] of this.answers) if (v.until <= now) this.answers.delete(k);
    if (this.answers.size >= MAX_SHARED_ANSWERS) this.answers.clear();
    const readiness = this.full(facts, type);
    if (this.shareForMs > 0) {
      this.answers.set(key, { until: now + this.shareForMs, readiness });
      // A failure is not kept: the next caller asks again.
      readiness.catch(() => this.answers.delete(key));
    }
    return readiness;
  }

  /** The database checks only: what a dashboard page shows for each VM. */
  databaseOnly(facts: VmFacts, type: FailoverType): Promise<Readiness> {
    return evaluateReadiness(DATABASE_CHECKS, facts, type, undefined);
  }

  /** Every check, database and cloud, on the given facts. */
  full(facts: VmFacts, type: FailoverType): Promise<Readiness> {
    return evaluateReadiness(READINESS_CHECKS, facts, type, this.cloud);
  }

  /** Every check for a running job's plan (its networks stand in for the mappings); the job's own hold on the VM is excused. */
  async forPlan(plan: JobPlan): Promise<Readiness> {
    const facts = (await loadVmFacts(this.em.fork(), [plan.vmId])).get(plan.vmId)!;
    const readiness = await this.full(factsForPlan(facts, plan), plan.type);
    const checks = readiness.checks.map((c) => (c.blockingJobId === plan.jobId ? { ...c, passed: true, message: `${c.message} (this job)` } : c));
    return { ...readiness, checks, ready: checks.every((c) => c.passed) };
  }
}
