import type { MigrationsOptions, MikroORM } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { Migration001ApplianceTables } from '../../migrations/Migration001ApplianceTables.js';
import { Migration002FailoverJobs } from '../../migrations/Migration002FailoverJobs.js';
import { Migration003NetworkMappings } from '../../migrations/Migration003NetworkMappings.js';
import { Migration004VmDiskSpec } from '../../migrations/Migration004VmDiskSpec.js';
import { Migration005NetworkMappingsUniquePerKind } from '../../migrations/Migration005NetworkMappingsUniquePerKind.js';
import { Migration006FailoverEngine } from '../../migrations/Migration006FailoverEngine.js';
import { Migration007DashboardIndexes } from '../../migrations/Migration007DashboardIndexes.js';
import { Migration008ApiKeysAndAudit } from '../../migrations/Migration008ApiKeysAndAudit.js';
import { Migration009RecoveryPlans } from '../../migrations/Migration009RecoveryPlans.js';

/**
 * Every migration, in order, each under a fixed name (the name recorded in `mikro_orm_migrations`, so it must
 * never change). Listed explicitly: folder discovery breaks under test runners and in dist/.
 */
export const migrationsList = [
  { name: 'Migration001ApplianceTables', class: Migration001ApplianceTables },
  { name: 'Migration002FailoverJobs', class: Migration002FailoverJobs },
  { name: 'Migration003NetworkMappings', class: Migration003NetworkMappings },
  { name: 'Migration004VmDiskSpec', class: Migration004VmDiskSpec },
  { name: 'Migration005NetworkMappingsUniquePerKind', class: Migration005NetworkMappingsUniquePerKind },
  { name: 'Migration006FailoverEngine', class: Migration006FailoverEngine },
  { name: 'Migration007DashboardIndexes', class: Migration007DashboardIndexes },
  { name: 'Migration008ApiKeysAndAudit', class: Migration008ApiKeysAndAudit },
  { name: 'Migration009RecoveryPlans', class: Migration009RecoveryPlans },
];

/**
 * The ORM's `migrations` option.
 * - `transactional: false`: MariaDB commits every DDL statement implicitly, so a transaction around a migration
 *   would promise an atomicity it cannot give. Instead every migration is re-runnable (`IF [NOT] EXISTS`), so a
 *   crash between a migration's DDL and its bookkeeping row is repaired by the next run.
 * - `snapshot: false`: the migrations are hand-written SQL, not generated from a schema snapshot, so no
 *   `.snapshot-<db>.json` is read or written (by default every run that applies something writes one).
 * - `silent: true`: callers print what `migrateUp` returns.
 */
export const migrationsOptions = {
  tableName: 'mikro_orm_migrations',
  migrationsList,
  transactional: false,
  allOrNothing: false,
  snapshot: false,
  snapshotOnMigrate: false,
  silent: true,
} satisfies MigrationsOptions;

/**
 * The fragment to spread into MariaDB ORM options: `{ ...migrationConfig }` registers the `Migrator` extension
 * and sets `migrations`. (If the ORM options have other `extensions`, concatenate the arrays.)
 */
export const migrationConfig = {
  extensions: [Migrator],
  migrations: migrationsOptions,
};

/** Options of {@link migrateUp}. */
export interface MigrateUpOptions {
  /** How long to wait for another run (another instance starting at the same time) to finish. */
  lockTimeoutSeconds?: number;
}

/**
 * Applies the pending migrations; returns the names applied, in order (empty when up to date).
 *
 * Concurrent runs against one database (several instances starting at once) are serialised by a MariaDB named
 * lock, held on one pooled connection for the whole run, so each migration is applied and recorded once. The
 * ORM's pool must therefore allow at least 2 connections. Creates the database first if it does not exist.
 */
export async function migrateUp(orm: MikroORM, { lockTimeoutSeconds = 300 }: MigrateUpOptions = {}): Promise<string[]> {
  const poolMax = orm.config.get('pool')?.max;
  if (poolMax !== undefined && poolMax < 2) throw new Error(`migrateUp needs a connection pool of at least 2 (pool.max is ${poolMax})`);
  await orm.schema.ensureDatabase();
  const connection = orm.em.getConnection();
  const lockName = "CONCAT('failover-api.migrate.', MD5(DATABASE()))";
  return connection.transactional(async (lockSession) => {
    const [row] = await connection.execute(`SELECT GET_LOCK(${lockName}, ?) AS locked`, [lockTimeoutSeconds], 'all', lockSession);
    if (Number(row?.locked) !== 1) {
      throw new Error(`another migration run has held the migration lock for more than ${lockTimeoutSeconds}s`);
    }
    try {
      const applied = await orm.migrator.up();
      return applied.map((migration) => migration.name);
    } finally {
      await connection.execute(`SELECT RELEASE_LOCK(${lockName})`, [], 'all', lockSession);
    }
  });
}
