import { FailoverType } from '../../entities/enums.js';
import type { VmFacts } from '../../inventory/vm-facts.js';

/** Where a check looks: the database only, or the cloud too. */
export enum CheckKind {
  DATABASE = 'database',
  CLOUD = 'cloud',
}

/** The verdict of one check, in words a person understands. */
export interface CheckOutcome {
  readonly passed: boolean;
  readonly message: string;
  /** The failover job that blocks the VM, when that is the reason. */
  readonly blockingJobId?: string | null;
}

/** One evaluated check. */
export interface CheckResult extends CheckOutcome {
  readonly name: string;
  readonly kind: CheckKind;
  /** What the check threw, when it could not run (never shown to API callers). */
  readonly error?: unknown;
}

/** What a check is given: the VM's database facts, the kind of failover, and (for cloud checks) the cloud. */
export interface CheckInput<Cloud = unknown> {
  readonly facts: VmFacts;
  readonly type: FailoverType;
  readonly cloud: Cloud;
}

/**
 * A readiness check. Database checks only read {@link VmFacts} (loaded in batches); cloud checks
 * may also ask the cloud and are only run where one call per VM is acceptable (never on a page).
 */
export interface ReadinessRule<Cloud = unknown> {
  readonly name: string;
  readonly kind: CheckKind;
  /** Checks that must pass first; when one fails this check fails with "not checked". */
  readonly requires?: readonly string[];
  evaluate(input: CheckInput<Cloud>): CheckOutcome | Promise<CheckOutcome>;
}

export const pass = (message: string): CheckOutcome => ({ passed: true, message });
export const fail = (message: string, blockingJobId?: string | null): CheckOutcome => ({ passed: false, message, blockingJobId });

/** "test" / "live" as people say it. */
export const kindOfFailover = (type: FailoverType): string => (type === FailoverType.TEST ? 'test' : 'live');
