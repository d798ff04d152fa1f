import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudStackClient } from '../../src/cloudstack/cloudstack.client.js';
import { inProcessCloud, type InProcessCloud } from '../../src/cloudstack/simulator/in-process.js';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { ExecutionPhase, FailoverExecution, FailoverLedgerEntry, FailoverType, FlowName, LedgerState } from '../../src/entities/index.js';
import { Action, ACTIONS, call, entriesToUndo, ledgerKey, undoEntry, type ActionParams } from '../../src/failover/engine/actions.js';
import { Ledger } from '../../src/failover/engine/ledger.js';
import type { JobPlan } from '../../src/failover/engine/plan.js';
import type { Reads } from '../../src/failover/engine/step.js';
import { openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';
import { FAST_CLIENT } from '../helpers/cloudstack.js';
import { cloudView } from '../helpers/failover.js';

/**
 * The engine's unit seam: every action of the registry, in-process against the simulator's API
 * layer (no HTTP) with the ledger on SQLite (no MariaDB). Properties, over every prefix of a
 * failover's actions and every unwind action:
 * - do, then undo newest first, leaves the cloud exactly as it was;
 * - a call that crashed after its intent (before or after the cloud did it) and is made again
 *   ends where one call ends, with its entry done — nothing made twice;
 * - forward-only actions (cleanup/revert) taken after a failover bring the cloud back to where it
 *   was, and re-running each is harmless.
 */

const VM = DEMO_VMS.find((vm) => vm.name === 'db-01')!;
const OWNER = 'unit-test';

function planFor(jobId: string): JobPlan {
  return {
    jobId,
    vmId: VM.vmId,
    type: FailoverType.TEST,
    sourceName: VM.name,
    cpus: VM.cpuCount,
    memoryMb: VM.memoryMb,
    osType: VM.osType,
    volumes: VM.disks.map((d) => ({ diskId: d.diskId, unitNumber: d.unitNumber, sizeGb: d.sizeGb, volumeId: d.volumeId, volumeName: d.volumeName })),
    networks: VM.mappings.map((m) => ({ sourceNetworkName: m.sourceNetworkName, destinationNetworkId: m.testNetworkId!, adapterType: null })),
    vmName: `${VM.name}-test`,
    displayName: `${VM.name} (Test)`,
  };
}

/** One action as a flow takes it; params may depend on what earlier actions returned. */
type Move = { [A in Action]: { readonly action: A; readonly params: (got: Got) => ActionParams[A]; readonly flow: FlowName } }[Action];
interface Got {
  vmId?: string;
}

const volumes = VM.disks.map((d) => d.volumeId);
const failoverMoves = (applianceVmIds: readonly string[]): Move[] => [
  ...volumes.flatMap((volumeId): Move[] => [
    { action: Action.DETACH_VOLUME, params: () => ({ phase: 'failover', volumeId, fromVmIds: applianceVmIds }), flow: FlowName.TEST_FAILOVER },
    { action: Action.CREATE_SNAPSHOT, params: () => ({ volumeId }), flow: FlowName.TEST_FAILOVER },
  ]),
  { action: Action.DEPLOY_VM, params: () => ({}), flow: FlowName.TEST_FAILOVER },
  { action: Action.DETACH_TEMPLATE_ROOT, params: (got) => ({ vmId: got.vmId! }), flow: FlowName.TEST_FAILOVER },
  ...volumes.map((volumeId, i): Move => ({
    action: Action.ATTACH_VOLUME,
    params: (got) => ({ phase: 'failover', volumeId, toVmId: got.vmId!, ...(i === 0 ? { deviceId: 0 } : {}) }),
    flow: FlowName.TEST_FAILOVER,
  })),
  { action: Action.START_VM, params: (got) => ({ vmId: got.vmId! }), flow: FlowName.TEST_FAILOVER },
];
const unwindMoves = (snapshots: Record<string, string>): Move[] => [
  { action: Action.STOP_VM, params: (got) => ({ vmId: got.vmId! }), flow: FlowName.CLEANUP },
  ...[...volumes].reverse().map((volumeId): Move => ({
    action: Action.DETACH_VOLUME,
    params: (got) => ({ phase: 'unwind', volumeId, fromVmIds: [got.vmId!] }),
    flow: FlowName.CLEANUP,
  })),
  ...volumes.map((volumeId): Move => ({
    action: Action.REVERT_SNAPSHOT,
    params: () => ({ volumeId, snapshotId: snapshots[volumeId]! }),
    flow: FlowName.CLEANUP,
  })),
  ...VM.disks.map((d): Move => ({
    action: Action.ATTACH_VOLUME,
    params: () => ({ phase: 'unwind', volumeId: d.volumeId, toVmId: d.applianceVmId, deviceId: d.applianceDeviceId }),
    flow: FlowName.CLEANUP,
  })),
  { action: Action.DESTROY_VM, params: (got) => ({ vmId: got.vmId! }), flow: FlowName.CLEANUP },
  ...volumes.map((volumeId): Move => ({ action: Action.DELETE_SNAPSHOT, params: () => ({ snapshotId: snapshots[volumeId]! }), flow: FlowName.CLEANUP })),
];

let db: MigratedDatabase;
let jobs = 0;

beforeAll(async () => {
  db = await openMigratedDatabase('unit_actions', { kind: 'sqlite' });
});
afterAll(async () => {
  await db?.close();
});

/** A fresh cloud and a fresh job (its execution row holds the lease the ledger's writes are fenced by). */
interface Fixture {
  readonly cloud: InProcessCloud;
  readonly io: Reads & { readonly writer: CloudStackClient };
  readonly ledger: Ledger;
  /** The next cloud write dies before it is sent, as the process would. */
  crashNextWrite(): void;
  close(): void;
}

class Crash extends Error {}

async function fixture(): Promise<Fixture> {
  const cloud = inProcessCloud();
  const client = new CloudStackClient({
    url: 'http://in-process/client/api',
    apiKey: cloud.apiKey,
    secretKey: cloud.secretKey,
    transport: cloud.transport,
    ...FAST_CLIENT,
  });
  const jobId = `unit-job-${++jobs}`;
  const now = new Date();
  await db.orm.em.fork().insert(FailoverExecution, {
    jobId,
    vmId: VM.vmId,
    flow: FlowName.TEST_FAILOVER,
    phase: ExecutionPhase.RUN,
    step: 0,
    progressPercent: 0,
    leaseOwner: OWNER,
    createdAt: now,
    updatedAt: now,
  });
  const ledger = new Ledger(db.orm.em, jobId, OWNER);
  const signal = new AbortController().signal;
  let crash = false;
  const writer = new Proxy(client, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (crash && typeof name === 'string' && !name.startsWith('list') && name !== 'queryAsyncJobResult') {
          crash = false;
          throw new Crash(`crashed before ${name}`);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const io = { plan: planFor(jobId), ids: cloud.ids, cloud: client, writer, ledger, signal, op: () => ({ signal, deadlineMs: 10_000 }) };
  return {
    cloud,
    io,
    ledger,
    crashNextWrite: () => {
      crash = true;
    },
    close: () => cloud.close(),
  };
}

async function take(f: Fixture, move: Move, got: Got): Promise<void> {
  const params = move.params(got);
  const result = await call(f.io, { ledger: f.ledger, flow: move.flow, step: 'unit' }, move.action, params as never);
  if (move.action === Action.DEPLOY_VM) got.vmId = result as string;
}

async function undoAll(f: Fixture): Promise<void> {
  for (const entry of entriesToUndo(f.ledger.entries)) {
    await f.ledger.undoing(entry);
    await undoEntry(f.io, entry);
    await f.ledger.undone(entry);
  }
}

describe('the action registry', () => {
  it('declares every action once, each with an undo or the reason it has none', () => {
    for (const action of Object.values(Action)) {
      const def = ACTIONS[action];
      expect('undo' in def || ('forwardOnly' in def && def.forwardOnly.length > 0), action).toBe(true);
    }
    // Cleanup and revert only move forward; everything a failover does is undone by compensation.
    const forwardOnly = Object.values(Action).filter((a) => 'forwardOnly' in ACTIONS[a]);
    expect(forwardOnly.sort()).toEqual([Action.DELETE_SNAPSHOT, Action.DESTROY_VM, Action.REVERT_SNAPSHOT, Action.STOP_VM].sort());
  });
});

describe('every prefix of a failover, undone newest first, leaves the cloud as it was', () => {
  const moves = failoverMoves(['appliance']);
  for (let k = 1; k <= moves.length; k++) {
    it(`${k} action(s): … ${moves[k - 1]!.action}`, async () => {
      const f = await fixture();
      try {
        const before = cloudView(f.cloud.getState());
        const got: Got = {};
        for (const move of failoverMoves(f.cloud.ids.applianceVmIds).slice(0, k)) await take(f, move, got);
        expect(cloudView(f.cloud.getState())).not.toEqual(before);
        await undoAll(f);
        await f.cloud.idle();
        expect(cloudView(f.cloud.getState())).toEqual(before);
        expect(f.ledger.entries.every((e) => e.state === LedgerState.UNDONE)).toBe(true);
      } finally {
        f.close();
      }
    });
  }
});

describe('a call that crashed after its intent, made again, ends where one call ends', () => {
  const moves = failoverMoves(['appliance']);
  for (const [k, crashAfterCall] of moves.flatMap(
    (_, i) =>
      [
        [i, false],
        [i, true],
      ] as const,
  )) {
    it(`${moves[k]!.action} #${k + 1}, crashed ${crashAfterCall ? 'after the cloud did it' : 'before the call'}`, async () => {
      // The reference: every action once.
      const ref = await fixture();
      const crashed = await fixture();
      try {
        const refGot: Got = {};
        for (const move of failoverMoves(ref.cloud.ids.applianceVmIds)) await take(ref, move, refGot);
        const got: Got = {};
        const all = failoverMoves(crashed.cloud.ids.applianceVmIds);
        for (const move of all.slice(0, k)) await take(crashed, move, got);
        const move = all[k]!;
        const key = ledgerKey(move.action, move.params(got) as never);
        if (crashAfterCall) {
          await take(crashed, move, got);
          // The run died before writing done: the entry is back to intent, as the database kept it.
          await db.orm.em.fork().nativeUpdate(FailoverLedgerEntry, { jobId: crashed.ledger.jobId, actionKey: key }, { state: LedgerState.INTENT });
        } else {
          crashed.crashNextWrite();
          await expect(take(crashed, move, got)).rejects.toBeInstanceOf(Crash);
          expect(crashed.ledger.get(key)?.state).toBe(LedgerState.INTENT);
        }
        await crashed.ledger.load();
        for (const again of all.slice(k)) await take(crashed, again, got);
        await ref.cloud.idle();
        await crashed.cloud.idle();
        // The same cloud, but for the ids the cloud gave (the VM's, the snapshots').
        const normalised = (f: typeof ref, vmId: string | undefined) => {
          const view = cloudView(f.cloud.getState()) as {
            vms: { id: string; name: string; state: string; nics: string[] }[];
            volumes: { id: string; type: string; vm: string | null; deviceid: number | null }[];
            snapshots: { volumeid: string; state: string }[];
          };
          const vm = (id: string | null) => (id === vmId ? 'job-vm' : id);
          return {
            vms: view.vms.map((v) => ({ ...v, id: vm(v.id) })).sort((a, b) => a.name.localeCompare(b.name)),
            volumes: view.volumes.map((v) => ({ ...v, vm: vm(v.vm) })),
            snapshots: view.snapshots.map((s) => `${s.volumeid}:${s.state}`).sort(),
          };
        };
        expect(normalised(crashed, got.vmId)).toEqual(normalised(ref, refGot.vmId));
        expect(crashed.ledger.entries.map((e) => [e.actionKey, e.state])).toEqual(ref.ledger.entries.map((e) => [e.actionKey, e.state]));
        // Nothing made twice: one VM, one snapshot per volume, each volume on the job's VM.
        const state = crashed.cloud.getState();
        expect(state.vms.filter((v) => !v.removed && v.name === `${VM.name}-test`)).toHaveLength(1);
        expect(state.snapshots.filter((s) => !s.removed && s.state !== 'Destroyed')).toHaveLength(volumes.length);
        for (const volumeId of volumes) expect(state.volumes.find((v) => v.id === volumeId)?.virtualmachineid).toBe(got.vmId);
      } finally {
        ref.close();
        crashed.close();
      }
    });
  }
});

describe('cleanup after a failover, forward only', () => {
  it('brings the cloud back to where it was, and each action re-run is harmless', async () => {
    const f = await fixture();
    try {
      const before = cloudView(f.cloud.getState());
      const got: Got = {};
      for (const move of failoverMoves(f.cloud.ids.applianceVmIds)) await take(f, move, got);
      const snapshots = Object.fromEntries(volumes.map((v) => [v, f.ledger.get(ledgerKey(Action.CREATE_SNAPSHOT, { volumeId: v }))!.resourceId!]));
      const unwind = unwindMoves(snapshots);
      for (const move of unwind) {
        await take(f, move, got);
        // Re-run with the entry only intended (a crash before done): the action sees it happened.
        const key = ledgerKey(move.action, move.params(got) as never);
        if (f.ledger.get(key)) {
          await db.orm.em.fork().nativeUpdate(FailoverLedgerEntry, { jobId: f.ledger.jobId, actionKey: key }, { state: LedgerState.INTENT });
          await f.ledger.load();
          await take(f, move, got);
          expect(f.ledger.get(key)?.state).toBe(LedgerState.DONE);
        }
      }
      await f.cloud.idle();
      expect(cloudView(f.cloud.getState())).toEqual(before);
    } finally {
      f.close();
    }
  });
});

describe('a volume goes back to its appliance VM even when its device id was taken meanwhile', () => {
  it('compensation puts it back at the next free id (a put-back insisting on a taken id would fail for good)', async () => {
    const f = await fixture();
    try {
      const disk = VM.disks[0]!;
      const got: Got = {};
      // Off the appliance, snapshotted.
      for (const move of failoverMoves(f.cloud.ids.applianceVmIds).slice(0, 2)) await take(f, move, got);
      // Someone attaches another volume at that device id meanwhile.
      f.cloud.update((world) => {
        world.volumes.push({
          id: 'stranger-volume',
          name: 'stranger',
          type: 'DATADISK',
          state: 'Ready',
          zoneid: f.cloud.ids.zoneId,
          size: 1,
          created: '2026-12-01T00:00:00+0000',
          virtualmachineid: disk.applianceVmId,
          deviceid: disk.applianceDeviceId,
        });
      });
      await undoAll(f);
      await f.cloud.idle();
      const volume = f.cloud.getState().volumes.find((v) => v.id === disk.volumeId)!;
      expect(volume.virtualmachineid).toBe(disk.applianceVmId);
      expect(volume.deviceid).not.toBe(disk.applianceDeviceId);
      expect(volume.deviceid).not.toBe(3);
      expect(f.ledger.entries.every((e) => e.state === LedgerState.UNDONE)).toBe(true);
    } finally {
      f.close();
    }
  });
});
