/** What a token may do: a viewer reads; an operator also changes things (and runs failovers). */
export enum Role {
  VIEWER = 'viewer',
  OPERATOR = 'operator',
}

/** One configured API token. */
export interface ApiToken {
  readonly role: Role;
  readonly token: string;
}
