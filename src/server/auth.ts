import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthCheckerFn } from 'type-graphql';
import { AppError, ErrorCode } from '../errors.js';
import { Role, type ApiToken } from '../roles.js';

export { Role, type ApiToken };

/** Who is calling. */
export interface Principal {
  readonly role: Role;
  /** A short fingerprint of the token, safe to log. */
  readonly tokenId: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Checks bearer tokens against the configured ones, in constant time per token. With no tokens
 * configured, authentication is off (the embedded default on loopback).
 */
export class TokenAuthenticator {
  private readonly tokens: readonly { role: Role; digest: Buffer; tokenId: string }[];

  constructor(tokens: readonly ApiToken[]) {
    this.tokens = tokens.map((t) => ({ role: t.role, digest: digest(t.token), tokenId: digest(t.token).toString('hex').slice(0, 8) }));
  }

  /** Whether callers must present a token. */
  get enabled(): boolean {
    return this.tokens.length > 0;
  }

  /**
   * The principal for an `Authorization` value (`Bearer <token>`, or the bare token as WebSocket
   * connection params may carry it). Throws UNAUTHENTICATED when a token is required and missing
   * or unknown; returns null when authentication is off.
   */
  authenticate(authorization: unknown): Principal | null {
    if (!this.enabled) return null;
    const raw = typeof authorization === 'string' ? authorization.replace(/^Bearer\s+/i, '').trim() : '';
    if (raw !== '') {
      const presented = digest(raw);
      let found: (typeof this.tokens)[number] | undefined;
      for (const token of this.tokens) if (timingSafeEqual(presented, token.digest)) found = token;
      if (found) return { role: found.role, tokenId: found.tokenId };
    }
    throw new AppError(ErrorCode.UNAUTHENTICATED, raw === '' ? 'A bearer token is required' : 'The bearer token is not valid', {
      http: { status: 401, headers: new Map([['www-authenticate', 'Bearer']]) },
    });
  }
}

/** The slice of the request context the auth checker needs. */
export interface AuthContext {
  readonly principal: Principal | null;
  readonly authEnabled: boolean;
}

/**
 * type-graphql's checker for `@Authorized(Role.OPERATOR)`: with authentication on, the caller's
 * role must be one of those listed; a viewer gets FORBIDDEN naming the operation.
 */
export const authChecker: AuthCheckerFn<AuthContext, Role> = ({ context, info }, roles) => {
  if (!context.authEnabled) return true;
  if (!context.principal) throw new AppError(ErrorCode.UNAUTHENTICATED, 'A bearer token is required');
  if (roles.length === 0 || roles.includes(context.principal.role)) return true;
  throw new AppError(ErrorCode.FORBIDDEN, `A ${context.principal.role} token may not run ${info.fieldName}; it needs the ${roles.join(' or ')} role`);
};
