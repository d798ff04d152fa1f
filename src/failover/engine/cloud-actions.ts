import { SnapshotState, VmState, VolumeType, type Snapshot, type VirtualMachine, type Volume } from '../../cloudstack/cloudstack.types.js';
import { findById } from '../readiness/cloud-checks.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { StepFailure } from './errors.js';
import type { StepContext } from './flow.js';

/**
 * The engine's cloud actions, each idempotent: it reads the cloud (and the ledger) first and does
 * only what is not done yet, writing the ledger's intent before the call and its result after.
 * A re-run after a crash at any instant therefore finds what the earlier run did, and never
 * creates a second VM or snapshot or moves a volume twice.
 */

const GONE_VM_STATES: readonly string[] = [VmState.DESTROYED, VmState.EXPUNGING];

/** The volume, or undefined when CloudStack has none. */
export function readVolume(ctx: Pick<StepContext, 'cloud' | 'op'>, id: string): Promise<Volume | undefined> {
  return findById(() => ctx.cloud.listVolumes({ id }, ctx.op()), id);
}

/** The VM, or undefined when CloudStack has none (or it is being destroyed). */
export async function readVm(ctx: Pick<StepContext, 'cloud' | 'op'>, id: string): Promise<VirtualMachine | undefined> {
  const vm = await findById(() => ctx.cloud.listVirtualMachines({ id }, ctx.op()), id);
  return vm && !GONE_VM_STATES.includes(vm.state) ? vm : undefined;
}

/** The snapshot, or undefined when CloudStack has none (or it is gone). */
export async function readSnapshot(ctx: Pick<StepContext, 'cloud' | 'op'>, id: string): Promise<Snapshot | undefined> {
  const snapshot = await findById(() => ctx.cloud.listSnapshots({ id }, ctx.op()), id);
  return snapshot && snapshot.state !== SnapshotState.DESTROYED ? snapshot : undefined;
}

/**
 * Every snapshot of a volume carrying this job's snapshot name (names hold the job id, so they are
 * this job's), in Error too: CloudStack leaves a failed create's snapshot in Error, and it is ours to delete.
 */
export async function snapshotsByName(ctx: Pick<StepContext, 'cloud' | 'op'>, volumeId: string, name: string): Promise<Snapshot[]> {
  const found = await ctx.cloud.listSnapshots({ volumeId, name }, ctx.op());
  return found.filter((s) => s.name === name && s.state !== SnapshotState.DESTROYED);
}

/**
 * Re-reads `read` until `settled` says yes (a resource an earlier run's call is still making or
 * moving), with a capped backoff, until the step's deadline.
 */
async function settle<T>(ctx: Pick<StepContext, 'op' | 'signal'>, read: () => Promise<T>, settled: (value: T) => boolean, what: string): Promise<T> {
  const deadlineMs = ctx.op().deadlineMs ?? 60_000;
  const until = Date.now() + deadlineMs;
  let delay = 100;
  for (;;) {
    const value = await read();
    if (settled(value)) return value;
    if (Date.now() + delay > until) throw new StepFailure(`${what} did not settle within the step's time limit`);
    await sleep(delay, undefined, { signal: ctx.signal });
    delay = Math.min(delay * 2, 2_000);
  }
}

/** Live VMs carrying the job's host name in the zone. */
async function vmsNamed(ctx: Pick<StepContext, 'cloud' | 'op' | 'ids' | 'plan'>): Promise<VirtualMachine[]> {
  const found = await ctx.cloud.listVirtualMachines({ name: ctx.plan.vmName, zoneId: ctx.ids.zoneId }, ctx.op());
  return found.filter((vm) => !GONE_VM_STATES.includes(vm.state));
}

/**
 * Finds the VM this job deployed by its host name, on the job's first network — never one of
 * `preexisting`, the VMs that carried the name before the job's deploy (they are not ours: a
 * rollback must never destroy them).
 */
export async function findVmByName(
  ctx: Pick<StepContext, 'cloud' | 'op' | 'ids' | 'plan'>,
  preexisting: readonly string[],
): Promise<VirtualMachine | undefined> {
  const firstNetwork = ctx.plan.networks[0]?.destinationNetworkId;
  return (await vmsNamed(ctx)).find((vm) => !preexisting.includes(vm.id) && (!firstNetwork || vm.nics.some((n) => n.networkId === firstNetwork)));
}

/** The snapshot name of one volume in one job (the key that finds it again). */
export const snapshotName = (ctx: Pick<StepContext, 'plan'>, volumeId: string) => `${ctx.plan.jobId}-${volumeId}`.slice(0, 255);

/** Takes (or finds) this job's snapshot of a volume; returns its id. */
export async function ensureSnapshot(ctx: StepContext, volumeId: string): Promise<string> {
  const key = `snapshot:${volumeId}`;
  const name = snapshotName(ctx, volumeId);
  const recorded = ctx.ledger.get(key);
  if (recorded?.state === 'done' && recorded.resourceId) return recorded.resourceId;
  const entry = recorded ?? (await ctx.intent({ key, action: 'create_snapshot', resourceType: 'snapshot', resourceName: name, detail: { volumeId } }));
  if (recorded) {
    // An earlier run made the call: adopt its snapshot (waiting while it is being made), and delete
    // any it left in Error, rather than make a second one.
    for (const found of await snapshotsByName(ctx, volumeId, name)) {
      const ready = await settle(
        ctx,
        () => readSnapshot(ctx, found.id),
        (s) => s === undefined || s.state === SnapshotState.BACKED_UP || s.state === SnapshotState.ERROR,
        `snapshot ${found.id}`,
      );
      if (ready?.state === SnapshotState.BACKED_UP) {
        await ctx.ledger.done(entry, ready.id);
        return ready.id;
      }
      if (ready) await ctx.cloud.deleteSnapshot({ id: ready.id }, ctx.op());
    }
  }
  const snapshot = await ctx.cloud.createSnapshot({ volumeId, name }, ctx.op());
  await ctx.ledger.done(entry, snapshot.id);
  return snapshot.id;
}

/** Deploys (or finds) the job's VM, Stopped, with one NIC per planned network in source order. */
export async function ensureVm(ctx: StepContext): Promise<VirtualMachine> {
  const { plan, ids } = ctx;
  const recorded = ctx.ledger.get('vm');
  if (recorded?.state === 'done' && recorded.resourceId) {
    const vm = await readVm(ctx, recorded.resourceId);
    if (vm) return vm;
    throw new StepFailure(`VM ${recorded.resourceId} this job deployed no longer exists in CloudStack`);
  }
  let entry = recorded;
  if (!entry) {
    // Note who carries the name already: those VMs are never taken for ours. On one of our
    // networks the name is taken (host names are unique per network): say so, deploy nothing.
    const named = await vmsNamed(ctx);
    const planned = new Set(plan.networks.map((n) => n.destinationNetworkId));
    const clash = named.find((vm) => vm.nics.some((n) => planned.has(n.networkId)));
    if (clash)
      throw new StepFailure(`Host name ${plan.vmName} is already used by VM ${clash.id} (${clash.displayName ?? clash.name}) on a network this VM joins`);
    entry = await ctx.intent({
      key: 'vm',
      action: 'deploy_vm',
      resourceType: 'vm',
      resourceName: plan.vmName,
      detail: { preexisting: named.map((vm) => vm.id) },
    });
  }
  const found = recorded ? await findVmByName(ctx, preexistingVms(recorded)) : undefined;
  // The earlier run's deploy may still be running: wait until the VM has settled (Stopped).
  const existing = found
    ? await settle(
        ctx,
        () => readVm(ctx, found.id),
        (vm) => vm === undefined || vm.state === VmState.STOPPED || vm.state === VmState.RUNNING || vm.state === VmState.ERROR,
        `VM ${found.id}`,
      )
    : undefined;
  if (existing?.state === VmState.ERROR) throw new StepFailure(`VM ${existing.id} this job deployed is in state Error`);
  const vm =
    existing ??
    (await ctx.cloud.deployVirtualMachine(
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
      ctx.op(),
    ));
  await ctx.ledger.done(entry, vm.id);
  return vm;
}

/** The VMs that carried the job's host name before its deploy (recorded with the intent). */
export function preexistingVms(entry: { readonly data: Record<string, unknown> }): string[] {
  return Array.isArray(entry.data.preexisting) ? entry.data.preexisting.map(String) : [];
}

/** The VM id the job's ledger recorded (deploy_vm), if any. */
export function recordedVmId(ctx: Pick<StepContext, 'ledger'>): string | undefined {
  const entry = ctx.ledger.get('vm');
  return entry?.resourceId ?? undefined;
}

/**
 * Detaches a volume from `fromVmId`, recording first where it was (device id) so that it can be put
 * back exactly. Done already (not attached there, intent recorded): nothing to do.
 */
export async function ensureDetached(ctx: StepContext, key: string, volumeId: string, fromVmId: string): Promise<void> {
  const recorded = ctx.ledger.get(key);
  if (recorded?.state === 'done') return;
  const volume = await readVolume(ctx, volumeId);
  if (!volume) throw new StepFailure(`Volume ${volumeId} does not exist in CloudStack`);
  if (volume.virtualMachineId !== fromVmId) {
    if (recorded) {
      await ctx.ledger.done(recorded);
      return;
    }
    throw new StepFailure(
      `Volume ${volume.name} (${volumeId}) is not attached to VM ${fromVmId}${volume.virtualMachineId ? ` but to ${volume.virtualMachineId}` : ''}`,
    );
  }
  const entry =
    recorded ??
    (await ctx.intent({
      key,
      action: 'detach_volume',
      resourceType: 'volume',
      resourceId: volumeId,
      detail: { vmId: fromVmId, deviceId: volume.deviceId ?? null, type: volume.type },
    }));
  await moveAndVerify(
    ctx,
    volumeId,
    (v) => v?.virtualMachineId !== fromVmId,
    () => ctx.cloud.detachVolume({ id: volumeId }, ctx.op()),
  );
  await ctx.ledger.done(entry);
}

/**
 * Makes a move (attach/detach). When the call fails, the volume is read again: a move an earlier
 * run started may have completed meanwhile ("already attached"), which is success, not failure.
 */
async function moveAndVerify<T>(
  ctx: StepContext,
  volumeId: string,
  reached: (volume: Volume | undefined) => boolean,
  move: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await move();
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const after = await readVolume(ctx, volumeId);
    if (reached(after)) return undefined;
    throw error;
  }
}

/** Attaches a volume to `toVmId` (at `deviceId`, or the next free device). Done already: nothing to do. */
export async function ensureAttached(ctx: StepContext, key: string, volumeId: string, toVmId: string, deviceId?: number): Promise<void> {
  const recorded = ctx.ledger.get(key);
  if (recorded?.state === 'done') return;
  const volume = await readVolume(ctx, volumeId);
  if (!volume) throw new StepFailure(`Volume ${volumeId} does not exist in CloudStack`);
  if (volume.virtualMachineId === toVmId && (deviceId === undefined || volume.deviceId === deviceId)) {
    const entry = recorded ?? (await ctx.intent({ key, action: 'attach_volume', resourceType: 'volume', resourceId: volumeId, detail: { vmId: toVmId } }));
    await ctx.ledger.done(entry, volumeId, { deviceId: volume.deviceId ?? null });
    return;
  }
  if (volume.virtualMachineId) {
    throw new StepFailure(`Volume ${volume.name} (${volumeId}) is attached to VM ${volume.virtualMachineId}; expected it free to attach to ${toVmId}`);
  }
  const entry =
    recorded ??
    (await ctx.intent({ key, action: 'attach_volume', resourceType: 'volume', resourceId: volumeId, detail: { vmId: toVmId, deviceId: deviceId ?? null } }));
  const isThere = (v: Volume | undefined) => v?.virtualMachineId === toVmId && (deviceId === undefined || v.deviceId === deviceId);
  const attached = await moveAndVerify(ctx, volumeId, isThere, () =>
    ctx.cloud.attachVolume({ id: volumeId, virtualMachineId: toVmId, ...(deviceId === undefined ? {} : { deviceId }) }, ctx.op()),
  );
  const deviceNow = attached?.deviceId ?? (await readVolume(ctx, volumeId))?.deviceId ?? deviceId ?? null;
  await ctx.ledger.done(entry, volumeId, { deviceId: deviceNow });
}

/** The VM once it is not Starting or Stopping (an earlier run's call finishing), or undefined when gone. */
export function settleVm(ctx: Pick<StepContext, 'cloud' | 'op' | 'signal'>, vmId: string): Promise<VirtualMachine | undefined> {
  return settle(
    ctx,
    () => readVm(ctx, vmId),
    (vm) => vm === undefined || (vm.state !== VmState.STARTING && vm.state !== VmState.STOPPING),
    `VM ${vmId}`,
  );
}

/** Stops a VM (forced) unless it is Stopped already or gone. */
export async function ensureStopped(ctx: StepContext, key: string, vmId: string): Promise<void> {
  const vm = await settleVm(ctx, vmId);
  if (!vm || vm.state === VmState.STOPPED) {
    // An earlier run's stop that went through before it died: its intent is settled now.
    await settleIntent(ctx, key);
    return;
  }
  const entry = ctx.ledger.get(key) ?? (await ctx.intent({ key, action: 'stop_vm', resourceType: 'vm', resourceId: vmId, detail: { state: vm.state } }));
  await ctx.cloud.stopVirtualMachine({ id: vmId, forced: true }, ctx.op());
  await ctx.ledger.done(entry);
}

/** Marks `key`'s entry done when it was only intended: the cloud shows the call's effect is there. */
export async function settleIntent(ctx: Pick<StepContext, 'ledger'>, key: string): Promise<void> {
  const entry = ctx.ledger.get(key);
  if (entry && entry.state !== 'done') await ctx.ledger.done(entry);
}

/** The ROOT volume the VM got from its template (not one of the job's volumes), if still attached. */
export async function templateRoot(ctx: StepContext, vmId: string): Promise<Volume | undefined> {
  const volumes = await ctx.cloud.listVolumes({ virtualMachineId: vmId, type: VolumeType.ROOT }, ctx.op());
  const ours = new Set(ctx.plan.volumes.map((v) => v.volumeId));
  return volumes.find((v) => !ours.has(v.id));
}
