import 'reflect-metadata';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DEMO_APPLIANCE_VMS, DEMO_NETWORKS, DEMO_VMS } from '../../src/demo/demo-world.js';
import { createLogger } from '../../src/logger.js';
import { startService } from '../../src/service.js';
import { gqlData } from '../helpers/graphql.js';

const dir = mkdtempSync(join(tmpdir(), 'embedded-cloud-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the embedded default runs the CloudStack simulator in-process', () => {
  it('serves the demo world over the real client, consistent with the demo database, and keeps it across restarts', async () => {
    const config = loadConfig({ DATA_DIR: dir, PORT: '0' });
    const logger = createLogger({ level: 'silent' });
    const service = await startService(config, logger);
    let vmId: string;
    try {
      expect(service.cloud.kind).toBe('simulator');
      const { cloudStack, ids } = service.cloud;
      expect(ids.applianceVmIds).toEqual(DEMO_APPLIANCE_VMS.map((a) => a.id));
      // Every replicated volume of the demo database is attached to an appliance VM in the cloud.
      const data = await gqlData(service.url, '{ virtualMachines { edges { node { disks { volumeId } } } } }');
      const dbVolumes = data.virtualMachines.edges.flatMap((e: any) => e.node.disks.map((d: any) => d.volumeId)).sort();
      const onAppliance = (await Promise.all(ids.applianceVmIds.map((id) => cloudStack.listVolumes({ virtualMachineId: id })))).flat();
      expect(
        onAppliance
          .filter((v) => v.type === 'DATADISK')
          .map((v) => v.id)
          .sort(),
      ).toEqual(dbVolumes);
      expect(dbVolumes).toEqual(DEMO_VMS.flatMap((vm) => vm.disks.map((d) => d.volumeId)).sort());
      // The demo world a newcomer sees: eight VMs ready on two appliance VMs (one with three data
      // disks besides its OS disk), one that is not ready, and no disk at the reserved device 3.
      expect(onAppliance.map((v) => v.deviceId)).not.toContain(3);
      expect(new Set(onAppliance.filter((v) => v.type === 'DATADISK').map((v) => v.virtualMachineId)).size).toBe(2);
      const ready = await gqlData(service.url, '{ virtualMachines(first: 50) { edges { node { name disks { volumeId } readiness(type: TEST) { ready } } } } }');
      const nodes = ready.virtualMachines.edges.map((e: any) => e.node) as { name: string; disks: unknown[]; readiness: { ready: boolean } }[];
      expect(nodes.filter((n) => n.readiness.ready)).toHaveLength(8);
      expect(nodes.filter((n) => !n.readiness.ready).map((n) => n.name)).toEqual(['legacy-app-01']);
      expect(Math.max(...nodes.filter((n) => n.readiness.ready).map((n) => n.disks.length))).toBeGreaterThanOrEqual(4);
      const networks = await cloudStack.listNetworks({ zoneId: ids.zoneId });
      expect(networks.map((n) => n.id).sort()).toEqual(DEMO_NETWORKS.map((n) => n.id).sort());

      // A change in the cloud survives a restart of the service (the simulator's state file).
      const vm = await cloudStack.deployVirtualMachine({
        zoneId: ids.zoneId,
        serviceOfferingId: ids.serviceOfferingId,
        templateId: ids.templateId,
        name: 'restart-probe',
        startVm: false,
        cpuNumber: 1,
        memoryMb: 1024,
        networkIds: [DEMO_NETWORKS[2]!.id],
      });
      vmId = vm.id;
    } finally {
      await service.stop();
    }
    const stateFile = join(dir, 'cloudstack-simulator.json');
    expect(existsSync(stateFile)).toBe(true);
    expect(readFileSync(stateFile, 'utf8')).toContain('restart-probe');

    const again = await startService(config, logger);
    try {
      const found = await again.cloud.cloudStack.listVirtualMachines({ id: vmId });
      expect(found.map((v) => v.name)).toEqual(['restart-probe']);
    } finally {
      await again.stop();
    }
  });
});
