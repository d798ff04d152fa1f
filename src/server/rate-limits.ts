import { getOperationAST, Kind, type DocumentNode } from 'graphql';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ActorKind } from '../access/actor.js';
import { AppError, ErrorCode } from '../errors.js';
import type { Principal } from './auth.js';
import { rootFieldNames } from './limits.js';

/**
 * Per-caller rate limits, the same on both transports, from rate-limiter-flexible (fixed windows
 * in this process's memory). Two budgets per caller — a key, a token, or an anonymous caller's
 * address: mutations, and the queries that ask CloudStack (each such root field, aliases
 * included, costs one). Over budget: RATE_LIMITED with `retryAfterSeconds`.
 */
export interface RateLimitSettings {
  /** Mutations per caller per window (`RATE_LIMIT_MUTATIONS`). */
  readonly mutations: number;
  /** Cloud-asking root fields per caller per window (`RATE_LIMIT_CLOUD_QUERIES`). */
  readonly cloudQueries: number;
  /** The window, in seconds (`RATE_LIMIT_WINDOW_SECONDS`). */
  readonly windowSeconds: number;
}

export const RATE_LIMITS: RateLimitSettings = { mutations: 600, cloudQueries: 300, windowSeconds: 60 };

/** Root query fields whose answer asks CloudStack. */
export const CLOUD_QUERY_FIELDS: ReadonlySet<string> = new Set(['vmReadiness', 'recoveryPlan']);

/** The root fields an operation selects (through fragments), by name, aliases counted. */
function rootFields(document: DocumentNode, operationName: string | null | undefined): { kind: string; names: string[] } | null {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return null;
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  return { kind: operation.operation, names: rootFieldNames(operation.selectionSet.selections, (name) => fragments.get(name)) };
}

export class RateLimits {
  private readonly mutations: RateLimiterMemory;
  private readonly cloud: RateLimiterMemory;

  constructor(private readonly settings: RateLimitSettings = RATE_LIMITS) {
    this.mutations = new RateLimiterMemory({ keyPrefix: 'mutations', points: settings.mutations, duration: settings.windowSeconds });
    this.cloud = new RateLimiterMemory({ keyPrefix: 'cloud', points: settings.cloudQueries, duration: settings.windowSeconds });
  }

  /** Takes what the operation costs from the caller's budgets, or throws RATE_LIMITED. */
  async consume(principal: Principal, address: string | null, document: DocumentNode, operationName: string | null | undefined): Promise<void> {
    const fields = rootFields(document, operationName);
    if (!fields) return;
    const caller = principal.kind === ActorKind.ANONYMOUS ? `anonymous:${address ?? 'unknown'}` : principal.name;
    if (fields.kind === 'mutation') await this.take(this.mutations, caller, fields.names.length, 'mutations', this.settings.mutations);
    if (fields.kind === 'query') {
      const cloud = fields.names.filter((n) => CLOUD_QUERY_FIELDS.has(n)).length;
      if (cloud > 0) await this.take(this.cloud, caller, cloud, 'queries that ask CloudStack', this.settings.cloudQueries);
    }
  }

  private async take(limiter: RateLimiterMemory, caller: string, points: number, what: string, budget: number): Promise<void> {
    try {
      await limiter.consume(caller, points);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new AppError(
        ErrorCode.RATE_LIMITED,
        `Rate limit reached: at most ${budget} ${what} per ${this.settings.windowSeconds} s; retry in ${retryAfterSeconds} s`,
        { retryAfterSeconds, http: { status: 429, headers: new Map([['retry-after', String(retryAfterSeconds)]]) } },
      );
    }
  }
}
