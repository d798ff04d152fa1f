import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EntityManager } from '@mikro-orm/core';
import { classify, FailureClass } from '../engine/errors.js';
import { runPass, PassResult, type PlanExecutorDeps } from './plan-executor.js';
import { claimableExecutions, claimPlanLease, loadPlanExecution, PlanLeaseLost, PlanLifecycle, releasePlanLease, renewPlanLease } from './plan-lifecycle.js';

/** Options of {@link PlanEngine}. */
export interface PlanEngineOptions extends Omit<PlanExecutorDeps, 'root'> {
  readonly em: EntityManager;
  /** Publishes committed plan events. */
  readonly notify: () => void;
  readonly leaseMs?: number;
  /** How often it looks for executions to resume, and (at most) how long a running execution waits before it looks at its jobs again. */
  readonly scanIntervalMs?: number;
  readonly owner?: string;
}

/** The longest an execution waits between passes without being woken. */
const MAX_IDLE_MS = 1_000;
/**
 * The least time between two passes of one execution: wake-ups (every committed job event, progress
 * included) that come sooner are coalesced into the next pass, so a pass over a large execution's
 * VMs is not repeated for each of its jobs' progress updates.
 */
const MIN_PASS_GAP_MS = 50;
/** After a pass that broke off (the database away), when the next is tried. */
const RETRY_MS = 1_000;

/**
 * The durable plan executor: claims executions with a lease (owner + expiry against the database's
 * clock) kept by a heartbeat, and runs each as a loop of {@link runPass} — woken by every committed
 * job event, and at least every second — until its phase ends. An execution left by a crashed
 * instance is resumed by whichever instance takes its lease next, at the persisted wave: the
 * passes decide from the database alone.
 */
export class PlanEngine {
  readonly owner: string;
  private readonly deps: PlanExecutorDeps;
  private readonly notify: () => void;
  private readonly leaseMs: number;
  private readonly scanIntervalMs: number;
  private readonly running = new Map<number, { controller: AbortController; wake: () => void; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescan = false;
  private stopping = false;

  constructor({ em, notify, leaseMs = 30_000, scanIntervalMs = 5_000, owner, ...deps }: PlanEngineOptions) {
    this.deps = { ...deps, root: em };
    this.notify = notify;
    this.leaseMs = leaseMs;
    this.scanIntervalMs = scanIntervalMs;
    this.owner = owner ?? `${hostname()}:${process.pid}:plans:${randomBytes(4).toString('hex')}`;
  }

  /** Starts scanning (executions a crashed instance left resume once their lease ran out). */
  start(): void {
    this.timer = setInterval(() => this.scan(), this.scanIntervalMs);
    this.timer.unref();
    this.scan();
  }

  /** An execution was created, cancelled or moved into its cleanup/revert: the scan runs, and running executions look again. */
  wake(): void {
    if (this.stopping) return;
    this.nudge();
    this.scan();
  }

  /** A job's event was committed: the executions running here look at their jobs again (no scan). */
  nudge(): void {
    if (this.stopping) return;
    for (const run of this.running.values()) run.wake();
  }

  /** Executions running in this instance. */
  get active(): readonly number[] {
    return [...this.running.keys()];
  }

  /** Stops taking work and stops the running executions at their next pass; their leases are released. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.scanning;
    for (const run of this.running.values()) {
      run.controller.abort();
      run.wake();
    }
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private scan(): void {
    if (this.stopping) return;
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = this.claim()
      .catch((error) => this.deps.logger.error({ err: error }, 'plan scan failed'))
      .finally(() => {
        this.scanning = undefined;
        if (this.rescan) {
          this.rescan = false;
          this.scan();
        }
      });
  }

  private async claim(): Promise<void> {
    for (const id of await claimableExecutions(this.deps.root, 50)) {
      if (this.stopping) return;
      if (this.running.has(id)) continue;
      if (await claimPlanLease(this.deps.root, id, this.owner, this.leaseMs)) this.launch(id);
    }
  }

  private launch(id: number): void {
    const controller = new AbortController();
    const log = this.deps.logger.child({ executionId: id });
    let woken: (() => void) | undefined;
    let pending = false;
    const wake = () => {
      pending = true;
      woken?.();
    };
    const idle = (ms: number) =>
      new Promise<void>((resolve) => {
        if (pending || controller.signal.aborted) return resolve();
        const timer = setTimeout(resolve, ms);
        woken = () => {
          clearTimeout(timer);
          resolve();
        };
      }).finally(() => {
        woken = undefined;
        pending = false;
      });
    const interval = Math.max(50, Math.floor(this.leaseMs / 3));
    const heartbeat = setInterval(() => {
      renewPlanLease(this.deps.root, id, this.owner, this.leaseMs)
        .then((held) => {
          if (!held) {
            log.warn('plan lease lost: stopping the execution in this instance');
            controller.abort();
            wake();
          }
        })
        .catch((error) => log.warn({ err: error }, 'plan lease heartbeat failed'));
    }, interval);
    heartbeat.unref();
    const done = (async () => {
      log.info('plan execution claimed');
      let release = true;
      try {
        for (;;) {
          if (controller.signal.aborted) return;
          const execution = await loadPlanExecution(this.deps.root, id);
          if (!execution || execution.leaseOwner !== this.owner) return;
          const lifecycle = new PlanLifecycle(this.deps.root, execution, this.owner, this.notify);
          let result: PassResult;
          try {
            result = await runPass(this.deps, lifecycle);
          } catch (error) {
            // The row changed under the pass (a cancel) or the lease went: read again (the loop checks the lease).
            if (error instanceof PlanLeaseLost) continue;
            if (classify(error) === FailureClass.DATABASE) {
              log.warn({ err: error }, 'plan pass broke off; trying again');
              await idle(RETRY_MS);
              continue;
            }
            throw error;
          }
          if (result === PassResult.DONE) {
            release = false;
            return;
          }
          const passedAt = Date.now();
          await idle(Math.min(this.scanIntervalMs, MAX_IDLE_MS));
          const early = MIN_PASS_GAP_MS - (Date.now() - passedAt);
          if (early > 0 && !controller.signal.aborted) await new Promise((resolve) => setTimeout(resolve, early));
        }
      } catch (error) {
        release = false;
        log.error({ err: error }, 'plan execution broke off; it resumes when its lease runs out');
      } finally {
        clearInterval(heartbeat);
        if (release) await releasePlanLease(this.deps.root, id, this.owner).catch((error) => log.warn({ err: error }, 'plan lease not released; it expires'));
        this.running.delete(id);
        if (!this.stopping) this.scan();
      }
    })();
    this.running.set(id, { controller, wake, done });
  }
}
