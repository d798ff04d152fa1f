import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectForMigrations } from '../../src/cli/migrate.js';
import { migrateUp, migrationsList } from '../../src/db/migrations.js';
import { createTestDatabase, openSql, type SqlSession, type TestDatabase } from '../helpers/mariadb.js';
import {
  ACCESS_TABLES,
  PLAN_TABLES,
  APPLIANCE_TABLES,
  describeSchema,
  DASHBOARD_TABLES,
  ENGINE_TABLES,
  migrate,
  MIGRATED_TABLES,
  preExtensionApplianceDdl,
  readSeedSql,
  rowsOf,
  SEED_TABLES,
  seedExampleInserts,
  TABLES_UP_TO_006,
} from './seed.js';

/** Every migration's name, in order, as recorded in `mikro_orm_migrations`. */
const ALL_MIGRATIONS = migrationsList.map((migration) => migration.name);

/** The tables the migrations create: the seed's, the engine's and access control's (the bookkeeping table aside). */
const SCHEMA_TABLES = [...SEED_TABLES, ...ENGINE_TABLES, ...DASHBOARD_TABLES, ...ACCESS_TABLES, ...PLAN_TABLES];

/** The migrations up to the engine's, which the tests of Migration006 run on their own. */
const UP_TO_006 = ALL_MIGRATIONS.slice(0, ALL_MIGRATIONS.indexOf('Migration006FailoverEngine') + 1);

/** Re-running, the seed's own example rows, and `down()`. */
describe('migrations: idempotence, seed examples, down()', () => {
  const disposers: (() => Promise<void>)[] = [];
  let sql: SqlSession;

  async function freshDatabase(prefix: string): Promise<TestDatabase> {
    const db = await createTestDatabase(prefix);
    disposers.push(() => db.dispose());
    return db;
  }

  async function tablesOf(database: string): Promise<string[]> {
    const rows = await sql.query<{ TABLE_NAME: string }>('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [
      database,
    ]);
    return rows.map((row) => row.TABLE_NAME).sort(); // JS order, as the expectations are built (not the collation's)
  }

  /** The rows of `failover_sequences` of `database` (the counter as a number). */
  async function sequencesOf(database: string): Promise<{ name: string; value: number }[]> {
    const rows = await sql.query<{ name: string; value: unknown }>(`SELECT name, value FROM \`${database}\`.failover_sequences ORDER BY name`);
    return rows.map((row) => ({ name: row.name, value: Number(row.value) }));
  }

  /** Inserts one `failover_executions` row (a job the engine holds) into `database`. */
  async function insertExecution(database: string, jobId: string): Promise<void> {
    await sql.query(
      `INSERT INTO \`${database}\`.failover_executions (job_id, vm_id, vm_lock, flow, phase, created_at, updated_at)
       VALUES (?, 'vm-1', 'vm-1', 'test_failover', 'running', NOW(3), NOW(3))`,
      [jobId],
    );
  }

  beforeAll(async () => {
    const admin = await freshDatabase('idem_admin');
    sql = await openSql(admin.url);
  });

  afterAll(async () => {
    await sql?.close();
    for (const dispose of disposers.reverse()) await dispose();
  });

  test('a second run applies nothing and changes nothing', async () => {
    const db = await freshDatabase('idem_twice');
    expect(await migrate(db.url)).toEqual(ALL_MIGRATIONS);
    const once = await describeSchema(sql, db.name, SCHEMA_TABLES);

    expect(await migrate(db.url)).toEqual([]);

    expect(await describeSchema(sql, db.name, SCHEMA_TABLES)).toEqual(once);
    const log = await rowsOf(sql, `${db.name}\`.\`mikro_orm_migrations`);
    expect(log.map((row) => row.name)).toEqual(ALL_MIGRATIONS);
    expect(await tablesOf(db.name)).toEqual(MIGRATED_TABLES);
    expect(await sequencesOf(db.name)).toEqual([
      { name: 'failover_job_events', value: 0 },
      { name: 'plan_execution_events', value: 0 },
    ]);
  });

  test('concurrent runs (instances starting at once) apply and record each migration once', async () => {
    const db = await freshDatabase('idem_concurrent');
    const orms = await Promise.all([1, 2, 3].map(() => connectForMigrations(db.url)));
    try {
      const runs = await Promise.all(orms.map((orm) => migrateUp(orm)));
      expect(runs.map((names) => names.length).sort()).toEqual([0, 0, ALL_MIGRATIONS.length]);
      expect(runs.find((names) => names.length > 0)).toEqual(ALL_MIGRATIONS);
    } finally {
      for (const orm of orms) await orm.close(true);
    }
    expect((await rowsOf(sql, `${db.name}\`.\`mikro_orm_migrations`)).map((row) => row.name)).toEqual(ALL_MIGRATIONS);
    expect(await sequencesOf(db.name)).toEqual([
      { name: 'failover_job_events', value: 0 },
      { name: 'plan_execution_events', value: 0 },
    ]);
  });

  test('a run that cannot get the migration lock in time fails with a clear message and applies nothing', async () => {
    const db = await freshDatabase('idem_locked');
    const holder = await openSql(db.url);
    const orm = await connectForMigrations(db.url);
    try {
      expect(await holder.query("SELECT GET_LOCK(CONCAT('failover-api.migrate.', MD5(DATABASE())), 0) AS locked")).toEqual([{ locked: 1 }]);
      await expect(migrateUp(orm, { lockTimeoutSeconds: 0 })).rejects.toThrow('another migration run has held the migration lock for more than 0s');
      expect(await tablesOf(db.name)).toEqual([]);
      await holder.close();
      expect(await migrateUp(orm, { lockTimeoutSeconds: 5 })).toEqual(ALL_MIGRATIONS);
    } finally {
      await holder.close().catch(() => undefined);
      await orm.close(true);
    }
  });

  test('the seed document example INSERTs all succeed after migration (live AND test mapping for VM Network)', async () => {
    const db = await freshDatabase('idem_examples');
    await migrate(db.url);
    const examples = seedExampleInserts();
    expect(examples.map((insert) => insert.table)).toEqual(['failover_jobs', 'failover_jobs', 'network_mappings', 'network_mappings', 'vm_disks']);
    const session = await openSql(db.url);
    try {
      for (const insert of examples) await session.query(insert.sql);
      const mappings = await session.query('SELECT vm_id, source_network_name, is_test_network FROM network_mappings ORDER BY id');
      expect(mappings).toEqual([
        { vm_id: '4205a841-0265-f4bd-39a6-39fd92196f53', source_network_name: 'VM Network', is_test_network: 0 },
        { vm_id: '4205a841-0265-f4bd-39a6-39fd92196f53', source_network_name: 'VM Network', is_test_network: 1 },
      ]);
      expect(await session.query('SELECT job_type, status FROM failover_jobs ORDER BY id')).toEqual([
        { job_type: 'test', status: 'pending' },
        { job_type: 'live', status: 'completed' },
      ]);
      const [disk] = await session.query('SELECT cpu_count, memory_mb, os_type, vm_tools_version, sync_status FROM vm_disks');
      expect(disk).toEqual({ cpu_count: 2, memory_mb: 4096, os_type: 'windows2019srv_64', vm_tools_version: '', sync_status: 'pending' });

      // The widened index still rejects a second mapping of the same kind.
      await expect(session.query(examples[3]!.sql)).rejects.toThrow(/Duplicate entry .* for key 'idx_network_mappings_unique'/);
    } finally {
      await session.close();
    }
  });

  test("on the seed's own schema its second example mapping is rejected (why Migration005 exists)", async () => {
    const db = await freshDatabase('idem_seed_only');
    const session = await openSql(db.url);
    try {
      await session.query(readSeedSql());
      const mappings = seedExampleInserts().filter((insert) => insert.table === 'network_mappings');
      await session.query(mappings[0]!.sql);
      await expect(session.query(mappings[1]!.sql)).rejects.toThrow(/Duplicate entry/);
    } finally {
      await session.close();
    }
  });

  test('down() to the start leaves the appliance tables as before the extension; up again converges', async () => {
    const db = await freshDatabase('idem_down');
    const reference = await freshDatabase('idem_down_ref');
    const refSession = await openSql(reference.url);
    await refSession.query(preExtensionApplianceDdl());
    await refSession.close();

    const orm = await connectForMigrations(db.url);
    try {
      expect(await migrateUp(orm)).toEqual(ALL_MIGRATIONS);
      const migrated = await describeSchema(sql, db.name, SCHEMA_TABLES);
      await sql.query(
        `INSERT INTO \`${db.name}\`.replication_jobs (id, source_vm_id, source_vm_name, source_vm_path, vcenter_host, datacenter) VALUES ('j1', 'vm', 'n', '/p', 'vc', 'dc')`,
      );

      const reverted = await orm.migrator.down({ to: 0 });
      expect(reverted.map((migration) => migration.name)).toEqual([...ALL_MIGRATIONS].reverse());
      expect(await tablesOf(db.name)).toEqual([...APPLIANCE_TABLES, 'mikro_orm_migrations'].sort());
      const appliance = (schema: Awaited<ReturnType<typeof describeSchema>>) => ({
        columns: schema.columns,
        indexes: schema.indexes,
        createTable: schema.createTable,
      });
      expect(appliance(await describeSchema(sql, db.name))).toEqual(appliance(await describeSchema(sql, reference.name)));
      expect(await rowsOf(sql, `${db.name}\`.\`replication_jobs`)).toHaveLength(1);

      expect(await migrateUp(orm)).toEqual(ALL_MIGRATIONS);
      expect(await describeSchema(sql, db.name, SCHEMA_TABLES)).toEqual(migrated);
      expect(await tablesOf(db.name)).toEqual(MIGRATED_TABLES);
    } finally {
      await orm.close(true);
    }
  });

  test('down() refuses, and keeps everything, where reverting would lose data', async () => {
    const db = await freshDatabase('idem_down_refuses');
    const orm = await connectForMigrations(db.url);
    try {
      await migrateUp(orm);
      const session = await openSql(db.url);
      try {
        for (const insert of seedExampleInserts()) await session.query(insert.sql);
      } finally {
        await session.close();
      }
      // 006 and the ones after it: the engine's tables and the audit log are empty here, so they go.
      expect((await orm.migrator.down({ to: 'Migration005NetworkMappingsUniquePerKind' })).map((m) => m.name)).toEqual(
        ALL_MIGRATIONS.slice(UP_TO_006.length - 1).reverse(),
      );
      // 005: a live and a test mapping of 'VM Network' cannot live under the 2-column index.
      await expect(orm.migrator.down()).rejects.toThrow(/Migration005NetworkMappingsUniquePerKind\.down: 1 source network/);
      await sql.query(`DELETE FROM \`${db.name}\`.network_mappings WHERE is_test_network`);
      expect((await orm.migrator.down()).map((m) => m.name)).toEqual(['Migration005NetworkMappingsUniquePerKind']);
      // 004: the example disk holds a VM spec.
      await expect(orm.migrator.down()).rejects.toThrow(/Migration004VmDiskSpec\.down: 1 vm_disks row\(s\) hold VM specifications/);
      await sql.query(
        `UPDATE \`${db.name}\`.vm_disks SET cpu_count = 0, memory_mb = 0, os_type = '', display_name = '', power_state = '', network_config = NULL`,
      );
      expect((await orm.migrator.down()).map((m) => m.name)).toEqual(['Migration004VmDiskSpec']);
      // 003 and 002: their tables hold rows.
      await expect(orm.migrator.down()).rejects.toThrow(/network_mappings holds 1 row/);
      await sql.query(`DELETE FROM \`${db.name}\`.network_mappings`);
      await orm.migrator.down();
      await expect(orm.migrator.down()).rejects.toThrow(/failover_jobs holds 2 row/);
      expect(await rowsOf(sql, `${db.name}\`.\`failover_jobs`)).toHaveLength(2);
      expect(await rowsOf(sql, `${db.name}\`.\`vm_disks`)).toHaveLength(1);
      const executed = await orm.migrator.getExecuted();
      expect(executed.map((row) => row.name)).toEqual(['Migration001ApplianceTables', 'Migration002FailoverJobs']);
    } finally {
      await orm.close(true);
    }
  });

  test("Migration006's down() refuses, and drops nothing, while failover_executions holds a job; drops its four tables once empty", async () => {
    const db = await freshDatabase('idem_down_006');
    const orm = await connectForMigrations(db.url);
    try {
      expect((await orm.migrator.up({ to: 'Migration006FailoverEngine' })).map((m) => m.name)).toEqual(UP_TO_006);
      const migrated = await describeSchema(sql, db.name, SCHEMA_TABLES);
      await insertExecution(db.name, 'job-1');
      await sql.query(`UPDATE \`${db.name}\`.failover_sequences SET value = 7 WHERE name = 'failover_job_events'`);

      await expect(orm.migrator.down()).rejects.toThrow(
        /^Migration006FailoverEngine\.down: failover_executions holds 1 row\(s\); refusing to drop the engine's tables$/,
      );
      expect(await tablesOf(db.name)).toEqual(TABLES_UP_TO_006);
      expect(await describeSchema(sql, db.name, SCHEMA_TABLES)).toEqual(migrated);
      expect((await sql.query(`SELECT job_id FROM \`${db.name}\`.failover_executions`)).map((row) => row.job_id)).toEqual(['job-1']);
      expect(await sequencesOf(db.name)).toEqual([{ name: 'failover_job_events', value: 7 }]);
      expect((await orm.migrator.getExecuted()).map((row) => row.name)).toEqual(UP_TO_006);

      await sql.query(`DELETE FROM \`${db.name}\`.failover_executions`);
      expect((await orm.migrator.down()).map((m) => m.name)).toEqual(['Migration006FailoverEngine']);
      expect(await tablesOf(db.name)).toEqual([...SEED_TABLES, 'mikro_orm_migrations'].sort());
      expect((await orm.migrator.getExecuted()).map((row) => row.name)).toEqual(UP_TO_006.slice(0, -1));

      // Up again: the four tables come back as before, the counter seeded afresh.
      expect((await orm.migrator.up({ to: 'Migration006FailoverEngine' })).map((m) => m.name)).toEqual(['Migration006FailoverEngine']);
      expect(await describeSchema(sql, db.name, SCHEMA_TABLES)).toEqual(migrated);
      expect(await sequencesOf(db.name)).toEqual([{ name: 'failover_job_events', value: 0 }]);
    } finally {
      await orm.close(true);
    }
  });

  test("Migration006's up() re-run over its own tables is harmless: no duplicate counter row, the counter and the rows kept", async () => {
    const db = await freshDatabase('idem_rerun_006');
    const orm = await connectForMigrations(db.url);
    try {
      expect((await orm.migrator.up({ to: 'Migration006FailoverEngine' })).map((m) => m.name)).toEqual(UP_TO_006);
      const migrated = await describeSchema(sql, db.name, SCHEMA_TABLES);
      await sql.query(`UPDATE \`${db.name}\`.failover_sequences SET value = 42 WHERE name = 'failover_job_events'`);
      await insertExecution(db.name, 'job-1');
      // A run interrupted between 006's DDL and its bookkeeping row: the next run applies 006 again.
      await sql.query(`DELETE FROM \`${db.name}\`.mikro_orm_migrations WHERE name = 'Migration006FailoverEngine'`);

      expect((await orm.migrator.up({ to: 'Migration006FailoverEngine' })).map((m) => m.name)).toEqual(['Migration006FailoverEngine']);

      expect(await sequencesOf(db.name)).toEqual([{ name: 'failover_job_events', value: 42 }]);
      expect((await sql.query(`SELECT job_id FROM \`${db.name}\`.failover_executions`)).map((row) => row.job_id)).toEqual(['job-1']);
      expect(await describeSchema(sql, db.name, SCHEMA_TABLES)).toEqual(migrated);
      expect(await tablesOf(db.name)).toEqual(TABLES_UP_TO_006);
      expect((await orm.migrator.getExecuted()).map((row) => row.name)).toEqual(UP_TO_006);
    } finally {
      await orm.close(true);
    }
  });
});
