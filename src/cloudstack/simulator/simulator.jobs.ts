import { silentLogger, type CloudStackLogger } from '../logger.js';
import { SimApiError } from './simulator.params.js';
import { csTime, KEEP_FINISHED_JOBS, newId, pruneJobs, type CloudState, type SimJob } from './simulator.state.js';

/**
 * Async jobs. A command's API layer validates and returns a {@link CloudJobPlan}; the runner records a
 * job (jobstatus 0) and executes the plan later: after a first slice of the latency it runs the
 * in-job checks (a failure there is jobstatus 2 with the check's code and text) and the plan's
 * `begin` (transitional states), then advances `jobprocstatus` once per slice and finally commits.
 * Jobs that work on the same VM are serialised, as CloudStack's VM work queue does; jobs on
 * different VMs run side by side — which is how two attaches of one volume can race.
 */

/** What an async command does once its job runs. */
export interface CloudJobPlan {
  readonly instanceType: string;
  /** The resource the job works on (`jobinstanceid`); absent when the request named none. */
  readonly instanceId?: string;
  /** Jobs with the same key run one after the other (the VM id, usually). */
  readonly queueKey: string;
  /** The id returned next to the jobid by async creates. */
  readonly createdId?: string;
  /** Checks made inside the job; throwing fails the job. */
  readonly validate?: () => void;
  /** Transitional state changes once the checks pass. */
  readonly begin?: () => void;
  /** Called as jobprocstatus advances (2, 3, …) for intermediate states. */
  readonly onStep?: (procStatus: number) => void;
  /** The final change; returns the job result (e.g. `{ virtualmachine: … }`). May throw. */
  readonly commit: () => Record<string, unknown>;
  /** Cleans up after a failure (e.g. marks a half-deployed VM as Error). */
  readonly fail?: (error: SimApiError) => void;
  /** How the command reports a failure of its job (CreateSnapshotCmd wraps every one in its own 530). */
  readonly wrapFailure?: (error: SimApiError) => SimApiError;
}

/** Settings of a {@link CloudJobRunner}. */
export interface JobRunnerOptions {
  readonly state: CloudState;
  /** Total time a job takes (read at each job start). */
  readonly latencyMs: () => number;
  /** Number of slices the latency is cut into; jobprocstatus counts them. */
  readonly steps?: number;
  /** Called after every change to the world (persistence). */
  readonly onChange: () => void;
  /** Finished jobs kept for queryAsyncJobResult (the oldest are dropped); running jobs are always kept. */
  readonly keepFinishedJobs?: number;
  readonly logger?: CloudStackLogger;
}

/** Java class names CloudStack reports as a job's `cmd`. */
const CMD_CLASSES: Record<string, string> = {
  deployVirtualMachine: 'org.apache.cloudstack.api.command.admin.vm.DeployVMCmdByAdmin',
  startVirtualMachine: 'org.apache.cloudstack.api.command.admin.vm.StartVMCmdByAdmin',
  stopVirtualMachine: 'org.apache.cloudstack.api.command.admin.vm.StopVMCmdByAdmin',
  destroyVirtualMachine: 'org.apache.cloudstack.api.command.admin.vm.DestroyVMCmdByAdmin',
  attachVolume: 'org.apache.cloudstack.api.command.admin.volume.AttachVolumeCmdByAdmin',
  detachVolume: 'org.apache.cloudstack.api.command.admin.volume.DetachVolumeCmdByAdmin',
  createSnapshot: 'org.apache.cloudstack.api.command.user.snapshot.CreateSnapshotCmd',
  revertSnapshot: 'org.apache.cloudstack.api.command.user.snapshot.RevertSnapshotCmd',
  deleteSnapshot: 'org.apache.cloudstack.api.command.user.snapshot.DeleteSnapshotCmd',
  createVMSnapshot: 'org.apache.cloudstack.api.command.user.vmsnapshot.CreateVMSnapshotCmd',
  revertToVMSnapshot: 'org.apache.cloudstack.api.command.admin.vmsnapshot.RevertToVMSnapshotCmdByAdmin',
  deleteVMSnapshot: 'org.apache.cloudstack.api.command.user.vmsnapshot.DeleteVMSnapshotCmd',
};

/** The async commands (a management server in maintenance refuses them). */
export const ASYNC_COMMANDS: ReadonlySet<string> = new Set(Object.keys(CMD_CLASSES));

/** Text of a job cut short by a simulator shutdown, as found after a restart. */
export const INTERRUPTED_JOB_TEXT = 'Job failed because the management server was restarted while it ran';

/** Runs jobs; {@link idle} resolves when none is running, {@link close} abandons the running ones. */
export class CloudJobRunner {
  private readonly state: CloudState;
  private readonly latencyMs: () => number;
  private readonly steps: number;
  private readonly onChange: () => void;
  private readonly keepFinishedJobs: number;
  private readonly logger: CloudStackLogger;
  private readonly queues = new Map<string, Promise<void>>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private readonly idleWaiters: (() => void)[] = [];
  private active = 0;
  private closed = false;

  constructor({ state, latencyMs, steps = 4, onChange, keepFinishedJobs = KEEP_FINISHED_JOBS, logger = silentLogger }: JobRunnerOptions) {
    this.state = state;
    this.latencyMs = latencyMs;
    this.steps = Math.max(2, steps);
    this.onChange = onChange;
    this.keepFinishedJobs = keepFinishedJobs;
    this.logger = logger;
  }

  /** Records a job for `command` and schedules its plan; `injected` makes it fail at its checks. */
  submit(command: string, plan: CloudJobPlan, injected?: SimApiError): SimJob {
    const job: SimJob = {
      jobid: newId(),
      command,
      cmd: CMD_CLASSES[command] ?? `org.apache.cloudstack.api.command.${command}`,
      jobstatus: 0,
      jobprocstatus: 0,
      jobresultcode: 0,
      jobresulttype: 'object',
      jobinstancetype: plan.instanceType,
      jobinstanceid: plan.instanceId,
      created: csTime(),
    };
    this.state.world.jobs.push(job);
    this.onChange();
    this.active++;
    const previous = this.queues.get(plan.queueKey) ?? Promise.resolve();
    const run = previous
      .then(() => this.execute(job, plan, injected))
      .catch((error: unknown) => this.logger.error({ jobId: job.jobid, error: String(error) }, 'simulated job crashed'));
    this.queues.set(plan.queueKey, run);
    void run.finally(() => {
      if (this.queues.get(plan.queueKey) === run) this.queues.delete(plan.queueKey);
      this.active--;
      if (this.active === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    });
    return job;
  }

  /** Resolves once no job is running (at once when none is). */
  idle(): Promise<void> {
    return this.active === 0 || this.closed ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops all timers; running jobs stay in progress (a restart finds them interrupted). */
  close(): void {
    this.closed = true;
    for (const entry of this.timers) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.timers.clear();
    this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private async execute(job: SimJob, plan: CloudJobPlan, injected: SimApiError | undefined): Promise<void> {
    const slice = this.latencyMs() / this.steps;
    if (!(await this.wait(slice))) return;
    try {
      if (injected) throw injected;
      plan.validate?.();
      plan.begin?.();
      this.progress(job, 1);
      for (let step = 2; step < this.steps; step++) {
        if (!(await this.wait(slice))) return;
        plan.onStep?.(step);
        this.progress(job, step);
      }
      if (!(await this.wait(slice))) return;
      this.finish(job, 1, 0, plan.commit());
    } catch (error) {
      const raw = error instanceof SimApiError ? error : new SimApiError(530, (error as Error).message);
      // An injected failure answers as the fault says; a rule broken in the job as the command reports it.
      const failure = error === injected || !plan.wrapFailure ? raw : plan.wrapFailure(raw);
      plan.fail?.(failure);
      this.finish(job, 2, failure.errorCode, { errorcode: failure.errorCode, errortext: failure.errorText });
      this.logger.debug({ command: job.command, jobId: job.jobid, errorCode: failure.errorCode }, 'simulated job failed');
    }
  }

  private progress(job: SimJob, procStatus: number): void {
    job.jobprocstatus = procStatus;
    this.onChange();
  }

  private finish(job: SimJob, status: number, resultCode: number, result: Record<string, unknown>): void {
    job.jobstatus = status;
    job.jobresultcode = resultCode;
    job.jobresult = result;
    job.completed = csTime();
    job.completedms = Date.now();
    pruneJobs(this.state.world, this.keepFinishedJobs);
    this.onChange();
  }

  /** Waits `ms`; false when the runner was closed meanwhile. */
  private wait(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve(!this.closed);
        }, ms),
        resolve: () => resolve(false),
      };
      this.timers.add(entry);
    });
  }
}

/**
 * After a restart: jobs still in progress in the stored state failed (530), and what they left in
 * a transitional state falls back (Starting → Stopped, Stopping → Running, volumes → Ready,
 * snapshots being taken → Error, VM snapshots being taken → Error, being reverted → Ready).
 */
export function recoverInterruptedJobs(state: CloudState): number {
  const pending = state.world.jobs.filter((job) => job.jobstatus === 0);
  for (const job of pending) {
    job.jobstatus = 2;
    job.jobresultcode = 530;
    job.jobresult = { errorcode: 530, errortext: INTERRUPTED_JOB_TEXT };
    job.completed = csTime();
    job.completedms = Date.now();
  }
  for (const vm of state.world.vms) {
    if (vm.state === 'Starting') vm.state = 'Stopped';
    else if (vm.state === 'Stopping') vm.state = 'Running';
  }
  for (const volume of state.world.volumes) {
    if (volume.state === 'Snapshotting' || volume.state === 'RevertSnapshotting') volume.state = 'Ready';
  }
  for (const snapshot of state.world.snapshots) {
    if (snapshot.state === 'Allocated' || snapshot.state === 'Creating' || snapshot.state === 'CreatedOnPrimary' || snapshot.state === 'BackingUp')
      snapshot.state = 'Error';
  }
  for (const snapshot of state.world.vmSnapshots) {
    if (snapshot.removed !== undefined) continue;
    if (snapshot.state === 'Allocated' || snapshot.state === 'Creating') snapshot.state = 'Error';
    else if (snapshot.state === 'Reverting') snapshot.state = 'Ready';
  }
  return pending.length;
}
