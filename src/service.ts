import 'reflect-metadata';
import type { MikroORM } from '@mikro-orm/core';
import { connectCloud, type CloudConnection } from './cloud.js';
import type { Config } from './config.js';
import { createOrm, prepareSchema, type QueryListener } from './db/orm.js';
import { seedDemoData } from './demo/seed-demo-data.js';
import { EventBus } from './events/event-bus.js';
import { PLAN_WAKE_UP_CHANNEL, RedisWakeUp, WAKE_UP_CHANNEL } from './events/redis-wake-up.js';
import { Engine } from './failover/engine/engine.js';
import { FailoverService } from './failover/failover.service.js';
import { PlanCommands } from './failover/plans/plan-commands.js';
import { PlanEngine } from './failover/plans/plan-engine.js';
import { PLAN_EVENTS, type PlanEvent, type PlanEventFilter } from './events/plan-event-store.js';
import { ReadinessService } from './failover/readiness/readiness.service.js';
import type { AppServices } from './server/context.js';
import type { Logger } from './logger.js';
import { startServer } from './server/http-server.js';
import { isLoopback } from './server/origins.js';
import { buildAppSchema } from './server/schema.js';

/** The running service: what `main` started, and how to stop it. */
export interface Service {
  readonly url: string;
  readonly cloud: CloudConnection;
  readonly engine: Engine;
  readonly plans: PlanEngine;
  stop(): Promise<void>;
}

/** The failover machinery on one ORM and cloud: event buses, readiness, engines (not yet started), commands. */
export interface FailoverRuntime {
  readonly events: EventBus;
  /** The plan executions' events. */
  readonly planEvents: EventBus<PlanEvent, PlanEventFilter>;
  readonly readiness: ReadinessService;
  readonly engine: Engine;
  /** The plan executor (start it after the engine, stop it before). */
  readonly plans: PlanEngine;
  readonly failover: FailoverService;
  readonly planCommands: PlanCommands;
  /** What the API's resolvers are given. */
  readonly services: AppServices;
}

/** Wires the failover machinery, each part from the ones before it: events → readiness → engine → commands. */
export function createFailoverRuntime(
  orm: MikroORM,
  cloud: Pick<CloudConnection, 'cloudStack' | 'ids'>,
  logger: Logger,
  engine: Config['engine'],
  { readinessShareMs }: { readinessShareMs?: number } = {},
): FailoverRuntime {
  const wakeUp = (channel: string) => (engine.eventRedis ? { wakeUp: new RedisWakeUp({ ...engine.eventRedis, logger, channel }) } : {});
  const wakeUpPoll = engine.eventRedisPollIntervalMs === undefined ? {} : { wakeUpPollIntervalMs: engine.eventRedisPollIntervalMs };
  const events = new EventBus({ em: orm.em, logger, pollIntervalMs: engine.eventPollIntervalMs, ...wakeUp(WAKE_UP_CHANNEL), ...wakeUpPoll });
  const planEvents = new EventBus<PlanEvent, PlanEventFilter>({
    em: orm.em,
    logger,
    pollIntervalMs: engine.eventPollIntervalMs,
    source: PLAN_EVENTS,
    ...wakeUp(PLAN_WAKE_UP_CHANNEL),
    ...wakeUpPoll,
  });
  const readiness = new ReadinessService(orm.em, { cloudStack: cloud.cloudStack, ids: cloud.ids }, readinessShareMs);
  const worker = new Engine({
    em: orm.em,
    cloud: cloud.cloudStack,
    ids: cloud.ids,
    logger: logger.child({ component: 'engine' }),
    notify: () => events.notify(),
    checkReadiness: (plan) => readiness.forPlan(plan),
    leaseMs: engine.leaseMs,
    scanIntervalMs: engine.scanIntervalMs,
    concurrency: engine.concurrency,
  });
  const failover = new FailoverService({
    em: orm.em,
    readiness,
    logger: logger.child({ component: 'failover' }),
    notify: () => events.notify(),
    wake: () => worker.wake(),
  });
  const planEngine = new PlanEngine({
    em: orm.em,
    failover,
    engineConcurrency: engine.concurrency,
    logger: logger.child({ component: 'plans' }),
    notify: () => planEvents.notify(),
    leaseMs: engine.leaseMs,
    scanIntervalMs: engine.scanIntervalMs,
  });
  // Every job event committed, here or on another instance, may move a plan execution on.
  events.onCommitted(() => planEngine.nudge());
  const planCommands = new PlanCommands({
    em: orm.em,
    readiness,
    logger: logger.child({ component: 'plans' }),
    notify: () => planEvents.notify(),
    wake: () => planEngine.wake(),
  });
  return {
    events,
    planEvents,
    readiness,
    engine: worker,
    plans: planEngine,
    failover,
    planCommands,
    services: { failover, readiness, events, plans: planCommands, planEvents },
  };
}

/**
 * Composition root: config → ORM → schema (+ demo data) → cloud → events, engine → HTTP + WebSocket.
 * `onQuery` receives every SQL statement the service runs (the engine benchmark counts them; `main` never sets it).
 */
export async function startService(config: Config, logger: Logger, { onQuery }: { onQuery?: QueryListener } = {}): Promise<Service> {
  const orm = await createOrm(config.database, onQuery ? { onQuery } : {});
  let cloud: CloudConnection | undefined;
  let runtime: FailoverRuntime | undefined;
  try {
    const changes = await prepareSchema(orm, config.database);
    for (const change of changes) logger.info({ change }, 'schema change applied');
    if (config.demoData && (await seedDemoData(orm.em))) logger.info('demo data seeded');
    cloud = await connectCloud(config.cloud, logger, { pollBackoff: { initialMs: config.cloudPollIntervalMs, maxMs: 10_000, multiplier: 1.5 } });
    if (cloud.kind === 'simulator' && config.database.kind === 'mariadb') {
      logger.warn('CLOUDSTACK_* is not set: failovers run against the in-process CloudStack simulator, not a real cloud');
    }
    runtime = createFailoverRuntime(orm, cloud, logger, config.engine, { readinessShareMs: config.readinessShareMs });
    await runtime.events.start();
    await runtime.planEvents.start();
    const server = await startServer({
      schema: await buildAppSchema(),
      em: orm.em,
      logger,
      host: config.host,
      port: config.port,
      maxPageSize: config.maxPageSize,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      apiTokens: config.apiTokens,
      allowAnonymous: config.allowAnonymous,
      origins: { allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins },
      rateLimits: config.rateLimits,
      introspection: config.introspection,
      services: runtime.services,
      readinessProbe: async () => {
        await orm.em.getConnection().execute('SELECT 1');
      },
    });
    // Jobs a crashed instance left resume now (once their lease has run out).
    runtime.engine.start();
    runtime.plans.start();
    if (config.allowAnonymous && !isLoopback(config.host)) {
      logger.warn({ host: config.host }, 'ALLOW_ANONYMOUS=true: while no API key or token exists, anyone who can reach this address can run failovers');
    }
    const { engine, events, plans, planEvents } = runtime;
    return {
      url: server.url,
      cloud,
      engine,
      plans,
      async stop() {
        // Stop taking work first (plan executions and running jobs stop at their next step and
        // release their leases), then the API, then the subscribers, the cloud and the database.
        await plans.stop();
        await engine.stop();
        await server.close();
        await events.close();
        await planEvents.close();
        await cloud!.close();
        await orm.close();
      },
    };
  } catch (error) {
    await runtime?.events.close();
    await runtime?.planEvents.close();
    await cloud?.close();
    await orm.close();
    throw error;
  }
}
