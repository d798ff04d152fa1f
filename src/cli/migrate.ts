import { pathToFileURL } from 'node:url';
import { MikroORM } from '@mikro-orm/mariadb';
import { migrateUp, migrationConfig } from '../db/migrations.js';
import { redact } from '../redact.js';

/**
 * Connects a minimal ORM (no entities, the Migrator registered) to the MariaDB database that `url` names
 * (`mariadb://user:pass@host:port/db`). Kept to this one function so it can be swapped for the shared ORM factory.
 */
export async function connectForMigrations(url: string): Promise<MikroORM> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('DATABASE_URL is not a URL; expected mariadb://user:pass@host:port/database');
  }
  if (parsed.protocol !== 'mariadb:' && parsed.protocol !== 'mysql:') {
    throw new Error(`DATABASE_URL scheme "${parsed.protocol}" is not supported; expected mariadb://user:pass@host:port/database`);
  }
  if (parsed.pathname.length <= 1) throw new Error('DATABASE_URL has no database name; expected mariadb://user:pass@host:port/database');
  return MikroORM.init({
    clientUrl: url,
    discovery: { warnWhenNoEntities: false },
    debug: false,
    pool: { min: 0, max: 2 },
    ...migrationConfig,
  });
}

/**
 * `db:migrate`: applies the pending migrations to `DATABASE_URL` and prints one line per migration applied.
 * Returns the exit code: 0 on success, 1 with one line on stderr (never the password) on any error.
 */
export async function runMigrate(
  env: Record<string, string | undefined> = process.env,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  err: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  const url = env.DATABASE_URL?.trim() || undefined;
  if (!url) {
    err('db:migrate failed: DATABASE_URL is not set; expected mariadb://user:pass@host:port/database');
    return 1;
  }
  let orm: MikroORM | undefined;
  try {
    orm = await connectForMigrations(url);
    const applied = await migrateUp(orm);
    for (const name of applied) out(`applied ${name}`);
    if (applied.length === 0) out('nothing to apply: the database is up to date');
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    err(`db:migrate failed: ${redact(message, url)}`);
    return 1;
  } finally {
    await orm?.close(true).catch(() => undefined);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runMigrate();
}
