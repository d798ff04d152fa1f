import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { CloudIds } from './cloudstack/cloudstack.types.js';
import { Role, type ApiToken } from './roles.js';
import { parseOrigin } from './server/origins.js';
import type { RateLimitSettings } from './server/rate-limits.js';

/** Where the service keeps its data. */
export type DatabaseConfig =
  { readonly kind: 'mariadb'; readonly url: string; readonly redactedUrl: string } | { readonly kind: 'sqlite'; readonly file: string };

/** The CloudStack the engine drives: a real one, or the simulator started in-process. */
export type CloudConfig =
  | ({ readonly kind: 'remote'; readonly url: string; readonly apiKey: string; readonly secretKey: string } & CloudIds)
  | { readonly kind: 'simulator'; readonly stateFile: string };

/** The service's whole configuration, read once from the environment and frozen. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly dataDir: string;
  readonly database: DatabaseConfig;
  readonly cloud: CloudConfig;
  /** Seed the demo VMs into an empty embedded database. */
  readonly demoData: boolean;
  /** How long SIGTERM waits for in-flight requests and sockets before closing them. */
  readonly shutdownTimeoutMs: number;
  /** Largest `first` a connection query accepts. */
  readonly maxPageSize: number;
  /** Bootstrap bearer tokens and their roles (`API_TOKENS`); API keys live in the database. */
  readonly apiTokens: readonly ApiToken[];
  /** Callers may go without a key on a non-loopback address while no token or key exists (`ALLOW_ANONYMOUS`). */
  readonly allowAnonymous: boolean;
  /** Host names the service answers to (`ALLOWED_HOSTS`); empty: its own names. */
  readonly allowedHosts: readonly string[];
  /** Origins browsers may call it from (`ALLOWED_ORIGINS`); empty: its own. */
  readonly allowedOrigins: readonly string[];
  /** Per-caller budgets (`RATE_LIMIT_*`). */
  readonly rateLimits: RateLimitSettings;
  /** How long vmReadiness answers for one VM are shared (`READINESS_SHARE_MS`). */
  readonly readinessShareMs: number;
  /** Schema introspection and "Did you mean …" suggestions, on both transports (off unless ENABLE_INTROSPECTION=true). */
  readonly introspection: boolean;
  readonly engine: EngineConfig;
  /** First interval between CloudStack async-job polls (it backs off from there, capped at 10 s). */
  readonly cloudPollIntervalMs: number;
}

/** The failover engine's settings. */
export interface EngineConfig {
  /** How long a job's lease lasts without a heartbeat: a crashed worker's jobs resume after it. */
  readonly leaseMs: number;
  /** How often the engine looks for jobs to resume and automatic cleanups that are due. */
  readonly scanIntervalMs: number;
  /** Jobs one service instance runs at once. */
  readonly concurrency: number;
  /** How often event subscribers look for events another instance committed. */
  readonly eventPollIntervalMs: number;
  /** Redis for wake-ups between instances (`EVENTS_REDIS_URL`); none: polling alone. */
  readonly eventRedis?: RedisConfig;
  /** How often subscribers still poll while the Redis wake-ups are healthy (`EVENTS_REDIS_POLL_INTERVAL_MS`). */
  readonly eventRedisPollIntervalMs?: number;
}

/** A Redis server: its URL, and the same with the password replaced for display. */
export interface RedisConfig {
  readonly url: string;
  readonly redactedUrl: string;
}

/** A configuration problem: the variable and what is wrong with it, as one line. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const CLOUD_VARIABLES = [
  'CLOUDSTACK_URL',
  'CLOUDSTACK_API_KEY',
  'CLOUDSTACK_SECRET_KEY',
  'CLOUDSTACK_ZONE_ID',
  'CLOUDSTACK_TEMPLATE_ID',
  'CLOUDSTACK_SERVICE_OFFERING_ID',
  'CLOUDSTACK_APPLIANCE_VM_ID',
] as const;

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(blankToUndefined, z.string().optional());
const int = (min: number, max: number, fallback: number) =>
  z.preprocess(
    // Decimal digits only: Number() would also take "0x1F", "1e3" or " 80 ".
    (v) => {
      const value = blankToUndefined(v);
      return typeof value === 'string' && !/^\d+$/.test(value) ? Number.NaN : value;
    },
    z.coerce
      .number({ error: `must be an integer between ${min} and ${max}` })
      .int({ error: `must be an integer between ${min} and ${max}` })
      .min(min, { error: `must be an integer between ${min} and ${max}` })
      .max(max, { error: `must be an integer between ${min} and ${max}` })
      .default(fallback),
  );
const bool = (fallback: boolean) =>
  z.preprocess(
    blankToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => ['true', '1', 'yes'].includes(v)),
  );

const envSchema = z.object({
  HOST: z.preprocess(
    blankToUndefined,
    z
      .string()
      .refine((h) => isIP(h) !== 0 || /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/.test(h), {
        error: 'must be an IP address or a host name',
      })
      .default('127.0.0.1'),
  ),
  PORT: int(0, 65_535, 4000),
  LOG_LEVEL: z.preprocess(
    blankToUndefined,
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  ),
  DATA_DIR: z.preprocess(blankToUndefined, z.string().default('./data')),
  DATABASE_URL: optionalString,
  DEMO_DATA: optionalString,
  CLOUDSTACK_SIMULATOR: optionalString,
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000, 10_000),
  MAX_PAGE_SIZE: int(1, 10_000, 500),
  API_TOKENS: optionalString,
  ALLOW_ANONYMOUS: optionalString,
  ALLOWED_HOSTS: optionalString,
  ALLOWED_ORIGINS: optionalString,
  RATE_LIMIT_MUTATIONS: int(1, 1_000_000, 600),
  RATE_LIMIT_CLOUD_QUERIES: int(1, 1_000_000, 300),
  RATE_LIMIT_WINDOW_SECONDS: int(1, 86_400, 60),
  READINESS_SHARE_MS: int(0, 60_000, 2_000),
  ENABLE_INTROSPECTION: optionalString,
  ENGINE_LEASE_MS: int(500, 3_600_000, 30_000),
  ENGINE_SCAN_INTERVAL_MS: int(50, 3_600_000, 5_000),
  ENGINE_CONCURRENCY: int(1, 256, 8),
  EVENTS_POLL_INTERVAL_MS: int(50, 60_000, 1_000),
  EVENTS_REDIS_URL: optionalString,
  EVENTS_REDIS_POLL_INTERVAL_MS: int(50, 600_000, 10_000),
  CLOUDSTACK_POLL_INTERVAL_MS: int(10, 10_000, 1_000),
  ...Object.fromEntries(CLOUD_VARIABLES.map((name) => [name, optionalString])),
  CLOUDSTACK_PROJECT_ID: optionalString,
});

/** Parses a `DATABASE_URL`; the password never appears in what this returns for display. */
export function parseDatabaseUrl(raw: string | undefined, dataDir: string): DatabaseConfig {
  if (raw === undefined) return { kind: 'sqlite', file: resolve(dataDir, 'failover.sqlite') };
  if (raw.startsWith('sqlite:')) {
    const file = raw.slice('sqlite:'.length).replace(/^\/\//, '');
    if (!file) throw new ConfigError('DATABASE_URL', 'sqlite: needs a file path, e.g. sqlite:./data/failover.sqlite');
    return { kind: 'sqlite', file: resolve(file) };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a URL; expected mariadb://user:pass@host:port/database or sqlite:<file>');
  }
  if (url.protocol !== 'mariadb:' && url.protocol !== 'mysql:') {
    throw new ConfigError('DATABASE_URL', `scheme "${url.protocol}" is not supported; use mariadb:// (or mysql://) or sqlite:`);
  }
  if (!url.hostname) throw new ConfigError('DATABASE_URL', 'has no host');
  if (url.pathname.length <= 1) throw new ConfigError('DATABASE_URL', 'has no database name (mariadb://user:pass@host:port/<database>)');
  const redacted = new URL(url);
  if (redacted.password) redacted.password = '***';
  return { kind: 'mariadb', url: raw, redactedUrl: redacted.toString() };
}

/** Parses `EVENTS_REDIS_URL` (`redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS); the password never appears in `redactedUrl`. */
export function parseRedisUrl(raw: string | undefined): RedisConfig | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('EVENTS_REDIS_URL', 'is not a URL; expected redis://[user:password@]host:port[/db] or rediss://…');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('EVENTS_REDIS_URL', `scheme "${url.protocol}" is not supported; use redis:// or rediss://`);
  }
  if (!url.hostname) throw new ConfigError('EVENTS_REDIS_URL', 'has no host');
  if (url.pathname.length > 1 && !/^\/\d{1,2}$/.test(url.pathname)) {
    throw new ConfigError('EVENTS_REDIS_URL', 'may name a database number only (redis://host:port/0)');
  }
  const redacted = new URL(url);
  if (redacted.password) redacted.password = '***';
  return { url: raw, redactedUrl: redacted.toString() };
}

function parseCloud(env: Record<string, string | undefined>, dataDir: string, useSimulator: boolean | undefined, database: DatabaseConfig): CloudConfig {
  const given = CLOUD_VARIABLES.filter((name) => env[name] !== undefined);
  if (given.length === 0) {
    // The simulator is the embedded default's cloud; on a production database it must be asked for.
    if (useSimulator === false || (useSimulator === undefined && database.kind === 'mariadb')) {
      throw new ConfigError(
        'CLOUDSTACK_URL',
        database.kind === 'mariadb'
          ? 'is required with a MariaDB DATABASE_URL (with the other CLOUDSTACK_* settings), or set CLOUDSTACK_SIMULATOR=true to use the in-process simulator'
          : 'is required when CLOUDSTACK_SIMULATOR=false (with the other CLOUDSTACK_* settings)',
      );
    }
    return { kind: 'simulator', stateFile: resolve(dataDir, 'cloudstack-simulator.json') };
  }
  if (useSimulator === true) throw new ConfigError('CLOUDSTACK_SIMULATOR', `is true but ${given[0]} points at a real CloudStack; set one or the other`);
  const missing = CLOUD_VARIABLES.find((name) => env[name] === undefined);
  if (missing) throw new ConfigError(missing, `is required when ${given[0]} is set (a real CloudStack needs all of ${CLOUD_VARIABLES.join(', ')})`);
  const url = env.CLOUDSTACK_URL!;
  if (!/^https?:\/\/[^/]+/.test(url)) throw new ConfigError('CLOUDSTACK_URL', 'must be an http(s) URL, e.g. https://cloud.example.com');
  return {
    kind: 'remote',
    url: url.replace(/\/+$/, ''),
    apiKey: env.CLOUDSTACK_API_KEY!,
    secretKey: env.CLOUDSTACK_SECRET_KEY!,
    zoneId: env.CLOUDSTACK_ZONE_ID!,
    templateId: env.CLOUDSTACK_TEMPLATE_ID!,
    serviceOfferingId: env.CLOUDSTACK_SERVICE_OFFERING_ID!,
    applianceVmIds: parseIdList('CLOUDSTACK_APPLIANCE_VM_ID', env.CLOUDSTACK_APPLIANCE_VM_ID!),
    ...(env.CLOUDSTACK_PROJECT_ID ? { projectId: parseIdList('CLOUDSTACK_PROJECT_ID', env.CLOUDSTACK_PROJECT_ID)[0]! } : {}),
  };
}

/** A comma-separated list of CloudStack ids: at least one, each letters, digits and hyphens, no duplicates. */
export function parseIdList(variable: string, raw: string): string[] {
  const ids = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0) throw new ConfigError(variable, 'must name at least one id');
  const bad = ids.find((id) => !/^[A-Za-z0-9-]{1,64}$/.test(id));
  if (bad) throw new ConfigError(variable, `"${bad.slice(0, 64)}" is not a CloudStack id`);
  if (new Set(ids).size !== ids.length) throw new ConfigError(variable, 'names an id twice');
  return ids;
}

const MIN_TOKEN_LENGTH = 16;

/** A comma-separated list, blanks dropped. */
const list = (raw: string | undefined) =>
  (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Parses `ALLOWED_ORIGINS`: origins (scheme://host[:port]) separated by commas; `*` and `null` are refused. */
export function parseAllowedOrigins(raw: string | undefined): string[] {
  return list(raw).map((entry) => {
    if (entry === '*' || entry === 'null') throw new ConfigError('ALLOWED_ORIGINS', `"${entry}" would let any page call the service; name each origin`);
    const origin = parseOrigin(entry);
    if (origin instanceof Error) throw new ConfigError('ALLOWED_ORIGINS', origin.message);
    return origin;
  });
}

/** Parses `ALLOWED_HOSTS`: host names or addresses separated by commas. */
export function parseAllowedHosts(raw: string | undefined): string[] {
  return list(raw).map((entry) => {
    const host = entry.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (isIP(host) === 0 && !/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host)) {
      throw new ConfigError('ALLOWED_HOSTS', `"${entry.slice(0, 100)}" is not a host name or address (no port, no scheme)`);
    }
    return host;
  });
}

/** Parses `API_TOKENS`: `role:token` pairs separated by commas (roles: viewer, operator, admin). */
export function parseApiTokens(raw: string | undefined): ApiToken[] {
  if (raw === undefined) return [];
  const roles = Object.values(Role) as string[];
  return raw.split(',').map((entry, index) => {
    const separator = entry.indexOf(':');
    const role = entry.slice(0, separator).trim();
    const token = entry.slice(separator + 1).trim();
    if (separator < 0 || !roles.includes(role)) {
      throw new ConfigError('API_TOKENS', `entry ${index + 1} must be role:token with role ${roles.join(' or ')}`);
    }
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new ConfigError('API_TOKENS', `the token of entry ${index + 1} is shorter than ${MIN_TOKEN_LENGTH} characters`);
    }
    return { role: role as Role, token };
  });
}

/**
 * Reads the configuration from `env`. Throws a {@link ConfigError} naming the first bad variable.
 * Nothing is defaulted silently that could point a production service at the wrong place: a
 * partial CloudStack configuration is an error, not a fallback to the simulator.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0]);
    const value = env[variable];
    const shown = value === undefined || /KEY|SECRET|PASSWORD|URL|TOKEN/.test(variable) ? '' : ` (got "${value}")`;
    throw new ConfigError(variable, `${issue.message}${shown}`);
  }
  const e = parsed.data as z.infer<typeof envSchema> & Record<string, string | undefined>;
  const dataDir = resolve(e.DATA_DIR);
  const database = parseDatabaseUrl(e.DATABASE_URL, dataDir);
  const demoData = bool(database.kind === 'sqlite').safeParse(e.DEMO_DATA);
  if (!demoData.success) throw new ConfigError('DEMO_DATA', `must be true or false (got "${e.DEMO_DATA}")`);
  const simulator = bool(false).safeParse(e.CLOUDSTACK_SIMULATOR);
  if (!simulator.success) throw new ConfigError('CLOUDSTACK_SIMULATOR', `must be true or false (got "${e.CLOUDSTACK_SIMULATOR}")`);
  const useSimulator = e.CLOUDSTACK_SIMULATOR === undefined ? undefined : simulator.data;
  const allowAnonymous = bool(false).safeParse(e.ALLOW_ANONYMOUS);
  if (!allowAnonymous.success) throw new ConfigError('ALLOW_ANONYMOUS', `must be true or false (got "${e.ALLOW_ANONYMOUS}")`);
  const introspection = bool(false).safeParse(e.ENABLE_INTROSPECTION);
  if (!introspection.success) throw new ConfigError('ENABLE_INTROSPECTION', `must be true or false (got "${e.ENABLE_INTROSPECTION}")`);
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    dataDir,
    database,
    cloud: parseCloud(e, dataDir, useSimulator, database),
    demoData: demoData.data,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    maxPageSize: e.MAX_PAGE_SIZE,
    apiTokens: parseApiTokens(e.API_TOKENS),
    allowAnonymous: allowAnonymous.data,
    allowedHosts: parseAllowedHosts(e.ALLOWED_HOSTS),
    allowedOrigins: parseAllowedOrigins(e.ALLOWED_ORIGINS),
    rateLimits: Object.freeze({ mutations: e.RATE_LIMIT_MUTATIONS, cloudQueries: e.RATE_LIMIT_CLOUD_QUERIES, windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS }),
    readinessShareMs: e.READINESS_SHARE_MS,
    introspection: introspection.data,
    engine: Object.freeze({
      leaseMs: e.ENGINE_LEASE_MS,
      scanIntervalMs: e.ENGINE_SCAN_INTERVAL_MS,
      concurrency: e.ENGINE_CONCURRENCY,
      eventPollIntervalMs: e.EVENTS_POLL_INTERVAL_MS,
      ...(e.EVENTS_REDIS_URL === undefined ? {} : { eventRedis: Object.freeze(parseRedisUrl(e.EVENTS_REDIS_URL)!) }),
      eventRedisPollIntervalMs: e.EVENTS_REDIS_POLL_INTERVAL_MS,
    }),
    cloudPollIntervalMs: e.CLOUDSTACK_POLL_INTERVAL_MS,
  });
}
