import { CloudStackError, CloudStackErrorKind, isRetryableStatus } from './errors.js';

/**
 * CloudStack response envelopes (protocol core, no I/O). Every answer is one object keyed
 * `<command lowercased>response`; inside it: an object under its name, a list (`count` plus the
 * items, or `{}` when empty), an async job (`jobid`, plus `id` for async creates), `success`, or an
 * error (`errorcode`, `errortext`). Keys are matched case-insensitively: parsing lowercases them.
 */

/** A response object with lowercased keys. */
export type Json = Record<string, unknown>;

/** Returns a deep copy of `value` with every object key lowercased. */
export function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys);
  if (value !== null && typeof value === 'object') {
    const out: Json = {};
    for (const [key, inner] of Object.entries(value)) out[key.toLowerCase()] = lowerKeys(inner);
    return out;
  }
  return value;
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What the transport received. */
export interface RawAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * Opens an answer: returns the inner object of `<command>response`, or throws a typed error for an
 * error envelope or a body that is not a CloudStack envelope at all.
 */
export function openEnvelope(command: string, { status, body }: RawAnswer, isRead: boolean): Json {
  let parsed: unknown;
  try {
    parsed = lowerKeys(JSON.parse(body));
  } catch {
    throw notAnEnvelope(command, status, isRead, 'the answer is not JSON');
  }
  if (!isObject(parsed)) throw notAnEnvelope(command, status, isRead, 'the answer is not a JSON object');
  const wanted = `${command.toLowerCase()}response`;
  let inner = parsed[wanted];
  let named = inner !== undefined;
  if (inner === undefined) {
    const candidates = Object.keys(parsed).filter((k) => k.endsWith('response'));
    if (candidates.length === 1) inner = parsed[candidates[0]!];
    named = candidates[0] === 'errorresponse';
  }
  if (!isObject(inner)) throw notAnEnvelope(command, status, isRead, `no "${wanted}" object in the answer`);
  if (inner.errorcode !== undefined || status >= 400) {
    const errorCode = Number(inner.errorcode ?? status);
    const errorText = typeof inner.errortext === 'string' ? inner.errortext : `HTTP ${status}`;
    throw new CloudStackError(CloudStackErrorKind.API, `${command} failed: ${errorText} (errorcode ${errorCode})`, {
      command,
      httpStatus: status,
      errorCode,
      errorText,
      // A write is sent again only on CloudStack's own refusal: its envelope for this command (or
      // errorresponse) with an errorcode equal to the HTTP status.
      retryable: isRetryableStatus(errorCode, isRead) && (isRead || (named && Number(inner.errorcode) === status)),
    });
  }
  return inner;
}

function notAnEnvelope(command: string, status: number, isRead: boolean, what: string): CloudStackError {
  // A 5xx that is not CloudStack's own (a proxy, a crashed server) may come after the command ran.
  const serverSide = status >= 500;
  return new CloudStackError(CloudStackErrorKind.PROTOCOL, `${command} failed: HTTP ${status}, ${what}`, {
    command,
    httpStatus: status,
    retryable: serverSide && isRead,
    ambiguous: serverSide && !isRead,
  });
}

/** Reads a list (`{}` and a missing key are the empty list). */
export function readList(inner: Json, key: string): Json[] {
  const items = inner[key.toLowerCase()];
  if (items === undefined) return [];
  if (!Array.isArray(items)) throw new TypeError(`"${key}" is not a list`);
  return items.filter(isObject);
}

/** The `count` of a list answer (0 for the empty form). */
export function readCount(inner: Json): number {
  return typeof inner.count === 'number' ? inner.count : 0;
}

/** Reads the single object under `key` (a sync object answer, or a job result). */
export function readObject(inner: Json, key: string, command: string): Json {
  const value = inner[key.toLowerCase()];
  if (!isObject(value)) {
    throw new CloudStackError(CloudStackErrorKind.PROTOCOL, `${command} failed: no "${key}" object in the answer`, {
      command,
      retryable: false,
    });
  }
  return value;
}

/** The answer to an async command: its job id and, for async creates, the new resource's id. */
export interface AsyncSubmission {
  readonly jobId: string;
  readonly id?: string;
}

/** Reads `jobid` (and `id`) from an async answer. */
export function readAsync(inner: Json, command: string): AsyncSubmission {
  if (typeof inner.jobid !== 'string' || inner.jobid === '') {
    throw new CloudStackError(CloudStackErrorKind.PROTOCOL, `${command} failed: the answer has no jobid`, { command, retryable: false });
  }
  return typeof inner.id === 'string' ? { jobId: inner.jobid, id: inner.id } : { jobId: inner.jobid };
}

/** Checks a success-only answer (`success` may come as a boolean or as the string "true"). */
export function readSuccess(inner: Json, command: string): void {
  const success = inner.success;
  if (success !== true && success !== 'true') {
    const text = typeof inner.displaytext === 'string' ? inner.displaytext : 'success is not true';
    throw new CloudStackError(CloudStackErrorKind.API, `${command} failed: ${text}`, { command, errorText: text, retryable: false });
  }
}
