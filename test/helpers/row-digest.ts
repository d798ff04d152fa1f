import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';

/**
 * A digest of every row of every table of the ORM's MariaDB database (the migrations table
 * included), by table: two equal digests mean no row was added, removed or changed in between.
 * Rows are compared as JSON, sorted, so the order the server returns them in does not matter.
 */
export async function rowDigest(orm: MikroORM): Promise<Record<string, { rows: number; sha256: string }>> {
  const connection = orm.em.getConnection();
  const tables = (await connection.execute<{ name: string }[]>(
    'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME',
  )) as { name: string }[];
  const digest: Record<string, { rows: number; sha256: string }> = {};
  for (const { name } of tables) {
    const rows = (await connection.execute(`SELECT * FROM \`${name}\``)) as Record<string, unknown>[];
    const lines = rows.map((row) => JSON.stringify(row)).sort();
    digest[name] = { rows: rows.length, sha256: createHash('sha256').update(lines.join('\n')).digest('hex') };
  }
  return digest;
}
