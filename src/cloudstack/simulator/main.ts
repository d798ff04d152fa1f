import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { DEMO_API_KEY, DEMO_SECRET_KEY, startSimulator } from './simulator.server.js';
import type { CloudStackLogger } from '../logger.js';

/**
 * `npm run simulator`: the CloudStack simulator on its own, on port 8080 (PORT / HOST to change;
 * PORT=0 takes any free port, and the printed settings show the one it got), with the fixed demo
 * keys. `--state-file <path>` (or STATE_FILE) keeps the cloud across restarts; `--job-latency-ms
 * <n>` (or JOB_LATENCY_MS) sets how long async jobs take; `--empty` starts without the demo world.
 * Prints the settings that point the service at it. SIGINT/SIGTERM stop it once the state file is
 * written (exit 0; 1 when that last write failed).
 */

const { values } = parseArgs({
  options: {
    'state-file': { type: 'string' },
    'job-latency-ms': { type: 'string' },
    empty: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`simulator: ${message}\n`);
  process.exit(2);
}

const number = (name: string, raw: string | undefined, fallback: number, max: number): number => {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) fail(`${name} must be an integer between 0 and ${max} (got "${raw}")`);
  return n;
};

const port = number('PORT', process.env.PORT, 8080, 65_535);
const host = process.env.HOST || '127.0.0.1';
const jobLatencyMs = number('--job-latency-ms', values['job-latency-ms'] ?? process.env.JOB_LATENCY_MS, 1_000, 600_000);
const stateFileArg = values['state-file'] ?? process.env.STATE_FILE;
const stateFile = stateFileArg ? resolve(stateFileArg) : undefined;

const line = (level: string) => (obj: object, msg: string) => {
  if (!values.quiet || level !== 'debug') process.stdout.write(`${JSON.stringify({ level, msg, ...obj })}\n`);
};
const logger: CloudStackLogger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };

const sim = await startSimulator({ port, host, apiKey: DEMO_API_KEY, secretKey: DEMO_SECRET_KEY, jobLatencyMs, stateFile, seed: !values.empty, logger }).catch(
  (error: unknown) => fail((error as Error).message),
);

process.stdout.write(
  [
    '',
    `CloudStack simulator on ${sim.apiUrl}${stateFile ? ` (state in ${stateFile})` : ' (state in memory)'}`,
    `Admin endpoint: ${sim.url}/admin/state, /admin/faults, /admin/reset, /admin/config`,
    '',
    'Point the service at it with:',
    `  CLOUDSTACK_URL=${sim.url}`,
    `  CLOUDSTACK_API_KEY=${sim.apiKey}`,
    `  CLOUDSTACK_SECRET_KEY=${sim.secretKey}`,
    `  CLOUDSTACK_ZONE_ID=${sim.ids.zoneId}`,
    `  CLOUDSTACK_TEMPLATE_ID=${sim.ids.templateId}`,
    `  CLOUDSTACK_SERVICE_OFFERING_ID=${sim.ids.serviceOfferingId}`,
    `  CLOUDSTACK_APPLIANCE_VM_ID=${sim.ids.applianceVmIds.join(',')}`,
    '',
  ].join('\n'),
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void sim.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`simulator: could not save the state on exit: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  });
}
