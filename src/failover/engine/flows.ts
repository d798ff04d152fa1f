import { VmState } from '../../cloudstack/cloudstack.types.js';
import { FailoverStatus, FlowName } from '../../entities/index.js';
import { Action, ledgerKey } from './actions.js';
import { readSnapshot, readVm } from './cloud-reads.js';
import { classify, FailureClass, StepFailure } from './errors.js';
import { FlowKind, type Flow, type Reads, type RetryPolicy, type Step, type StepContext } from './step.js';

/**
 * The four flows, as data: DESIGN §4's steps, each with the status it publishes, a time limit and
 * a retry policy. A step reads the cloud and writes only through `ctx.call(Action…)` (actions.ts:
 * the ledger, the call, its undo). Failover flows compensate on failure (by ledger entry, newest
 * first); cleanup and revert only move forward, every step safe to re-run.
 */

const RETRY: RetryPolicy = { initialMs: 500, maxMs: 15_000, multiplier: 2 };
const MINUTES = 60_000;

/** The VM id the job's ledger recorded (deploy_vm), if any. */
export function recordedVmId(ctx: Pick<Reads, 'ledger'>): string | undefined {
  return ctx.ledger.get(ledgerKey(Action.DEPLOY_VM, {}))?.resourceId ?? undefined;
}

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
    const transient = failing.find((c) => c.error !== undefined && classify(c.error) === FailureClass.TRANSIENT);
    if (transient) throw transient.error;
    if (failing.length > 0) throw new StepFailure(`VM is not ready: ${failing.map((c) => `${c.name}: ${c.message}`).join('; ')}`);
  },
};

/** Where a replicated volume sits until the failover takes it: one of the appliance VMs. */
const offTheAppliance = (ctx: StepContext, volumeId: string) => ({ phase: 'failover' as const, volumeId, fromVmIds: ctx.ids.applianceVmIds });

/**
 * Each replicated volume off its appliance VM, then snapshotted while detached: a KVM cloud
 * refuses a snapshot of a volume attached to a Running VM unless `kvm.snapshot.enabled` (false
 * before 4.22), and snapshots of volumes on one VM collide ("other active snapshot tasks"), so
 * concurrent failovers from one appliance would refuse each other. Replication has stopped by now.
 * The detach records the VM and device id: compensation, cleanup and revert put it back there.
 */
const snapshot: Step = {
  name: 'snapshot_volumes',
  status: FailoverStatus.SNAPSHOTTING,
  timeoutMs: 60 * MINUTES,
  retry: RETRY,
  async run(ctx) {
    const { volumes } = ctx.plan;
    let rootSnapshot: string | undefined;
    for (const [i, volume] of volumes.entries()) {
      await ctx.call(Action.DETACH_VOLUME, offTheAppliance(ctx, volume.volumeId));
      ctx.progress(2 * i + 1, 2 * volumes.length);
      const id = await ctx.call(Action.CREATE_SNAPSHOT, { volumeId: volume.volumeId });
      // Before anything boots on the volume: a snapshot the cloud cannot revert could not restore it.
      if ((await readSnapshot(ctx, id))?.revertable === false) {
        throw new StepFailure(
          `CloudStack cannot revert snapshot ${id} of volume ${volume.volumeName} (revertable: false — its storage has no snapshot strategy that reverts): a cleanup or revert could not restore the replicated volume, so the failover stops before it changes it`,
        );
      }
      if (i === 0) rootSnapshot = id;
      ctx.progress(2 * i + 2, 2 * volumes.length);
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
    const vmId = await ctx.call(Action.DEPLOY_VM, {});
    if (!(await readVm(ctx, vmId))) throw new StepFailure(`VM ${vmId} this job deployed no longer exists in CloudStack`);
    await ctx.recordOnJob({ destinationVmId: vmId });
  },
};

/**
 * The root swap: the template's ROOT out (and deleted), the replicated root in at device 0, data
 * disks after it in unit order (CloudStack hands out 1, 2, 4, … — 3 is reserved). The volumes are
 * off the appliance since the snapshot step (a job an older version began may still find one
 * there: its detach happens here then).
 */
const switchVolumes: Step = {
  name: 'switch_volumes',
  status: FailoverStatus.SWITCHING_VOLUME,
  timeoutMs: 30 * MINUTES,
  retry: RETRY,
  async run(ctx) {
    const vmId = vmOf(ctx);
    const { volumes } = ctx.plan;
    const total = 1 + 2 * volumes.length;
    await ctx.call(Action.DETACH_TEMPLATE_ROOT, { vmId });
    ctx.progress(1, total);
    for (const [i, volume] of volumes.entries()) {
      await ctx.call(Action.DETACH_VOLUME, offTheAppliance(ctx, volume.volumeId));
      ctx.progress(2 + 2 * i, total);
      await ctx.call(Action.ATTACH_VOLUME, { phase: 'failover', volumeId: volume.volumeId, toVmId: vmId, ...(i === 0 ? { deviceId: 0 } : {}) });
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
    await ctx.call(Action.START_VM, { vmId });
    ctx.progress(1, 2);
    const vm = await readVm(ctx, vmId);
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
      await ctx.call(Action.STOP_VM, { vmId: vmOf(ctx) });
    }),
    step('detach_volumes', 30 * MINUTES, async (ctx) => {
      const vmId = vmOf(ctx);
      const volumes = [...ctx.plan.volumes].reverse();
      for (const [i, volume] of volumes.entries()) {
        await ctx.call(Action.DETACH_VOLUME, { phase: 'unwind', volumeId: volume.volumeId, fromVmIds: [vmId] });
        ctx.progress(i + 1, volumes.length);
      }
    }),
    step('revert_volumes', 60 * MINUTES, async (ctx) => {
      for (const [i, volume] of ctx.plan.volumes.entries()) {
        const snapshotId = ctx.ledger.get(ledgerKey(Action.CREATE_SNAPSHOT, { volumeId: volume.volumeId }))?.resourceId;
        if (!snapshotId) throw new StepFailure(`No snapshot of volume ${volume.volumeName} was recorded: cannot revert it`);
        await ctx.call(Action.REVERT_SNAPSHOT, { volumeId: volume.volumeId, snapshotId });
        ctx.progress(i + 1, ctx.plan.volumes.length);
      }
    }),
    step('reattach_volumes', 30 * MINUTES, async (ctx) => {
      for (const [i, volume] of ctx.plan.volumes.entries()) {
        // Back on the appliance VM it came from, at its device id, as the failover's detach recorded.
        const home = ctx.ledger.get(ledgerKey(Action.DETACH_VOLUME, offTheAppliance(ctx, volume.volumeId)))?.data;
        const toVmId = typeof home?.vmId === 'string' ? home.vmId : undefined;
        if (!toVmId) throw new StepFailure(`The job recorded no appliance VM for volume ${volume.volumeName}: cannot put it back`);
        await ctx.call(Action.ATTACH_VOLUME, {
          phase: 'unwind',
          volumeId: volume.volumeId,
          toVmId,
          ...(typeof home?.deviceId === 'number' ? { deviceId: home.deviceId } : {}),
        });
        ctx.progress(i + 1, ctx.plan.volumes.length);
      }
    }),
    step('destroy_vm', 15 * MINUTES, async (ctx) => {
      const vmId = vmOf(ctx);
      await ctx.call(Action.DESTROY_VM, { vmId });
    }),
    step('delete_snapshots', 15 * MINUTES, async (ctx) => {
      const snapshots = ctx.ledger.entries.filter((e) => e.action === Action.CREATE_SNAPSHOT && e.resourceId);
      for (const [i, entry] of snapshots.entries()) {
        await ctx.call(Action.DELETE_SNAPSHOT, { snapshotId: entry.resourceId! });
        ctx.progress(i + 1, snapshots.length);
      }
    }),
  ];
}

/** Every flow, by name. */
export const FLOWS: Readonly<Record<FlowName, Flow>> = {
  [FlowName.TEST_FAILOVER]: { name: FlowName.TEST_FAILOVER, kind: FlowKind.FAILOVER, steps: FAILOVER_STEPS, doneStatus: FailoverStatus.COMPLETED },
  [FlowName.LIVE_FAILOVER]: { name: FlowName.LIVE_FAILOVER, kind: FlowKind.FAILOVER, steps: FAILOVER_STEPS, doneStatus: FailoverStatus.COMPLETED },
  [FlowName.CLEANUP]: { name: FlowName.CLEANUP, kind: FlowKind.UNWIND, steps: unwindSteps(FailoverStatus.CLEANUP), doneStatus: FailoverStatus.CLEANED_UP },
  [FlowName.REVERT]: { name: FlowName.REVERT, kind: FlowKind.UNWIND, steps: unwindSteps(FailoverStatus.REVERTING), doneStatus: FailoverStatus.REVERTED },
};
