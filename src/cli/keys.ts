import 'reflect-metadata';
import { userInfo } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import type { MikroORM } from '@mikro-orm/core';
import { ActorKind, type Actor } from '../access/actor.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../access/api-keys.js';
import { MutationAudit } from '../access/audit.js';
import { ConfigError, parseDatabaseUrl } from '../config.js';
import { createOrm, prepareSchema } from '../db/orm.js';
import { redact } from '../redact.js';
import { ROLES } from '../roles.js';

/**
 * `npm run keys -- create --name ci --role operator | list | revoke <name>`: API key management on
 * the database that `DATABASE_URL` names (the embedded default's file without it). A key is
 * printed once, on stdout, when it is created; only its hash is stored. Every change is written to
 * the audit log as done by `cli:<user>`. A running service sees a revocation within a second and
 * closes the key's open WebSockets.
 */
export interface KeysCliIo {
  readonly env: Record<string, string | undefined>;
  out(line: string): void;
  err(line: string): void;
}

const cliActor = (): Actor => {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): unknown
  }
  return { name: `cli:${user}`.slice(0, 128), role: null, kind: ActorKind.SYSTEM, keyId: null };
};

const when = (d: Date | null) => (d ? d.toISOString() : '-');

export async function runKeys(argv: readonly string[], io: KeysCliIo): Promise<number> {
  let orm: MikroORM | undefined;
  const open = async () => {
    const database = parseDatabaseUrl(io.env.DATABASE_URL?.trim() || undefined, io.env.DATA_DIR?.trim() || './data');
    orm = await createOrm(database);
    await prepareSchema(orm, database);
    return orm;
  };
  const audit = (root: MikroORM, operation: string, args: Record<string, unknown>) =>
    new MutationAudit(root.em, cliActor(), { transport: 'cli', address: null }, operation, args);

  const program = new Command('keys')
    .description('Manage the API keys of failover-api')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  program
    .command('create')
    .description('create a key and print it (shown this once)')
    .requiredOption('--name <name>', 'a unique name: 1-64 letters, digits, dots, dashes, underscores')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .action(async ({ name, role }: { name: string; role: string }) => {
      const root = await open();
      const change = audit(root, 'createApiKey', { input: { name, role } });
      const { key, info } = await createApiKey(root.em, { name, role, createdBy: change.requestedBy, alsoWrite: (tx) => change.inTransaction(tx, name) });
      io.out(key);
      io.err(`created ${info.role} key ${info.name} (${info.prefix}); keep it now: it cannot be shown again`);
    });
  program
    .command('list')
    .description('list the keys (never a secret)')
    .action(async () => {
      const root = await open();
      const keys = await listApiKeys(root.em);
      io.out(['NAME', 'ROLE', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'].join('\t'));
      for (const k of keys) io.out([k.name, k.role, k.prefix, when(k.createdAt), when(k.lastUsedAt), when(k.revokedAt)].join('\t'));
    });
  program
    .command('revoke')
    .description('revoke a key at once, for good')
    .argument('<name>', 'the key to revoke')
    .action(async (name: string) => {
      const root = await open();
      const change = audit(root, 'revokeApiKey', { name });
      const info = await revokeApiKey(root.em, name, (tx) => change.inTransaction(tx, name));
      io.out(`revoked ${info.name} (${info.prefix}) at ${when(info.revokedAt)}`);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    io.err(`keys: ${redact(message, io.env.DATABASE_URL ?? '')}`);
    return 1;
  } finally {
    await (orm as MikroORM | undefined)?.close(true).catch(() => undefined);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runKeys(process.argv.slice(2), {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
