import { hostName, testSuffix } from '../../src/failover/engine/plan.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/cloudstack/simulator/simulator.server.js';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { seedDemoData } from '../../src/demo/seed-demo-data.js';
import { FailoverExecution } from '../../src/entities/index.js';
import { openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';
import { childServiceEnv, CLEANUP, cloudView, JOB, START_TEST, subscribeEvents } from '../helpers/failover.js';
import { gqlData, wsClient } from '../helpers/graphql.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process.js';

/**
 * SIGTERM in the middle of a job: the service stops the job at its next call, releases its lease
 * and exits 0; restarted, it resumes the job at once — long before the lease would have run out —
 * and finishes it without doing anything twice.
 */

const DB_VM = DEMO_VMS[1]!;
const LEASE_MS = 120_000;

describe('SIGTERM mid-job (the built service, MariaDB, simulator over HTTP)', () => {
  let db: MigratedDatabase;
  let sim: Simulator;
  let env: Record<string, string>;
  const children: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await openMigratedDatabase('graceful_stop');
    await seedDemoData(db.orm.em);
    sim = await startSimulator({ jobLatencyMs: 150 });
    // A lease far longer than the test: only its release lets the restarted service resume.
    env = childServiceEnv(db, sim, { ENGINE_LEASE_MS: String(LEASE_MS) });
  });
  afterAll(async () => {
    for (const child of children) await child.stop('SIGKILL');
    await sim?.close();
    await db?.close();
  });

  const start = async () => {
    const child = await startServiceProcess(env);
    children.push(child);
    return child;
  };

  it('releases the lease on SIGTERM, and the restarted service resumes the job at once', async () => {
    const before = cloudView(sim.getState());
    let service = await start();
    const { startTestFailover: job } = await gqlData<{ startTestFailover: { jobId: string } }>(service.url, START_TEST, { input: { vmId: DB_VM.vmId } });
    const client = wsClient(service.url.replace(/^http/, 'ws'));
    await subscribeEvents(client, { jobId: job.jobId, afterSequence: 0 }).until((e) => e.status === 'CREATING_VM');
    await client.dispose();

    expect(await service.stop('SIGTERM')).toBe(0);
    const execution = await db.orm.em.fork().findOneOrFail(FailoverExecution, { jobId: job.jobId });
    expect(execution.phase).toBe('run');
    expect([execution.leaseOwner, execution.leaseExpiresAt]).toEqual([null, null]);

    const restartedAt = Date.now();
    service = await start();
    const again = wsClient(service.url.replace(/^http/, 'ws'));
    const done = await subscribeEvents(again, { jobId: job.jobId, afterSequence: 0 }).until((e) => e.status === 'COMPLETED', 30_000);
    await again.dispose();
    expect(done.status).toBe('COMPLETED');
    expect(Date.now() - restartedAt).toBeLessThan(LEASE_MS / 4);

    // Nothing twice: one VM of that name, one snapshot per volume.
    const state = sim.getState();
    expect(state.vms.filter((v) => v.name === hostName(DB_VM.name, testSuffix(job.jobId)))).toHaveLength(1);
    for (const disk of DB_VM.disks) expect(state.snapshots.filter((s) => s.volumeid === disk.volumeId && !s.removed)).toHaveLength(1);

    await gqlData(service.url, CLEANUP, { jobId: job.jobId });
    const watcher = wsClient(service.url.replace(/^http/, 'ws'));
    await subscribeEvents(watcher, { jobId: job.jobId, afterSequence: done.sequence }).until((e) => e.status === 'CLEANED_UP', 30_000);
    await watcher.dispose();
    expect((await gqlData<{ failoverJob: { status: string } }>(service.url, JOB, { jobId: job.jobId })).failoverJob.status).toBe('CLEANED_UP');
    expect(cloudView(sim.getState())).toEqual(before);
  });
});
