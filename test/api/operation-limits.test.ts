import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers/api-server.js';
import { insertVm } from '../helpers/fixtures.js';
import { gql, wsClient, wsRequest, type GqlResponse } from '../helpers/graphql.js';

/**
 * What one operation may cost, the same on both transports (graphql-armor's cost, depth, alias
 * and directive rules; graphql-js's token limit; the cost again with the variables' values), fit
 * so that the real dashboard and automation operations pass.
 */

const DASHBOARD = `query Dashboard($first: Int) { virtualMachines(first: $first) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { vmId name spec { cpuCount memoryMb networks { name } } disks { unitNumber sizeGb volumeId } activeJob { jobId status }
    test: readiness(type: TEST) { ready checks { name passed message } } live: readiness(type: LIVE) { ready } } } } }`;

/** The blow-up of the hostile client: k aliases at each of 4 levels of fragments below a 500-VM page. */
function blowUp(k: number): string {
  const aliases = (inner: string) => Array.from({ length: k }, (_, i) => `a${i}: ${inner}`).join(' ');
  return `{ virtualMachines(first: 500) { edges { node { ...V } } } }
fragment V on VirtualMachine { ${aliases('readiness(type: TEST) { ...R }')} }
fragment R on VmReadiness { ${aliases('checks { ...C }')} }
fragment C on ReadinessCheck { ${aliases('message')} }`;
}

const CASES: [string, string, Record<string, unknown>, string, RegExp][] = [
  ['the alias-and-fragment blow-up (k = 10)', blowUp(10), {}, 'GRAPHQL_VALIDATION_FAILED', /alias|Cost limit/i],
  [
    '16 aliases',
    `{ virtualMachines { edges { node { ${Array.from({ length: 16 }, (_, i) => `a${i}: vmId`).join(' ')} } } } }`,
    {},
    'GRAPHQL_VALIDATION_FAILED',
    /Aliases limit of 15 exceeded/,
  ],
  ['11 directives', `{ __typename ${Array(11).fill('@include(if: true)').join(' ')} }`, {}, 'GRAPHQL_VALIDATION_FAILED', /Directives limit of 10 exceeded/],
  ['over 5,000 tokens', `{ ${Array(5_100).fill('__typename').join(' ')} }`, {}, 'GRAPHQL_PARSE_FAILED', /Document contains more that 5000 tokens/],
  [
    'a cheap-looking page made costly by a variable',
    `query ($n: Int) { virtualMachines(first: $n) { edges { node { ${Array.from({ length: 14 }, (_, i) => `r${i}: readiness(type: TEST) { ready checks { name passed message } }`).join(' ')} } } } }`,
    { n: 500 },
    'GRAPHQL_VALIDATION_FAILED',
    /Cost limit of 100000 exceeded/,
  ],
];

describe('operation limits on HTTP and WebSocket', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('operation_limits', { kind: 'sqlite' });
  });
  afterAll(() => api?.close());

  const expectRefused = (result: GqlResponse, code: string, message: RegExp) => {
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe(code);
    expect(result.errors?.[0]?.message).toMatch(message);
  };

  it.each(CASES)('%s is refused on both transports, and the server answers at once after', async (_what, query, variables, code, message) => {
    const http = await gql(api.url, query, variables);
    expect(http.status).toBe(400);
    expectRefused(http, code, message);
    const client = wsClient(api.wsUrl);
    try {
      expectRefused(await wsRequest(client, query, variables), code, message);
      // The same socket goes on.
      expect((await wsRequest(client, '{ virtualMachines { totalCount } }')).data).toEqual({ virtualMachines: { totalCount: 0 } });
    } finally {
      await client.dispose();
    }
    expect((await fetch(api.url.replace('/graphql', '/healthz'))).status).toBe(200);
  });

  it('the README dashboard passes at the largest page, its first given as a literal or a variable', async () => {
    for (const [query, variables] of [
      [DASHBOARD, { first: 500 }],
      [DASHBOARD.replace('$first: Int', '').replace('first: $first', 'first: 500').replace('query Dashboard()', 'query Dashboard'), {}],
    ] as const) {
      const result = await gql(api.url, query, variables);
      expect(result.errors).toBeUndefined();
      expect(result.data).toMatchObject({ virtualMachines: { totalCount: 0 } });
    }
  });

  it('a syntax error over WebSocket answers that operation only: the other subscription on the socket goes on', async () => {
    const client = wsClient(api.wsUrl);
    try {
      const events: unknown[] = [];
      const stop = client.subscribe(
        { query: 'subscription { failoverJobEvents { sequence } }' },
        { next: (v) => events.push(v), error: () => {}, complete: () => {} },
      );
      const broken = await wsRequest(client, '{ virtualMachines { ');
      expect(broken.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
      expect((await wsRequest(client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
      stop();
      expect(events.every((e) => !(e as { errors?: unknown }).errors)).toBe(true);
    } finally {
      await client.dispose();
    }
  });
});

describe('the response size guard', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('response_size', { kind: 'sqlite', maxResponseBytes: 2_000 });
    for (let i = 0; i < 20; i++) await insertVm(api.orm.em, { networks: ['VM Network'] });
  });
  afterAll(() => api?.close());

  it('an answer over the bound is RESPONSE_TOO_LARGE on both transports; a smaller page passes', async () => {
    const big = await gql(api.url, DASHBOARD, { first: 20 });
    expect(big.data ?? null).toBeNull();
    expect(big.errors?.[0]?.extensions?.code).toBe('RESPONSE_TOO_LARGE');
    const client = wsClient(api.wsUrl);
    try {
      expect((await wsRequest(client, DASHBOARD, { first: 20 })).errors?.[0]?.extensions?.code).toBe('RESPONSE_TOO_LARGE');
    } finally {
      await client.dispose();
    }
    const small = await gql(api.url, '{ virtualMachines(first: 2) { totalCount edges { node { vmId } } } }');
    expect(small.errors).toBeUndefined();
    expect(small.data?.virtualMachines.totalCount).toBe(20);
  });
});
