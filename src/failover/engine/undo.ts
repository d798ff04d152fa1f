import { VmState } from '../../cloudstack/cloudstack.types.js';
import { LedgerState } from '../../entities/index.js';
import { findVmByName, preexistingVms, readSnapshot, readVm, readVolume, snapshotsByName } from './cloud-actions.js';
import type { StepContext } from './flow.js';
import { assertHoldsNoReplicatedVolume } from './flows.js';
import type { Entry } from './ledger.js';

/**
 * Compensation, by ledger entry: each action a failover step recorded (done, or only intended: it
 * may have happened) has an undo that reads the cloud first and does only what is still needed,
 * so undoing twice (a crash mid-compensation) is harmless. Undone newest first, the entries take
 * the cloud back to exactly where the job found it.
 */

/** The entries a failed failover must undo, newest first. */
export function entriesToUndo(entries: readonly Entry[]): Entry[] {
  return entries.filter((e) => e.state !== LedgerState.UNDONE && !e.actionKey.startsWith('unwind:')).reverse();
}

/** Undoes one entry's effect in the cloud (the caller marks it undone). */
export async function undo(ctx: StepContext, entry: Entry): Promise<void> {
  const { cloud } = ctx;
  switch (entry.action) {
    case 'create_snapshot': {
      const volumeId = String(entry.data.volumeId);
      // By name (the create's result was never recorded) the snapshot of a create whose job failed
      // is found too: CloudStack leaves it in Error, and it is this job's to delete.
      // The recorded one, and any other the job's name finds (an earlier attempt's, maybe in Error).
      const byName = entry.resourceName ? await snapshotsByName(ctx, volumeId, entry.resourceName) : [];
      const recorded = entry.resourceId && !byName.some((s) => s.id === entry.resourceId) ? [await readSnapshot(ctx, entry.resourceId)] : [];
      for (const snapshot of [...recorded, ...byName]) if (snapshot) await cloud.deleteSnapshot({ id: snapshot.id }, ctx.op());
      return;
    }
    case 'deploy_vm': {
      const vm = entry.resourceId ? await readVm(ctx, entry.resourceId) : await findVmByName(ctx, preexistingVms(entry));
      if (!vm) return;
      await assertHoldsNoReplicatedVolume(ctx, vm.id);
      await cloud.destroyVirtualMachine({ id: vm.id, expunge: true }, ctx.op());
      return;
    }
    case 'detach_template_root': {
      // Deleted already, or still on the VM (destroying the VM deletes it): only a loose one is ours to delete.
      const volume = await readVolume(ctx, entry.resourceId!);
      if (volume && !volume.virtualMachineId) await cloud.deleteVolume({ id: volume.id }, ctx.op());
      return;
    }
    case 'detach_volume': {
      // Put the volume back where it was (the appliance, at its device id).
      const home = String(entry.data.vmId);
      const deviceId = typeof entry.data.deviceId === 'number' ? entry.data.deviceId : undefined;
      const volume = await readVolume(ctx, entry.resourceId!);
      if (!volume || volume.virtualMachineId === home) return;
      if (volume.virtualMachineId) await detachFrom(ctx, volume.id, volume.virtualMachineId);
      await cloud.attachVolume({ id: volume.id, virtualMachineId: home, ...(deviceId === undefined ? {} : { deviceId }) }, ctx.op());
      return;
    }
    case 'attach_volume': {
      const target = String(entry.data.vmId);
      const volume = await readVolume(ctx, entry.resourceId!);
      if (volume?.virtualMachineId === target) await detachFrom(ctx, volume.id, target);
      return;
    }
    case 'start_vm': {
      // The VM ran on the replicated volumes: stop it, and put every volume back to its snapshot.
      const vm = await readVm(ctx, entry.resourceId!);
      if (vm && vm.state !== VmState.STOPPED) await cloud.stopVirtualMachine({ id: vm.id, forced: true }, ctx.op());
      for (const snapshotEntry of ctx.ledger.entries.filter((e) => e.action === 'create_snapshot' && e.resourceId)) {
        if (await readSnapshot(ctx, snapshotEntry.resourceId!)) await cloud.revertSnapshot({ id: snapshotEntry.resourceId! }, ctx.op());
      }
      return;
    }
    default:
      // Forward-only actions (stop, revert, destroy, delete of the unwind flows) have nothing to undo.
      return;
  }
}

/** Detaches a volume from a VM, stopping the VM first when it runs (a ROOT volume needs it Stopped). */
async function detachFrom(ctx: StepContext, volumeId: string, vmId: string): Promise<void> {
  const vm = await readVm(ctx, vmId);
  if (vm && vm.state !== VmState.STOPPED && vmId !== ctx.ids.applianceVmId) await ctx.cloud.stopVirtualMachine({ id: vmId, forced: true }, ctx.op());
  await ctx.cloud.detachVolume({ id: volumeId }, ctx.op());
}
