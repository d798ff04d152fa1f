import type { CloudJobPlan } from '../simulator.jobs.js';
import { paramError, type RequestParams } from '../simulator.params.js';
import type { CloudState } from '../simulator.state.js';

/**
 * What a simulated command is: a function of the state and the request that either answers at
 * once (fields, an object, a list, success) or returns the plan of an async job. Everything a
 * command throws before returning is a sync error; what its plan throws fails the job.
 */

/** A JSON object of an answer. */
export type Obj = Record<string, unknown>;

/** What a command answers. */
export type CommandOutcome =
  | { readonly kind: 'fields'; readonly fields: Obj }
  | { readonly kind: 'object'; readonly key: string; readonly value: Obj }
  | { readonly kind: 'list'; readonly key: string; readonly items: readonly Obj[] }
  | { readonly kind: 'success' }
  | { readonly kind: 'async'; readonly plan: CloudJobPlan };

/** What a command is given. */
export interface CommandContext {
  readonly state: CloudState;
  readonly params: RequestParams;
}

/** A simulated command. */
export type CommandHandler = (context: CommandContext) => CommandOutcome;

/** A list answer. */
export const list = (key: string, items: readonly Obj[]): CommandOutcome => ({ kind: 'list', key, items });

/** An async answer. */
export const async = (plan: CloudJobPlan): CommandOutcome => ({ kind: 'async', plan });

/**
 * Filters records by the request's parameters: each entry of `filters` names a parameter and how
 * a record matches its value (exact equality of a field, by default).
 */
export function where<T>(params: RequestParams, items: readonly T[], filters: Record<string, keyof T | ((item: T, value: string) => boolean)>): T[] {
  return items.filter((item) =>
    Object.entries(filters).every(([name, test]) => {
      const value = params.get(name);
      if (value === undefined) return true;
      return typeof test === 'function' ? test(item, value) : String(item[test as keyof T]) === value;
    }),
  );
}

/** SQL `LIKE %value%` as MySQL's default collation does it (case-insensitive). */
export const contains = (field: string | undefined, value: string): boolean => (field ?? '').toLowerCase().includes(value.toLowerCase());

/** 431 helper for in-job checks. */
export function check(condition: boolean, text: string): void {
  if (!condition) throw paramError(text);
}
