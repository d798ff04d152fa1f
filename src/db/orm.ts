import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MikroORM, type Options as FullOptions } from '@mikro-orm/core';

type Options = Partial<FullOptions>;
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { MariaDbDriver } from '@mikro-orm/mariadb';
import { NodeSqliteDialect, SqliteDriver } from '@mikro-orm/sql';
import type { DatabaseConfig } from '../config.js';
import { ENTITIES } from '../entities/index.js';
import { SQLITE_VM_DIRECTORY, VM_DIRECTORY_TRIGGERS } from '../../migrations/Migration007DashboardIndexes.js';
import { migrateUp, migrationConfig } from './migrations.js';

/** Receives every SQL statement the ORM runs (tests count them; benchmarks too). */
export type QueryListener = (sql: string) => void;

export interface CreateOrmOptions {
  /** Called with each SQL statement, after it ran. */
  onQuery?: QueryListener;
  /** Connection pool size (MariaDB). */
  poolMax?: number;
}

/** The part of a new pooled connection that `onCreateConnection` needs (the SQL dialect's connection). */
interface NewConnection {
  executeQuery(query: { sql: string; parameters: readonly unknown[] }): Promise<unknown>;
}

/** Runs on every new MariaDB connection: the session's time zone is UTC, whatever the server's is. */
async function setSessionUtc(connection: unknown): Promise<void> {
  await (connection as NewConnection).executeQuery({ sql: "SET time_zone = '+00:00'", parameters: [] });
}

/** The ORM options for a database, without connecting. */
export function ormOptions(database: DatabaseConfig, { onQuery, poolMax = 10 }: CreateOrmOptions = {}): Options {
  const common: Options = {
    entities: ENTITIES,
    metadataProvider: ReflectMetadataProvider,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    // The only triggers are Migration007's (on MariaDB) and their SQLite twins (prepareSchema): written as SQL, not
    // declared on the entities, so the schema diff must never drop them.
    schemaGenerator: { ignoreTriggers: true },
    ...(onQuery ? { debug: ['query'], logger: (message: string) => onQuery(message), colors: false } : {}),
  };
  if (database.kind === 'mariadb') {
    return {
      ...common,
      ...migrationConfig,
      driver: MariaDbDriver,
      clientUrl: database.url,
      // `timezone` only tells the driver how to read the strings it gets; the session must also
      // be UTC, or TIMESTAMP columns (stored in UTC) come back in the server's zone, shifted.
      timezone: '+00:00',
      onCreateConnection: setSessionUtc,
      pool: { min: 0, max: poolMax },
    };
  }
  return { ...common, driver: SqliteDriver, dbName: database.file, driverOptions: new NodeSqliteDialect(database.file) };
}

/** Connects the ORM (creating the SQLite file's folder when needed). */
export async function createOrm(database: DatabaseConfig, options: CreateOrmOptions = {}): Promise<MikroORM> {
  if (database.kind === 'sqlite' && database.file !== ':memory:') mkdirSync(dirname(database.file), { recursive: true });
  return MikroORM.init(ormOptions(database, options));
}

/**
 * Brings the schema up to date: MariaDB through the migrations (the seed's DDL and its additive
 * extensions), the embedded SQLite file from the entities (additive only). Returns what changed.
 */
export async function prepareSchema(orm: MikroORM, database: DatabaseConfig): Promise<string[]> {
  if (database.kind === 'mariadb') return migrateUp(orm);
  const changed: string[] = [];
  const sql = await orm.schema.getUpdateSchemaSQL({ safe: true, wrap: false });
  if (sql.trim() !== '') {
    await orm.schema.update({ safe: true });
    changed.push('sqlite schema updated from the entities');
  }
  // The triggers that keep vm_directory exact (Migration007's, in SQLite's dialect); the first time, the backfill.
  const connection = orm.em.getConnection();
  const [installed] = await connection.execute(`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'vm_directory_%'`);
  if (Number(installed?.n ?? 0) < VM_DIRECTORY_TRIGGERS.length) {
    await connection.transactional(async (trx) => {
      for (const statement of SQLITE_VM_DIRECTORY) await connection.execute(statement, [], 'run', trx);
    });
    changed.push('sqlite vm_directory triggers installed');
  }
  return changed;
}
