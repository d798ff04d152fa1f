import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../src/roles.js';
import { insertVm } from '../helpers/fixtures.js';
import { bearer, gql, wsClient, wsRequest } from '../helpers/graphql.js';
import { startApi, type ApiHarness } from '../helpers/api-server.js';

const OPERATOR = 'op-4c3f2a9d8e7b6a5f4e3d';
const ADMIN = 'adm-9f8e7d6c5b4a39281706';
const VIEWER = 'view-1a2b3c4d5e6f7a8b9c';

let api: ApiHarness;
let vmId: string;
beforeAll(async () => {
  api = await startApi('auth', {
    apiTokens: [
      { role: Role.OPERATOR, token: OPERATOR },
      { role: Role.ADMIN, token: ADMIN },
      { role: Role.VIEWER, token: VIEWER },
    ],
  });
  vmId = (await insertVm(api.orm.em, { mapTest: false })).vmId;
});
afterAll(() => api?.close());

const READ = '{ virtualMachines { totalCount } }';
const WRITE = (id: string) =>
  `mutation { setNetworkMapping(input: { vmId: "${id}", sourceNetworkName: "VM Network", destinationNetworkId: "n1", destinationNetworkName: "Test", isTestNetwork: true }) { id } }`;

describe('bearer tokens (API_TOKENS)', () => {
  it('refuses a request without a token, or with an unknown one, with 401 UNAUTHENTICATED', async () => {
    for (const headers of [{}, bearer('not-a-token-at-all'), { authorization: 'Basic abc' }]) {
      const result = await gql(api.url, READ, {}, headers);
      expect(result.status).toBe(401);
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(result.data).toBeUndefined();
    }
  });

  it('lets a viewer read but not change mappings (FORBIDDEN), nor an operator; an admin does both', async () => {
    const read = await gql(api.url, READ, {}, bearer(VIEWER));
    expect(read.data).toEqual({ virtualMachines: { totalCount: 1 } });
    const denied = await gql(api.url, WRITE(vmId), {}, bearer(VIEWER));
    expect(denied.errors?.[0]).toMatchObject({
      message: 'A viewer token may not run setNetworkMapping; it needs the admin role',
      extensions: { code: 'FORBIDDEN' },
    });
    expect((await gql(api.url, WRITE(vmId), {}, bearer(OPERATOR))).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const allowed = await gql(api.url, WRITE(vmId), {}, bearer(ADMIN));
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data?.setNetworkMapping.id).toBeTruthy();
  });

  it('closes a WebSocket without a valid token with 4403, and applies roles on a valid one', async () => {
    const anonymous = wsClient(api.wsUrl);
    try {
      await expect(wsRequest(anonymous, READ)).rejects.toMatchObject({ code: 4403 });
    } finally {
      await anonymous.dispose();
    }
    const viewer = wsClient(api.wsUrl, { connectionParams: { authorization: `Bearer ${VIEWER}` } });
    try {
      expect((await wsRequest(viewer, READ)).data).toEqual({ virtualMachines: { totalCount: 1 } });
      const denied = await wsRequest(viewer, WRITE(vmId));
      expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    } finally {
      await viewer.dispose();
    }
  });

  it('keeps probes open (they carry no data)', async () => {
    const base = api.url.replace('/graphql', '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
