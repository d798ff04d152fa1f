import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectForMigrations } from '../../src/cli/migrate.js';
import { migrateUp } from '../../src/db/migrations.js';
import type { SqlSession } from '../helpers/mariadb.js';

/** The repository root (this file is test/db/seed.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The six tables of the seed, the contract of the migrations. */
export const SEED_TABLES = ['cbt_history', 'failover_jobs', 'network_mappings', 'ossea_volumes', 'replication_jobs', 'vm_disks'];

/**
 * The failover engine's own tables (Migration006FailoverEngine), in name order. Additive: the seed tables are
 * untouched, so a migrated database holds SEED_TABLES, ENGINE_TABLES and `mikro_orm_migrations`.
 */
export const ENGINE_TABLES = ['failover_executions', 'failover_job_events', 'failover_ledger', 'failover_sequences'];

/** The dashboard's own index of VMs and its counter (Migration007DashboardIndexes), in name order. */
export const DASHBOARD_TABLES = ['vm_directory', 'vm_directory_totals'];

/** Access control's own tables (Migration008ApiKeysAndAudit), in name order. Additive too. */
export const ACCESS_TABLES = ['api_keys', 'audit_log'];

/** Recovery plans' own tables (Migration009RecoveryPlans), in name order. Additive too. */
export const PLAN_TABLES = [
  'idempotency_keys',
  'plan_execution_events',
  'plan_execution_vms',
  'plan_execution_waves',
  'plan_executions',
  'recovery_plan_vms',
  'recovery_plan_waves',
  'recovery_plans',
];

/** Every table of a fully migrated database, in name order: the seed's, the engine's, the dashboard's, access control's, the plans', and the bookkeeping table. */
export const MIGRATED_TABLES = [...SEED_TABLES, ...ENGINE_TABLES, ...DASHBOARD_TABLES, ...ACCESS_TABLES, ...PLAN_TABLES, 'mikro_orm_migrations'].sort();

/** The tables of a database migrated up to Migration006FailoverEngine. */
export const TABLES_UP_TO_006 = [...SEED_TABLES, ...ENGINE_TABLES, 'mikro_orm_migrations'].sort();

/** The four appliance tables that exist before the failover extension. */
export const APPLIANCE_TABLES = ['cbt_history', 'ossea_volumes', 'replication_jobs', 'vm_disks'];

/** The ten VM-spec columns the failover extension adds to `vm_disks`, with the values existing rows get. */
export const SPEC_COLUMN_DEFAULTS: Record<string, unknown> = {
  cpu_count: 0,
  memory_mb: 0,
  os_type: '',
  vm_tools_version: '',
  network_config: null,
  display_name: '',
  annotation: null,
  power_state: '',
  vmware_uuid: '',
  bios_setup: null,
};

function requireFile(path: string, what: string, variable: string): string {
  if (!existsSync(path)) {
    throw new Error(`${what} is missing: not found at ${path}. The tests read it from ../shared/seed/ beside the repository; set ${variable} to its path`);
  }
  return readFileSync(path, 'utf8');
}

/** Where the seed DDL is: `SEED_SCHEMA_SQL`, else `../shared/seed/seed_schema.sql` beside the repository. */
export function seedSchemaPath(): string {
  return resolve(process.env.SEED_SCHEMA_SQL ?? resolve(repoRoot, '../shared/seed/seed_schema.sql'));
}

/** The seed DDL, verbatim (read at run time, never copied into the project). */
export function readSeedSql(): string {
  return requireFile(seedSchemaPath(), 'The seed DDL (seed_schema.sql)', 'SEED_SCHEMA_SQL');
}

/** The seed's schema document: `SEED_SCHEMA_DOC`, else `failover-database-schema.md` beside the seed DDL. */
export function readSeedDoc(): string {
  const path = resolve(process.env.SEED_SCHEMA_DOC ?? resolve(dirname(seedSchemaPath()), 'failover-database-schema.md'));
  return requireFile(path, 'The seed schema document (failover-database-schema.md)', 'SEED_SCHEMA_DOC');
}

/** The example `INSERT` statements of the seed's schema document, verbatim (each ending with `;`), in document order. */
export function seedExampleInserts(): { table: string; sql: string }[] {
  const inserts = [...readSeedDoc().matchAll(/^INSERT INTO (\w+)[\s\S]*?\n\);/gm)];
  return inserts.map((match) => ({ table: match[1]!, sql: match[0] }));
}

/** The seed's `CREATE TABLE` statements, verbatim (each ending with `;`), by table name. */
export function seedCreateStatements(): Map<string, string> {
  const statements = new Map<string, string>();
  for (const match of readSeedSql().matchAll(/^CREATE TABLE (\w+) \([\s\S]*?\n\);/gm)) statements.set(match[1]!, match[0]);
  return statements;
}

/**
 * The appliance's four tables as they were before the failover extension: the seed's DDL of them, with
 * `vm_disks` stripped of the ten VM-spec columns (and, with `withoutVmDiskIndexes`, of its three indexes too,
 * like an older appliance). Statements end with `;`.
 */
export function preExtensionApplianceDdl({ withoutVmDiskIndexes = false } = {}): string {
  const statements = seedCreateStatements();
  const spec = new Set(Object.keys(SPEC_COLUMN_DEFAULTS));
  return APPLIANCE_TABLES.map((table) => {
    const ddl = statements.get(table);
    if (!ddl) throw new Error(`the seed DDL has no CREATE TABLE ${table}`);
    if (table !== 'vm_disks') return ddl;
    let lines = ddl.split('\n').filter((line) => !spec.has(line.trim().split(/\s+/)[0]!));
    if (withoutVmDiskIndexes) lines = lines.filter((line) => !/^\s*INDEX /.test(line));
    // The last column definition keeps its comma only if something follows it.
    const body = lines.join('\n').replace(/,(\s*(--[^\n]*\n\s*)*)\);$/, '$1);');
    return body;
  }).join('\n');
}

/** Applies the migrations to the database `url` names, through the same code as `npm run db:migrate`. */
export async function migrate(url: string): Promise<string[]> {
  const orm = await connectForMigrations(url);
  try {
    return await migrateUp(orm);
  } finally {
    await orm.close(true);
  }
}

/** What information_schema says about some tables (by default the six seed tables) of one database. */
export interface SchemaDescription {
  tables: Record<string, unknown>[];
  columns: Record<string, unknown>[];
  indexes: Record<string, unknown>[];
  /** `SHOW CREATE TABLE`, with the AUTO_INCREMENT counter removed. */
  createTable: Record<string, string>;
}

/**
 * Reads the schema of `tables` of `database`: by default the six seed tables (the migrations' bookkeeping table
 * and the engine's tables are left out), the contract the seed comparison checks.
 */
export async function describeSchema(sql: SqlSession, database: string, tables: string[] = SEED_TABLES): Promise<SchemaDescription> {
  const tableRows = await sql.query(
    `SELECT TABLE_NAME, ENGINE, TABLE_COLLATION, ROW_FORMAT, CREATE_OPTIONS, TABLE_COMMENT
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?) ORDER BY TABLE_NAME`,
    [database, tables],
  );
  const columns = await sql.query(
    `SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA,
            CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_COMMENT, GENERATION_EXPRESSION
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?)
      ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [database, tables],
  );
  const indexes = await sql.query(
    `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, COLLATION, NULLABLE, INDEX_TYPE,
            PACKED, INDEX_COMMENT
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?)
      ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [database, tables],
  );
  const createTable: Record<string, string> = {};
  for (const table of tableRows.map((row) => String(row.TABLE_NAME))) {
    const [row] = await sql.query<Record<string, string>>(`SHOW CREATE TABLE \`${database}\`.\`${table}\``);
    if (row) createTable[table] = row['Create Table']!.replace(/ AUTO_INCREMENT=\d+/, '');
  }
  return { tables: tableRows, columns, indexes, createTable };
}

/** Every row of `table`, ordered by its primary key. */
export async function rowsOf(sql: SqlSession, table: string): Promise<Record<string, unknown>[]> {
  return sql.query(`SELECT * FROM \`${table}\` ORDER BY id`);
}
