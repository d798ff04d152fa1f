import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { EntityManager } from '@mikro-orm/core';
import Fastify from 'fastify';
import { execute, GraphQLError, NoSchemaIntrospectionCustomRule, parse, specifiedRules, validate, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { TokenAuthenticator, type ApiToken } from './auth.js';
import { createContext, type AppServices, type Context } from './context.js';
import { createFormatError } from './format-error.js';
import { armorRules, LIMITS, rootFieldLimit } from './limits.js';
import { checkArguments } from './argument-guard.js';
import { fastifyLimits, installHttpLimits, TRANSPORT_LIMITS, type TransportLimits } from './transport-limits.js';

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
  /** Bearer tokens; none: authentication off. */
  apiTokens?: readonly ApiToken[];
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
  const auth = new TokenAuthenticator(apiTokens);
  const contextFor = (authorization: unknown): Context =>
    createContext(em, { logger, maxPageSize, principal: auth.authenticate(authorization), authEnabled: auth.enabled, services });

  // The HTTP server hands over upgrades on the GraphQL path only; the WebSocket server never sees
  // the HTTP server's own errors (a failed listen is reported once, by listen()).
  // A message is bounded like an HTTP body: a larger one closes the socket (1009) before anything parses it.
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  app.server.on('upgrade', (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== GRAPHQL_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request));
  });
  // Queries and mutations running over WebSocket: shutdown lets them finish before closing sockets.
  const wsOperations = new InFlight();
  const wsCleanup = useServer<Record<string, unknown> | undefined, Record<string, never>>(
    {
      schema,
      execute: (args: ExecutionArgs) => wsOperations.track(async () => execute(args)),
      // A socket without a valid token is closed at connection_init (4403 Forbidden).
      onConnect: (ctx) => {
        try {
          auth.authenticate(ctx.connectionParams?.authorization);
          return true;
        } catch {
          return false;
        }
      },
      context: (ctx) => contextFor(ctx.connectionParams?.authorization) as unknown as Record<string, unknown>,
      // Parse (token limit), validate (the same rules as HTTP) and check the arguments once, here;
      // the ExecutionArgs returned spare graphql-ws a second parse and validation. A refusal answers
      // `error` for this operation only (through onError, which gives it a code).
      onSubscribe: (ctx, _id, payload) => {
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
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables };
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
        async didResolveOperation({ document, request, operation }) {
          // Subscriptions run over WebSocket only; over HTTP one would run as a query and fail inside.
          if (operation?.operation === 'subscription')
            throw new GraphQLError('Subscriptions run over WebSocket only (graphql-ws, on this same path)', {
              extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
            });
          const [refused] = checkArguments(schema, document, request.operationName, request.variables, maxPageSize);
          if (refused) throw refused;
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
  await app.register(fastifyApollo(apollo), { path: GRAPHQL_PATH, context: async (request) => contextFor(request.headers.authorization) });

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
        } finally {
          clearTimeout(force);
        }
      })();
      return closing;
    },
  };
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
