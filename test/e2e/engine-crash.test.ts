import { hostName, testSuffix } from '../../src/failover/engine/plan.js';
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MikroORM } from '@mikro-orm/core';
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/cloudstack/simulator/simulator.server.js';
import type { SimJob, SimulatorSnapshot } from '../../src/cloudstack/simulator/simulator.state.js';
import { DEMO_VMS, type DemoVm } from '../../src/demo/demo-world.js';
import { seedDemoData } from '../../src/demo/seed-demo-data.js';
import { FailoverJob, FailoverLedgerEntry, FailoverType, LedgerState } from '../../src/entities/index.js';
import { latestSequence, readEvents } from '../../src/events/event-store.js';
import { createLogger } from '../../src/logger.js';
import { createFailoverRuntime, type FailoverRuntime } from '../../src/service.js';
import { openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';
import {
  childServiceEnv,
  CLEANUP,
  cloudView,
  FAST_ENGINE,
  JOB,
  REVERT,
  START_LIVE,
  START_TEST,
  startFailoverApi,
  subscribeEvents,
  transitions,
  type EventRecord,
  type EventStream,
  type FailoverHarness,
} from '../helpers/failover.js';
import { gqlData, wsClient } from '../helpers/graphql.js';
import { waitFor as waitUntil } from '../helpers/wait.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process.js';

/**
 * Done-when 5 (a SIGKILLed engine resumes every job, exactly once in the cloud), done-when 7
 * (automatic cleanup fires on time, also across a restart) and the engine's leases.
 *
 * The crash tests run the BUILT service (dist/src/main.js: run `tsc -p tsconfig.json` first) as a
 * child process on a fresh MariaDB database, against a CloudStack simulator that runs in THIS
 * process, so the cloud (and the async jobs the dead engine left running) survives every kill.
 */

const [WEB, DB] = DEMO_VMS as [DemoVm, DemoVm];
const LEASE_MS = 1_000;
/** Every async CloudStack job takes this long: long enough for a kill to land inside a step. */
const JOB_LATENCY_MS = 100;
const FAILOVER_STATUSES = ['VALIDATING', 'SNAPSHOTTING', 'CREATING_VM', 'SWITCHING_VOLUME', 'POWERING_ON'] as const;
const FAILOVER_TRANSITIONS = ['PENDING', ...FAILOVER_STATUSES, 'COMPLETED'];
const UNWIND_STEPS = ['stop_vm', 'detach_volumes', 'revert_volumes', 'reattach_volumes', 'destroy_vm', 'delete_snapshots'] as const;
type UnwindStep = (typeof UNWIND_STEPS)[number];
/** The cloud call each unwind step makes (the kill lands while one of them is in flight). */
const UNWIND_COMMAND: Record<UnwindStep, string> = {
  stop_vm: 'stopVirtualMachine',
  detach_volumes: 'detachVolume',
  revert_volumes: 'revertSnapshot',
  reattach_volumes: 'attachVolume',
  destroy_vm: 'destroyVirtualMachine',
  delete_snapshots: 'deleteSnapshot',
};

/** The shared condition wait, with what is awaited named first (as this file reads best). */
const waitFor = <T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 20_000, intervalMs = 5) =>
  waitUntil(probe, { what, timeoutMs, intervalMs });

/** One raw SQL statement on the test's own connection to the service's database. */
async function sql<T = Record<string, unknown>>(orm: MikroORM, query: string, params: unknown[] = []): Promise<T[]> {
  const rows: unknown = await orm.em.getConnection().execute(query, params, 'all');
  return (Array.isArray(rows) ? rows : []) as T[];
}

/** What the cloud held before a job: its "as before" view, and every id it had (to tell new ones). */
interface CloudMark {
  readonly view: unknown;
  readonly ids: Set<string>;
}

function markCloud(sim: Simulator): CloudMark {
  const state = sim.getState({ jobs: true });
  const ids = new Set([...state.vms, ...state.volumes, ...state.snapshots].map((r) => r.id));
  for (const job of state.jobs ?? []) ids.add(job.jobid);
  return { view: cloudView(state), ids };
}

/** Records (live or removed) and async jobs that appeared since `mark`. */
function newSince(state: SimulatorSnapshot, mark: CloudMark) {
  const fresh = <T extends { id: string }>(items: readonly T[]) => items.filter((i) => !mark.ids.has(i.id));
  return {
    vms: fresh(state.vms),
    volumes: fresh(state.volumes),
    snapshots: fresh(state.snapshots),
    jobs: (state.jobs ?? []).filter((j) => !mark.ids.has(j.jobid)),
  };
}

const succeeded = (jobs: readonly SimJob[], command: string) => jobs.filter((j) => j.command === command && j.jobstatus === 1);

/** The failover flow's transitions up to the failed step, then FAILED (a compensated failure). */
function compensatedTransitions(seen: readonly string[]): string[] {
  const failedAt = seen.indexOf('FAILED');
  return [...FAILOVER_TRANSITIONS.slice(0, failedAt), 'FAILED'];
}

/** Sequences strictly increasing (no duplicate), and exactly the ones the store holds for the job (no gap). */
async function expectCompleteStream(orm: MikroORM, jobId: string, after: number, events: readonly EventRecord[]): Promise<void> {
  const sequences = events.map((e) => e.sequence);
  expect(sequences).toEqual([...new Set(sequences)].sort((a, b) => a - b));
  expect(new Set(events.map((e) => e.jobId))).toEqual(new Set([jobId]));
  const stored = await readEvents(orm.em.fork(), { after, upTo: sequences.at(-1)!, filter: { jobId } });
  expect(sequences).toEqual(stored.map((e) => e.sequence));
}

/**
 * The outcome of a failover the engine was killed in: `completed` with exactly one VM, one
 * snapshot per volume, each volume attached once and no template ROOT left; or `failed` with the
 * cloud as before. Either way no ledger entry is left only intended.
 */
async function expectFailoverOutcome(orm: MikroORM, sim: Simulator, url: string, jobId: string, vm: DemoVm, kind: 'test' | 'live', mark: CloudMark) {
  const { failoverJob: job } = await gqlData<{ failoverJob: Record<string, any> }>(url, JOB, { jobId });
  const state = sim.getState({ jobs: true });
  const fresh = newSince(state, mark);
  const vmName = kind === 'test' ? hostName(vm.name, testSuffix(jobId)) : vm.name;
  const ledger = await orm.em.fork().find(FailoverLedgerEntry, { jobId });
  expect(ledger.filter((e) => e.state === LedgerState.INTENT).map((e) => e.actionKey)).toEqual([]);
  // Never more than one VM deployed, nor more than one snapshot taken of a volume (removed ones count too).
  expect(fresh.vms.length).toBeLessThanOrEqual(1);
  for (const disk of vm.disks) expect(fresh.snapshots.filter((s) => s.volumeid === disk.volumeId).length).toBeLessThanOrEqual(1);
  if (job.status === 'FAILED') {
    expect(cloudView(state)).toEqual(mark.view);
    return job;
  }
  expect(job).toMatchObject({ status: 'COMPLETED', active: false, progressPercent: 100, errorMessage: null });
  const live = state.vms.filter((v) => !v.removed && v.name === vmName);
  expect(live.map((v) => [v.id, v.state])).toEqual([[job.destinationVmId, 'Running']]);
  expect(fresh.vms.map((v) => v.id)).toEqual([job.destinationVmId]);
  expect(succeeded(fresh.jobs, 'deployVirtualMachine')).toHaveLength(1);
  for (const disk of vm.disks) {
    const snapshots = fresh.snapshots.filter((s) => s.volumeid === disk.volumeId);
    expect(snapshots.map((s) => [s.name, s.state, s.removed ?? null])).toEqual([[`${jobId}-${disk.volumeId}`, 'BackedUp', null]]);
  }
  // Every replicated volume on the new VM, root at device 0, data disks after it, each attached by one call.
  const attached = state.volumes.filter((v) => !v.removed && v.virtualmachineid === job.destinationVmId).sort((a, b) => a.deviceid! - b.deviceid!);
  expect(attached.map((v) => [v.id, v.deviceid])).toEqual(vm.disks.map((d, i) => [d.volumeId, i]));
  expect(
    succeeded(fresh.jobs, 'attachVolume')
      .map((j) => j.jobinstanceid)
      .sort(),
  ).toEqual(vm.disks.map((d) => d.volumeId).sort());
  // The template's ROOT volume of the deployed VM did not survive the swap.
  expect(state.volumes.filter((v) => !v.removed && v.name === `ROOT-${vmName}`)).toEqual([]);
  expect(fresh.volumes.filter((v) => !v.removed)).toEqual([]);
  return job;
}

// ---------------------------------------------------------------------------------------------
// The service as a child process, SIGKILLed and restarted.
// ---------------------------------------------------------------------------------------------

describe('the engine killed with SIGKILL (a child process) and restarted, on MariaDB', () => {
  let db: MigratedDatabase;
  let sim: Simulator;
  let env: Record<string, string>;
  const children = new Set<ServiceProcess>();
  const clients = new Set<Client>();
  /** Where each kill landed (status, cursor, cloud jobs in flight) and how the job ended: for the log. */
  const landings: string[] = [];

  beforeAll(async () => {
    db = await openMigratedDatabase('engine_crash');
    await seedDemoData(db.orm.em);
    sim = await startSimulator({ jobLatencyMs: JOB_LATENCY_MS });
    env = childServiceEnv(db, sim, { ENGINE_LEASE_MS: String(LEASE_MS) });
  });

  async function killAll() {
    for (const client of clients) await client.dispose();
    clients.clear();
    await Promise.all([...children].map((child) => child.stop('SIGKILL')));
    children.clear();
  }

  afterEach(async (context) => {
    for (const client of clients) await client.dispose();
    clients.clear();
    // A failed test may leave a child mid-job: never let it run into the next test.
    if (context.task.result?.state === 'fail' || context.task.result?.errors?.length) await killAll();
  });

  afterAll(async () => {
    await killAll();
    if (landings.length) console.info(`engine-crash kill points:\n  ${landings.join('\n  ')}`);
    await sim?.close();
    await db?.close();
  });

  /** The running child, or a new one. */
  async function service(): Promise<ServiceProcess> {
    const running = [...children].find((c) => c.proc.exitCode === null && c.proc.signalCode === null);
    if (running) return running;
    const child = await startServiceProcess(env);
    children.add(child);
    void child.exited.then(() => children.delete(child));
    return child;
  }

  async function kill(child: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL') {
    await child.stop(signal);
    children.delete(child);
  }

  function subscribe(child: ServiceProcess, variables: { jobId?: string; vmId?: string; afterSequence: number }): EventStream {
    const client = wsClient(child.url.replace(/^http/, 'ws'));
    clients.add(client);
    return subscribeEvents(client, variables);
  }

  /** What the dead service left: the job's status, the engine's cursor, and the cloud calls still running. */
  async function landing(jobId: string, mark: CloudMark): Promise<string> {
    const [row] = await sql<{ status: string; flow: string; phase: string; step: number }>(
      db.orm,
      'SELECT j.status, e.flow, e.phase, e.step FROM failover_jobs j JOIN failover_executions e ON e.job_id = j.job_id WHERE j.job_id = ?',
      [jobId],
    );
    const running = newSince(sim.getState({ jobs: true }), mark)
      .jobs.filter((j) => j.jobstatus === 0)
      .map((j) => j.command);
    return `${row!.status} (${row!.flow}/${row!.phase} step ${row!.step}; cloud jobs in flight: ${running.join(', ') || 'none'})`;
  }

  /**
   * Runs a failover of `vm`, SIGKILLs the service once `killAt` says so, restarts it and follows the
   * job to its end with a subscriber that resubscribes after the restart from the last sequence it saw.
   */
  async function failoverKilled(vm: DemoVm, kind: 'test' | 'live', killAt: (stream: EventStream) => Promise<unknown>, onRestart?: () => void) {
    const first = await service();
    const mark = markCloud(sim);
    const after = await latestSequence(db.orm.em.fork());
    const stream = subscribe(first, { vmId: vm.vmId, afterSequence: after });
    const started = await gqlData<Record<string, { jobId: string; status: string }>>(first.url, kind === 'test' ? START_TEST : START_LIVE, {
      input: { vmId: vm.vmId },
    });
    const { jobId, status } = Object.values(started)[0]!;
    expect(status).toBe('PENDING');
    await killAt(stream);
    await kill(first);
    const landed = await landing(jobId, mark);

    const second = await service();
    onRestart?.();
    const lastSeen = stream.events.at(-1)!.sequence;
    const resumed = subscribe(second, { vmId: vm.vmId, afterSequence: lastSeen });
    const end = await resumed.until((e) => ['COMPLETED', 'FAILED'].includes(e.status) && e.status !== e.previousStatus);
    const events = [...stream.events, ...resumed.events.filter((e) => e.sequence <= end.sequence)];
    await expectCompleteStream(db.orm, jobId, after, events);
    const seen = transitions(events);
    expect(seen).toEqual(end.status === 'COMPLETED' ? FAILOVER_TRANSITIONS : compensatedTransitions(seen));
    // The resumed run announced no step twice.
    const starts = events.filter((e) => e.message?.endsWith(' started')).map((e) => e.message);
    expect(starts).toEqual([...new Set(starts)]);
    const job = await expectFailoverOutcome(db.orm, sim, second.url, jobId, vm, kind, mark);
    return { jobId, mark, job, landed, lastSequence: end.sequence };
  }

  /**
   * Runs the unwind (cleanup or revert) of a completed job, SIGKILLs the service while `step` has a
   * cloud call in flight (or once an event of that step arrived), restarts it and follows the job to
   * its end; the cloud must be as it was before the failover.
   */
  async function unwindKilled(jobId: string, mark: CloudMark, after: number, mutation: string, step: UnwindStep | null, [running, done]: [string, string]) {
    const first = await service();
    const unwindMark = markCloud(sim);
    const started = await gqlData<Record<string, { status: string }>>(first.url, mutation, { jobId });
    expect(Object.values(started)[0]!.status).toBe(running);
    const stream = subscribe(first, { jobId, afterSequence: after });
    let landed = 'no kill';
    let child = first;
    if (step) {
      // The unwind steps share one status, and only the steps that report progress publish events
      // carrying their name (stop_vm and destroy_vm publish none): the kill comes with the first
      // event of the step, or as soon as its cloud call is in flight, whichever is first.
      await waitFor(
        `${step} under way`,
        () =>
          stream.events.some((e) => e.step === step) ||
          newSince(sim.getState({ jobs: true }), unwindMark).jobs.some((j) => j.command === UNWIND_COMMAND[step] && j.jobstatus === 0),
      );
      await kill(first);
      landed = await landing(jobId, unwindMark);
      child = await service();
    }
    // The kill may come before the subscriber saw even the unwind's first event.
    const lastSeen = stream.events.at(-1)?.sequence ?? after;
    const resumed = step ? subscribe(child, { jobId, afterSequence: lastSeen }) : stream;
    const end = await resumed.until((e) => e.status === done || (e.status === 'COMPLETED' && e.previousStatus === running));
    const events = step
      ? [...stream.events, ...resumed.events.filter((e) => e.sequence <= end.sequence)]
      : stream.events.filter((e) => e.sequence <= end.sequence);
    await expectCompleteStream(db.orm, jobId, after, events);
    expect(transitions(events)).toEqual([running, done]);
    const { failoverJob } = await gqlData<{ failoverJob: Record<string, any> }>(child.url, JOB, { jobId });
    expect(failoverJob).toMatchObject({ status: done, active: false, errorMessage: null });
    expect(cloudView(sim.getState())).toEqual(mark.view);
    const ledger = await db.orm.em.fork().find(FailoverLedgerEntry, { jobId });
    expect(ledger.filter((e) => e.state === LedgerState.INTENT).map((e) => e.actionKey)).toEqual([]);
    return landed;
  }

  const atTransition = (status: string) => (stream: EventStream) => stream.until((e) => e.status === status && e.previousStatus !== status);
  // The offset is the point of the test (where the kill lands), not a wait for something to happen.
  const afterTransition = (status: string, ms: number) => async (stream: EventStream) => {
    await atTransition(status)(stream);
    await sleep(ms);
  };

  // Each failover status twice (right at its transition, and half a cloud job later); the cleanup
  // after it is killed at one unwind step in turn.
  const cases = FAILOVER_STATUSES.flatMap((status) => [
    { status, offsetMs: 0 },
    { status, offsetMs: JOB_LATENCY_MS / 2 },
  ]).map((c, i) => ({
    ...c,
    cleanupKill: UNWIND_STEPS[i] ?? null,
    cleanup: UNWIND_STEPS[i] ? `its cleanup killed at ${UNWIND_STEPS[i]}` : 'its cleanup not killed',
  }));

  it.each(cases)('test failover of db-01 killed at $status +$offsetMs ms, then $cleanup', async ({ status, offsetMs, cleanupKill }) => {
    // Validation makes only quick reads: slowed down (its network lookups), it lasts long enough for both kills to land in it.
    const slowReads = status === 'VALIDATING' ? sim.faults.add({ command: 'listNetworks', kind: 'latency', ms: 300, count: 0 }) : undefined;
    const { jobId, mark, job, landed, lastSequence } = await failoverKilled(DB, 'test', async (stream) => {
      try {
        await (offsetMs ? afterTransition(status, offsetMs) : atTransition(status))(stream);
      } finally {
        if (slowReads) sim.faults.remove(slowReads.id);
      }
    });
    if (offsetMs === 0 || slowReads) expect(landed.startsWith(status.toLowerCase())).toBe(true);
    landings.push(`failover killed at ${status} +${offsetMs} ms: landed in ${landed}; ended ${job.status}`);
    if (job.status !== 'COMPLETED') return;
    const cleanupLanded = await unwindKilled(jobId, mark, lastSequence, CLEANUP, cleanupKill, ['CLEANUP', 'CLEANED_UP']);
    if (cleanupKill) landings.push(`cleanup killed at ${cleanupKill}: landed in ${cleanupLanded}`);
  });

  it('test failover of db-01 killed while a snapshot is still being taken, and restarted before it is done', async () => {
    // A snapshot slower than the restart (a real one takes minutes): the resumed step must adopt
    // the one in the making, not take a second. Only the snapshot is slow: its createSnapshot call
    // is held a moment at the door, long enough to slow the cloud's jobs down for it alone. Its
    // BackingUp stretch (the last quarter) must outlast a restart of the service on a loaded
    // machine (seconds on two shared cores).
    const slowMs = 24_000;
    const door = sim.faults.add({ command: 'createSnapshot', kind: 'latency', ms: 500, count: 1 });
    let killedAt = 0;
    try {
      const { jobId, mark, job, landed, lastSequence } = await failoverKilled(
        DB,
        'test',
        async () => {
          await waitFor('the first createSnapshot at the door', () => door.seen >= 1, 30_000, 5);
          sim.setJobLatency(slowMs);
          await waitFor('a snapshot in the making', () => sim.getState().snapshots.some((s) => !s.removed && s.state === 'Creating'), slowMs, 20);
          sim.setJobLatency(JOB_LATENCY_MS); // the calls from here on are quick; the snapshot in the making keeps its pace
          // Its volume is Ready again while it backs up: a second createSnapshot would be accepted now.
          await waitFor('the snapshot backing up', () => sim.getState().snapshots.some((s) => !s.removed && s.state === 'BackingUp'), slowMs, 20);
          killedAt = Date.now();
        },
        () => {
          // Right after the restart the snapshot is still in the making (else this test proves nothing).
          const taking = sim.getState().snapshots.filter((s) => !s.removed && s.state === 'BackingUp');
          expect(taking, `still backing up ${Date.now() - killedAt} ms after the kill`).toHaveLength(1);
        },
      );
      landings.push(`failover killed with a snapshot backing up: landed in ${landed}; ended ${job.status}`);
      expect(job.status).toBe('COMPLETED');
      await unwindKilled(jobId, mark, lastSequence, CLEANUP, null, ['CLEANUP', 'CLEANED_UP']);
    } finally {
      sim.faults.remove(door.id);
      sim.setJobLatency(JOB_LATENCY_MS);
    }
  });

  it('live failover of db-01 killed while switching volumes, its revert killed while reverting volumes', async () => {
    const { jobId, mark, job, landed, lastSequence } = await failoverKilled(DB, 'live', afterTransition('SWITCHING_VOLUME', JOB_LATENCY_MS / 2));
    landings.push(`live failover killed at SWITCHING_VOLUME +${JOB_LATENCY_MS / 2} ms: landed in ${landed}; ended ${job.status}`);
    expect(job.status).toBe('COMPLETED');
    const revertLanded = await unwindKilled(jobId, mark, lastSequence, REVERT, 'revert_volumes', ['REVERTING', 'REVERTED']);
    landings.push(`revert killed at revert_volumes: landed in ${revertLanded}`);
    // The volumes were reverted to the job's snapshots before they went back.
    for (const disk of DB.disks) expect(sim.getState().volumes.find((v) => v.id === disk.volumeId)!.revertedto).toBeDefined();
  });

  it('auto-cleanup fires after its time, also when the service restarted in between', async () => {
    const first = await service();
    const mark = markCloud(sim);
    const after = await latestSequence(db.orm.em.fork());
    const stream = subscribe(first, { vmId: WEB.vmId, afterSequence: after });
    const { startTestFailover } = await gqlData<{ startTestFailover: { jobId: string } }>(first.url, START_TEST, {
      input: { vmId: WEB.vmId, autoCleanupAfterMinutes: 1 },
    });
    const { jobId } = startTestFailover;
    const completed = await stream.until((e) => e.status === 'COMPLETED');
    expect(completed.message).toContain('automatic cleanup in 1 min');
    const { failoverJob: job } = await gqlData<{ failoverJob: Record<string, any> }>(first.url, JOB, { jobId });
    expect(job.status).toBe('COMPLETED');
    const dueIn = Date.parse(job.autoCleanupAt) - Date.parse(job.completedAt);
    // completedAt is stored to the second, autoCleanupAt to the millisecond.
    expect(dueIn).toBeGreaterThanOrEqual(60_000);
    expect(dueIn).toBeLessThan(61_000);

    // The service goes away while the cleanup is pending.
    expect(await first.stop('SIGTERM')).toBe(0);
    children.delete(first);
    // The documented test seam: instead of waiting a minute, move the stored due time
    // (failover_executions.auto_cleanup_at, epoch ms) to shortly after the restart.
    const due = Date.now() + 1_500;
    await sql(db.orm, 'UPDATE failover_executions SET auto_cleanup_at = ? WHERE job_id = ?', [due, jobId]);

    const second = await service();
    const resumed = subscribe(second, { jobId, afterSequence: completed.sequence });
    const cleanup = await resumed.until((e) => e.status === 'CLEANUP');
    const done = await resumed.until((e) => e.status === 'CLEANED_UP');
    // Not before its time, and on its own.
    expect(Date.parse(cleanup.occurredAt)).toBeGreaterThanOrEqual(due);
    expect(cleanup.message).toContain('automatic cleanup');
    expect(transitions(resumed.events.filter((e) => e.sequence <= done.sequence))).toEqual(['CLEANUP', 'CLEANED_UP']);
    await expectCompleteStream(db.orm, jobId, after, [
      ...stream.events.filter((e) => e.sequence <= completed.sequence),
      ...resumed.events.filter((e) => e.sequence <= done.sequence),
    ]);
    expect(cloudView(sim.getState())).toEqual(mark.view);
    const { failoverJob: ended } = await gqlData<{ failoverJob: Record<string, any> }>(second.url, JOB, { jobId });
    expect(ended).toMatchObject({ status: 'CLEANED_UP', autoCleanupAt: null });
  });
});

// ---------------------------------------------------------------------------------------------
// In-process: two engines on one database; a dead owner's lease; auto-cleanup timing.
// ---------------------------------------------------------------------------------------------

describe('leases and automatic cleanup, in-process on MariaDB', () => {
  let api: FailoverHarness;
  const extra: FailoverRuntime[] = [];
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

  beforeAll(async () => {
    api = await startFailoverApi('engine_leases', { sim: { jobLatencyMs: 20 } });
  });
  afterAll(async () => {
    for (const runtime of extra) {
      await runtime.engine.stop();
      await runtime.events.close();
    }
    await api?.close();
  });

  /** Another engine (and its commands) on the same database and cloud; started unless told. */
  async function runtime({ start = true } = {}): Promise<FailoverRuntime> {
    const created = createFailoverRuntime(api.orm, { cloudStack: api.client, ids: api.sim.ids }, logger, FAST_ENGINE);
    extra.push(created);
    await created.events.start();
    if (start) created.engine.start();
    else await created.engine.stop(); // never scans: its commands only record jobs
    return created;
  }

  async function statusOf(jobId: string): Promise<string> {
    const [row] = await sql<{ status: string }>(api.orm, 'SELECT status FROM failover_jobs WHERE job_id = ?', [jobId]);
    return row!.status;
  }

  const waitStatus = (jobId: string, status: string, timeoutMs = 20_000) =>
    waitFor(`${jobId} ${status}`, async () => (await statusOf(jobId)) === status, timeoutMs, 20);

  /** The job's stored events, with the statuses as the API spells them. */
  async function storedEvents(jobId: string): Promise<EventRecord[]> {
    const events = await readEvents(api.orm.em.fork(), { after: 0, filter: { jobId } });
    return events.map((e) => ({
      ...e,
      type: e.jobType.toUpperCase() as EventRecord['type'],
      status: e.status.toUpperCase(),
      previousStatus: e.previousStatus?.toUpperCase() ?? null,
      occurredAt: e.occurredAt.toISOString(),
    }));
  }

  it('two engines on one database never run one job at once: every job runs once', async () => {
    const second = await runtime();
    const engines = [api.runtime, second];
    // Watch both engines all along: a job in both at the same instant is the failure.
    let overlap: string | undefined;
    const claimedBy = new Map<string, Set<number>>();
    const watch = setInterval(() => {
      const [a, b] = engines.map((r) => r.engine.active);
      const both = a!.find((j) => b!.includes(j));
      if (both) overlap ??= both;
      engines.forEach((r, i) => r.engine.active.forEach((j) => claimedBy.set(j, (claimedBy.get(j) ?? new Set()).add(i))));
    }, 1);
    const mark = markCloud(api.sim);
    const jobIds: string[] = [];
    try {
      for (let round = 0; round < 3; round++) {
        // Each engine is woken by the commands of its own runtime; the other finds the job by scanning.
        const jobs = await Promise.all(
          [WEB, DB].map((vm, i) => engines[(round + i) % 2]!.failover.start(FailoverType.TEST, { vmId: vm.vmId }).then((j) => j.jobId)),
        );
        jobIds.push(...jobs);
        for (const jobId of jobs) await waitStatus(jobId, 'completed');
        // Until its engine let go of the finished run, the job still counts as active there.
        await waitFor('the runs let go', () => jobs.every((jobId) => engines.every((r) => !r.engine.active.includes(jobId))));
        await Promise.all(jobs.map((jobId, i) => engines[(round + i + 1) % 2]!.failover.cleanupTestFailover(jobId)));
        for (const jobId of jobs) await waitStatus(jobId, 'cleaned_up');
      }
    } finally {
      clearInterval(watch);
    }
    expect(overlap).toBeUndefined();
    // Both engines did run jobs (the race was real).
    expect(new Set([...claimedBy.values()].flatMap((s) => [...s]))).toEqual(new Set([0, 1]));

    const state = api.sim.getState({ jobs: true });
    const fresh = newSince(state, mark);
    for (const [i, jobId] of jobIds.entries()) {
      const vm = i % 2 === 0 ? WEB : DB;
      const events = await storedEvents(jobId);
      // Exactly one transition event per status, and no step announced twice.
      expect(transitions(events)).toEqual([...FAILOVER_TRANSITIONS, 'CLEANUP', 'CLEANED_UP']);
      const starts = events.filter((e) => e.message?.endsWith(' started')).map((e) => e.message);
      expect(starts).toEqual([...new Set(starts)]);
      // One snapshot per volume, ever.
      const snapshots = fresh.snapshots.filter((s) => s.name?.startsWith(`${jobId}-`));
      expect(snapshots.map((s) => s.volumeid).sort()).toEqual(vm.disks.map((d) => d.volumeId).sort());
    }
    // One VM per job, ever (each deployed once, each destroyed by its cleanup).
    expect(fresh.vms).toHaveLength(jobIds.length);
    expect(succeeded(fresh.jobs, 'deployVirtualMachine')).toHaveLength(jobIds.length);
    // Each replicated volume attached to a failover VM once per job (and back to the appliance once).
    for (const vm of [WEB, DB]) {
      for (const disk of vm.disks) expect(succeeded(fresh.jobs, 'attachVolume').filter((j) => j.jobinstanceid === disk.volumeId)).toHaveLength(2 * 3);
    }
    const duplicates = await sql(api.orm, 'SELECT job_id, action_key, COUNT(*) AS n FROM failover_ledger GROUP BY job_id, action_key HAVING COUNT(*) > 1');
    expect(duplicates).toEqual([]);
    const intents = await sql(api.orm, 'SELECT job_id, action_key FROM failover_ledger WHERE state = ?', [LedgerState.INTENT]);
    expect(intents).toEqual([]);
    expect(cloudView(state)).toEqual(mark.view);
  });

  it('a lease held by a dead owner is not taken before it expires, and is taken after', async () => {
    // Recorded by commands whose engine never scans, so that no engine claims it before the ghost does.
    const recorder = await runtime({ start: false });
    const mark = markCloud(api.sim);
    const { jobId } = await recorder.failover.start(FailoverType.TEST, { vmId: WEB.vmId });
    const expires = Date.now() + 2_000;
    await sql(api.orm, "UPDATE failover_executions SET lease_owner = 'ghost', lease_expires_at = ? WHERE job_id = ?", [expires, jobId]);
    api.runtime.engine.wake();

    // Both live engines scan every 100 ms meanwhile; the job stays with the ghost until it expires.
    const owners: { at: number; owner: string | null }[] = [];
    const claimed = await waitFor(
      'the lease taken over',
      async () => {
        const [row] = await sql<{ lease_owner: string | null; status: string }>(
          api.orm,
          'SELECT e.lease_owner, j.status FROM failover_executions e JOIN failover_jobs j ON j.job_id = e.job_id WHERE e.job_id = ?',
          [jobId],
        );
        owners.push({ at: Date.now(), owner: row!.lease_owner });
        return row!.lease_owner !== 'ghost' ? row! : undefined;
      },
      10_000,
      20,
    );
    const before = owners.filter((o) => o.at < expires - 50);
    expect(before.length).toBeGreaterThan(20);
    expect(before.every((o) => o.owner === 'ghost')).toBe(true);
    expect(owners.at(-1)!.at).toBeGreaterThanOrEqual(expires);
    expect([api.runtime.engine.owner, ...extra.map((r) => r.engine.owner), null]).toContain(claimed.lease_owner);
    await waitStatus(jobId, 'completed');
    // Nothing ran while the ghost held it: the job's only event until then was its creation.
    const firstRun = (await storedEvents(jobId)).find((e) => e.status !== 'PENDING')!;
    expect(Date.parse(firstRun.occurredAt)).toBeGreaterThanOrEqual(expires);

    await api.runtime.failover.cleanupTestFailover(jobId);
    await waitStatus(jobId, 'cleaned_up');
    expect(cloudView(api.sim.getState())).toEqual(mark.view);
  });

  it('automatic cleanup fires when due and not before', async () => {
    const mark = markCloud(api.sim);
    const job = await api.runtime.failover.start(FailoverType.TEST, { vmId: WEB.vmId, autoCleanupAfterMinutes: 1 });
    await waitStatus(job.jobId, 'completed');
    const [row] = await sql<{ auto_cleanup_at: number | string }>(api.orm, 'SELECT auto_cleanup_at FROM failover_executions WHERE job_id = ?', [job.jobId]);
    const { completedAt } = await api.orm.em.fork().findOneOrFail(FailoverJob, { jobId: job.jobId });
    // completed_at is stored to the second; auto_cleanup_at to the millisecond.
    const dueIn = Number(row!.auto_cleanup_at) - completedAt!.getTime();
    expect(dueIn).toBeGreaterThanOrEqual(60_000);
    expect(dueIn).toBeLessThan(61_000);
    // The documented test seam: the due time (failover_executions.auto_cleanup_at, epoch ms) moved
    // to 1.5 s from now instead of waiting a minute.
    const due = Date.now() + 1_500;
    await sql(api.orm, 'UPDATE failover_executions SET auto_cleanup_at = ? WHERE job_id = ?', [due, job.jobId]);
    const seen: { at: number; status: string }[] = [];
    await waitFor(
      'the automatic cleanup',
      async () => {
        const status = await statusOf(job.jobId);
        seen.push({ at: Date.now(), status });
        return status !== 'completed';
      },
      10_000,
      20,
    );
    // Through ten engine scans and more (every 100 ms), the job stayed completed until due.
    const early = seen.filter((s) => s.at < due - 50);
    expect(early.at(-1)!.at - early[0]!.at).toBeGreaterThan(10 * FAST_ENGINE.scanIntervalMs);
    expect(early.every((s) => s.status === 'completed')).toBe(true);
    await waitStatus(job.jobId, 'cleaned_up');
    const cleanup = (await storedEvents(job.jobId)).find((e) => e.status === 'CLEANUP')!;
    expect(Date.parse(cleanup.occurredAt)).toBeGreaterThanOrEqual(due);
    expect(cleanup.message).toContain('automatic cleanup');
    expect(cloudView(api.sim.getState())).toEqual(mark.view);
  });
});
