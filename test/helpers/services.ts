import type { MikroORM } from '@mikro-orm/core';
import { CloudStackClient } from '../../src/cloudstack/cloudstack.client.js';
import { inProcessCloud, type InProcessCloud } from '../../src/cloudstack/simulator/in-process.js';
import type { Config } from '../../src/config.js';
import { NetworkMapping, OsseaVolume } from '../../src/entities/index.js';
import type { Logger } from '../../src/logger.js';
import { createFailoverRuntime, type FailoverRuntime } from '../../src/service.js';
import { FAST_CLIENT } from './cloudstack.js';

/** Engine settings that keep tests fast (short leases and scans). */
export const FAST_ENGINE: Config['engine'] = { leaseMs: 1_500, scanIntervalMs: 100, concurrency: 8, eventPollIntervalMs: 100 };

/** The real services on a database, over the simulator's API layer in this process (no port); the engine is not started. */
export interface TestServices {
  readonly runtime: FailoverRuntime;
  readonly cloud: InProcessCloud;
  /**
   * Puts into the cloud what the database says the appliance replicated and maps to: every
   * `ossea_volumes` volume (Ready, attached to the appliance) and every mapped destination network
   * it does not hold yet — so VMs inserted by tests pass the cloud checks, as on a real appliance.
   */
  mirrorDatabase(): Promise<void>;
  close(): Promise<void>;
}

export async function testServices(
  orm: MikroORM,
  logger: Logger,
  engine: Config['engine'] = FAST_ENGINE,
  { readinessShareMs = 0 }: { readinessShareMs?: number } = {},
): Promise<TestServices> {
  const cloud = inProcessCloud();
  const client = new CloudStackClient({
    url: 'http://in-process/client/api',
    apiKey: cloud.apiKey,
    secretKey: cloud.secretKey,
    transport: cloud.transport,
    ...FAST_CLIENT,
  });
  // Readiness answers are not shared unless a test asks: most tests change the cloud and ask again at once.
  const runtime = createFailoverRuntime(orm, { cloudStack: client, ids: cloud.ids }, logger, engine, { readinessShareMs });
  await runtime.events.start();
  return {
    runtime,
    cloud,
    async mirrorDatabase() {
      const em = orm.em.fork();
      const volumes = await em.find(OsseaVolume, {}, { disableIdentityMap: true });
      const mappings = await em.find(NetworkMapping, {}, { disableIdentityMap: true });
      cloud.update((world) => {
        const now = new Date().toISOString().replace(/\.\d+Z$/, '+0000');
        const used = new Set(world.volumes.filter((v) => !v.removed && v.virtualmachineid === cloud.ids.applianceVmIds[0]!).map((v) => v.deviceid));
        const nextDevice = () => {
          let id = 1;
          while (used.has(id) || id === 3) id++;
          used.add(id);
          return id;
        };
        for (const v of volumes) {
          if (world.volumes.some((w) => w.id === v.volumeId)) continue;
          world.volumes.push({
            id: v.volumeId,
            name: v.volumeName,
            type: 'DATADISK',
            state: 'Ready',
            zoneid: cloud.ids.zoneId,
            size: Number(v.sizeGb) * 1024 ** 3,
            created: now,
            virtualmachineid: cloud.ids.applianceVmIds[0]!,
            deviceid: nextDevice(),
            attached: now,
          });
        }
        for (const m of mappings) {
          if (world.networks.some((n) => n.id === m.destinationNetworkId)) continue;
          world.networks.push({
            id: m.destinationNetworkId,
            name: m.destinationNetworkName ?? m.destinationNetworkId,
            zoneid: cloud.ids.zoneId,
            type: m.isTestNetwork ? 'L2' : 'Isolated',
            state: 'Implemented',
            traffictype: 'Guest',
            canusefordeploy: true,
            nexthost: 10,
          });
        }
      });
    },
    async close() {
      await runtime.engine.stop();
      await runtime.events.close();
      cloud.close();
    },
  };
}
