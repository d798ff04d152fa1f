import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Role } from '../../src/roles.js';
import { startApi, type ApiHarness } from '../helpers/api-server.js';
import { insertFailoverJob, insertVm } from '../helpers/fixtures.js';
import { bearer, wsClient, type GqlResponse } from '../helpers/graphql.js';
import { rowDigest } from '../helpers/row-digest.js';

/**
 * The hostile client of issue 10, as one table: every row is one hostile input on one transport
 * with the exact refusal it must get (`extensions.code` with the HTTP status, or the WebSocket close
 * code). For each row the server must also: never answer INTERNAL_SERVER_ERROR, internal text (SQL,
 * a stack, a driver's name) or the hostile value; answer `/healthz` and `{ __typename }` promptly
 * right after (over WebSocket too, for the WebSocket rows); and, on a socket, leave the socket's
 * other subscriptions running. After the whole table no row of any table has changed (MariaDB) and
 * the server's memory (it runs in this process) has grown by less than a generous bound.
 *
 * Adding a row is one object in CASES (or one `both(…)` for a GraphQL operation on both transports):
 * `{ name, category, transport, send, expect }`, with `server: 'tokens'` to run it where API_TOKENS is set.
 */

/** What a row is about; the later categories are other engineers' work (Origin/Host, keys and roles, rate limits). */
type Category =
  | 'cost'
  | 'fragments'
  | 'size'
  | 'http'
  | 'ws-protocol'
  | 'strings'
  | 'names'
  | 'lists'
  | 'numbers'
  | 'variables'
  | 'subscription-over-http'
  | 'persisted-query'
  | 'socket-budget'
  | 'busy-socket'
  | 'introspection'
  | 'isolation'
  | 'auth'
  | 'origin'
  | 'keys'
  | 'rate-limit';

/** One GraphQL request as a client sends it. */
interface Operation {
  query: string;
  variables?: unknown;
  operationName?: string;
  extensions?: Record<string, unknown>;
}

/** A GraphQL error's code (and, optionally, the field it names and its wording). */
interface CodeExpect {
  code: string;
  field?: string;
  message?: RegExp;
}
type HttpExpect = CodeExpect & { httpStatus: number };
interface CloseExpect {
  closeCode: number;
}

/** `http`: a POST of the operation as JSON. */
interface HttpSend extends Operation {
  headers?: Record<string, string>;
}
/** `ws`: the operation over a real graphql-ws client, with `alongside` subscriptions already running on its socket (default 1). */
interface WsSend extends Operation {
  connectionParams?: Record<string, unknown>;
  alongside?: number;
}
/** `raw-http`: a request fetch sends as given, or bytes written on a TCP socket (the server ends the connection). */
type RawHttpSend = { method?: string; path?: string; headers?: Record<string, string>; body?: string } | { bytes: string };
/** `raw-ws`: a WebSocket (subprotocol graphql-transport-ws unless told; null: none); `init`: a connection_init acknowledged first. */
interface RawWsSend {
  protocol?: string | null;
  init?: Record<string, unknown>;
  messages: string[];
}

type Server = 'open' | 'tokens';
type Case = { name: string; category: Category; server?: Server } & (
  | { transport: 'http'; send: HttpSend; expect: HttpExpect | CodeExpect }
  | { transport: 'ws'; send: WsSend; expect: CodeExpect | CloseExpect }
  | { transport: 'raw-http'; send: RawHttpSend; expect: HttpExpect }
  | { transport: 'raw-ws'; send: RawWsSend; expect: CloseExpect }
);

// ---------------------------------------------------------------------------------------------
// The fixtures the rows name.

const VM = 'hostile-vm-1';
/** insertVm's mappings of "VM Network": production and test. */
const PROD_NET = 'prod-VM Network';
const TEST_NET = 'test-VM Network';
const OPERATOR = 'op-hostile-0f1e2d3c4b5a69788796';
const VIEWER = 'view-hostile-a1b2c3d4e5f60718293';
/** Operations one socket may run at once on these servers (small, so the budget rows are cheap). */
const BUDGET = 5;
/** The headers timeout of these servers (the slow-headers row waits for it). */
const HEADERS_TIMEOUT_MS = 300;
/** The generous bound on every wait for an answer. */
const PROMPT_MS = 10_000;
/** How much the server's RSS may grow across the whole table, and its heap (after a collection: what it keeps). */
const MEMORY_BOUND = 200 * 1024 * 1024;
const HEAP_BOUND = 50 * 1024 * 1024;

const WATCH = 'subscription { failoverJobEvents { sequence } }';
const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Builders.

/** The same operation over HTTP (with its status) and over WebSocket. */
function both(
  name: string,
  category: Category,
  send: Operation & { headers?: Record<string, string>; connectionParams?: Record<string, unknown>; alongside?: number },
  expected: HttpExpect,
  server?: Server,
): Case[] {
  const { headers, connectionParams, alongside, ...operation } = send;
  const { httpStatus: _httpStatus, ...code } = expected;
  const on = server ? { server } : {};
  return [
    { name, category, ...on, transport: 'http', send: { ...operation, ...(headers ? { headers } : {}) }, expect: expected },
    {
      name,
      category,
      ...on,
      transport: 'ws',
      send: { ...operation, ...(connectionParams ? { connectionParams } : {}), ...(alongside === undefined ? {} : { alongside }) },
      expect: code,
    },
  ];
}

const initMessage = (payload?: unknown) => JSON.stringify({ type: 'connection_init', ...(payload === undefined ? {} : { payload }) });
const subscribeMessage = (id: string, payload: unknown) => JSON.stringify({ id, type: 'subscribe', payload });
const bad = (field: string, message?: RegExp, httpStatus = 400): HttpExpect => ({ httpStatus, code: 'BAD_USER_INPUT', field, ...(message ? { message } : {}) });
const invalid = (message?: RegExp): HttpExpect => ({ httpStatus: 400, code: 'GRAPHQL_VALIDATION_FAILED', ...(message ? { message } : {}) });
const times = (n: number, f: (i: number) => string, sep = ' ') => Array.from({ length: n }, (_, i) => f(i)).join(sep);

/** The alias-and-fragment blow-up of the issue: k aliases at each of 4 levels below a 500-VM page. */
const blowUp = (k: number) => `{ virtualMachines(first: 500) { edges { node { ...V } } } }
fragment V on VirtualMachine { ${times(k, (i) => `a${i}: readiness(type: TEST) { ...R }`)} }
fragment R on VmReadiness { ${times(k, (i) => `a${i}: checks { ...C }`)} }
fragment C on ReadinessCheck { ${times(k, (i) => `a${i}: message`)} }`;
/** Fragments that each spread the next one twice: 2^n expansions from a few hundred bytes. */
const doubling = (n: number) =>
  `{ ...F0 } ${times(n, (i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`)} fragment F${n} on Query { virtualMachines { totalCount } }`;
const chain = (n: number) => `{ ...F0 } ${times(n, (i) => `fragment F${i} on Query { ...F${i + 1} }`)} fragment F${n} on Query { __typename }`;

/** Every string argument of every query, mutation and subscription: where it is, how the refusal names it, and an operation that carries `v` there. */
const STRING_ARGUMENTS: { at: string; field: string; wsOnly?: boolean; request: (v: string) => Operation }[] = (() => {
  const key = { vmId: VM, sourceNetworkName: 'VM Network', isTestNetwork: true };
  const mapping = { ...key, destinationNetworkId: TEST_NET, destinationNetworkName: 'Test VM Network' };
  const override = { sourceNetworkName: 'VM Network', destinationNetworkId: TEST_NET };
  const query = (signature: string, selection: string) => (variables: unknown) => ({ query: `query (${signature}) { ${selection} }`, variables });
  const mutation = (signature: string, selection: string) => (variables: unknown) => ({ query: `mutation (${signature}) { ${selection} }`, variables });
  const START = (kind: 'Test' | 'Live') => mutation('$i: StartFailoverInput!', `start${kind}Failover(input: $i) { jobId }`);
  const SET = mutation('$i: SetNetworkMappingInput!', 'setNetworkMapping(input: $i) { id }');
  const DELETE = mutation('$i: NetworkMappingKeyInput!', 'deleteNetworkMapping(input: $i) { id }');
  const EVENTS = (arg: string) => (v: string) => ({ query: `subscription ($v: String) { failoverJobEvents(${arg}: $v) { sequence } }`, variables: { v } });
  return [
    { at: 'failoverJob(jobId)', field: 'jobId', request: (v) => query('$v: String!', 'failoverJob(jobId: $v) { jobId }')({ v }) },
    { at: 'failoverJobs(after)', field: 'after', request: (v) => query('$v: String', 'failoverJobs(after: $v) { totalCount }')({ v }) },
    { at: 'failoverJobs(filter.vmId)', field: 'filter.vmId', request: (v) => query('$v: String', 'failoverJobs(filter: { vmId: $v }) { totalCount }')({ v }) },
    { at: 'networkMappings(vmId)', field: 'vmId', request: (v) => query('$v: String!', 'networkMappings(vmId: $v) { id }')({ v }) },
    { at: 'virtualMachines(after)', field: 'after', request: (v) => query('$v: String', 'virtualMachines(after: $v) { totalCount }')({ v }) },
    {
      at: 'virtualMachines(filter.search)',
      field: 'filter.search',
      request: (v) => query('$v: String', 'virtualMachines(filter: { search: $v }) { totalCount }')({ v }),
    },
    {
      at: 'virtualMachines(filter.vmIds)',
      field: 'filter.vmIds[1]',
      request: (v) => query('$f: VirtualMachineFilter', 'virtualMachines(filter: $f) { totalCount }')({ f: { vmIds: [VM, v] } }),
    },
    { at: 'vmReadiness(vmId)', field: 'vmId', request: (v) => query('$v: String!', 'vmReadiness(vmId: $v, type: TEST) { ready }')({ v }) },
    { at: 'cleanupTestFailover(jobId)', field: 'jobId', request: (v) => mutation('$v: String!', 'cleanupTestFailover(jobId: $v) { jobId }')({ v }) },
    { at: 'revertFailover(jobId)', field: 'jobId', request: (v) => mutation('$v: String!', 'revertFailover(jobId: $v) { jobId }')({ v }) },
    ...(['vmId', 'sourceNetworkName'] as const).map((f) => ({
      at: `deleteNetworkMapping(input.${f})`,
      field: f,
      request: (v: string) => DELETE({ i: { ...key, [f]: v } }),
    })),
    ...(['vmId', 'sourceNetworkName', 'destinationNetworkId', 'destinationNetworkName'] as const).map((f) => ({
      at: `setNetworkMapping(input.${f})`,
      field: f,
      request: (v: string) => SET({ i: { ...mapping, [f]: v } }),
    })),
    ...(['Test', 'Live'] as const).flatMap((kind) => [
      { at: `start${kind}Failover(input.vmId)`, field: 'vmId', request: (v: string) => START(kind)({ i: { vmId: v } }) },
      ...(['sourceNetworkName', 'destinationNetworkId'] as const).map((f) => ({
        at: `start${kind}Failover(input.networkOverrides[0].${f})`,
        field: `networkOverrides[0].${f}`,
        request: (v: string) => START(kind)({ i: { vmId: VM, networkOverrides: [{ ...override, [f]: v }] } }),
      })),
    ]),
    { at: 'failoverJobEvents(jobId)', field: 'jobId', wsOnly: true, request: EVENTS('jobId') },
    { at: 'failoverJobEvents(vmId)', field: 'vmId', wsOnly: true, request: EVENTS('vmId') },
  ];
})();

/** What is wrong with a string, and how the refusal says it (never quoting the value). */
const HOSTILE_STRINGS: [string, string, RegExp][] = [
  ['a NUL byte', 'ab\u0000cd', /must not contain NUL characters$/],
  ['a lone surrogate', 'ab\uD800cd', /must be valid Unicode \(a lone surrogate at position 2\)$/],
  ['100,000 characters', 'x'.repeat(100_000), /must be at most 255 characters \(got 100000\)$/],
];

const LONG_NAME = 'n'.repeat(100_000);
const START_TEST = 'mutation ($i: StartFailoverInput!) { startTestFailover(input: $i) { jobId } }';
const START_LIVE = 'mutation ($i: StartFailoverInput!) { startLiveFailover(input: $i) { jobId } }';
const SET_MAPPING = 'mutation ($i: SetNetworkMappingInput!) { setNetworkMapping(input: $i) { id } }';
const JOBS_BY_STATUS = 'query ($s: [FailoverStatus!]) { failoverJobs(filter: { statuses: $s }) { totalCount } }';
const VMS_PAGE = 'query ($n: Int) { virtualMachines(first: $n) { totalCount } }';
const post = (body: string, contentType = 'application/json') => ({ method: 'POST', headers: { 'content-type': contentType }, body });
/** A whole POST to /graphql as bytes, for what fetch will not send. */
const rawPost = (body: string, headers: Record<string, string>) =>
  `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${Object.entries(
    headers,
  )
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n${body}`;

// ---------------------------------------------------------------------------------------------
// The table.

const CASES: Case[] = [
  // Operations that cost too much: aliases, directives, tokens, depth, root fields, cost.
  ...both('the alias-and-fragment blow-up (k = 10, a 500-VM page)', 'cost', { query: blowUp(10) }, invalid(/Aliases limit|Cost limit/)),
  ...both('16 aliases', 'cost', { query: `{ virtualMachines { edges { node { ${times(16, (i) => `a${i}: vmId`)} } } } }` }, invalid(/Aliases limit of 15/)),
  ...both('11 directives', 'cost', { query: `{ __typename ${times(11, () => '@include(if: true)')} }` }, invalid(/Directives limit of 10/)),
  ...both(
    '5,100 tokens',
    'cost',
    { query: `{ ${times(5_100, () => '__typename')} }` },
    { httpStatus: 400, code: 'GRAPHQL_PARSE_FAILED', message: /5000 tokens/ },
  ),
  ...both(
    '12 levels deep (through introspection, the only cycle)',
    'cost',
    { query: `{ __schema { types { fields { type { ${'ofType { '.repeat(8)}name${' }'.repeat(8)} } } } } }` },
    invalid(/introspection|depth/i),
  ),
  ...both(
    '11 top-level fields',
    'cost',
    { query: `{ ${times(11, (i) => `v${i}: virtualMachines(first: 1) { totalCount }`)} }` },
    invalid(/at most 10 top-level/),
  ),
  ...both(
    'a cheap-looking page made costly by its variable (first: $n = 500)',
    'cost',
    {
      query: `query ($n: Int) { virtualMachines(first: $n) { edges { node { ${times(14, (i) => `r${i}: readiness(type: TEST) { ready checks { name message } }`)} } } } }`,
      variables: { n: 500 },
    },
    invalid(/Cost limit of 100000/),
  ),
  ...both('fragments that double 30 times (2^30 expansions)', 'cost', { query: doubling(30) }, invalid(/Cost limit of 100000/)),

  // Fragments.
  ...both('a chain of 5,000 fragments', 'fragments', { query: chain(5_000) }, { httpStatus: 400, code: 'GRAPHQL_PARSE_FAILED', message: /5000 tokens/ }),
  ...both(
    'a fragment cycle',
    'fragments',
    { query: '{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }' },
    invalid(/Cannot spread fragment "A" within itself/),
  ),
  ...both('a fragment spreading itself', 'fragments', { query: '{ ...A } fragment A on Query { __typename ...A }' }, invalid(/within itself/)),
  ...both('a spread of an unknown fragment', 'fragments', { query: '{ ...Nope }' }, invalid(/Unknown fragment "Nope"/)),
  ...both('an unused fragment', 'fragments', { query: '{ __typename } fragment U on Query { __typename }' }, invalid(/Fragment "U" is never used/)),

  // Oversized documents, bodies and messages.
  {
    name: 'a 1.1 MB document',
    category: 'size',
    transport: 'http',
    send: { query: `{ __typename } #${'x'.repeat(1_100_000)}` },
    expect: { httpStatus: 413, code: 'PAYLOAD_TOO_LARGE' },
  },
  { name: 'a 1.1 MB document', category: 'size', transport: 'ws', send: { query: `{ __typename } #${'x'.repeat(1_100_000)}` }, expect: { closeCode: 1009 } },
  {
    name: '100,000 statuses (a 1.2 MB body)',
    category: 'size',
    transport: 'http',
    send: { query: JOBS_BY_STATUS, variables: { s: Array(100_000).fill('COMPLETED') } },
    expect: { httpStatus: 413, code: 'PAYLOAD_TOO_LARGE' },
  },
  {
    name: 'a 1.1 MB connection_init',
    category: 'size',
    transport: 'raw-ws',
    send: { messages: [initMessage({ authorization: 'x'.repeat(1.1 * MIB) })] },
    expect: { closeCode: 1009 },
  },
  {
    name: 'a 1.1 MB message after the handshake',
    category: 'size',
    transport: 'raw-ws',
    send: { init: {}, messages: [subscribeMessage('1', { query: '{ __typename }', variables: { pad: 'x'.repeat(1.1 * MIB) } })] },
    expect: { closeCode: 1009 },
  },
  ...both(
    'a 900 KB string literal',
    'size',
    { query: `{ failoverJob(jobId: "${'j'.repeat(900_000)}") { jobId } }` },
    bad('jobId', /at most 255 characters \(got 900000\)/),
  ),

  // HTTP refusals: each with its status and a GraphQL error body.
  { name: 'invalid JSON', category: 'http', transport: 'raw-http', send: post('{"query": '), expect: { httpStatus: 400, code: 'BAD_REQUEST' } },
  {
    name: 'a JSON body with __proto__',
    category: 'http',
    transport: 'raw-http',
    send: post('{"query":"{ __typename }","__proto__":{"x":1}}'),
    expect: { httpStatus: 400, code: 'BAD_REQUEST' },
  },
  {
    name: 'a body of text/csv',
    category: 'http',
    transport: 'raw-http',
    send: post('a,b', 'text/csv'),
    expect: { httpStatus: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  },
  {
    name: 'a text/plain body (a CSRF-able simple request)',
    category: 'http',
    transport: 'raw-http',
    send: post('{"query":"{ __typename }"}', 'text/plain'),
    expect: { httpStatus: 400, code: 'BAD_REQUEST', message: /Cross-Site Request Forgery/ },
  },
  {
    name: 'a GET without a preflight header',
    category: 'http',
    transport: 'raw-http',
    send: { path: `/graphql?query=${encodeURIComponent('{ __typename }')}` },
    expect: { httpStatus: 400, code: 'BAD_REQUEST' },
  },
  {
    name: 'a mutation over GET',
    category: 'http',
    transport: 'raw-http',
    send: {
      path: `/graphql?query=${encodeURIComponent(`mutation { revertFailover(jobId: "x") { jobId } }`)}`,
      headers: { 'apollo-require-preflight': 'true' },
    },
    expect: { httpStatus: 405, code: 'BAD_REQUEST', message: /GET requests only support query operations/ },
  },
  {
    name: 'a path that is not the API',
    category: 'http',
    transport: 'raw-http',
    send: { path: '/admin/../etc/passwd' },
    expect: { httpStatus: 404, code: 'NOT_FOUND' },
  },
  {
    name: 'PUT /graphql',
    category: 'http',
    transport: 'raw-http',
    send: { method: 'PUT', path: '/graphql', headers: { 'content-type': 'application/json' }, body: '{}' },
    expect: { httpStatus: 404, code: 'NOT_FOUND' },
  },
  {
    name: 'headers over the parser limit',
    category: 'http',
    transport: 'raw-http',
    send: { path: '/healthz', headers: { 'x-big': 'y'.repeat(20_000) } },
    expect: { httpStatus: 431, code: 'REQUEST_HEADER_FIELDS_TOO_LARGE' },
  },
  {
    name: 'headers sent too slowly',
    category: 'http',
    transport: 'raw-http',
    send: { bytes: 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' },
    expect: { httpStatus: 408, code: 'REQUEST_TIMEOUT' },
  },
  {
    name: 'a request line that is not HTTP',
    category: 'http',
    transport: 'raw-http',
    send: { bytes: 'HELLO\u0000 WORLD\r\n\r\n' },
    expect: { httpStatus: 400, code: 'BAD_REQUEST' },
  },
  {
    name: 'a batch of operations',
    category: 'http',
    transport: 'raw-http',
    send: post(JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }])),
    expect: { httpStatus: 400, code: 'BAD_REQUEST', message: /batching disabled/ },
  },
  { name: 'a body of null', category: 'http', transport: 'raw-http', send: post('null'), expect: { httpStatus: 400, code: 'BAD_REQUEST' } },
  { name: 'a query that is a number', category: 'http', transport: 'raw-http', send: post('{"query":5}'), expect: { httpStatus: 400, code: 'BAD_REQUEST' } },
  { name: 'a body without a query', category: 'http', transport: 'raw-http', send: post('{"variables":{}}'), expect: { httpStatus: 400, code: 'BAD_REQUEST' } },
  ...both(
    'two operations and no operationName',
    'http',
    { query: 'query A { __typename } query B { __typename }' },
    { httpStatus: 400, code: 'OPERATION_RESOLUTION_FAILURE' },
  ).map((c) => (c.transport === 'ws' ? { ...c, expect: { code: 'GRAPHQL_VALIDATION_FAILED' } } : c)),
  {
    name: 'an operationName the document lacks',
    category: 'http',
    transport: 'http',
    send: { query: 'query A { __typename }', operationName: 'B' },
    expect: { httpStatus: 400, code: 'OPERATION_RESOLUTION_FAILURE' },
  },

  // The WebSocket protocol itself.
  { name: 'a message that is not JSON', category: 'ws-protocol', transport: 'raw-ws', send: { messages: ['{nope'] }, expect: { closeCode: 4400 } },
  {
    name: 'a message of an unknown type',
    category: 'ws-protocol',
    transport: 'raw-ws',
    send: { messages: [JSON.stringify({ type: 'hello' })] },
    expect: { closeCode: 4400 },
  },
  { name: 'a JSON null message', category: 'ws-protocol', transport: 'raw-ws', send: { messages: ['null'] }, expect: { closeCode: 4400 } },
  {
    name: 'a connection_init payload that is a string',
    category: 'ws-protocol',
    transport: 'raw-ws',
    send: { messages: [initMessage('x')] },
    expect: { closeCode: 4400 },
  },
  {
    name: 'a subscribe before connection_init',
    category: 'ws-protocol',
    transport: 'raw-ws',
    send: { messages: [subscribeMessage('1', { query: '{ __typename }' })] },
    expect: { closeCode: 4401 },
  },
  {
    name: 'a second connection_init',
    category: 'ws-protocol',
    transport: 'raw-ws',
    send: { init: {}, messages: [initMessage()] },
    expect: { closeCode: 4429 },
  },
  {
    name: 'two subscriptions with one id',
    category: 'ws-protocol',
    transport: 'raw-ws',
    send: { init: {}, messages: [subscribeMessage('dup', { query: WATCH }), subscribeMessage('dup', { query: WATCH })] },
    expect: { closeCode: 4409 },
  },
  {
    name: 'a subscribe whose payload is a string',
    category: 'ws-protocol',
    transport: 'raw-ws',
    send: { init: {}, messages: [subscribeMessage('1', 'x')] },
    expect: { closeCode: 4400 },
  },
  {
    name: 'a subscribe whose query is a number',
    category: 'ws-protocol',
    transport: 'raw-ws',
    send: { init: {}, messages: [subscribeMessage('1', { query: 5 })] },
    expect: { closeCode: 4400 },
  },
  {
    name: 'a subscribe with an empty id',
    category: 'ws-protocol',
    transport: 'raw-ws',
    send: { init: {}, messages: [subscribeMessage('', { query: '{ __typename }' })] },
    expect: { closeCode: 4400 },
  },
  { name: 'no subprotocol', category: 'ws-protocol', transport: 'raw-ws', send: { protocol: null, messages: [initMessage()] }, expect: { closeCode: 4406 } },

  // NUL bytes, lone surrogates and over-long values in every string argument of every operation.
  ...STRING_ARGUMENTS.flatMap(({ at, field, wsOnly, request }) =>
    HOSTILE_STRINGS.flatMap(([what, value, message]) => {
      const rows = both(`${what} in ${at}`, 'strings', request(value), bad(field, message));
      return wsOnly ? rows.filter((c) => c.transport === 'ws') : rows;
    }),
  ),
  ...both('a NUL escape in a literal', 'strings', { query: '{ failoverJob(jobId: "a\\u0000b") { jobId } }' }, bad('jobId', /NUL/)),
  ...both(
    'a lone-surrogate escape in a literal',
    'strings',
    { query: '{ failoverJob(jobId: "a\\uD800") { jobId } }' },
    { httpStatus: 400, code: 'GRAPHQL_PARSE_FAILED' },
  ),
  ...both(
    'a raw lone surrogate in the document',
    'strings',
    { query: '{ failoverJob(jobId: "a\uDC00") { jobId } }' },
    { httpStatus: 400, code: 'GRAPHQL_PARSE_FAILED' },
  ),
  ...both('a raw NUL in the document', 'strings', { query: '{ __typename \u0000 }' }, { httpStatus: 400, code: 'GRAPHQL_PARSE_FAILED' }),

  // Names of any length: the token limit counts them, not their length.
  ...(
    [
      ['an alias', `{ ${LONG_NAME}: __typename }`],
      ['a field', `{ ${LONG_NAME} }`],
      ['an argument', `{ virtualMachines(${LONG_NAME}: 1) { totalCount } }`],
      ['a variable type', `query ($x: ${LONG_NAME}) { failoverJob(jobId: $x) { jobId } }`],
      ['a variable', `query ($${LONG_NAME}: String) { failoverJob(jobId: $${LONG_NAME}) { jobId } }`],
      ['a fragment spread', `{ ...${LONG_NAME} }`],
      ['an enum value', `{ failoverJobs(filter: { statuses: [${LONG_NAME}] }) { totalCount } }`],
      ['a directive', `{ __typename @${LONG_NAME} }`],
      ['an operation', `query ${LONG_NAME} { __typename }`],
    ] as const
  ).flatMap(([what, query]) =>
    both(
      `${what} named with 100,000 characters`,
      'names',
      { query },
      invalid(/(^A name may be at most 100 characters; one here has 100000$)|"[$@]?n{63,64}…"/),
    ),
  ),
  {
    name: 'an operationName of 100,000 characters',
    category: 'names',
    transport: 'http',
    send: { query: 'query A { __typename }', operationName: LONG_NAME },
    expect: { httpStatus: 400, code: 'OPERATION_RESOLUTION_FAILURE', message: /^Unknown operation named "n{64}…"\.$/ },
  },
  {
    name: 'an operationName of 100,000 characters',
    category: 'names',
    transport: 'ws',
    send: { query: 'query A { __typename }', operationName: LONG_NAME },
    expect: { code: 'GRAPHQL_VALIDATION_FAILED' },
  },

  // Over-long lists.
  ...both(
    '10,000 statuses',
    'lists',
    { query: JOBS_BY_STATUS, variables: { s: Array(10_000).fill('COMPLETED') } },
    bad('filter.statuses', /at most 32 entries \(got 10000\)/),
  ),
  ...both(
    '10,001 VM ids',
    'lists',
    {
      query: 'query ($f: VirtualMachineFilter) { virtualMachines(filter: $f) { totalCount } }',
      variables: { f: { vmIds: times(10_001, (i) => `v${i}`, ',').split(',') } },
    },
    bad('filter.vmIds', /at most 10000 entries/),
  ),
  ...both(
    '65 network overrides',
    'lists',
    {
      query: START_TEST,
      variables: { i: { vmId: VM, networkOverrides: Array.from({ length: 65 }, (_, i) => ({ sourceNetworkName: `n${i}`, destinationNetworkId: TEST_NET })) } },
    },
    bad('networkOverrides', /at most 64 entries/),
  ),
  ...both(
    '65 network overrides of a live failover',
    'lists',
    {
      query: START_LIVE,
      variables: { i: { vmId: VM, networkOverrides: Array.from({ length: 65 }, (_, i) => ({ sourceNetworkName: `n${i}`, destinationNetworkId: PROD_NET })) } },
    },
    bad('networkOverrides', /at most 64 entries/),
  ),

  // Bad numbers.
  ...both('first: -1', 'numbers', { query: '{ virtualMachines(first: -1) { totalCount } }' }, bad('first', /whole number from 1 to 500/, 200)),
  ...both('first: 0', 'numbers', { query: '{ failoverJobs(first: 0) { totalCount } }' }, bad('first', /whole number from 1 to 500/, 200)),
  ...both(
    'first: 501 (over the page size)',
    'numbers',
    { query: '{ failoverJobs(first: 501) { totalCount } }' },
    bad('first', /whole number from 1 to 500/, 200),
  ),
  ...both(
    'first: 2^40 (a variable)',
    'numbers',
    { query: VMS_PAGE, variables: { n: 2 ** 40 } },
    { httpStatus: 400, code: 'BAD_USER_INPUT', message: /non 32-bit signed integer/ },
  ),
  ...both('first: 99999999999 (a literal)', 'numbers', { query: '{ virtualMachines(first: 99999999999) { totalCount } }' }, invalid()),
  ...both(
    'first: 1.5 (a variable)',
    'numbers',
    { query: VMS_PAGE, variables: { n: 1.5 } },
    { httpStatus: 400, code: 'BAD_USER_INPUT', message: /non-integer value/ },
  ),
  ...both('first: 1.5 (a literal)', 'numbers', { query: '{ virtualMachines(first: 1.5) { totalCount } }' }, invalid(/Int cannot represent non-integer value/)),
  ...both('first: "10" (a string)', 'numbers', { query: VMS_PAGE, variables: { n: '10' } }, { httpStatus: 400, code: 'BAD_USER_INPUT' }),
  ...both(
    'autoCleanupAfterMinutes: -5',
    'numbers',
    { query: START_TEST, variables: { i: { vmId: VM, autoCleanupAfterMinutes: -5 } } },
    bad('autoCleanupAfterMinutes', /1 to 43200/, 200),
  ),
  ...both(
    'autoCleanupAfterMinutes: 43,201',
    'numbers',
    { query: START_TEST, variables: { i: { vmId: VM, autoCleanupAfterMinutes: 43_201 } } },
    bad('autoCleanupAfterMinutes', /1 to 43200/, 200),
  ),
  ...both(
    'autoCleanupAfterMinutes: 1e300',
    'numbers',
    { query: START_TEST, variables: { i: { vmId: VM, autoCleanupAfterMinutes: 1e300 } } },
    { httpStatus: 400, code: 'BAD_USER_INPUT' },
  ),
  ...both(
    'autoCleanupAfterMinutes: 2.5',
    'numbers',
    { query: START_TEST, variables: { i: { vmId: VM, autoCleanupAfterMinutes: 2.5 } } },
    { httpStatus: 400, code: 'BAD_USER_INPUT' },
  ),
  ...both(
    'autoCleanupAfterMinutes on a live failover',
    'numbers',
    { query: START_LIVE, variables: { i: { vmId: VM, autoCleanupAfterMinutes: 30 } } },
    bad('autoCleanupAfterMinutes', /test failovers only/, 200),
  ),
  {
    name: 'afterSequence: -1',
    category: 'numbers',
    transport: 'ws',
    send: { query: 'subscription { failoverJobEvents(afterSequence: -1) { sequence } }' },
    expect: { code: 'BAD_USER_INPUT', field: 'afterSequence' },
  },
  {
    name: 'afterSequence: 2^40',
    category: 'numbers',
    transport: 'ws',
    send: { query: 'subscription ($n: Int) { failoverJobEvents(afterSequence: $n) { sequence } }', variables: { n: 2 ** 40 } },
    expect: { code: 'BAD_USER_INPUT' },
  },

  // Unknown and unused variables.
  ...both('a declared variable no one uses', 'variables', { query: 'query ($x: Int) { __typename }' }, invalid(/Variable "\$x" is never used/)),
  ...both('a variable never declared', 'variables', { query: '{ failoverJob(jobId: $nope) { jobId } }' }, invalid(/Variable "\$nope" is not defined/)),
  ...both('a variable of an unknown type', 'variables', { query: 'query ($x: Nope) { failoverJob(jobId: $x) { jobId } }' }, invalid(/Unknown type "Nope"/)),
  ...both('an undeclared variable with a NUL', 'variables', { query: '{ __typename }', variables: { extra: 'a\u0000b' } }, bad('$extra', /NUL/)),
  ...both(
    'an undeclared variable of 100,000 characters',
    'variables',
    { query: '{ __typename }', variables: { extra: 'z'.repeat(100_000) } },
    bad('$extra', /at most 255/),
  ),
  ...both(
    'a required variable missing',
    'variables',
    { query: 'query ($id: String!) { failoverJob(jobId: $id) { jobId } }' },
    { httpStatus: 400, code: 'BAD_USER_INPUT', message: /was not provided/ },
  ),
  ...both(
    'a variable of the wrong type',
    'variables',
    { query: 'query ($id: String!) { failoverJob(jobId: $id) { jobId } }', variables: { id: { $gt: '' } } },
    { httpStatus: 400, code: 'BAD_USER_INPUT' },
  ),
  ...both(
    'a 100,000-character string where an Int goes',
    'variables',
    { query: VMS_PAGE, variables: { n: 'x'.repeat(100_000) } },
    { httpStatus: 400, code: 'BAD_USER_INPUT' },
  ),
  ...both(
    'a 100,000-character enum value',
    'variables',
    { query: JOBS_BY_STATUS, variables: { s: ['y'.repeat(100_000)] } },
    { httpStatus: 400, code: 'BAD_USER_INPUT' },
  ),
  ...both(
    'an input object with a 100,000-character field',
    'variables',
    { query: 'query ($f: VirtualMachineFilter) { virtualMachines(filter: $f) { totalCount } }', variables: { f: { ['k'.repeat(100_000)]: 1 } } },
    { httpStatus: 400, code: 'BAD_USER_INPUT' },
  ),
  ...both(
    'an object of 20,000 keys where a String goes',
    'variables',
    {
      query: 'query ($id: String!) { failoverJob(jobId: $id) { jobId } }',
      variables: {
        id: Object.fromEntries(
          times(20_000, (i) => `key${i}`, ',')
            .split(',')
            .map((k) => [k, 1]),
        ),
      },
    },
    { httpStatus: 400, code: 'BAD_USER_INPUT' },
  ),
  {
    name: 'variables that are an array',
    category: 'variables',
    transport: 'raw-http',
    send: post('{"query":"{ __typename }","variables":[1]}'),
    expect: { httpStatus: 400, code: 'BAD_REQUEST' },
  },
  {
    name: 'variables that are a string',
    category: 'variables',
    transport: 'raw-http',
    send: post('{"query":"{ __typename }","variables":"{}"}'),
    expect: { httpStatus: 400, code: 'BAD_REQUEST' },
  },

  // Subscriptions run over WebSocket only.
  {
    name: 'a subscription over HTTP',
    category: 'subscription-over-http',
    transport: 'http',
    send: { query: WATCH },
    expect: { httpStatus: 400, code: 'BAD_REQUEST', message: /^Subscriptions run over WebSocket only/ },
  },
  {
    name: 'a subscription named among queries over HTTP',
    category: 'subscription-over-http',
    transport: 'http',
    send: { query: `query Q { __typename } ${WATCH.replace('subscription', 'subscription S')}`, operationName: 'S' },
    expect: { httpStatus: 400, code: 'BAD_REQUEST', message: /WebSocket/ },
  },
  {
    name: 'a subscription over HTTP GET',
    category: 'subscription-over-http',
    transport: 'raw-http',
    send: { path: `/graphql?query=${encodeURIComponent(WATCH)}`, headers: { 'apollo-require-preflight': 'true' } },
    expect: { httpStatus: 405, code: 'BAD_REQUEST' },
  },

  // Persisted queries (this service has no store of them).
  {
    name: 'a persisted-query hash that does not match the query',
    category: 'persisted-query',
    transport: 'http',
    send: { query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } },
    expect: { httpStatus: 400, code: 'BAD_REQUEST', message: /does not match/ },
  },
  {
    name: 'a persisted query of an unknown version',
    category: 'persisted-query',
    transport: 'http',
    send: { query: '{ __typename }', extensions: { persistedQuery: { version: 2, sha256Hash: 'a'.repeat(64) } } },
    expect: { httpStatus: 400, code: 'BAD_REQUEST' },
  },
  {
    name: 'a persisted-query hash alone',
    category: 'persisted-query',
    transport: 'raw-http',
    send: post(JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'b'.repeat(64) } } })),
    expect: { httpStatus: 200, code: 'PERSISTED_QUERY_NOT_FOUND' },
  },
  {
    name: 'a persisted-query hash of 100,000 characters',
    category: 'persisted-query',
    transport: 'http',
    send: { query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'c'.repeat(100_000) } } },
    expect: { httpStatus: 400, code: 'BAD_REQUEST' },
  },

  // Operations over the per-socket budget.
  {
    name: `a query on a socket that runs ${BUDGET} subscriptions`,
    category: 'socket-budget',
    transport: 'ws',
    send: { query: '{ __typename }', alongside: BUDGET },
    expect: { code: 'TOO_MANY_OPERATIONS' },
  },
  {
    name: `a subscription on a socket that runs ${BUDGET}`,
    category: 'socket-budget',
    transport: 'ws',
    send: { query: WATCH, alongside: BUDGET },
    expect: { code: 'TOO_MANY_OPERATIONS' },
  },

  // One bad operation on a socket that runs others: they go on.
  {
    name: 'a syntax error beside 3 subscriptions',
    category: 'busy-socket',
    transport: 'ws',
    send: { query: '{ virtualMachines { ', alongside: 3 },
    expect: { code: 'GRAPHQL_PARSE_FAILED' },
  },
  {
    name: 'an invalid operation beside 3 subscriptions',
    category: 'busy-socket',
    transport: 'ws',
    send: { query: '{ nope }', alongside: 3 },
    expect: { code: 'GRAPHQL_VALIDATION_FAILED' },
  },
  {
    name: 'a refused argument beside 3 subscriptions',
    category: 'busy-socket',
    transport: 'ws',
    send: { query: 'subscription ($j: String) { failoverJobEvents(jobId: $j) { sequence } }', variables: { j: 'x'.repeat(10_000) }, alongside: 3 },
    expect: { code: 'BAD_USER_INPUT', field: 'jobId' },
  },
  {
    name: 'an empty document beside 3 subscriptions',
    category: 'busy-socket',
    transport: 'ws',
    send: { query: '', alongside: 3 },
    expect: { code: 'GRAPHQL_PARSE_FAILED' },
  },

  // Introspection and "Did you mean" suggestions are off.
  ...both('__schema', 'introspection', { query: '{ __schema { types { name } } }' }, invalid(/introspection/i)),
  ...both('__type', 'introspection', { query: '{ __type(name: "Query") { fields { name } } }' }, invalid(/introspection/i)),
  ...both(
    '__schema inside a fragment',
    'introspection',
    { query: '{ ...F } fragment F on Query { __schema { queryType { name } } }' },
    invalid(/introspection/i),
  ),
  ...both(
    'a misspelt field',
    'introspection',
    { query: '{ virtualMachine { totalCount } }' },
    invalid(/^Cannot query field "virtualMachine" on type "Query"\.$/),
  ),
  ...both(
    'a misspelt argument',
    'introspection',
    { query: '{ virtualMachines(frist: 1) { totalCount } }' },
    invalid(/^Unknown argument "frist" on field "Query\.virtualMachines"\.$/),
  ),
  ...both(
    'a misspelt enum value',
    'introspection',
    { query: '{ failoverJobs(filter: { statuses: [COMPLETE] }) { totalCount } }' },
    invalid(/^Value "COMPLETE" does not exist in "FailoverStatus" enum\.$/),
  ),
  ...both(
    'a misspelt input field',
    'introspection',
    { query: '{ virtualMachines(filter: { serach: "x" }) { totalCount } }' },
    invalid(/^Field "serach" is not defined by type "VirtualMachineFilter"\.$/),
  ),

  // Test and production networks kept apart.
  ...both(
    'a test failover overriding onto a production network',
    'isolation',
    { query: START_TEST, variables: { i: { vmId: VM, networkOverrides: [{ sourceNetworkName: 'VM Network', destinationNetworkId: PROD_NET }] } } },
    bad('networkOverrides', /is a production network .*: a test failover never uses a production network$/, 200),
  ),
  ...both(
    'a live failover overriding onto a test network',
    'isolation',
    { query: START_LIVE, variables: { i: { vmId: VM, networkOverrides: [{ sourceNetworkName: 'Backend', destinationNetworkId: TEST_NET }] } } },
    bad('networkOverrides', /is a test network .*: a live failover never uses a test network$/, 200),
  ),
  ...both(
    'a test mapping onto a production network',
    'isolation',
    {
      query: SET_MAPPING,
      variables: { i: { vmId: VM, sourceNetworkName: 'Backend', destinationNetworkId: PROD_NET, destinationNetworkName: 'P', isTestNetwork: true } },
    },
    bad('destinationNetworkId', /is a production network/, 200),
  ),
  ...both(
    'a production mapping onto a test network',
    'isolation',
    {
      query: SET_MAPPING,
      variables: { i: { vmId: VM, sourceNetworkName: 'Backend', destinationNetworkId: TEST_NET, destinationNetworkName: 'T', isTestNetwork: false } },
    },
    bad('destinationNetworkId', /is a test network/, 200),
  ),

  // Where API_TOKENS is set.
  ...(
    [
      ['no token', {}],
      ['an unknown token', bearer('not-a-token')],
      ['a Basic credential', { authorization: 'Basic YWRtaW46YWRtaW4=' }],
      ['a token of 8,000 characters', bearer('t'.repeat(8_000))],
    ] as [string, Record<string, string>][]
  ).map(([what, headers]): Case => ({
    name: `${what} over HTTP`,
    category: 'auth',
    server: 'tokens',
    transport: 'http',
    send: { query: '{ virtualMachines { totalCount } }', headers },
    expect: { httpStatus: 401, code: 'UNAUTHENTICATED' },
  })),
  {
    name: 'a token with a NUL over HTTP (raw: fetch refuses to send it)',
    category: 'auth',
    server: 'tokens',
    transport: 'raw-http',
    send: { bytes: rawPost('{"query":"{ __typename }"}', { authorization: `Bearer ${VIEWER}\u0000` }) },
    expect: { httpStatus: 400, code: 'BAD_REQUEST' },
  },
  {
    name: 'no token, and a 5,100-token query',
    category: 'auth',
    server: 'tokens',
    transport: 'http',
    send: { query: `{ ${times(5_100, () => '__typename')} }` },
    expect: { httpStatus: 401, code: 'UNAUTHENTICATED' },
  },
  ...(
    [
      ['no token', {}],
      ['an unknown token', { authorization: 'Bearer not-a-token' }],
      ['a token that is a number', { authorization: 12345 }],
      ['a token that is an object', { authorization: { toString: 'x' } }],
    ] as [string, Record<string, unknown>][]
  ).map(([what, connectionParams]): Case => ({
    name: `${what} over WebSocket`,
    category: 'auth',
    server: 'tokens',
    transport: 'ws',
    send: { query: '{ virtualMachines { totalCount } }', connectionParams },
    expect: { closeCode: 4403 },
  })),
  {
    name: 'an unauthenticated 1.1 MB connection_init',
    category: 'auth',
    server: 'tokens',
    transport: 'raw-ws',
    send: { messages: [initMessage({ authorization: `Bearer ${'x'.repeat(1.1 * MIB)}` })] },
    expect: { closeCode: 1009 },
  },
  ...both(
    'a viewer starting a live failover',
    'auth',
    { query: START_LIVE, variables: { i: { vmId: VM } }, headers: bearer(VIEWER), connectionParams: bearer(VIEWER) },
    { httpStatus: 200, code: 'FORBIDDEN', message: /may not run startLiveFailover/ },
    'tokens',
  ),
  ...both(
    'a viewer setting a network mapping',
    'auth',
    {
      query: SET_MAPPING,
      variables: { i: { vmId: VM, sourceNetworkName: 'Backend', destinationNetworkId: 'net-x', destinationNetworkName: 'X', isTestNetwork: true } },
      headers: bearer(VIEWER),
      connectionParams: bearer(VIEWER),
    },
    { httpStatus: 200, code: 'FORBIDDEN' },
    'tokens',
  ),
  ...both(
    'a viewer reverting a failover',
    'auth',
    { query: 'mutation { revertFailover(jobId: "live-failover-x-1") { jobId } }', headers: bearer(VIEWER), connectionParams: bearer(VIEWER) },
    { httpStatus: 200, code: 'FORBIDDEN' },
    'tokens',
  ),
  // Origin and Host (DNS rebinding, a web page driving the API), API keys.
  ...(['https://evil.example', 'null'] as const).map((origin): Case => ({
    name: `Origin ${origin}`,
    category: 'origin',
    transport: 'raw-http',
    send: {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: '{"query":"mutation { cleanupTestFailover(jobId: \\"x\\") { jobId } }"}',
    },
    expect: { httpStatus: 403, code: 'ORIGIN_NOT_ALLOWED' },
  })),
  {
    name: 'a Host this service does not answer to',
    category: 'origin',
    transport: 'raw-http',
    send: {
      bytes:
        'POST /graphql HTTP/1.1\r\nHost: attacker.example\r\nContent-Type: application/json\r\nContent-Length: 24\r\nConnection: close\r\n\r\n{"query":"{ __typename}"}',
    },
    expect: { httpStatus: 421, code: 'HOST_NOT_ALLOWED' },
  },
  {
    name: 'a forged API key (right shape, no such key)',
    category: 'keys',
    server: 'tokens',
    transport: 'raw-http',
    send: {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer fo_0123456789abcdef_${'A'.repeat(43)}` },
      body: '{"query":"{ __typename }"}',
    },
    expect: { httpStatus: 401, code: 'UNAUTHENTICATED' },
  },
];

// ---------------------------------------------------------------------------------------------
// The runner.

/** What came back: an HTTP status and body, or a WebSocket result or close code. */
interface Outcome {
  status?: number;
  body?: string;
  closeCode?: number;
}

/** Rejects when `promise` has not settled within `ms` (a bound on the wait, not a timed assertion). */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one operation over graphql-ws: its result, or the socket's close (rejected with the close event). */
function wsOperation(client: Client, operation: Operation): Promise<GqlResponse> {
  return new Promise((resolve, reject) => {
    let result: GqlResponse | undefined;
    client.subscribe(operation as never, {
      next: (value) => {
        result = value as GqlResponse;
      },
      error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
      complete: () => resolve(result ?? {}),
    });
  });
}

/** A subscription kept running beside a row's operation, and everything it received. */
function watch(client: Client) {
  const received: unknown[] = [];
  const stop = client.subscribe({ query: WATCH }, { next: (v) => received.push(v), error: (e) => received.push(e), complete: () => received.push('complete') });
  return { received, stop };
}

/** Bytes on a TCP socket; resolves with the response once the server ends the connection. */
function rawBytes(port: number, bytes: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('connect', () => socket.write(bytes));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString();
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve({ ...(status ? { status: Number(status[1]) } : {}), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** A WebSocket that speaks (or breaks) the protocol by hand; resolves with its close code. */
function rawWs(url: string, { protocol = 'graphql-transport-ws', init, messages }: RawWsSend): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = protocol === null ? new WebSocket(url) : new WebSocket(url, protocol);
    const sendAll = () => {
      for (const message of messages) socket.send(message);
    };
    socket.on('error', () => {}); // a refused frame may error the client side too; the close code is what counts
    socket.on('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    socket.on('close', (code, reason) => resolve({ closeCode: code, body: String(reason) }));
    socket.on('open', () => {
      if (!init) return sendAll();
      socket.once('message', (data) => {
        if (JSON.parse(String(data)).type === 'connection_ack') sendAll();
      });
      socket.send(initMessage(init));
    });
  });
}

/** Strings of the request long enough that finding them (their first 100 characters) in an answer means the value was echoed whole. */
function echoable(c: Case): string[] {
  const found: string[] = [];
  const add = (value: string) => found.push(value.slice(0, 100));
  const collect = (value: unknown): void => {
    if (typeof value === 'string' && value.length >= 40) add(value);
    else if (Array.isArray(value)) value.slice(0, 3).forEach(collect);
    else if (value && typeof value === 'object') {
      Object.keys(value).slice(0, 3).forEach(collect);
      Object.values(value).slice(0, 3).forEach(collect);
    }
  };
  if (c.transport === 'http' || c.transport === 'ws') {
    collect(c.send.variables);
    collect(c.send.extensions);
    collect(c.send.operationName);
    // String literals and names of the document.
    for (const long of c.send.query?.matchAll(/"([^"\\]{40,})|([_A-Za-z][_0-9A-Za-z]{39,})/g) ?? []) add((long[1] ?? long[2])!);
    if (c.transport === 'http') collect(c.send.headers);
    else collect(c.send.connectionParams);
  }
  if (c.transport === 'raw-ws') for (const m of c.send.messages) collect(JSON.parse(m.startsWith('{') && m.endsWith('}') ? m : 'null'));
  return found;
}

// A real collection before each measurement, so the heap shows what is kept, not what awaits collection.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const settledMemory = () => {
  collectGarbage();
  return process.memoryUsage();
};

/** Text that belongs to the server's insides, never to an answer. */
const INTERNAL =
  /INTERNAL_SERVER_ERROR|Internal server error|\bselect\b[^"]*\bfrom\b|\binsert into\b|\bsqlite|mariadb|mysql|\bER_[A-Z_]+|\\n\s+at |node_modules|\.[jt]s:\d+/i;

describe('hostile inputs on HTTP and WebSocket', () => {
  const servers = {} as Record<Server, ApiHarness>;
  const before = {} as Record<Server, Awaited<ReturnType<typeof rowDigest>>>;
  let memoryBefore: NodeJS.MemoryUsage;
  let done = 0;

  beforeAll(async () => {
    const transportLimits = { headersTimeoutMs: HEADERS_TIMEOUT_MS, maxOperationsPerSocket: BUDGET };
    [servers.open, servers.tokens] = await Promise.all([
      startApi('hostile', { transportLimits }),
      startApi('hostile_tokens', {
        transportLimits,
        apiTokens: [
          { role: Role.OPERATOR, token: OPERATOR },
          { role: Role.VIEWER, token: VIEWER },
        ],
      }),
    ]);
    for (const server of Object.values(servers)) {
      await insertVm(server.orm.em, { vmId: VM, networks: ['VM Network', 'Backend'] });
      await insertFailoverJob(server.orm.em, { vmId: VM });
      await server.services.mirrorDatabase();
    }
    before.open = await rowDigest(servers.open.orm);
    before.tokens = await rowDigest(servers.tokens.orm);
    memoryBefore = settledMemory();
  });
  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => s.close()));
  });

  /** `/healthz` and `{ __typename }` answer (over a fresh WebSocket too when asked). */
  async function answersPromptly(server: Server, overWebSocket: boolean) {
    const api = servers[server];
    const auth: Record<string, string> = server === 'tokens' ? bearer(VIEWER) : {};
    const health = await within(PROMPT_MS, '/healthz', fetch(api.url.replace(/\/graphql$/, '/healthz')));
    expect(health.status).toBe(200);
    const small = await within(
      PROMPT_MS,
      '{ __typename } over HTTP',
      fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{"query":"{ __typename }"}' }),
    );
    expect(await small.json()).toEqual({ data: { __typename: 'Query' } });
    if (overWebSocket) {
      const client = wsClient(api.wsUrl, server === 'tokens' ? { connectionParams: auth } : {});
      try {
        expect(await within(PROMPT_MS, '{ __typename } over WebSocket', wsOperation(client, { query: '{ __typename }' }))).toEqual({
          data: { __typename: 'Query' },
        });
      } finally {
        await client.dispose();
      }
    }
  }

  /** Sends the row's input; for `ws`, also checks the socket and its other subscriptions went on. */
  async function send(c: Case): Promise<Outcome> {
    const api = servers[c.server ?? 'open'];
    const base = api.url.replace(/\/graphql$/, '');
    switch (c.transport) {
      case 'http': {
        const { headers = {}, ...operation } = c.send;
        const response = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(operation) });
        return { status: response.status, body: await response.text() };
      }
      case 'raw-http': {
        if ('bytes' in c.send) return rawBytes(api.server.port, c.send.bytes);
        const { method = 'GET', path = '/graphql', headers = {}, body } = c.send;
        const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
        return { status: response.status, body: await response.text() };
      }
      case 'raw-ws':
        return rawWs(api.wsUrl, c.send);
      case 'ws': {
        const { connectionParams = c.server === 'tokens' ? bearer(VIEWER) : undefined, alongside = 1, ...operation } = c.send;
        const client = wsClient(api.wsUrl, connectionParams ? { connectionParams } : {});
        try {
          const others = Array.from({ length: alongside }, () => watch(client));
          let result: GqlResponse;
          try {
            result = await within(PROMPT_MS, c.name, wsOperation(client, operation));
          } catch (closed) {
            if (typeof (closed as { code?: unknown }).code !== 'number') throw closed;
            return { closeCode: (closed as { code: number }).code };
          }
          // The socket goes on: it answers the next operation (beside the others while the budget
          // allows), and its other subscriptions received nothing — no error, no complete.
          const next = () => within(PROMPT_MS, 'the same socket', wsOperation(client, { query: '{ __typename }' }));
          if (alongside < BUDGET) expect(await next()).toEqual({ data: { __typename: 'Query' } });
          expect(others.map((o) => o.received)).toEqual(others.map(() => []));
          for (const other of others) other.stop();
          if (alongside >= BUDGET) expect(await next()).toEqual({ data: { __typename: 'Query' } });
          return { body: JSON.stringify(result) };
        } finally {
          await client.dispose();
        }
      }
    }
  }

  it.each(CASES.map((c) => [`${c.category} · ${c.transport} · ${c.name}`, c] as const))('%s', async (_title, c) => {
    const outcome = await within(PROMPT_MS, c.name, send(c));
    if ('closeCode' in c.expect) {
      expect({ closeCode: outcome.closeCode }).toEqual({ closeCode: c.expect.closeCode });
    } else {
      const { message, ...expected } = c.expect;
      const response = JSON.parse(outcome.body ?? '{}') as GqlResponse;
      const [first] = response.errors ?? [];
      expect({
        ...('httpStatus' in expected ? { httpStatus: outcome.status } : {}),
        code: first?.extensions?.code,
        ...('field' in expected ? { field: first?.extensions?.field } : {}),
        data: response.data ?? null,
      }).toEqual({ ...expected, data: null });
      expect(response.errors!.map((e) => e.extensions?.code)).not.toContain('INTERNAL_SERVER_ERROR');
      if (message) expect(first!.message).toMatch(message);
    }
    const body = outcome.body ?? '';
    expect(body).not.toMatch(INTERNAL);
    expect(body.length).toBeLessThan(16_000);
    for (const value of echoable(c)) expect(body.includes(value), 'the hostile value is echoed').toBe(false);
    await answersPromptly(c.server ?? 'open', c.transport === 'ws' || c.transport === 'raw-ws');
    // A collection now and then, so that RSS shows what the server keeps rather than how much
    // garbage V8 lets pile up between its own collections (clients and server share this process).
    if (++done % 20 === 0) collectGarbage();
  });

  it('after the whole table: no row of any table changed, and the server’s memory stayed bounded', async () => {
    // The audit log is the one table that grows: it records each refused mutation, and nothing else.
    const { audit_log: openAudit, ...openAfter } = await rowDigest(servers.open.orm);
    const { audit_log: tokensAudit, ...tokensAfter } = await rowDigest(servers.tokens.orm);
    const without = (digest: typeof before.open) => Object.fromEntries(Object.entries(digest).filter(([table]) => table !== 'audit_log'));
    expect(openAfter).toEqual(without(before.open));
    expect(tokensAfter).toEqual(without(before.tokens));
    expect(openAudit!.rows + tokensAudit!.rows).toBeGreaterThan(0);
    for (const server of [servers.open, servers.tokens]) {
      const outcomes = (await server.orm.em.getConnection().execute('SELECT DISTINCT outcome FROM audit_log')) as { outcome: string }[];
      expect(outcomes.map((o) => o.outcome).filter((o) => o !== 'refused')).toEqual([]);
    }
    const memory = settledMemory();
    expect(memory.rss - memoryBefore.rss).toBeLessThan(MEMORY_BOUND);
    expect(memory.heapUsed - memoryBefore.heapUsed).toBeLessThan(HEAP_BOUND);
  });

  it('the table covers every category on both transports where it applies, with at least 80 rows', () => {
    const count = (category: Category, transport: Case['transport']) => CASES.filter((c) => c.category === category && c.transport === transport).length;
    expect(CASES.length).toBeGreaterThanOrEqual(80);
    for (const category of ['cost', 'fragments', 'size', 'strings', 'lists', 'numbers', 'variables', 'introspection', 'isolation', 'auth'] as const) {
      expect({ category, http: count(category, 'http') > 0, ws: count(category, 'ws') > 0 }).toEqual({ category, http: true, ws: true });
    }
    // Every string argument of every operation, with each hostile value, on each transport it runs on.
    expect(CASES.filter((c) => c.category === 'strings').length).toBeGreaterThanOrEqual(STRING_ARGUMENTS.length * 3 + (STRING_ARGUMENTS.length - 2) * 3);
  });
});
