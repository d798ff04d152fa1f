/**
 * `npm run bench` (fourth part): a recovery plan of 200 VMs (generated into the database and the
 * simulator) with maxInFlight 20 — run, then cleaned up — against a baseline measured in the same
 * run: the same 200 VMs started and cleaned up as 200 single failovers through the same service
 * path, with the engine's concurrency at 20 (the most the engine runs at once in both).
 *
 * The executor's own cost per VM is the difference per VM: SQL statements (every statement the
 * ORM's connection ran, counted by the ORM's query logger) and CPU time of this process (which also
 * runs the simulator, the same in both), and the two runs' durations.
 *
 * `--quick`: 20 VMs, maxInFlight 5 (CI runs it so the bench never rots; no assertion on time).
 * Knobs: `BENCH_PLAN_VMS` (default 200; quick 20), `BENCH_PLAN_IN_FLIGHT` (default 20; quick 5), `BENCH_PLAN_WAVES` (default 4).
 */
import 'reflect-metadata';
import { QUICK } from './measure.js';
import { systemChange } from '../src/access/audit.js';
import { FailoverType, PlanExecutionRow } from '../src/entities/index.js';
import { PLAN_EVENTS } from '../src/events/plan-event-store.js';
import { createLogger } from '../src/logger.js';
import { createPlan } from '../src/services/plans.js';
import { openMigratedDatabase } from '../test/helpers/api-server.js';
import { insertVm } from '../test/helpers/fixtures.js';
import { testServices } from '../test/helpers/services.js';

const VMS = Number(process.env.BENCH_PLAN_VMS ?? (QUICK ? 20 : 200));
const IN_FLIGHT = Number(process.env.BENCH_PLAN_IN_FLIGHT ?? (QUICK ? 5 : 20));
const WAVES = Number(process.env.BENCH_PLAN_WAVES ?? 4);

let statements = 0;
const db = await openMigratedDatabase('bench_plans', { onQuery: () => statements++ });
const { orm } = db;
try {
  const vmIds: string[] = [];
  for (let i = 0; i < VMS; i++) vmIds.push((await insertVm(orm.em, { name: `plan-${String(i).padStart(4, '0')}`, disks: 1 })).vmId);
  const logger = createLogger({ level: 'silent' });
  const services = await testServices(orm, logger, { leaseMs: 30_000, scanIntervalMs: 100, concurrency: IN_FLIGHT, eventPollIntervalMs: 100 });
  // One appliance VM holds every replicated volume here: a "large appliance" (the KVM default is 32 data disks).
  services.cloud.configure({ maxDataVolumes: { KVM: VMS + 8 } });
  await services.mirrorDatabase();
  const { runtime } = services;
  await runtime.planEvents.start();
  runtime.engine.start();
  runtime.plans.start();
  const record = systemChange('bench');

  /** Waits for `count` job events of `status` (transitions), reading the bus as a subscriber would. */
  async function jobsReach(status: string, count: number, start: () => Promise<void>): Promise<void> {
    const stream = runtime.events.subscribe({});
    let seen = 0;
    await start();
    for await (const event of stream) {
      if (event.status === status && event.previousStatus !== status && ++seen === count) break;
    }
  }

  /** One measured run: statements, CPU ms and wall ms of `work`. */
  async function measure(work: () => Promise<void>) {
    const s0 = statements;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await work();
    const cpu = process.cpuUsage(cpu0);
    return { statements: statements - s0, cpuMs: (cpu.user + cpu.system) / 1000, ms: performance.now() - t0 };
  }

  // Baseline: every VM as a single start (the engine runs IN_FLIGHT at once), then every cleanup.
  const jobIds: string[] = [];
  const single = await measure(async () => {
    await jobsReach('completed', VMS, async () => {
      for (const vmId of vmIds) jobIds.push((await runtime.failover.start(FailoverType.TEST, { vmId }, record)).jobId);
    });
    await jobsReach('cleaned_up', VMS, async () => {
      for (const jobId of jobIds) await runtime.failover.cleanupTestFailover(jobId, record);
    });
  });

  // The plan: WAVES waves, maxInFlight IN_FLIGHT, run then cleaned up.
  const plan = await createPlan(orm.em, {
    name: 'bench-plan',
    waves: Array.from({ length: WAVES }, (_w, w) => ({ vmIds: vmIds.filter((_id, i) => i % WAVES === w) })),
    maxInFlight: IN_FLIGHT,
  });
  const planned = await measure(async () => {
    const settled = async (id: number, statuses: string[], afterSequence: number) => {
      const stream = runtime.planEvents.subscribe({ executionId: id, afterSequence });
      for await (const event of stream) if (event.kind === 'status' && statuses.includes(event.status)) return event.status;
      return null;
    };
    const execution = await runtime.planCommands.start({ planId: String(plan.id), type: FailoverType.TEST }, record);
    const ran = await settled(execution.id, ['completed', 'failed', 'partially_completed'], 0);
    if (ran !== 'completed') throw new Error(`the plan's run ended ${ran}`);
    const from = await PLAN_EVENTS.latest(orm.em.fork());
    await runtime.planCommands.cleanup(String(execution.id), record);
    const cleaned = await settled(execution.id, ['cleaned_up', 'completed'], from);
    if (cleaned !== 'cleaned_up') throw new Error(`the plan's cleanup ended ${cleaned}`);
  });
  const row = await orm.em.fork().findOneOrFail(PlanExecutionRow, { planId: plan.id }, { disableIdentityMap: true });
  const runSeconds = (row.completedAt!.getTime() - row.startedAt!.getTime()) / 1000;

  await runtime.plans.stop();
  await services.close();
  await runtime.planEvents.close();
  const perVm = (n: number) => (n / VMS).toFixed(1);
  console.log(`${VMS} VMs, ${WAVES} waves, maxInFlight ${IN_FLIGHT} (engine concurrency ${IN_FLIGHT}), run + cleanup, MariaDB, the simulator in-process\n`);
  console.log('| | single failovers (baseline) | recovery plan | plan − baseline, per VM |');
  console.log('|---|---|---|---|');
  console.log(
    `| SQL statements | ${single.statements} (${perVm(single.statements)}/VM) | ${planned.statements} (${perVm(planned.statements)}/VM) | ${perVm(planned.statements - single.statements)} |`,
  );
  console.log(
    `| CPU (this process) | ${single.cpuMs.toFixed(0)} ms | ${planned.cpuMs.toFixed(0)} ms | ${((planned.cpuMs - single.cpuMs) / VMS).toFixed(2)} ms |`,
  );
  console.log(
    `| duration (run + cleanup) | ${(single.ms / 1000).toFixed(1)} s | ${(planned.ms / 1000).toFixed(1)} s | ratio ${(planned.ms / single.ms).toFixed(2)}× |`,
  );
  console.log(`\nThe plan's run alone (durationSeconds, the RTO it achieved): ${runSeconds.toFixed(1)} s`);
} finally {
  await db.close();
}
