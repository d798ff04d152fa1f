import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailoverJob, FailoverStatus, FailoverType } from '../../src/entities/index.js';
import { insertFailoverJob, insertVm } from '../helpers/fixtures.js';
import { gqlData, gqlError } from '../helpers/graphql.js';
import { DATABASE_KINDS, startApi, type ApiHarness } from '../helpers/api-server.js';

const JOBS = `query ($filter: FailoverJobFilter, $first: Int, $after: String) {
  failoverJobs(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { jobId vmId type status active } }
  }
}`;

describe.each(DATABASE_KINDS)('on %s', (kind) => {
  let api: ApiHarness;
  const jobs: FailoverJob[] = [];
  let vmA: string;
  let vmB: string;
  beforeAll(async () => {
    api = await startApi('jobs', { kind });
    vmA = (await insertVm(api.orm.em)).vmId;
    vmB = (await insertVm(api.orm.em)).vmId;
    const plan: [string, FailoverType, FailoverStatus][] = [
      [vmA, FailoverType.TEST, FailoverStatus.CLEANED_UP],
      [vmA, FailoverType.TEST, FailoverStatus.FAILED],
      [vmB, FailoverType.LIVE, FailoverStatus.REVERTED],
      [vmA, FailoverType.LIVE, FailoverStatus.COMPLETED],
      [vmB, FailoverType.TEST, FailoverStatus.CREATING_VM],
    ];
    for (const [vmId, type, status] of plan) jobs.push(await insertFailoverJob(api.orm.em, { vmId, type, status }));
  });
  afterAll(() => api?.close());

  type Jobs = {
    failoverJobs: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; endCursor: string };
      edges: { node: { jobId: string; status: string; active: boolean; type: string; vmId: string } }[];
    };
  };
  const ids = (d: Jobs) => d.failoverJobs.edges.map((e) => e.node.jobId);

  describe('failoverJob / failoverJobs', () => {
    it('returns one job by id with the seed columns, and null for an unknown id', async () => {
      const seedRow = jobs[3]!;
      const data = await gqlData(
        api.url,
        `query ($id: String!) { failoverJob(jobId: $id) { jobId vmId type status sourceVmName active networkMappings { sourceNetworkName } createdAt } }`,
        { id: seedRow.jobId },
      );
      expect(data.failoverJob).toMatchObject({ jobId: seedRow.jobId, vmId: vmA, type: 'LIVE', status: 'COMPLETED', active: false, networkMappings: [] });
      expect(new Date(data.failoverJob.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect((await gqlData(api.url, `{ failoverJob(jobId: "nope") { jobId } }`)).failoverJob).toBeNull();
    });

    it('reads the seed JSON columns of a job written by another tool', async () => {
      await api.orm.em
        .fork()
        .getConnection()
        .execute(
          `INSERT INTO failover_jobs (job_id, vm_id, replication_job_id, job_type, status, source_vm_name, source_vm_spec, network_mappings)
         VALUES ('test-failover-seed-1755530108', 'seed-vm', 'job-20250818-153521', 'test', 'pending', 'PGWINTESTBIOS',
         '{"cpus": 2, "memory_mb": 4096, "os_type": "windows2019srv_64"}', '{"VM Network": "test-network-default"}')`,
        );
      const data = await gqlData(
        api.url,
        `{ failoverJob(jobId: "test-failover-seed-1755530108") { status active sourceVmSpec { cpuCount memoryMb osType } networkMappings { sourceNetworkName destinationNetworkId } } }`,
      );
      expect(data.failoverJob).toEqual({
        status: 'PENDING',
        active: true,
        sourceVmSpec: { cpuCount: 2, memoryMb: 4096, osType: 'windows2019srv_64' },
        networkMappings: [{ sourceNetworkName: 'VM Network', destinationNetworkId: 'test-network-default' }],
      });
      await api.orm.em.fork().getConnection().execute(`DELETE FROM failover_jobs WHERE job_id = 'test-failover-seed-1755530108'`);
    });

    it('lists newest first and pages with cursors', async () => {
      const first = await gqlData<Jobs>(api.url, JOBS, { first: 2 });
      expect(first.failoverJobs.totalCount).toBe(5);
      expect(ids(first)).toEqual([jobs[4]!.jobId, jobs[3]!.jobId]);
      const second = await gqlData<Jobs>(api.url, JOBS, { first: 2, after: first.failoverJobs.pageInfo.endCursor });
      expect(ids(second)).toEqual([jobs[2]!.jobId, jobs[1]!.jobId]);
      const third = await gqlData<Jobs>(api.url, JOBS, { first: 2, after: second.failoverJobs.pageInfo.endCursor });
      expect(ids(third)).toEqual([jobs[0]!.jobId]);
      expect(third.failoverJobs.pageInfo.hasNextPage).toBe(false);
    });

    it('filters by VM, type, statuses and active, combined', async () => {
      const byVm = await gqlData<Jobs>(api.url, JOBS, { filter: { vmId: vmA } });
      expect(ids(byVm)).toEqual([jobs[3]!.jobId, jobs[1]!.jobId, jobs[0]!.jobId]);
      const liveOfA = await gqlData<Jobs>(api.url, JOBS, { filter: { vmId: vmA, type: 'LIVE' } });
      expect(ids(liveOfA)).toEqual([jobs[3]!.jobId]);
      const terminal = await gqlData<Jobs>(api.url, JOBS, { filter: { statuses: ['CLEANED_UP', 'REVERTED'] } });
      expect(ids(terminal)).toEqual([jobs[2]!.jobId, jobs[0]!.jobId]);
      const active = await gqlData<Jobs>(api.url, JOBS, { filter: { active: true } });
      expect(ids(active)).toEqual([jobs[4]!.jobId]);
      expect(active.failoverJobs.totalCount).toBe(1);
      const inactive = await gqlData<Jobs>(api.url, JOBS, { filter: { active: false, vmId: vmB } });
      expect(ids(inactive)).toEqual([jobs[2]!.jobId]);
    });

    it('rejects bad arguments with BAD_USER_INPUT', async () => {
      for (const variables of [
        { first: 0 },
        { first: 100_000 },
        { after: 'garbage' },
        { filter: { statuses: [] } },
        { filter: { vmId: '' } },
        { filter: { statuses: ['DONE'] } },
      ]) {
        const error = await gqlError(api.url, JOBS, variables);
        expect(error.extensions?.code, JSON.stringify(variables)).toBe('BAD_USER_INPUT');
      }
      // A cursor from another connection is refused too.
      const vmCursor = Buffer.from(JSON.stringify(['vm', 'a', 'b'])).toString('base64url');
      expect((await gqlError(api.url, JOBS, { after: vmCursor })).extensions?.code).toBe('BAD_USER_INPUT');
    });
  });
});

describe('rows other tools wrote', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi('jobs_raw');
    const conn = api.orm.em.getConnection();
    await conn.execute(`INSERT INTO failover_jobs (job_id, vm_id, job_type, status, source_vm_name) VALUES ('raw-null', 'vm-raw', 'test', NULL, 'raw')`);
    await conn.execute(`INSERT INTO failover_jobs (job_id, vm_id, job_type, status, source_vm_name) VALUES ('raw-odd', 'vm-raw', 'LIVE', 'cancelled', 'raw')`);
    await conn.execute(
      `INSERT INTO failover_jobs (job_id, vm_id, job_type, status, source_vm_name) VALUES ('raw-failback', 'vm-raw', 'failback', 'completed', 'raw')`,
    );
    await conn.execute(
      `INSERT INTO network_mappings (vm_id, source_network_name, destination_network_id, destination_network_name, is_test_network) VALUES ('vm-raw', 'VM Network', 'n', 'N', NULL)`,
    );
  });
  afterAll(() => api?.close());

  it('lists a NULL status as PENDING, an unknown status as UNKNOWN and an unknown type as null, with the raw text, without failing the list', async () => {
    const data = await gqlData(api.url, `{ failoverJobs { totalCount edges { node { jobId type rawType status rawStatus active } } } }`);
    expect(data.failoverJobs.edges.map((e: any) => e.node)).toEqual([
      { jobId: 'raw-failback', type: null, rawType: 'failback', status: 'COMPLETED', rawStatus: 'completed', active: false },
      { jobId: 'raw-odd', type: 'LIVE', rawType: 'LIVE', status: 'UNKNOWN', rawStatus: 'cancelled', active: false },
      { jobId: 'raw-null', type: 'TEST', rawType: 'test', status: 'PENDING', rawStatus: null, active: true },
    ]);
    const pending = await gqlData(api.url, `{ failoverJobs(filter: { statuses: [PENDING] }) { edges { node { jobId } } } }`);
    expect(pending.failoverJobs.edges.map((e: any) => e.node.jobId)).toEqual(['raw-null']);
    const unknown = await gqlData(api.url, `{ failoverJobs(filter: { statuses: [UNKNOWN] }) { edges { node { jobId } } } }`);
    expect(unknown.failoverJobs.edges.map((e: any) => e.node.jobId)).toEqual(['raw-odd']);
    const live = await gqlData(api.url, `{ failoverJobs(filter: { type: LIVE }) { edges { node { jobId } } } }`);
    expect(live.failoverJobs.edges.map((e: any) => e.node.jobId)).toEqual(['raw-odd']);
  });

  it('reads a NULL is_test_network as a production mapping', async () => {
    const data = await gqlData(api.url, `{ networkMappings(vmId: "vm-raw") { isTestNetwork } }`);
    expect(data.networkMappings).toEqual([{ isTestNetwork: false }]);
  });
});
