import { VmState } from '../../cloudstack/cloudstack.types.js';
import { FailoverStatus, FlowName } from '../../entities/index.js';
import {
  ensureAttached,
  ensureDetached,
  ensureSnapshot,
  ensureStopped,
  ensureVm,
  readSnapshot,
  readVm,
  readVolume,
  recordedVmId,
  settleIntent,
  settleVm,
  templateRoot,
} from './cloud-actions.js';
import { isTransient, StepFailure } from './errors.js';
import { FlowKind, type Flow, type RetryPolicy, type Step, type StepContext } from './flow.js';

/**
 * The four flows, as data: DESIGN §4's steps, each with the status it publishes, a time limit and
 * a retry policy. Failover flows compensate on failure (by ledger entry, newest first: undo.ts);
 * cleanup and revert only move forward, every step safe to re-run.
 */

const RETRY: RetryPolicy = { initialMs: 500, maxMs: 15_000, multiplier: 2 };
const MINUTES = 60_000;

const vmOf = (ctx: StepContext): string => {
  const vmId = recordedVmId(ctx);
  if (!vmId) throw new StepFailure('The job recorded no VM: nothing was deployed');
  return vmId;
};

const validate: Step = {
  name: 'validate',
  status: FailoverStatus.VALIDATING,
  timeoutMs: 5 * MINUTES,
  retry: RETRY,
  async run(ctx) {
    const readiness = await ctx.checkReadiness();
    const failing = readiness.checks.filter((c) => !c.passed);
    // A check the cloud could not answer this time is tried again; a real "no" fails the job.
    const transient = failing.find((c) => c.error !== undefined && isTransient(c.error));
    if (transient) throw transient.error;
    if (failing.length > 0) throw new StepFailure(`VM is not ready: ${failing.map((c) => `${c.name}: ${c.message}`).join('; ')}`);
  },
};

const snapshot: Step = {
  name: 'snapshot_volumes',
  status: FailoverStatus.SNAPSHOTTING,
  timeoutMs: 60 * MINUTES,
  retry: RETRY,
  async run(ctx) {
    const { volumes } = ctx.plan;
    let rootSnapshot: string | undefined;
    for (const [i, volume] of volumes.entries()) {
      const id = await ensureSnapshot(ctx, volume.volumeId);
      if (i === 0) rootSnapshot = id;
      ctx.progress(i + 1, volumes.length);
    }
    await ctx.recordOnJob({ osseaSnapshotId: rootSnapshot ?? null });
  },
};

const createVm: Step = {
  name: 'create_vm',
  status: FailoverStatus.CREATING_VM,
  timeoutMs: 15 * MINUTES,
  retry: RETRY,
  async run(ctx) {
    const vm = await ensureVm(ctx);
    await ctx.recordOnJob({ destinationVmId: vm.id });
  },
};

/** The root swap: the template's ROOT out (and deleted), the replicated root in at device 0, data disks after it in unit order. */
const switchVolumes: Step = {
  name: 'switch_volumes',
  status: FailoverStatus.SWITCHING_VOLUME,
  timeoutMs: 30 * MINUTES,
  retry: RETRY,
  async run(ctx) {
    const vmId = vmOf(ctx);
    const { volumes } = ctx.plan;
    const total = 1 + 2 * volumes.length;
    let entry = ctx.ledger.get('template_root');
    if (!entry) {
      const root = await templateRoot(ctx, vmId);
      if (root)
        entry = await ctx.intent({
          key: 'template_root',
          action: 'detach_template_root',
          resourceType: 'volume',
          resourceId: root.id,
          resourceName: root.name,
        });
    }
    if (entry && entry.state !== 'done') {
      const root = await readVolume(ctx, entry.resourceId!);
      if (root?.virtualMachineId === vmId) await ctx.cloud.detachVolume({ id: root.id }, ctx.op());
      if (root) await ctx.cloud.deleteVolume({ id: root.id }, ctx.op());
      await ctx.ledger.done(entry);
    }
    ctx.progress(1, total);
    for (const [i, volume] of volumes.entries()) {
      await ensureDetached(ctx, `appliance:${volume.volumeId}`, volume.volumeId, ctx.ids.applianceVmId);
      ctx.progress(2 + 2 * i, total);
      await ensureAttached(ctx, `attach:${volume.volumeId}`, volume.volumeId, vmId, i === 0 ? 0 : undefined);
      ctx.progress(3 + 2 * i, total);
    }
  },
};

const powerOn: Step = {
  name: 'power_on',
  status: FailoverStatus.POWERING_ON,
  timeoutMs: 15 * MINUTES,
  retry: RETRY,
  async run(ctx) {
    const vmId = vmOf(ctx);
    // A start (or stop) an earlier run sent may still be going: decide once the VM has settled.
    let vm = await settleVm(ctx, vmId);
    if (!vm) throw new StepFailure(`VM ${vmId} no longer exists in CloudStack`);
    if (vm.state !== VmState.RUNNING) {
      const entry = ctx.ledger.get('start') ?? (await ctx.intent({ key: 'start', action: 'start_vm', resourceType: 'vm', resourceId: vmId }));
      try {
        vm = await ctx.cloud.startVirtualMachine({ id: vmId }, ctx.op());
      } catch (error) {
        // "Already running": an earlier start went through meanwhile — that is success.
        if (ctx.signal.aborted || (await readVm(ctx, vmId))?.state !== VmState.RUNNING) throw error;
      }
      await ctx.ledger.done(entry);
    } else {
      // Running already: started by an earlier run of this step (its intent settles now), or found so.
      await ctx.ledger.done(ctx.ledger.get('start') ?? (await ctx.intent({ key: 'start', action: 'start_vm', resourceType: 'vm', resourceId: vmId })));
    }
    ctx.progress(1, 2);
    vm = await readVm(ctx, vmId);
    if (vm?.state !== VmState.RUNNING) throw new StepFailure(`VM ${vmId} is ${vm?.state ?? 'gone'} after start, not Running`);
    const want = ctx.plan.networks.map((n) => n.destinationNetworkId);
    const have = vm.nics.map((n) => n.networkId);
    if (want.join() !== have.join()) throw new StepFailure(`VM ${vmId} has NICs on [${have.join(', ')}], expected [${want.join(', ')}]`);
  },
};

const FAILOVER_STEPS = [validate, snapshot, createVm, switchVolumes, powerOn] as const;

/** Cleanup (test) and revert (live) share their steps; only the status they publish differs. */
function unwindSteps(status: FailoverStatus): Step[] {
  const step = (name: string, timeoutMs: number, run: (ctx: StepContext) => Promise<void>): Step => ({ name, status, timeoutMs, retry: RETRY, run });
  return [
    step('stop_vm', 15 * MINUTES, async (ctx) => {
      await ensureStopped(ctx, 'unwind:stop', vmOf(ctx));
    }),
    step('detach_volumes', 30 * MINUTES, async (ctx) => {
      const vmId = vmOf(ctx);
      const volumes = [...ctx.plan.volumes].reverse();
      for (const [i, volume] of volumes.entries()) {
        const key = `unwind:detach:${volume.volumeId}`;
        const current = await readVolume(ctx, volume.volumeId);
        if (current?.virtualMachineId === vmId || ctx.ledger.get(key)) await ensureDetached(ctx, key, volume.volumeId, vmId);
        ctx.progress(i + 1, volumes.length);
      }
    }),
    step('revert_volumes', 60 * MINUTES, async (ctx) => {
      for (const [i, volume] of ctx.plan.volumes.entries()) {
        const snapshotId = ctx.ledger.get(`snapshot:${volume.volumeId}`)?.resourceId;
        if (!snapshotId) throw new StepFailure(`No snapshot of volume ${volume.volumeName} was recorded: cannot revert it`);
        const key = `unwind:revert:${volume.volumeId}`;
        if (ctx.ledger.get(key)?.state !== 'done') {
          const entry =
            ctx.ledger.get(key) ??
            (await ctx.intent({ key, action: 'revert_snapshot', resourceType: 'snapshot', resourceId: snapshotId, detail: { volumeId: volume.volumeId } }));
          await ctx.cloud.revertSnapshot({ id: snapshotId }, ctx.op());
          await ctx.ledger.done(entry);
        }
        ctx.progress(i + 1, ctx.plan.volumes.length);
      }
    }),
    step('reattach_volumes', 30 * MINUTES, async (ctx) => {
      for (const [i, volume] of ctx.plan.volumes.entries()) {
        const deviceId = ctx.ledger.get(`appliance:${volume.volumeId}`)?.data.deviceId;
        await ensureAttached(
          ctx,
          `unwind:reattach:${volume.volumeId}`,
          volume.volumeId,
          ctx.ids.applianceVmId,
          typeof deviceId === 'number' ? deviceId : undefined,
        );
        ctx.progress(i + 1, ctx.plan.volumes.length);
      }
    }),
    step('destroy_vm', 15 * MINUTES, async (ctx) => {
      const vmId = vmOf(ctx);
      const vm = await readVm(ctx, vmId);
      if (!vm) return settleIntent(ctx, 'unwind:destroy');
      await assertHoldsNoReplicatedVolume(ctx, vmId);
      const entry =
        ctx.ledger.get('unwind:destroy') ?? (await ctx.intent({ key: 'unwind:destroy', action: 'destroy_vm', resourceType: 'vm', resourceId: vmId }));
      await ctx.cloud.destroyVirtualMachine({ id: vmId, expunge: true }, ctx.op());
      await ctx.ledger.done(entry);
    }),
    step('delete_snapshots', 15 * MINUTES, async (ctx) => {
      const snapshots = ctx.ledger.entries.filter((e) => e.action === 'create_snapshot' && e.resourceId);
      for (const [i, entry] of snapshots.entries()) {
        const key = `unwind:delete_snapshot:${entry.resourceId}`;
        if (await readSnapshot(ctx, entry.resourceId!)) {
          const intent = ctx.ledger.get(key) ?? (await ctx.intent({ key, action: 'delete_snapshot', resourceType: 'snapshot', resourceId: entry.resourceId }));
          await ctx.cloud.deleteSnapshot({ id: entry.resourceId! }, ctx.op());
          await ctx.ledger.done(intent);
        } else {
          await settleIntent(ctx, key);
        }
        ctx.progress(i + 1, snapshots.length);
      }
    }),
  ];
}

/** Destroying a VM deletes its ROOT volume: never destroy one that still holds a replicated volume. */
export async function assertHoldsNoReplicatedVolume(ctx: Pick<StepContext, 'cloud' | 'op' | 'plan'>, vmId: string): Promise<void> {
  const attached = await ctx.cloud.listVolumes({ virtualMachineId: vmId }, ctx.op());
  const ours = attached.filter((v) => ctx.plan.volumes.some((p) => p.volumeId === v.id));
  if (ours.length > 0) throw new StepFailure(`VM ${vmId} still holds replicated volume(s) ${ours.map((v) => v.name).join(', ')}: refusing to destroy it`);
}

/** Every flow, by name. */
export const FLOWS: Readonly<Record<FlowName, Flow>> = {
  [FlowName.TEST_FAILOVER]: { name: FlowName.TEST_FAILOVER, kind: FlowKind.FAILOVER, steps: FAILOVER_STEPS, doneStatus: FailoverStatus.COMPLETED },
  [FlowName.LIVE_FAILOVER]: { name: FlowName.LIVE_FAILOVER, kind: FlowKind.FAILOVER, steps: FAILOVER_STEPS, doneStatus: FailoverStatus.COMPLETED },
  [FlowName.CLEANUP]: { name: FlowName.CLEANUP, kind: FlowKind.UNWIND, steps: unwindSteps(FailoverStatus.CLEANUP), doneStatus: FailoverStatus.CLEANED_UP },
  [FlowName.REVERT]: { name: FlowName.REVERT, kind: FlowKind.UNWIND, steps: unwindSteps(FailoverStatus.REVERTING), doneStatus: FailoverStatus.REVERTED },
};
