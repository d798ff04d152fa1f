/**
 * The demo world: one description of the VMs the appliance replicated, shared by the embedded
 * database's demo data (replication_jobs, vm_disks, ossea_volumes, cbt_history, network_mappings)
 * and by the CloudStack simulator's seeded cloud (the same volumes attached to the appliance VM,
 * the same destination networks). Ids are fixed so that both sides always agree.
 */

/** A CloudStack network the demo VMs map to. */
export interface DemoNetwork {
  readonly id: string;
  readonly name: string;
  readonly cidr: string;
  /** true for an isolated test (Layer 2) network, false for a production network. */
  readonly isTest: boolean;
}

/** One replicated disk and the CloudStack volume it was replicated into. */
export interface DemoDisk {
  readonly diskId: string;
  readonly unitNumber: number;
  readonly sizeGb: number;
  readonly label: string;
  readonly datastore: string;
  /** ossea_volumes.id */
  readonly osseaVolumeRowId: number;
  /** ossea_volumes.volume_id: the CloudStack volume UUID. */
  readonly volumeId: string;
  readonly volumeName: string;
  /** The appliance VM the volume is attached to (one of {@link DEMO_APPLIANCE_VMS}). */
  readonly applianceVmId: string;
  /** The device id the volume has on that appliance VM (never 3: CloudStack reserves it). */
  readonly applianceDeviceId: number;
}

/** How a demo VM's source network maps into CloudStack. */
export interface DemoMapping {
  readonly sourceNetworkName: string;
  readonly productionNetworkId?: string;
  readonly testNetworkId?: string;
}

export interface DemoVm {
  readonly vmId: string;
  readonly name: string;
  readonly replicationJobId: string;
  /** replication_jobs.status of the latest job. */
  readonly replicationStatus: string;
  readonly cpuCount: number;
  readonly memoryMb: number;
  readonly osType: string;
  readonly sourceNetworks: readonly string[];
  readonly disks: readonly DemoDisk[];
  readonly mappings: readonly DemoMapping[];
  /** cbt_history: whether the latest sync succeeded and the change id it recorded. */
  readonly cbt: { readonly success: boolean; readonly changeId: string | null };
}

export const DEMO_ZONE = { id: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0001', name: 'zone-dr-1' } as const;
export const DEMO_TEMPLATE = {
  id: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0002',
  name: 'failover-boot-stub',
  ostypename: 'Other (64-bit)',
} as const;
export const DEMO_SERVICE_OFFERING = {
  id: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0003',
  name: 'failover-custom',
  iscustomized: true,
} as const;
/** An appliance VM: Running, its own ROOT at device 0, replicated volumes as data disks. */
export interface DemoAppliance {
  readonly id: string;
  readonly name: string;
  readonly rootVolumeId: string;
  readonly nicId: string;
  readonly mac: string;
  /** Host part of its address on the first production network. */
  readonly ipHost: number;
}

/**
 * Two appliance VMs: a KVM VM holds at most 32 data disks, so a real appliance that replicates
 * more volumes is several VMs. Each replicated volume hangs off one of them.
 */
export const DEMO_APPLIANCE_VMS: readonly [DemoAppliance, DemoAppliance] = [
  {
    id: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0004',
    name: 'migratekit-oma',
    rootVolumeId: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0005',
    nicId: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0006',
    mac: '02:00:0a:0a:00:05',
    ipHost: 5,
  },
  {
    id: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0014',
    name: 'migratekit-oma-2',
    rootVolumeId: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0015',
    nicId: '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0016',
    mac: '02:00:0a:0a:00:06',
    ipHost: 6,
  },
];
/** The first appliance VM. */
export const DEMO_APPLIANCE_VM = DEMO_APPLIANCE_VMS[0];
const [APPLIANCE_A, APPLIANCE_B] = DEMO_APPLIANCE_VMS.map((a) => a.id) as [string, string];

export const DEMO_NETWORKS: readonly DemoNetwork[] = [
  { id: '5c1d0e7a-0000-4000-8000-000000000101', name: 'Production Network', cidr: '10.10.0.0/24', isTest: false },
  { id: '5c1d0e7a-0000-4000-8000-000000000102', name: 'Backend Production', cidr: '10.20.0.0/24', isTest: false },
  { id: '5c1d0e7a-0000-4000-8000-000000000201', name: 'Test Network', cidr: '192.168.100.0/24', isTest: true },
  { id: '5c1d0e7a-0000-4000-8000-000000000202', name: 'Test Backend', cidr: '192.168.200.0/24', isTest: true },
];

const [PROD, PROD_BACKEND, TEST, TEST_BACKEND] = DEMO_NETWORKS.map((n) => n.id);

export const DEMO_VMS: readonly DemoVm[] = [
  {
    vmId: '4205a841-0265-f4bd-39a6-39fd92196f53',
    name: 'web-01',
    replicationJobId: 'job-20261120-101500',
    replicationStatus: 'completed',
    cpuCount: 2,
    memoryMb: 4096,
    osType: 'ubuntu64Guest',
    sourceNetworks: ['VM Network'],
    disks: [
      {
        diskId: 'disk-2000',
        unitNumber: 0,
        sizeGb: 40,
        label: 'Hard disk 1',
        datastore: 'datastore-ssd-1',
        osseaVolumeRowId: 1,
        volumeId: 'e915ef05-ddf5-48d5-8352-a01300609717',
        volumeName: 'migratekit-web-01-disk-2000',
        applianceVmId: APPLIANCE_A,
        applianceDeviceId: 1,
      },
    ],
    mappings: [{ sourceNetworkName: 'VM Network', productionNetworkId: PROD, testNetworkId: TEST }],
    cbt: { success: true, changeId: '52 3c ec 17 b8 9a 6f 2a-a9 1d 4c 53 0e 4b 21 6f/4412' },
  },
  {
    vmId: '4205b17c-4c1a-8e3f-2d55-7a0c9e3b1f20',
    name: 'db-01',
    replicationJobId: 'job-20261120-103000',
    replicationStatus: 'completed',
    cpuCount: 4,
    memoryMb: 16384,
    osType: 'rhel9_64Guest',
    sourceNetworks: ['VM Network', 'Backend Network'],
    disks: [
      {
        diskId: 'disk-2000',
        unitNumber: 0,
        sizeGb: 60,
        label: 'Hard disk 1',
        datastore: 'datastore-ssd-1',
        osseaVolumeRowId: 2,
        volumeId: '7d2e1a90-3b4c-4f6d-9e8a-1c2b3d4e5f60',
        volumeName: 'migratekit-db-01-disk-2000',
        applianceVmId: APPLIANCE_A,
        applianceDeviceId: 2,
      },
      {
        diskId: 'disk-2001',
        unitNumber: 1,
        sizeGb: 200,
        label: 'Hard disk 2',
        datastore: 'datastore-ssd-2',
        osseaVolumeRowId: 3,
        volumeId: '0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f',
        volumeName: 'migratekit-db-01-disk-2001',
        applianceVmId: APPLIANCE_A,
        applianceDeviceId: 4,
      },
    ],
    mappings: [
      { sourceNetworkName: 'VM Network', productionNetworkId: PROD, testNetworkId: TEST },
      { sourceNetworkName: 'Backend Network', productionNetworkId: PROD_BACKEND, testNetworkId: TEST_BACKEND },
    ],
    cbt: { success: true, changeId: '52 9a 11 04 c2 77 5e 10-b3 48 90 6e 2d 1c 7f 0a/9180' },
  },
  {
    vmId: '4205c3d9-9f02-11aa-6b7e-3e5d2c1b0a99',
    name: 'legacy-app-01',
    replicationJobId: 'job-20261124-080000',
    replicationStatus: 'replicating',
    cpuCount: 1,
    memoryMb: 2048,
    osType: 'windows2019srv_64Guest',
    sourceNetworks: ['VM Network', 'Legacy Network'],
    disks: [
      {
        diskId: 'disk-2000',
        unitNumber: 0,
        sizeGb: 80,
        label: 'Hard disk 1',
        datastore: 'datastore-hdd-1',
        osseaVolumeRowId: 4,
        volumeId: 'c4b3a291-8e7d-4c6b-a5f4-e3d2c1b0a987',
        volumeName: 'migratekit-legacy-app-01-disk-2000',
        applianceVmId: APPLIANCE_A,
        applianceDeviceId: 5,
      },
    ],
    // Only the production mapping of one network: a clear "not ready" for both kinds.
    mappings: [{ sourceNetworkName: 'VM Network', productionNetworkId: PROD }],
    cbt: { success: false, changeId: null },
  },
  ...moreReadyVms(),
];

/**
 * Six more ready VMs, so that a demo (and the tests) can fail eight over at once: two on the first
 * appliance, four on the second — one of them (files-01) with an OS disk and three data disks.
 */
function moreReadyVms(): DemoVm[] {
  const specs = [
    { n: 1, name: 'app-01', cpus: 2, mem: 4096, os: 'ubuntu64Guest', disks: [[APPLIANCE_A, 6, 30]], backend: false },
    { n: 2, name: 'app-02', cpus: 2, mem: 4096, os: 'ubuntu64Guest', disks: [[APPLIANCE_A, 7, 30]], backend: false },
    { n: 3, name: 'cache-01', cpus: 2, mem: 8192, os: 'debian11_64Guest', disks: [[APPLIANCE_B, 1, 20]], backend: true },
    {
      n: 4,
      name: 'mq-01',
      cpus: 2,
      mem: 4096,
      os: 'rhel9_64Guest',
      disks: [
        [APPLIANCE_B, 2, 40],
        [APPLIANCE_B, 4, 100],
      ],
      backend: true,
    },
    {
      n: 5,
      name: 'files-01',
      cpus: 4,
      mem: 8192,
      os: 'windows2019srv_64Guest',
      disks: [
        [APPLIANCE_B, 5, 80],
        [APPLIANCE_B, 6, 500],
        [APPLIANCE_B, 7, 500],
        [APPLIANCE_B, 8, 250],
      ],
      backend: false,
    },
    { n: 6, name: 'api-gw-01', cpus: 1, mem: 2048, os: 'ubuntu64Guest', disks: [[APPLIANCE_B, 9, 20]], backend: true },
  ] as const;
  let row = 4;
  return specs.map(({ n, name, cpus, mem, os, disks, backend }) => {
    const hex = n.toString(16).padStart(2, '0');
    return {
      vmId: `4205d0${hex}-1a2b-4c3d-8e4f-5a6b7c8d9e${hex}`,
      name,
      replicationJobId: `job-20261121-0${n}0000`,
      replicationStatus: 'completed',
      cpuCount: cpus,
      memoryMb: mem,
      osType: os,
      sourceNetworks: backend ? ['VM Network', 'Backend Network'] : ['VM Network'],
      disks: disks.map(([applianceVmId, applianceDeviceId, sizeGb], unit) => ({
        diskId: `disk-${2000 + unit}`,
        unitNumber: unit,
        sizeGb,
        label: `Hard disk ${unit + 1}`,
        datastore: unit === 0 ? 'datastore-ssd-1' : 'datastore-ssd-2',
        osseaVolumeRowId: ++row,
        volumeId: `9b${hex}${unit}e0f-7a6b-4c5d-9e8f-0a1b2c3d4e${hex}`,
        volumeName: `migratekit-${name}-disk-${2000 + unit}`,
        applianceVmId,
        applianceDeviceId,
      })),
      mappings: [
        { sourceNetworkName: 'VM Network', productionNetworkId: PROD, testNetworkId: TEST },
        ...(backend ? [{ sourceNetworkName: 'Backend Network', productionNetworkId: PROD_BACKEND, testNetworkId: TEST_BACKEND }] : []),
      ],
      cbt: { success: true, changeId: `52 7f 0${n} 3a c1 9e 44 10-8d 2b 5c 61 0f 3e 9a ${hex}/${1000 + n}` },
    };
  });
}

/** Looks a demo network up by id (throws on an id the demo world does not have). */
export function demoNetwork(id: string): DemoNetwork {
  const network = DEMO_NETWORKS.find((n) => n.id === id);
  if (!network) throw new Error(`unknown demo network ${id}`);
  return network;
}
