import type { EntityManager } from '@mikro-orm/core';
import { CbtHistory, NetworkMapping, OsseaVolume, ReplicationJob, VmDisk } from '../entities/index.js';
import { FailurePolicy } from '../entities/plan.codec.js';
import { createPlan } from '../services/plans.js';
import { DEMO_VMS, demoNetwork } from './demo-world.js';

/** The demo recovery plan: the ready demo VMs as a three-tier application, back ends first. */
export const DEMO_PLAN = {
  name: 'demo-application',
  description: 'The demo VMs as one application: data and messaging first, then the application servers, then the front ends.',
  waves: [
    ['db-01', 'cache-01', 'mq-01'],
    ['app-01', 'app-02', 'files-01'],
    ['web-01', 'api-gw-01'],
  ],
  maxInFlight: 4,
  failurePolicy: FailurePolicy.HALT,
} as const;

/**
 * Writes the demo VMs (see demo-world.ts) into an empty appliance database: replication jobs,
 * disks with the VM spec on the first, volumes, CBT history and network mappings. Returns false
 * and writes nothing when the database already has replication jobs. Also creates the demo recovery
 * plan ({@link DEMO_PLAN}), so a plan can be run at once.
 */
export async function seedDemoData(root: EntityManager): Promise<boolean> {
  const em = root.fork();
  if ((await em.count(ReplicationJob, {})) > 0) return false;
  await em.transactional(async (tx) => {
    for (const vm of DEMO_VMS) {
      tx.create(ReplicationJob, {
        id: vm.replicationJobId,
        sourceVmId: vm.vmId,
        sourceVmName: vm.name,
        sourceVmPath: `/Datacenter-A/vm/${vm.name}`,
        vcenterHost: 'vcenter.example.internal',
        datacenter: 'Datacenter-A',
        status: vm.replicationStatus,
      });
      vm.disks.forEach((disk, index) => {
        tx.create(OsseaVolume, {
          id: disk.osseaVolumeRowId,
          volumeId: disk.volumeId,
          volumeName: disk.volumeName,
          sizeGb: disk.sizeGb,
          volumeType: 'DATADISK',
          devicePath: `/dev/vd${String.fromCharCode('b'.charCodeAt(0) + disk.applianceDeviceId - 1)}`,
          status: 'attached',
        });
        tx.create(VmDisk, {
          jobId: vm.replicationJobId,
          diskId: disk.diskId,
          vmDkPath: `[${disk.datastore}] ${vm.name}/${vm.name}${index === 0 ? '' : `_${index}`}.vmdk`,
          sizeGb: disk.sizeGb,
          datastore: disk.datastore,
          unitNumber: disk.unitNumber,
          label: disk.label,
          capacityBytes: disk.sizeGb * 1024 ** 3,
          provisioningType: 'thin',
          osseaVolumeId: disk.osseaVolumeRowId,
          syncStatus: vm.replicationStatus === 'completed' ? 'completed' : 'syncing',
          syncProgressPercent: vm.replicationStatus === 'completed' ? 100 : 42,
          // The VM spec lives on the first disk only (the seed's storage strategy).
          ...(index === 0
            ? {
                cpuCount: vm.cpuCount,
                memoryMb: vm.memoryMb,
                osType: vm.osType,
                displayName: vm.name,
                powerState: 'poweredOn',
                networkConfig: JSON.stringify({ adapters: vm.sourceNetworks.map((network) => ({ network, type: 'vmxnet3' })) }),
              }
            : {}),
        });
      });
      tx.create(CbtHistory, { jobId: vm.replicationJobId, changeId: vm.cbt.changeId, syncSuccess: vm.cbt.success, bytesSynced: 0 });
      for (const mapping of vm.mappings) {
        for (const [networkId, isTestNetwork] of [
          [mapping.productionNetworkId, false],
          [mapping.testNetworkId, true],
        ] as const) {
          if (!networkId) continue;
          tx.create(NetworkMapping, {
            vmId: vm.vmId,
            sourceNetworkName: mapping.sourceNetworkName,
            destinationNetworkId: networkId,
            destinationNetworkName: demoNetwork(networkId).name,
            isTestNetwork,
          });
        }
      }
    }
  });
  const byName = new Map(DEMO_VMS.map((vm) => [vm.name, vm.vmId]));
  await createPlan(
    root,
    { ...DEMO_PLAN, waves: DEMO_PLAN.waves.map((names) => ({ vmIds: names.map((name) => byName.get(name)!) })) },
    { requestedBy: 'system:demo-data', inTransaction: async () => {} },
  );
  return true;
}
