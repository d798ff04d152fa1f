import { describe, expect, it } from 'vitest';
import { FailoverType } from '../../src/entities/enums.js';
import { CheckKind, fail, pass, type ReadinessRule } from '../../src/failover/readiness/check.js';
import { DATABASE_CHECKS } from '../../src/failover/readiness/database-checks.js';
import { evaluateReadiness } from '../../src/failover/readiness/evaluate.js';
import type { VmFacts } from '../../src/inventory/vm-facts.js';

/** Facts of a VM that passes every database check (the real loader is tested on both databases). */
const readyFacts: VmFacts = {
  vmId: 'vm-1',
  known: true,
  name: 'web-01',
  latestReplication: { id: 'job-1', status: 'completed', createdAt: new Date() },
  activeReplicationJobId: null,
  spec: {
    cpuCount: 2,
    memoryMb: 2048,
    osType: '',
    displayName: '',
    powerState: '',
    vmToolsVersion: '',
    vmwareUuid: '',
    networks: [{ name: 'VM Network', adapterType: null }],
  },
  disks: [
    {
      id: 1,
      diskId: 'd0',
      unitNumber: 0,
      sizeGb: 10,
      label: null,
      osseaVolumeId: 1,
      volume: { rowId: 1, volumeId: 'vol-1', volumeName: 'v', status: 'attached', sizeGb: 10, volumeType: 'DATADISK' },
    },
  ],
  cbt: { changeId: 'c', createdAt: null },
  mappings: [{ vmId: 'vm-1', sourceNetworkName: 'VM Network', isTestNetwork: true } as never],
  activeJob: null,
  holdingJobs: [],
  latestJob: null,
};

/** A stand-in for the cloud view the engine's cloud checks will be given. */
interface FakeCloud {
  volumeStates: Record<string, string>;
}

const volumesReady: ReadinessRule<FakeCloud> = {
  name: 'cloud_volumes_ready',
  kind: CheckKind.CLOUD,
  requires: ['disk_volumes'],
  evaluate: ({ facts, cloud }) => {
    const notReady = facts.disks.filter((d) => cloud.volumeStates[d.volume!.volumeId] !== 'Ready');
    return notReady.length === 0 ? pass('All volumes are Ready in CloudStack') : fail(`Volume ${notReady[0]!.volume!.volumeId} is not Ready`);
  },
};

describe('evaluateReadiness: the plug-in point for cloud checks', () => {
  const checks = [...(DATABASE_CHECKS as ReadinessRule<FakeCloud>[]), volumesReady];

  it('runs a cloud check after the database checks, with the cloud it is given', async () => {
    const ready = await evaluateReadiness(checks, readyFacts, FailoverType.TEST, { volumeStates: { 'vol-1': 'Ready' } });
    expect(ready.ready).toBe(true);
    expect(ready.checks.at(-1)).toEqual({ name: 'cloud_volumes_ready', kind: CheckKind.CLOUD, passed: true, message: 'All volumes are Ready in CloudStack' });
    const notReady = await evaluateReadiness(checks, readyFacts, FailoverType.TEST, { volumeStates: { 'vol-1': 'Snapshotting' } });
    expect(notReady.ready).toBe(false);
    expect(notReady.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['cloud_volumes_ready']);
  });

  it('does not run a check whose prerequisite failed, and reports a throwing check as failed', async () => {
    const noDisks = await evaluateReadiness(checks, { ...readyFacts, disks: [] }, FailoverType.TEST, { volumeStates: {} });
    expect(noDisks.checks.find((c) => c.name === 'cloud_volumes_ready')?.message).toBe('Not checked: disk_volumes failed');
    const thrown = new Error('CloudStack did not answer');
    const broken: ReadinessRule<FakeCloud> = { name: 'cloud_probe', kind: CheckKind.CLOUD, evaluate: () => Promise.reject(thrown) };
    const result = await evaluateReadiness([...checks, broken], readyFacts, FailoverType.TEST, { volumeStates: { 'vol-1': 'Ready' } });
    expect(result.ready).toBe(false);
    const probe = result.checks.at(-1);
    expect(probe).toEqual({
      name: 'cloud_probe',
      kind: CheckKind.CLOUD,
      passed: false,
      message: 'Check could not run: CloudStack did not answer',
      error: thrown,
    });
    expect(probe?.error).toBe(thrown); // the thrown error itself, not a copy
  });
});
