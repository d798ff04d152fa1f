import { canonicalString, computeSignature, parseExpires, signaturesEqual, type ParamPair } from '../signing.js';

/**
 * The signature check of CloudStack's ApiServer.verifyRequest, step for step:
 * - `signature`, `apikey`, `signatureversion` and `expires` are found whatever the case of their
 *   names (equalsIgnoreCase); `command` must be spelled `command`;
 * - the string to sign is every other parameter, names exactly as received, sorted ordinally,
 *   `name=URLEncoder(value)` joined with `&`, then lowercased — so a client that sends camelCase
 *   names verifies as long as it signed the names it sent;
 * - with signatureversion 3, `expires` must be present, parseable and not in the past;
 * - the key must be known, and signatures are compared in constant time.
 * Any failure is the same 401: the server never says which part was wrong.
 */

/** CloudStack's one answer to every authentication failure. */
export const UNAUTHORIZED_TEXT = 'unable to verify user credentials and/or request signature';

/** A key pair the simulator accepts. */
export interface Credentials {
  readonly apiKey: string;
  readonly secretKey: string;
}

/** Why a request was refused (for the simulator's debug log only; never sent to the client). */
export type AuthFailure = 'missing-signature' | 'missing-apikey' | 'unknown-apikey' | 'missing-expires' | 'bad-expires' | 'expired' | 'bad-signature';

/** Verifies a request's signature; returns undefined when it is good, else why not. */
export function verifySignature(pairs: readonly ParamPair[], credentials: Credentials, now: Date = new Date()): AuthFailure | undefined {
  const find = (name: string) => pairs.find(([n]) => n.toLowerCase() === name)?.[1];
  const signature = find('signature');
  const apiKey = find('apikey');
  if (signature === undefined) return 'missing-signature';
  if (apiKey === undefined) return 'missing-apikey';
  if (find('signatureversion') === '3') {
    const expires = find('expires');
    if (expires === undefined) return 'missing-expires';
    const when = parseExpires(expires);
    if (when === undefined) return 'bad-expires';
    if (when.getTime() < now.getTime()) return 'expired';
  }
  if (apiKey !== credentials.apiKey) return 'unknown-apikey';
  let expected: string;
  try {
    expected = computeSignature(canonicalString(pairs), credentials.secretKey);
  } catch {
    return 'bad-signature'; // a value that cannot be encoded (a lone surrogate)
  }
  return signaturesEqual(signature, expected) ? undefined : 'bad-signature';
}
