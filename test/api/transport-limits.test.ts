import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startApi, type ApiHarness } from '../helpers/api-server.js';
import { gql, wsClient, wsRequest } from '../helpers/graphql.js';

/**
 * What a connection may hold: every HTTP refusal answers a GraphQL error body with a code; a
 * WebSocket message is bounded like an HTTP body, before anything parses it; one socket runs a
 * bounded number of operations; a client that sends its headers too slowly is cut off.
 */

describe('HTTP and WebSocket transport limits', () => {
  let api: ApiHarness;
  let base: string;
  beforeAll(async () => {
    api = await startApi('transport_limits', { kind: 'sqlite', transportLimits: { headersTimeoutMs: 300, maxOperationsPerSocket: 3 } });
    base = api.url.replace(/\/graphql$/, '');
  });
  afterAll(() => api?.close());

  const healthy = async () => expect((await fetch(`${base}/healthz`)).status).toBe(200);

  it.each([
    ['invalid JSON', () => fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' }), 400, 'BAD_REQUEST'],
    [
      'a body over 1 MiB',
      () =>
        fetch(api.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: `{ __typename } #${'x'.repeat(1_100_000)}` }),
        }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['a body that is not JSON', () => fetch(api.url, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a path that is not the API', () => fetch(`${base}/nope`), 404, 'NOT_FOUND'],
    ['headers over the parser limit', () => fetch(`${base}/healthz`, { headers: { 'x-big': 'y'.repeat(20_000) } }), 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE'],
  ] as const)('%s: refused with its status and a GraphQL error body', async (_what, send, status, code) => {
    const response = await send();
    expect(response.status).toBe(status);
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe(code);
    expect(body.errors[0]!.message.length).toBeLessThan(400);
    await healthy();
  });

  it('a client that sends its headers too slowly is cut off (408 with a body) when the headers timeout passes', async () => {
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    await closed; // the server ends it: the test would time out otherwise
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*"code":"REQUEST_TIMEOUT"/);
    await healthy();
  });

  it('a WebSocket message over 1 MiB closes the socket (1009) before it is parsed — a connection_init too', async () => {
    const socket = new WebSocket(api.wsUrl, 'graphql-transport-ws');
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'x'.repeat(1_100_000) } }));
    expect(await closed).toBe(1009);
    await healthy();
  });

  it('one socket runs at most its bound of operations at once; the one over it is refused, the others go on', async () => {
    const client = wsClient(api.wsUrl);
    try {
      const errors: unknown[] = [];
      const stops = Array.from({ length: 3 }, () =>
        client.subscribe({ query: 'subscription { failoverJobEvents { sequence } }' }, { next: () => {}, error: (e) => errors.push(e), complete: () => {} }),
      );
      // The subscriptions have been taken once a query behind them is answered (one socket, in order).
      const over = await wsRequest(client, '{ __typename }');
      expect(over.errors?.[0]?.extensions?.code).toBe('TOO_MANY_OPERATIONS');
      expect(over.errors?.[0]?.message).toBe('This socket already runs 3 operations, the most it may; end one first');
      stops[0]!();
      const after = await wsRequest(client, '{ __typename }');
      expect(after.data).toEqual({ __typename: 'Query' });
      expect(errors).toEqual([]);
      for (const stop of stops.slice(1)) stop();
    } finally {
      await client.dispose();
    }
    expect((await gql(api.url, '{ __typename }')).data).toEqual({ __typename: 'Query' });
  });
});
