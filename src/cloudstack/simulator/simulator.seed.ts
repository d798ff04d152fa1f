import { DEMO_APPLIANCE_VMS, DEMO_NETWORKS, DEMO_SERVICE_OFFERING, DEMO_TEMPLATE, DEMO_VMS, DEMO_ZONE } from '../../demo/demo-world.js';
import { defaultSettings } from './simulator.settings.js';
import { csTime, type SimNetwork, type SimVolume, type SimWorld } from './simulator.state.js';

/**
 * The seeded cloud, built from the demo world so that the embedded service and the simulator
 * agree: the zone, the boot-stub template, the customised offering (fixed CPU speed, CPU count and
 * memory given at deploy time), the production and test networks, and the appliance VMs — Running,
 * each its own ROOT volume at device 0 and every demo VM's replicated volume attached (Ready,
 * DATADISK) to its `applianceVmId` at its `applianceDeviceId`.
 */

const GIB = 1024 ** 3;

/** Properties of the seeded world that are not in the demo world. */
export const SEED = {
  /** Creation time of every seeded resource (fixed, so that two seedings are equal). */
  created: new Date('2026-11-20T09:00:00Z'),
  hypervisor: 'KVM',
  /** DNS domain of the Isolated networks (L2 networks have none). */
  networkDomain: 'cs1cloud.internal',
  /** The customised offering's fixed CPU speed (MHz); CPU count and memory come with the deploy. */
  offeringCpuSpeed: 2000,
  templateSizeBytes: 8 * GIB,
  appliance: {
    cpunumber: 4,
    memory: 8192,
    rootSizeBytes: 40 * GIB,
  },
} as const;

/** Hands out the next host address of a network's CIDR (undefined for a network without one). */
export function nextAddress(network: SimNetwork): string | undefined {
  if (!network.cidr) return undefined;
  const [base] = network.cidr.split('/');
  const octets = base!.split('.').map(Number);
  const host = network.nexthost++;
  octets[3] = (octets[3]! + host) % 256;
  return octets.join('.');
}

/** Builds a fresh seeded world (equal to every other one). */
export function seedWorld(now: Date = SEED.created): SimWorld {
  const created = csTime(now);
  const networks: SimNetwork[] = DEMO_NETWORKS.map((n) => ({
    id: n.id,
    name: n.name,
    zoneid: DEMO_ZONE.id,
    type: n.isTest ? 'L2' : 'Isolated',
    state: 'Implemented',
    cidr: n.cidr,
    traffictype: 'Guest',
    canusefordeploy: true,
    ...(n.isTest ? {} : { networkdomain: SEED.networkDomain }),
    nexthost: 10,
  }));
  const applianceNetwork = networks.find((n) => n.type === 'Isolated') ?? networks[0]!;
  const volumes: SimVolume[] = [
    ...DEMO_APPLIANCE_VMS.map((appliance): SimVolume => ({
      id: appliance.rootVolumeId,
      name: `ROOT-${appliance.name}`,
      type: 'ROOT',
      state: 'Ready',
      zoneid: DEMO_ZONE.id,
      size: SEED.appliance.rootSizeBytes,
      created,
      virtualmachineid: appliance.id,
      deviceid: 0,
      attached: created,
      templateid: DEMO_TEMPLATE.id,
    })),
    ...DEMO_VMS.flatMap((vm) =>
      vm.disks.map((disk): SimVolume => ({
        id: disk.volumeId,
        name: disk.volumeName,
        type: 'DATADISK',
        state: 'Ready',
        zoneid: DEMO_ZONE.id,
        size: disk.sizeGb * GIB,
        created,
        virtualmachineid: disk.applianceVmId,
        deviceid: disk.applianceDeviceId,
        attached: created,
      })),
    ),
  ];
  return {
    version: 1,
    settings: defaultSettings(),
    projects: [],
    zones: [{ id: DEMO_ZONE.id, name: DEMO_ZONE.name, allocationstate: 'Enabled', networktype: 'Advanced' }],
    templates: [
      {
        id: DEMO_TEMPLATE.id,
        name: DEMO_TEMPLATE.name,
        displaytext: DEMO_TEMPLATE.name,
        ostypename: DEMO_TEMPLATE.ostypename,
        zoneid: DEMO_ZONE.id,
        hypervisor: SEED.hypervisor,
        format: 'QCOW2',
        size: SEED.templateSizeBytes,
        isready: true,
        isfeatured: true,
        ispublic: true,
        templatetype: 'USER',
        created,
      },
    ],
    serviceOfferings: [
      {
        id: DEMO_SERVICE_OFFERING.id,
        name: DEMO_SERVICE_OFFERING.name,
        displaytext: DEMO_SERVICE_OFFERING.name,
        iscustomized: DEMO_SERVICE_OFFERING.iscustomized,
        cpuspeed: SEED.offeringCpuSpeed,
        storagetype: 'shared',
        created,
      },
    ],
    networks,
    vms: DEMO_APPLIANCE_VMS.map((appliance, i) => ({
      id: appliance.id,
      name: appliance.name,
      instancename: `i-2-${i + 1}-VM`,
      displayname: appliance.name,
      state: 'Running',
      zoneid: DEMO_ZONE.id,
      templateid: DEMO_TEMPLATE.id,
      serviceofferingid: DEMO_SERVICE_OFFERING.id,
      cpunumber: SEED.appliance.cpunumber,
      cpuspeed: SEED.offeringCpuSpeed,
      memory: SEED.appliance.memory,
      hypervisor: SEED.hypervisor,
      created,
      nics: [
        {
          id: appliance.nicId,
          networkid: applianceNetwork.id,
          deviceid: 0,
          isdefault: true,
          macaddress: appliance.mac,
          ipaddress: nextAddress({ ...applianceNetwork, nexthost: appliance.ipHost }),
        },
      ],
    })),
    volumes,
    snapshots: [],
    vmSnapshots: [],
    jobs: [],
  };
}
