import type { EntityManager } from '@mikro-orm/core';
import type { FailoverType } from '../../entities/enums.js';
import { loadVmFacts, type VmFacts } from '../../inventory/vm-facts.js';
import { factsForPlan, type JobPlan } from '../engine/plan.js';
import { READINESS_CHECKS, type CloudCheckContext } from './cloud-checks.js';
import { DATABASE_CHECKS } from './database-checks.js';
import { evaluateReadiness, type Readiness } from './evaluate.js';

/**
 * Readiness, in one place: the API's `vmReadiness` and dashboard page, the start mutations and
 * the engine's validate step all ask here. The database checks read batched facts; the full list
 * asks the cloud too (never on a page).
 */
export class ReadinessService {
  constructor(
    private readonly em: EntityManager,
    private readonly cloud: CloudCheckContext,
  ) {}

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
