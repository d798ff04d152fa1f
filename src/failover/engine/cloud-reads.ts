import { SnapshotState, VmState, VolumeType, type Snapshot, type VirtualMachine, type Volume } from '../../cloudstack/cloudstack.types.js';
import { findById } from '../readiness/cloud-checks.js';
import { pollUntil, type Backoff } from '../../retry.js';
import { StepFailure } from './errors.js';
import type { Reads } from './step.js';

/**
 * What the engine reads from the cloud: resources by id or by the names a job gives them, and
 * waiting for one an earlier run's call is still making or moving to settle. Read-only: every
 * write goes through the action registry (actions.ts).
 */

const SETTLE_BACKOFF: Backoff = { initialMs: 100, maxMs: 2_000, multiplier: 2 };
const GONE_VM_STATES: readonly string[] = [VmState.DESTROYED, VmState.EXPUNGING];

/** The volume, or undefined when CloudStack has none. */
export function readVolume(ctx: Pick<Reads, 'cloud' | 'op'>, id: string): Promise<Volume | undefined> {
  return findById(() => ctx.cloud.listVolumes({ id }, ctx.op()), id);
}

/** The VM, or undefined when CloudStack has none (or it is being destroyed). */
export async function readVm(ctx: Pick<Reads, 'cloud' | 'op'>, id: string): Promise<VirtualMachine | undefined> {
  const vm = await findById(() => ctx.cloud.listVirtualMachines({ id }, ctx.op()), id);
  return vm && !GONE_VM_STATES.includes(vm.state) ? vm : undefined;
}

/** The snapshot, or undefined when CloudStack has none (or it is gone). */
export async function readSnapshot(ctx: Pick<Reads, 'cloud' | 'op'>, id: string): Promise<Snapshot | undefined> {
  const snapshot = await findById(() => ctx.cloud.listSnapshots({ id }, ctx.op()), id);
  return snapshot && snapshot.state !== SnapshotState.DESTROYED ? snapshot : undefined;
}

/**
 * Every snapshot of a volume carrying this job's snapshot name (names hold the job id, so they are
 * this job's), in Error too: CloudStack leaves a failed create's snapshot in Error, and it is ours to delete.
 */
export async function snapshotsByName(ctx: Pick<Reads, 'cloud' | 'op'>, volumeId: string, name: string): Promise<Snapshot[]> {
  const found = await ctx.cloud.listSnapshots({ volumeId, name }, ctx.op());
  return found.filter((s) => s.name === name && s.state !== SnapshotState.DESTROYED);
}

/**
 * Re-reads `read` until `settled` says yes (a resource an earlier run's call is still making or
 * moving), with a capped backoff, until the step's deadline.
 */
export async function settle<T>(ctx: Pick<Reads, 'op' | 'signal'>, read: () => Promise<T>, settled: (value: T) => boolean, what: string): Promise<T> {
  const deadlineMs = ctx.op().deadlineMs ?? 60_000;
  const found = await pollUntil(
    async () => {
      const value = await read();
      return settled(value) ? { value } : undefined;
    },
    {
      backoff: SETTLE_BACKOFF,
      deadlineAt: Date.now() + deadlineMs,
      signal: ctx.signal,
      onDeadline: () => new StepFailure(`${what} did not settle within the step's time limit`),
    },
  );
  return found.value;
}

/** VMs carrying the job's host name in the zone: live ones, or (`destroyed`) also those Destroyed and not yet expunged, which still hold the name. */
export async function vmsNamed(ctx: Pick<Reads, 'cloud' | 'op' | 'ids' | 'plan'>, { destroyed = false } = {}): Promise<VirtualMachine[]> {
  const found = await ctx.cloud.listVirtualMachines({ name: ctx.plan.vmName, zoneId: ctx.ids.zoneId }, ctx.op());
  // The client keeps exact name matches only.
  return found.filter((vm) => (destroyed ? vm.state !== VmState.EXPUNGING : !GONE_VM_STATES.includes(vm.state)));
}

/**
 * Finds the VM this job deployed by its host name, on the job's first network — never one of
 * `preexisting`, the VMs that carried the name before the job's deploy (they are not ours: a
 * rollback must never destroy them).
 */
export async function findVmByName(ctx: Pick<Reads, 'cloud' | 'op' | 'ids' | 'plan'>, preexisting: readonly string[]): Promise<VirtualMachine | undefined> {
  const firstNetwork = ctx.plan.networks[0]?.destinationNetworkId;
  return (await vmsNamed(ctx)).find((vm) => !preexisting.includes(vm.id) && (!firstNetwork || vm.nics.some((n) => n.networkId === firstNetwork)));
}

/** The snapshot name of one volume in one job (the key that finds it again). */
export const snapshotName = (ctx: Pick<Reads, 'plan'>, volumeId: string) => `${ctx.plan.jobId}-${volumeId}`.slice(0, 255);

/** The VM once it is not Starting or Stopping (an earlier run's call finishing), or undefined when gone. */
export function settleVm(ctx: Pick<Reads, 'cloud' | 'op' | 'signal'>, vmId: string): Promise<VirtualMachine | undefined> {
  return settle(
    ctx,
    () => readVm(ctx, vmId),
    (vm) => vm === undefined || (vm.state !== VmState.STARTING && vm.state !== VmState.STOPPING),
    `VM ${vmId}`,
  );
}

/**
 * The snapshot once it is BackedUp or in Error (an earlier run's create finishing), or undefined
 * when gone: one still being taken can be neither adopted nor deleted (DefaultSnapshotStrategy refuses it).
 */
export function settleSnapshot(ctx: Pick<Reads, 'cloud' | 'op' | 'signal'>, snapshotId: string): Promise<Snapshot | undefined> {
  return settle(
    ctx,
    () => readSnapshot(ctx, snapshotId),
    (s) => s === undefined || s.state === SnapshotState.BACKED_UP || s.state === SnapshotState.ERROR,
    `snapshot ${snapshotId}`,
  );
}

/** The ROOT volume the VM got from its template (not one of the job's volumes), if still attached. */
export async function templateRoot(ctx: Reads, vmId: string): Promise<Volume | undefined> {
  const volumes = await ctx.cloud.listVolumes({ virtualMachineId: vmId, type: VolumeType.ROOT }, ctx.op());
  const ours = new Set(ctx.plan.volumes.map((v) => v.volumeId));
  return volumes.find((v) => !ours.has(v.id));
}
