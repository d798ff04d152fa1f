import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailoverStatus, FailoverType } from '../../src/entities/index.js';
import { insertFailoverJob, insertVm, type VmFixture } from '../helpers/fixtures.js';
import { gqlData, gqlError } from '../helpers/graphql.js';
import { DATABASE_KINDS, startApi, type ApiHarness } from '../helpers/api-server.js';

const DASHBOARD = `query ($first: Int, $after: String, $filter: VirtualMachineFilter) {
  virtualMachines(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node {
      vmId name
      latestReplicationJob { id status }
      spec { cpuCount memoryMb networks { name } }
      disks { diskId unitNumber volumeId }
      networkMappings { sourceNetworkName isTestNetwork destinationNetworkId }
      activeJob { jobId status }
      latestJob { jobId status }
      test: readiness(type: TEST) { ready checks { name passed } }
      live: readiness(type: LIVE) { ready }
    } }
  }
}`;

describe.each(DATABASE_KINDS)('on %s', (kind) => {
  let api: ApiHarness;
  const vms: VmFixture[] = [];
  beforeAll(async () => {
    api = await startApi('vms', { maxPageSize: 200, kind });
    // 120 VMs; every 7th with an active job, every 5th with a finished one, every 3rd with two disks.
    for (let i = 0; i < 120; i++) {
      const vm = await insertVm(api.orm.em, {
        vmId: `4205${String(i).padStart(4, '0')}-aaaa`,
        name: `vm-${String(i).padStart(3, '0')}`,
        disks: i % 3 === 0 ? 2 : 1,
        networks: i % 2 ? ['A', 'B'] : ['A'],
      });
      vms.push(vm);
      if (i % 5 === 0) await insertFailoverJob(api.orm.em, { vmId: vm.vmId, status: FailoverStatus.CLEANED_UP });
      if (i % 7 === 0) await insertFailoverJob(api.orm.em, { vmId: vm.vmId, type: FailoverType.LIVE, status: FailoverStatus.SNAPSHOTTING });
    }
  });
  afterAll(() => api?.close());

  type Page = {
    virtualMachines: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
      edges: { cursor: string; node: any }[];
    };
  };

  describe('virtualMachines', () => {
    it('costs the same number of SQL statements for a page of 10 and a page of 100', async () => {
      api.resetStatements();
      const small = await gqlData<Page>(api.url, DASHBOARD, { first: 10 });
      const smallCount = api.statements().length;
      api.resetStatements();
      const large = await gqlData<Page>(api.url, DASHBOARD, { first: 100 });
      const largeCount = api.statements().length;
      expect(small.virtualMachines.edges).toHaveLength(10);
      expect(large.virtualMachines.edges).toHaveLength(100);
      expect(smallCount).toBeGreaterThan(0);
      expect(largeCount, api.statements().join('\n')).toBe(smallCount);
      // page + count, then the facts: latest replication, disks, CBT, mappings, failover jobs.
      expect(largeCount).toBeLessThanOrEqual(7);
    });

    it('resolves every field of a VM from the database', async () => {
      const data = await gqlData<Page>(api.url, DASHBOARD, { first: 1, filter: { vmIds: [vms[21]!.vmId] } });
      const node = data.virtualMachines.edges[0]!.node;
      expect(node).toMatchObject({
        vmId: vms[21]!.vmId,
        name: 'vm-021',
        latestReplicationJob: { id: vms[21]!.replicationJobId, status: 'completed' },
        spec: { cpuCount: 2, memoryMb: 4096, networks: [{ name: 'A' }, { name: 'B' }] },
        disks: [
          { diskId: 'disk-2000', unitNumber: 0, volumeId: `vol-${vms[21]!.vmId}-0` },
          { diskId: 'disk-2001', unitNumber: 1, volumeId: `vol-${vms[21]!.vmId}-1` },
        ],
        activeJob: { status: 'SNAPSHOTTING' },
        latestJob: { status: 'SNAPSHOTTING' },
        test: { ready: false },
        live: { ready: false },
      });
      expect(node.networkMappings).toHaveLength(4);
      expect(node.test.checks.filter((c: any) => !c.passed).map((c: any) => c.name)).toEqual(['no_active_failover']);
    });

    it('pages through every VM by name with cursors, without gaps or repeats', async () => {
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const data: Page = await gqlData<Page>(api.url, DASHBOARD, { first: 50, after });
        expect(data.virtualMachines.totalCount).toBe(120);
        expect(data.virtualMachines.pageInfo.hasPreviousPage).toBe(after !== null);
        seen.push(...data.virtualMachines.edges.map((e) => e.node.name));
        after = data.virtualMachines.pageInfo.hasNextPage ? data.virtualMachines.pageInfo.endCursor : null;
        pages++;
      } while (after);
      expect(pages).toBe(3);
      expect(seen).toEqual(vms.map((v) => v.name).sort());
    });

    it('filters by search text (name or id, case-insensitive, LIKE characters literal)', async () => {
      const data = await gqlData<Page>(api.url, DASHBOARD, { first: 50, filter: { search: 'VM-11' } });
      expect(data.virtualMachines.totalCount).toBe(10);
      expect(data.virtualMachines.edges.map((e) => e.node.name)).toEqual(Array.from({ length: 10 }, (_, i) => `vm-11${i}`));
      const none = await gqlData<Page>(api.url, DASHBOARD, { first: 50, filter: { search: '%' } });
      expect(none.virtualMachines.totalCount).toBe(0);
    });

    it('rejects bad paging arguments with BAD_USER_INPUT', async () => {
      for (const variables of [
        { first: 0 },
        { first: 201 },
        { first: 5, after: 'not-a-cursor' },
        { first: 5, filter: { search: '  ' } },
        { first: 5, filter: { vmIds: [] } },
      ]) {
        const error = await gqlError(api.url, DASHBOARD, variables);
        expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      }
    });
  });
});
