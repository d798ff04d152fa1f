import { describe, expect, it } from 'vitest';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { DEMO_APPLIANCE_VM, DEMO_VMS } from '../../src/demo/demo-world.js';
import { settings422 } from '../../src/cloudstack/simulator/index.js';
import { callRaw, rejectionOf, useCloud, waitFor } from '../helpers/cloudstack.js';

// The 4.22 defaults (kvm.snapshot.enabled true): the appliance's attached volumes can be snapshotted here; the pre-4.22 rules are in cloudstack-rules.test.ts.
const cloud = useCloud({ sim: { settings: settings422() } });

const DISK = DEMO_VMS[0]!.disks[0]!;

describe('createSnapshot', () => {
  it('snapshots a Ready volume: Allocated → Creating (volume Snapshotting) → CreatedOnPrimary → BackingUp → BackedUp', async () => {
    cloud.sim.setJobLatency(200);
    const seen = new Set<string>();
    const watching = waitFor(
      () => {
        const state = cloud.sim.getState();
        const snapshot = state.snapshots[0];
        if (snapshot) seen.add(`snapshot:${snapshot.state}`);
        seen.add(`volume:${state.volumes.find((v) => v.id === DISK.volumeId)!.state}`);
        return snapshot?.state === 'BackedUp';
      },
      { intervalMs: 2 },
    );
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK.volumeId, name: 'failover-web-01-disk-2000' });
    await watching;
    expect(snapshot).toMatchObject({
      name: 'failover-web-01-disk-2000',
      volumeId: DISK.volumeId,
      state: 'BackedUp',
      volumeType: 'DATADISK',
      revertable: true,
      intervalType: 'MANUAL',
    });
    expect([...seen]).toEqual(
      expect.arrayContaining([
        'snapshot:Creating',
        'volume:Snapshotting',
        'snapshot:CreatedOnPrimary',
        'snapshot:BackingUp',
        'snapshot:BackedUp',
        'volume:Ready',
      ]),
    );
    expect(cloud.sim.getState().volumes.find((v) => v.id === DISK.volumeId)!.state).toBe('Ready');
  });

  it('names an unnamed snapshot <vm>_<volume>_<timestamp>', async () => {
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK.volumeId });
    expect(snapshot.name).toMatch(new RegExp(`^${DEMO_APPLIANCE_VM.name}_${DISK.volumeName}_\\d{14}$`));
  });

  it('refuses a volume that is not Ready, synchronously', async () => {
    cloud.sim.update((w) => void (w.volumes.find((v) => v.id === DISK.volumeId)!.state = 'Allocated'));
    const error = await rejectionOf(cloud.client.createSnapshot({ volumeId: DISK.volumeId }));
    expect(error).toMatchObject({
      kind: CloudStackErrorKind.API,
      errorCode: 431,
      errorText: `VolumeId: ${DISK.volumeId} is not in Ready state but Allocated. Cannot take snapshot.`,
    });
    expect(cloud.sim.getState().snapshots).toEqual([]);
  });
});

describe('createSnapshot: the Ready rule in the job too', () => {
  it('fails the job when the volume is no longer Ready once it runs (the sync check passed), as CreateSnapshotCmd reports it (530); the snapshot ends in Error', async () => {
    cloud.sim.setJobLatency(1_000); // its checks run after the first quarter: time to change the volume
    const pending = cloud.client.createSnapshot({ volumeId: DISK.volumeId, name: 'late' });
    await waitFor(() => cloud.sim.getState().snapshots[0]?.state === 'Allocated'); // it exists from the answer on; its job has not begun
    cloud.sim.update((w) => void (w.volumes.find((v) => v.id === DISK.volumeId)!.state = 'Allocated'));
    const error = await rejectionOf(pending);
    expect(error).toMatchObject({
      kind: CloudStackErrorKind.JOB_FAILED,
      errorCode: 530,
      errorText: `Failed to create snapshot due to an internal error creating snapshot for volume ${DISK.volumeId}`,
    });
    expect(cloud.sim.getState().snapshots[0]!.state).toBe('Error');
  });
});

describe('revertSnapshot', () => {
  it('reverts a detached volume', async () => {
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK.volumeId, name: 's1' });
    await cloud.client.detachVolume({ id: DISK.volumeId });
    const reverted = await cloud.client.revertSnapshot({ id: snapshot.id });
    expect(reverted?.id).toBe(snapshot.id);
    expect(cloud.sim.getState().volumes.find((v) => v.id === DISK.volumeId)).toMatchObject({ state: 'Ready', revertedto: snapshot.id });
  });

  it('refuses a volume attached to a VM that is not Stopped, then reverts once it is', async () => {
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK.volumeId, name: 's1' });
    const error = await rejectionOf(cloud.client.revertSnapshot({ id: snapshot.id }));
    expect(error).toMatchObject({
      kind: CloudStackErrorKind.JOB_FAILED,
      errorCode: 431,
      errorText: 'The VM the specified disk is attached to is not in the shutdown state.',
    });
    await cloud.client.stopVirtualMachine({ id: DEMO_APPLIANCE_VM.id });
    await cloud.client.revertSnapshot({ id: snapshot.id });
    expect(cloud.sim.getState().volumes.find((v) => v.id === DISK.volumeId)!.revertedto).toBe(snapshot.id);
  });

  it('refuses a snapshot that is not BackedUp', async () => {
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK.volumeId, name: 's1' });
    await cloud.client.detachVolume({ id: DISK.volumeId });
    cloud.sim.update((w) => void (w.snapshots[0]!.state = 'Error'));
    const error = await rejectionOf(cloud.client.revertSnapshot({ id: snapshot.id }));
    expect(error).toMatchObject({
      kind: CloudStackErrorKind.JOB_FAILED,
      errorCode: 431,
      errorText: `Snapshot ${snapshot.id} is in Error state, only a BackedUp snapshot can be reverted`,
    });
  });

  it('refuses a volume that is not Ready', async () => {
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK.volumeId, name: 's1' });
    await cloud.client.detachVolume({ id: DISK.volumeId });
    cloud.sim.update((w) => void (w.volumes.find((v) => v.id === DISK.volumeId)!.state = 'Allocated'));
    const error = await rejectionOf(cloud.client.revertSnapshot({ id: snapshot.id }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode: 431, errorText: 'The volume is not in Ready state.' });
  });
});

describe('revertSnapshot and deleteSnapshot parameters (sync 431, no job)', () => {
  it.each([
    ['revertSnapshot', [], 'Unable to execute API command revertsnapshot due to missing parameter id'],
    ['revertSnapshot', [['id', 'no-such-snapshot']], 'Invalid parameter id value=no-such-snapshot'],
    ['deleteSnapshot', [], 'Unable to execute API command deletesnapshot due to missing parameter id'],
    ['createSnapshot', [['volumeid', 'no-such-volume']], 'Invalid parameter volumeid value=no-such-volume'],
  ] as [string, [string, string][], string][])('%s %j', async (command, extra, text) => {
    const answer = await callRaw(cloud.sim, command, extra);
    expect(answer.status).toBe(431);
    expect(answer.json[`${command.toLowerCase()}response`]!.errortext).toContain(text);
    expect(cloud.sim.getState({ jobs: true }).jobs).toEqual([]);
  });
});

describe('deleteSnapshot and listSnapshots', () => {
  it('deletes a snapshot: it disappears from lists and its id stops resolving', async () => {
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK.volumeId, name: 's1' });
    await cloud.client.deleteSnapshot({ id: snapshot.id });
    expect(await cloud.client.listSnapshots({ volumeId: DISK.volumeId })).toEqual([]);
    expect(cloud.sim.getState().snapshots[0]).toMatchObject({ id: snapshot.id, state: 'Destroyed' });
    expect((await rejectionOf(cloud.client.deleteSnapshot({ id: snapshot.id }))).errorCode).toBe(431);
  });

  it.each(['BackingUp', 'Creating', 'CreatedOnPrimary', 'Allocated'] as const)(
    'refuses to delete a snapshot that is %s (DefaultSnapshotStrategy: only BackedUp or Error), and deletes one in Error',
    async (state) => {
      const busy = (id: string, snapshotState: string) =>
        cloud.sim.update((w) =>
          w.snapshots.push({
            id,
            name: 'busy',
            volumeid: DISK.volumeId,
            volumetype: 'DATADISK',
            state: snapshotState,
            zoneid: cloud.sim.ids.zoneId,
            intervaltype: 'MANUAL',
            snapshottype: 'MANUAL',
            created: '2026-01-01T00:00:00+0000',
          }),
        );
      busy('snap-busy', state);
      const error = await rejectionOf(cloud.client.deleteSnapshot({ id: 'snap-busy' }));
      expect(error).toMatchObject({
        kind: CloudStackErrorKind.JOB_FAILED,
        errorCode: 431,
        errorText: `Can't delete snapshot snap-busy due to it is in ${state} Status`,
      });
      busy('snap-failed', 'Error');
      await cloud.client.deleteSnapshot({ id: 'snap-failed' });
      expect(cloud.sim.getState().snapshots.find((s) => s.id === 'snap-failed')).toMatchObject({ state: 'Destroyed' });
    },
  );

  it('filters by volume, name and id', async () => {
    const a = await cloud.client.createSnapshot({ volumeId: DISK.volumeId, name: 'a' });
    const b = await cloud.client.createSnapshot({ volumeId: DEMO_VMS[1]!.disks[0]!.volumeId, name: 'b' });
    expect((await cloud.client.listSnapshots({ volumeId: DISK.volumeId })).map((s) => s.id)).toEqual([a.id]);
    expect((await cloud.client.listSnapshots({ name: 'b' })).map((s) => s.id)).toEqual([b.id]);
    expect((await cloud.client.listSnapshots({ id: a.id, intervalType: 'MANUAL' })).map((s) => s.name)).toEqual(['a']);
    expect(await cloud.client.listSnapshots()).toHaveLength(2);
  });
});

it('snapshots every disk of a VM side by side', async () => {
  const disks = DEMO_VMS[1]!.disks;
  const snapshots = await Promise.all(disks.map((d) => cloud.client.createSnapshot({ volumeId: d.volumeId, name: `pre-${d.diskId}` })));
  expect(snapshots.map((s) => [s.volumeId, s.state])).toEqual(disks.map((d) => [d.volumeId, 'BackedUp']));
});
