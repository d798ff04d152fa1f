import { hostname, networkInterfaces } from 'node:os';

/**
 * Which `Host` and `Origin` the service answers to. A browser page on another site may send
 * requests to the service (a WebSocket especially: browsers apply no CORS to it), and a DNS
 * rebinding attack makes the service's address answer to the attacker's name; both are refused
 * before anything else runs, on HTTP and on the WebSocket upgrade.
 *
 * - Host: by default the name the service listens on, the loopback names when it listens on
 *   loopback, and the machine's name and addresses when it listens on every address;
 *   `ALLOWED_HOSTS` replaces that list.
 * - Origin: a request without one (a script, curl, a server) is let through — only browsers send
 *   it; `null` is refused; by default only the service's own origin (an allowed host on the
 *   service's port, http or https) is allowed; `ALLOWED_ORIGINS` replaces that.
 */

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARDS = ['0.0.0.0', '::', ''];

/** Lower-cased, without IPv6 brackets. */
const normalHost = (name: string) =>
  name
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');

/** Whether `host` is a loopback address or name. */
export function isLoopback(host: string): boolean {
  const h = normalHost(host);
  return LOOPBACK_NAMES.includes(h) || h.startsWith('127.');
}

/** The names the service answers to by default when it listens on `host`. */
export function defaultAllowedHosts(host: string): string[] {
  const h = normalHost(host);
  if (isLoopback(h)) return [...new Set([h, ...LOOPBACK_NAMES])];
  if (!WILDCARDS.includes(h)) return [h];
  const addresses = Object.values(networkInterfaces())
    .flat()
    .map((a) => a?.address)
    .filter((a): a is string => Boolean(a));
  return [...new Set([...LOOPBACK_NAMES, hostname().toLowerCase(), ...addresses.map(normalHost)])];
}

/** A configured origin as the browser sends it (`scheme://host[:port]`), or an Error saying why not. */
export function parseOrigin(text: string): string | Error {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return new Error(`"${text}" is not an origin (scheme://host[:port])`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return new Error(`"${text}" is not an http or https origin`);
  if (url.pathname !== '/' || url.search || url.hash || url.username) return new Error(`"${text}" is an origin with more than scheme, host and port`);
  return url.origin;
}

export interface OriginPolicyOptions {
  /** Host names (`ALLOWED_HOSTS`); default {@link defaultAllowedHosts}. */
  readonly allowedHosts?: readonly string[];
  /** Origins (`ALLOWED_ORIGINS`); default: the service's own. */
  readonly allowedOrigins?: readonly string[];
}

/** Why a request is refused, or null. */
export type OriginRefusal = {
  readonly code: 'HOST_NOT_ALLOWED' | 'ORIGIN_NOT_ALLOWED';
  /** 421 Misdirected Request for a host, 403 Forbidden for an origin. */
  readonly status: 421 | 403;
  readonly reason: string;
  readonly message: string;
} | null;

/** The checks, once the service's host and port are known. */
export class OriginPolicy {
  private readonly hosts: ReadonlySet<string>;
  private readonly origins: ReadonlySet<string> | null;
  private port = 0;

  constructor(listenHost: string, options: OriginPolicyOptions = {}) {
    this.hosts = new Set((options.allowedHosts?.length ? options.allowedHosts : defaultAllowedHosts(listenHost)).map(normalHost));
    this.origins = options.allowedOrigins?.length ? new Set(options.allowedOrigins) : null;
  }

  /** The port the service listens on (its own origin's port). */
  listening(port: number): void {
    this.port = port;
  }

  /** Whether a browser page at `origin` may call the service. */
  allowsOrigin(origin: string): boolean {
    if (this.origins) return this.origins.has(origin);
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return (url.protocol === 'http:' || url.protocol === 'https:') && this.hosts.has(normalHost(url.hostname)) && port === this.port;
  }

  /** Checks a request's `Host` and `Origin` headers. */
  check(host: string | undefined, origin: string | string[] | undefined): OriginRefusal {
    const name = host === undefined ? '' : normalHost(host.replace(/:\d+$/, ''));
    if (!this.hosts.has(name)) {
      return {
        code: 'HOST_NOT_ALLOWED',
        status: 421,
        reason: 'Misdirected Request',
        message: `This service does not answer to the host name ${JSON.stringify(name.slice(0, 100))}`,
      };
    }
    if (origin === undefined) return null;
    const value = Array.isArray(origin) ? (origin.length === 1 ? origin[0]! : '') : origin;
    if (value === 'null' || !this.allowsOrigin(value)) {
      return {
        code: 'ORIGIN_NOT_ALLOWED',
        status: 403,
        reason: 'Forbidden',
        message: `Requests from the origin ${JSON.stringify(value.slice(0, 200))} are not allowed (ALLOWED_ORIGINS)`,
      };
    }
    return null;
  }
}
