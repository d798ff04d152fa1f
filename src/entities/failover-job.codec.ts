import { FailoverType } from './enums.js';

/**
 * The one reading of a `failover_jobs` row's free-form columns. Rows may be written by other tools
 * (the original appliance, scripts), so every reader goes through these functions: a value this
 * service does not know reads as "unknown" (null), never as a guess, and never as an error that
 * would hide a whole list. Status: {@link toFailoverStatus} (enums.ts).
 */

/** `job_type`: LIVE or TEST, whatever the case and spacing; null for a type this service does not know. */
export function readJobType(raw: string | null | undefined): FailoverType | null {
  const type = raw?.trim().toLowerCase();
  return type === FailoverType.LIVE || type === FailoverType.TEST ? type : null;
}

/** A JSON column: the parsed object, or null when absent, unreadable or not an object. */
export function readJsonObject(raw: string | null | undefined): Record<string, unknown> | null {
  if (!raw) return null;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `network_mappings`: `{ "<source network>": "<destination id>" }`, in source order; entries that are not strings are left out. */
export function readNetworkMappings(raw: string | null | undefined): { sourceNetworkName: string; destinationNetworkId: string }[] {
  const json = readJsonObject(raw);
  if (!json) return [];
  return Object.entries(json)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([sourceNetworkName, destinationNetworkId]) => ({ sourceNetworkName, destinationNetworkId }));
}
