/**
 * `npm run bench [-- --quick]`: every benchmark, one process each (each fills its own throw-away
 * database), in turn; the arguments (`--quick`) go to each. Exits non-zero when one fails.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCHMARKS = ['run.js', 'dashboard.js', 'events.js', 'events-instances.js', 'engine.js', 'plans.js'];
const here = dirname(fileURLToPath(import.meta.url));
for (const script of BENCHMARKS) {
  const started = Date.now();
  const { status, signal } = spawnSync(process.execPath, [join(here, script), ...process.argv.slice(2)], { stdio: 'inherit' });
  console.error(`bench: ${script} ${status === 0 ? 'done' : `failed (${signal ?? status})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (status !== 0) process.exit(1);
}
