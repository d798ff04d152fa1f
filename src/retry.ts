/**
 * Waiting without sleeping blindly: abortable sleeps, capped exponential backoff, a poll loop and a
 * retry loop with a deadline and an injectable clock. Used for read retries, async job polling,
 * "wait until the resource settles", step retries and compensation.
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

/** What {@link retry} needs besides the attempt. */
export interface RetryOptions {
  readonly backoff: Backoff;
  /** Epoch ms by which the last attempt must have started (no wait that would end after it). */
  readonly deadlineAt: number;
  readonly signal?: AbortSignal;
  /** Whether a failure is worth another attempt; a failure that is not is rethrown at once. */
  readonly retryable: (error: unknown, attempt: number) => boolean;
  /** The error thrown when the next wait would pass the deadline. */
  readonly onGiveUp: (error: unknown, attempts: number) => Error;
  /** Called before each wait (attempt is the one that failed, 1-based). */
  readonly onRetry?: (error: unknown, attempt: number) => void | Promise<void>;
  /** Current time (tests may replace it). */
  readonly now?: () => number;
}

/**
 * Runs `attempt` until it succeeds, waiting per `backoff` between attempts while the failure is
 * retryable and the deadline allows another; the one retry loop of the engine.
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { backoff, deadlineAt, signal, retryable, onGiveUp, onRetry, now = Date.now } = options;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!retryable(error, n)) throw error;
      const delay = backoffDelay(backoff, n - 1);
      if (now() + delay >= deadlineAt) throw onGiveUp(error, n);
      await onRetry?.(error, n);
      await sleep(delay, signal);
    }
  }
}
