import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import { redact } from '../redact.js';

/**
 * What the event bus needs of a wake-up channel between instances: a way to say "I committed
 * events" and to hear that another instance did. It carries no events: the database is the source
 * of truth, and a wake-up only makes the bus read it sooner than its next poll.
 */
export interface WakeUpChannel {
  /** Connects; `wake` is called when another instance committed events, `health` when hearing them starts or stops working. */
  start(handlers: { wake(): void; health(up: boolean): void }): void;
  /** Tells the other instances that this one committed events (after the commit). Never throws. */
  publish(): void;
  /** Closes the connections. */
  close(): Promise<void>;
}

/** The Redis channel the wake-ups go on (every instance of one database must use the same). */
export const WAKE_UP_CHANNEL = 'failover-api:job-events';
/** The channel of the plan executions' events (a bus of its own). */
export const PLAN_WAKE_UP_CHANNEL = 'failover-api:plan-events';

/** Options of {@link RedisWakeUp}. */
export interface RedisWakeUpOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). */
  readonly url: string;
  /** The same URL with its password replaced, for log lines. */
  readonly redactedUrl: string;
  readonly logger: Logger;
  readonly channel?: string;
}

/** Reconnect backoff: 100 ms, 200 ms, … up to 2 s between attempts, for ever. */
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2_000);

/**
 * Wake-ups over Redis pub/sub: two connections (a subscribed connection cannot publish), each
 * reconnecting on its own after Redis restarts or the network drops.
 *
 * A wake-up is lost when Redis is away, and the bus must not depend on any one arriving:
 * - the subscriber re-subscribes after every reconnect and only then reports itself healthy; the
 *   bus reads at that moment, which picks up whatever was committed while it heard nothing;
 * - a publish that fails (Redis away) is sent once more when the publisher is connected again,
 *   so the other instances do not wait for their poll;
 * - while the subscription is down the bus polls at its normal interval, and while it is up at a
 *   slower one: the safety net for a message lost in a way neither side noticed.
 * Duplicate or stray wake-ups cost one read at most: the bus reads from the last sequence it
 * delivered, so they can never deliver an event twice.
 *
 * Log lines name the server by its redacted URL; ioredis's messages are scrubbed of the password too.
 */
export class RedisWakeUp implements WakeUpChannel {
  private readonly instance = randomUUID();
  private readonly channel: string;
  private readonly logger: Logger;
  private publisher: Redis | undefined;
  private subscriber: Redis | undefined;
  /** A publish failed: send one when the publisher is back. */
  private owed = false;
  private listening = false;
  private closed = false;
  /** Connections whose error is already logged since they were last healthy (repeats go to debug). */
  private readonly failing = new Set<string>();

  constructor(private readonly options: RedisWakeUpOptions) {
    this.channel = options.channel ?? WAKE_UP_CHANNEL;
    this.logger = options.logger.child({ component: 'events-redis', redis: options.redactedUrl });
  }

  start({ wake, health }: { wake(): void; health(up: boolean): void }): void {
    const base: RedisOptions = {
      retryStrategy,
      connectTimeout: 5_000,
      // The subscription is renewed by hand on 'ready', so that "healthy" means subscribed.
      autoResubscribe: false,
      // Commands fail at once while disconnected instead of queueing: a wake-up that cannot be sent now is owed.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    };
    const publisher = new Redis(this.options.url, { ...base, connectionName: 'failover-api-events-pub' });
    const subscriber = new Redis(this.options.url, { ...base, connectionName: 'failover-api-events-sub' });
    this.publisher = publisher;
    this.subscriber = subscriber;

    publisher.on('error', (error: Error) => this.logError('publisher', error));
    publisher.on('ready', () => {
      this.recovered('publisher');
      if (this.owed) this.publish();
    });

    subscriber.on('error', (error: Error) => this.logError('subscriber', error));
    subscriber.on('ready', () => {
      subscriber.subscribe(this.channel).then(
        () => {
          if (this.closed) return;
          this.recovered('subscriber');
          this.listening = true;
          health(true);
        },
        (error: Error) => this.logError('subscriber', error),
      );
    });
    subscriber.on('close', () => {
      if (!this.listening) return;
      this.listening = false;
      if (!this.closed) {
        this.logger.warn('Redis wake-ups lost: polling for other instances’ events at the normal interval until Redis is back');
        health(false);
      }
    });
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel && message !== this.instance) wake();
    });
  }

  publish(): void {
    const publisher = this.publisher;
    if (!publisher || this.closed) return;
    if (publisher.status !== 'ready') {
      this.owed = true;
      return;
    }
    this.owed = false;
    publisher.publish(this.channel, this.instance).catch((error: Error) => {
      this.owed = true;
      this.logError('publisher', error);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.publisher, this.subscriber].map((connection) => connection && quit(connection)));
  }

  private logError(connection: string, error: Error): void {
    if (this.closed) return;
    const message = redact(error.message, this.options.url);
    const first = !this.failing.has(connection);
    this.failing.add(connection);
    this.logger[first ? 'warn' : 'debug']({ connection, error: message, code: (error as { code?: string }).code }, 'Redis connection error');
  }

  private recovered(connection: string): void {
    if (this.failing.delete(connection)) this.logger.info({ connection }, 'Redis connection is back');
  }
}

/** Closes a connection politely when it is up, at once otherwise. */
async function quit(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await connection.quit();
      return;
    } catch {
      // fall through: drop it
    }
  }
  connection.disconnect();
}
