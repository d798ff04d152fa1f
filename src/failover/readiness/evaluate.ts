import type { FailoverType } from '../../entities/enums.js';
import type { VmFacts } from '../../inventory/vm-facts.js';
import type { CheckResult, ReadinessRule } from './check.js';

/** A VM's readiness for one kind of failover. */
export interface Readiness {
  readonly vmId: string;
  readonly type: FailoverType;
  readonly ready: boolean;
  readonly checks: readonly CheckResult[];
}

/**
 * Runs `checks` in order against one VM. A check whose prerequisite failed is reported as failed
 * ("not checked") rather than run on facts it cannot trust. A check that throws fails with its
 * error's message, so one broken probe never hides the others.
 */
export async function evaluateReadiness<Cloud>(checks: readonly ReadinessRule<Cloud>[], facts: VmFacts, type: FailoverType, cloud: Cloud): Promise<Readiness> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const blocker = check.requires?.find((name) => results.some((r) => r.name === name && !r.passed));
    if (blocker) {
      results.push({ name: check.name, kind: check.kind, passed: false, message: `Not checked: ${blocker} failed` });
      continue;
    }
    try {
      const outcome = await check.evaluate({ facts, type, cloud });
      results.push({ name: check.name, kind: check.kind, ...outcome });
    } catch (error) {
      results.push({ name: check.name, kind: check.kind, passed: false, message: `Check could not run: ${(error as Error).message}`, error });
    }
  }
  return { vmId: facts.vmId, type, ready: results.every((r) => r.passed), checks: results };
}
