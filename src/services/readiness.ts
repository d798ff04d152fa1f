import type { FailoverType } from '../entities/enums.js';
import { DATABASE_CHECKS } from '../failover/readiness/database-checks.js';
import { evaluateReadiness, type Readiness } from '../failover/readiness/evaluate.js';
import type { ReadinessCheck } from '../failover/readiness/check.js';
import type { Loaders } from '../server/context.js';

/**
 * Readiness of one VM. `checks` defaults to the database checks (what a dashboard page runs);
 * callers that may ask the cloud pass the full list with the cloud checks appended.
 */
export async function vmReadiness<Cloud>(
  loaders: Loaders,
  vmId: string,
  type: FailoverType,
  { checks = DATABASE_CHECKS as readonly ReadinessCheck<Cloud>[], cloud }: { checks?: readonly ReadinessCheck<Cloud>[]; cloud?: Cloud } = {},
): Promise<Readiness> {
  const facts = await loaders.vmFacts.load(vmId);
  return evaluateReadiness(checks, facts, type, cloud as Cloud);
}
