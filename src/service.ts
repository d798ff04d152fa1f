import 'reflect-metadata';
import { connectCloud, type CloudConnection } from './cloudstack/connect.js';
import type { Config } from './config.js';
import { createOrm, prepareSchema } from './db/orm.js';
import { seedDemoData } from './demo/seed-demo-data.js';
import type { Logger } from './logger.js';
import { startServer } from './server/http-server.js';
import { buildAppSchema } from './server/schema.js';

/** The running service: what `main` started, and how to stop it. */
export interface Service {
  readonly url: string;
  readonly cloud: CloudConnection;
  stop(): Promise<void>;
}

/** Composition root: config → ORM → schema (+ demo data) → cloud → HTTP + WebSocket. */
export async function startService(config: Config, logger: Logger): Promise<Service> {
  const orm = await createOrm(config.database);
  let cloud: CloudConnection | undefined;
  try {
    const changes = await prepareSchema(orm, config.database);
    for (const change of changes) logger.info({ change }, 'schema change applied');
    if (config.demoData && (await seedDemoData(orm.em))) logger.info('demo data seeded');
    cloud = await connectCloud(config.cloud, logger);
    if (cloud.kind === 'simulator' && config.database.kind === 'mariadb') {
      logger.warn('CLOUDSTACK_* is not set: failovers run against the in-process CloudStack simulator, not a real cloud');
    }
    const server = await startServer({
      schema: await buildAppSchema(),
      em: orm.em,
      logger,
      host: config.host,
      port: config.port,
      maxPageSize: config.maxPageSize,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      apiTokens: config.apiTokens,
      readinessProbe: async () => {
        await orm.em.getConnection().execute('SELECT 1');
      },
    });
    if (config.apiTokens.length === 0 && !['127.0.0.1', '::1', 'localhost'].includes(config.host)) {
      logger.warn({ host: config.host }, 'API_TOKENS is not set: anyone who can reach this address can change mappings and run failovers');
    }
    return {
      url: server.url,
      cloud,
      async stop() {
        await server.close();
        await cloud!.close();
        await orm.close();
      },
    };
  } catch (error) {
    await cloud?.close();
    await orm.close();
    throw error;
  }
}
