import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { IdempotencyKeyRow } from '../entities/index.js';
import { AppError, badInput, ErrorCode } from '../errors.js';
import { dbNowMs, dbNowPlus } from './engine/lifecycle.js';

/**
 * Idempotency keys: the same key from the same caller with the same request gets what the first
 * request created, for {@link IDEMPOTENCY_TTL_MS}; the same key with another request is
 * IDEMPOTENCY_MISMATCH. The key is recorded in the creating transaction, so a key exists exactly
 * when what it names does; of concurrent requests with one key, one creates and the others find it.
 */

/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
/** The longest key. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 100;

/** A key is 1–100 printable characters (no control characters; spaces inside are fine). */
export function checkIdempotencyKey(field: string, key: string | null | undefined): string | null {
  if (key === null || key === undefined) return null;
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw badInput(field, `${field} must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  if (/[\p{Cc}\p{Cs}\p{Co}\p{Cn}]/u.test(key) || key.trim() === '') throw badInput(field, `${field} must be printable characters`);
  return key;
}

/** What a key is about: the operation and its input, as a hash. */
export function requestHash(operation: string, input: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([operation, input]))
    .digest('hex');
}

/** One keyed request. */
export interface KeyedRequest {
  readonly caller: string;
  readonly key: string;
  readonly operation: string;
  readonly hash: string;
}

/**
 * What an earlier request with this key created (its id), or null when there is none (or it
 * expired). IDEMPOTENCY_MISMATCH when the key was used for another request.
 */
export async function findKeyed(em: EntityManager, request: KeyedRequest): Promise<string | null> {
  const fork = em.fork();
  const row = await fork.findOne(
    IdempotencyKeyRow,
    { caller: request.caller, key: request.key, expiresAt: { $gt: dbNowMs(fork) } },
    { disableIdentityMap: true },
  );
  if (!row) return null;
  if (row.requestHash !== request.hash || row.operation !== request.operation) {
    throw new AppError(
      ErrorCode.IDEMPOTENCY_MISMATCH,
      `idempotencyKey was used within 24 hours for a different request (${row.operation}); use a new key for a new request`,
      { field: 'idempotencyKey', operation: row.operation },
    );
  }
  return row.resultId;
}

/** Records the key in the creating transaction `tx` (an expired row of the same key is replaced). */
export async function recordKey(tx: EntityManager, request: KeyedRequest, resultId: string): Promise<void> {
  await tx.nativeDelete(IdempotencyKeyRow, { caller: request.caller, key: request.key, expiresAt: { $lte: dbNowMs(tx) } });
  await tx.insert(IdempotencyKeyRow, {
    caller: request.caller,
    key: request.key,
    operation: request.operation,
    requestHash: request.hash,
    resultId,
    createdAt: new Date(),
    expiresAt: dbNowPlus(tx, IDEMPOTENCY_TTL_MS),
  });
}
