import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers/api-server.js';
import { gql, wsClient, wsRequest } from '../helpers/graphql.js';

/**
 * Production defaults: introspection and "Did you mean …" suggestions are off on both transports
 * unless ENABLE_INTROSPECTION=true.
 */

const INTROSPECT = '{ __schema { types { name } } }';
const TYPO = '{ virtualMachine { totalCount } }';

describe.each([false, true])('introspection %s', (introspection) => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi(`introspection_${introspection}`, { kind: 'sqlite', introspection });
  });
  afterAll(() => api?.close());

  it('HTTP and WebSocket answer __schema only when it is enabled; __typename always', async () => {
    const client = wsClient(api.wsUrl);
    try {
      for (const result of [await gql(api.url, INTROSPECT), await wsRequest(client, INTROSPECT)]) {
        if (introspection) {
          expect(result.errors).toBeUndefined();
          expect((result.data as { __schema: { types: unknown[] } }).__schema.types.length).toBeGreaterThan(10);
        } else {
          expect(result.data ?? null).toBeNull();
          expect(result.errors![0]!.message).toMatch(/introspection/i);
          expect(result.errors![0]!.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        }
      }
      expect((await gql(api.url, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    } finally {
      await client.dispose();
    }
  });

  it('names other fields in "Did you mean" only when it is enabled, on both transports', async () => {
    const client = wsClient(api.wsUrl);
    try {
      for (const result of [await gql(api.url, TYPO), await wsRequest(client, TYPO)]) {
        const [error] = result.errors!;
        expect(error!.message.startsWith('Cannot query field "virtualMachine" on type "Query".')).toBe(true);
        if (introspection) expect(error!.message).toMatch(/Did you mean "virtualMachines"/);
        else expect(error!.message).toBe('Cannot query field "virtualMachine" on type "Query".');
      }
    } finally {
      await client.dispose();
    }
  });
});
