import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, openSql, type SqlSession, type TestDatabase } from '../helpers/mariadb.js';
import {
  APPLIANCE_TABLES,
  describeSchema,
  DASHBOARD_TABLES,
  ENGINE_TABLES,
  migrate,
  preExtensionApplianceDdl,
  readSeedSql,
  rowsOf,
  SEED_TABLES,
  seedExampleInserts,
  SPEC_COLUMN_DEFAULTS,
  type SchemaDescription,
} from './seed.js';

/**
 * Adoption: an existing appliance database (the four appliance tables, vm_disks without the VM-spec columns, with
 * rows) is migrated to the same final schema as a fresh database, and every row is kept.
 */

const ALL_MIGRATIONS = [
  'Migration001ApplianceTables',
  'Migration002FailoverJobs',
  'Migration003NetworkMappings',
  'Migration004VmDiskSpec',
  'Migration005NetworkMappingsUniquePerKind',
  'Migration006FailoverEngine',
  'Migration007DashboardIndexes',
  'Migration008ApiKeysAndAudit',
  'Migration009RecoveryPlans',
];

/** The tables whose schema an adopted database must share with a fresh one: the seed's and the engine's. */
const SCHEMA_TABLES = [...SEED_TABLES, ...ENGINE_TABLES, ...DASHBOARD_TABLES];

/** Rows an appliance would hold: two VMs, one with two disks; explicit timestamps so nothing depends on the clock. */
const APPLIANCE_ROWS = `
INSERT INTO replication_jobs (id, source_vm_id, source_vm_name, source_vm_path, vcenter_host, datacenter, status, created_at, updated_at) VALUES
  ('job-a-1', 'vm-a', 'alpha', '/DC1/vm/alpha', 'vcenter.local', 'DC1', 'completed', '2025-08-01 10:00:00', '2025-08-01 11:00:00'),
  ('job-b-1', 'vm-b', 'bravo', '/DC1/vm/bravo', 'vcenter.local', 'DC1', 'replicating', '2025-08-02 10:00:00', '2025-08-02 10:30:00');
INSERT INTO ossea_volumes (id, volume_id, volume_name, size_gb, ossea_config_id, volume_type, device_path, mount_point, status, created_at, updated_at) VALUES
  (7, 'a1b2c3d4-0000-4000-8000-000000000001', 'alpha-root', 40, 1, 'ROOT', '/dev/vdb', NULL, 'attached', '2025-08-01 10:01:00', '2025-08-01 10:02:00'),
  (8, 'a1b2c3d4-0000-4000-8000-000000000002', 'alpha-data', 100, 1, 'DATADISK', '/dev/vdc', '/mnt/x', 'attached', '2025-08-01 10:01:00', '2025-08-01 10:02:00'),
  (9, 'a1b2c3d4-0000-4000-8000-000000000003', 'bravo-root', 20, NULL, NULL, NULL, NULL, DEFAULT, '2025-08-02 10:01:00', '2025-08-02 10:01:00');
INSERT INTO vm_disks (id, job_id, disk_id, vm_dk_path, size_gb, datastore, unit_number, label, capacity_bytes, provisioning_type, ossea_volume_id, disk_change_id, sync_status, sync_progress_percent, bytes_synced, created_at, updated_at) VALUES
  (11, 'job-a-1', 'disk-2000', '[ds1] alpha/alpha.vmdk', 40, 'ds1', 0, 'Hard disk 1', 42949672960, 'thin', 7, '52 3c 1a/5', 'completed', 100, 42949672960, '2025-08-01 10:00:01.123', '2025-08-01 11:00:00.456'),
  (12, 'job-a-1', 'disk-2001', '[ds1] alpha/alpha_1.vmdk', 100, 'ds1', 1, 'Hard disk 2', 107374182400, 'thick', 8, NULL, 'completed', 99.5, 1, '2025-08-01 10:00:01.000', NULL),
  (13, 'job-b-1', 'disk-2000', '[ds2] bravo/bravo.vmdk', 20, NULL, NULL, NULL, NULL, NULL, 9, NULL, DEFAULT, DEFAULT, DEFAULT, NULL, NULL);
INSERT INTO cbt_history (id, job_id, change_id, sync_success, bytes_synced, created_at) VALUES
  (21, 'job-a-1', '52 3c 1a/5', TRUE, 42949672960, '2025-08-01 11:00:00'),
  (22, 'job-b-1', NULL, DEFAULT, DEFAULT, '2025-08-02 10:00:00')`;

describe('adopting an existing appliance database', () => {
  const disposers: (() => Promise<void>)[] = [];
  let sql: SqlSession;
  let fresh: SchemaDescription;

  /** A new database holding `ddl` (and `rows`), with the session on it closed again. */
  async function databaseWith(prefix: string, ddl: string, rows?: string): Promise<TestDatabase> {
    const db = await createTestDatabase(prefix);
    disposers.push(() => db.dispose());
    const session = await openSql(db.url);
    try {
      await session.query(ddl);
      if (rows) await session.query(rows);
    } finally {
      await session.close();
    }
    return db;
  }

  beforeAll(async () => {
    const freshDb = await createTestDatabase('adopt_fresh');
    disposers.push(() => freshDb.dispose());
    await migrate(freshDb.url);
    sql = await openSql(freshDb.url);
    fresh = await describeSchema(sql, freshDb.name, SCHEMA_TABLES);
  });

  afterAll(async () => {
    await sql?.close();
    for (const dispose of disposers.reverse()) await dispose();
  });

  test('the pre-extension appliance tables with rows: same final schema, every row kept, spec columns defaulted', async () => {
    const db = await databaseWith('adopt_appliance', preExtensionApplianceDdl(), APPLIANCE_ROWS);
    const vmDiskColumns = await sql.query(
      `SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'vm_disks' ORDER BY ORDINAL_POSITION`,
      [db.name],
    );
    expect(vmDiskColumns).toHaveLength(17); // the fixture really lacks the ten spec columns
    const before: Record<string, Record<string, unknown>[]> = {};
    for (const table of APPLIANCE_TABLES) before[table] = await rowsOf(sql, `${db.name}\`.\`${table}`);

    expect(await migrate(db.url)).toEqual(ALL_MIGRATIONS);

    expect(await describeSchema(sql, db.name, SCHEMA_TABLES)).toEqual(fresh);
    expect(fresh.tables.map((row) => String(row.TABLE_NAME)).sort()).toEqual([...SCHEMA_TABLES].sort());
    for (const table of ['replication_jobs', 'ossea_volumes', 'cbt_history']) {
      expect(await rowsOf(sql, `${db.name}\`.\`${table}`), table).toEqual(before[table]);
    }
    const disks = await rowsOf(sql, `${db.name}\`.\`vm_disks`);
    expect(disks).toEqual(before.vm_disks!.map((row) => ({ ...row, ...SPEC_COLUMN_DEFAULTS })));
    expect(before.replication_jobs).toHaveLength(2);
    expect(before.ossea_volumes).toHaveLength(3);
    expect(before.vm_disks).toHaveLength(3);
    expect(before.cbt_history).toHaveLength(2);
  });

  test('an older appliance whose vm_disks also lacks its three indexes converges too', async () => {
    const db = await databaseWith('adopt_noidx', preExtensionApplianceDdl({ withoutVmDiskIndexes: true }), APPLIANCE_ROWS);
    const indexes = await sql.query(`SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'vm_disks'`, [
      db.name,
    ]);
    expect(indexes).toEqual([{ INDEX_NAME: 'PRIMARY' }]);

    await migrate(db.url);

    expect(await describeSchema(sql, db.name, SCHEMA_TABLES)).toEqual(fresh);
    expect(await rowsOf(sql, `${db.name}\`.\`vm_disks`)).toHaveLength(3);
  });

  test('a database already on the full seed schema, with the seed example rows, is adopted as it is', async () => {
    // The seed's own example rows violate its 2-column unique index (a live AND a test mapping for 'VM Network'),
    // so only the live one of those can exist in a seed-schema database.
    const examples = seedExampleInserts();
    const liveMapping = examples.findIndex((insert) => insert.table === 'network_mappings');
    const inserts = examples.filter((insert, i) => insert.table !== 'network_mappings' || i === liveMapping);
    expect(examples[liveMapping]!.sql).toMatch(/FALSE\s*\);$/);
    const db = await databaseWith('adopt_seed', readSeedSql(), [`${APPLIANCE_ROWS};`, ...inserts.map((insert) => insert.sql)].join('\n'));
    const before: Record<string, Record<string, unknown>[]> = {};
    for (const table of SEED_TABLES) before[table] = await rowsOf(sql, `${db.name}\`.\`${table}`);
    expect(before.failover_jobs).toHaveLength(2);
    expect(before.network_mappings).toHaveLength(1);

    expect(await migrate(db.url)).toEqual(ALL_MIGRATIONS);

    expect(await describeSchema(sql, db.name, SCHEMA_TABLES)).toEqual(fresh);
    for (const table of SEED_TABLES) expect(await rowsOf(sql, `${db.name}\`.\`${table}`), table).toEqual(before[table]);
  });
});
