import { GraphQLError } from 'graphql';

/** The `extensions.code` of every error the API returns. */
export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  VM_NOT_READY = 'VM_NOT_READY',
  JOB_CONFLICT = 'JOB_CONFLICT',
  INVALID_JOB_TRANSITION = 'INVALID_JOB_TRANSITION',
  /** A plan execution cannot make that move now (`extensions.executionId`, `extensions.status`). */
  INVALID_PLAN_TRANSITION = 'INVALID_PLAN_TRANSITION',
  /** The plan has an active execution: it cannot be edited or deleted now (`extensions.executionId`). */
  PLAN_RUNNING = 'PLAN_RUNNING',
  /** The idempotency key was used within 24 hours for a different request. */
  IDEMPOTENCY_MISMATCH = 'IDEMPOTENCY_MISMATCH',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  CLOUD_UNAVAILABLE = 'CLOUD_UNAVAILABLE',
  /** The answer would be over the response size limit: ask for a smaller page. */
  RESPONSE_TOO_LARGE = 'RESPONSE_TOO_LARGE',
  /** A WebSocket already runs as many operations as it may. */
  TOO_MANY_OPERATIONS = 'TOO_MANY_OPERATIONS',
  /** The request's Host header names a host this service does not answer to (DNS rebinding). */
  HOST_NOT_ALLOWED = 'HOST_NOT_ALLOWED',
  /** The request's Origin is not allowed (ALLOWED_ORIGINS). */
  ORIGIN_NOT_ALLOWED = 'ORIGIN_NOT_ALLOWED',
  /** The caller is over a rate limit; `retryAfterSeconds` says when to try again. */
  RATE_LIMITED = 'RATE_LIMITED',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

/** An error meant for the API's caller: a message, a code, and structured details. */
export class AppError extends GraphQLError {
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...details } });
    this.name = 'AppError';
  }

  get code(): ErrorCode {
    return this.extensions.code as ErrorCode;
  }
}

/** Bad input: names the argument (`field`) that is wrong. */
export const badInput = (field: string, message: string) => new AppError(ErrorCode.BAD_USER_INPUT, message, { field });

/** Something the caller named does not exist. */
export const notFound = (what: string, id: string) => new AppError(ErrorCode.NOT_FOUND, `${what} ${id} not found`, { id });

/** Codes a request error may carry unmasked (anything else becomes INTERNAL_SERVER_ERROR). */
export const PUBLIC_CODES: ReadonlySet<string> = new Set([
  ...Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR),
  // graphql-js / Apollo request errors
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);
