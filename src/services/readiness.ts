import type { FailoverType } from '../entities/enums.js';
import { DATABASE_CHECKS } from '../failover/readiness/database-checks.js';
import { evaluateReadiness, type Readiness } from '../failover/readiness/evaluate.js';
import type { ReadinessService } from '../failover/readiness/readiness.service.js';
import type { Loaders } from './loaders.js';

/**
 * Readiness of one VM from the request's batched facts: every check (database and cloud) where the
 * readiness service is given, the database checks only (what a dashboard page runs) where not.
 */
export async function vmReadiness(loaders: Loaders, vmId: string, type: FailoverType, readiness?: ReadinessService): Promise<Readiness> {
  const facts = await loaders.vmFacts.load(vmId);
  return readiness ? readiness.shared(facts, type) : evaluateReadiness(DATABASE_CHECKS, facts, type, undefined);
}
