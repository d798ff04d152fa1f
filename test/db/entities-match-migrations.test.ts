import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { MikroORM } from '@mikro-orm/mariadb';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { migrateUp, migrationConfig, migrationsList } from '../../src/db/migrations.js';
import { ENTITIES } from '../../src/entities/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/mariadb.js';

/**
 * DESIGN §2: the migrations are hand-written SQL, so the entities must agree with what they produce: MikroORM's
 * schema diff of the entities against a migrated database is empty.
 */
let db: TestDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await createTestDatabase('entities_diff');
  orm = await MikroORM.init({
    clientUrl: db.url,
    entities: ENTITIES,
    metadataProvider: ReflectMetadataProvider,
    debug: false,
    ...migrationConfig,
  });
});

afterAll(async () => {
  await orm?.close(true);
  await db?.dispose();
});

test("the entities' schema diff against a migrated database is empty", async () => {
  expect(await migrateUp(orm)).toEqual(migrationsList.map((migration) => migration.name));
  expect(await orm.schema.getUpdateSchemaSQL({ wrap: false })).toBe('');
});
