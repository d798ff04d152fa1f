import { FaultSpecError, parseFaultSpec, type FaultInjector } from './faults.js';
import type { SimulatorSnapshot } from './simulator.state.js';

/**
 * The simulator's admin endpoint (no CloudStack signature: it is a test fixture, bound to loopback
 * by default). Routes:
 * - `GET /admin/state[?jobs=true]`: the whole state (as `getState()`);
 * - `POST /admin/reset`: back to the seeded world, faults cleared;
 * - `GET /admin/faults`: installed faults and per-command call counts;
 * - `POST /admin/faults` with a fault as JSON: installs it (201, the fault with its id);
 * - `DELETE /admin/faults`: removes all; `DELETE /admin/faults/<id>`: removes one;
 * - `GET|PUT /admin/config` with `{"jobLatencyMs": n}`: reads/changes the job latency.
 */

/** What the admin endpoint acts on. */
export interface AdminTarget {
  readonly faults: FaultInjector;
  getState(options?: { jobs?: boolean }): SimulatorSnapshot;
  reset(): void;
  readonly jobLatencyMs: number;
  setJobLatency(ms: number): void;
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
    if (one && method === 'DELETE') return target.faults.remove(Number(one[1])) ? { status: 200, body: { removed: Number(one[1]) } } : problem(404, 'no such fault');
    if (path === '/admin/config') {
      if (method === 'PUT') {
        const config = parseJson(body) as { jobLatencyMs?: unknown } | undefined;
        const ms = config?.jobLatencyMs;
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return problem(400, 'jobLatencyMs must be a number ≥ 0');
        target.setJobLatency(ms);
      }
      if (method === 'PUT' || method === 'GET') return { status: 200, body: { jobLatencyMs: target.jobLatencyMs } };
    }
    return problem(404, `no admin route ${method} ${path}`);
  } catch (error) {
    if (error instanceof FaultSpecError) return problem(400, error.message);
    throw error;
  }
}
