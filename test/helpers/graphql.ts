import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A GraphQL response as the wire carries it. */
export interface GqlResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

/** POSTs one operation to the HTTP endpoint. */
export async function gql<T = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GqlResponse<T> & { status: number }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { ...((await response.json()) as GqlResponse<T>), status: response.status };
}

/** POSTs and returns `data`, failing the test with the errors when there are any. */
export async function gqlData<T = Record<string, any>>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await gql<T>(url, query, variables);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

/** POSTs an operation that must fail; returns its first error. */
export async function gqlError(url: string, query: string, variables: Record<string, unknown> = {}) {
  const result = await gql(url, query, variables);
  if (!result.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
  return result.errors[0]!;
}

/** A graphql-ws client on the real WebSocket endpoint. */
export function wsClient(url: string, options: { retryAttempts?: number; lazy?: boolean; connectionParams?: Record<string, unknown> } = {}): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: options.retryAttempts ?? 0,
    lazy: options.lazy ?? true,
    ...(options.connectionParams ? { connectionParams: options.connectionParams } : {}),
    // Tests observe closes through client.on('closed'); the default would print them.
    onNonLazyError: () => {},
  });
}

/** Runs one query or mutation over graphql-ws and resolves with its single result. */
export function wsRequest<T = Record<string, any>>(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<GqlResponse<T>> {
  return new Promise((resolve, reject) => {
    let result: GqlResponse<T> | undefined;
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          result = value as GqlResponse<T>;
        },
        error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
        complete: () => resolve(result ?? {}),
      },
    );
  });
}

/** The `authorization` header (or WebSocket connection parameter) that carries a key or token. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A live subscription over a real graphql-ws client: every event it delivered, and waits on them. */
export interface Stream<T> {
  readonly events: T[];
  readonly errors: unknown[];
  /** Resolves with the first event (from the start of the stream) that passes `predicate`. */
  until(predicate: (event: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Ends the subscription. */
  dispose(): void;
}

/**
 * Subscribes `query` (whose one root field is `field`) on `client`; `describe` says what a timed-out
 * wait saw. The one subscription driver of the tests (job events, plan events).
 */
export function subscribeStream<T>(
  client: import('graphql-ws').Client,
  {
    query,
    field,
    variables,
    noun,
    describe,
    timeoutMs: defaultTimeoutMs,
  }: { query: string; field: string; variables: Record<string, unknown>; noun: string; describe: (e: T) => unknown; timeoutMs: number },
): Stream<T> {
  const events: T[] = [];
  const errors: unknown[] = [];
  const waiters: { predicate: (e: T) => boolean; resolve: (e: T) => void }[] = [];
  const dispose = client.subscribe<Record<string, T>>(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) errors.push(value.errors);
        const event = value.data?.[field];
        if (!event) return;
        events.push(event);
        for (const waiter of [...waiters]) {
          if (waiter.predicate(event)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(event);
          }
        }
      },
      error: (error) => errors.push(error),
      complete: () => {},
    },
  );
  return {
    events,
    errors,
    until(predicate, timeoutMs = defaultTimeoutMs) {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching ${noun} within ${timeoutMs} ms; got ${JSON.stringify(events.map(describe))} errors ${JSON.stringify(errors)}`)),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    dispose,
  };
}
