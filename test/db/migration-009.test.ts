import { afterAll, expect, test } from 'vitest';
import { connectForMigrations } from '../../src/cli/migrate.js';
import { migrateUp } from '../../src/db/migrations.js';
import { createTestDatabase, openSql, type TestDatabase } from '../helpers/mariadb.js';
import { describeSchema, PLAN_TABLES } from './seed.js';

/** Migration009RecoveryPlans: re-runnable, and its down() never drops plans or their history. */
const disposers: TestDatabase[] = [];
afterAll(async () => {
  for (const db of disposers) await db.dispose();
});

test('up() re-run is harmless (the counter kept); down() refuses while a plan exists, and drops its tables, column and counter once empty', async () => {
  const db = await createTestDatabase('m009');
  disposers.push(db);
  const orm = await connectForMigrations(db.url);
  const sql = await openSql(db.url);
  try {
    await migrateUp(orm);
    const tables = [...PLAN_TABLES, 'failover_executions'];
    const migrated = await describeSchema(sql, db.name, tables);
    await sql.query(
      `INSERT INTO recovery_plans (name, name_lock, max_in_flight, failure_policy, revision, created_at, updated_at) VALUES ('app', 'app', 10, 'halt', 1, NOW(3), NOW(3))`,
    );
    await sql.query(`UPDATE failover_sequences SET value = 5 WHERE name = 'plan_execution_events'`);
    // A run interrupted between 009's DDL and its bookkeeping row applies it again.
    await sql.query(`DELETE FROM mikro_orm_migrations WHERE name = 'Migration009RecoveryPlans'`);
    expect(await migrateUp(orm)).toEqual(['Migration009RecoveryPlans']);
    expect(await describeSchema(sql, db.name, tables)).toEqual(migrated);
    expect(await sql.query(`SELECT value FROM failover_sequences WHERE name = 'plan_execution_events'`)).toEqual([{ value: 5 }]);

    await expect(orm.migrator.down()).rejects.toThrow(/^Migration009RecoveryPlans\.down: recovery_plans holds 1 row\(s\); refusing to drop the plans' tables$/);
    expect(await sql.query('SELECT name FROM recovery_plans')).toEqual([{ name: 'app' }]);
    await sql.query('DELETE FROM recovery_plans');
    expect((await orm.migrator.down()).map((m) => m.name)).toEqual(['Migration009RecoveryPlans']);
    const left = await sql.query<{ TABLE_NAME: string }>(
      `SELECT TABLE_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND (TABLE_NAME IN (${PLAN_TABLES.map(() => '?').join(', ')}) OR COLUMN_NAME = 'plan_execution_id')`,
      [db.name, ...PLAN_TABLES],
    );
    expect(left).toEqual([]);
    expect(await sql.query(`SELECT name FROM failover_sequences`)).toEqual([{ name: 'failover_job_events' }]);
  } finally {
    await sql.close();
    await orm.close(true);
  }
});
