import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { DEMO_PLAN } from '../../src/demo/seed-demo-data.js';
import { latestSequence } from '../../src/events/event-store.js';
import { PLAN_EVENTS } from '../../src/events/plan-event-store.js';
import { DATABASE_KINDS } from '../helpers/api-server.js';
import { gql, gqlData, wsClient } from '../helpers/graphql.js';
import { waitFor } from '../helpers/wait.js';
import { cloudView, START_TEST, startFailoverApi, type FailoverHarness } from '../helpers/failover.js';
import {
  CANCEL_PLAN,
  CLEANUP_PLAN,
  CREATE_PLAN,
  DELETE_PLAN,
  demoVm,
  EXECUTION,
  planSettled,
  REVERT_PLAN,
  START_PLAN,
  subscribePlanEvents,
  UPDATE_PLAN,
} from '../helpers/plans.js';

/**
 * Recovery plans (issue 12): CRUD and its bounds on both databases; on MariaDB, with the simulator
 * over HTTP and real graphql-ws subscribers, a three-wave test plan whose job events prove the wave
 * order and the max-in-flight, its cleanup in reverse back to the cloud as it was, HALT and CONTINUE
 * with a fault in the first wave, idempotency keys, edits refused while it runs, and cancel.
 */

type Json = Record<string, any>;
const ids = (...names: string[]) => names.map((name) => demoVm(name).vmId);
const waves = (...groups: string[][]) => groups.map((names) => ({ vmIds: ids(...names) }));

describe.each(DATABASE_KINDS)('recovery plan CRUD and bounds on %s', (kind) => {
  let api: FailoverHarness;
  beforeAll(async () => {
    api = await startFailoverApi('plans_crud', { kind });
  });
  afterAll(() => api?.close());

  const create = (input: Json) => gql(api.url, CREATE_PLAN, { input });
  const refusal = async (promise: Promise<{ errors?: readonly Json[] }>) => (await promise).errors?.[0]?.extensions as Json | undefined;

  it('the demo data holds a plan over the demo VMs', async () => {
    const { recoveryPlans } = await gqlData<Json>(
      api.url,
      `{ recoveryPlans(first: 10) { edges { node { name maxInFlight failurePolicy waves { order vms { name } } } } } }`,
    );
    const demo = recoveryPlans.edges.map((e: Json) => e.node).find((p: Json) => p.name === DEMO_PLAN.name);
    expect(demo.waves).toEqual(DEMO_PLAN.waves.map((names, i) => ({ order: i + 1, vms: names.map((name) => ({ name })) })));
    expect(demo).toMatchObject({ maxInFlight: DEMO_PLAN.maxInFlight, failurePolicy: 'HALT' });
  });

  it("answers a plan's readiness for one plan, and refuses it for a page of plans (each would ask CloudStack about all its VMs)", async () => {
    const { recoveryPlans } = await gqlData<Json>(api.url, '{ recoveryPlans(first: 10) { edges { node { id name } } } }');
    const demo = recoveryPlans.edges.map((e: Json) => e.node).find((p: Json) => p.name === DEMO_PLAN.name);
    const { recoveryPlan } = await gqlData<Json>(api.url, 'query ($id: ID!) { recoveryPlan(id: $id) { readiness(type: TEST) { vms { vmId } } } }', {
      id: demo.id,
    });
    expect(recoveryPlan.readiness.vms).toHaveLength(DEMO_PLAN.waves.flat().length);
    const listed = await gql(api.url, '{ recoveryPlans(first: 10) { edges { node { readiness(type: TEST) { ready } } } } }');
    expect(listed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'readiness' });
    expect(listed.errors?.[0]?.message).toMatch(/one plan at a time/);
  });

  it('creates, reads, pages, updates and deletes a plan; defaults maxInFlight 10 and HALT', async () => {
    const { data } = await create({ name: 'crud-app', description: 'an app', waves: waves(['db-01'], ['web-01', 'app-01']) });
    const plan = data!.createRecoveryPlan;
    expect(plan).toMatchObject({ name: 'crud-app', description: 'an app', maxInFlight: 10, failurePolicy: 'HALT' });
    expect(plan.waves).toEqual([
      { order: 1, vms: [{ vmId: demoVm('db-01').vmId, name: 'db-01' }] },
      {
        order: 2,
        vms: [
          { vmId: demoVm('web-01').vmId, name: 'web-01' },
          { vmId: demoVm('app-01').vmId, name: 'app-01' },
        ],
      },
    ]);
    const { recoveryPlan } = await gqlData<Json>(
      api.url,
      'query ($id: ID!) { recoveryPlan(id: $id) { id name latestExecution { id } executions(first: 5) { edges { cursor } } } }',
      { id: plan.id },
    );
    expect(recoveryPlan).toEqual({ id: plan.id, name: 'crud-app', latestExecution: null, executions: { edges: [] } });

    // Keyset pages: one at a time, the cursor of each page leads to the next, nothing twice.
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Json = (
        await gqlData<Json>(
          api.url,
          'query ($after: String) { recoveryPlans(first: 1, after: $after) { edges { node { name } } pageInfo { hasNextPage endCursor } } }',
          { after },
        )
      ).recoveryPlans;
      seen.push(...page.edges.map((e: Json) => e.node.name));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([DEMO_PLAN.name, 'crud-app']);

    const updated = await gqlData<Json>(api.url, UPDATE_PLAN, {
      id: plan.id,
      input: { name: 'crud-app-2', waves: waves(['web-01']), maxInFlight: 3, failurePolicy: 'CONTINUE' },
    });
    expect(updated.updateRecoveryPlan).toMatchObject({ name: 'crud-app-2', description: null, maxInFlight: 3, failurePolicy: 'CONTINUE' });
    expect(updated.updateRecoveryPlan.waves).toEqual([{ order: 1, vms: [{ vmId: demoVm('web-01').vmId, name: 'web-01' }] }]);

    const deleted = await gqlData<Json>(api.url, DELETE_PLAN, { id: plan.id });
    expect(deleted.deleteRecoveryPlan.deletedAt).not.toBeNull();
    expect((await gqlData<Json>(api.url, 'query ($id: ID!) { recoveryPlan(id: $id) { id } }', { id: plan.id })).recoveryPlan).toBeNull();
    expect(await refusal(gql(api.url, DELETE_PLAN, { id: plan.id }))).toMatchObject({ code: 'NOT_FOUND' });
    // The name is free again.
    expect((await create({ name: 'crud-app-2', waves: waves(['web-01']) })).data?.createRecoveryPlan.name).toBe('crud-app-2');
  });

  it('refuses what is out of bounds, each with a code and the field', async () => {
    const ok = { name: 'bounds', waves: waves(['web-01']) };
    const cases: [Json, Json][] = [
      [
        { ...ok, name: '' },
        { code: 'BAD_USER_INPUT', field: 'name' },
      ],
      [
        { ...ok, name: '   ' },
        { code: 'BAD_USER_INPUT', field: 'name' },
      ],
      [
        { ...ok, name: 'x'.repeat(101) },
        { code: 'BAD_USER_INPUT', field: 'name' },
      ],
      [
        { ...ok, description: 'd'.repeat(1001) },
        { code: 'BAD_USER_INPUT', field: 'description' },
      ],
      [
        { ...ok, waves: [] },
        { code: 'BAD_USER_INPUT', field: 'waves' },
      ],
      [
        { ...ok, waves: Array.from({ length: 21 }, () => ({ vmIds: ids('web-01') })) },
        { code: 'BAD_USER_INPUT', field: 'waves' },
      ],
      [
        { ...ok, waves: [{ vmIds: [] }] },
        { code: 'BAD_USER_INPUT', field: 'waves[0].vmIds' },
      ],
      [
        { ...ok, waves: waves(['web-01'], ['db-01', 'web-01']) },
        { code: 'BAD_USER_INPUT', field: 'waves[1].vmIds[1]' },
      ],
      [
        { ...ok, waves: waves(['web-01', 'web-01']) },
        { code: 'BAD_USER_INPUT', field: 'waves[0].vmIds[1]' },
      ],
      [
        { ...ok, waves: [{ vmIds: ['no-such-vm'] }] },
        { code: 'NOT_FOUND', field: 'waves', vmIds: ['no-such-vm'] },
      ],
      [
        { ...ok, waves: [{ vmIds: Array.from({ length: 2001 }, (_v, i) => `vm-${i}`) }] },
        { code: 'BAD_USER_INPUT', field: 'waves[0].vmIds' },
      ],
      [
        { ...ok, maxInFlight: 0 },
        { code: 'BAD_USER_INPUT', field: 'maxInFlight' },
      ],
      [
        { ...ok, maxInFlight: 101 },
        { code: 'BAD_USER_INPUT', field: 'maxInFlight' },
      ],
      [
        { ...ok, name: DEMO_PLAN.name },
        { code: 'BAD_USER_INPUT', field: 'name' },
      ],
    ];
    for (const [input, expected] of cases) expect(await refusal(create(input)), JSON.stringify(input).slice(0, 120)).toMatchObject(expected);
    // Two waves of 1,500 VMs each pass the per-list bound and are refused as a plan of more than 2,000.
    const many = (from: number) => ({ vmIds: Array.from({ length: 1500 }, (_v, i) => `vm-${from + i}`) });
    expect(await refusal(create({ ...ok, waves: [many(0), many(1500)] }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'waves' });
    for (const id of ['abc', '0', '-1', '1.5', '99999999999']) {
      expect(await refusal(gql(api.url, 'query ($id: ID!) { recoveryPlan(id: $id) { id } }', { id }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    }
    expect(await refusal(gql(api.url, UPDATE_PLAN, { id: '424242', input: ok }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await refusal(gql(api.url, START_PLAN, { input: { planId: '424242', type: 'TEST' } }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await refusal(gql(api.url, CANCEL_PLAN, { id: '424242' }))).toMatchObject({ code: 'NOT_FOUND' });
  });
});

/** Job events with their plan execution, over graphql-ws. */
function collectJobEvents(client: Client, afterSequence: number) {
  const events: Json[] = [];
  const errors: unknown[] = [];
  const dispose = client.subscribe<Json>(
    {
      query:
        'subscription ($after: Int) { failoverJobEvents(afterSequence: $after) { sequence jobId vmId status previousStatus planExecutionId requestedBy } }',
      variables: { after: afterSequence },
    },
    { next: (v) => (v.errors ? errors.push(v.errors) : events.push(v.data!.failoverJobEvents)), error: (e) => errors.push(e), complete: () => {} },
  );
  return { events, errors, dispose };
}

/** [start, end] in event sequences of each job: its first event to the event that ended its flow. */
function spans(events: readonly Json[], endStatuses: readonly string[], startStatuses: readonly string[]) {
  const out = new Map<string, { vmId: string; start: number; end: number }>();
  for (const e of events) {
    const span = out.get(e.jobId);
    if (!span && startStatuses.includes(e.status) && e.status !== e.previousStatus)
      out.set(e.jobId, { vmId: e.vmId, start: e.sequence, end: Number.POSITIVE_INFINITY });
    else if (span && endStatuses.includes(e.status) && e.status !== e.previousStatus && span.end === Number.POSITIVE_INFINITY) span.end = e.sequence;
  }
  return out;
}

/** The most spans open at once. */
function maxConcurrent(all: readonly { start: number; end: number }[]): number {
  const points = all.flatMap((s) => [
    [s.start, 1],
    [s.end, -1],
  ]);
  points.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let max = 0;
  for (const [, delta] of points) max = Math.max(max, (open += delta!));
  return max;
}

describe('recovery plan executions on MariaDB', () => {
  let api: FailoverHarness;
  let client: Client;
  beforeAll(async () => {
    api = await startFailoverApi('plans_run', { sim: { settings: { allowUserExpungeRecoverVm: true } } });
    client = wsClient(api.wsUrl);
  });
  afterEach(() => api.sim.faults.clear());
  afterAll(async () => {
    await client?.dispose();
    await api?.close();
  });

  const latestPlanSequence = () => PLAN_EVENTS.latest(api.orm.em.fork());

  async function createPlan(name: string, planWaves: string[][], extra: Json = {}): Promise<string> {
    return (await gqlData<Json>(api.url, CREATE_PLAN, { input: { name, waves: waves(...planWaves), ...extra } })).createRecoveryPlan.id;
  }

  /** Runs `mutation` and follows the execution's events until one of `statuses`. */
  async function follow(mutation: string, variables: Json, statuses: string[], during?: (execution: Json) => Promise<void>) {
    const jobs = collectJobEvents(client, await latestSequence(api.orm.em.fork()));
    const afterSequence = await latestPlanSequence();
    const { data, errors } = await gql(api.url, mutation, variables);
    expect(errors).toBeUndefined();
    const execution = Object.values(data!)[0] as Json;
    const stream = subscribePlanEvents(client, { executionId: execution.id, afterSequence });
    await during?.(execution);
    const end = await stream.until(planSettled(statuses));
    stream.dispose();
    // Every job event of the run has been delivered once the execution's end is (it committed after them).
    await api.runtime.events.flush();
    jobs.dispose();
    expect(stream.errors).toEqual([]);
    expect(jobs.errors).toEqual([]);
    const { planExecution } = await gqlData<Json>(api.url, EXECUTION, { id: execution.id });
    return {
      started: execution,
      end,
      planEvents: [...stream.events],
      jobEvents: jobs.events.filter((e) => e.planExecutionId === execution.id),
      execution: planExecution,
    };
  }

  it('a three-wave test plan: waves in order, never more than maxInFlight at once, cleanup in reverse, the cloud as before', async () => {
    const planWaves = [
      ['db-01', 'cache-01'],
      ['app-01', 'app-02', 'mq-01'],
      ['web-01', 'api-gw-01'],
    ];
    const planId = await createPlan('three-waves', planWaves, { maxInFlight: 2 });
    const before = cloudView(api.sim.getState());

    const run = await follow(START_PLAN, { input: { planId, type: 'TEST' } }, ['COMPLETED', 'FAILED', 'PARTIALLY_COMPLETED'], async (execution) => {
      expect(execution.status).toBe('PENDING');
      // While it runs: a VM of the plan cannot be started on its own, the plan neither edited, deleted nor started again.
      const single = await gql(api.url, START_TEST, { input: { vmId: demoVm('web-01').vmId } });
      expect(single.errors?.[0]?.extensions).toMatchObject({ code: 'JOB_CONFLICT', planExecutionId: execution.id });
      const edit = await gql(api.url, UPDATE_PLAN, { id: planId, input: { name: 'three-waves', waves: waves(['web-01']) } });
      expect(edit.errors?.[0]?.extensions).toMatchObject({ code: 'PLAN_RUNNING', executionId: execution.id });
      expect((await gql(api.url, DELETE_PLAN, { id: planId })).errors?.[0]?.extensions).toMatchObject({ code: 'PLAN_RUNNING' });
      expect((await gql(api.url, START_PLAN, { input: { planId, type: 'TEST' } })).errors?.[0]?.extensions).toMatchObject({
        code: 'JOB_CONFLICT',
        executionId: execution.id,
      });
    });
    expect(run.end.status).toBe('COMPLETED');
    expect(run.execution).toMatchObject({ status: 'COMPLETED', progressPercent: 100, type: 'TEST', errorMessage: null, plan: { id: planId } });
    expect(run.execution.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(run.execution.waves.map((w: Json) => [w.order, w.status, w.jobs.length])).toEqual([
      [1, 'COMPLETED', 2],
      [2, 'COMPLETED', 3],
      [3, 'COMPLETED', 2],
    ]);
    const jobs = run.execution.waves.flatMap((w: Json) => w.jobs);
    expect(jobs.every((j: Json) => j.status === 'COMPLETED' && j.requestedBy === run.execution.requestedBy && j.planExecutionId === run.execution.id)).toBe(
      true,
    );

    // The job events: wave N+1's first job started after wave N's last job ended; at most 2 at once.
    const failovers = spans(run.jobEvents, ['COMPLETED', 'FAILED'], ['PENDING']);
    expect(failovers.size).toBe(7);
    const waveOf = (vmId: string) => planWaves.findIndex((names) => ids(...names).includes(vmId));
    for (let w = 0; w + 1 < planWaves.length; w++) {
      const ended = Math.max(...[...failovers.values()].filter((s) => waveOf(s.vmId) === w).map((s) => s.end));
      const next = Math.min(...[...failovers.values()].filter((s) => waveOf(s.vmId) === w + 1).map((s) => s.start));
      expect(next).toBeGreaterThan(ended);
    }
    expect(maxConcurrent([...failovers.values()])).toBeLessThanOrEqual(2);
    expect(maxConcurrent([...failovers.values()])).toBe(2);
    // Its own events: dense within the execution, progress never going back, ending at 100.
    expect(run.planEvents.map((e) => e.executionSequence)).toEqual(run.planEvents.map((_e, i) => i + 1));
    const percents = run.planEvents.map((e) => e.progressPercent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(run.planEvents.filter((e) => e.kind === 'vm_launched')).toHaveLength(7);
    expect(run.planEvents.map((e) => e.kind === 'status' && e.status).filter(Boolean)).toEqual(['PENDING', 'RUNNING', 'COMPLETED']);

    // A replay from the start gives the same events, with no gap and no duplicate.
    const replay = subscribePlanEvents(client, { executionId: run.execution.id, afterSequence: 0 });
    await replay.until((e) => e.sequence === run.end.sequence);
    replay.dispose();
    expect(replay.events.map((e) => e.sequence)).toEqual(run.planEvents.map((e) => e.sequence));

    const cleanup = await follow(CLEANUP_PLAN, { id: run.execution.id }, ['CLEANED_UP', 'COMPLETED']);
    expect(cleanup.started.status).toBe('CLEANUP');
    expect(cleanup.end.status).toBe('CLEANED_UP');
    expect(cleanup.execution.waves.map((w: Json) => w.status)).toEqual(['UNWOUND', 'UNWOUND', 'UNWOUND']);
    expect(cleanup.execution.vms.every((vm: Json) => vm.unwindState === 'DONE')).toBe(true);
    // In reverse: wave 3's cleanups ended before wave 2's began, and so on; within maxInFlight.
    const unwinds = spans(cleanup.jobEvents, ['CLEANED_UP', 'COMPLETED'], ['CLEANUP']);
    expect(unwinds.size).toBe(7);
    for (let w = planWaves.length - 1; w > 0; w--) {
      const ended = Math.max(...[...unwinds.values()].filter((s) => waveOf(s.vmId) === w).map((s) => s.end));
      const next = Math.min(...[...unwinds.values()].filter((s) => waveOf(s.vmId) === w - 1).map((s) => s.start));
      expect(next).toBeGreaterThan(ended);
    }
    expect(maxConcurrent([...unwinds.values()])).toBeLessThanOrEqual(2);
    expect(cloudView(api.sim.getState())).toEqual(before);

    // Done: a second cleanup is refused; the plan may be edited again.
    expect((await gql(api.url, CLEANUP_PLAN, { id: run.execution.id })).errors?.[0]?.extensions).toMatchObject({
      code: 'INVALID_PLAN_TRANSITION',
      status: 'CLEANED_UP',
    });
    expect((await gql(api.url, REVERT_PLAN, { id: run.execution.id })).errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_PLAN_TRANSITION' });
    expect((await gql(api.url, UPDATE_PLAN, { id: planId, input: { name: 'three-waves', waves: waves(['web-01']) } })).errors).toBeUndefined();
  });

  it.each([
    ['HALT', 'FAILED', ['FAILED', 'SKIPPED', 'SKIPPED']],
    ['CONTINUE', 'PARTIALLY_COMPLETED', ['FAILED', 'COMPLETED', 'COMPLETED']],
  ])('%s with a fault in one VM of the first wave ends %s', async (policy, status, states) => {
    const planId = await createPlan(`fault-${policy}`, [['app-01', 'app-02'], ['cache-01']], { maxInFlight: 1, failurePolicy: policy });
    const before = cloudView(api.sim.getState());
    // maxInFlight 1: the first deploy is app-01's (the first VM of the first wave); refused for good.
    api.sim.faults.add({
      command: 'deployVirtualMachine',
      kind: 'error',
      nth: 1,
      count: 1,
      errorCode: 431,
      errorText: `INJECTED-${policy}: the cloud refuses`,
    });
    const run = await follow(START_PLAN, { input: { planId, type: 'TEST' } }, ['COMPLETED', 'FAILED', 'PARTIALLY_COMPLETED']);
    expect(run.end.status).toBe(status);
    expect(run.execution.vms.map((vm: Json) => vm.state)).toEqual(states);
    expect(run.execution.vms[0].errorMessage).toContain(`INJECTED-${policy}`);
    expect(run.execution.errorMessage).toContain(demoVm('app-01').vmId);
    // The failed job compensated itself; cleanup takes back what completed, and the cloud is as before.
    const cleanup = await follow(CLEANUP_PLAN, { id: run.execution.id }, ['CLEANED_UP', status]);
    expect(cleanup.end.status).toBe('CLEANED_UP');
    expect(cleanup.execution.vms.map((vm: Json) => vm.unwindState)).toEqual(states.map((s) => (s === 'COMPLETED' ? 'DONE' : 'NONE')));
    expect(cloudView(api.sim.getState())).toEqual(before);
  });

  it('idempotency keys: the same key and input give one execution (and one job); another input, IDEMPOTENCY_MISMATCH', async () => {
    const planId = await createPlan('idempotent', [['files-01']]);
    const key = `plan-key-${Date.now()}`;
    const first = await gqlData<Json>(api.url, START_PLAN, { input: { planId, type: 'TEST', idempotencyKey: key } });
    const again = await gqlData<Json>(api.url, START_PLAN, { input: { planId, type: 'TEST', idempotencyKey: key } });
    expect(again.startPlanExecution.id).toBe(first.startPlanExecution.id);
    const other = await gql(api.url, START_PLAN, { input: { planId, type: 'LIVE', idempotencyKey: key } });
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'IDEMPOTENCY_MISMATCH', field: 'idempotencyKey' });
    for (const bad of ['', 'k'.repeat(101), 'tab\tinside', '   ']) {
      const refused = await gql(api.url, START_PLAN, { input: { planId, type: 'TEST', idempotencyKey: bad } });
      expect(refused.errors?.[0]?.extensions, JSON.stringify(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'idempotencyKey' });
    }
    const stream = subscribePlanEvents(client, { executionId: first.startPlanExecution.id, afterSequence: 0 });
    await stream.until(planSettled(['COMPLETED']));
    stream.dispose();
    // Still the same execution once it ended.
    expect((await gqlData<Json>(api.url, START_PLAN, { input: { planId, type: 'TEST', idempotencyKey: key } })).startPlanExecution.id).toBe(
      first.startPlanExecution.id,
    );
    const cleanup = await follow(CLEANUP_PLAN, { id: first.startPlanExecution.id }, ['CLEANED_UP', 'COMPLETED']);
    expect(cleanup.end.status).toBe('CLEANED_UP');

    // A single start with a key: the same job twice; another VM with the key, a mismatch.
    const jobKey = `job-key-${Date.now()}`;
    const a = await gqlData<Json>(api.url, START_TEST, { input: { vmId: demoVm('files-01').vmId, idempotencyKey: jobKey } });
    const b = await gqlData<Json>(api.url, START_TEST, { input: { vmId: demoVm('files-01').vmId, idempotencyKey: jobKey } });
    expect(b.startTestFailover.jobId).toBe(a.startTestFailover.jobId);
    const c = await gql(api.url, START_TEST, { input: { vmId: demoVm('app-01').vmId, idempotencyKey: jobKey } });
    expect(c.errors?.[0]?.extensions).toMatchObject({ code: 'IDEMPOTENCY_MISMATCH' });
    const d = await gql(api.url, `mutation ($input: StartFailoverInput!) { startLiveFailover(input: $input) { jobId } }`, {
      input: { vmId: demoVm('files-01').vmId, idempotencyKey: jobKey },
    });
    expect(d.errors?.[0]?.extensions).toMatchObject({ code: 'IDEMPOTENCY_MISMATCH' });
    await waitForJob(a.startTestFailover.jobId, 'COMPLETED');
    await gqlData(api.url, 'mutation ($jobId: String!) { cleanupTestFailover(jobId: $jobId) { jobId } }', { jobId: a.startTestFailover.jobId });
    await waitForJob(a.startTestFailover.jobId, 'CLEANED_UP');
  });

  /** Waits until a job's row reads `status`. */
  async function waitForJob(jobId: string, status: string) {
    await waitFor(
      async () => (await gqlData<Json>(api.url, 'query ($jobId: String!) { failoverJob(jobId: $jobId) { status } }', { jobId })).failoverJob.status === status,
      { timeoutMs: 60_000, intervalMs: 50, what: `job ${jobId} ${status}` },
    );
  }

  it('cancel: no new launches, the running job finishes, CANCELLED; what completed is cleaned up', async () => {
    const planId = await createPlan('cancel-me', [['web-01', 'app-02'], ['api-gw-01']], { maxInFlight: 1 });
    const before = cloudView(api.sim.getState());
    const run = await follow(START_PLAN, { input: { planId, type: 'TEST' } }, ['CANCELLED', 'COMPLETED'], async (execution) => {
      const stream = subscribePlanEvents(client, { executionId: execution.id, afterSequence: 0 });
      await stream.until((e) => e.kind === 'vm_launched');
      stream.dispose();
      const cancelled = await gqlData<Json>(api.url, CANCEL_PLAN, { id: execution.id });
      expect(cancelled.cancelPlanExecution.status).toBe('CANCELLING');
    });
    expect(run.end.status).toBe('CANCELLED');
    expect(run.execution.vms.map((vm: Json) => vm.state)).toEqual(['COMPLETED', 'SKIPPED', 'SKIPPED']);
    expect((await gql(api.url, CANCEL_PLAN, { id: run.execution.id })).errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_PLAN_TRANSITION' });
    const cleanup = await follow(CLEANUP_PLAN, { id: run.execution.id }, ['CLEANED_UP', 'CANCELLED']);
    expect(cleanup.end.status).toBe('CLEANED_UP');
    expect(cloudView(api.sim.getState())).toEqual(before);
  });

  it('a cleanup that fails part-way goes back to how the run ended; run again, it resumes and never redoes a VM', async () => {
    const planId = await createPlan('unwind-resume', [['app-01'], ['app-02', 'cache-01']], { maxInFlight: 1 });
    const before = cloudView(api.sim.getState());
    const run = await follow(START_PLAN, { input: { planId, type: 'TEST' } }, ['COMPLETED', 'FAILED', 'PARTIALLY_COMPLETED']);
    expect(run.end.status).toBe('COMPLETED');
    // In reverse, one at a time: app-02's revert goes through, cache-01's is refused for good.
    api.sim.faults.add({ command: 'revertSnapshot', kind: 'jobFailure', nth: 2, count: 1, errorCode: 431, errorText: 'INJECTED-unwind: the cloud refuses' });
    const failed = await follow(CLEANUP_PLAN, { id: run.execution.id }, ['CLEANED_UP', 'COMPLETED']);
    expect(failed.end.status).toBe('COMPLETED');
    expect(failed.execution.errorMessage).toContain('cleanupPlanExecution again');
    expect(failed.execution.vms.map((vm: Json) => [vm.vmId, vm.unwindState])).toEqual([
      [demoVm('app-01').vmId, 'PENDING'],
      [demoVm('app-02').vmId, 'DONE'],
      [demoVm('cache-01').vmId, 'FAILED'],
    ]);
    const resumed = await follow(CLEANUP_PLAN, { id: run.execution.id }, ['CLEANED_UP', 'COMPLETED']);
    expect(resumed.end.status).toBe('CLEANED_UP');
    // app-02 was cleaned up once: the re-run began no cleanup of it.
    const app02 = failed.execution.vms[1].jobId;
    expect(resumed.jobEvents.filter((e) => e.jobId === app02)).toEqual([]);
    expect(resumed.planEvents.filter((e) => e.kind === 'vm_unwind_started').map((e) => e.vmId)).toEqual([demoVm('cache-01').vmId, demoVm('app-01').vmId]);
    expect(cloudView(api.sim.getState())).toEqual(before);
  });

  it('a live plan is reverted in reverse; cleanupPlanExecution is refused for it', async () => {
    const planId = await createPlan('live-plan', [['api-gw-01'], ['web-01']]);
    const before = cloudView(api.sim.getState());
    const run = await follow(START_PLAN, { input: { planId, type: 'LIVE' } }, ['COMPLETED', 'FAILED', 'PARTIALLY_COMPLETED']);
    expect(run.end.status).toBe('COMPLETED');
    expect((await gql(api.url, CLEANUP_PLAN, { id: run.execution.id })).errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_PLAN_TRANSITION' });
    const revert = await follow(REVERT_PLAN, { id: run.execution.id }, ['REVERTED', 'COMPLETED']);
    expect(revert.started.status).toBe('REVERTING');
    expect(revert.end.status).toBe('REVERTED');
    const order = revert.planEvents.filter((e) => e.kind === 'vm_unwind_started').map((e) => e.vmId);
    expect(order).toEqual(ids('web-01', 'api-gw-01'));
    expect(cloudView(api.sim.getState())).toEqual(before);
  });

  it('a plan with a VM that is not ready is refused with VM_NOT_READY listing each VM and its failing checks', async () => {
    const planId = await createPlan('not-ready', [['web-01'], ['legacy-app-01']]);
    const refused = await gql(api.url, START_PLAN, { input: { planId, type: 'TEST' } });
    const extensions = refused.errors?.[0]?.extensions as Json;
    expect(extensions.code).toBe('VM_NOT_READY');
    expect(extensions.vms.map((vm: Json) => vm.vmId)).toEqual([demoVm('legacy-app-01').vmId]);
    expect(extensions.vms[0].checks.map((c: Json) => c.name)).toEqual(expect.arrayContaining(['replication_completed', 'cbt_change_id']));
    const { recoveryPlan } = await gqlData<Json>(
      api.url,
      'query ($id: ID!) { recoveryPlan(id: $id) { readiness(type: TEST) { ready vms { vmId ready checks { name passed message } } } latestExecution { id } } }',
      { id: planId },
    );
    expect(recoveryPlan.readiness.ready).toBe(false);
    expect(recoveryPlan.readiness.vms.map((vm: Json) => vm.ready)).toEqual([true, false]);
    expect(recoveryPlan.latestExecution).toBeNull();
  });
});
