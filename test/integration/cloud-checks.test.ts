import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { CloudStackClient } from '../../src/cloudstack/cloudstack.client.js';
import type { CloudStack } from '../../src/cloudstack/cloudstack.port.js';
import { FaultKind } from '../../src/cloudstack/simulator/faults.js';
import { DEMO_APPLIANCE_VM, DEMO_NETWORKS, DEMO_VMS, DEMO_ZONE, demoNetwork, type DemoVm } from '../../src/demo/demo-world.js';
import { FailoverType } from '../../src/entities/enums.js';
import { NetworkMapping } from '../../src/entities/network-mapping.entity.js';
import { CheckKind } from '../../src/failover/readiness/check.js';
import {
  CLOUD_CHECKS,
  destinationNetworks,
  READINESS_CHECKS,
  unwindPossible,
  volumesReady,
  type CloudCheckContext,
} from '../../src/failover/readiness/cloud-checks.js';
import { DATABASE_CHECKS } from '../../src/failover/readiness/database-checks.js';
import { evaluateReadiness, type Readiness } from '../../src/failover/readiness/evaluate.js';
import type { VmFacts } from '../../src/inventory/vm-facts.js';
import { captureLogger, closedPort, deployParams, FAST_CLIENT, useCloud } from '../helpers/cloudstack.js';

/**
 * The cloud readiness checks against the CloudStack simulator over real HTTP (seeded with the
 * demo world: every demo VM's volumes attached to the appliance, the four demo networks).
 */

const cloud = useCloud();

const demoVm = (name: string): DemoVm => DEMO_VMS.find((vm) => vm.name === name)!;
const WEB = demoVm('web-01');
const DB = demoVm('db-01');
const WEB_VOLUME = WEB.disks[0]!;
const [DB_DISK_1, DB_DISK_2] = DB.disks as [DemoVm['disks'][number], DemoVm['disks'][number]];
const TEST_NETWORK = DEMO_NETWORKS.find((n) => n.name === 'Test Network')!;
const TEST_BACKEND = DEMO_NETWORKS.find((n) => n.name === 'Test Backend')!;

/** A mapping row as the database holds it. */
function mapping(
  vmId: string,
  sourceNetworkName: string,
  destinationNetworkId: string,
  isTestNetwork: boolean,
  destinationNetworkName?: string,
): NetworkMapping {
  return Object.assign(new NetworkMapping(), {
    id: 0,
    vmId,
    sourceNetworkName,
    destinationNetworkId,
    destinationNetworkName: destinationNetworkName ?? demoNetwork(destinationNetworkId).name,
    isTestNetwork,
  });
}

/** The facts the database loader gives for a demo VM (as the demo data seeds it), with overrides. */
function factsOf(vm: DemoVm, overrides: Partial<VmFacts> = {}): VmFacts {
  return {
    vmId: vm.vmId,
    known: true,
    name: vm.name,
    latestReplication: { id: vm.replicationJobId, status: vm.replicationStatus, createdAt: new Date('2026-11-20T10:15:00Z') },
    activeReplicationJobId: null,
    spec: {
      cpuCount: vm.cpuCount,
      memoryMb: vm.memoryMb,
      osType: vm.osType,
      displayName: vm.name,
      powerState: 'poweredOn',
      vmToolsVersion: '12.3.0',
      vmwareUuid: vm.vmId,
      networks: vm.sourceNetworks.map((name) => ({ name, adapterType: 'vmxnet3' })),
    },
    disks: vm.disks.map((d, i) => ({
      id: i + 1,
      diskId: d.diskId,
      unitNumber: d.unitNumber,
      sizeGb: d.sizeGb,
      label: d.label,
      osseaVolumeId: d.osseaVolumeRowId,
      volume: { rowId: d.osseaVolumeRowId, volumeId: d.volumeId, volumeName: d.volumeName, status: 'attached', sizeGb: d.sizeGb, volumeType: 'DATADISK' },
    })),
    cbt: vm.cbt.changeId ? { changeId: vm.cbt.changeId, createdAt: null } : null,
    mappings: vm.mappings.flatMap((m) => [
      ...(m.productionNetworkId ? [mapping(vm.vmId, m.sourceNetworkName, m.productionNetworkId, false)] : []),
      ...(m.testNetworkId ? [mapping(vm.vmId, m.sourceNetworkName, m.testNetworkId, true)] : []),
    ]),
    activeJob: null,
    holdingJobs: [],
    latestJob: null,
    ...overrides,
  };
}

/** The cloud the checks are given: the simulator's client, or another CloudStack. */
const context = (cloudStack: CloudStack = cloud.client): CloudCheckContext => ({ cloudStack, ids: cloud.sim.ids });

/** Wraps a CloudStack and records its calls and the most calls in flight at once. */
function counting(inner: CloudStack) {
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const proxy = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        calls.push(String(property));
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          inFlight--;
        }
      };
    },
  });
  return {
    cloudStack: proxy,
    calls,
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

/** CloudStack API calls the simulator received, by command (since the last reset). */
const simCalls = () => cloud.sim.faults.calls();

const check = (readiness: Readiness, name: string) => {
  const result = readiness.checks.find((c) => c.name === name);
  if (!result) throw new Error(`no check ${name} in ${readiness.checks.map((c) => c.name).join(', ')}`);
  return result;
};

/** Runs the cloud checks alone and returns their results by name. */
async function cloudChecks(facts: VmFacts, type = FailoverType.TEST, cloudStack?: CloudStack) {
  const readiness = await evaluateReadiness(CLOUD_CHECKS, facts, type, context(cloudStack));
  return { volumes: check(readiness, 'cloud_volumes_ready'), networks: check(readiness, 'cloud_destination_networks'), readiness };
}

describe('the check list', () => {
  it('runs the database checks, then the three cloud checks with their prerequisites', () => {
    expect(CLOUD_CHECKS).toEqual([volumesReady, destinationNetworks, unwindPossible]);
    expect(READINESS_CHECKS.map((c) => c.name)).toEqual([
      ...DATABASE_CHECKS.map((c) => c.name),
      'cloud_volumes_ready',
      'cloud_destination_networks',
      'cloud_unwind_possible',
    ]);
    expect(unwindPossible).toMatchObject({ kind: CheckKind.CLOUD, requires: ['cloud_destination_networks'] });
    expect(volumesReady).toMatchObject({ name: 'cloud_volumes_ready', kind: CheckKind.CLOUD, requires: ['disk_volumes'] });
    expect(destinationNetworks).toMatchObject({ name: 'cloud_destination_networks', kind: CheckKind.CLOUD, requires: ['network_mappings'] });
  });
});

describe('the seeded demo world passes', () => {
  for (const type of [FailoverType.TEST, FailoverType.LIVE]) {
    it(`web-01 and db-01 are ready for a ${type} failover, every check included`, async () => {
      const kind = type === FailoverType.TEST ? 'test' : 'production';
      const web = await evaluateReadiness(READINESS_CHECKS, factsOf(WEB), type, context());
      expect(web.checks.filter((c) => !c.passed)).toEqual([]);
      expect(web.ready).toBe(true);
      expect(check(web, 'cloud_volumes_ready')).toEqual({
        name: 'cloud_volumes_ready',
        kind: CheckKind.CLOUD,
        passed: true,
        message: '1 volume Ready in CloudStack, attached to the appliance',
      });
      const webNetwork = DEMO_NETWORKS.find((n) => n.id === WEB.mappings[0]![type === FailoverType.TEST ? 'testNetworkId' : 'productionNetworkId'])!;
      expect(check(web, 'cloud_destination_networks')).toEqual({
        name: 'cloud_destination_networks',
        kind: CheckKind.CLOUD,
        passed: true,
        message: `1 ${kind} network found in CloudStack: "${webNetwork.name}"`,
      });

      const db = await evaluateReadiness(READINESS_CHECKS, factsOf(DB), type, context());
      expect(db.checks.filter((c) => !c.passed)).toEqual([]);
      expect(check(db, 'cloud_volumes_ready').message).toBe('2 volumes Ready in CloudStack, attached to the appliance');
      const dbNetworks = DB.mappings.map((m) => `"${demoNetwork((type === FailoverType.TEST ? m.testNetworkId : m.productionNetworkId)!).name}"`);
      expect(check(db, 'cloud_destination_networks').message).toBe(`2 ${kind} networks found in CloudStack: ${dbNetworks.join(', ')}`);
    });
  }

  it('looks every volume and network up concurrently, one call each', async () => {
    const probe = counting(cloud.client);
    const { readiness } = await cloudChecks(factsOf(DB), FailoverType.TEST, probe.cloudStack);
    expect(readiness.ready).toBe(true);
    expect(probe.calls.sort()).toEqual(['listCapabilities', 'listNetworks', 'listNetworks', 'listSnapshots', 'listSnapshots', 'listVolumes', 'listVolumes']);
    // Both volumes at once, then both volumes' snapshots at once, then both networks at once, then what the key may do.
    expect(probe.maxInFlight).toBe(2);
    expect(simCalls()).toEqual({ listVolumes: 2, listSnapshots: 2, listNetworks: 2, listCapabilities: 1 });
  });
});

describe('cloud_volumes_ready', () => {
  it('fails when a volume is gone from CloudStack (expunged), naming the volume and its disk', async () => {
    cloud.sim.update((world) => {
      const volume = world.volumes.find((v) => v.id === WEB_VOLUME.volumeId)!;
      volume.state = 'Expunged';
      volume.removed = '2026-11-25T08:00:00+0000';
      delete volume.virtualmachineid;
      delete volume.deviceid;
    });
    const { volumes, networks } = await cloudChecks(factsOf(WEB));
    expect(volumes).toMatchObject({ passed: false, kind: CheckKind.CLOUD });
    expect(volumes.message).toBe(`Volume ${WEB_VOLUME.volumeName} (${WEB_VOLUME.volumeId}) of Hard disk 1 does not exist in CloudStack`);
    expect(networks.passed).toBe(true);
  });

  it('fails for a volume id CloudStack has never heard of', async () => {
    const facts = factsOf(WEB);
    const unknownId = '00000000-dead-4bad-8bad-000000000001';
    const disks = facts.disks.map((d) => ({ ...d, volume: { ...d.volume!, volumeId: unknownId } }));
    const { volumes } = await cloudChecks({ ...facts, disks });
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toBe(`Volume ${WEB_VOLUME.volumeName} (${unknownId}) of Hard disk 1 does not exist in CloudStack`);
  });

  it('takes a real CloudStack\'s 431 "entity does not exist" answer to a lookup by id as a missing volume', async () => {
    // The simulator lists nothing for an unknown id; a real CloudStack refuses the id with a 431.
    cloud.sim.faults.add({
      command: 'listVolumes',
      kind: FaultKind.ERROR,
      errorCode: 431,
      errorText: `Unable to execute API command listvolumes due to invalid value. Invalid parameter id value=${WEB_VOLUME.volumeId} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`,
    });
    const { volumes } = await cloudChecks(factsOf(WEB));
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toBe(`Volume ${WEB_VOLUME.volumeName} (${WEB_VOLUME.volumeId}) of Hard disk 1 does not exist in CloudStack`);
    expect(simCalls().listVolumes).toBe(1); // a 431 is an answer: not retried
  });

  it('fails when CloudStack says a snapshot of a volume cannot be reverted (revertable false), naming the volume and the snapshot', async () => {
    cloud.sim.configure({ snapshotsRevertable: false });
    await cloud.client.detachVolume({ id: DB_DISK_2.volumeId });
    const snapshot = await cloud.client.createSnapshot({ volumeId: DB_DISK_2.volumeId, name: 'earlier' });
    await cloud.client.attachVolume({ id: DB_DISK_2.volumeId, virtualMachineId: DEMO_APPLIANCE_VM.id, deviceId: DB_DISK_2.applianceDeviceId });
    const { volumes } = await cloudChecks(factsOf(DB));
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toBe(
      `Volume ${DB_DISK_2.volumeName} (${DB_DISK_2.volumeId}) of Hard disk 2 has snapshots CloudStack cannot revert (snapshot ${snapshot.id}: revertable false, its storage has no snapshot strategy that reverts): a cleanup or revert could not restore it`,
    );
    // Where the storage reverts, an earlier snapshot is no obstacle.
    cloud.sim.update((world) => void (world.snapshots.find((s) => s.id === snapshot.id)!.revertable = true));
    expect((await cloudChecks(factsOf(DB))).volumes.passed).toBe(true);
  });

  it('fails when a volume is not Ready, naming its state', async () => {
    cloud.sim.update((world) => {
      world.volumes.find((v) => v.id === DB_DISK_2.volumeId)!.state = 'Snapshotting';
    });
    const { volumes } = await cloudChecks(factsOf(DB));
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toBe(`Volume ${DB_DISK_2.volumeName} (${DB_DISK_2.volumeId}) of Hard disk 2 is Snapshotting, not Ready`);
  });

  it('fails when a volume is attached to another VM than the appliance, naming that VM', async () => {
    // Done through the API, as a failover that was never cleaned up would leave it.
    const other = await cloud.client.deployVirtualMachine({ ...deployParams(cloud.sim), name: 'left-behind', startVm: false });
    await cloud.client.detachVolume({ id: WEB_VOLUME.volumeId });
    await cloud.client.attachVolume({ id: WEB_VOLUME.volumeId, virtualMachineId: other.id });
    const { volumes } = await cloudChecks(factsOf(WEB));
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toBe(
      `Volume ${WEB_VOLUME.volumeName} (${WEB_VOLUME.volumeId}) of Hard disk 1 is attached to VM ${other.id} (left-behind), not the appliance`,
    );
    expect(volumes.message).not.toContain(DEMO_APPLIANCE_VM.id);
  });

  it('fails when a volume is attached to no VM at all', async () => {
    await cloud.client.detachVolume({ id: WEB_VOLUME.volumeId });
    const { volumes } = await cloudChecks(factsOf(WEB));
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toBe(`Volume ${WEB_VOLUME.volumeName} (${WEB_VOLUME.volumeId}) of Hard disk 1 is not attached to any VM, not to the appliance`);
  });

  it('fails when a volume is in another zone', async () => {
    const otherZone = '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0999';
    cloud.sim.update((world) => {
      world.zones.push({ ...world.zones[0]!, id: otherZone, name: 'zone-elsewhere' });
      world.volumes.find((v) => v.id === WEB_VOLUME.volumeId)!.zoneid = otherZone;
    });
    const { volumes } = await cloudChecks(factsOf(WEB));
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toBe(`Volume ${WEB_VOLUME.volumeName} (${WEB_VOLUME.volumeId}) of Hard disk 1 is in zone ${otherZone}, not zone ${DEMO_ZONE.id}`);
  });

  it('reports every problem of every volume in one message, in disk order', async () => {
    cloud.sim.update((world) => {
      const first = world.volumes.find((v) => v.id === DB_DISK_1.volumeId)!;
      first.state = 'RevertSnapshotting';
      first.virtualmachineid = '11111111-2222-4333-8444-555555555555';
      const second = world.volumes.find((v) => v.id === DB_DISK_2.volumeId)!;
      second.removed = '2026-11-25T08:00:00+0000';
    });
    const { volumes } = await cloudChecks(factsOf(DB));
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toBe(
      `Volume ${DB_DISK_1.volumeName} (${DB_DISK_1.volumeId}) of Hard disk 1 is RevertSnapshotting, not Ready and is attached to VM 11111111-2222-4333-8444-555555555555, not the appliance; ` +
        `volume ${DB_DISK_2.volumeName} (${DB_DISK_2.volumeId}) of Hard disk 2 does not exist in CloudStack`,
    );
  });
});

describe('cloud_destination_networks', () => {
  it('fails when a mapped destination network does not exist, naming the source network and the id', async () => {
    const madeUp = '5c1d0e7a-0000-4000-8000-00000000dead';
    const facts = factsOf(DB);
    const mappings = facts.mappings.map((m) =>
      m.isTestNetwork && m.sourceNetworkName === 'Backend Network' ? mapping(DB.vmId, 'Backend Network', madeUp, true, 'Test Backend (old)') : m,
    );
    const { networks, volumes } = await cloudChecks({ ...facts, mappings });
    expect(volumes.passed).toBe(true);
    expect(networks).toMatchObject({ passed: false, kind: CheckKind.CLOUD });
    expect(networks.message).toBe(`The test network "Test Backend (old)" (${madeUp}) that "Backend Network" maps to does not exist in CloudStack`);
    // The production mappings are fine: a live failover is not held up by a broken test mapping.
    expect((await cloudChecks({ ...facts, mappings }, FailoverType.LIVE)).networks.passed).toBe(true);
  });

  it('reports every missing network, and one in another zone', async () => {
    const otherZone = '8a3b1c52-6f1e-4a55-9d0a-2f6c7b1e0998';
    cloud.sim.update((world) => {
      world.networks = world.networks.filter((n) => n.id !== TEST_NETWORK.id);
      world.networks.find((n) => n.id === TEST_BACKEND.id)!.zoneid = otherZone;
    });
    const { networks } = await cloudChecks(factsOf(DB));
    expect(networks.passed).toBe(false);
    expect(networks.message).toBe(
      `The test network "Test Network" (${TEST_NETWORK.id}) that "VM Network" maps to does not exist in CloudStack; ` +
        `the test network "Test Backend" (${TEST_BACKEND.id}) that "Backend Network" maps to is in zone ${otherZone}, not zone ${DEMO_ZONE.id}`,
    );
  });
});

describe('both kinds of problem at once', () => {
  it('lists a volume problem and a network problem, each under its own check', async () => {
    cloud.sim.update((world) => {
      world.volumes.find((v) => v.id === WEB_VOLUME.volumeId)!.state = 'Allocated';
    });
    const madeUp = '5c1d0e7a-0000-4000-8000-00000000beef';
    const facts = factsOf(WEB);
    const mappings = facts.mappings.map((m) => (m.isTestNetwork ? mapping(WEB.vmId, 'VM Network', madeUp, true, 'Gone Network') : m));
    const readiness = await evaluateReadiness(READINESS_CHECKS, { ...facts, mappings }, FailoverType.TEST, context());
    expect(readiness.ready).toBe(false);
    expect(readiness.checks.filter((c) => !c.passed)).toEqual([
      {
        name: 'cloud_volumes_ready',
        kind: CheckKind.CLOUD,
        passed: false,
        message: `Volume ${WEB_VOLUME.volumeName} (${WEB_VOLUME.volumeId}) of Hard disk 1 is Allocated, not Ready`,
        blockingJobId: undefined,
      },
      {
        name: 'cloud_destination_networks',
        kind: CheckKind.CLOUD,
        passed: false,
        message: `The test network "Gone Network" (${madeUp}) that "VM Network" maps to does not exist in CloudStack`,
        blockingJobId: undefined,
      },
      { name: 'cloud_unwind_possible', kind: CheckKind.CLOUD, passed: false, message: 'Not checked: cloud_destination_networks failed' },
    ]);
  });
});

describe('prerequisites', () => {
  it('does not ask the cloud when disk_volumes or network_mappings failed', async () => {
    const probe = counting(cloud.client);
    const facts = factsOf(DB);
    const noVolume = { ...facts, disks: facts.disks.map((d, i) => (i === 1 ? { ...d, osseaVolumeId: null, volume: null } : d)) };
    const noTestMappings = { ...facts, mappings: facts.mappings.filter((m) => !m.isTestNetwork) };
    const readiness = await evaluateReadiness(
      READINESS_CHECKS,
      { ...noVolume, mappings: noTestMappings.mappings },
      FailoverType.TEST,
      context(probe.cloudStack),
    );
    expect(check(readiness, 'disk_volumes').passed).toBe(false);
    expect(check(readiness, 'network_mappings').passed).toBe(false);
    expect(check(readiness, 'cloud_volumes_ready')).toMatchObject({ passed: false, message: 'Not checked: disk_volumes failed' });
    expect(check(readiness, 'cloud_destination_networks')).toMatchObject({ passed: false, message: 'Not checked: network_mappings failed' });
    expect(probe.calls).toEqual([]);
    expect(simCalls()).toEqual({});
  });

  it('does not ask the cloud for an unknown VM', async () => {
    const probe = counting(cloud.client);
    const unknown: VmFacts = { ...factsOf(WEB), known: false, latestReplication: null, spec: null, disks: [], cbt: null, mappings: [] };
    const readiness = await evaluateReadiness(READINESS_CHECKS, unknown, FailoverType.LIVE, context(probe.cloudStack));
    expect(check(readiness, 'cloud_volumes_ready').message).toBe('Not checked: disk_volumes failed');
    expect(check(readiness, 'cloud_destination_networks').message).toBe('Not checked: network_mappings failed');
    expect(probe.calls).toEqual([]);
  });

  it('asks only for what passed its prerequisite', async () => {
    const facts = factsOf(WEB);
    const readiness = await evaluateReadiness(READINESS_CHECKS, { ...facts, mappings: [] }, FailoverType.TEST, context());
    expect(check(readiness, 'cloud_volumes_ready').passed).toBe(true);
    expect(check(readiness, 'cloud_destination_networks').message).toBe('Not checked: network_mappings failed');
    expect(simCalls()).toEqual({ listVolumes: 1, listSnapshots: 1 });
  });
});

describe('when the cloud cannot be asked', () => {
  it('both cloud checks fail with "Check could not run" when CloudStack is unreachable', async () => {
    const down = new CloudStackClient({
      url: `http://127.0.0.1:${await closedPort()}`,
      apiKey: cloud.sim.apiKey,
      secretKey: cloud.sim.secretKey,
      logger: captureLogger(),
      ...FAST_CLIENT,
      requestTimeoutMs: 500,
      readAttempts: 2,
    });
    const readiness = await evaluateReadiness(READINESS_CHECKS, factsOf(DB), FailoverType.TEST, context(down));
    expect(readiness.ready).toBe(false);
    // The database checks still pass: only the cloud checks are affected.
    expect(readiness.checks.filter((c) => c.kind === CheckKind.DATABASE).every((c) => c.passed)).toBe(true);
    const volumes = check(readiness, 'cloud_volumes_ready');
    const networks = check(readiness, 'cloud_destination_networks');
    for (const result of [volumes, networks]) {
      expect(result.passed).toBe(false);
      expect(result.message).toMatch(/^Check could not run: /);
      expect(result.message).not.toMatch(/does not exist/);
      expect(result.message).not.toContain(cloud.sim.secretKey);
    }
    expect(volumes.message).toContain('listVolumes');
    expect(networks.message).toContain('listNetworks');
  });

  it('a CloudStack error answer is not taken for a missing resource', async () => {
    cloud.sim.faults.add({ command: 'listNetworks', kind: FaultKind.ERROR, count: 0, errorCode: 530, errorText: 'network service unavailable' });
    const { volumes, networks } = await cloudChecks(factsOf(WEB), FailoverType.TEST, cloud.clientWith({ readAttempts: 2 }));
    expect(volumes.passed).toBe(true);
    expect(networks.passed).toBe(false);
    expect(networks.message).toMatch(/^Check could not run: .*network service unavailable/);
    expect(simCalls().listNetworks).toBe(2); // a 5xx on a read is retried, then surfaced
  });

  it('a 431 that is not "entity does not exist" is surfaced, not taken for a missing volume', async () => {
    cloud.sim.faults.add({
      command: 'listVolumes',
      kind: FaultKind.ERROR,
      errorCode: 431,
      errorText: 'Unable to execute API command listvolumes due to missing parameter zoneid',
    });
    const { volumes } = await cloudChecks(factsOf(WEB));
    expect(volumes.passed).toBe(false);
    expect(volumes.message).toMatch(/^Check could not run: .*missing parameter zoneid/);
  });
});

describe('cloud_unwind_possible', () => {
  const unwind = (readiness: Readiness) => readiness.checks.find((c) => c.name === 'cloud_unwind_possible')!;
  const production = DEMO_NETWORKS.find((n) => n.id === WEB.mappings[0]!.productionNetworkId)!;

  it('says how a cleanup destroys the VM: expunged where the key may, else left for the cloud to expunge', async () => {
    expect(unwind((await cloudChecks(factsOf(WEB))).readiness)).toMatchObject({
      passed: true,
      message: 'A cleanup destroys the VM (this key may not expunge: the cloud expunges it after its expunge.delay)',
    });
    expect(unwind((await cloudChecks(factsOf(WEB), FailoverType.LIVE)).readiness)).toMatchObject({
      passed: true,
      message: `Host name ${WEB.name} is free on the production networks (this key sees no Destroyed VM: one an earlier revert left holds the name until the cloud expunges it); a revert destroys the VM (this key may not expunge: the cloud expunges it after its expunge.delay)`,
    });
    cloud.sim.configure({ allowUserExpungeRecoverVm: true });
    expect(unwind((await cloudChecks(factsOf(WEB), FailoverType.LIVE)).readiness)).toMatchObject({
      passed: true,
      message: `Host name ${WEB.name} is free on the production networks; a revert expunges the VM`,
    });
  });

  it('refuses a live failover while a Destroyed VM not yet expunged holds the source host name on a production network (a key that may see it)', async () => {
    cloud.sim.configure({ allowUserViewDestroyedVm: true });
    const holder = await cloud.client.deployVirtualMachine({ ...deployParams(cloud.sim), networkIds: [production.id], name: WEB.name, startVm: false });
    await cloud.client.destroyVirtualMachine({ id: holder.id });
    const check = unwind((await cloudChecks(factsOf(WEB), FailoverType.LIVE)).readiness);
    expect(check).toMatchObject({ passed: false });
    expect(check.message).toBe(
      `Host name ${WEB.name} is held by VM ${holder.id}, Destroyed but not yet expunged (the cloud frees the name after its expunge.delay), on a production network the failover VM joins`,
    );
    // A test failover's VM has a name of its own.
    expect(unwind((await cloudChecks(factsOf(WEB), FailoverType.TEST)).readiness).passed).toBe(true);
  });
});
