import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { gqlData } from '../helpers/graphql.js';
import { startFailoverApi, type FailoverHarness } from '../helpers/failover.js';

/** vmReadiness on the running service asks the cloud too; the dashboard page never does. */

const READINESS = `query ($vmId: String!, $type: FailoverType!) {
  vmReadiness(vmId: $vmId, type: $type) { ready checks { name kind passed message } }
}`;

describe('cloud readiness checks in vmReadiness (MariaDB, simulator over HTTP)', () => {
  let api: FailoverHarness;
  beforeAll(async () => {
    api = await startFailoverApi('readiness_cloud');
  });
  afterAll(() => api?.close());

  type Result = { vmReadiness: { ready: boolean; checks: { name: string; kind: string; passed: boolean; message: string }[] } };

  it('adds the three CLOUD checks after the database checks, and they pass for a ready VM', async () => {
    const { vmReadiness } = await gqlData<Result>(api.url, READINESS, { vmId: DEMO_VMS[1]!.vmId, type: 'TEST' });
    expect(vmReadiness.ready).toBe(true);
    expect(vmReadiness.checks.slice(-3).map((c) => [c.name, c.kind, c.passed])).toEqual([
      ['cloud_volumes_ready', 'CLOUD', true],
      ['cloud_destination_networks', 'CLOUD', true],
      ['cloud_unwind_possible', 'CLOUD', true],
    ]);
    expect(vmReadiness.checks.at(-1)!.message).toBe('A cleanup destroys the VM (this key may not expunge: the cloud expunges it after its expunge.delay)');
    expect(vmReadiness.checks.slice(0, -3).every((c) => c.kind === 'DATABASE')).toBe(true);
  });

  it('a volume that is not Ready in CloudStack makes the VM not ready, and says which', async () => {
    const volumeId = DEMO_VMS[0]!.disks[0]!.volumeId;
    api.sim.update((world) => {
      world.volumes.find((v) => v.id === volumeId)!.state = 'Snapshotting';
    });
    try {
      const { vmReadiness } = await gqlData<Result>(api.url, READINESS, { vmId: DEMO_VMS[0]!.vmId, type: 'LIVE' });
      expect(vmReadiness.ready).toBe(false);
      const check = vmReadiness.checks.find((c) => c.name === 'cloud_volumes_ready')!;
      expect(check.passed).toBe(false);
      expect(check.message).toContain('Snapshotting');
    } finally {
      api.sim.update((world) => {
        world.volumes.find((v) => v.id === volumeId)!.state = 'Ready';
      });
    }
  });

  it('the dashboard page runs the database checks only (no cloud call per VM)', async () => {
    const listCalls = () =>
      Object.entries(api.sim.faults.calls())
        .filter(([command]) => command.toLowerCase().startsWith('list'))
        .reduce((n, [, c]) => n + c, 0);
    const before = listCalls();
    const page = await gqlData<{ virtualMachines: { edges: { node: { readiness: { checks: { kind: string }[] } } }[] } }>(
      api.url,
      '{ virtualMachines(first: 10) { edges { node { readiness(type: TEST) { checks { kind } } } } } }',
    );
    const kinds = page.virtualMachines.edges.flatMap((e) => e.node.readiness.checks.map((c) => c.kind));
    expect(kinds.length).toBeGreaterThan(0);
    expect(new Set(kinds)).toEqual(new Set(['DATABASE']));
    expect(listCalls()).toBe(before);
  });
});
