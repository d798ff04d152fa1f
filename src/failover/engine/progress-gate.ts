/**
 * Coalesces a job's progress updates: the first goes out at once, later ones at most once per
 * `intervalMs`, each time the latest value (the ones in between are dropped, never reordered).
 * `flush()` sends a held value now — the runner calls it before a status transition, which itself
 * never waits.
 */
export class ProgressGate<T> {
  private lastAt = Number.NEGATIVE_INFINITY;
  private held: { value: T } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
    private readonly send: (value: T) => void,
  ) {}

  /** A new progress value: sent now when the interval since the last one has passed, else held (the latest wins). */
  offer(value: T): void {
    this.held = { value };
    const wait = Math.min(this.intervalMs, this.lastAt + this.intervalMs - this.now());
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Sends the held value, if any, now. */
  flush(): void {
    this.cancelTimer();
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    this.lastAt = this.now();
    this.send(held.value);
  }

  /** Drops the held value (the job stopped). */
  cancel(): void {
    this.cancelTimer();
    this.held = undefined;
  }

  private cancelTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
