import type { CloudStack } from '../../cloudstack/cloudstack.port.js';
import { SnapshotState, VmState } from '../../cloudstack/cloudstack.types.js';
import { FlowName, LedgerState } from '../../entities/index.js';
import {
  findVmByName,
  readSnapshot,
  readVm,
  readVolume,
  settle,
  settleSnapshot,
  settleVm,
  snapshotName,
  snapshotsByName,
  templateRoot,
  vmsNamed,
} from './cloud-reads.js';
import { StepFailure } from './errors.js';
import type { Entry, Intent, Ledger, ResourceType } from './ledger.js';
import type { Reads } from './step.js';

/**
 * Every action the engine takes in the cloud, declared once: its ledger key, what its intent
 * records (the data its undo needs), how it finds out that it already happened, the call, and its
 * undo — or why it has none. {@link call} is the one door through which a step writes to the cloud:
 * ledger lookup → intent → the call → "did it already happen" → done. {@link undoEntry} is the one
 * place compensation writes. The registry is typed by {@link Action}: an action without an entry
 * does not compile.
 */

/** The ledger's actions (the strings are what `failover_ledger.action` holds). */
export enum Action {
  CREATE_SNAPSHOT = 'create_snapshot',
  DEPLOY_VM = 'deploy_vm',
  DETACH_TEMPLATE_ROOT = 'detach_template_root',
  DETACH_VOLUME = 'detach_volume',
  ATTACH_VOLUME = 'attach_volume',
  START_VM = 'start_vm',
  STOP_VM = 'stop_vm',
  REVERT_SNAPSHOT = 'revert_snapshot',
  DESTROY_VM = 'destroy_vm',
  DELETE_SNAPSHOT = 'delete_snapshot',
}

/** Where an action runs: in a failover (compensated on failure) or in its cleanup/revert (forward only). */
export type Phase = 'failover' | 'unwind';

/** What each action is given. */
export interface ActionParams {
  [Action.CREATE_SNAPSHOT]: { readonly volumeId: string };
  [Action.DEPLOY_VM]: Record<string, never>;
  [Action.DETACH_TEMPLATE_ROOT]: { readonly vmId: string };
  /** From whichever of `fromVmIds` holds it (the appliance VMs; or the failover VM, unwinding). */
  [Action.DETACH_VOLUME]: { readonly phase: Phase; readonly volumeId: string; readonly fromVmIds: readonly string[] };
  [Action.ATTACH_VOLUME]: { readonly phase: Phase; readonly volumeId: string; readonly toVmId: string; readonly deviceId?: number };
  [Action.START_VM]: { readonly vmId: string };
  [Action.STOP_VM]: { readonly vmId: string };
  [Action.REVERT_SNAPSHOT]: { readonly volumeId: string; readonly snapshotId: string };
  [Action.DESTROY_VM]: { readonly vmId: string };
  [Action.DELETE_SNAPSHOT]: { readonly snapshotId: string };
}

/** What each action resolves with. */
export interface ActionResult {
  /** The snapshot's id. */
  [Action.CREATE_SNAPSHOT]: string;
  /** The VM's id. */
  [Action.DEPLOY_VM]: string;
  [Action.DETACH_TEMPLATE_ROOT]: void;
  [Action.DETACH_VOLUME]: void;
  [Action.ATTACH_VOLUME]: void;
  [Action.START_VM]: void;
  [Action.STOP_VM]: void;
  [Action.REVERT_SNAPSHOT]: void;
  [Action.DESTROY_VM]: void;
  [Action.DELETE_SNAPSHOT]: void;
}

/** The data each action's intent records (`failover_ledger.detail`), what its undo reads back. */
export interface ActionData {
  [Action.CREATE_SNAPSHOT]: { readonly volumeId: string };
  /** The VMs that carried the host name before the deploy: never ours to destroy. */
  [Action.DEPLOY_VM]: { readonly preexisting: readonly string[] };
  [Action.DETACH_TEMPLATE_ROOT]: Record<string, never>;
  /** Where the volume was: put back there. */
  [Action.DETACH_VOLUME]: { readonly vmId: string; readonly deviceId: number | null; readonly type?: string };
  [Action.ATTACH_VOLUME]: { readonly vmId: string; readonly deviceId: number | null };
  [Action.START_VM]: Record<string, never>;
  [Action.STOP_VM]: { readonly state?: string };
  [Action.REVERT_SNAPSHOT]: { readonly volumeId: string };
  [Action.DESTROY_VM]: Record<string, never>;
  [Action.DELETE_SNAPSHOT]: Record<string, never>;
}

/** A ledger entry of action `A`, its data typed (as the intent recorded it; older rows may lack fields). */
export type EntryOf<A extends Action> = Entry & { readonly data: Partial<ActionData[A]> };

/** What an action works with: reads, and the write half of the cloud. Only this module holds the writer. */
interface Io extends Reads {
  readonly writer: CloudStack;
}

/** The intent to record before the call. */
interface IntentOf<A extends Action> {
  readonly resourceId?: string | null;
  readonly resourceName?: string | null;
  readonly data: ActionData[A];
}

/** What an action's look at the cloud decided before any call. */
type Check<A extends Action> =
  /** Nothing to do and nothing to record (an intent already recorded is settled done). */
  | { readonly kind: 'skip'; readonly result: ActionResult[A] }
  /** In effect already: record it (intent, if none yet, then done) without calling. */
  | { readonly kind: 'already'; readonly intent: IntentOf<A>; readonly outcome: Outcome<A> }
  /** Make the call (an intent already recorded is reused). */
  | { readonly kind: 'call'; readonly intent: IntentOf<A> };

/** What done records. */
interface Outcome<A extends Action> {
  readonly resourceId?: string | null;
  readonly detail?: Partial<ActionData[A]>;
  readonly result: ActionResult[A];
}

/** How an action is undone, or why it is not. */
type Undo<A extends Action> =
  /** Reads the cloud first and does only what is still needed: undoing twice is harmless. */
  { readonly undo: (io: Io, entry: EntryOf<A>) => Promise<void> } | { readonly forwardOnly: string };

/** One action, do and undo side by side. */
type ActionDef<A extends Action> = {
  readonly resourceType: ResourceType;
  /** The ledger key: one entry per action and resource in a job. */
  key(params: ActionParams[A]): string;
  /**
   * Looks before acting. `recorded` is the entry an earlier run wrote (intent only: it may have
   * happened); what that run may have left half-made is adopted or removed here.
   */
  check(io: Io, params: ActionParams[A], recorded: EntryOf<A> | undefined): Promise<Check<A>>;
  /** The call. */
  run(io: Io, params: ActionParams[A], entry: EntryOf<A>): Promise<Outcome<A>>;
  /** After a failed call: whether it happened anyway (a move an earlier run started that completed meanwhile). */
  landed?(io: Io, params: ActionParams[A], entry: EntryOf<A>): Promise<Outcome<A> | undefined>;
  /** The result of an entry recorded done. */
  recorded(entry: EntryOf<A>): ActionResult[A];
  /**
   * Look at the cloud even when the entry is done: a state the action puts the resource in that
   * may since have changed (a VM started, then stopped by someone) is put right again.
   */
  readonly recheckWhenDone?: true;
} & Undo<A>;

const none = (): void => undefined;
const FORWARD_ONLY_UNWIND = 'a cleanup or revert only moves forward: re-running its step resumes it';

/** Detaches a volume from a VM, stopping the VM first when it runs (a ROOT volume needs it Stopped) — never an appliance VM. */
async function detachFrom(io: Io, volumeId: string, vmId: string): Promise<void> {
  const vm = await readVm(io, vmId);
  if (vm && vm.state !== VmState.STOPPED && !io.ids.applianceVmIds.includes(vmId)) await io.writer.stopVirtualMachine({ id: vmId, forced: true }, io.op());
  await io.writer.detachVolume({ id: volumeId }, io.op());
}

/**
 * Destroying a VM deletes its ROOT volume: never destroy one that still holds a replicated volume.
 * Each volume is looked up by id — a list by VM can come back empty (a project's volumes are left
 * out of lists without `projectid`, pages are capped) and must never decide "safe to destroy".
 */
async function assertHoldsNoReplicatedVolume(io: Reads, vmId: string): Promise<void> {
  const volumes = await Promise.all(io.plan.volumes.map((p) => readVolume(io, p.volumeId)));
  const ours = volumes.filter((v) => v?.virtualMachineId === vmId);
  if (ours.length > 0) throw new StepFailure(`VM ${vmId} still holds replicated volume(s) ${ours.map((v) => v!.name).join(', ')}: refusing to destroy it`);
}

/**
 * Destroys a VM this job made: expunged where the key may expunge (listCapabilities'
 * `allowuserexpungerecovervm`); otherwise destroyed only — Destroyed, recoverable, expunged by the
 * cloud after its `expunge.delay`. Either way the API no longer lists it as live, and the job's
 * next test VM has a name of its own, so a Destroyed one is in nobody's way.
 */
async function destroyVm(io: Io, vmId: string): Promise<void> {
  const { allowUserExpungeRecoverVm } = await io.cloud.listCapabilities(io.op());
  await io.writer.destroyVirtualMachine({ id: vmId, expunge: allowUserExpungeRecoverVm }, io.op());
}

const asNumber = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/**
 * The device id to ask for when a volume goes back to its appliance VM: the one it had, while no
 * other volume took it meanwhile; taken, none (CloudStack gives the next free one) — a put-back
 * that insisted on a taken id would fail for good.
 */
async function homeDeviceId(io: Reads, vmId: string, volumeId: string, deviceId: number | undefined): Promise<number | undefined> {
  if (deviceId === undefined) return undefined;
  const onVm = await io.cloud.listVolumes({ virtualMachineId: vmId }, io.op());
  return onVm.some((v) => v.id !== volumeId && v.deviceId === deviceId) ? undefined : deviceId;
}

/** The registry. */
export const ACTIONS: { readonly [A in Action]: ActionDef<A> } = {
  [Action.CREATE_SNAPSHOT]: {
    resourceType: 'snapshot',
    key: ({ volumeId }) => `snapshot:${volumeId}`,
    async check(io, { volumeId }, recorded) {
      const name = snapshotName(io, volumeId);
      if (recorded) {
        // An earlier run made the call: adopt its snapshot (waiting while it is being made), and
        // delete any it left in Error, rather than make a second one.
        for (const found of await snapshotsByName(io, volumeId, name)) {
          const ready = await settleSnapshot(io, found.id);
          if (ready?.state === SnapshotState.BACKED_UP)
            return { kind: 'already', intent: { resourceName: name, data: { volumeId } }, outcome: { resourceId: ready.id, result: ready.id } };
          if (ready) await io.writer.deleteSnapshot({ id: ready.id }, io.op());
        }
      }
      return { kind: 'call', intent: { resourceName: name, data: { volumeId } } };
    },
    async run(io, { volumeId }) {
      const snapshot = await io.writer.createSnapshot({ volumeId, name: snapshotName(io, volumeId) }, io.op());
      return { resourceId: snapshot.id, result: snapshot.id };
    },
    recorded: (entry) => entry.resourceId!,
    async undo(io, entry) {
      // The recorded one, and any other the job's name finds: CloudStack leaves a failed create's
      // snapshot in Error, and it is this job's to delete. One still being taken cannot be deleted
      // (DefaultSnapshotStrategy refuses it): wait until it is BackedUp, in Error, or gone.
      const volumeId = String(entry.data.volumeId);
      const byName = entry.resourceName ? await snapshotsByName(io, volumeId, entry.resourceName) : [];
      const recorded = entry.resourceId && !byName.some((s) => s.id === entry.resourceId) ? [await readSnapshot(io, entry.resourceId)] : [];
      for (const found of [...recorded, ...byName]) {
        if (!found) continue;
        const snapshot = await settleSnapshot(io, found.id);
        if (snapshot) await io.writer.deleteSnapshot({ id: snapshot.id }, io.op());
      }
    },
  },

  [Action.DEPLOY_VM]: {
    resourceType: 'vm',
    key: () => 'vm',
    async check(io, _params, recorded) {
      const { plan } = io;
      if (!recorded) {
        // Note who carries the name already: those VMs are never taken for ours. On one of our
        // networks the name is taken (host names are unique per network): say so, deploy nothing.
        const named = await vmsNamed(io, { destroyed: true });
        const planned = new Set(plan.networks.map((n) => n.destinationNetworkId));
        const clash = named.find((vm) => vm.nics.some((n) => planned.has(n.networkId)));
        if (clash) {
          const why =
            clash.state === VmState.DESTROYED
              ? ', Destroyed but not yet expunged: the cloud frees the name after its expunge.delay (a key with allow.user.expunge.recover.vm expunges at once)'
              : '';
          throw new StepFailure(
            `Host name ${plan.vmName} is already used by VM ${clash.id} (${clash.displayName ?? clash.name}) on a network this VM joins${why}`,
          );
        }
        return { kind: 'call', intent: { resourceName: plan.vmName, data: { preexisting: named.map((vm) => vm.id) } } };
      }
      const intent = { resourceName: plan.vmName, data: { preexisting: preexistingVms(recorded) } };
      const found = await findVmByName(io, preexistingVms(recorded));
      // The earlier run's deploy may still be running: wait until the VM has settled (Stopped).
      const existing = found
        ? await settle(
            io,
            () => readVm(io, found.id),
            (vm) => vm === undefined || vm.state === VmState.STOPPED || vm.state === VmState.RUNNING || vm.state === VmState.ERROR,
            `VM ${found.id}`,
          )
        : undefined;
      if (existing?.state === VmState.ERROR) throw new StepFailure(`VM ${existing.id} this job deployed is in state Error`);
      return existing ? { kind: 'already', intent, outcome: { resourceId: existing.id, result: existing.id } } : { kind: 'call', intent };
    },
    async run(io) {
      const { plan, ids } = io;
      const vm = await io.writer.deployVirtualMachine(
        {
          zoneId: ids.zoneId,
          serviceOfferingId: ids.serviceOfferingId,
          templateId: ids.templateId,
          networkIds: plan.networks.map((n) => n.destinationNetworkId),
          name: plan.vmName,
          displayName: plan.displayName,
          startVm: false,
          cpuNumber: plan.cpus,
          memoryMb: plan.memoryMb,
        },
        io.op(),
      );
      return { resourceId: vm.id, result: vm.id };
    },
    recorded: (entry) => entry.resourceId!,
    async undo(io, entry) {
      const vm = entry.resourceId ? await readVm(io, entry.resourceId) : await findVmByName(io, preexistingVms(entry));
      if (!vm) return;
      await assertHoldsNoReplicatedVolume(io, vm.id);
      await destroyVm(io, vm.id);
    },
  },

  [Action.DETACH_TEMPLATE_ROOT]: {
    resourceType: 'volume',
    key: () => 'template_root',
    async check(io, { vmId }, recorded) {
      if (recorded) return { kind: 'call', intent: { resourceId: recorded.resourceId, resourceName: recorded.resourceName, data: {} } };
      const root = await templateRoot(io, vmId);
      return root ? { kind: 'call', intent: { resourceId: root.id, resourceName: root.name, data: {} } } : { kind: 'skip', result: undefined };
    },
    async run(io, { vmId }, entry) {
      // Out of the VM, then deleted: the replicated root takes its place.
      const root = await readVolume(io, entry.resourceId!);
      if (root?.virtualMachineId === vmId) await io.writer.detachVolume({ id: root.id }, io.op());
      if (root) await io.writer.deleteVolume({ id: root.id }, io.op());
      return { result: undefined };
    },
    recorded: none,
    async undo(io, entry) {
      // Deleted already, or still on the VM (destroying the VM deletes it): only a loose one is ours to delete.
      const volume = await readVolume(io, entry.resourceId!);
      if (volume && !volume.virtualMachineId) await io.writer.deleteVolume({ id: volume.id }, io.op());
    },
  },

  [Action.DETACH_VOLUME]: {
    resourceType: 'volume',
    key: ({ phase, volumeId }) => (phase === 'failover' ? `appliance:${volumeId}` : `unwind:detach:${volumeId}`),
    async check(io, { phase, volumeId, fromVmIds }, recorded) {
      const volume = await readVolume(io, volumeId);
      if (!volume) {
        // Unwinding, a volume the job never detached and the cloud no longer has is nothing to detach.
        if (phase === 'unwind' && !recorded) return { kind: 'skip', result: undefined };
        throw new StepFailure(`Volume ${volumeId} does not exist in CloudStack`);
      }
      const from = volume.virtualMachineId;
      if (from === undefined || !fromVmIds.includes(from)) {
        // Detached already: by an earlier run (its intent settles now), or (unwinding) never attached there.
        if (recorded || phase === 'unwind') return { kind: 'skip', result: undefined };
        const where = fromVmIds.length === 1 ? `VM ${fromVmIds[0]}` : `any of VMs ${fromVmIds.join(', ')}`;
        throw new StepFailure(`Volume ${volume.name} (${volumeId}) is not attached to ${where}${from ? ` but to ${from}` : ''}`);
      }
      // Where it was, for its undo and for the re-attach of cleanup and revert: that VM, that device id.
      return { kind: 'call', intent: { resourceId: volumeId, data: { vmId: from, deviceId: volume.deviceId ?? null, type: volume.type } } };
    },
    async run(io, { volumeId }) {
      await io.writer.detachVolume({ id: volumeId }, io.op());
      return { result: undefined };
    },
    async landed(io, { volumeId }, entry) {
      return (await readVolume(io, volumeId))?.virtualMachineId !== entry.data.vmId ? { result: undefined } : undefined;
    },
    recorded: none,
    async undo(io, entry) {
      // Put the volume back where it was (its appliance VM, at its device id).
      const home = String(entry.data.vmId);
      const deviceId = asNumber(entry.data.deviceId);
      const volume = await readVolume(io, entry.resourceId!);
      if (!volume || volume.virtualMachineId === home) return;
      if (volume.virtualMachineId) await detachFrom(io, volume.id, volume.virtualMachineId);
      const device = await homeDeviceId(io, home, volume.id, deviceId);
      await io.writer.attachVolume({ id: volume.id, virtualMachineId: home, ...(device === undefined ? {} : { deviceId: device }) }, io.op());
    },
  },

  [Action.ATTACH_VOLUME]: {
    resourceType: 'volume',
    key: ({ phase, volumeId }) => (phase === 'failover' ? `attach:${volumeId}` : `unwind:reattach:${volumeId}`),
    async check(io, { phase, volumeId, toVmId, deviceId }) {
      const volume = await readVolume(io, volumeId);
      if (!volume) throw new StepFailure(`Volume ${volumeId} does not exist in CloudStack`);
      const intent = { resourceId: volumeId, data: { vmId: toVmId, deviceId: deviceId ?? null } };
      // Back home (unwinding) is back home at whatever id it got; a failover's root must be at 0.
      if (volume.virtualMachineId === toVmId && (deviceId === undefined || phase === 'unwind' || volume.deviceId === deviceId)) {
        return { kind: 'already', intent, outcome: { resourceId: volumeId, detail: { deviceId: volume.deviceId ?? null }, result: undefined } };
      }
      if (volume.virtualMachineId)
        throw new StepFailure(`Volume ${volume.name} (${volumeId}) is attached to VM ${volume.virtualMachineId}; expected it free to attach to ${toVmId}`);
      return { kind: 'call', intent };
    },
    async run(io, { phase, volumeId, toVmId, deviceId: wanted }) {
      const deviceId = phase === 'unwind' ? await homeDeviceId(io, toVmId, volumeId, wanted) : wanted;
      const attached = await io.writer.attachVolume({ id: volumeId, virtualMachineId: toVmId, ...(deviceId === undefined ? {} : { deviceId }) }, io.op());
      const deviceNow = attached.deviceId ?? (await readVolume(io, volumeId))?.deviceId ?? deviceId ?? null;
      return { resourceId: volumeId, detail: { deviceId: deviceNow }, result: undefined };
    },
    async landed(io, { phase, volumeId, toVmId, deviceId }) {
      const volume = await readVolume(io, volumeId);
      const there = volume?.virtualMachineId === toVmId && (deviceId === undefined || phase === 'unwind' || volume.deviceId === deviceId);
      return there ? { resourceId: volumeId, detail: { deviceId: volume?.deviceId ?? deviceId ?? null }, result: undefined } : undefined;
    },
    recorded: none,
    async undo(io, entry) {
      const target = String(entry.data.vmId);
      const volume = await readVolume(io, entry.resourceId!);
      if (volume?.virtualMachineId === target) await detachFrom(io, volume.id, target);
    },
  },

  [Action.START_VM]: {
    resourceType: 'vm',
    key: () => 'start',
    recheckWhenDone: true,
    async check(io, { vmId }) {
      // A start (or stop) an earlier run sent may still be going: decide once the VM has settled.
      const vm = await settleVm(io, vmId);
      if (!vm) throw new StepFailure(`VM ${vmId} no longer exists in CloudStack`);
      const intent = { resourceId: vmId, data: {} };
      // Running already: started by an earlier run of this step (its intent settles now), or found so.
      return vm.state === VmState.RUNNING ? { kind: 'already', intent, outcome: { result: undefined } } : { kind: 'call', intent };
    },
    async run(io, { vmId }) {
      await io.writer.startVirtualMachine({ id: vmId }, io.op());
      return { result: undefined };
    },
    async landed(io, { vmId }) {
      // "Already running": an earlier start went through meanwhile — that is success.
      return (await readVm(io, vmId))?.state === VmState.RUNNING ? { result: undefined } : undefined;
    },
    recorded: none,
    async undo(io, entry) {
      // The VM ran on the replicated volumes: stop it, and put every volume back to its snapshot.
      const vm = await readVm(io, entry.resourceId!);
      if (vm && vm.state !== VmState.STOPPED) await io.writer.stopVirtualMachine({ id: vm.id, forced: true }, io.op());
      for (const snapshot of io.ledger.entries.filter((e) => e.action === Action.CREATE_SNAPSHOT && e.resourceId)) {
        if (await readSnapshot(io, snapshot.resourceId!)) await io.writer.revertSnapshot({ id: snapshot.resourceId! }, io.op());
      }
    },
  },

  [Action.STOP_VM]: {
    resourceType: 'vm',
    key: () => 'unwind:stop',
    recheckWhenDone: true,
    async check(io, { vmId }) {
      const vm = await settleVm(io, vmId);
      // Stopped or gone: an earlier run's stop went through before it died (its intent settles now).
      if (!vm || vm.state === VmState.STOPPED) return { kind: 'skip', result: undefined };
      return { kind: 'call', intent: { resourceId: vmId, data: { state: vm.state } } };
    },
    async run(io, { vmId }) {
      await io.writer.stopVirtualMachine({ id: vmId, forced: true }, io.op());
      return { result: undefined };
    },
    recorded: none,
    forwardOnly: FORWARD_ONLY_UNWIND,
  },

  [Action.REVERT_SNAPSHOT]: {
    resourceType: 'snapshot',
    key: ({ volumeId }) => `unwind:revert:${volumeId}`,
    check: async (_io, { volumeId, snapshotId }) => ({ kind: 'call', intent: { resourceId: snapshotId, data: { volumeId } } }),
    async run(io, { snapshotId }) {
      await io.writer.revertSnapshot({ id: snapshotId }, io.op());
      return { result: undefined };
    },
    recorded: none,
    forwardOnly: FORWARD_ONLY_UNWIND,
  },

  [Action.DESTROY_VM]: {
    resourceType: 'vm',
    key: () => 'unwind:destroy',
    async check(io, { vmId }) {
      if (!(await readVm(io, vmId))) return { kind: 'skip', result: undefined };
      await assertHoldsNoReplicatedVolume(io, vmId);
      return { kind: 'call', intent: { resourceId: vmId, data: {} } };
    },
    async run(io, { vmId }) {
      await destroyVm(io, vmId);
      return { result: undefined };
    },
    recorded: none,
    forwardOnly: FORWARD_ONLY_UNWIND,
  },

  [Action.DELETE_SNAPSHOT]: {
    resourceType: 'snapshot',
    key: ({ snapshotId }) => `unwind:delete_snapshot:${snapshotId}`,
    async check(io, { snapshotId }) {
      if (!(await readSnapshot(io, snapshotId))) return { kind: 'skip', result: undefined };
      return { kind: 'call', intent: { resourceId: snapshotId, data: {} } };
    },
    async run(io, { snapshotId }) {
      await io.writer.deleteSnapshot({ id: snapshotId }, io.op());
      return { result: undefined };
    },
    recorded: none,
    forwardOnly: FORWARD_ONLY_UNWIND,
  },
};

/** The ledger key of an action on a resource (to find its entry). */
export function ledgerKey<A extends Action>(action: A, params: ActionParams[A]): string {
  return ACTIONS[action].key(params);
}

/** The VMs that carried the job's host name before its deploy (recorded with the intent). */
export function preexistingVms(entry: { readonly data: Record<string, unknown> }): string[] {
  return Array.isArray(entry.data.preexisting) ? entry.data.preexisting.map(String) : [];
}

/** Where {@link call} records: the job's ledger, the flow and step making the call. */
export interface CallSite {
  readonly ledger: Ledger;
  readonly flow: FlowName;
  readonly step: string;
}

/**
 * The door: makes action `A` at most once per job, whatever crashed before. Done already: the
 * recorded result. Otherwise the action looks at the cloud; the intent is written before any call;
 * a failed call is checked against the cloud (it may have happened anyway); done is written after.
 */
export async function call<A extends Action>(
  io: Reads & { readonly writer: CloudStack },
  site: CallSite,
  action: A,
  params: ActionParams[A],
): Promise<ActionResult[A]> {
  const def = ACTIONS[action] as ActionDef<A>;
  const key = def.key(params);
  const recorded = site.ledger.get(key) as EntryOf<A> | undefined;
  if (recorded?.state === LedgerState.DONE && !def.recheckWhenDone) return def.recorded(recorded);
  const check = await def.check(io, params, recorded);
  if (check.kind === 'skip') {
    if (recorded) await site.ledger.done(recorded);
    return check.result;
  }
  const intent: Intent = {
    key,
    action,
    resourceType: def.resourceType,
    resourceId: check.intent.resourceId ?? null,
    resourceName: check.intent.resourceName ?? null,
    detail: check.intent.data as Record<string, unknown>,
  };
  const entry = (recorded ?? (await site.ledger.intent(site.flow, site.step, intent))) as EntryOf<A>;
  let outcome: Outcome<A>;
  if (check.kind === 'already') outcome = check.outcome;
  else {
    try {
      outcome = await def.run(io, params, entry);
    } catch (error) {
      if (io.signal.aborted || !def.landed) throw error;
      const landed = await def.landed(io, params, entry);
      if (!landed) throw error;
      outcome = landed;
    }
  }
  await site.ledger.done(entry, outcome.resourceId, outcome.detail as Record<string, unknown> | undefined);
  return outcome.result;
}

/** Whether compensation undoes an entry: a failover's call, not undone yet (cleanup and revert only move forward). */
function compensable(entry: Entry): boolean {
  const failover = entry.flow === FlowName.TEST_FAILOVER || entry.flow === FlowName.LIVE_FAILOVER;
  return entry.state !== LedgerState.UNDONE && failover && !entry.actionKey.startsWith('unwind:');
}

/** The entries a failed failover must undo, newest first. */
export function entriesToUndo(entries: readonly Entry[]): Entry[] {
  return entries.filter(compensable).reverse();
}

/**
 * Undoes one entry's effect in the cloud (the caller marks it undoing/undone); forward-only actions
 * have none. An action this service does not know (a row another tool wrote) is refused, not taken
 * as undone: compensation then ends "rollback incomplete" and names it, with the VM kept locked.
 */
export async function undoEntry(io: Reads & { readonly writer: CloudStack }, entry: Entry): Promise<void> {
  const def = ACTIONS[entry.action as Action] as ActionDef<Action> | undefined;
  if (!def) throw new StepFailure(`ledger entry ${entry.actionKey} has an action this service does not know: ${entry.action}`);
  if ('forwardOnly' in def) return;
  await def.undo(io, entry as EntryOf<Action>);
}
