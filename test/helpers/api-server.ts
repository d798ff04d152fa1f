import 'reflect-metadata';
import type { MikroORM } from '@mikro-orm/core';
import { createOrm, prepareSchema } from '../../src/db/orm.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server/http-server.js';
import { buildAppSchema } from '../../src/server/schema.js';
import { createTestDatabase, type TestDatabase } from './mariadb.js';

/** A migrated MariaDB database and the API server on it, for one test file. */
export interface ApiHarness {
  readonly db: TestDatabase;
  readonly orm: MikroORM;
  readonly server: RunningServer;
  readonly url: string;
  readonly wsUrl: string;
  /** SQL statements the ORM ran since the last `resetStatements()`. */
  statements(): readonly string[];
  resetStatements(): void;
  close(): Promise<void>;
}

/** Creates a fresh database, migrates it, and serves the API on a free port. */
export async function startApi(prefix: string, { maxPageSize = 500 }: { maxPageSize?: number } = {}): Promise<ApiHarness> {
  const db = await createTestDatabase(prefix);
  let statements: string[] = [];
  const database = { kind: 'mariadb', url: db.url, redactedUrl: db.url } as const;
  const orm = await createOrm(database, { onQuery: (sql) => statements.push(sql) });
  await prepareSchema(orm, database);
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const server = await startServer({ schema: await buildAppSchema(), em: orm.em, logger, port: 0, maxPageSize });
  return {
    db,
    orm,
    server,
    url: server.url,
    wsUrl: server.wsUrl,
    statements: () => statements.filter((s) => /^\s*(\[query\]\s*)?(select|insert|update|delete|with)\b/i.test(s)),
    resetStatements: () => {
      statements = [];
    },
    async close() {
      await server.close();
      await orm.close();
      await db.dispose();
    },
  };
}
