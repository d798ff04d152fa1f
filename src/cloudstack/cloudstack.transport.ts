import type { RawAnswer } from './envelope.js';
import type { ParamPair } from './signing.js';

/**
 * The HTTP side of the client, kept apart from the protocol core: something that sends signed
 * parameters to `/client/api` by GET (query string) or POST (form body) and returns the status and
 * body. It throws on anything that is not an HTTP answer (refused, reset, dropped, aborted).
 */

/** One HTTP exchange. */
export interface HttpRequest {
  /** The API endpoint, e.g. `https://cloud.example.com/client/api`. */
  readonly url: string;
  readonly method: 'GET' | 'POST';
  /** Signed parameters, signature included, unencoded. */
  readonly pairs: readonly ParamPair[];
  /** Aborts the exchange (timeout or caller). */
  readonly signal: AbortSignal;
}

/** Sends {@link HttpRequest}s. */
export interface HttpTransport {
  send(request: HttpRequest): Promise<RawAnswer>;
}

/** `application/x-www-form-urlencoded` encoding of the pairs (also used for the GET query). */
export function formEncode(pairs: readonly ParamPair[]): string {
  return pairs.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&');
}

/** The default transport: the platform `fetch`. */
export class FetchTransport implements HttpTransport {
  async send({ url, method, pairs, signal }: HttpRequest): Promise<RawAnswer> {
    const encoded = formEncode(pairs);
    const response =
      method === 'GET'
        ? await fetch(`${url}?${encoded}`, { method, signal, headers: { accept: 'application/json' } })
        : await fetch(url, {
            method,
            signal,
            body: encoded,
            headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
          });
    return { status: response.status, body: await response.text() };
  }
}

/** Normalises a configured URL to the API endpoint (`…/client/api`), without a trailing slash. */
export function apiEndpoint(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /\/client\/api$/.test(trimmed) ? trimmed : `${trimmed}/client/api`;
}
