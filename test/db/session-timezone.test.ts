import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrm, prepareSchema } from '../../src/db/orm.js';
import { ReplicationJob } from '../../src/entities/index.js';
import { createTestDatabase, openSql, type TestDatabase } from '../helpers/mariadb.js';
import type { MikroORM } from '@mikro-orm/core';

let db: TestDatabase;
let orm: MikroORM;
beforeAll(async () => {
  db = await createTestDatabase('session_tz');
  const database = { kind: 'mariadb', url: db.url, redactedUrl: db.url } as const;
  orm = await createOrm(database);
  await prepareSchema(orm, database);
});
afterAll(async () => {
  await orm?.close();
  await db?.dispose();
});

describe('MariaDB sessions run in UTC', () => {
  it('sets the session time zone on every pooled connection', async () => {
    const rows = await Promise.all(Array.from({ length: 4 }, () => orm.em.getConnection().execute('SELECT @@session.time_zone AS tz')));
    expect(rows.map((r) => (r as { tz: string }[])[0]!.tz)).toEqual(['+00:00', '+00:00', '+00:00', '+00:00']);
  });

  it('reads a TIMESTAMP the appliance wrote (DEFAULT CURRENT_TIMESTAMP) as the right instant, whatever the writer session zone', async () => {
    // Another writer, in a session far from UTC, lets the column default fill created_at.
    const writer = await openSql(db.url);
    try {
      await writer.query("SET time_zone = '+09:00'");
      await writer.query("INSERT INTO replication_jobs (id, source_vm_id, source_vm_name, source_vm_path, vcenter_host, datacenter) VALUES ('tz-1', 'vm', 'vm', '/p', 'vc', 'dc')");
    } finally {
      await writer.close();
    }
    const job = await orm.em.fork().findOneOrFail(ReplicationJob, { id: 'tz-1' });
    expect(Math.abs(job.createdAt!.getTime() - Date.now())).toBeLessThan(60_000);
  });
});
