import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/cloudstack/simulator/simulator.server.js';
import { seedDemoData } from '../../src/demo/seed-demo-data.js';
import { FailoverJob, FailoverLedgerEntry, LedgerState, PlanExecutionRow } from '../../src/entities/index.js';
import { openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';
import { childServiceEnv, cloudView } from '../helpers/failover.js';
import { gqlData } from '../helpers/graphql.js';
import { CLEANUP_PLAN, CREATE_PLAN, demoVm, START_PLAN } from '../helpers/plans.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 12, done-when 3: the service (the built dist/src/main.js, a child process on MariaDB, the
 * simulator in this process so the cloud survives) is killed with SIGKILL again and again during a
 * plan execution and during its cleanup, and restarted each time. The execution ends where it
 * should; no VM is failed over twice; nothing is left in the cloud.
 *
 * Where each kill lands is chosen by the execution's own progress (its events committed so far), a
 * spread of points over the run and the cleanup, with a random offset within each stretch: the
 * points are logged.
 */

const LEASE_MS = 1_000;
const JOB_LATENCY_MS = 60;
const PLAN_WAVES = [['db-01', 'cache-01'], ['app-01', 'app-02', 'mq-01'], ['web-01']];

describe('a plan execution and its cleanup killed with SIGKILL and restarted, on MariaDB', () => {
  let db: MigratedDatabase;
  let sim: Simulator;
  let env: Record<string, string>;
  let child: ServiceProcess | undefined;
  const landings: string[] = [];

  beforeAll(async () => {
    db = await openMigratedDatabase('plan_crash');
    await seedDemoData(db.orm.em);
    sim = await startSimulator({ jobLatencyMs: JOB_LATENCY_MS, settings: { allowUserExpungeRecoverVm: true } });
    env = childServiceEnv(db, sim, { ENGINE_LEASE_MS: String(LEASE_MS) });
  });

  afterEach(async () => {
    await child?.stop('SIGKILL');
    child = undefined;
  });

  afterAll(async () => {
    await child?.stop('SIGKILL');
    if (landings.length) console.info(`plan-crash kill points:\n  ${landings.join('\n  ')}`);
    await sim?.close();
    await db?.close();
  });

  async function service(): Promise<ServiceProcess> {
    if (child && child.proc.exitCode === null && child.proc.signalCode === null) return child;
    child = await startServiceProcess(env);
    return child;
  }

  const eventCount = async (executionId: number) =>
    Number((await db.orm.em.getConnection().execute('SELECT COUNT(*) AS n FROM plan_execution_events WHERE execution_id = ?', [executionId]))[0].n);
  const execution = (id: number) => db.orm.em.fork().findOneOrFail(PlanExecutionRow, { id }, { disableIdentityMap: true });

  /** Kills the service once the execution has committed `events` events; returns where it landed. */
  async function killAt(executionId: number, events: number): Promise<string> {
    await waitFor(async () => (await eventCount(executionId)) >= events || ['completed', 'cleaned_up'].includes((await execution(executionId)).status), {
      timeoutMs: 60_000,
      intervalMs: 2,
      what: `${events} events of execution ${executionId}`,
    });
    await child!.stop('SIGKILL');
    child = undefined;
    const row = await execution(executionId);
    const [vms] = await db.orm.em
      .getConnection()
      .execute(
        "SELECT SUM(state = 'launching') AS launching, SUM(state = 'launched') AS launched, SUM(unwind_state = 'started') AS unwinding FROM plan_execution_vms WHERE execution_id = ?",
        [executionId],
      );
    return `after ${events} events: ${row.status} (${row.phase} wave ${row.wave}; launching ${vms.launching ?? 0}, running ${vms.launched ?? 0}, unwinding ${vms.unwinding ?? 0})`;
  }

  /** Kill points spread over `total` events: one per stretch, at a random place within it. */
  const killPoints = (total: number, kills: number) => Array.from({ length: kills }, (_v, i) => Math.max(1, Math.floor((total / kills) * (i + Math.random()))));

  it('ends COMPLETED then CLEANED_UP; every VM failed over exactly once; the cloud as before', async () => {
    const before = cloudView(sim.getState());
    let api = await service();
    const { createRecoveryPlan: plan } = await gqlData<{ createRecoveryPlan: { id: string } }>(api.url, CREATE_PLAN, {
      input: { name: 'crash-plan', waves: PLAN_WAVES.map((names) => ({ vmIds: names.map((n) => demoVm(n).vmId) })), maxInFlight: 2 },
    });
    const { startPlanExecution } = await gqlData<{ startPlanExecution: { id: string } }>(api.url, START_PLAN, { input: { planId: plan.id, type: 'TEST' } });
    const id = Number(startPlanExecution.id);
    // A run of 6 VMs commits about 2 + 3 × 2 + 6 × 2 + 1 events.
    for (const point of killPoints(20, 5)) {
      landings.push(`run killed ${await killAt(id, point)}`);
      api = await service();
    }
    await waitFor(async () => !['pending', 'running'].includes((await execution(id)).status), { timeoutMs: 120_000, intervalMs: 20, what: 'the run to end' });
    expect((await execution(id)).status).toBe('completed');

    // Exactly one job per VM, each completed, each with one deployed VM.
    const vmIds = PLAN_WAVES.flat().map((n) => demoVm(n).vmId);
    const jobs = await db.orm.em.fork().find(FailoverJob, { vmId: { $in: vmIds } }, { disableIdentityMap: true });
    expect(jobs.map((j) => j.vmId).sort()).toEqual([...vmIds].sort());
    expect(jobs.every((j) => j.status === 'completed')).toBe(true);
    const ledger = await db.orm.em.fork().find(FailoverLedgerEntry, { jobId: { $in: jobs.map((j) => j.jobId) } }, { disableIdentityMap: true });
    for (const job of jobs) expect(ledger.filter((e) => e.jobId === job.jobId && e.action === 'deploy_vm')).toHaveLength(1);
    const deployed = sim.getState().vms.filter((vm) => !vm.removed && jobs.some((j) => j.destinationVmId === vm.id));
    expect(deployed).toHaveLength(vmIds.length);

    const cleanup = await gqlData<{ cleanupPlanExecution: { status: string } }>(api.url, CLEANUP_PLAN, { id: String(id) });
    expect(cleanup.cleanupPlanExecution.status).toBe('CLEANUP');
    const base = await eventCount(id);
    for (const point of killPoints(18, 4)) {
      landings.push(`cleanup killed ${await killAt(id, base + point)}`);
      api = await service();
    }
    await waitFor(async () => (await execution(id)).status !== 'cleanup', { timeoutMs: 120_000, intervalMs: 20, what: 'the cleanup to end' });
    expect((await execution(id)).status).toBe('cleaned_up');
    const after = await db.orm.em.fork().find(FailoverJob, { vmId: { $in: vmIds } }, { disableIdentityMap: true });
    expect(after.map((j) => j.status)).toEqual(vmIds.map(() => 'cleaned_up'));
    const settled = await db.orm.em
      .fork()
      .find(FailoverLedgerEntry, { jobId: { $in: jobs.map((j) => j.jobId) }, state: LedgerState.INTENT }, { disableIdentityMap: true });
    expect(settled).toEqual([]);
    expect(cloudView(sim.getState())).toEqual(before);
  });
});
