import { SimApiError } from './simulator.params.js';

/**
 * Fault injection, driven from tests (this API) or over HTTP (`/admin/faults`). A fault targets a
 * command (or `*`), fires on the nth matching call counted from when it was added, for `count`
 * calls in a row (0 = every call from then on), and does one of:
 * - `error`: answer that call with a sync error (`errorCode`, `errorText`), executing nothing;
 * - `jobFailure`: accept the call, then fail its async job (jobstatus 2) before it changes anything;
 * - `latency`: hold the call `ms` before handling it (it still runs if the client gave up);
 * - `drop`: destroy the connection without an answer, `before` handling the call (nothing ran) or
 *   `after` it (it ran; only the answer is lost).
 */

/** The kinds of fault. */
export enum FaultKind {
  ERROR = 'error',
  JOB_FAILURE = 'jobFailure',
  LATENCY = 'latency',
  DROP = 'drop',
}

/** What a test asks for. */
export interface FaultSpec {
  /** Command name (case-insensitive), or `*` for every command. */
  readonly command: string;
  readonly kind: FaultKind | `${FaultKind}`;
  /** Fire on the nth matching call (1-based) after the fault is added. Default 1. */
  readonly nth?: number;
  /** How many matching calls from the nth on are affected; 0 = all. Default 1. */
  readonly count?: number;
  /** error / jobFailure: the errorcode (= HTTP status for sync errors). Default 530. */
  readonly errorCode?: number;
  /** error / jobFailure: the errortext. */
  readonly errorText?: string;
  /** latency: how long to hold the call. */
  readonly ms?: number;
  /** drop: before or after the call is handled. Default `before`. */
  readonly when?: 'before' | 'after';
}

/** A fault as installed, with its counters. */
export interface Fault extends Required<Omit<FaultSpec, 'errorText' | 'ms' | 'kind'>> {
  readonly id: number;
  readonly kind: FaultKind;
  readonly errorText: string;
  readonly ms: number;
  /** Matching calls seen so far. */
  seen: number;
  /** Calls it affected so far. */
  fired: number;
}

/** What the injected faults decide for one call. */
export interface FaultDecision {
  readonly error?: SimApiError;
  readonly jobFailure?: SimApiError;
  readonly latencyMs: number;
  readonly drop?: 'before' | 'after';
}

/** A fault specification that cannot be installed. */
export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultSpecError';
  }
}

const KINDS = new Set<string>(Object.values(FaultKind));
const DEFAULT_TEXT = 'Injected fault: simulated internal error';

/** Checks a fault specification (from JSON) and returns it typed. */
export function parseFaultSpec(input: unknown): FaultSpec {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new FaultSpecError('a fault must be a JSON object');
  const spec = input as Record<string, unknown>;
  if (typeof spec.command !== 'string' || spec.command === '') throw new FaultSpecError('command must be a command name or "*"');
  if (typeof spec.kind !== 'string' || !KINDS.has(spec.kind)) throw new FaultSpecError(`kind must be one of ${[...KINDS].join(', ')}`);
  const positive = (name: string, min: number) => {
    const v = spec[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min)) throw new FaultSpecError(`${name} must be an integer ≥ ${min}`);
  };
  positive('nth', 1);
  positive('count', 0);
  positive('errorCode', 100);
  positive('ms', 0);
  if (spec.errorText !== undefined && typeof spec.errorText !== 'string') throw new FaultSpecError('errorText must be a string');
  if (spec.when !== undefined && spec.when !== 'before' && spec.when !== 'after') throw new FaultSpecError('when must be "before" or "after"');
  if (spec.kind === FaultKind.LATENCY && spec.ms === undefined) throw new FaultSpecError('a latency fault needs ms');
  return spec as unknown as FaultSpec;
}

/** Installed faults and per-command call counters. */
export class FaultInjector {
  private faults: Fault[] = [];
  private nextId = 1;
  private readonly callCounts = new Map<string, number>();

  /** Installs a fault; returns it (its `id` removes it). */
  add(spec: FaultSpec): Fault {
    const checked = parseFaultSpec(spec);
    const fault: Fault = {
      id: this.nextId++,
      command: checked.command,
      kind: checked.kind as FaultKind,
      nth: checked.nth ?? 1,
      count: checked.count ?? 1,
      errorCode: checked.errorCode ?? 530,
      errorText: checked.errorText ?? DEFAULT_TEXT,
      ms: checked.ms ?? 0,
      when: checked.when ?? 'before',
      seen: 0,
      fired: 0,
    };
    this.faults.push(fault);
    return fault;
  }

  /** Removes one fault; false when there was none with that id. */
  remove(id: number): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  /** Removes every fault and resets the call counters. */
  clear(): void {
    this.faults = [];
    this.callCounts.clear();
  }

  /** Copies of the installed faults. */
  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** Authenticated calls seen per command (since start or {@link clear}). */
  calls(): Record<string, number> {
    return Object.fromEntries(this.callCounts);
  }

  /** Counts one call of `command` and returns what the faults decide for it. */
  decide(command: string): FaultDecision {
    this.callCounts.set(command, (this.callCounts.get(command) ?? 0) + 1);
    let latencyMs = 0;
    let error: SimApiError | undefined;
    let jobFailure: SimApiError | undefined;
    let drop: 'before' | 'after' | undefined;
    for (const fault of this.faults) {
      if (fault.command !== '*' && fault.command.toLowerCase() !== command.toLowerCase()) continue;
      fault.seen++;
      const fires = fault.seen >= fault.nth && (fault.count === 0 || fault.seen < fault.nth + fault.count);
      if (!fires) continue;
      fault.fired++;
      switch (fault.kind) {
        case FaultKind.ERROR:
          error ??= new SimApiError(fault.errorCode, fault.errorText);
          break;
        case FaultKind.JOB_FAILURE:
          jobFailure ??= new SimApiError(fault.errorCode, fault.errorText);
          break;
        case FaultKind.LATENCY:
          latencyMs += fault.ms;
          break;
        case FaultKind.DROP:
          drop ??= fault.when;
          break;
      }
    }
    return { error, jobFailure, latencyMs, drop };
  }
}
