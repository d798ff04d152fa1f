import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AuditEntry, FailoverExecution } from '../../src/entities/index.js';
import { Role } from '../../src/roles.js';
import { insertVm, type VmFixture } from '../helpers/fixtures.js';
import { bearer, gql, wsClient, wsRequest } from '../helpers/graphql.js';
import { startApi, type ApiHarness } from '../helpers/api-server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * API keys, roles and the audit log (MariaDB, the server over HTTP and WebSocket, the built
 * `keys` CLI as a child process).
 */
const repoRoot = join(import.meta.dirname, '..', '..');
const CLI = join(repoRoot, 'dist/src/cli/keys.js');
const BOOTSTRAP_ADMIN = 'admin-bootstrap-token-0123456789';

let api: ApiHarness;
let vm: VmFixture;

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const url = api.database.kind === 'mariadb' ? api.database.url : '';
  return promisify(execFile)(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, DATABASE_URL: url }, timeout: 30_000 });
}

async function createKey(name: string, role: Role): Promise<string> {
  const result = await gql<{ createApiKey: { key: string; apiKey: { name: string; role: string; prefix: string } } }>(
    api.url,
    'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { name role prefix } } }',
    { input: { name, role: role.toUpperCase() } },
    bearer(BOOTSTRAP_ADMIN),
  );
  expect(result.errors).toBeUndefined();
  return result.data!.createApiKey.key;
}

async function auditRows(where: Partial<Record<'actor' | 'operation' | 'outcome' | 'target', string>> = {}) {
  return api.orm.em.fork().find(AuditEntry, where, { orderBy: { id: 'asc' }, disableIdentityMap: true });
}

/** Opens a live subscription on `client`; resolves with the code its socket is closed with. */
function closeCodeOf(client: ReturnType<typeof wsClient>): Promise<number> {
  return new Promise<number>((resolve) => {
    client.subscribe(
      { query: 'subscription { failoverJobEvents { sequence } }' },
      { next: () => {}, error: (event) => resolve((event as { code: number }).code), complete: () => resolve(-1) },
    );
  });
}

beforeAll(async () => {
  api = await startApi('access', { apiTokens: [{ role: Role.ADMIN, token: BOOTSTRAP_ADMIN }], keyRecheckIntervalMs: 100 });
  vm = await insertVm(api.orm.em);
  await api.services.mirrorDatabase();
});
afterAll(() => api?.close());

describe('API keys', () => {
  it('the CLI creates a key (printed once, stored as a hash), lists it without its secret, and revokes it: refused at once on HTTP, its socket closed', async () => {
    const created = await cli('create', '--name', 'ci-operator', '--role', 'operator');
    const key = created.stdout.trim();
    expect(key).toMatch(/^fo_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/created operator key ci-operator .*cannot be shown again/);
    const stored = await api.orm.em.getConnection().execute('SELECT key_hash, key_prefix FROM api_keys WHERE name = ?', ['ci-operator']);
    expect(stored[0].key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(key.split('_').at(-1)!);

    const listed = await cli('list');
    expect(listed.stdout).toMatch(/^NAME\tROLE\tPREFIX/);
    expect(listed.stdout).toContain(`ci-operator\toperator\t${key.slice(3, 19)}`);
    expect(listed.stdout).not.toContain(key);

    expect((await gql(api.url, '{ virtualMachines { totalCount } }', {}, bearer(key))).data).toEqual({ virtualMachines: { totalCount: 1 } });
    const socket = wsClient(api.wsUrl, { connectionParams: { authorization: `Bearer ${key}` } });
    expect((await wsRequest(socket, '{ virtualMachines { totalCount } }')).data).toEqual({ virtualMachines: { totalCount: 1 } });
    // A subscription keeps a socket open until the key is revoked; its sink hears the close.
    const closed = closeCodeOf(socket);

    const revoked = await cli('revoke', 'ci-operator');
    expect(revoked.stdout).toMatch(/^revoked ci-operator/);
    const refused = await gql(api.url, '{ virtualMachines { totalCount } }', {}, bearer(key));
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await closed).toBe(4403);
    await socket.dispose();
    const again = wsClient(api.wsUrl, { connectionParams: { authorization: `Bearer ${key}` } });
    await expect(wsRequest(again, '{ __typename }')).rejects.toMatchObject({ code: 4403 });
    await again.dispose();

    const byCli = (await auditRows()).filter((r) => r.actor.startsWith('cli:'));
    expect(byCli.map((r) => [r.operation, r.target, r.outcome, r.transport])).toEqual([
      ['createApiKey', 'ci-operator', 'ok', 'cli'],
      ['revokeApiKey', 'ci-operator', 'ok', 'cli'],
    ]);
  });

  it('revokeApiKey closes the key’s sockets at once; a name is never reused; a bad name or role is BAD_USER_INPUT', async () => {
    const key = await createKey('dash-viewer', Role.VIEWER);
    const socket = wsClient(api.wsUrl, { connectionParams: { authorization: `Bearer ${key}` } });
    const closed = closeCodeOf(socket);
    await waitFor(
      async () =>
        (await gql(api.url, '{ apiKeys { name lastUsedAt } }', {}, bearer(BOOTSTRAP_ADMIN))).data?.apiKeys.find(
          (k: { name: string; lastUsedAt: string | null }) => k.name === 'dash-viewer',
        )?.lastUsedAt,
      { what: 'the key used' },
    );
    const revoke = await gql(api.url, 'mutation { revokeApiKey(name: "dash-viewer") { name revokedAt } }', {}, bearer(BOOTSTRAP_ADMIN));
    expect(revoke.data?.revokeApiKey.revokedAt).toBeTruthy();
    expect(await closed).toBe(4403);
    await socket.dispose();

    const reuse = await gql(api.url, 'mutation { createApiKey(input: { name: "dash-viewer", role: ADMIN }) { key } }', {}, bearer(BOOTSTRAP_ADMIN));
    expect(reuse.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'name' } });
    const bad = await gql(api.url, 'mutation { createApiKey(input: { name: "no spaces allowed", role: VIEWER }) { key } }', {}, bearer(BOOTSTRAP_ADMIN));
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'name' } });
    const unknown = await gql(api.url, 'mutation { revokeApiKey(name: "nobody") { name } }', {}, bearer(BOOTSTRAP_ADMIN));
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const listed = await gql(api.url, '{ apiKeys { name role prefix revokedAt } }', {}, bearer(BOOTSTRAP_ADMIN));
    expect(JSON.stringify(listed.data)).not.toContain(key);
  });
});

/** Every root field, the weakest role that may use it, and a harmless call of it. */
const OPERATIONS: Record<string, { role: Role; document: string }> = {
  virtualMachines: { role: Role.VIEWER, document: '{ virtualMachines(first: 1) { totalCount } }' },
  vmReadiness: { role: Role.VIEWER, document: '{ vmReadiness(vmId: "nope", type: TEST) { ready } }' },
  failoverJob: { role: Role.VIEWER, document: '{ failoverJob(jobId: "nope") { jobId } }' },
  failoverJobs: { role: Role.VIEWER, document: '{ failoverJobs(first: 1) { totalCount } }' },
  networkMappings: { role: Role.VIEWER, document: '{ networkMappings(vmId: "nope") { id } }' },
  // Replays the stored events (the audit tests, which run first, made a job): its first answer is an event.
  failoverJobEvents: { role: Role.VIEWER, document: 'subscription { failoverJobEvents(afterSequence: 0) { sequence } }' },
  startTestFailover: { role: Role.OPERATOR, document: 'mutation { startTestFailover(input: { vmId: "nope" }) { jobId } }' },
  startLiveFailover: { role: Role.OPERATOR, document: 'mutation { startLiveFailover(input: { vmId: "nope" }) { jobId } }' },
  cleanupTestFailover: { role: Role.OPERATOR, document: 'mutation { cleanupTestFailover(jobId: "nope") { jobId } }' },
  revertFailover: { role: Role.OPERATOR, document: 'mutation { revertFailover(jobId: "nope") { jobId } }' },
  setNetworkMapping: {
    role: Role.ADMIN,
    document:
      'mutation { setNetworkMapping(input: { vmId: "nope", sourceNetworkName: "VM Network", destinationNetworkId: "n", destinationNetworkName: "n", isTestNetwork: true }) { id } }',
  },
  deleteNetworkMapping: {
    role: Role.ADMIN,
    document: 'mutation { deleteNetworkMapping(input: { vmId: "nope", sourceNetworkName: "VM Network", isTestNetwork: true }) { id } }',
  },
  apiKeys: { role: Role.ADMIN, document: '{ apiKeys { name } }' },
  createApiKey: { role: Role.ADMIN, document: 'mutation { createApiKey(input: { name: "bad name!", role: VIEWER }) { key } }' },
  revokeApiKey: { role: Role.ADMIN, document: 'mutation { revokeApiKey(name: "nobody") { name } }' },
  auditLog: { role: Role.ADMIN, document: '{ auditLog(first: 1) { edges { node { id } } } }' },
  recoveryPlans: { role: Role.VIEWER, document: '{ recoveryPlans(first: 1) { edges { cursor } } }' },
  recoveryPlan: { role: Role.VIEWER, document: '{ recoveryPlan(id: "999999") { id } }' },
  planExecution: { role: Role.VIEWER, document: '{ planExecution(id: "999999") { id } }' },
  // A malformed id: the answer (BAD_USER_INPUT) comes at once for whoever may subscribe.
  planExecutionEvents: { role: Role.VIEWER, document: 'subscription { planExecutionEvents(executionId: "nope") { sequence } }' },
  createRecoveryPlan: { role: Role.OPERATOR, document: 'mutation { createRecoveryPlan(input: { name: "", waves: [] }) { id } }' },
  updateRecoveryPlan: {
    role: Role.OPERATOR,
    document: 'mutation { updateRecoveryPlan(id: "999999", input: { name: "x", waves: [{ vmIds: ["nope"] }] }) { id } }',
  },
  deleteRecoveryPlan: { role: Role.OPERATOR, document: 'mutation { deleteRecoveryPlan(id: "999999") { id } }' },
  startPlanExecution: { role: Role.OPERATOR, document: 'mutation { startPlanExecution(input: { planId: "999999", type: TEST }) { id } }' },
  cancelPlanExecution: { role: Role.OPERATOR, document: 'mutation { cancelPlanExecution(id: "999999") { id } }' },
  cleanupPlanExecution: { role: Role.OPERATOR, document: 'mutation { cleanupPlanExecution(id: "999999") { id } }' },
  revertPlanExecution: { role: Role.OPERATOR, document: 'mutation { revertPlanExecution(id: "999999") { id } }' },
};

/** The code of the first error of one operation over a transport (null: no error), ended at its first answer. */
async function codeOver(transport: 'http' | 'ws', key: string, document: string): Promise<string | null> {
  if (transport === 'http' && !document.startsWith('subscription')) {
    return ((await gql(api.url, document, {}, bearer(key))).errors?.[0]?.extensions?.code as string | undefined) ?? null;
  }
  if (transport === 'http') {
    const result = await gql(api.url, document, {}, bearer(key));
    return (result.errors?.[0]?.extensions?.code as string | undefined) ?? null;
  }
  const client = wsClient(api.wsUrl, { connectionParams: { authorization: `Bearer ${key}` } });
  try {
    return await new Promise<string | null>((resolve, reject) => {
      const stop = client.subscribe(
        { query: document },
        {
          next: (value) => {
            stop();
            resolve((value.errors?.[0]?.extensions?.code as string | undefined) ?? null);
          },
          error: (error) => (Array.isArray(error) ? resolve((error[0]?.extensions?.code as string | undefined) ?? null) : reject(error as Error)),
          complete: () => resolve(null),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

describe('the audit log', () => {
  it('records every mutation with who, how, what and the outcome; a refusal (FORBIDDEN too) with its code; jobs and events carry requestedBy', async () => {
    const operator = await createKey('audit-operator', Role.OPERATOR);
    const viewer = await createKey('audit-viewer', Role.VIEWER);
    const start = 'mutation ($vmId: String!) { startTestFailover(input: { vmId: $vmId }) { jobId requestedBy flowRequestedBy } }';
    const denied = await gql(api.url, start, { vmId: vm.vmId }, bearer(viewer));
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Three starts race over WebSocket: one job, two refusals; one `ok` record, written with the job.
    const sockets = [0, 1, 2].map(() => wsClient(api.wsUrl, { connectionParams: { authorization: `Bearer ${operator}` } }));
    const answers = await Promise.all(
      sockets.map((s) => wsRequest<{ startTestFailover: { jobId: string; requestedBy: string; flowRequestedBy: string } }>(s, start, { vmId: vm.vmId })),
    );
    await Promise.all(sockets.map((s) => s.dispose()));
    const won = answers.filter((a) => a.data?.startTestFailover);
    expect(won).toHaveLength(1);
    const job = won[0]!.data!.startTestFailover;
    expect(job).toMatchObject({ requestedBy: 'audit-operator', flowRequestedBy: 'audit-operator' });

    const rows = await auditRows({ operation: 'startTestFailover' });
    const mine = rows.filter((r) => r.actor === 'audit-operator' || r.actor === 'audit-viewer');
    expect(mine.map((r) => [r.actor, r.actorRole, r.transport, r.outcome, r.errorCode])).toEqual(
      expect.arrayContaining([
        ['audit-viewer', 'viewer', 'http', 'refused', 'FORBIDDEN'],
        ['audit-operator', 'operator', 'ws', 'ok', null],
        ['audit-operator', 'operator', 'ws', 'refused', expect.stringMatching(/JOB_CONFLICT|VM_NOT_READY/)],
        ['audit-operator', 'operator', 'ws', 'refused', expect.stringMatching(/JOB_CONFLICT|VM_NOT_READY/)],
      ]),
    );
    expect(mine).toHaveLength(4);
    const ok = mine.find((r) => r.outcome === 'ok')!;
    expect(ok.target).toBe(job.jobId);
    expect(ok.source).toMatch(/127\.0\.0\.1/);
    expect(JSON.parse(ok.arguments!)).toEqual({ input: { vmId: vm.vmId } });
    const execution = await api.orm.em.fork().findOneOrFail(FailoverExecution, { jobId: job.jobId }, { disableIdentityMap: true });
    expect(execution.requestedBy).toBe('audit-operator');

    const events = await gql(
      api.url,
      `{ auditLog(first: 2, filter: { actor: "audit-operator", outcome: OK }) { edges { node { operation target actorRole outcome } } pageInfo { hasNextPage } } }`,
      {},
      bearer(BOOTSTRAP_ADMIN),
    );
    expect(events.data?.auditLog.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { operation: 'startTestFailover', target: job.jobId, actorRole: 'OPERATOR', outcome: 'OK' },
    ]);
    // The job's first event names who asked.
    const client = wsClient(api.wsUrl, { connectionParams: { authorization: `Bearer ${operator}` } });
    const first = await new Promise<{ requestedBy: string; status: string }>((resolve, reject) => {
      const stop = client.subscribe<{ failoverJobEvents: { requestedBy: string; status: string } }>(
        {
          query: 'subscription ($jobId: String) { failoverJobEvents(jobId: $jobId, afterSequence: 0) { requestedBy status } }',
          variables: { jobId: job.jobId },
        },
        {
          next: (v) => {
            stop();
            resolve(v.data!.failoverJobEvents);
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await client.dispose();
    expect(first).toEqual({ requestedBy: 'audit-operator', status: 'PENDING' });
  });

  it('auditLog pages newest first, filters, and is for admins only', async () => {
    const page1 = await gql(api.url, '{ auditLog(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }', {}, bearer(BOOTSTRAP_ADMIN));
    const ids = page1.data!.auditLog.edges.map((e: { node: { id: string } }) => Number(e.node.id));
    expect(ids[0]).toBeGreaterThan(ids[1]);
    expect(page1.data!.auditLog.pageInfo.hasNextPage).toBe(true);
    const page2 = await gql(
      api.url,
      '{ auditLog(first: 2, after: "' + page1.data!.auditLog.pageInfo.endCursor + '") { edges { node { id } } } }',
      {},
      bearer(BOOTSTRAP_ADMIN),
    );
    expect(Number(page2.data!.auditLog.edges[0].node.id)).toBeLessThan(ids[1]);
    const bad = await gql(api.url, '{ auditLog(after: "garbage") { edges { node { id } } } }', {}, bearer(BOOTSTRAP_ADMIN));
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    const refusals = await gql(
      api.url,
      '{ auditLog(first: 50, filter: { outcome: REFUSED, operation: "startTestFailover" }) { edges { node { errorCode } } } }',
      {},
      bearer(BOOTSTRAP_ADMIN),
    );
    expect(refusals.data!.auditLog.edges.length).toBeGreaterThan(0);
    expect(refusals.data!.auditLog.edges.every((e: { node: { errorCode: string | null } }) => e.node.errorCode !== null)).toBe(true);
  });
});

describe('roles', () => {
  it('the table names every root field of the schema', async () => {
    const { buildAppSchema } = await import('../../src/server/schema.js');
    const schema = await buildAppSchema();
    const fields = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) => Object.keys(t?.getFields() ?? {}));
    expect(fields.sort()).toEqual(Object.keys(OPERATIONS).sort());
  });

  it('viewer, operator and admin keys: each operation is FORBIDDEN below its role and runs from it up, on both transports', async () => {
    const keys = {
      [Role.VIEWER]: await createKey('matrix-viewer', Role.VIEWER),
      [Role.OPERATOR]: await createKey('matrix-operator', Role.OPERATOR),
      [Role.ADMIN]: await createKey('matrix-admin', Role.ADMIN),
    };
    const ranks = [Role.VIEWER, Role.OPERATOR, Role.ADMIN];
    const seen: string[] = [];
    const expected: string[] = [];
    for (const [name, { role, document }] of Object.entries(OPERATIONS)) {
      for (const caller of ranks) {
        for (const transport of ['http', 'ws'] as const) {
          if (transport === 'http' && document.startsWith('subscription')) continue;
          const code = await codeOver(transport, keys[caller], document);
          const allowed = ranks.indexOf(caller) >= ranks.indexOf(role);
          seen.push(`${name} ${caller} ${transport} ${code === 'FORBIDDEN' ? 'FORBIDDEN' : code === 'UNAUTHENTICATED' ? 'UNAUTHENTICATED' : 'allowed'}`);
          expected.push(`${name} ${caller} ${transport} ${allowed ? 'allowed' : 'FORBIDDEN'}`);
        }
      }
    }
    expect(seen).toEqual(expected);
  });
});

describe('anonymous callers', () => {
  it('without any key or token, the server refuses to listen on a non-loopback address unless ALLOW_ANONYMOUS; on loopback anyone is admin', async () => {
    const { startServer } = await import('../../src/server/http-server.js');
    const { buildAppSchema } = await import('../../src/server/schema.js');
    const { createLogger } = await import('../../src/logger.js');
    const { ApiKey } = await import('../../src/entities/index.js');
    const fresh = await startApi('access_anon');
    try {
      const base = {
        schema: await buildAppSchema(),
        em: fresh.orm.em,
        logger: createLogger({ level: 'silent' }),
        port: 0,
        services: fresh.services.runtime.services,
      };
      await expect(startServer({ ...base, host: '0.0.0.0' })).rejects.toThrow(/ALLOW_ANONYMOUS: refusing to listen on 0\.0\.0\.0 without any API key or token/);
      const open = await startServer({ ...base, host: '0.0.0.0', allowAnonymous: true });
      await open.close();
      // On loopback, no key: anonymous is admin (the embedded default).
      expect((await gql(fresh.url, '{ apiKeys { name } }')).data).toEqual({ apiKeys: [] });
      // The first key turns authentication on (within the recheck interval).
      await fresh.orm.em.fork().insert(ApiKey, { name: 'first', role: 'admin', keyPrefix: '0123456789abcdef', keyHash: '0'.repeat(64), createdAt: new Date() });
      await waitFor(async () => (await gql(fresh.url, '{ __typename }')).status === 401, { timeoutMs: 5_000, what: 'authentication on' });
    } finally {
      await fresh.close();
    }
  });
});

describe('a plain socket without connection_init credentials', () => {
  it('is closed with 4403 when keys exist', async () => {
    const raw = new WebSocket(api.wsUrl, 'graphql-transport-ws');
    await new Promise((resolve) => raw.once('open', resolve));
    raw.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    const code = await new Promise<number>((resolve) => raw.once('close', (c) => resolve(c)));
    expect(code).toBe(4403);
  });
});
