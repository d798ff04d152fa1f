import type { CloudIds } from '../cloudstack.types.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DEMO_APPLIANCE_VMS, DEMO_SERVICE_OFFERING, DEMO_TEMPLATE, DEMO_ZONE } from '../../demo/demo-world.js';
import { silentLogger, type CloudStackLogger } from '../logger.js';
import type { ParamPair } from '../signing.js';
import { FaultInjector, FaultSpecError, parseFaultSpec } from './faults.js';
import { errorAnswer, SimulatedApi } from './simulator.api.js';
import { CloudJobRunner, recoverInterruptedJobs } from './simulator.jobs.js';
import { SimApiError } from './simulator.params.js';
import { seedWorld } from './simulator.seed.js';
import { defaultSettings, parseSettings, type SimSettings } from './simulator.settings.js';
import { CloudState, KEEP_FINISHED_JOBS, loadWorld, pruneJobs, saveWorld, StateWriter, type SimulatorSnapshot, type SimWorld } from './simulator.state.js';

/** The fixed key pair of the standalone simulator (`npm run simulator`): demo only, never a real cloud's. */
export const DEMO_API_KEY = 'simulator-demo-api-key-3f6c1e0a9b2d4c7e8f1a2b3c4d5e6f70';
/** The secret of {@link DEMO_API_KEY}. */
export const DEMO_SECRET_KEY = 'simulator-demo-secret-key-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d';

/** How to start a simulator. */
export interface SimulatorOptions {
  /** 0 picks a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly apiKey?: string;
  readonly secretKey?: string;
  /** How long an async job takes, in total. */
  readonly jobLatencyMs?: number;
  /** Slices of a job (jobprocstatus counts them). */
  readonly jobSteps?: number;
  /** Keep the cloud in this JSON file (read at start when it exists, written after changes, coalesced). */
  readonly stateFile?: string;
  /** Finished jobs kept (queryAsyncJobResult forgets older ones); running jobs are always kept. Default 500. */
  readonly keepFinishedJobs?: number;
  /** Start from the demo world (true) or from an empty cloud (false) when there is no state file. */
  readonly seed?: boolean;
  /** Settings of a fresh world (a reset keeps them); the rest are a stock 4.18–4.21 KVM cloud's. */
  readonly settings?: Partial<SimSettings>;
  readonly logger?: CloudStackLogger;
}

/**
 * The simulator's admin endpoint (no CloudStack signature: it is a test fixture, bound to loopback
 * by default). Routes:
 * - `GET /admin/state[?jobs=true]`: the whole state (as `getState()`);
 * - `POST /admin/reset`: back to the seeded world, faults cleared;
 * - `GET /admin/faults`: installed faults and per-command call counts;
 * - `POST /admin/faults` with a fault as JSON: installs it (201, the fault with its id);
 * - `DELETE /admin/faults`: removes all; `DELETE /admin/faults/<id>`: removes one;
 * - `GET|PUT /admin/config` with `{"jobLatencyMs": n}`: reads/changes the job latency;
 * - `GET|PUT /admin/settings`: reads / changes the management server's settings (a partial
 *   {@link SimSettings} as JSON; unknown names and wrong types are refused with 400).
 */

/** What the admin endpoint acts on. */
export interface AdminTarget {
  readonly faults: FaultInjector;
  getState(options?: { jobs?: boolean }): SimulatorSnapshot;
  reset(): void;
  readonly jobLatencyMs: number;
  setJobLatency(ms: number): void;
  /** The management server's settings as they are now. */
  readonly settings: SimSettings;
  /** Changes some settings (the others stay); returns them all. */
  configure(settings: Partial<SimSettings>): SimSettings;
}

/** An admin answer. */
export interface AdminAnswer {
  readonly status: number;
  readonly body: unknown;
}

const problem = (status: number, error: string): AdminAnswer => ({ status, body: { error } });

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new FaultSpecError('the body is not valid JSON');
  }
}

/** Handles one admin request. */
export function handleAdmin(method: string, url: URL, body: string, target: AdminTarget): AdminAnswer {
  const path = url.pathname.replace(/\/+$/, '');
  try {
    if (path === '/admin/state' && method === 'GET') return { status: 200, body: target.getState({ jobs: url.searchParams.get('jobs') === 'true' }) };
    if (path === '/admin/reset' && method === 'POST') {
      target.reset();
      return { status: 200, body: { reset: true } };
    }
    if (path === '/admin/faults') {
      if (method === 'GET') return { status: 200, body: { faults: target.faults.list(), calls: target.faults.calls() } };
      if (method === 'POST') return { status: 201, body: target.faults.add(parseFaultSpec(parseJson(body))) };
      if (method === 'DELETE') {
        target.faults.clear();
        return { status: 200, body: { cleared: true } };
      }
    }
    const one = /^\/admin\/faults\/(\d+)$/.exec(path);
    if (one && method === 'DELETE')
      return target.faults.remove(Number(one[1])) ? { status: 200, body: { removed: Number(one[1]) } } : problem(404, 'no such fault');
    if (path === '/admin/config') {
      if (method === 'PUT') {
        const config = parseJson(body) as { jobLatencyMs?: unknown } | undefined;
        const ms = config?.jobLatencyMs;
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return problem(400, 'jobLatencyMs must be a number ≥ 0');
        target.setJobLatency(ms);
      }
      if (method === 'PUT' || method === 'GET') return { status: 200, body: { jobLatencyMs: target.jobLatencyMs } };
    }
    if (path === '/admin/settings') {
      if (method === 'PUT') {
        const parsed = parseSettings(parseJson(body));
        if (typeof parsed === 'string') return problem(400, parsed);
        return { status: 200, body: target.configure(parsed) };
      }
      if (method === 'GET') return { status: 200, body: target.settings };
    }
    return problem(404, `no admin route ${method} ${path}`);
  } catch (error) {
    if (error instanceof FaultSpecError) return problem(400, error.message);
    throw error;
  }
}

/** A running simulator. */
export interface Simulator extends AdminTarget {
  /** Base URL, e.g. `http://127.0.0.1:39811` (the API is at `/client/api`). */
  readonly url: string;
  /** The API endpoint. */
  readonly apiUrl: string;
  readonly apiKey: string;
  readonly secretKey: string;
  /** The ids of the seeded world, as the service's CLOUDSTACK_* settings want them. */
  readonly ids: CloudIds;
  readonly faults: FaultInjector;
  /** Jobs found in progress in the state file at start, now failed. */
  readonly recoveredJobs: number;
  /** A deep copy of the cloud (JSON-serialisable); jobs only when asked for. */
  getState(options?: { jobs?: boolean }): SimulatorSnapshot;
  /** Changes the cloud directly (tests preparing odd situations); persisted like any change. */
  update(mutate: (world: SimWorld) => void): void;
  /** Back to the seeded (or empty) world; running jobs are abandoned, faults cleared. */
  reset(): void;
  setJobLatency(ms: number): void;
  readonly jobLatencyMs: number;
  /** Resolves when no API request is being handled and no job is running. */
  idle(): Promise<void>;
  /** Stops serving (running jobs stay in progress) and resolves once the last state is on disk. */
  close(): Promise<void>;
}

const emptyWorld = (): SimWorld => ({
  version: 1,
  settings: defaultSettings(),
  projects: [],
  zones: [],
  templates: [],
  serviceOfferings: [],
  networks: [],
  vms: [],
  volumes: [],
  snapshots: [],
  vmSnapshots: [],
  jobs: [],
});
const MAX_BODY = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new SimApiError(413, 'request body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, description?: string): void {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8' };
  if (description) headers['x-description'] = description.replace(/[^\x20-\x7e]/g, '?');
  res.writeHead(status, headers).end(JSON.stringify(body));
}

/**
 * Starts a CloudStack simulator: `/client/api` (GET and POST, signed as CloudStack wants) over a
 * seeded or persisted cloud, plus the `/admin` endpoint. Close it with `close()`.
 */
export async function startSimulator({
  port = 0,
  host = '127.0.0.1',
  apiKey = DEMO_API_KEY,
  secretKey = DEMO_SECRET_KEY,
  jobLatencyMs = 200,
  jobSteps = 4,
  stateFile,
  keepFinishedJobs = KEEP_FINISHED_JOBS,
  seed = true,
  settings,
  logger = silentLogger,
}: SimulatorOptions = {}): Promise<Simulator> {
  const fresh = (): SimWorld => {
    const world = seed ? seedWorld() : emptyWorld();
    return { ...world, settings: { ...world.settings, ...settings } };
  };
  const stored = stateFile === undefined ? undefined : loadWorld(stateFile);
  const state = new CloudState(stored ?? fresh());
  const recoveredJobs = stored ? recoverInterruptedJobs(state) : 0;
  pruneJobs(state.world, keepFinishedJobs);
  const writer = stateFile === undefined ? undefined : new StateWriter(() => saveWorld(stateFile, state.world), logger);
  const persist = () => writer?.schedule();
  persist();
  await writer?.flush(); // a state file that cannot be written fails the start
  let latency = jobLatencyMs;
  const newRunner = () => new CloudJobRunner({ state, latencyMs: () => latency, steps: jobSteps, onChange: persist, keepFinishedJobs, logger });
  let runner = newRunner();
  const faults = new FaultInjector();
  const api = new SimulatedApi({ state, credentials: { apiKey, secretKey }, faults, jobs: () => runner, onChange: persist, logger });

  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<unknown>>();
  const simulator = {} as Simulator;
  const server = createServer((req, res) => {
    void serve(req, res).catch((error: unknown) => {
      logger.error({ error: String(error) }, 'simulator: request failed');
      if (!res.headersSent) sendJson(res, error instanceof SimApiError ? error.errorCode : 500, { error: String((error as Error).message ?? error) });
    });
  });
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const method = req.method ?? 'GET';
    const body = method === 'GET' || method === 'HEAD' ? '' : await readBody(req);
    if (url.pathname === '/client/api' || url.pathname === '/client/api/') {
      if (method !== 'GET' && method !== 'POST') {
        const answer = errorAnswer('errorresponse', new SimApiError(405, `method ${method} is not allowed`), { csErrorCode: false });
        sendJson(res, answer.status, answer.body, answer.description);
        return;
      }
      const pairs: ParamPair[] = [...url.searchParams];
      const type = req.headers['content-type'] ?? '';
      if (method === 'POST' && (type === '' || type.startsWith('application/x-www-form-urlencoded'))) pairs.push(...new URLSearchParams(body));
      const handling = api.handle(pairs);
      inFlight.add(handling);
      const answer = await handling.finally(() => inFlight.delete(handling));
      if (answer.drop) {
        req.socket.destroy();
        return;
      }
      sendJson(res, answer.status, answer.body, answer.description);
      return;
    }
    if (url.pathname.startsWith('/admin')) {
      const answer = handleAdmin(method, url, body, simulator);
      sendJson(res, answer.status, answer.body);
      return;
    }
    sendJson(res, 404, { error: `nothing at ${url.pathname}; the API is at /client/api` });
  }
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  let closed: Promise<void> | undefined;

  Object.assign(simulator, {
    url,
    apiUrl: `${url}/client/api`,
    apiKey,
    secretKey,
    ids: {
      zoneId: DEMO_ZONE.id,
      templateId: DEMO_TEMPLATE.id,
      serviceOfferingId: DEMO_SERVICE_OFFERING.id,
      applianceVmIds: DEMO_APPLIANCE_VMS.map((a) => a.id),
    },
    faults,
    recoveredJobs,
    getState: ({ jobs = false }: { jobs?: boolean } = {}) => state.snapshotWorld({ jobs }),
    update: (mutate: (world: SimWorld) => void) => {
      mutate(state.world);
      persist();
    },
    reset: () => {
      runner.close();
      state.world = fresh();
      runner = newRunner();
      faults.clear();
      persist();
    },
    setJobLatency: (ms: number) => {
      latency = ms;
    },
    configure: (changes: Partial<SimSettings>) => {
      Object.assign(state.world.settings, changes);
      persist();
      return { ...state.world.settings };
    },
    idle: async () => {
      for (;;) {
        if (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        await runner.idle();
        if (inFlight.size === 0) return;
      }
    },
    close: () =>
      (closed ??= (async () => {
        runner.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
        await writer?.flush();
      })()),
  } satisfies Omit<Simulator, 'jobLatencyMs' | 'settings'>);
  Object.defineProperty(simulator, 'jobLatencyMs', { get: () => latency, enumerable: true });
  Object.defineProperty(simulator, 'settings', { get: () => ({ ...state.world.settings }), enumerable: true });
  logger.info({ url, stateFile, recoveredJobs }, 'cloudstack simulator listening');
  return simulator;
}
