import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * CloudStack request signing (API signature version 3).
 *
 * The server builds the string to sign from the parameters as it received them: every parameter
 * except `signature`, sorted by name with an ordinal (case-sensitive) comparison, each written as
 * `name=ENC(value)`, joined with `&`, and only then lowercased. ENC is Java's URLEncoder with `+`
 * turned into `%20`. The signature is base64(HMAC-SHA1(secret, that string)).
 *
 * The client sends lowercase names so that its sort order and the server's agree; the simulator
 * uses the same {@link canonicalString} on the names exactly as they arrive.
 */

/** One request parameter as it travels on the wire. */
export type ParamPair = readonly [name: string, value: string];

const JAVA_EXTRA = /[!'()~]/g;

/**
 * Encodes a value the way `java.net.URLEncoder.encode(v, "UTF-8").replace("+", "%20")` does:
 * `A-Z a-z 0-9 . - * _` stay as they are, everything else is percent-encoded as UTF-8.
 */
export function encodeValue(value: string): string {
  return encodeURIComponent(value).replace(JAVA_EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The string the server signs: sorted as received, `name=ENC(value)` joined by `&`, lowercased. */
export function canonicalString(pairs: Iterable<ParamPair>): string {
  const kept = [...pairs].filter(([name]) => name.toLowerCase() !== 'signature');
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return kept
    .map(([name, value]) => `${name}=${encodeValue(value)}`)
    .join('&')
    .toLowerCase();
}

/** base64(HMAC-SHA1(secretKey, stringToSign)). */
export function computeSignature(stringToSign: string, secretKey: string): string {
  return createHmac('sha1', secretKey).update(stringToSign, 'utf8').digest('base64');
}

/** Compares two signatures in constant time (for equal lengths; unequal lengths are simply unequal). */
export function signaturesEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Formats a date in the `expires` form CloudStack parses: `2030-01-01T00:00:00+0000` (UTC). */
export function formatExpires(date: Date): string {
  return `${date.toISOString().slice(0, 19)}+0000`;
}

const EXPIRES_FORM = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?([+-])(\d{2}):?(\d{2})$/;

/** Parses an `expires` value (`yyyy-MM-dd'T'HH:mm:ss[.SSS]Z`, zone as `+hhmm`); undefined if malformed. */
export function parseExpires(value: string): Date | undefined {
  const m = EXPIRES_FORM.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms, sign, zh, zm] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms ?? 0));
  const offsetMs = (Number(zh) * 60 + Number(zm)) * 60_000 * (sign === '-' ? -1 : 1);
  const date = new Date(utc - offsetMs);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** What {@link signRequest} needs. */
export interface SignOptions {
  readonly apiKey: string;
  readonly secretKey: string;
  /** When the request stops being valid; omit to send no `expires` (signature version 1 style). */
  readonly expires?: Date;
}

/**
 * The name a parameter is sent under: lowercase, except the key inside a map parameter
 * (`details[0].cpuNumber`), which CloudStack reads case-sensitively and must keep its case.
 */
export function wireName(name: string): string {
  const bracket = name.indexOf('[');
  return bracket < 0 ? name.toLowerCase() : name.slice(0, bracket).toLowerCase() + name.slice(bracket);
}

const RESERVED = new Set(['command', 'apikey', 'signature', 'response', 'signatureversion', 'expires']);

/**
 * Adds `apikey`, `response=json`, `signatureversion=3` and `expires` to a command's parameters
 * (names as {@link wireName} gives them) and returns them with the `signature` appended last.
 */
export function signRequest(command: string, params: Readonly<Record<string, string>>, { apiKey, secretKey, expires }: SignOptions): ParamPair[] {
  const pairs: ParamPair[] = [['command', command]];
  for (const [name, value] of Object.entries(params)) {
    const wire = wireName(name);
    if (!RESERVED.has(wire)) pairs.push([wire, value]);
  }
  pairs.push(['apikey', apiKey], ['response', 'json']);
  if (expires) pairs.push(['signatureversion', '3'], ['expires', formatExpires(expires)]);
  pairs.push(['signature', computeSignature(canonicalString(pairs), secretKey)]);
  return pairs;
}
