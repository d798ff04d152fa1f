/**
 * Waiting without sleeping blindly: abortable sleeps, capped exponential backoff and a poll loop
 * with a deadline. Used for read retries, async job polling and "wait until the resource settles".
 */

/** Capped exponential backoff. */
export interface Backoff {
  /** First delay. */
  readonly initialMs: number;
  /** Largest delay. */
  readonly maxMs: number;
  /** Growth per step (1 = constant interval). */
  readonly multiplier: number;
}

/** The delay before try number `attempt` (0-based) under `backoff`. */
export function backoffDelay({ initialMs, maxMs, multiplier }: Backoff, attempt: number): number {
  return Math.min(maxMs, initialMs * multiplier ** attempt);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What {@link pollUntil} needs besides the probe. */
export interface PollOptions {
  readonly backoff: Backoff;
  /** Epoch ms after which no further probe is started. */
  readonly deadlineAt: number;
  readonly signal?: AbortSignal;
  /** Builds the error thrown when the deadline passes. */
  readonly onDeadline: () => Error;
  /** Current time (tests may replace it). */
  readonly now?: () => number;
}

/**
 * Calls `probe` until it returns something other than `undefined`, sleeping per `backoff` between
 * probes. Throws `onDeadline()` once the deadline has passed (no probe starts after it), and the
 * signal's reason when it aborts.
 */
export async function pollUntil<T>(probe: (attempt: number) => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const { backoff, deadlineAt, signal, onDeadline, now = Date.now } = options;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    const result = await probe(attempt);
    if (result !== undefined) return result;
    const remaining = deadlineAt - now();
    if (remaining <= 0) throw onDeadline();
    await sleep(Math.min(backoffDelay(backoff, attempt), remaining), signal);
    if (now() >= deadlineAt) throw onDeadline();
  }
}
