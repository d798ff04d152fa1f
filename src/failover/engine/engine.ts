import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EntityManager } from '@mikro-orm/core';
import { WorkerStopping } from './errors.js';
import { AUTO_CLEANUP_ACTOR } from '../../access/actor.js';
import { MutationAudit } from '../../access/audit.js';
import { FlowName } from '../../entities/index.js';
import { beginUnwind, claimableJobs, claimLease, dueAutoCleanups, releaseLease, renewLease } from './lifecycle.js';
import { JobRunner, type RunnerDeps } from './runner.js';

/** Options of {@link Engine}. */
export interface EngineOptions extends Omit<RunnerDeps, 'root'> {
  /** The ORM's root EntityManager. */
  readonly em: EntityManager;
  /** How long a lease lasts without a heartbeat; a crashed worker's jobs resume after it. */
  readonly leaseMs?: number;
  /** How often the engine looks for jobs to resume and automatic cleanups that are due. */
  readonly scanIntervalMs?: number;
  /** Jobs this worker runs at once. */
  readonly concurrency?: number;
  /** This worker's name in leases (default: host, pid and a random tag). */
  readonly owner?: string;
}

/**
 * The durable job runner. It claims jobs with a lease (owner + expiry) kept alive by a heartbeat,
 * runs each in a {@link JobRunner}, and finds work by scanning: at start-up (jobs a crashed worker
 * left), whenever woken (a new job), and every `scanIntervalMs` (leases that expired, automatic
 * cleanups that are due). A lease is taken by one conditional UPDATE, so one job never runs in two
 * workers at once; a worker that loses its lease stops the job at once (its AbortSignal fires and
 * every write is fenced by the lease).
 */
export class Engine {
  readonly owner: string;
  private readonly deps: RunnerDeps;
  private readonly leaseMs: number;
  private readonly scanIntervalMs: number;
  private readonly concurrency: number;
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescan = false;
  private stopping = false;

  constructor({ em, leaseMs = 30_000, scanIntervalMs = 5_000, concurrency = 8, owner, ...deps }: EngineOptions) {
    this.deps = { ...deps, root: em };
    this.leaseMs = leaseMs;
    this.scanIntervalMs = scanIntervalMs;
    this.concurrency = concurrency;
    this.owner = owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  private get now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Starts scanning (at once: jobs left by a crashed worker resume now if their lease ran out). */
  start(): void {
    this.timer = setInterval(() => this.wake(), this.scanIntervalMs);
    this.timer.unref();
    this.wake();
  }

  /** Looks for work now (coalesced with a scan already running). */
  wake(): void {
    if (this.stopping) return;
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = this.scan()
      .catch((error) => this.deps.logger.error({ err: error }, 'engine scan failed'))
      .finally(() => {
        this.scanning = undefined;
        if (this.rescan) {
          this.rescan = false;
          this.wake();
        }
      });
  }

  /** Jobs running in this worker now. */
  get active(): readonly string[] {
    return [...this.running.keys()];
  }

  /**
   * Stops taking work and stops the running jobs at their next cloud call or write; their leases
   * are released, so another worker (or this service, restarted) resumes them at once.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.scanning;
    for (const { controller } of this.running.values()) controller.abort(new WorkerStopping());
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private async scan(): Promise<void> {
    for (const jobId of await dueAutoCleanups(this.deps.root, 20)) {
      if (this.stopping) return;
      try {
        await this.beginAutoCleanup(jobId);
      } catch (error) {
        this.deps.logger.warn({ jobId, err: error }, 'automatic cleanup could not begin');
      }
    }
    const free = this.concurrency - this.running.size;
    if (free <= 0 || this.stopping) return;
    for (const jobId of await claimableJobs(this.deps.root, free + this.running.size)) {
      if (this.stopping || this.running.size >= this.concurrency) return;
      if (this.running.has(jobId)) continue;
      if (await claimLease(this.deps.root, jobId, this.owner, this.leaseMs)) this.launch(jobId);
    }
  }

  /** Moves a completed test failover whose automatic cleanup is due into its cleanup flow (the lifecycle decides whether it may). */
  private async beginAutoCleanup(jobId: string): Promise<void> {
    // Audited like the mutation it stands in for, in the same transaction.
    const audit = new MutationAudit(this.deps.root, AUTO_CLEANUP_ACTOR, { transport: 'engine', address: null }, 'cleanupTestFailover', { jobId });
    const outcome = await beginUnwind(this.deps.root, jobId, FlowName.CLEANUP, {
      reason: 'automatic cleanup: autoCleanupAfterMinutes elapsed',
      requestedBy: AUTO_CLEANUP_ACTOR.name,
      alsoWrite: (tx) => audit.inTransaction(tx, jobId),
    });
    switch (outcome.kind) {
      case 'no-job':
        throw new Error(`job ${jobId} has no failover_jobs row`);
      case 'refused':
        throw new Error(outcome.reason);
      case 'changed':
        throw new Error(`job ${jobId} changed meanwhile`);
      case 'begun':
        break;
    }
    this.deps.logger.info({ jobId }, 'automatic cleanup begun');
    this.deps.notify();
  }

  private launch(jobId: string): void {
    const controller = new AbortController();
    const log = this.deps.logger.child({ jobId });
    // Until when this worker surely holds the lease. When renewals fail (the database away), the job
    // is stopped before that time, so another worker that takes the lease later never overlaps it.
    let validUntil = this.now + this.leaseMs;
    const interval = Math.max(50, Math.floor(this.leaseMs / 3));
    const stopJob = (why: string) => {
      if (controller.signal.aborted) return;
      log.warn(why);
      controller.abort(new WorkerStopping());
    };
    const heartbeat = setInterval(() => {
      const asked = this.now;
      renewLease(this.deps.root, jobId, this.owner, this.leaseMs)
        .then((held) => {
          if (held) validUntil = asked + this.leaseMs;
          else stopJob('lease lost: stopping the job in this worker');
        })
        .catch((error) => {
          log.warn({ err: error }, 'lease heartbeat failed');
          if (this.now + interval >= validUntil) stopJob('lease could not be renewed in time: stopping the job in this worker');
        });
    }, interval);
    heartbeat.unref();
    log.info('job claimed');
    // A run that broke off for another reason (the database away, a bug) keeps its lease until it
    // expires: the job is tried again then, not in a tight loop.
    let release = true;
    const done = JobRunner.run({ ...this.deps, logger: log }, jobId, this.owner, controller.signal)
      .then(() => log.info('job run ended'))
      .catch((error) => {
        if (controller.signal.aborted) log.info('job stopped in this worker; it resumes where its lease is taken next');
        else {
          release = false;
          log.error({ err: error }, 'job run broke off; it resumes when its lease runs out');
        }
      })
      .finally(async () => {
        clearInterval(heartbeat);
        if (release) await releaseLease(this.deps.root, jobId, this.owner).catch((error) => log.warn({ err: error }, 'lease not released; it expires'));
        this.running.delete(jobId);
        if (!this.stopping) this.wake();
      });
    this.running.set(jobId, { controller, done });
  }
}
