import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase, openSql, type SqlSession, type TestDatabase } from '../helpers/mariadb.js';
import { describeSchema, migrate, readSeedSql, SEED_TABLES, type SchemaDescription } from './seed.js';

/**
 * The migrations reproduce the seed DDL: the seed is loaded into one fresh database, the migrations run into
 * another, and information_schema of the two must agree for the six tables, but for the one intended change of
 * Migration005 (the unique index of network_mappings gains is_test_network).
 */

/** The one intended difference: the seed's 2-column unique index, widened to 3 columns under the same name. */
function withMigration005(seed: SchemaDescription): SchemaDescription {
  const third = seed.indexes.find((row) => row.TABLE_NAME === 'network_mappings' && row.INDEX_NAME === 'idx_network_mappings_unique' && row.SEQ_IN_INDEX === 2);
  if (!third) throw new Error('the seed has no 2-column idx_network_mappings_unique');
  const added = { ...third, SEQ_IN_INDEX: 3, COLUMN_NAME: 'is_test_network', NULLABLE: 'YES' };
  const indexes = [...seed.indexes];
  indexes.splice(indexes.indexOf(third) + 1, 0, added);
  const createTable = { ...seed.createTable };
  createTable.network_mappings = createTable.network_mappings!.replace(
    'UNIQUE KEY `idx_network_mappings_unique` (`vm_id`,`source_network_name`)',
    'UNIQUE KEY `idx_network_mappings_unique` (`vm_id`,`source_network_name`,`is_test_network`)',
  );
  return { ...seed, indexes, createTable };
}

// The server's default character set, and one the migrations must not assume: they inherit the database's
// default exactly as the seed DDL does (neither names a charset).
for (const charset of [undefined, 'latin1']) {
  describe(`migrated schema vs seed DDL (${charset ? `database charset ${charset}` : 'server default charset'})`, () => {
    let seedDb: TestDatabase;
    let migratedDb: TestDatabase;
    let sql: SqlSession;
    let seed: SchemaDescription;
    let migrated: SchemaDescription;

    beforeAll(async () => {
      seedDb = await createTestDatabase('match_seed', { charset });
      migratedDb = await createTestDatabase('match_migrated', { charset });
      const seedSession = await openSql(seedDb.url);
      try {
        await seedSession.query(readSeedSql());
      } finally {
        await seedSession.close();
      }
      await migrate(migratedDb.url);
      sql = await openSql(seedDb.url);
      seed = await describeSchema(sql, seedDb.name);
      migrated = await describeSchema(sql, migratedDb.name);
    });

    afterAll(async () => {
      await sql?.close();
      await seedDb?.dispose();
      await migratedDb?.dispose();
    });

    test('both databases hold the six seed tables', () => {
      expect(seed.tables.map((row) => row.TABLE_NAME)).toEqual(SEED_TABLES);
      expect(migrated.tables.map((row) => row.TABLE_NAME)).toEqual(SEED_TABLES);
    });

    test('table options (engine, collation, row format) are equal', () => {
      expect(migrated.tables).toEqual(seed.tables);
      if (charset) for (const row of migrated.tables) expect(row.TABLE_COLLATION).toMatch(new RegExp(`^${charset}_`));
    });

    test('every column is equal: name, position, type, nullability, default, extra, charset, collation', () => {
      expect(seed.columns.length).toBe(16 + 8 + 27 + 11 + 6 + 9);
      expect(migrated.columns).toEqual(seed.columns);
    });

    test('every index is equal but for the 3-column unique index of network_mappings', () => {
      expect(migrated.indexes).toEqual(withMigration005(seed).indexes);
    });

    test('the one difference, precisely: idx_network_mappings_unique is unique on (vm_id, source_network_name, is_test_network)', () => {
      const unique = (schema: SchemaDescription) =>
        schema.indexes
          .filter((row) => row.TABLE_NAME === 'network_mappings' && row.INDEX_NAME === 'idx_network_mappings_unique')
          .map((row) => [row.NON_UNIQUE, row.SEQ_IN_INDEX, row.COLUMN_NAME, row.SUB_PART]);
      expect(unique(seed)).toEqual([
        [0, 1, 'vm_id', null],
        [0, 2, 'source_network_name', null],
      ]);
      expect(unique(migrated)).toEqual([
        [0, 1, 'vm_id', null],
        [0, 2, 'source_network_name', null],
        [0, 3, 'is_test_network', null],
      ]);
      const key = (row: Record<string, unknown>) => JSON.stringify(row);
      const seedKeys = new Set(seed.indexes.map(key));
      const migratedKeys = new Set(migrated.indexes.map(key));
      expect(seed.indexes.filter((row) => !migratedKeys.has(key(row)))).toEqual([]);
      expect(
        migrated.indexes.filter((row) => !seedKeys.has(key(row))).map((row) => [row.TABLE_NAME, row.INDEX_NAME, row.SEQ_IN_INDEX, row.COLUMN_NAME]),
      ).toEqual([['network_mappings', 'idx_network_mappings_unique', 3, 'is_test_network']]);
    });

    test('the job_id(255) prefix index of vm_disks is reproduced', () => {
      const prefix = migrated.indexes.find((row) => row.INDEX_NAME === 'idx_vm_disks_job_id');
      expect(prefix).toMatchObject({ TABLE_NAME: 'vm_disks', COLUMN_NAME: 'job_id', SUB_PART: 255, NON_UNIQUE: 1 });
    });

    test('SHOW CREATE TABLE is identical, but for the unique index line of network_mappings', () => {
      expect(migrated.createTable).toEqual(withMigration005(seed).createTable);
    });
  });
}
