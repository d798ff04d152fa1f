import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { CloudStackClient, type CloudStackClientOptions } from '../../src/cloudstack/cloudstack.client.js';
import type { DeployVirtualMachineParams } from '../../src/cloudstack/cloudstack.port.js';
import { canonicalString, computeSignature } from '../../src/cloudstack/signing.js';
import { DEMO_NETWORKS } from '../../src/demo/demo-world.js';
import type { CloudStackLogger } from '../../src/cloudstack/logger.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/cloudstack/simulator/simulator.server.js';

/** Test helpers for the CloudStack client and simulator: fast settings, captured logs, disposers. */

/** Client settings that keep tests fast: short polls, short retry delays, short deadlines. */
export const FAST_CLIENT: Partial<CloudStackClientOptions> = {
  pollBackoff: { initialMs: 5, maxMs: 20, multiplier: 1.5 },
  retryBackoff: { initialMs: 2, maxMs: 10, multiplier: 2 },
  requestTimeoutMs: 2_000,
  operationDeadlineMs: 10_000,
};

/** One captured log line. */
export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string;
}

/** A logger that keeps what it is given, and the text of it all for "never contains" checks. */
export function captureLogger(): CloudStackLogger & { readonly records: LogRecord[]; text(): string } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (obj: object, msg: string) => void records.push({ level, obj, msg });
  return {
    records,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => records.map((r) => `${r.msg} ${JSON.stringify(r.obj)}`).join('\n'),
  };
}

/** Collects cleanups; `dispose()` runs them newest first. */
export class Disposers {
  private readonly items: (() => unknown)[] = [];
  add<T>(item: T, dispose: (item: T) => unknown): T {
    this.items.push(() => dispose(item));
    return item;
  }
  async dispose(): Promise<void> {
    for (const item of this.items.splice(0).reverse()) await item();
  }
}

/** A simulator and a client pointed at it. */
export interface Cloud {
  readonly sim: Simulator;
  readonly client: CloudStackClient;
  readonly logs: ReturnType<typeof captureLogger>;
  /** Another client on the same simulator with other settings. */
  clientWith(options: Partial<CloudStackClientOptions>): CloudStackClient;
}

/** Starts a simulator (small job latency) and a fast client; registered with `disposers`. */
export async function startCloud(
  disposers: Disposers,
  { sim: simOptions = {}, client: clientOptions = {} }: { sim?: SimulatorOptions; client?: Partial<CloudStackClientOptions> } = {},
): Promise<Cloud> {
  const sim = disposers.add(await startSimulator({ jobLatencyMs: 20, ...simOptions }), (s) => s.close());
  const logs = captureLogger();
  const clientWith = (options: Partial<CloudStackClientOptions>) =>
    new CloudStackClient({ url: sim.url, apiKey: sim.apiKey, secretKey: sim.secretKey, logger: logs, ...FAST_CLIENT, ...clientOptions, ...options });
  return { sim, client: clientWith({}), logs, clientWith };
}

export { waitFor } from './wait.js';

/** Runs `promise` expecting it to reject; returns the rejection. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection, got a result');
}

/** A raw API answer. */
export interface RawResponse {
  readonly status: number;
  readonly description: string | null;
  readonly json: Record<string, Record<string, unknown>>;
}

/**
 * Sends parameters exactly as given (names, case and order untouched) to `apiUrl`, by GET or
 * form POST; `signWith` adds a signature computed over those names with that secret.
 */
export async function sendRaw(
  apiUrl: string,
  pairs: readonly (readonly [string, string])[],
  { method = 'GET', signWith }: { method?: 'GET' | 'POST'; signWith?: string } = {},
): Promise<RawResponse> {
  const all = signWith === undefined ? [...pairs] : [...pairs, ['signature', computeSignature(canonicalString(pairs), signWith)] as const];
  const encoded = all.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&');
  const response =
    method === 'GET'
      ? await fetch(`${apiUrl}?${encoded}`)
      : await fetch(apiUrl, { method: 'POST', body: encoded, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  return { status: response.status, description: response.headers.get('x-description'), json: (await response.json()) as RawResponse['json'] };
}

/**
 * One simulator + client for a test file: started before all tests, reset to the seeded world
 * (and the job latency to `jobLatencyMs`) before each unless `reset` is false, closed after all.
 * The returned object is filled in by the `beforeAll` hook.
 */
export function useCloud({
  reset = true,
  jobLatencyMs = 20,
  ...options
}: { reset?: boolean; jobLatencyMs?: number } & Parameters<typeof startCloud>[1] = {}): Cloud {
  const disposers = new Disposers();
  const cloud = {} as Cloud;
  beforeAll(async () => {
    Object.assign(cloud, await startCloud(disposers, options));
  });
  if (reset) {
    beforeEach(() => {
      cloud.sim.reset();
      cloud.sim.setJobLatency(jobLatencyMs);
    });
  }
  afterAll(() => disposers.dispose());
  return cloud;
}

/** deployVirtualMachine parameters for the seeded world: the test network, 2 CPUs, 2 GB. */
export function deployParams(sim: Simulator, overrides: Partial<DeployVirtualMachineParams> = {}): DeployVirtualMachineParams {
  return {
    zoneId: sim.ids.zoneId,
    serviceOfferingId: sim.ids.serviceOfferingId,
    templateId: sim.ids.templateId,
    networkIds: [DEMO_NETWORKS.find((n) => n.isTest)!.id],
    cpuNumber: 2,
    memoryMb: 2048,
    ...overrides,
  };
}

/** Calls `command` by hand (lowercase names, signed, no expires) with extra parameters as given. */
export function callRaw(
  sim: Simulator,
  command: string,
  extra: readonly (readonly [string, string])[] = [],
  { method = 'GET' as 'GET' | 'POST' } = {},
): Promise<RawResponse> {
  return sendRaw(sim.apiUrl, [['command', command], ['apikey', sim.apiKey], ['response', 'json'], ...extra], { method, signWith: sim.secretKey });
}

/** A loopback port nothing listens on (a server bound it, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
