import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetworkMapping } from '../../src/entities/index.js';
import { insertVm, type VmFixture } from '../helpers/fixtures.js';
import { gqlData, gqlError } from '../helpers/graphql.js';
import { DATABASE_KINDS, startApi, type ApiHarness } from '../helpers/api-server.js';

const SET = `mutation ($input: SetNetworkMappingInput!) {
  setNetworkMapping(input: $input) { id vmId sourceNetworkName destinationNetworkId destinationNetworkName isTestNetwork }
}`;
const DELETE = `mutation ($input: NetworkMappingKeyInput!) {
  deleteNetworkMapping(input: $input) { sourceNetworkName destinationNetworkId isTestNetwork }
}`;
const LIST = `query ($vmId: String!) { networkMappings(vmId: $vmId) { sourceNetworkName destinationNetworkId isTestNetwork } }`;

describe.each(DATABASE_KINDS)('on %s', (kind) => {
  let api: ApiHarness;
  let vm: VmFixture;
  beforeAll(async () => {
    api = await startApi('mappings', { kind });
    vm = await insertVm(api.orm.em, { networks: ['VM Network', 'Backend'], mapTest: false, mapLive: false });
  });
  afterAll(() => api?.close());

  const input = (over: Record<string, unknown> = {}) => ({
    vmId: vm.vmId,
    sourceNetworkName: 'VM Network',
    destinationNetworkId: 'net-test-1',
    destinationNetworkName: 'Test Network',
    isTestNetwork: true,
    ...over,
  });

  describe('network mappings', () => {
    it('creates a live and a test mapping for the same source network (the seed example), lists production first', async () => {
      await gqlData(api.url, SET, { input: input() });
      await gqlData(api.url, SET, { input: input({ destinationNetworkId: 'net-prod-1', destinationNetworkName: 'Production', isTestNetwork: false }) });
      const { networkMappings } = await gqlData(api.url, LIST, { vmId: vm.vmId });
      expect(networkMappings).toEqual([
        { sourceNetworkName: 'VM Network', destinationNetworkId: 'net-prod-1', isTestNetwork: false },
        { sourceNetworkName: 'VM Network', destinationNetworkId: 'net-test-1', isTestNetwork: true },
      ]);
    });

    it('replaces a mapping in place (same row) when set again', async () => {
      const before = (await gqlData(api.url, SET, { input: input() })).setNetworkMapping;
      const after = (await gqlData(api.url, SET, { input: input({ destinationNetworkId: 'net-test-2', destinationNetworkName: 'Test 2' }) })).setNetworkMapping;
      expect(after.id).toBe(before.id);
      expect(after.destinationNetworkId).toBe('net-test-2');
      expect(await api.orm.em.fork().count(NetworkMapping, { vmId: vm.vmId, isTestNetwork: true })).toBe(1);
    });

    it('concurrent sets of the same mapping leave exactly one row', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => gqlData(api.url, SET, { input: input({ sourceNetworkName: 'Backend', destinationNetworkId: `b-${i}` }) })),
      );
      expect(results).toHaveLength(10);
      expect(await api.orm.em.fork().count(NetworkMapping, { vmId: vm.vmId, sourceNetworkName: 'Backend', isTestNetwork: true })).toBe(1);
    });

    it('writes only the mapping it names: the other mappings of the VM keep their values and timestamps', async () => {
      const other = await insertVm(api.orm.em, { networks: ['VM Network', 'Backend'] });
      const rows = () => api.orm.em.fork().find(NetworkMapping, { vmId: other.vmId }, { orderBy: { id: 'asc' }, disableIdentityMap: true });
      // Stored times a second in the past, so that a rewrite would show.
      await api.orm.em
        .fork()
        .nativeUpdate(NetworkMapping, { vmId: other.vmId }, { createdAt: new Date('2026-01-01T00:00:00Z'), updatedAt: new Date('2026-01-01T00:00:00Z') });
      const before = await rows();
      expect(before.length).toBeGreaterThanOrEqual(3);
      const named = before.find((m) => m.isTestNetwork && m.sourceNetworkName === 'Backend')!;
      await gqlData(api.url, SET, {
        input: { vmId: other.vmId, sourceNetworkName: 'Backend', destinationNetworkId: 'net-test-other', destinationNetworkName: 'Other', isTestNetwork: true },
      });
      const after = await rows();
      const unchanged = (list: NetworkMapping[]) =>
        list.filter((m) => m.id !== named.id).map((m) => [m.id, m.destinationNetworkId, m.createdAt?.toISOString(), m.updatedAt?.toISOString()]);
      expect(unchanged(after)).toEqual(unchanged(before));
      expect(after.find((m) => m.id === named.id)!.destinationNetworkId).toBe('net-test-other');
    });

    it('keeps test and production networks apart: a test mapping onto a production network is refused, and the reverse', async () => {
      const iso = await insertVm(api.orm.em, { networks: ['VM Network', 'Backend'], mapTest: false, mapLive: false });
      const set = (over: Record<string, unknown>) => input({ vmId: iso.vmId, destinationNetworkName: 'N', ...over });
      await gqlData(api.url, SET, { input: set({ destinationNetworkId: 'iso-prod', isTestNetwork: false }) });
      await gqlData(api.url, SET, { input: set({ destinationNetworkId: 'iso-test', isTestNetwork: true }) });
      const before = await api.orm.em.fork().count(NetworkMapping, {});
      const onProduction = await gqlError(api.url, SET, {
        input: set({ sourceNetworkName: 'Backend', destinationNetworkId: 'iso-prod', isTestNetwork: true }),
      });
      expect(onProduction.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'destinationNetworkId' });
      expect(onProduction.message).toBe(
        `Network iso-prod is a production network (the production mapping of "VM Network" for VM ${iso.vmId} uses it): a test failover never uses a production network`,
      );
      const onTest = await gqlError(api.url, SET, { input: set({ sourceNetworkName: 'Backend', destinationNetworkId: 'iso-test', isTestNetwork: false }) });
      expect(onTest.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'destinationNetworkId' });
      expect(onTest.message).toMatch(/is a test network .*: a live failover never uses a test network$/);
      expect(await api.orm.em.fork().count(NetworkMapping, {})).toBe(before);
    });

    it('validates every field with a code and the field name, and writes nothing', async () => {
      const cases: [Record<string, unknown>, string, string | undefined][] = [
        [{ vmId: '' }, 'BAD_USER_INPUT', 'vmId'],
        [{ sourceNetworkName: '   ' }, 'BAD_USER_INPUT', 'sourceNetworkName'],
        [{ destinationNetworkId: '' }, 'BAD_USER_INPUT', 'destinationNetworkId'],
        [{ destinationNetworkName: 'x'.repeat(256) }, 'BAD_USER_INPUT', 'destinationNetworkName'],
        [{ sourceNetworkName: 'Nope' }, 'BAD_USER_INPUT', 'sourceNetworkName'],
        [{ vmId: 'unknown-vm' }, 'NOT_FOUND', undefined],
        [{ isTestNetwork: null }, 'BAD_USER_INPUT', undefined],
      ];
      const before = await api.orm.em.fork().count(NetworkMapping, {});
      for (const [over, code, field] of cases) {
        const error = await gqlError(api.url, SET, { input: input(over) });
        expect(error.extensions?.code, JSON.stringify(over)).toBe(code);
        if (field) expect(error.extensions?.field).toBe(field);
      }
      const wrong = await gqlError(api.url, SET, { input: input({ sourceNetworkName: 'Nope' }) });
      expect(wrong.message).toBe(`VM ${vm.name} has no source network "Nope"; its networks are "VM Network", "Backend"`);
      expect(await api.orm.em.fork().count(NetworkMapping, {})).toBe(before);
    });

    it('deletes one mapping and returns it; a second delete is NOT_FOUND', async () => {
      const key = { vmId: vm.vmId, sourceNetworkName: 'VM Network', isTestNetwork: false };
      const { deleteNetworkMapping } = await gqlData(api.url, DELETE, { input: key });
      expect(deleteNetworkMapping).toEqual({ sourceNetworkName: 'VM Network', destinationNetworkId: 'net-prod-1', isTestNetwork: false });
      const again = await gqlError(api.url, DELETE, { input: key });
      expect(again.extensions?.code).toBe('NOT_FOUND');
      expect(again.message).toBe(`Production network mapping of "VM Network" for VM ${vm.vmId} not found`);
      // The test mapping of the same network is untouched.
      const { networkMappings } = await gqlData(api.url, LIST, { vmId: vm.vmId });
      expect(networkMappings.map((m: { isTestNetwork: boolean }) => m.isTestNetwork)).toEqual([true, true]);
    });

    it('changes readiness: mapping every network makes the VM ready for test failover', async () => {
      const q = `query ($vmId: String!) { vmReadiness(vmId: $vmId, type: TEST) { ready } }`;
      await gqlData(api.url, SET, { input: input() });
      await gqlData(api.url, SET, { input: input({ sourceNetworkName: 'Backend' }) });
      await api.services.mirrorDatabase(); // the cloud holds the mapped networks and the replicated volumes
      expect((await gqlData(api.url, q, { vmId: vm.vmId })).vmReadiness.ready).toBe(true);
      await gqlData(api.url, DELETE, { input: { vmId: vm.vmId, sourceNetworkName: 'Backend', isTestNetwork: true } });
      expect((await gqlData(api.url, q, { vmId: vm.vmId })).vmReadiness.ready).toBe(false);
    });
  });
});
