import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { MAX_KEY_NAME_LENGTH, requireKeyName } from '../arguments.js';
import { ApiKey } from '../entities/index.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import { parseRole, ROLES, type Role } from '../roles.js';

/**
 * API keys: `fo_<prefix>_<secret>`, with a 16-hex-digit public prefix (what a key is looked up by)
 * and 32 random bytes of secret. Only the SHA-256 of the whole key is stored; the key itself is
 * shown once, when it is created. A fast hash is enough: the secret has 256 bits, so there is
 * nothing to guess, and comparing takes constant time.
 */
const KEY_PATTERN = /^fo_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** The most keys that may exist at once (revoked ones included): key management is for people, not a store. */
export const MAX_API_KEYS = 1_000;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A key as listed: never its secret or hash. */
export interface ApiKeyInfo {
  readonly id: number;
  readonly name: string;
  readonly role: Role;
  readonly prefix: string;
  readonly createdBy: string | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

const info = (row: ApiKey): ApiKeyInfo => ({
  id: row.id,
  name: row.name,
  role: parseRole(row.role) ?? ROLES[0]!,
  prefix: row.keyPrefix,
  createdBy: row.createdBy ?? null,
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt ?? null,
  revokedAt: row.revokedAt ?? null,
});

/** Checks a key's name and role as given by a caller. */
export function validateNewKey(name: string, role: string): Role {
  requireKeyName('name', name);
  const parsed = parseRole(role);
  if (!parsed) throw badInput('role', `role must be one of ${ROLES.join(', ')}`);
  return parsed;
}

/**
 * Creates a key; returns the key (shown this once) and what is stored. A name already used (by a
 * revoked key too) is refused: names stay unique so the audit log's names keep meaning one key.
 * `alsoWrite` runs in the same transaction (the audit record).
 */
export async function createApiKey(
  root: EntityManager,
  { name, role, createdBy, alsoWrite }: { name: string; role: string; createdBy: string; alsoWrite?: (tx: EntityManager) => Promise<void> },
): Promise<{ key: string; info: ApiKeyInfo }> {
  const parsed = validateNewKey(name, role);
  const prefix = randomBytes(8).toString('hex');
  const key = `fo_${prefix}_${randomBytes(32).toString('base64url')}`;
  try {
    const row = await root.fork().transactional(async (tx) => {
      const count = await tx.count(ApiKey, {});
      if (count >= MAX_API_KEYS) throw new AppError(ErrorCode.BAD_USER_INPUT, `There are already ${count} keys, the most there may be`, { field: 'name' });
      const created = tx.create(ApiKey, { name, role: parsed, keyPrefix: prefix, keyHash: sha256(key), createdBy, createdAt: new Date() });
      await tx.flush();
      await alsoWrite?.(tx);
      return created;
    });
    return { key, info: info(row) };
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw badInput('name', `A key named ${name} exists already (names are never reused)`);
    throw error;
  }
}

/** Every key, newest first (never a secret). */
export async function listApiKeys(em: EntityManager): Promise<ApiKeyInfo[]> {
  const rows = await em.fork().find(ApiKey, {}, { orderBy: { id: 'desc' }, limit: MAX_API_KEYS, disableIdentityMap: true });
  return rows.map(info);
}

/** Revokes the key named `name` (at once, for good); returns it. A key revoked already is returned as it is. */
export async function revokeApiKey(root: EntityManager, name: string, alsoWrite?: (tx: EntityManager) => Promise<void>): Promise<ApiKeyInfo> {
  if (name.length > MAX_KEY_NAME_LENGTH) throw badInput('name', `A key name is at most ${MAX_KEY_NAME_LENGTH} characters`);
  return root.fork().transactional(async (tx) => {
    const row = await tx.findOne(ApiKey, { name });
    if (!row) throw notFound('API key', name);
    row.revokedAt ??= new Date();
    await tx.flush();
    await alsoWrite?.(tx);
    return info(row);
  });
}

/**
 * The key a caller presented, if it is one and not revoked: looked up by its prefix (one indexed
 * read), compared by hash in constant time.
 */
export async function verifyApiKey(em: EntityManager, presented: string): Promise<ApiKeyInfo | null> {
  const match = KEY_PATTERN.exec(presented);
  if (!match) return null;
  const row = await em.fork().findOne(ApiKey, { keyPrefix: match[1]! }, { disableIdentityMap: true });
  if (!row || row.revokedAt) return null;
  const expected = Buffer.from(row.keyHash, 'hex');
  const actual = Buffer.from(sha256(presented), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? info(row) : null;
}

/** Whether `presented` has the form of an API key (not an API_TOKENS token). */
export const looksLikeApiKey = (presented: string) => KEY_PATTERN.test(presented);

/** How many keys are not revoked. */
export async function countActiveKeys(em: EntityManager): Promise<number> {
  return em.fork().count(ApiKey, { revokedAt: null });
}

/** Of `ids`, those revoked (or gone). */
export async function revokedAmong(em: EntityManager, ids: readonly number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const alive = await em.fork().find(ApiKey, { id: { $in: [...ids] }, revokedAt: null }, { fields: ['id'], disableIdentityMap: true });
  const kept = new Set(alive.map((r) => r.id));
  return new Set(ids.filter((id) => !kept.has(id)));
}

/** Records that a key was used (at most once a minute per key and process: a write per request would cost more than it tells). */
export async function touchApiKey(em: EntityManager, id: number): Promise<void> {
  await em.fork().nativeUpdate(ApiKey, { id }, { lastUsedAt: new Date() });
}
