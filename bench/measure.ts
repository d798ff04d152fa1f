import { performance } from 'node:perf_hooks';

/** `--quick` (CI): small sizes and few iterations, only to prove that every benchmark still runs. */
export const QUICK = process.argv.includes('--quick');

/** How many timed runs each measurement makes (after 10 warm-up runs): `BENCH_ITERATIONS`, default 100 (10 with `--quick`). */
export const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? (QUICK ? 10 : 100));

/** Median and 95th percentile of samples (ms). */
export function stats(samples: number[]): { median: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p95: at(0.95) };
}

/** Runs `fn` 10 times to warm up, then {@link ITERATIONS} times one after another; returns each run's ms. */
export async function time(fn: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 10; i++) await fn(i);
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = performance.now();
    await fn(i);
    samples.push(performance.now() - start);
  }
  return samples;
}
