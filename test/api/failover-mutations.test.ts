import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_NETWORKS, DEMO_VMS, type DemoVm } from '../../src/demo/demo-world.js';
import { AppError } from '../../src/errors.js';
import { FailoverJob, FailoverType } from '../../src/entities/index.js';
import { FailoverService } from '../../src/failover/failover.service.js';
import type { ReadinessService } from '../../src/failover/readiness/readiness.service.js';
import type { VmFacts } from '../../src/inventory/vm-facts.js';
import { createLogger } from '../../src/logger.js';
import { DATABASE_KINDS } from '../helpers/api-server.js';
import { waitFor } from '../helpers/cloudstack.js';
import { CLEANUP, JOB, REVERT, START_LIVE, START_TEST, startFailoverApi, type FailoverHarness } from '../helpers/failover.js';
import { gql, gqlData, gqlError, type GqlResponse } from '../helpers/graphql.js';

/**
 * The failover mutations' contract, each a real request over HTTP to the API with the engine and
 * the CloudStack simulator behind it: what they refuse and with which code and details, and what
 * they start — on MariaDB and on SQLite.
 */

const [WEB, DB, LEGACY] = DEMO_VMS as [DemoVm, DemoVm, DemoVm];
const TEST_BACKEND = DEMO_NETWORKS.find((n) => n.name === 'Test Backend')!;
const START = { test: START_TEST, live: START_LIVE } as const;
type Kind = keyof typeof START;
type Job = Record<string, any> & { jobId: string; status: string };
type GqlErr = NonNullable<GqlResponse['errors']>[number];
interface Check {
  name: string;
  kind: string;
  message: string;
  blockingJobId: string | null;
}

const JOB_WITH_MAPPINGS = `query ($jobId: String!) { failoverJob(jobId: $jobId) { jobId status networkMappings { sourceNetworkName destinationNetworkId } } }`;
const START_WITH_MAPPINGS = `mutation ($input: StartFailoverInput!) { startTestFailover(input: $input) { jobId status networkMappings { sourceNetworkName destinationNetworkId } } }`;

const failingNames = (error: GqlErr) => (error.extensions?.checks as Check[]).map((c) => c.name);

describe.each(DATABASE_KINDS)('failover mutations on %s', (dbKind) => {
  let api: FailoverHarness;
  beforeAll(async () => {
    api = await startFailoverApi('mutations', { kind: dbKind });
  });
  afterAll(() => api?.close());
  afterEach(() => {
    api.sim.faults.clear();
  });

  const start = async (kind: Kind, input: Record<string, unknown>): Promise<Job> =>
    Object.values(await gqlData<Record<string, Job>>(api.url, START[kind], { input }))[0]!;
  const startError = (kind: Kind, input: Record<string, unknown>) => gqlError(api.url, START[kind], { input });
  const readJob = async (jobId: string) => (await gqlData<{ failoverJob: Job }>(api.url, JOB, { jobId })).failoverJob;
  /** Polls the job (over the API) until it has `status`. */
  const waitForStatus = (jobId: string, status: string) =>
    waitFor(
      async () => {
        const job = await readJob(jobId);
        return job.status === status ? job : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 25 },
    );
  const jobRows = (vmId: string) => api.orm.em.fork().count(FailoverJob, { vmId });
  const allJobRows = () => api.orm.em.fork().count(FailoverJob, {});

  /** Cleans up (test) or reverts (live) a completed job, so that its VM is free again. */
  async function release(job: Job) {
    const test = job.jobId.startsWith('test-');
    const data = await gqlData<Record<string, Job>>(api.url, test ? CLEANUP : REVERT, { jobId: job.jobId });
    expect(Object.values(data)[0]!.status).toBe(test ? 'CLEANUP' : 'REVERTING');
    return waitForStatus(job.jobId, test ? 'CLEANED_UP' : 'REVERTED');
  }

  /**
   * Each loser of a race of starts was refused because of the winner, and only ever with
   * JOB_CONFLICT naming it — also a loser that finished its checks after the winner's failover
   * had completed: it raced an active job (a start made after the winner completed is a later
   * start, VM_NOT_READY, tested above). Compared whole, so a failure shows every odd refusal.
   */
  function expectRefusedFor(refused: readonly { errors?: readonly GqlErr[] }[], winner: string) {
    const seen = refused.map((a) => {
      const error = a.errors?.[0];
      const code = error?.extensions?.code;
      const by = code === 'JOB_CONFLICT' ? error?.extensions?.jobId : undefined;
      return { errors: a.errors?.length, refusedFor: by === winner ? 'winner' : { code, message: error?.message } };
    });
    expect(seen).toEqual(refused.map(() => ({ errors: 1, refusedFor: 'winner' })));
  }

  function expectInvalidTransition(error: GqlErr, jobId: string, status: string, message: RegExp) {
    expect(error.extensions).toMatchObject({ code: 'INVALID_JOB_TRANSITION', jobId, status });
    expect(error.message).toMatch(message);
  }

  describe('VM_NOT_READY', () => {
    it('refuses legacy-app-01 for both kinds, listing every failing check by name', async () => {
      for (const kind of ['test', 'live'] as const) {
        const rows = await jobRows(LEGACY.vmId);
        const error = await startError(kind, { vmId: LEGACY.vmId });
        expect(error.extensions).toMatchObject({ code: 'VM_NOT_READY', vmId: LEGACY.vmId });
        // Replicating (so not completed, and active), no successful CBT sync, and a network
        // mapping missing for either kind; the cloud network check depends on the mappings.
        expect(failingNames(error)).toEqual([
          'replication_completed',
          'cbt_change_id',
          'network_mappings',
          'no_active_replication',
          'cloud_destination_networks',
          'cloud_unwind_possible',
        ]);
        const checks = Object.fromEntries((error.extensions!.checks as Check[]).map((c) => [c.name, c]));
        expect(checks.replication_completed!).toMatchObject({ kind: 'DATABASE', blockingJobId: null });
        expect(checks.replication_completed!.message).toContain(`${LEGACY.replicationJobId} is replicating`);
        expect(checks.network_mappings!.message).toContain(
          kind === 'test' ? 'No test network mapping for "VM Network", "Legacy Network"' : 'No production network mapping for "Legacy Network"',
        );
        expect(checks.cloud_destination_networks!).toMatchObject({ kind: 'CLOUD', message: 'Not checked: network_mappings failed' });
        expect(checks.cloud_unwind_possible!).toMatchObject({ kind: 'CLOUD', message: 'Not checked: cloud_destination_networks failed' });
        expect(error.message).toMatch(new RegExp(`^VM ${LEGACY.vmId} is not ready for a ${kind} failover: `));
        expect(await jobRows(LEGACY.vmId)).toBe(rows);
      }
    });

    it('refuses an unknown vmId for both kinds with vm_known failing', async () => {
      for (const kind of ['test', 'live'] as const) {
        const error = await startError(kind, { vmId: 'no-such-vm' });
        expect(error.extensions).toMatchObject({ code: 'VM_NOT_READY', vmId: 'no-such-vm' });
        expect(failingNames(error)).toContain('vm_known');
        const vmKnown = (error.extensions!.checks as Check[]).find((c) => c.name === 'vm_known')!;
        expect(vmKnown.message).toMatch(/No replication job exists for VM no-such-vm/);
        // Everything else failing only because vm_known did.
        for (const check of (error.extensions!.checks as Check[]).filter((c) => c.name !== 'vm_known')) {
          expect(check.message).toMatch(/^Not checked: /);
        }
      }
      expect(await jobRows('no-such-vm')).toBe(0);
    });
  });

  describe('BAD_USER_INPUT', () => {
    it('refuses bad input before anything else, naming the argument, and records nothing', async () => {
      const rows = await allJobRows();
      const cases: [Kind, Record<string, unknown>, string, RegExp][] = [
        ['test', { vmId: '' }, 'vmId', /vmId must not be empty/],
        ['live', { vmId: '   ' }, 'vmId', /vmId must not be empty/],
        [
          'test',
          { vmId: WEB.vmId, networkOverrides: [{ sourceNetworkName: 'Backend Network', destinationNetworkId: TEST_BACKEND.id }] },
          'networkOverrides',
          /web-01 has no source network "Backend Network"; its networks are "VM Network"/,
        ],
        [
          'test',
          {
            vmId: DB.vmId,
            networkOverrides: [
              { sourceNetworkName: 'VM Network', destinationNetworkId: TEST_BACKEND.id },
              { sourceNetworkName: 'VM Network', destinationNetworkId: TEST_BACKEND.id },
            ],
          },
          'networkOverrides',
          /"VM Network" is overridden twice/,
        ],
        ['live', { vmId: WEB.vmId, autoCleanupAfterMinutes: 30 }, 'autoCleanupAfterMinutes', /applies to test failovers only/],
        ['test', { vmId: WEB.vmId, autoCleanupAfterMinutes: 0 }, 'autoCleanupAfterMinutes', /whole number from 1 to 43200/],
        ['test', { vmId: WEB.vmId, autoCleanupAfterMinutes: 43_201 }, 'autoCleanupAfterMinutes', /whole number from 1 to 43200/],
        ['test', { vmId: WEB.vmId, autoCleanupAfterMinutes: -5 }, 'autoCleanupAfterMinutes', /whole number from 1 to 43200/],
      ];
      for (const [kind, input, field, message] of cases) {
        const error = await startError(kind, input);
        expect({ input, extensions: error.extensions }).toEqual({ input, extensions: { code: 'BAD_USER_INPUT', field } });
        expect(error.message).toMatch(message);
      }
      // Bad input on a VM that is not even ready is still bad input (checked first).
      const legacy = await startError('live', { vmId: LEGACY.vmId, autoCleanupAfterMinutes: 5 });
      expect(legacy.extensions?.code).toBe('BAD_USER_INPUT');
      expect(await allJobRows()).toBe(rows);
    });

    it('accepts the bounds of autoCleanupAfterMinutes (43200) and schedules the cleanup', async () => {
      const job = await start('test', { vmId: WEB.vmId, autoCleanupAfterMinutes: 43_200 });
      const done = await waitForStatus(job.jobId, 'COMPLETED');
      expect(new Date(done.autoCleanupAt).getTime() - new Date(done.completedAt).getTime()).toBeCloseTo(43_200 * 60_000, -4);
      expect((await release(done)).autoCleanupAt).toBeNull();
    });
  });

  describe('NOT_FOUND', () => {
    it('cleanup and revert of an unknown job', async () => {
      for (const mutation of [CLEANUP, REVERT]) {
        const error = await gqlError(api.url, mutation, { jobId: 'test-failover-nope-1700000000' });
        expect(error.extensions).toEqual({ code: 'NOT_FOUND', id: 'test-failover-nope-1700000000' });
        expect(error.message).toBe('Failover job test-failover-nope-1700000000 not found');
      }
    });
  });

  describe('a job’s life', () => {
    it('the mutation returns the job PENDING; the job completes; a completed test failover holds the VM; cleanup frees it', async () => {
      const started = Date.now();
      const job = await start('test', { vmId: WEB.vmId });
      expect(job).toMatchObject({
        vmId: WEB.vmId,
        type: 'TEST',
        status: 'PENDING',
        rawStatus: 'pending',
        active: true,
        progressPercent: 0,
        failedStep: null,
        errorMessage: null,
      });
      const seconds = Number(/^test-failover-(.+)-(\d+)$/.exec(job.jobId)?.[2]);
      expect(job.jobId).toBe(`test-failover-${WEB.vmId}-${seconds}`);
      expect(seconds).toBeGreaterThanOrEqual(Math.floor(started / 1000));
      expect(seconds).toBeLessThan(Math.floor(started / 1000) + 15);

      const done = await waitForStatus(job.jobId, 'COMPLETED');
      expect(done).toMatchObject({ active: false, progressPercent: 100, failedStep: null, errorMessage: null });
      expect(done.destinationVmId).toBeTruthy();

      // Held: neither kind of failover may start; the check names the holding job.
      for (const kind of ['test', 'live'] as const) {
        const error = await startError(kind, { vmId: WEB.vmId });
        expect(error.extensions?.code).toBe('VM_NOT_READY');
        const held = (error.extensions!.checks as Check[]).find((c) => c.name === 'volumes_not_held');
        expect(held).toMatchObject({ kind: 'DATABASE', blockingJobId: job.jobId });
        expect(held!.message).toContain(`Test failover ${job.jobId} still holds the volumes: clean it up first`);
        // The volumes are on the test VM, not the appliance: the cloud says so too.
        expect(failingNames(error)).toContain('cloud_volumes_ready');
      }
      // A test job is not reverted.
      expectInvalidTransition(
        await gqlError(api.url, REVERT, { jobId: job.jobId }),
        job.jobId,
        'COMPLETED',
        /is a test failover: revertFailover reverts live failovers; use cleanupTestFailover/,
      );

      await release(done);
      // Cleaned up: it cannot be cleaned up (or reverted) again.
      expectInvalidTransition(
        await gqlError(api.url, CLEANUP, { jobId: job.jobId }),
        job.jobId,
        'CLEANED_UP',
        /is cleaned_up: only a completed test failover can be cleaned up/,
      );
      expectInvalidTransition(await gqlError(api.url, REVERT, { jobId: job.jobId }), job.jobId, 'CLEANED_UP', /is a test failover/);
      // And the VM is free again.
      const next = await start('test', { vmId: WEB.vmId });
      await release(await waitForStatus(next.jobId, 'COMPLETED'));
    });

    it('JOB_CONFLICT (with the active job’s id) while a job runs, and INVALID_JOB_TRANSITION for a cleanup of it', async () => {
      // Slow snapshots keep the job running while the requests below are made.
      const hold = api.sim.faults.add({ command: 'createSnapshot', kind: 'latency', ms: 1_500, count: 0 });
      const job = await start('test', { vmId: WEB.vmId });
      for (const kind of ['test', 'live'] as const) {
        const error = await startError(kind, { vmId: WEB.vmId });
        expect(error.extensions).toEqual({ code: 'JOB_CONFLICT', jobId: job.jobId });
        expect(error.message).toMatch(new RegExp(`VM already has an active test failover ${job.jobId}`));
      }
      const running = await gqlError(api.url, CLEANUP, { jobId: job.jobId });
      expect(running.extensions?.code).toBe('INVALID_JOB_TRANSITION');
      expect(running.extensions?.jobId).toBe(job.jobId);
      expect(['PENDING', 'VALIDATING', 'SNAPSHOTTING']).toContain(running.extensions?.status);
      expect(running.message).toMatch(new RegExp(`is ${String(running.extensions?.status).toLowerCase()}: only a completed test failover can be cleaned up`));
      expect(hold.seen).toBeLessThanOrEqual(1);
      expect(await jobRows(WEB.vmId)).toBeGreaterThan(0);

      const done = await waitForStatus(job.jobId, 'COMPLETED');
      api.sim.faults.clear();
      await release(done);
    });

    it('INVALID_JOB_TRANSITION: cleanupTestFailover of a live job (it is reverted instead)', async () => {
      const job = await start('live', { vmId: WEB.vmId });
      const done = await waitForStatus(job.jobId, 'COMPLETED');
      expectInvalidTransition(
        await gqlError(api.url, CLEANUP, { jobId: job.jobId }),
        job.jobId,
        'COMPLETED',
        /is a live failover: cleanupTestFailover cleans up test failovers; use revertFailover/,
      );
      expect((await readJob(job.jobId)).status).toBe('COMPLETED');
      expect((await release(done)).status).toBe('REVERTED');
      expectInvalidTransition(
        await gqlError(api.url, REVERT, { jobId: job.jobId }),
        job.jobId,
        'REVERTED',
        /is reverted: only a completed live failover can be reverted/,
      );
    });

    it('INVALID_JOB_TRANSITION: cleanup of a failed job (the VM is free at once)', async () => {
      api.sim.faults.add({ command: 'deployVirtualMachine', kind: 'error', errorCode: 431, errorText: 'INJECTED: no capacity', count: 0 });
      const job = await start('test', { vmId: WEB.vmId });
      const failed = await waitForStatus(job.jobId, 'FAILED');
      expect(failed).toMatchObject({ failedStep: 'create_vm', errorMessage: 'Failed at create_vm: deployVirtualMachine: INJECTED: no capacity' });
      expectInvalidTransition(
        await gqlError(api.url, CLEANUP, { jobId: job.jobId }),
        job.jobId,
        'FAILED',
        /is failed: only a completed test failover can be cleaned up/,
      );
      api.sim.faults.clear();
      // Not held: a new test failover starts.
      const next = await start('test', { vmId: WEB.vmId });
      expect(next.status).toBe('PENDING');
      await release(await waitForStatus(next.jobId, 'COMPLETED'));
    });

    it('of ≥ 20 concurrent starts for one VM exactly one creates a job; the others are refused', async () => {
      const rows = await jobRows(DB.vmId);
      const answers = await Promise.all(Array.from({ length: 24 }, () => gql<{ startTestFailover: Job }>(api.url, START_TEST, { input: { vmId: DB.vmId } })));
      const won = answers.filter((a) => a.data?.startTestFailover);
      expect(won).toHaveLength(1);
      const job = won[0]!.data!.startTestFailover;
      expect(job.status).toBe('PENDING');
      const refused = answers.filter((a) => !a.data?.startTestFailover);
      expect(refused).toHaveLength(23);
      expectRefusedFor(refused, job.jobId);
      expect(await jobRows(DB.vmId)).toBe(rows + 1);
      await release(await waitForStatus(job.jobId, 'COMPLETED'));
    });
    it('job ids follow the seed format and never collide: one second after the VM’s latest job of the type', async () => {
      const ahead = Math.floor(Date.now() / 1000) + 30;
      const em = api.orm.em.fork();
      em.create(FailoverJob, {
        jobId: `test-failover-${WEB.vmId}-${ahead}`,
        vmId: WEB.vmId,
        jobType: 'test',
        status: 'cleaned_up',
        sourceVmName: WEB.name,
      } as never);
      await em.flush();
      const { startTestFailover: job } = await gqlData<{ startTestFailover: Job }>(api.url, START_TEST, { input: { vmId: WEB.vmId } });
      expect(job.jobId).toBe(`test-failover-${WEB.vmId}-${ahead + 1}`);
      await release(await waitForStatus(job.jobId, 'COMPLETED'));
    });

    it('starts that all passed readiness race into the database, which lets exactly one through', async () => {
      // Every readiness check's last cloud call is held, so all 20 starts have passed readiness (no
      // active job yet) before any of them writes: only the unique VM lock can decide.
      const hold = api.sim.faults.add({ command: 'listNetworks', kind: 'latency', count: 20, ms: 400 });
      try {
        const rows = await jobRows(WEB.vmId);
        const answers = await Promise.all(
          Array.from({ length: 20 }, () => gql<{ startTestFailover: Job }>(api.url, START_TEST, { input: { vmId: WEB.vmId } })),
        );
        const won = answers.filter((a) => a.data?.startTestFailover);
        expect(won).toHaveLength(1);
        const job = won[0]!.data!.startTestFailover;
        const refused = answers.filter((a) => !a.data?.startTestFailover);
        expect(refused).toHaveLength(19);
        expectRefusedFor(refused, job.jobId);
        expect(await jobRows(WEB.vmId)).toBe(rows + 1);
        await release(await waitForStatus(job.jobId, 'COMPLETED'));
      } finally {
        api.sim.faults.remove(hold.id);
      }
    });
  });

  it.each([
    ['its checks passed before the winner existed (the database lock refuses it)', 'before'],
    ['its checks ran after the winner took the volumes (failing cloud checks)', 'after'],
  ] as const)('a loser still checking when the winner’s job has already completed gets JOB_CONFLICT: %s', async (_label, checks) => {
    // A second FailoverService on the same database whose readiness is held at a gate: the loser
    // has loaded its facts (no job yet) and is checking while the winner runs to COMPLETED.
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const readiness = api.runtime.readiness;
    const held = {
      full: async (facts: VmFacts, type: FailoverType) => {
        entered();
        if (checks === 'before') {
          const answer = await readiness.full(facts, type);
          await gate;
          return answer;
        }
        await gate;
        return readiness.full(facts, type);
      },
    } as unknown as ReadinessService;
    const loserService = new FailoverService({ em: api.orm.em, readiness: held, logger: createLogger({ level: 'silent' }), notify: () => {}, wake: () => {} });
    const loser = loserService.start(FailoverType.TEST, { vmId: WEB.vmId }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await inside;
    const winner = await start('test', { vmId: WEB.vmId });
    await waitForStatus(winner.jobId, 'COMPLETED');
    open();
    const error = (await loser) as AppError | undefined;
    expect(error).toBeInstanceOf(AppError);
    expect(error!.extensions).toEqual({ code: 'JOB_CONFLICT', jobId: winner.jobId });
    expect(error!.message).toBe(`A concurrent start won: test failover ${winner.jobId} began while this start was being checked (now completed)`);
    // A start made now is a later start: the completed job holds the volumes.
    const later = await startError('test', { vmId: WEB.vmId });
    expect(later.extensions?.code).toBe('VM_NOT_READY');
    expect((later.extensions!.checks as Check[]).find((c) => c.name === 'volumes_not_held')?.blockingJobId).toBe(winner.jobId);
    await release(await readJob(winner.jobId));
  });

  describe('network overrides', () => {
    it('keeps a test failover off production networks and a live failover off test networks (BAD_USER_INPUT, no job)', async () => {
      const rows = await jobRows(WEB.vmId);
      const production = DEMO_NETWORKS.find((n) => !n.isTest)!;
      const test = await startError('test', { vmId: WEB.vmId, networkOverrides: [{ sourceNetworkName: 'VM Network', destinationNetworkId: production.id }] });
      expect(test.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'networkOverrides' });
      expect(test.message).toMatch(new RegExp(`^Network ${production.id} is a production network .*: a test failover never uses a production network$`));
      const live = await startError('live', { vmId: WEB.vmId, networkOverrides: [{ sourceNetworkName: 'VM Network', destinationNetworkId: TEST_BACKEND.id }] });
      expect(live.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'networkOverrides' });
      expect(live.message).toMatch(/is a test network .*: a live failover never uses a test network$/);
      expect(await jobRows(WEB.vmId)).toBe(rows);
    });

    it('an override is honoured: the NIC is on the chosen network, and the job shows the mapping it used', async () => {
      const overrides = [{ sourceNetworkName: 'VM Network', destinationNetworkId: TEST_BACKEND.id }];
      const { startTestFailover: job } = await gqlData<{ startTestFailover: Job }>(api.url, START_WITH_MAPPINGS, {
        input: { vmId: WEB.vmId, networkOverrides: overrides },
      });
      expect(job.status).toBe('PENDING');
      expect(job.networkMappings).toEqual(overrides);
      const done = await waitForStatus(job.jobId, 'COMPLETED');
      const vm = api.sim.getState().vms.find((v) => v.id === done.destinationVmId)!;
      expect(vm.state).toBe('Running');
      expect(vm.nics.map((n) => n.networkid)).toEqual([TEST_BACKEND.id]);
      expect((await gqlData<{ failoverJob: Job }>(api.url, JOB_WITH_MAPPINGS, { jobId: job.jobId })).failoverJob.networkMappings).toEqual(overrides);
      await release(done);
      // The override was for that job only: the next one uses the stored mapping.
      const { startTestFailover: plain } = await gqlData<{ startTestFailover: Job }>(api.url, START_WITH_MAPPINGS, { input: { vmId: WEB.vmId } });
      expect(plain.networkMappings).toEqual([{ sourceNetworkName: 'VM Network', destinationNetworkId: WEB.mappings[0]!.testNetworkId }]);
      await release(await waitForStatus(plain.jobId, 'COMPLETED'));
    });

    it('an override to a network CloudStack does not have: VM_NOT_READY with cloud_destination_networks failing', async () => {
      const missing = '5c1d0e7a-0000-4000-8000-00000000dead';
      const rows = await jobRows(WEB.vmId);
      for (const kind of ['test', 'live'] as const) {
        const error = await startError(kind, { vmId: WEB.vmId, networkOverrides: [{ sourceNetworkName: 'VM Network', destinationNetworkId: missing }] });
        expect(error.extensions?.code).toBe('VM_NOT_READY');
        expect(failingNames(error)).toEqual(['cloud_destination_networks', 'cloud_unwind_possible']);
        const check = (error.extensions!.checks as Check[])[0]!;
        expect(check.kind).toBe('CLOUD');
        expect(check.message).toContain(`(${missing}) that "VM Network" maps to does not exist in CloudStack`);
      }
      expect(await jobRows(WEB.vmId)).toBe(rows);
    });
  });

  describe('CLOUD_UNAVAILABLE', () => {
    let down: FailoverHarness;
    beforeAll(async () => {
      down = await startFailoverApi('mutations-down', { kind: dbKind });
      await down.sim.close();
    });
    afterAll(() => down?.close());

    it('a start when CloudStack cannot be reached: the readiness cloud checks cannot run', async () => {
      for (const kind of ['test', 'live'] as const) {
        const error = await gqlError(down.url, START[kind], { input: { vmId: DB.vmId } });
        expect(error.extensions).toEqual({ code: 'CLOUD_UNAVAILABLE', vmId: DB.vmId });
        expect(error.message).toMatch(
          new RegExp(`^CloudStack could not be asked whether VM ${DB.vmId} is ready: Check could not run: list(Volumes|Networks) failed: transport failure`),
        );
      }
      expect(await down.orm.em.fork().count(FailoverJob, {})).toBe(0);
    });
  });
});
