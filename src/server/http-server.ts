import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { EntityManager } from '@mikro-orm/core';
import fastifyCors from '@fastify/cors';
import Fastify from 'fastify';
import {
  execute,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { ConfigError } from '../config.js';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RequestSource } from '../access/actor.js';
import { Authenticator, CLOSE_FORBIDDEN, type ApiToken, type Principal } from './auth.js';
import { createContext, type AppServices, type Context } from './context.js';
import { isLoopback, OriginPolicy, type OriginPolicyOptions } from './origins.js';
import { RATE_LIMITS, RateLimits, type RateLimitSettings } from './rate-limits.js';
import { createFormatError } from './format-error.js';
import { armorRules, LIMITS, rootFieldLimit } from './limits.js';
import { checkArguments } from './argument-guard.js';
import { endWithError, errorBody, fastifyLimits, installHttpLimits, TRANSPORT_LIMITS, type TransportLimits } from './transport-limits.js';
import { SubscriptionDelivery } from './subscription-delivery.js';

/** The path of both the HTTP and the WebSocket GraphQL endpoints. */
export const GRAPHQL_PATH = '/graphql';

export interface StartServerOptions {
  schema: GraphQLSchema;
  /** The ORM's root EntityManager; every operation gets its own fork. */
  em: EntityManager;
  logger: Logger;
  host?: string;
  port?: number;
  maxPageSize?: number;
  /** How long `close()` waits for in-flight requests and sockets before cutting them. */
  shutdownTimeoutMs?: number;
  /** Answers /readyz: resolves when the service can take work. */
  readinessProbe?: () => Promise<void>;
  /** Bootstrap bearer tokens (`API_TOKENS`); API keys come from the database. */
  apiTokens?: readonly ApiToken[];
  /**
   * `ALLOW_ANONYMOUS`: callers may go without a key while no token or key exists, on any address
   * (on loopback they always may). Without it, the server refuses to listen on a non-loopback
   * address when no token or key exists.
   */
  allowAnonymous?: boolean;
  /** `ALLOWED_HOSTS` and `ALLOWED_ORIGINS` (defaults: the service's own names and origin). */
  origins?: OriginPolicyOptions;
  /** Per-caller budgets of mutations and cloud-asking queries (default RATE_LIMITS). */
  rateLimits?: RateLimitSettings;
  /** How often open sockets' keys are re-checked for revocation by another process. */
  keyRecheckIntervalMs?: number;
  /** Schema introspection and "Did you mean …" suggestions on both transports (default off). */
  introspection?: boolean;
  /** The largest answer, in bytes (default LIMITS.maxResponseBytes): larger ones are RESPONSE_TOO_LARGE. */
  maxResponseBytes?: number;
  /** Bodies, messages, timeouts and operations per socket (defaults: TRANSPORT_LIMITS). */
  transportLimits?: Partial<TransportLimits>;
  /** The services behind the resolvers: mutations, readiness, events. */
  services: AppServices;
}

/** A running API server. */
export interface RunningServer {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  /** Drains HTTP and WebSocket (in-flight operations finish, sockets close with 1001), then stops. */
  close(): Promise<void>;
}

/**
 * Starts Apollo Server (HTTP, via Fastify) and graphql-ws (WebSocket) on one port and path, with
 * one context factory and one error formatter for both transports.
 */
export async function startServer({
  schema,
  em,
  logger,
  host = '127.0.0.1',
  port = 4000,
  maxPageSize = 500,
  shutdownTimeoutMs = 10_000,
  readinessProbe = async () => {},
  apiTokens = [],
  allowAnonymous = false,
  origins = {},
  rateLimits: rateLimitSettings = RATE_LIMITS,
  keyRecheckIntervalMs,
  introspection = false,
  maxResponseBytes = LIMITS.maxResponseBytes,
  transportLimits = {},
  services,
}: StartServerOptions): Promise<RunningServer> {
  const limits: TransportLimits = { ...TRANSPORT_LIMITS, ...transportLimits };
  const app = Fastify({ logger: false, forceCloseConnections: 'idle', ...fastifyLimits(limits) });
  installHttpLimits(app);
  const formatError = createFormatError(logger, { suggestions: introspection });
  const extraRules = [rootFieldLimit(), ...armorRules()];
  // Apollo has its own switch for introspection over HTTP; graphql-ws gets the same as a rule.
  const wsRules = [...specifiedRules, ...extraRules, ...(introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const anonymousAllowed = allowAnonymous || isLoopback(host);
  const auth = new Authenticator({
    em,
    tokens: apiTokens,
    allowAnonymous: anonymousAllowed,
    logger,
    ...(keyRecheckIntervalMs === undefined ? {} : { recheckIntervalMs: keyRecheckIntervalMs }),
  });
  // Without ALLOW_ANONYMOUS on a non-loopback address, nobody gets in without a key (checked
  // once listening, so that a HOST that is not this machine's is reported as such).
  const unreachable = !anonymousAllowed && !(await auth.anyCredential);
  await auth.start();
  const rateLimits = new RateLimits(rateLimitSettings);
  const originPolicy = new OriginPolicy(host, origins);
  const contextFor = (principal: Principal, source: RequestSource): Context =>
    createContext(em, { logger, maxPageSize, principal, source, services, keys: auth });
  /** Who each open socket belongs to (set at connection_init). */
  const socketPrincipals = new WeakMap<object, { principal: Principal; source: RequestSource }>();

  // Host and Origin first, on every request and upgrade: nothing else runs for a refused one.
  app.addHook('onRequest', async (request, reply) => {
    const refusal = originPolicy.check(request.headers.host, request.headers.origin);
    if (refusal) return reply.code(refusal.status).send(errorBody(refusal.message, refusal.code));
    return undefined;
  });
  // CORS, explicit: allowed origins only, the methods and headers the API uses, no credentials (keys travel in Authorization).
  await app.register(fastifyCors, {
    origin: (origin, callback) => callback(null, origin === undefined ? false : originPolicy.allowsOrigin(origin)),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name'],
    credentials: false,
    maxAge: 600,
  });

  // The HTTP server hands over upgrades on the GraphQL path only; the WebSocket server never sees
  // the HTTP server's own errors (a failed listen is reported once, by listen()).
  // A message is bounded like an HTTP body: a larger one closes the socket (1009) before anything parses it.
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  app.server.on('upgrade', (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== GRAPHQL_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    const refusal = originPolicy.check(request.headers.host, request.headers.origin);
    if (refusal) {
      endWithError(socket, refusal.status, refusal.reason, refusal.message, refusal.code);
      return;
    }
    wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request));
  });
  // Queries and mutations running over WebSocket: shutdown lets them finish before closing sockets.
  const wsOperations = new InFlight();
  // Subscriptions: each event executed once per operation shared by subscribers, written to each socket.
  const delivery = new SubscriptionDelivery({
    em,
    logger,
    maxBufferedBytes: limits.maxBufferedBytes,
    serialise: (result) => serialiseNext(result, formatError, maxResponseBytes),
  });
  const wsCleanup = useServer<Record<string, unknown> | undefined, Record<string, never>>(
    {
      schema,
      execute: (args: ExecutionArgs) => wsOperations.track(async () => execute(args)),
      subscribe: delivery.subscribe,
      // A socket without a valid token or key is closed at connection_init (4403 Forbidden); a
      // key's sockets are closed (4403) when it is revoked.
      onConnect: async (ctx) => {
        let principal: Principal;
        try {
          principal = await auth.authenticate(ctx.connectionParams?.authorization);
        } catch {
          return false;
        }
        const { socket, request } = ctx.extra;
        socketPrincipals.set(ctx, { principal, source: { transport: 'ws', address: request.socket.remoteAddress ?? null } });
        const unwatch = auth.watch(principal, () => socket.close(CLOSE_FORBIDDEN, 'API key revoked'));
        socket.once('close', unwatch);
        return true;
      },
      context: (ctx) => {
        const known = socketPrincipals.get(ctx)!;
        return contextFor(known.principal, known.source) as unknown as Record<string, unknown>;
      },
      // Parse (token limit), validate (the same rules as HTTP) and check the arguments once, here;
      // the ExecutionArgs returned spare graphql-ws a second parse and validation. A refusal answers
      // `error` for this operation only (through onError, which gives it a code).
      onSubscribe: async (ctx, id, payload) => {
        const known = socketPrincipals.get(ctx)!;
        // A key revoked since connection_init is refused at once (the socket closes with it).
        if (known.principal.keyId !== null) {
          try {
            await auth.authenticate(ctx.connectionParams?.authorization);
          } catch (error) {
            ctx.extra.socket.close(CLOSE_FORBIDDEN, 'API key revoked');
            return [error as GraphQLError];
          }
        }
        let document;
        try {
          document = parse(payload.query, { maxTokens: LIMITS.maxTokens });
        } catch (error) {
          // A syntax error (or too many tokens) answers `error` for this operation; the socket goes on.
          return [
            error instanceof GraphQLError
              ? new GraphQLError(error.message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })
              : new GraphQLError('Syntax Error'),
          ];
        }
        const invalid = validate(schema, document, wsRules);
        if (invalid.length > 0) return invalid;
        const refused = checkArguments(schema, document, payload.operationName, payload.variables, maxPageSize);
        if (refused.length > 0) return refused.map((e) => new GraphQLError(e.message, { extensions: { code: e.extensions.code, field: e.extensions.field } }));
        // graphql-ws keeps the socket's running operations (this one included); a client's
        // `complete` removes one at once.
        if (Object.keys(ctx.subscriptions).length > limits.maxOperationsPerSocket) {
          return [
            new GraphQLError(`This socket already runs ${limits.maxOperationsPerSocket} operations, the most it may; end one first`, {
              extensions: { code: ErrorCode.TOO_MANY_OPERATIONS },
            }),
          ];
        }
        try {
          await rateLimits.consume(known.principal, known.source.address, document, payload.operationName);
        } catch (error) {
          if (error instanceof GraphQLError)
            return [new GraphQLError(error.message, { extensions: { code: error.extensions.code, retryAfterSeconds: error.extensions.retryAfterSeconds } })];
          throw error;
        }
        const args = { schema, document, operationName: payload.operationName, variableValues: payload.variables };
        return delivery.register(args, { socket: ctx.extra.socket, id, query: payload.query });
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (responseTooLarge(result, maxResponseBytes)) return { errors: [tooLargeError(maxResponseBytes)] };
        return result.errors ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) } : undefined;
      },
      // graphql-ws reports here the operations onSubscribe refused (parse, validation, arguments, budget).
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => {
          const formatted = e.toJSON();
          return formatError({ ...formatted, extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...formatted.extensions } }, e);
        }),
    },
    wsServer,
  );

  const closeWebSockets: ApolloServerPlugin = {
    async serverWillStart() {
      return {
        async drainServer() {
          await wsOperations.idle();
          await wsCleanup.dispose();
        },
      };
    },
  };

  // The argument bounds over HTTP: checked once the operation is known, before it runs.
  const argumentGuard: ApolloServerPlugin<Context> = {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, operation, contextValue }) {
          // Subscriptions run over WebSocket only; over HTTP one would run as a query and fail inside.
          if (operation?.operation === 'subscription')
            throw new GraphQLError('Subscriptions run over WebSocket only (graphql-ws, on this same path)', {
              extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
            });
          const [refused] = checkArguments(schema, document, request.operationName, request.variables, maxPageSize);
          if (refused) throw refused;
          await rateLimits.consume(contextValue.principal, contextValue.audit.source.address, document, request.operationName);
        },
      };
    },
  };

  const apollo = new ApolloServer<Context>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection,
    parseOptions: { maxTokens: LIMITS.maxTokens },
    validationRules: extraRules,
    // The service owns SIGTERM/SIGINT (it drains, then closes the ORM); Apollo must not race it.
    stopOnTerminationSignals: false,
    // No HTTP caching of this API's answers: cache-control would only instrument every field.
    plugins: [fastifyApolloDrainPlugin(app), closeWebSockets, ApolloServerPluginCacheControlDisabled(), argumentGuard],
  });
  await apollo.start();
  // An HTTP answer over maxResponseBytes becomes RESPONSE_TOO_LARGE, measured on the body Apollo
  // already serialised (no second serialisation on the hot path).
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload !== 'string' || Buffer.byteLength(payload) <= maxResponseBytes || !request.url.startsWith(GRAPHQL_PATH)) return payload;
    void reply.code(200).header('content-type', 'application/json; charset=utf-8');
    return JSON.stringify({ errors: [tooLargeError(maxResponseBytes)] });
  });
  await app.register(fastifyApollo(apollo), {
    path: GRAPHQL_PATH,
    context: async (request) => contextFor(await auth.authenticate(request.headers.authorization), { transport: 'http', address: request.ip }),
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await readinessProbe();
      return { status: 'ready' };
    } catch (error) {
      logger.warn({ err: error }, 'readiness probe failed');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  await app.listen({ host, port });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  originPolicy.listening(boundPort);
  if (unreachable) {
    auth.stop();
    await apollo.stop();
    throw new ConfigError(
      'ALLOW_ANONYMOUS',
      `refusing to listen on ${host} without any API key or token: create one (npm run keys -- create --name <name> --role admin), set API_TOKENS, or set ALLOW_ANONYMOUS=true`,
    );
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${shownHost}:${boundPort}${GRAPHQL_PATH}`,
    wsUrl: `ws://${shownHost}:${boundPort}${GRAPHQL_PATH}`,
    port: boundPort,
    close() {
      closing ??= (async () => {
        const force = setTimeout(() => {
          logger.warn('shutdown timeout reached: closing remaining connections');
          app.server.closeAllConnections();
          for (const socket of wsServer.clients) socket.terminate();
        }, shutdownTimeoutMs);
        force.unref();
        try {
          // Apollo's drain runs both drain plugins: Fastify stops accepting and waits for
          // in-flight requests; graphql-ws completes and closes every socket (1001).
          await apollo.stop();
          await new Promise<void>((resolve) => wsServer.close(() => resolve()));
          auth.stop();
        } finally {
          clearTimeout(force);
        }
      })();
      return closing;
    },
  };
}

/** A subscription result as it is sent: errors through the one formatError, RESPONSE_TOO_LARGE over `max` bytes. */
function serialiseNext(result: ExecutionResult, formatError: ReturnType<typeof createFormatError>, max: number): string {
  const json = JSON.stringify(result.errors ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) } : result);
  return Buffer.byteLength(json) > max ? JSON.stringify({ errors: [tooLargeError(max)] }) : json;
}

/** Whether a result's JSON is over `max` bytes (counted as it would be sent). */
function responseTooLarge(result: unknown, max: number): boolean {
  return Buffer.byteLength(JSON.stringify(result)) > max;
}

const tooLargeError = (max: number) =>
  new GraphQLError(`The answer is over ${max} bytes; ask for fewer items (first) or fields`, {
    extensions: { code: ErrorCode.RESPONSE_TOO_LARGE },
  });

/** Counts running operations and tells when none is left. */
class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  /** Runs `operation`, counted while it runs. */
  async track<T>(operation: () => Promise<T>): Promise<T> {
    this.count++;
    try {
      return await operation();
    } finally {
      // Count down only after the microtasks that deliver the result (graphql-ws sends `next` and
      // `complete` once execute resolves), so a socket is never closed ahead of its last answer.
      setImmediate(() => {
        this.count--;
        if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
      });
    }
  }

  /** Resolves when no operation is running (at once if none is). */
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
