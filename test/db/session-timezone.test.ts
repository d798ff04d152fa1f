import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicationJob } from '../../src/entities/index.js';
import { openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';
import { openSql } from '../helpers/mariadb.js';

let db: MigratedDatabase;
beforeAll(async () => {
  db = await openMigratedDatabase('session_tz');
});
afterAll(() => db?.close());

describe('MariaDB sessions run in UTC', () => {
  it('sets the session time zone on every pooled connection', async () => {
    const rows = await Promise.all(Array.from({ length: 4 }, () => db.orm.em.getConnection().execute('SELECT @@session.time_zone AS tz')));
    expect(rows.map((r) => (r as { tz: string }[])[0]!.tz)).toEqual(['+00:00', '+00:00', '+00:00', '+00:00']);
  });

  it('reads a TIMESTAMP the appliance wrote (DEFAULT CURRENT_TIMESTAMP) as the right instant, whatever the writer session zone', async () => {
    // Another writer, in a session far from UTC, lets the column default fill created_at.
    if (db.config.kind !== 'mariadb') throw new Error('this test runs on MariaDB');
    const writer = await openSql(db.config.url);
    try {
      await writer.query("SET time_zone = '+09:00'");
      await writer.query(
        "INSERT INTO replication_jobs (id, source_vm_id, source_vm_name, source_vm_path, vcenter_host, datacenter) VALUES ('tz-1', 'vm', 'vm', '/p', 'vc', 'dc')",
      );
    } finally {
      await writer.close();
    }
    const job = await db.orm.em.fork().findOneOrFail(ReplicationJob, { id: 'tz-1' });
    expect(Math.abs(job.createdAt!.getTime() - Date.now())).toBeLessThan(60_000);
  });
});
