import { requireWholeNumber } from '../arguments.js';
import { badInput } from '../errors.js';

/** Cursor pagination shared by every list: opaque cursors, the `first` bound, and Relay-shaped pages. */

/** An opaque cursor for a position given as a tuple of values. */
export function encodeCursor(kind: string, position: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...position])).toString('base64url');
}

/** Reads a cursor made by {@link encodeCursor}; a cursor of another kind or shape is bad input. */
export function decodeCursor<T extends readonly (string | number)[]>(cursor: string, kind: string, guard: (values: unknown[]) => values is [...T]): T {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = null;
  }
  if (!Array.isArray(decoded) || decoded[0] !== kind || !guard(decoded.slice(1))) {
    throw badInput('after', 'after is not a cursor this connection issued');
  }
  return decoded.slice(1) as unknown as T;
}

/** Checks `first` against the page size limit. */
export function checkFirst(first: number, max: number): number {
  return requireWholeNumber('first', first, { min: 1, max });
}

/** Builds a page from `limit + 1` fetched rows; `after` is the cursor the page starts after, if any. */
export function page<T>(rows: T[], limit: number, cursorOf: (row: T) => string, after: string | null | undefined) {
  const hasNextPage = rows.length > limit;
  const nodes = hasNextPage ? rows.slice(0, limit) : rows;
  const edges = nodes.map((node) => ({ node, cursor: cursorOf(node) }));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: Boolean(after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
