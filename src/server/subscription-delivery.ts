import type { EntityManager } from '@mikro-orm/core';
import { createSourceEventStream, execute, subscribe, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';
import type { Logger } from '../logger.js';
import { createLoaders, type Loaders } from '../services/loaders.js';
import type { Context } from './context.js';

/** The close code of a WebSocket that does not read what it is sent fast enough (IANA: Try Again Later). */
export const SLOW_CONSUMER_CLOSE_CODE = 1013;

/** Options of {@link SubscriptionDelivery}. */
export interface SubscriptionDeliveryOptions {
  /** The ORM's root EntityManager: each event's execution gets loaders on a fork of it. */
  readonly em: EntityManager;
  /** A result as it goes on the wire (errors formatted, size guarded), serialised. */
  readonly serialise: (result: ExecutionResult) => string;
  /** A socket whose unsent data grows over this many bytes is closed ({@link SLOW_CONSUMER_CLOSE_CODE}). */
  readonly maxBufferedBytes: number;
  readonly logger: Logger;
}

/** Where a subscription's results go: the socket and the client's id of the operation. */
export interface DeliveryTarget {
  readonly socket: WebSocket;
  readonly id: string;
  /** The operation as the client sent it. */
  readonly query: string;
}

/**
 * Delivers subscription results so that the work per event does not grow with the subscribers.
 *
 * Subscribers whose operation, variables and role are the same form a group: each event is executed
 * once per group (with loaders made for that event, shared by every group) and serialised once; each
 * subscriber's socket gets the same bytes with its own operation id, written at once rather than
 * waiting for the previous write to flush, so one slow reader never holds up the others. A socket
 * whose unsent data grows over `maxBufferedBytes` is closed with {@link SLOW_CONSUMER_CLOSE_CODE} and
 * its subscriptions end at once (their queued events are dropped; the client resubscribes with
 * `afterSequence`).
 *
 * graphql-ws still runs the protocol: it calls {@link subscribe} (its `subscribe` option), keeps the
 * operation, sends `complete` or `error` when the stream this returns ends; the stream itself yields
 * nothing, the results go straight to the socket.
 */
export class SubscriptionDelivery {
  private readonly targets = new WeakMap<ExecutionArgs, DeliveryTarget>();
  private readonly groups = new Map<string, Group>();
  private readonly sockets = new WeakMap<WebSocket, Set<DirectStream>>();
  private readonly loaders = new WeakMap<object, Loaders>();

  constructor(private readonly options: SubscriptionDeliveryOptions) {}

  /** Remembers where the results of the operation `args` describes go (graphql-ws's onSubscribe). */
  register(args: ExecutionArgs, target: DeliveryTarget): ExecutionArgs {
    this.targets.set(args, target);
    return args;
  }

  /** graphql-ws's `subscribe`: a registered operation is delivered here, any other by graphql-js. */
  readonly subscribe = async (args: ExecutionArgs): Promise<AsyncIterableIterator<never> | ExecutionResult | AsyncGenerator<ExecutionResult>> => {
    const target = this.targets.get(args);
    if (!target) return subscribe(args);
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const context = args.contextValue as Context;
    const key = JSON.stringify([context.principal?.role ?? null, args.operationName ?? null, target.query, args.variableValues ?? null]);
    let group = this.groups.get(key);
    if (!group) {
      group = new Group(args, (event) => this.contextFor(context, event), this.options.serialise);
      this.groups.set(key, group);
    }
    group.members++;
    const streams = this.sockets.get(target.socket) ?? new Set<DirectStream>();
    this.sockets.set(target.socket, streams);
    const stream = new DirectStream(source[Symbol.asyncIterator](), group, target, (s) => {
      streams.delete(s);
      if (--group.members === 0 && this.groups.get(key) === group) this.groups.delete(key);
    });
    streams.add(stream);
    stream.start(this.options.maxBufferedBytes, (socket) => this.slowConsumer(socket));
    return stream;
  };

  /** Subscription groups alive (for tests and the bench). */
  get groupCount(): number {
    return this.groups.size;
  }

  /** One event's context: the subscriber's, with loaders made for this event (shared by every group). */
  private contextFor(context: Context, event: object): Context {
    let loaders = this.loaders.get(event);
    if (!loaders) {
      loaders = createLoaders(this.options.em.fork());
      this.loaders.set(event, loaders);
    }
    return { ...context, loaders };
  }

  /** Closes a socket that does not keep up, and ends its subscriptions now (their memory goes with them). */
  private slowConsumer(socket: WebSocket): void {
    if (socket.readyState !== socket.OPEN) return;
    this.options.logger.warn({ bufferedBytes: socket.bufferedAmount }, 'closing a WebSocket that does not read its events: slow consumer');
    socket.close(SLOW_CONSUMER_CLOSE_CODE, `Slow consumer: over ${this.options.maxBufferedBytes} bytes unread; resubscribe with afterSequence`);
    for (const stream of [...(this.sockets.get(socket) ?? [])]) void stream.return();
  }
}

/** Subscribers with the same operation, variables and role: each event is executed and serialised once for all. */
class Group {
  members = 0;
  private readonly results = new WeakMap<object, Promise<string>>();

  constructor(
    private readonly args: ExecutionArgs,
    private readonly contextFor: (event: object) => Context,
    private readonly serialise: (result: ExecutionResult) => string,
  ) {}

  /** The serialised `next` payload of one event (executed by the first member that asks). */
  payload(event: object): Promise<string> {
    let result = this.results.get(event);
    if (!result) {
      result = Promise.resolve(execute({ ...this.args, rootValue: event, contextValue: this.contextFor(event) })).then(this.serialise);
      this.results.set(event, result);
    }
    return result;
  }
}

/**
 * One subscriber: pulls its events, sends each group payload to its socket. To graphql-ws it is an
 * iterator that yields nothing and ends when the subscription does (or throws what the source threw).
 */
class DirectStream implements AsyncIterableIterator<never> {
  private ended = false;
  private readonly prefix: string;
  private settle!: { resolve: (r: IteratorResult<never>) => void; reject: (e: unknown) => void };
  private readonly finished: Promise<IteratorResult<never>>;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly group: Group,
    private readonly target: DeliveryTarget,
    private readonly onEnd: (s: DirectStream) => void,
  ) {
    this.prefix = `{"id":${JSON.stringify(target.id)},"type":"next","payload":`;
    this.finished = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // graphql-ws awaits it; an error that comes before it does is not an unhandled rejection.
    this.finished.catch(() => {});
  }

  start(maxBufferedBytes: number, onSlow: (socket: WebSocket) => void): void {
    void (async () => {
      const { socket } = this.target;
      try {
        for (;;) {
          const next = await this.source.next();
          if (next.done || this.ended) break;
          const payload = await this.group.payload(next.value as object);
          if (this.ended || socket.readyState !== socket.OPEN) break;
          socket.send(`${this.prefix}${payload}}`);
          if (socket.bufferedAmount > maxBufferedBytes) onSlow(socket);
        }
        this.end();
        this.settle.resolve({ value: undefined, done: true });
      } catch (error) {
        this.end();
        this.settle.reject(error);
      }
    })();
  }

  next(): Promise<IteratorResult<never>> {
    return this.finished;
  }

  async return(): Promise<IteratorResult<never>> {
    this.end();
    this.settle.resolve({ value: undefined, done: true });
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<never>> {
    this.end();
    this.settle.reject(error);
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<never> {
    return this;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    void this.source.return?.();
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
