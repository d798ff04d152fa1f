import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { gql, wsClient, wsRequest } from '../helpers/graphql.js';
import { startApi, type ApiHarness } from '../helpers/api-server.js';
import { insertVm, type VmFixture } from '../helpers/fixtures.js';
import { Role } from '../../src/roles.js';

/** Host and Origin checks, CORS, per-caller rate limits and shared readiness answers (MariaDB, HTTP and WebSocket). */

/** A raw HTTP request with headers fetch would not let us set (Host). */
function raw(
  url: string,
  { method = 'POST', headers = {}, body = '{"query":"{ __typename }"}' }: { method?: string; headers?: Record<string, string>; body?: string },
) {
  const target = new URL(url);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method,
        headers: { 'content-type': 'application/json', ...headers },
        setHost: !('host' in headers),
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    if (method !== 'GET' && method !== 'OPTIONS') req.write(body);
    req.end();
  });
}

/** The status of a WebSocket upgrade with these headers (101 when accepted). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { headers });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', () => {});
  });
}

describe('Host and Origin', () => {
  let api: ApiHarness;
  let own: string;
  beforeAll(async () => {
    api = await startApi('origins', { origins: { allowedOrigins: ['https://dash.example.com'] } });
    own = new URL(api.url).origin;
  });
  afterAll(() => api?.close());

  it('HTTP: an unknown Host is 421 HOST_NOT_ALLOWED (DNS rebinding); a foreign or null Origin is 403 ORIGIN_NOT_ALLOWED; none, or an allowed one, passes', async () => {
    const port = new URL(api.url).port;
    const host = await raw(api.url, { headers: { host: `attacker.example:${port}` } });
    expect([host.status, JSON.parse(host.body).errors[0].extensions.code]).toEqual([421, 'HOST_NOT_ALLOWED']);
    for (const origin of ['https://evil.example', 'null', own]) {
      const refused = await raw(api.url, { headers: { origin } });
      expect([origin, refused.status, JSON.parse(refused.body).errors[0].extensions.code]).toEqual([origin, 403, 'ORIGIN_NOT_ALLOWED']);
    }
    for (const headers of [{}, { origin: 'https://dash.example.com' }, { host: `localhost:${port}` }] as Record<string, string>[]) {
      const ok = await raw(api.url, { headers });
      expect([ok.status, JSON.parse(ok.body)]).toEqual([200, { data: { __typename: 'Query' } }]);
    }
    // Probes are checked too: a rebinding page learns nothing.
    expect((await raw(api.url.replace('/graphql', '/healthz'), { method: 'GET', headers: { host: 'attacker.example' } })).status).toBe(421);
  });

  it('CORS is explicit: an allowed origin gets its preflight and headers, no credentials; a foreign one none', async () => {
    const preflight = await raw(api.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://dash.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://dash.example.com');
    expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/authorization/);
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
    const foreign = await raw(api.url, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(foreign.status).toBe(403);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('WebSocket: the upgrade is refused (403/421) for a foreign or null Origin and an unknown Host, before any frame', async () => {
    expect(await upgradeStatus(api.wsUrl, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(api.wsUrl, { origin: 'null' })).toBe(403);
    expect(await upgradeStatus(api.wsUrl, { host: 'attacker.example' })).toBe(421);
    expect(await upgradeStatus(api.wsUrl, { origin: 'https://dash.example.com' })).toBe(101);
    expect(await upgradeStatus(api.wsUrl, {})).toBe(101);
  });

  it('by default only the service’s own origin is allowed', async () => {
    const plain = await startApi('origins_default');
    try {
      const mine = new URL(plain.url).origin;
      expect((await raw(plain.url, { headers: { origin: mine } })).status).toBe(200);
      expect((await raw(plain.url, { headers: { origin: mine.replace('127.0.0.1', 'localhost') } })).status).toBe(200);
      expect((await raw(plain.url, { headers: { origin: 'http://127.0.0.1:1' } })).status).toBe(403);
      expect(await upgradeStatus(plain.wsUrl, { origin: mine })).toBe(101);
      expect(await upgradeStatus(plain.wsUrl, { origin: 'http://127.0.0.1:1' })).toBe(403);
    } finally {
      await plain.close();
    }
  });
});

describe('rate limits and shared readiness', () => {
  let api: ApiHarness;
  let vm: VmFixture;
  const A = 'operator-a-0123456789abcdef';
  const B = 'operator-b-0123456789abcdef';
  beforeAll(async () => {
    api = await startApi('rates', {
      apiTokens: [
        { role: Role.OPERATOR, token: A },
        { role: Role.OPERATOR, token: B },
      ],
      rateLimits: { mutations: 3, cloudQueries: 5, windowSeconds: 60 },
      readinessShareMs: 60_000,
    });
    vm = await insertVm(api.orm.em);
    await api.services.mirrorDatabase();
  });
  afterAll(() => api?.close());

  it('mutations over a caller’s budget are RATE_LIMITED (429, Retry-After) on both transports; another caller is not affected', async () => {
    const cleanup = 'mutation { cleanupTestFailover(jobId: "nope") { jobId } }';
    for (let i = 0; i < 3; i++) expect((await gql(api.url, cleanup, {}, { authorization: `Bearer ${A}` })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const limited = await gql(api.url, cleanup, {}, { authorization: `Bearer ${A}` });
    expect(limited.status).toBe(429);
    expect(limited.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    const socket = wsClient(api.wsUrl, { connectionParams: { authorization: `Bearer ${A}` } });
    try {
      expect((await wsRequest(socket, cleanup)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    } finally {
      await socket.dispose();
    }
    expect((await gql(api.url, cleanup, {}, { authorization: `Bearer ${B}` })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('each vmReadiness alias costs one; concurrent askers share one evaluation, so the cloud is asked once per VM', async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `r${i}: vmReadiness(vmId: "${vm.vmId}", type: TEST) { ready }`).join(' ')} }`;
    const before = api.services.cloud.faults.calls();
    const answers = await Promise.all([gql(api.url, aliases(5), {}, { authorization: `Bearer ${B}` })]);
    expect(Object.values(answers[0]!.data!).every((r) => (r as { ready: boolean }).ready)).toBe(true);
    const after = api.services.cloud.faults.calls();
    const asked = (command: string) => (after[command] ?? 0) - (before[command] ?? 0);
    // Five aliases, one evaluation: each cloud check asked once.
    expect(asked('listVolumes')).toBe(1);
    expect(asked('listNetworks')).toBe(1);
    const over = await gql(api.url, aliases(1), {}, { authorization: `Bearer ${B}` });
    expect(over.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });
});
