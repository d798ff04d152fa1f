/**
 * Typed CloudStack failures. Every error the client throws is a {@link CloudStackError}: what kind
 * of failure it was, the command, the HTTP status and CloudStack's `errorcode`/`errortext` when the
 * server answered, and a `retryable` verdict the caller can act on without parsing text.
 */

/** CloudStack's `errorcode` values (ApiErrorCode); the HTTP status of an error equals its code. */
export enum ApiErrorCode {
  UNAUTHORIZED = 401,
  METHOD_NOT_ALLOWED = 405,
  API_LIMIT_EXCEEDED = 429,
  MALFORMED_PARAMETER_ERROR = 430,
  PARAM_ERROR = 431,
  UNSUPPORTED_ACTION_ERROR = 432,
  INTERNAL_ERROR = 530,
  ACCOUNT_ERROR = 531,
  ACCOUNT_RESOURCE_LIMIT_ERROR = 532,
  INSUFFICIENT_CAPACITY_ERROR = 533,
  RESOURCE_UNAVAILABLE_ERROR = 534,
  RESOURCE_ALLOCATION_ERROR = 535,
  RESOURCE_IN_USE_ERROR = 536,
  NETWORK_RULE_CONFLICT_ERROR = 537,
}

/** What went wrong, coarsely. */
export enum CloudStackErrorKind {
  /** The server answered with an error envelope (sync error). */
  API = 'API',
  /** An async job ended with jobstatus 2 (or 3, cancelled). */
  JOB_FAILED = 'JOB_FAILED',
  /**
   * No usable answer: connection refused/reset/dropped. The request may or may not have run —
   * except when the connection was never made (refused, name not resolved), which `ambiguous`
   * tells apart.
   */
  TRANSPORT = 'TRANSPORT',
  /** The request took longer than the per-request timeout. The request may or may not have run. */
  TIMEOUT = 'TIMEOUT',
  /** The operation's deadline passed while waiting for its job or resource (the write may still happen). */
  DEADLINE = 'DEADLINE',
  /** The caller's AbortSignal fired. */
  ABORTED = 'ABORTED',
  /** The server answered something that is not a CloudStack envelope. */
  PROTOCOL = 'PROTOCOL',
}

/** Everything a {@link CloudStackError} carries besides its kind. */
export interface CloudStackErrorDetails {
  readonly command: string;
  /** HTTP status, when there was an HTTP answer. */
  readonly httpStatus?: number;
  /** CloudStack `errorcode` (sync) or the job's `errorcode` (async). */
  readonly errorCode?: number;
  readonly errorText?: string;
  readonly jobId?: string;
  /** The resource an async create announced (`id` next to the `jobid`), when there was one. */
  readonly resourceId?: string;
  /** True when trying the same call again is safe and may succeed. Never true for a write whose outcome is unknown. */
  readonly retryable: boolean;
  /** True when the command may have been executed although no answer arrived. */
  readonly ambiguous?: boolean;
  readonly cause?: unknown;
}

/** A CloudStack failure with its kind, codes and retry verdict. Messages never contain credentials. */
export class CloudStackError extends Error {
  readonly kind: CloudStackErrorKind;
  readonly command: string;
  readonly httpStatus: number | undefined;
  readonly errorCode: number | undefined;
  readonly errorText: string | undefined;
  readonly jobId: string | undefined;
  readonly resourceId: string | undefined;
  readonly retryable: boolean;
  readonly ambiguous: boolean;

  constructor(kind: CloudStackErrorKind, message: string, details: CloudStackErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CloudStackError';
    this.kind = kind;
    this.command = details.command;
    this.httpStatus = details.httpStatus;
    this.errorCode = details.errorCode;
    this.errorText = details.errorText;
    this.jobId = details.jobId;
    this.resourceId = details.resourceId;
    this.retryable = details.retryable;
    this.ambiguous = details.ambiguous ?? false;
  }

  /** A compact, log-safe description (no stack, no cause). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      command: this.command,
      httpStatus: this.httpStatus,
      errorCode: this.errorCode,
      errorText: this.errorText,
      jobId: this.jobId,
      resourceId: this.resourceId,
      retryable: this.retryable,
      ambiguous: this.ambiguous,
    };
  }
}

/** True for a {@link CloudStackError} of one of the given kinds (any kind when none is given). */
export function isCloudStackError(error: unknown, ...kinds: CloudStackErrorKind[]): error is CloudStackError {
  return error instanceof CloudStackError && (kinds.length === 0 || kinds.includes(error.kind));
}

/** HTTP 503: the management server is preparing for maintenance or shutdown. */
export const SERVICE_UNAVAILABLE = 503;

/**
 * Whether CloudStack's own error answer (its envelope) deserves another try: any 5xx and 429 on
 * reads; on writes only 429 (API rate limit) and 503 (maintenance), which ApiServer answers before
 * anything runs. Other 4xx are the server's final word; another 5xx on a write may have done part
 * of its work, so it is not re-sent.
 */
export function isRetryableStatus(status: number, isRead: boolean): boolean {
  if (status === ApiErrorCode.API_LIMIT_EXCEEDED || status === SERVICE_UNAVAILABLE) return true;
  return isRead && status >= 500;
}

/**
 * CloudStack's "busy, try again later" (another snapshot being taken on the VM, a VM snapshot
 * task on it): a refusal that only means "not now". The engine waits it out.
 */
export function isBusyRefusal(error: unknown): boolean {
  if (!(error instanceof CloudStackError)) return false;
  if (error.kind !== CloudStackErrorKind.API && error.kind !== CloudStackErrorKind.JOB_FAILED) return false;
  return /please try again later/i.test(error.errorText ?? '');
}
