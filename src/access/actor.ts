import type { Role } from '../roles.js';

/** How a caller proved who it is. */
export enum ActorKind {
  /** An API key from the database (`npm run keys`, `createApiKey`). */
  KEY = 'key',
  /** A token from `API_TOKENS` (the bootstrap). */
  TOKEN = 'token',
  /** No authentication (loopback, or `ALLOW_ANONYMOUS=true`). */
  ANONYMOUS = 'anonymous',
  /** The service itself (an automatic cleanup). */
  SYSTEM = 'system',
}

/** Who asks for something: what the audit log, `requestedBy` and the rate limits go by. */
export interface Actor {
  /** The key's name; `token:<fingerprint>` for an API_TOKENS token; `anonymous`; `system:<what>`. */
  readonly name: string;
  /** Null for the service itself. */
  readonly role: Role | null;
  readonly kind: ActorKind;
  /** The key's row id (KEY only): a revoked key's sockets are found by it. */
  readonly keyId: number | null;
}

/** Where a request came from. */
export interface RequestSource {
  readonly transport: 'http' | 'ws' | 'cli' | 'engine';
  /** The client's address. */
  readonly address: string | null;
}

/** The service itself, starting an automatic cleanup. */
export const AUTO_CLEANUP_ACTOR: Actor = { name: 'system:auto-cleanup', role: null, kind: ActorKind.SYSTEM, keyId: null };
