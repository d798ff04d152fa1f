import { afterAll, expect, test } from 'vitest';
import { connectForMigrations } from '../../src/cli/migrate.js';
import { migrateUp } from '../../src/db/migrations.js';
import { createTestDatabase, openSql, type TestDatabase } from '../helpers/mariadb.js';
import { describeSchema } from './seed.js';

/** Migration008ApiKeysAndAudit: re-runnable, and its down() never drops an audit log with records in it. */
const disposers: TestDatabase[] = [];
afterAll(async () => {
  for (const db of disposers) await db.dispose();
});

test('up() re-run is harmless; down() refuses while audit_log holds a record, keeps everything, and drops its tables and columns once empty', async () => {
  const db = await createTestDatabase('m008');
  disposers.push(db);
  const orm = await connectForMigrations(db.url);
  const sql = await openSql(db.url);
  try {
    await migrateUp(orm);
    const tables = ['api_keys', 'audit_log', 'failover_executions', 'failover_job_events'];
    const migrated = await describeSchema(sql, db.name, tables);
    await sql.query(`INSERT INTO audit_log (occurred_at, actor, transport, operation, outcome) VALUES (NOW(3), 'ops', 'http', 'startTestFailover', 'ok')`);
    // A run interrupted between 008's DDL and its bookkeeping row applies it again.
    await sql.query(`DELETE FROM mikro_orm_migrations WHERE name = 'Migration008ApiKeysAndAudit'`);
    expect(await migrateUp(orm)).toEqual(['Migration008ApiKeysAndAudit']);
    expect(await describeSchema(sql, db.name, tables)).toEqual(migrated);

    await expect(orm.migrator.down()).rejects.toThrow(/^Migration008ApiKeysAndAudit\.down: audit_log holds 1 row\(s\); refusing to drop the audit log$/);
    expect(await sql.query('SELECT actor FROM audit_log')).toEqual([{ actor: 'ops' }]);
    await sql.query('DELETE FROM audit_log');
    expect((await orm.migrator.down()).map((m) => m.name)).toEqual(['Migration008ApiKeysAndAudit']);
    const left = await sql.query<{ TABLE_NAME: string; COLUMN_NAME: string }>(
      `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND (TABLE_NAME IN ('api_keys', 'audit_log') OR (TABLE_NAME LIKE 'failover_%' AND COLUMN_NAME LIKE '%requested_by'))`,
      [db.name],
    );
    expect(left).toEqual([]);
  } finally {
    await sql.close();
    await orm.close(true);
  }
});
