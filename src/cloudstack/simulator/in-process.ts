import { silentLogger, type CloudStackLogger } from '../logger.js';
import type { HttpTransport } from '../cloudstack.transport.js';
import type { CloudIds } from '../cloudstack.types.js';
import { DEMO_APPLIANCE_VMS, DEMO_SERVICE_OFFERING, DEMO_TEMPLATE, DEMO_ZONE } from '../../demo/demo-world.js';
import { FaultInjector } from './faults.js';
import { SimulatedApi } from './simulator.api.js';
import { CloudJobRunner } from './simulator.jobs.js';
import { seedWorld } from './simulator.seed.js';
import type { SimSettings } from './simulator.settings.js';
import { CloudState, type SimulatorSnapshot, type SimWorld } from './simulator.state.js';

/** Options of {@link inProcessCloud}. */
export interface InProcessCloudOptions {
  /** How long each async job takes (0: as soon as the event loop turns). */
  readonly jobLatencyMs?: number;
  /** Settings of the cloud (the rest: a stock 4.18–4.21 KVM cloud, a non-admin key). */
  readonly settings?: Partial<SimSettings>;
  readonly logger?: CloudStackLogger;
}

/** The simulator's API layer without HTTP: a transport for the client, and the world to look at. */
export interface InProcessCloud {
  readonly transport: HttpTransport;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly ids: CloudIds;
  readonly faults: FaultInjector;
  getState(): SimulatorSnapshot;
  /** Changes the world directly (test setup: resources the cloud holds before the test). */
  update(mutate: (world: SimWorld) => void): void;
  /** Changes some of the management server's settings; returns them all. */
  configure(settings: Partial<SimSettings>): SimSettings;
  /** Resolves when no async job is running. */
  idle(): Promise<void>;
  close(): void;
}

/**
 * The simulated CloudStack in this process, seeded with the demo world: the same command
 * handlers, rules and async jobs as the HTTP simulator, reached through a transport that hands
 * the signed parameters straight to the API layer. For unit tests of the engine's actions: no
 * port, no socket. A dropped answer throws as a reset connection would.
 */
export function inProcessCloud({ jobLatencyMs = 0, settings, logger = silentLogger }: InProcessCloudOptions = {}): InProcessCloud {
  const apiKey = 'in-process-api-key';
  const secretKey = 'in-process-secret-key';
  const world = seedWorld();
  Object.assign(world.settings, settings);
  const state = new CloudState(world);
  const jobs = new CloudJobRunner({ state, latencyMs: () => jobLatencyMs, steps: 1, onChange: () => {}, logger });
  const faults = new FaultInjector();
  const api = new SimulatedApi({ state, credentials: { apiKey, secretKey }, faults, jobs: () => jobs, onChange: () => {}, logger });
  return {
    apiKey,
    secretKey,
    ids: {
      zoneId: DEMO_ZONE.id,
      templateId: DEMO_TEMPLATE.id,
      serviceOfferingId: DEMO_SERVICE_OFFERING.id,
      applianceVmIds: DEMO_APPLIANCE_VMS.map((a) => a.id),
    },
    faults,
    transport: {
      async send({ pairs, signal }) {
        signal.throwIfAborted();
        const answer = await api.handle(pairs);
        if (answer.drop) throw new TypeError('fetch failed: connection reset');
        return { status: answer.status, body: JSON.stringify(answer.body) };
      },
    },
    getState: () => state.snapshotWorld({}),
    update: (mutate) => mutate(state.world),
    configure: (changes) => ({ ...Object.assign(state.world.settings, changes) }),
    idle: () => jobs.idle(),
    close: () => jobs.close(),
  };
}
