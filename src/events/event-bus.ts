import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from '../logger.js';
import type { WakeUpChannel } from './redis-wake-up.js';
import { latestSequence, readDeliveries } from './event-store.js';
import { matches, type DeliveredEvent, type EventFilter } from './event.types.js';

/** Where a bus reads its events: a table with a dense sequence that commits in order. */
export interface EventSource<E extends { readonly sequence: number }, F> {
  /** The highest sequence committed so far (0 when none). */
  latest(em: EntityManager): Promise<number>;
  /** Stored events with `after < sequence <= upTo` that pass `filter`, in sequence order, at most `limit`. */
  read(em: EntityManager, options: { after: number; upTo?: number; filter?: F; limit: number }): Promise<E[]>;
  /** Whether an event passes a subscriber's filter. */
  matches(filter: F, event: E): boolean;
}

/** The job events (`failover_job_events`), delivered with their jobs' rows. */
export const JOB_EVENTS: EventSource<DeliveredEvent, EventFilter> = {
  latest: (em) => latestSequence(em),
  read: (em, options) => readDeliveries(em, options),
  matches,
};

/** Options of {@link EventBus}. */
export interface EventBusOptions<E extends { readonly sequence: number } = DeliveredEvent, F = EventFilter> {
  /** Which events (default: the job events). */
  readonly source?: EventSource<E, F>;
  /** The ORM's root EntityManager (the bus forks it for every read). */
  readonly em: EntityManager;
  readonly logger: Logger;
  /** How often subscribers' bus looks for events other processes committed. */
  readonly pollIntervalMs?: number;
  /** Wake-ups from and to the other instances (Redis): each commit is announced, each announcement read. */
  readonly wakeUp?: WakeUpChannel;
  /** How often the bus still polls while the wake-up channel is healthy (the safety net for a lost wake-up). */
  readonly wakeUpPollIntervalMs?: number;
  /** A subscriber that falls this many events behind is ended (with an error) rather than buffered forever. */
  readonly maxBuffered?: number;
}

/** What {@link EventBus.subscribe} takes: the filter, and where to start. */
export type SubscribeOptions<F = EventFilter> = F & {
  /** Replay the stored events after this sequence first, then continue live. */
  readonly afterSequence?: number | null;
};

/** Events per read: live reads and each replay read at most this many rows at once. */
export const EVENT_BATCH = 500;

/**
 * Delivers committed job events to subscribers, in sequence order, with no gap and no duplicate.
 *
 * The bus never trusts in-memory payloads: a writer calls {@link notify} after its transaction
 * committed, and the bus reads the events after the last sequence it delivered. Sequences are dense
 * and commit in order (see `nextSequence`), so reading "after N" never skips one. Reads are
 * serialised; a timer also reads while anyone listens, which picks up events other processes
 * committed (another instance's engine). With a {@link WakeUpChannel}, {@link notify} also tells the
 * other instances, and a wake-up from one of them reads at once; the timer then runs at the slower
 * `wakeUpPollIntervalMs` while the channel is healthy, and at `pollIntervalMs` while it is not. A
 * wake-up is only a reason to read: lost, repeated or stray ones cause neither a gap nor a duplicate.
 *
 * A subscriber with `afterSequence` is registered first (its live events are held back), then the
 * stored events in `(afterSequence, registered-at]` are replayed, then the held-back live events
 * follow: the seam has neither a gap nor a duplicate.
 */
export class EventBus<E extends { readonly sequence: number } = DeliveredEvent, F = EventFilter> {
  private readonly em: EntityManager;
  private readonly source: EventSource<E, F>;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly wakeUp: WakeUpChannel | undefined;
  private readonly wakeUpPollIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly subscribers = new Set<Subscription<E, F>>();
  private readonly listeners: (() => void)[] = [];
  private lastSeen = 0;
  private chain: Promise<void> = Promise.resolve();
  private pending = false;
  /** Subscriptions asked for and not yet registered. */
  private joining = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor({ em, logger, pollIntervalMs = 1_000, wakeUp, wakeUpPollIntervalMs = 10_000, maxBuffered = 10_000, source }: EventBusOptions<E, F>) {
    this.em = em;
    this.source = source ?? (JOB_EVENTS as unknown as EventSource<E, F>);
    this.logger = logger.child({ component: 'events' });
    this.pollIntervalMs = pollIntervalMs;
    this.wakeUp = wakeUp;
    this.wakeUpPollIntervalMs = wakeUpPollIntervalMs;
    this.maxBuffered = maxBuffered;
  }

  /** Learns where the stored events end, starts polling while anyone listens, and connects the wake-up channel. */
  async start(): Promise<void> {
    this.lastSeen = await this.source.latest(this.em.fork());
    this.poll(this.pollIntervalMs);
    this.wakeUp?.start({
      wake: () => this.committed(),
      health: (up) => {
        if (this.closed) return;
        this.poll(up ? this.wakeUpPollIntervalMs : this.pollIntervalMs);
        // Whatever was committed while no wake-up could arrive is read now (and the listeners told).
        if (up) this.committed();
      },
    });
  }

  /** (Re)starts the poll timer at `intervalMs`. */
  private poll(intervalMs: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (this.subscribers.size > 0) this.read();
    }, intervalMs);
    this.timer.unref();
  }

  /** The last sequence delivered (everything up to it has been read). */
  get delivered(): number {
    return this.lastSeen;
  }

  /**
   * Tells the bus that this process committed events: the other instances are woken (when there is
   * a wake-up channel), and the bus reads and delivers them.
   */
  notify(): void {
    if (this.closed) return;
    this.wakeUp?.publish();
    this.committed();
  }

  /**
   * Calls `listener` whenever events were committed — by this process ({@link notify}) or, through
   * the wake-up channel, by another instance. For parts that act on "something happened" (the plan
   * executor looks at its jobs again), not on the events themselves.
   */
  onCommitted(listener: () => void): void {
    this.listeners.push(listener);
  }

  private committed(): void {
    for (const listener of this.listeners) listener();
    this.read();
  }

  /**
   * Reads and delivers what was committed (coalesced). With nobody listening or joining there is
   * nothing to read: a subscriber reads up to date when it joins.
   */
  private read(): void {
    if (this.closed || this.pending || (this.subscribers.size === 0 && this.joining === 0)) return;
    this.pending = true;
    void this.enqueue(async () => {
      this.pending = false;
      await this.pump();
    });
  }

  /** Resolves once every event committed before the call has been delivered. */
  flush(): Promise<void> {
    return this.enqueue(() => this.pump());
  }

  /** How many subscriptions are registered, and the most events any of them holds unread. */
  stats(): { subscribers: number; maxBuffered: number } {
    let maxBuffered = 0;
    for (const s of this.subscribers) maxBuffered = Math.max(maxBuffered, s.buffered);
    return { subscribers: this.subscribers.size, maxBuffered };
  }

  /** A stream of events: replayed after `afterSequence` when given, then live. `return()` ends it. */
  subscribe({ afterSequence, ...filter }: SubscribeOptions<F> = {} as SubscribeOptions<F>): AsyncIterableIterator<E> {
    const subscription = new Subscription<E, F>(filter as F, this.maxBuffered, this.source.matches, (s) => this.subscribers.delete(s));
    if (this.closed) {
      subscription.end();
      return subscription;
    }
    this.joining++;
    void this.enqueue(async () => {
      try {
        await this.pump();
      } catch (error) {
        // Never leave a subscriber waiting on a stream that will not start: it gets the error.
        this.joining--;
        subscription.fail(error as Error);
        throw error;
      }
      this.joining--;
      if (subscription.ended) return;
      const upTo = this.lastSeen;
      this.subscribers.add(subscription);
      const after = afterSequence ?? upTo;
      if (after >= upTo) {
        subscription.goLive(after);
        return;
      }
      // Replay outside the bus's queue, so one slow replay never holds up everyone's live events.
      void this.replay(subscription, after, upTo);
    });
    return subscription;
  }

  /** Ends every subscription, stops polling and closes the wake-up channel. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const subscription of [...this.subscribers]) subscription.end();
    await this.wakeUp?.close();
  }

  private async replay(subscription: Subscription<E, F>, after: number, upTo: number): Promise<void> {
    try {
      // One batch at a time: the next is read once the subscriber has taken this one, so a long
      // history is never all in memory (a subscriber that stops reading holds one batch).
      let cursor = after;
      for (;;) {
        const batch = await this.source.read(this.em.fork(), { after: cursor, upTo, filter: subscription.filter, limit: EVENT_BATCH });
        for (const event of batch) subscription.push(event);
        if (batch.length < EVENT_BATCH || subscription.ended) break;
        cursor = batch[batch.length - 1]!.sequence;
        await subscription.drained();
        if (subscription.ended) break;
      }
      subscription.goLive(upTo);
    } catch (error) {
      this.logger.error({ err: error }, 'replaying job events failed');
      subscription.fail(error as Error);
    }
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(task);
    this.chain = run.catch((error) => this.logger.error({ err: error }, 'reading job events failed'));
    return run;
  }

  /** Reads everything after `lastSeen` and hands it to the subscribers. */
  private async pump(): Promise<void> {
    if (this.subscribers.size === 0) {
      this.lastSeen = Math.max(this.lastSeen, await this.source.latest(this.em.fork()));
      return;
    }
    for (;;) {
      // One read per batch of events (with their jobs), whoever listens and whatever they select.
      const batch = await this.source.read(this.em.fork(), { after: this.lastSeen, limit: EVENT_BATCH });
      for (const event of batch) {
        this.lastSeen = event.sequence;
        for (const subscription of this.subscribers) subscription.offer(event);
      }
      if (batch.length < EVENT_BATCH) return;
    }
  }
}

/**
 * One subscriber's stream: an async iterator whose `return()` ends it at once (also while a
 * `next()` is waiting), unlike an async generator suspended in an `await`.
 */
class Subscription<E extends { readonly sequence: number }, F> implements AsyncIterableIterator<E> {
  readonly filter: F;
  ended = false;
  private readonly queue: E[] = [];
  private readonly heldBack: E[] = [];
  private live = false;
  /** Live events at or below this were replayed already. */
  private floor = Number.MAX_SAFE_INTEGER;
  private waiter: { resolve: (r: IteratorResult<E>) => void; reject: (e: Error) => void } | undefined;
  /** Woken when the queue is empty (or the stream ended). */
  private onDrained: (() => void) | undefined;
  private error: Error | undefined;

  constructor(
    filter: F,
    private readonly maxBuffered: number,
    private readonly matches: (filter: F, event: E) => boolean,
    private readonly onEnd: (s: Subscription<E, F>) => void,
  ) {
    this.filter = filter;
  }

  /** A live event from the bus. */
  offer(event: E): void {
    if (this.ended || !this.matches(this.filter, event)) return;
    if (!this.live) {
      this.heldBack.push(event);
      if (this.heldBack.length > this.maxBuffered)
        this.fail(new Error(`subscriber fell more than ${this.maxBuffered} events behind; resubscribe with afterSequence`));
    } else if (event.sequence > this.floor) this.push(event);
  }

  /** Replay is over (everything up to `floor` was pushed): release the held-back live events. */
  goLive(floor: number): void {
    this.floor = floor;
    this.live = true;
    for (const event of this.heldBack.splice(0)) if (event.sequence > floor) this.push(event);
  }

  push(event: E): void {
    if (this.ended) return;
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    if (this.queue.length > this.maxBuffered)
      this.fail(new Error(`subscriber fell more than ${this.maxBuffered} events behind; resubscribe with afterSequence`));
  }

  /** Events held for the consumer, not yet taken. */
  get buffered(): number {
    return this.queue.length + this.heldBack.length;
  }

  /** Resolves once the consumer has taken every queued event (or the stream ended). */
  drained(): Promise<void> {
    if (this.queue.length === 0 || this.ended) return Promise.resolve();
    return new Promise((resolve) => (this.onDrained = resolve));
  }

  fail(error: Error): void {
    this.error = error;
    this.queue.length = 0;
    this.finish();
  }

  end(): void {
    this.finish();
  }

  next(): Promise<IteratorResult<E>> {
    const event = this.queue.shift();
    if (this.queue.length === 0) this.wakeDrained();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<E>> {
    this.queue.length = 0;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<E> {
    return this;
  }

  private wakeDrained(): void {
    const wake = this.onDrained;
    this.onDrained = undefined;
    wake?.();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.heldBack.length = 0;
    this.onEnd(this);
    this.wakeDrained();
    const waiter = this.waiter;
    this.waiter = undefined;
    if (!waiter) return;
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      waiter.reject(error);
    } else waiter.resolve({ value: undefined, done: true });
  }
}
