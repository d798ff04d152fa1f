import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { redact } from '../../src/redact.js';
import { createTestDatabase, databaseUrl, openSql, TEST_MARIADB_URL, type SqlSession, type TestDatabase } from '../helpers/mariadb.js';
import { MIGRATED_TABLES, repoRoot } from './seed.js';

/** `npm run db:migrate` is `node dist/src/cli/migrate.js` after the build; `npm test` builds before vitest runs. */
const CLI = join(repoRoot, 'dist/src/cli/migrate.js');

/** What a run on an empty database prints: one line per migration, in order (names listed, never derived). */
const APPLIED_LINES = [
  'applied Migration001ApplianceTables',
  'applied Migration002FailoverJobs',
  'applied Migration003NetworkMappings',
  'applied Migration004VmDiskSpec',
  'applied Migration005NetworkMappingsUniquePerKind',
  'applied Migration006FailoverEngine',
  'applied Migration007DashboardIndexes',
  'applied Migration008ApiKeysAndAudit',
  'applied Migration009RecoveryPlans',
];

/** The CLI's sources: the built file must be newer than every one of them. */
function newestSource(): number {
  const sources = [
    join(repoRoot, 'src/cli/migrate.ts'),
    join(repoRoot, 'src/db/migrations.ts'),
    ...readdirSync(join(repoRoot, 'migrations'))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => join(repoRoot, 'migrations', file)),
  ];
  return Math.max(...sources.map((file) => statSync(file).mtimeMs));
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function runCli(env: Record<string, string | undefined>): Promise<Run> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI], {
      cwd: repoRoot,
      env: { ...inherited, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('npm run db:migrate (the built CLI, as a child process)', () => {
  let db: TestDatabase;
  let sql: SqlSession;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
    if (statSync(CLI).mtimeMs < newestSource()) throw new Error(`${CLI} is older than its sources: run \`npm run build\` first (\`npm test\` does)`);
    db = await createTestDatabase('cli');
    sql = await openSql(db.url);
  });

  afterAll(async () => {
    await sql?.close();
    await db?.dispose();
  });

  test('applies every migration to DATABASE_URL, one line each, and exits 0; a second run applies nothing', async () => {
    const first = await runCli({ DATABASE_URL: db.url });
    expect(first).toEqual({
      code: 0,
      stdout: [...APPLIED_LINES, ''].join('\n'),
      stderr: '',
    });
    const tables = await sql.query<{ TABLE_NAME: string }>('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [
      db.name,
    ]);
    expect(tables.map((row) => row.TABLE_NAME).sort()).toEqual(MIGRATED_TABLES);

    const second = await runCli({ DATABASE_URL: db.url });
    expect(second).toEqual({ code: 0, stdout: 'nothing to apply: the database is up to date\n', stderr: '' });
  });

  test('a wrong password exits non-zero with one line that does not contain the password', async () => {
    const url = new URL(databaseUrl(TEST_MARIADB_URL, db.name));
    url.username = 'failover_api_no_such_user';
    url.password = 'Sup3r-s3cret%21pw';
    const run = await runCli({ DATABASE_URL: url.toString() });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^db:migrate failed: .*Access denied.*\n$/);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).not.toContain('Sup3r-s3cret');
  });

  test('an unreachable server exits non-zero with one line that does not contain the password', async () => {
    const run = await runCli({ DATABASE_URL: 'mariadb://root:hunter2-secret@127.0.0.1:1/failover' });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/^db:migrate failed: .*ECONNREFUSED.*\n$/);
    expect(run.stderr).not.toContain('hunter2');
  });

  test('a missing or malformed DATABASE_URL exits non-zero with one line naming it', async () => {
    for (const value of [undefined, 'not a url', 'postgres://u:topsecret@h/db', 'mariadb://u:topsecret@127.0.0.1:3306']) {
      const run = await runCli(value === undefined ? {} : { DATABASE_URL: value });
      expect(run.code, String(value)).toBe(1);
      expect(run.stderr, String(value)).toMatch(/^db:migrate failed: DATABASE_URL .*\n$/);
      expect(run.stderr).not.toContain('topsecret');
    }
  });

  test('a database that does not exist yet is created, then migrated', async () => {
    const name = `${db.name}_new`;
    try {
      const run = await runCli({ DATABASE_URL: databaseUrl(TEST_MARIADB_URL, name) });
      expect(run.code).toBe(0);
      expect(run.stdout.trimEnd().split('\n')).toEqual(APPLIED_LINES);
      const tables = await sql.query<{ TABLE_NAME: string }>('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [
        name,
      ]);
      expect(tables.map((row) => row.TABLE_NAME).sort()).toEqual(MIGRATED_TABLES);
    } finally {
      await sql.query(`DROP DATABASE IF EXISTS \`${name}\``);
    }
  });
});

describe('redact', () => {
  test('puts the message on one line and hides the password, raw and URL-decoded', () => {
    const url = 'mariadb://app:p%40ss-w0rd@db.example:3306/oma';
    const message = 'connect to mariadb://app:p%40ss-w0rd@db.example:3306/oma failed\n  password p@ss-w0rd rejected';
    expect(redact(message, url)).toBe('connect to mariadb://app:***@db.example:3306/oma failed password *** rejected');
    expect(redact('no url\nhere', undefined)).toBe('no url here');
    expect(redact('not parseable', '::nonsense')).toBe('not parseable');
    expect(redact('key k-123 and secret s-456', undefined, ['k-123', 's-456', ''])).toBe('key *** and secret ***');
  });
});
