import type { Duplex } from 'node:stream';
import { createServer, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance } from 'fastify';

/**
 * What a connection may hold, on each transport: bodies and messages bounded alike, HTTP header,
 * request and idle timeouts, a bound on operations per socket and on what a socket may leave
 * unread. Every HTTP refusal answers a GraphQL-over-HTTP error body with `extensions.code`.
 */
export interface TransportLimits {
  readonly maxMessageBytes: number;
  readonly maxOperationsPerSocket: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxBufferedBytes: number;
}

export const TRANSPORT_LIMITS: TransportLimits = {
  /** An HTTP body and a WebSocket message: at most this many bytes (Fastify's default body limit). */
  maxMessageBytes: 1024 * 1024,
  /** Operations (subscriptions and queries in flight) one socket may run at once. */
  maxOperationsPerSocket: 50,
  /** Time to receive a request's headers. */
  headersTimeoutMs: 10_000,
  /** Time to receive a whole request. */
  requestTimeoutMs: 30_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: 5_000,
  /** A connection with no traffic at all is closed after this (WebSockets are exempt: ws clears it). */
  idleTimeoutMs: 60_000,
  /** A WebSocket whose unsent data (what its reader has not taken) grows over this is closed with 1013, its subscriptions ended. */
  maxBufferedBytes: 4 * 1024 * 1024,
} as const;

/**
 * The Fastify server options that carry the limits. The HTTP server is made here: Node checks
 * its header and request timeouts only every `connectionsCheckingInterval` (30 s by default), which
 * must be short for a header timeout of seconds to hold.
 */
export const fastifyLimits = (limits: TransportLimits) => ({
  bodyLimit: limits.maxMessageBytes,
  requestTimeout: limits.requestTimeoutMs,
  keepAliveTimeout: limits.keepAliveTimeoutMs,
  connectionTimeout: limits.idleTimeoutMs,
  clientErrorHandler,
  serverFactory: (handler: RequestListener) => {
    const server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 2)),
      },
      handler,
    );
    server.setTimeout(limits.idleTimeoutMs);
    return server;
  },
});

/** A GraphQL-over-HTTP error body. */
export const errorBody = (message: string, code: string) => ({ errors: [{ message, extensions: { code } }] });

/** The codes of the HTTP refusals, by status. */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'REQUEST_HEADER_FIELDS_TOO_LARGE',
};

/**
 * Installs GraphQL error bodies for what Fastify refuses
 * (invalid JSON, 413, 415, 404 and the rest) and for what Node's parser refuses before Fastify
 * sees it (431, a malformed request, a header timeout).
 */
export function installHttpLimits(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(`Nothing at ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}; the API is at /graphql`, 'NOT_FOUND'));
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    const code = CODE_BY_STATUS[status] ?? (status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST');
    const message = status === 500 ? 'Internal server error' : error.message.slice(0, 300);
    void reply.code(status).send(errorBody(message, code));
  });
}

/** Fastify's `clientErrorHandler`: what Node's HTTP parser refuses gets a JSON body too. */
function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, text] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout']
        : [400, 'Bad Request'];
  endWithError(socket, status, text, text, CODE_BY_STATUS[status]!);
}

/** Answers on a raw socket (no HTTP server response to use) with a GraphQL error body, and closes it. */
export function endWithError(socket: Duplex, status: number, reason: string, message: string, code: string): void {
  const body = JSON.stringify(errorBody(message, code));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
