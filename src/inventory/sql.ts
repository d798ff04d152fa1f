import type { EntityManager, QueryResult } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';

/** One row of a raw query, keyed by column name. */
export type Row = Record<string, unknown>;

/** `?, ?, ?` for an IN list of `n` values (n ≥ 1). */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/**
 * Runs a portable SQL statement (MariaDB and SQLite both read it) on the request's connection,
 * inside the current transaction when there is one.
 */
export async function query(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
  const sqlEm = em as SqlEntityManager;
  return sqlEm.getConnection().execute<Row[]>(sql, params, 'all', sqlEm.getTransactionContext());
}

/**
 * Runs one portable write (INSERT/UPDATE/DELETE) like {@link query}, and returns the driver's
 * answer (affected rows, insert id). Dates are sent as the ORM sends them on this database, and a
 * failure is the ORM's `DriverException` (as from `nativeUpdate`), so callers classify it alike.
 */
export async function run(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<QueryResult> {
  const sqlEm = em as SqlEntityManager;
  const platform = sqlEm.getPlatform();
  const values = params.map((p) => (p instanceof Date ? platform.processDateProperty(p) : p));
  try {
    return await sqlEm.getConnection().execute<QueryResult>(sql, values, 'run', sqlEm.getTransactionContext());
  } catch (error) {
    throw error instanceof Error ? sqlEm.getDriver().convertException(error) : error;
  }
}

/** A DB value as a number (BIGINT columns may come back as strings), null stays null. */
export function num(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'number' ? value : Number(value);
}

/** A DB value as a string, null stays null. */
export function str(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return String(value);
}

/** A DB timestamp as a Date (MariaDB returns Date, SQLite text or epoch millis). */
export function date(value: unknown): Date | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number' || /^\d+$/.test(String(value))) return new Date(Number(value));
  const text = String(value);
  // SQLite's CURRENT_TIMESTAMP: 'YYYY-MM-DD HH:MM:SS' in UTC.
  return new Date(/^\d{4}-\d\d-\d\d \d/.test(text) && !/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? `${text.replace(' ', 'T')}Z` : text);
}
