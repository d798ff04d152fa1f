import { createHash, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import type { AuthCheckerFn } from 'type-graphql';
import { ActorKind, type Actor } from '../access/actor.js';
import { countActiveKeys, looksLikeApiKey, revokedAmong, touchApiKey, verifyApiKey } from '../access/api-keys.js';
import { AppError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { includesRole, Role, type ApiToken } from '../roles.js';

export { Role, type ApiToken };

/** Who is calling: an actor, with a short fingerprint of what it presented (safe to log). */
export interface Principal extends Actor {
  readonly tokenId: string;
}

/** Without authentication (loopback, or ALLOW_ANONYMOUS): anyone may do anything. */
export const ANONYMOUS: Principal = { name: 'anonymous', role: Role.ADMIN, kind: ActorKind.ANONYMOUS, keyId: null, tokenId: 'anonymous' };

const digest = (value: string) => createHash('sha256').update(value).digest();

/** The close code of a socket whose key was revoked (or that was never let in): 4403 Forbidden. */
export const CLOSE_FORBIDDEN = 4403;

/** How often open sockets' keys are checked for revocation by another process (`npm run keys -- revoke`). */
export const KEY_RECHECK_INTERVAL_MS = 1_000;

export interface AuthenticatorOptions {
  readonly em: EntityManager;
  /** Bootstrap tokens (`API_TOKENS`). */
  readonly tokens: readonly ApiToken[];
  /** Whether callers may go without a key while none exists (loopback, or ALLOW_ANONYMOUS=true). */
  readonly allowAnonymous: boolean;
  readonly logger: Logger;
  readonly recheckIntervalMs?: number;
}

/**
 * Authentication, one for both transports: the bootstrap tokens of `API_TOKENS` (compared in
 * constant time) and the API keys of the database (looked up by prefix, compared by hash). It is
 * required once any token or key exists, or always where anonymous callers are not allowed. Open
 * WebSockets are registered by key: revoking a key closes them (at once when revoked through this
 * process, within {@link KEY_RECHECK_INTERVAL_MS} when revoked by another).
 */
export class Authenticator {
  private readonly tokens: readonly { role: Role; digest: Buffer; tokenId: string }[];
  private activeKeys = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly sockets = new Map<number, Set<() => void>>();
  private readonly touched = new Map<number, number>();

  constructor(private readonly options: AuthenticatorOptions) {
    this.tokens = options.tokens.map((t) => ({ role: t.role, digest: digest(t.token), tokenId: digest(t.token).toString('hex').slice(0, 8) }));
  }

  /** Counts the keys, then keeps checking (revocations by other processes, the first key created). */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.options.logger.warn({ err: error }, 'API key recheck failed'));
    }, this.options.recheckIntervalMs ?? KEY_RECHECK_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Whether callers must present a token or key. */
  get required(): boolean {
    return this.tokens.length > 0 || this.activeKeys > 0 || !this.options.allowAnonymous;
  }

  /** Whether any token or key could let a caller in. */
  get anyCredential(): Promise<boolean> {
    return this.tokens.length > 0 ? Promise.resolve(true) : countActiveKeys(this.options.em).then((n) => n > 0);
  }

  /**
   * The principal for an `Authorization` value (`Bearer <token>`, or the bare token as WebSocket
   * connection params may carry it). Throws UNAUTHENTICATED when one is required and missing, or
   * when what was presented is not valid; {@link ANONYMOUS} when none is required and none given.
   */
  async authenticate(authorization: unknown): Promise<Principal> {
    const raw = typeof authorization === 'string' ? authorization.replace(/^Bearer\s+/i, '').trim() : '';
    if (raw === '') {
      if (!this.required) return ANONYMOUS;
      throw unauthenticated('A bearer token is required');
    }
    if (raw.length <= 256) {
      if (looksLikeApiKey(raw)) {
        const key = await verifyApiKey(this.options.em, raw);
        if (key) {
          this.touch(key.id);
          return { name: key.name, role: key.role, kind: ActorKind.KEY, keyId: key.id, tokenId: key.prefix };
        }
      } else {
        const presented = digest(raw);
        let found: (typeof this.tokens)[number] | undefined;
        for (const token of this.tokens) if (timingSafeEqual(presented, token.digest)) found = token;
        if (found) return { name: `token:${found.tokenId}`, role: found.role, kind: ActorKind.TOKEN, keyId: null, tokenId: found.tokenId };
      }
    }
    throw unauthenticated('The bearer token is not valid');
  }

  /** Registers an open socket of `principal`; `close` is called when its key is revoked. Returns the unregister function. */
  watch(principal: Principal, close: () => void): () => void {
    if (principal.keyId === null) return () => {};
    const id = principal.keyId;
    const set = this.sockets.get(id) ?? new Set();
    set.add(close);
    this.sockets.set(id, set);
    return () => {
      set.delete(close);
      if (set.size === 0 && this.sockets.get(id) === set) this.sockets.delete(id);
    };
  }

  /** Re-reads the keys now: after a key was created or revoked through this process. */
  async refresh(): Promise<void> {
    this.activeKeys = await countActiveKeys(this.options.em);
    const revoked = await revokedAmong(this.options.em, [...this.sockets.keys()]);
    for (const id of revoked) {
      const closers = this.sockets.get(id);
      this.sockets.delete(id);
      for (const close of closers ?? []) close();
    }
  }

  private touch(id: number): void {
    const now = Date.now();
    if ((this.touched.get(id) ?? 0) > now - 60_000) return;
    this.touched.set(id, now);
    touchApiKey(this.options.em, id).catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not record an API key use'));
  }
}

const unauthenticated = (message: string) =>
  new AppError(ErrorCode.UNAUTHENTICATED, message, { http: { status: 401, headers: new Map([['www-authenticate', 'Bearer']]) } });

/** The slice of the request context the auth checker needs. */
export interface AuthContext {
  readonly principal: Principal;
}

/**
 * type-graphql's checker for `@Authorized(Role.OPERATOR)`: the caller's role must include the
 * (weakest) role listed; a weaker one gets FORBIDDEN naming the operation.
 */
export const authChecker: AuthCheckerFn<AuthContext, Role> = ({ context, info }, roles) => {
  const needed = roles[0];
  if (needed !== undefined) requireRole(context.principal, needed, info.fieldName);
  return true;
};

/** Throws FORBIDDEN unless `principal`'s role includes `needed`. */
export function requireRole(principal: Principal, needed: Role, operation: string): void {
  if (principal.role !== null && includesRole(principal.role, needed)) return;
  const what = principal.kind === ActorKind.KEY ? 'key' : 'token';
  throw new AppError(ErrorCode.FORBIDDEN, `A ${principal.role ?? 'system'} ${what} may not run ${operation}; it needs the ${needed} role`);
}
