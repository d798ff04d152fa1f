/**
 * What a caller may do, each role including the ones before it: a viewer reads and subscribes; an
 * operator also starts, cleans up and reverts failovers; an admin also manages network mappings,
 * API keys, and reads the audit log.
 */
export enum Role {
  VIEWER = 'viewer',
  OPERATOR = 'operator',
  ADMIN = 'admin',
}

/** The roles, weakest first. */
export const ROLES: readonly Role[] = [Role.VIEWER, Role.OPERATOR, Role.ADMIN];

/** Whether `role` may do what `needed` may. */
export function includesRole(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** A role named by text, or undefined. */
export function parseRole(text: string): Role | undefined {
  return ROLES.find((r) => r === text);
}

/** One configured API token. */
export interface ApiToken {
  readonly role: Role;
  readonly token: string;
}
