import 'reflect-metadata';
import type { MikroORM } from '@mikro-orm/core';
import { CloudStackClient } from '../../src/cloudstack/cloudstack.client.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/cloudstack/simulator/simulator.server.js';
import type { SimulatorSnapshot } from '../../src/cloudstack/simulator/simulator.state.js';
import type { Config } from '../../src/config.js';
import { seedDemoData } from '../../src/demo/seed-demo-data.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server/http-server.js';
import { buildAppSchema } from '../../src/server/schema.js';
import { createFailoverRuntime, type FailoverRuntime } from '../../src/service.js';
import { openMigratedDatabase, type DatabaseKind, type MigratedDatabase } from './api-server.js';
import { FAST_CLIENT } from './cloudstack.js';
import { FAST_ENGINE } from './services.js';
import { subscribeStream, type Stream } from './graphql.js';

export { FAST_ENGINE } from './services.js';

/** A database with the demo VMs, a simulator seeded with the same world, and the API with the engine running. */
export interface FailoverHarness {
  readonly kind: DatabaseKind;
  readonly orm: MikroORM;
  readonly sim: Simulator;
  readonly client: CloudStackClient;
  readonly runtime: FailoverRuntime;
  readonly server: RunningServer;
  readonly url: string;
  readonly wsUrl: string;
  close(): Promise<void>;
}

/** Starts the whole failover stack in-process on a fresh database of `kind` (MariaDB unless told). */
export async function startFailoverApi(
  prefix: string,
  { kind = 'mariadb', sim: simOptions = {}, engine = FAST_ENGINE }: { kind?: DatabaseKind; sim?: SimulatorOptions; engine?: Config['engine'] } = {},
): Promise<FailoverHarness> {
  const db = await openMigratedDatabase(prefix, { kind });
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  await seedDemoData(db.orm.em);
  const sim = await startSimulator({ jobLatencyMs: 10, ...simOptions });
  const client = new CloudStackClient({ url: sim.url, apiKey: sim.apiKey, secretKey: sim.secretKey, ...FAST_CLIENT, operationDeadlineMs: 20_000 });
  const runtime = createFailoverRuntime(db.orm, { cloudStack: client, ids: sim.ids }, logger, engine);
  await runtime.events.start();
  await runtime.planEvents.start();
  const server = await startServer({
    schema: await buildAppSchema(),
    em: db.orm.em,
    logger,
    port: 0,
    services: runtime.services,
  });
  runtime.engine.start();
  runtime.plans.start();
  return {
    kind,
    orm: db.orm,
    sim,
    client,
    runtime,
    server,
    url: server.url,
    wsUrl: server.wsUrl,
    async close() {
      await runtime.plans.stop();
      await runtime.engine.stop();
      await server.close();
      await runtime.events.close();
      await runtime.planEvents.close();
      await sim.close();
      await db.close();
    },
  };
}

/**
 * The cloud as the API shows it, for "exactly as before" comparisons: live VMs, volumes (with
 * where they are attached), snapshots and VM snapshots; removed records and simulator bookkeeping
 * (host counters, revert marks, attach times) left out.
 */
export function cloudView(world: SimulatorSnapshot): unknown {
  const live = <T extends { removed?: string }>(items: readonly T[]) => items.filter((i) => !i.removed);
  // A Destroyed VM that holds no volume is what a key that may not expunge leaves: CloudStack's
  // expunge task removes it after expunge.delay. It holds nothing and nobody's name (test VMs have their own).
  // Its own ROOT goes with it (state Destroy).
  const holds = (vmId: string) => world.volumes.some((v) => !v.removed && v.virtualmachineid === vmId && v.state !== 'Destroy');
  // Only where the key may not expunge: otherwise a Destroyed VM left behind is a leak.
  const mayExpunge = world.settings.allowUserExpungeRecoverVm || world.settings.callerIsAdmin;
  const lingering = (vm: SimulatorSnapshot['vms'][number]) => !mayExpunge && vm.state === 'Destroyed' && !holds(vm.id);
  const lingeringIds = new Set(world.vms.filter(lingering).map((vm) => vm.id));
  return {
    vms: live(world.vms)
      .filter((vm) => !lingering(vm))
      .map((vm) => ({ id: vm.id, name: vm.name, state: vm.state, nics: vm.nics.map((n) => n.networkid) }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    volumes: live(world.volumes)
      .filter((v) => !(v.state === 'Destroy' && v.virtualmachineid !== undefined && lingeringIds.has(v.virtualmachineid)))
      .map((v) => ({ id: v.id, name: v.name, type: v.type, state: v.state, vm: v.virtualmachineid ?? null, deviceid: v.deviceid ?? null }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    snapshots: live(world.snapshots).map((s) => ({ id: s.id, volumeid: s.volumeid, state: s.state })),
    vmSnapshots: live(world.vmSnapshots).map((s) => s.id),
  };
}

/** One event as a test subscribes to it. */
export interface EventRecord {
  sequence: number;
  jobId: string;
  vmId: string;
  type: 'TEST' | 'LIVE';
  status: string;
  previousStatus: string | null;
  progressPercent: number;
  step: string | null;
  message: string | null;
  occurredAt: string;
}

export const EVENT_FIELDS = 'sequence jobId vmId type status previousStatus progressPercent step message occurredAt';

export const EVENTS_SUBSCRIPTION = `subscription ($jobId: String, $vmId: String, $afterSequence: Int) {
  failoverJobEvents(jobId: $jobId, vmId: $vmId, afterSequence: $afterSequence) { ${EVENT_FIELDS} }
}`;

/** A live subscription to job events over a real graphql-ws client. */
export type EventStream = Stream<EventRecord>;

/** Subscribes to `failoverJobEvents` with the given filter on `client` (a graphql-ws client). */
export function subscribeEvents(client: import('graphql-ws').Client, variables: { jobId?: string; vmId?: string; afterSequence?: number } = {}): EventStream {
  return subscribeStream<EventRecord>(client, {
    query: EVENTS_SUBSCRIPTION,
    field: 'failoverJobEvents',
    variables,
    noun: 'event',
    describe: (e) => [e.sequence, e.status, e.message],
    timeoutMs: 30_000,
  });
}

/** The status transitions (not the progress updates) of a stream, in order. */
export const transitions = (events: readonly EventRecord[]) => events.filter((e) => e.status !== e.previousStatus).map((e) => e.status);

/** A terminal status (the job's flow ended). */
export const isSettled = (e: EventRecord) => ['COMPLETED', 'FAILED', 'CLEANED_UP', 'REVERTED'].includes(e.status) && e.status !== e.previousStatus;

export const JOB_FIELDS =
  'jobId vmId type status rawStatus active progressPercent failedStep errorMessage destinationVmId osseaSnapshotId startedAt completedAt autoCleanupAt';

export const START_TEST = `mutation ($input: StartFailoverInput!) { startTestFailover(input: $input) { ${JOB_FIELDS} } }`;
export const START_LIVE = `mutation ($input: StartFailoverInput!) { startLiveFailover(input: $input) { ${JOB_FIELDS} } }`;
export const CLEANUP = `mutation ($jobId: String!) { cleanupTestFailover(jobId: $jobId) { ${JOB_FIELDS} } }`;
export const REVERT = `mutation ($jobId: String!) { revertFailover(jobId: $jobId) { ${JOB_FIELDS} } }`;
export const JOB = `query ($jobId: String!) { failoverJob(jobId: $jobId) { ${JOB_FIELDS} } }`;

/**
 * The environment that points the built service (a child process) at a migrated MariaDB database
 * and at a simulator running in the test process, with fast engine settings; `extra` overrides.
 */
export function childServiceEnv(db: MigratedDatabase, sim: Simulator, extra: Record<string, string> = {}): Record<string, string> {
  if (db.config.kind !== 'mariadb') throw new Error('the child service runs on MariaDB here');
  return {
    DATABASE_URL: db.config.url,
    CLOUDSTACK_URL: sim.url,
    CLOUDSTACK_API_KEY: sim.apiKey,
    CLOUDSTACK_SECRET_KEY: sim.secretKey,
    CLOUDSTACK_ZONE_ID: sim.ids.zoneId,
    CLOUDSTACK_TEMPLATE_ID: sim.ids.templateId,
    CLOUDSTACK_SERVICE_OFFERING_ID: sim.ids.serviceOfferingId,
    CLOUDSTACK_APPLIANCE_VM_ID: sim.ids.applianceVmIds.join(','),
    ENGINE_SCAN_INTERVAL_MS: '100',
    CLOUDSTACK_POLL_INTERVAL_MS: '20',
    EVENTS_POLL_INTERVAL_MS: '100',
    ...extra,
  };
}
