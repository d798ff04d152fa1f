import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertVm } from '../helpers/fixtures.js';
import { gql, gqlData, wsClient, wsRequest } from '../helpers/graphql.js';
import { startApi, type ApiHarness } from '../helpers/api-server.js';

let api: ApiHarness;
let vmId: string;
beforeAll(async () => {
  api = await startApi('transport');
  vmId = (await insertVm(api.orm.em, { name: 'ws-vm' })).vmId;
});
afterAll(() => api?.close());

const QUERY = `query ($vmId: String!) { vmReadiness(vmId: $vmId, type: LIVE) { vmId ready checks { name passed } } }`;

describe('HTTP and WebSocket on one port and path', () => {
  it('answers the same operation identically over HTTP and over graphql-ws', async () => {
    await api.services.mirrorDatabase(); // the cloud holds the VM's volumes and networks
    const overHttp = await gqlData(api.url, QUERY, { vmId });
    const client = wsClient(api.wsUrl);
    try {
      const overWs = await wsRequest(client, QUERY, { vmId });
      expect(overWs.errors).toBeUndefined();
      expect(overWs.data).toEqual(overHttp);
      expect(overHttp.vmReadiness.ready).toBe(true);
      // A mutation over the socket too.
      const set = await wsRequest(
        client,
        `mutation { deleteNetworkMapping(input: { vmId: "${vmId}", sourceNetworkName: "VM Network", isTestNetwork: true }) { isTestNetwork } }`,
      );
      expect(set.data).toEqual({ deleteNetworkMapping: { isTestNetwork: true } });
    } finally {
      await client.dispose();
    }
  });

  it('gives request errors a code on both transports', async () => {
    const httpError = await gql(api.url, '{ nope }');
    expect(httpError.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const client = wsClient(api.wsUrl);
    try {
      const invalid = await wsRequest(client, '{ nope }');
      expect(invalid.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      const badVariable = await wsRequest(client, QUERY, { vmId: 5 });
      expect(badVariable.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const appError = await wsRequest(client, `{ vmReadiness(vmId: "", type: TEST) { ready } }`);
      expect(appError.errors?.[0]).toMatchObject({ message: 'vmId must not be empty', extensions: { code: 'BAD_USER_INPUT', field: 'vmId' } });
    } finally {
      await client.dispose();
    }
  });

  it('refuses operations wider than 10 top-level fields, on both transports', async () => {
    const wide = `{ ${Array.from({ length: 11 }, (_, i) => `v${i}: virtualMachines(first: 1) { totalCount }`).join(' ')} }`;
    const overHttp = await gql(api.url, wide);
    expect(overHttp.errors?.[0]).toMatchObject({
      message: 'An operation may ask for at most 10 top-level fields; this one asks for 11',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    // Fragments count too.
    const viaFragment = await gql(
      api.url,
      `query { ...F ...F } fragment F on Query { ${Array.from({ length: 11 }, (_, i) => `v${i}: virtualMachines { totalCount }`).join(' ')} }`,
    );
    expect(viaFragment.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const ten = await gql(api.url, `{ ${Array.from({ length: 10 }, (_, i) => `v${i}: virtualMachines(first: 1) { totalCount }`).join(' ')} }`);
    expect(ten.errors).toBeUndefined();
    const client = wsClient(api.wsUrl);
    try {
      const overWs = await wsRequest(client, wide);
      expect(overWs.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    } finally {
      await client.dispose();
    }
  });

  it('takes WebSocket upgrades on /graphql only', async () => {
    const { default: WebSocket } = await import('ws');
    const socket = new WebSocket(api.wsUrl.replace('/graphql', '/elsewhere'), 'graphql-transport-ws');
    const status = await new Promise<number>((resolve) => socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('serves liveness and readiness probes', async () => {
    const base = api.url.replace('/graphql', '');
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    // The harness passes no probe, so readiness is the default: ready.
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});

describe('unexpected errors', () => {
  it('are masked as INTERNAL_SERVER_ERROR on both transports, without SQL or table names', async () => {
    const broken = await startApi('transport_broken');
    try {
      // The table the dashboard page reads (Migration007's index of VMs).
      await broken.orm.em.getConnection().execute('DROP TABLE vm_directory');
      const q = '{ virtualMachines(first: 5) { totalCount } }';
      const overHttp = await gql(broken.url, q);
      expect(overHttp.errors?.[0]).toEqual({
        message: 'Internal server error',
        locations: [{ line: 1, column: 3 }],
        path: ['virtualMachines'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
      const client = wsClient(broken.wsUrl);
      try {
        const overWs = await wsRequest(client, q);
        expect(overWs.errors?.[0]?.message).toBe('Internal server error');
        expect(overWs.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        expect(JSON.stringify(overWs)).not.toMatch(/vm_directory|select/i);
      } finally {
        await client.dispose();
      }
    } finally {
      await broken.close();
    }
  });
});
