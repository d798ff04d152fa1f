import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import type { DatabaseConfig } from '../../src/config.js';
import type { ApiToken } from '../../src/roles.js';
import type { TransportLimits } from '../../src/server/transport-limits.js';
import type { OriginPolicyOptions } from '../../src/server/origins.js';
import type { RateLimitSettings } from '../../src/server/rate-limits.js';
import { createOrm, prepareSchema } from '../../src/db/orm.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server/http-server.js';
import { buildAppSchema } from '../../src/server/schema.js';
import { createTestDatabase } from './mariadb.js';
import { testServices, type TestServices } from './services.js';

/** Budgets no test file reaches. */
const UNLIMITED: RateLimitSettings = { mutations: 1_000_000, cloudQueries: 1_000_000, windowSeconds: 60 };

/** The two databases the service runs on. */
export type DatabaseKind = 'mariadb' | 'sqlite';
export const DATABASE_KINDS: readonly DatabaseKind[] = ['mariadb', 'sqlite'];

/** A fresh database of either kind, and how to get rid of it. */
async function freshDatabase(kind: DatabaseKind, prefix: string): Promise<{ config: DatabaseConfig; dispose(): Promise<void> }> {
  if (kind === 'mariadb') {
    const db = await createTestDatabase(prefix);
    return { config: { kind, url: db.url, redactedUrl: db.url }, dispose: () => db.dispose() };
  }
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { config: { kind, file: join(dir, 'test.sqlite') }, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh database with its schema up to date, and the ORM on it. */
export interface MigratedDatabase {
  readonly orm: MikroORM;
  readonly config: DatabaseConfig;
  /** Closes the ORM and drops the database. */
  close(): Promise<void>;
}

/** Creates a fresh database (MariaDB unless told), connects the ORM and brings the schema up. */
export async function openMigratedDatabase(
  prefix: string,
  { kind = 'mariadb', onQuery }: { kind?: DatabaseKind; onQuery?: (sql: string) => void } = {},
): Promise<MigratedDatabase> {
  const db = await freshDatabase(kind, prefix);
  const orm = await createOrm(db.config, onQuery ? { onQuery } : {});
  try {
    await prepareSchema(orm, db.config);
  } catch (error) {
    await orm.close();
    await db.dispose();
    throw error;
  }
  return {
    orm,
    config: db.config,
    async close() {
      await orm.close();
      await db.dispose();
    },
  };
}

/** A fresh, migrated database and the API server on it, for one test file. */
export interface ApiHarness {
  readonly kind: DatabaseKind;
  readonly orm: MikroORM;
  /** The database the server runs on (for a CLI run against the same one). */
  readonly database: DatabaseConfig;
  readonly server: RunningServer;
  readonly url: string;
  readonly wsUrl: string;
  /** The real services behind the API (the engine not started), over the simulator's API layer in this process. */
  readonly services: TestServices;
  /** SQL statements the ORM ran since the last `resetStatements()`. */
  statements(): readonly string[];
  resetStatements(): void;
  close(): Promise<void>;
}

/** Creates a fresh database (MariaDB unless told), brings its schema up, and serves the API on a free port. */
export async function startApi(
  prefix: string,
  {
    maxPageSize = 500,
    kind = 'mariadb',
    apiTokens = [],
    introspection = false,
    maxResponseBytes,
    transportLimits,
    origins,
    rateLimits,
    readinessShareMs,
    keyRecheckIntervalMs,
  }: {
    maxPageSize?: number;
    kind?: DatabaseKind;
    apiTokens?: readonly ApiToken[];
    introspection?: boolean;
    maxResponseBytes?: number;
    transportLimits?: Partial<TransportLimits>;
    origins?: OriginPolicyOptions;
    rateLimits?: RateLimitSettings;
    readinessShareMs?: number;
    keyRecheckIntervalMs?: number;
  } = {},
): Promise<ApiHarness> {
  let statements: string[] = [];
  const db = await openMigratedDatabase(prefix, { kind, onQuery: (sql) => statements.push(sql) });
  const { orm } = db;
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const services = await testServices(orm, logger, undefined, readinessShareMs === undefined ? {} : { readinessShareMs });
  const server = await startServer({
    schema: await buildAppSchema(),
    em: orm.em,
    logger,
    port: 0,
    maxPageSize,
    apiTokens,
    introspection,
    ...(maxResponseBytes === undefined ? {} : { maxResponseBytes }),
    ...(transportLimits === undefined ? {} : { transportLimits }),
    ...(origins === undefined ? {} : { origins }),
    // Test files make many requests from one caller: the budgets are the test's to set.
    rateLimits: rateLimits ?? UNLIMITED,
    ...(keyRecheckIntervalMs === undefined ? {} : { keyRecheckIntervalMs }),
    services: services.runtime.services,
  });
  return {
    kind,
    orm,
    database: db.config,
    server,
    url: server.url,
    wsUrl: server.wsUrl,
    services,
    // Not counted: the authenticator's key recheck, which runs on a timer every second whatever the
    // request (a request that happens to overlap it would otherwise seem to cost one statement more).
    statements: () =>
      statements.filter(
        (s) => /^\s*(\[query\]\s*)?(select|insert|update|delete|with)\b/i.test(s) && !/from `api_keys` as `a0` where `a0`.`revoked_at` is null/i.test(s),
      ),
    resetStatements: () => {
      statements = [];
    },
    async close() {
      await server.close();
      await services.close();
      await db.close();
    },
  };
}
