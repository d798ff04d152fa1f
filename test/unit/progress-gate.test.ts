import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressGate } from '../../src/failover/engine/progress-gate.js';
import { PROGRESS_INTERVAL_MS } from '../../src/failover/engine/runner.js';

/** Progress updates of a job are coalesced (at most one per 250 ms, the latest value); a flush — before a status transition — sends a held one at once. */
describe('progress coalescing', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const gate = () => {
    const sent: number[] = [];
    return { sent, gate: new ProgressGate<number>(PROGRESS_INTERVAL_MS, Date.now, (v) => sent.push(v)) };
  };

  it('sends the first update at once, then the latest at most once per interval', () => {
    const { sent, gate: g } = gate();
    expect(PROGRESS_INTERVAL_MS).toBe(250);
    g.offer(10);
    expect(sent).toEqual([10]);
    g.offer(20);
    vi.advanceTimersByTime(100);
    g.offer(30);
    g.offer(40);
    expect(sent).toEqual([10]);
    vi.advanceTimersByTime(149);
    expect(sent).toEqual([10]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([10, 40]);
    // Quiet for longer than the interval: the next one goes out at once.
    vi.advanceTimersByTime(1_000);
    g.offer(50);
    expect(sent).toEqual([10, 40, 50]);
  });

  it('flush sends the held update now and never twice; cancel drops it', () => {
    const { sent, gate: g } = gate();
    g.offer(1);
    g.offer(2);
    g.flush();
    expect(sent).toEqual([1, 2]);
    vi.advanceTimersByTime(1_000);
    expect(sent).toEqual([1, 2]);
    g.offer(3);
    g.offer(4);
    g.cancel();
    vi.advanceTimersByTime(1_000);
    expect(sent).toEqual([1, 2, 3]);
  });
});
