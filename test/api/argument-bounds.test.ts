import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailoverJob, NetworkMapping } from '../../src/entities/index.js';
import { startApi, type ApiHarness } from '../helpers/api-server.js';
import { gql, wsClient, wsRequest, type GqlResponse } from '../helpers/graphql.js';

/**
 * Every string and list argument has a bound, on both transports: NUL bytes, lone surrogates,
 * over-long strings and over-long lists are refused with BAD_USER_INPUT naming the argument —
 * never echoing the value — before anything runs, and the server answers normally right after.
 */

const JOB = 'query ($id: String!) { failoverJob(jobId: $id) { jobId } }';
const VMS = 'query ($filter: VirtualMachineFilter) { virtualMachines(filter: $filter) { totalCount } }';
const JOBS = 'query ($filter: FailoverJobFilter) { failoverJobs(filter: $filter) { totalCount } }';
const SET = `mutation ($input: SetNetworkMappingInput!) { setNetworkMapping(input: $input) { id } }`;
const START = `mutation ($input: StartFailoverInput!) { startTestFailover(input: $input) { jobId } }`;
const READINESS = 'query ($vmId: String!) { vmReadiness(vmId: $vmId, type: TEST) { ready } }';
const EVENTS = 'subscription ($jobId: String) { failoverJobEvents(jobId: $jobId) { sequence } }';

const huge = 'x'.repeat(1_000_000);
const mapping = (over: Record<string, unknown>) => ({
  vmId: 'vm-1',
  sourceNetworkName: 'VM Network',
  destinationNetworkId: 'n-1',
  destinationNetworkName: 'N',
  isTestNetwork: true,
  ...over,
});

/** [what, query, variables, the field named, the problem's wording]. */
const CASES: [string, string, Record<string, unknown>, string, RegExp][] = [
  ['a NUL byte in an id', JOB, { id: 'job\u0000x' }, 'jobId', /must not contain NUL characters$/],
  ['a lone high surrogate', JOB, { id: 'job\uD800' }, 'jobId', /must be valid Unicode \(a lone surrogate at position 3\)$/],
  ['a lone low surrogate', READINESS, { vmId: '\uDC00vm' }, 'vmId', /lone surrogate at position 0/],
  ['a NUL in a variable no argument uses', JOB, { id: 'j', unused: 'a\u0000' }, '$unused', /NUL/],
  ['a 1 MB job id', JOB, { id: huge }, 'jobId', /^jobId must be at most 255 characters \(got 1000000\)$/],
  ['a 50,000-character search', VMS, { filter: { search: 'y'.repeat(50_000) } }, 'filter.search', /at most 255 characters \(got 50000\)/],
  ['10,000 statuses', JOBS, { filter: { statuses: Array(10_000).fill('COMPLETED') } }, 'filter.statuses', /may hold at most 32 entries \(got 10000\)/],
  ['a NUL in a nested mapping field', SET, { input: mapping({ destinationNetworkName: 'a\u0000' }) }, 'destinationNetworkName', /NUL/],
  [
    'an over-long override name',
    START,
    { input: { vmId: 'vm-1', networkOverrides: [{ sourceNetworkName: huge, destinationNetworkId: 'n' }] } },
    'networkOverrides[0].sourceNetworkName',
    /at most 255/,
  ],
  [
    'too many overrides',
    START,
    { input: { vmId: 'vm-1', networkOverrides: Array.from({ length: 65 }, (_, i) => ({ sourceNetworkName: `n${i}`, destinationNetworkId: 'd' })) } },
    'networkOverrides',
    /may hold at most 64 entries/,
  ],
  ['too many VM ids', VMS, { filter: { vmIds: Array.from({ length: 10_001 }, (_, i) => `vm-${i}`) } }, 'filter.vmIds', /may hold at most 10000 entries/],
  ['a literal that is too long', `{ failoverJob(jobId: "${'z'.repeat(300)}") { jobId } }`, {}, 'jobId', /at most 255 characters \(got 300\)/],
];

describe('argument bounds on HTTP and WebSocket', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('argument_bounds', { kind: 'sqlite' });
  });
  afterAll(() => api?.close());

  const expectRefusal = (result: GqlResponse, field: string, problem: RegExp) => {
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    const [error] = result.errors!;
    expect(error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(error!.extensions).not.toHaveProperty('http');
    expect(error!.message.startsWith(`${field} `)).toBe(true);
    expect(error!.message).toMatch(problem);
    expect(error!.message.length).toBeLessThan(200); // never the value itself
  };

  it.each(CASES)('HTTP: %s is refused (BAD_USER_INPUT naming it), nothing runs', async (_what, query, variables, field, problem) => {
    const jobs = await api.orm.em.fork().count(FailoverJob, {});
    const mappings = await api.orm.em.fork().count(NetworkMapping, {});
    const result = await gql(api.url, query, variables);
    expect(result.status).toBe(400);
    expectRefusal(result, field, problem);
    expect(await api.orm.em.fork().count(FailoverJob, {})).toBe(jobs);
    expect(await api.orm.em.fork().count(NetworkMapping, {})).toBe(mappings);
    expect((await fetch(api.url.replace('/graphql', '/healthz'))).status).toBe(200);
  });

  it.each(CASES)('WebSocket: %s is refused for that operation only; the socket serves the next one', async (_what, query, variables, field, problem) => {
    const client = wsClient(api.wsUrl);
    try {
      expectRefusal(await wsRequest(client, query, variables), field, problem);
      const after = await wsRequest(client, '{ virtualMachines { totalCount } }');
      expect(after.errors).toBeUndefined();
      expect(after.data).toEqual({ virtualMachines: { totalCount: 0 } });
    } finally {
      await client.dispose();
    }
  });

  it('a subscription argument is held to the same bounds', async () => {
    const client = wsClient(api.wsUrl);
    try {
      expectRefusal(await wsRequest(client, EVENTS, { jobId: 'j\u0000' }), 'jobId', /NUL/);
    } finally {
      await client.dispose();
    }
  });

  it('values within the bounds pass, at the bound itself too', async () => {
    const atBound = await gql(api.url, JOB, { id: 'j'.repeat(255) });
    expect(atBound.errors).toBeUndefined();
    expect(atBound.data).toEqual({ failoverJob: null });
    const list = await gql(api.url, JOBS, { filter: { statuses: Array(32).fill('COMPLETED') } });
    expect(list.errors).toBeUndefined();
    const unicode = await gql(api.url, VMS, { filter: { search: 'wëb-01 🚀' } });
    expect(unicode.errors).toBeUndefined();
  });
});
