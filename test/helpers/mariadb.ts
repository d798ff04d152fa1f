import { randomBytes } from 'node:crypto';
import { MikroORM } from '@mikro-orm/mariadb';

/** The MariaDB server the tests use (no database in the path). */
export const TEST_MARIADB_URL = process.env.TEST_MARIADB_URL ?? 'mariadb://root@127.0.0.1:3306';

/** A raw SQL session on one database: for fixtures and for reading `information_schema`. */
export interface SqlSession {
  /** Runs one statement (or several, separated by `;`) and returns the rows of the (last) result. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Closes the connection pool. */
  close(): Promise<void>;
}

/** A fresh database on the test server, dropped by `dispose()`. */
export interface TestDatabase {
  /** The database name (unique per call). */
  name: string;
  /** `mariadb://…/<name>`: what `DATABASE_URL` would be. */
  url: string;
  /** Drops the database. Safe to call twice. */
  dispose(): Promise<void>;
}

/** `base` with its path replaced by `/<database>`. */
export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Opens a raw SQL session through MikroORM's own connection (an ORM with no entities), so the tests need no
 * driver package of their own. Multiple statements per call are allowed: a DDL file loads in one call.
 */
export async function openSql(url: string): Promise<SqlSession> {
  const orm = await MikroORM.init({
    clientUrl: url,
    discovery: { warnWhenNoEntities: false },
    multipleStatements: true,
    debug: false,
    pool: { min: 0, max: 2 },
  });
  const connection = orm.em.getConnection();
  return {
    async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
      const result: unknown = await connection.execute(sql, params, 'all');
      if (!Array.isArray(result)) return [];
      // With several statements, mysql2 returns one result per statement: keep the last row set.
      const last: unknown = result.length > 0 && Array.isArray(result[result.length - 1]) ? result[result.length - 1] : result;
      return last as T[];
    },
    close: () => orm.close(true),
  };
}

/**
 * Creates a fresh, uniquely named database on the server at `TEST_MARIADB_URL`; every test file uses its own.
 * The name is `t_<prefix>_<pid>_<random>`, so parallel test files and leftovers of earlier runs never collide.
 * Without `charset`/`collation` the database gets the server's defaults, as a production database would.
 */
export async function createTestDatabase(prefix: string, { charset, collation }: { charset?: string; collation?: string } = {}): Promise<TestDatabase> {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40);
  const name = `t_${clean}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = await openSql(databaseUrl(TEST_MARIADB_URL, 'information_schema'));
  try {
    const options = [charset && `CHARACTER SET ${charset}`, collation && `COLLATE ${collation}`].filter(Boolean).join(' ');
    await admin.query(`CREATE DATABASE \`${name}\` ${options}`);
  } finally {
    await admin.close();
  }
  let disposed = false;
  return {
    name,
    url: databaseUrl(TEST_MARIADB_URL, name),
    async dispose() {
      if (disposed) return;
      disposed = true;
      const session = await openSql(databaseUrl(TEST_MARIADB_URL, 'information_schema'));
      try {
        await session.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await session.close();
      }
    },
  };
}
