import { ApiErrorCode, CloudStackError, CloudStackErrorKind, SERVICE_UNAVAILABLE } from './errors.js';
import { openEnvelope, type Json } from './envelope.js';
import { secretRedactor, type CloudStackLogger } from './logger.js';
import { backoffDelay, retry, type Backoff } from '../retry.js';
import { signRequest } from './signing.js';
import type { HttpTransport } from './cloudstack.transport.js';

/**
 * One CloudStack call, end to end: sign (fresh `expires` on every try), send with a timeout, open
 * the envelope, and — for reads only — try again on transient failures with capped backoff.
 * Writes are sent once; what to do after a failed write is the caller's decision. A write that
 * failed before it left this process (connection refused, host name not resolved) is marked
 * retryable and not ambiguous; any other lost write answer is ambiguous and not retryable.
 */

/**
 * Error codes (Node and undici) that mean the connection was never made, so the request was never
 * sent. A reset, a closed socket or a timeout may come after the server received the request.
 */
const NEVER_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The `code`s along an error's cause chain. */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

/** Settings of an {@link ApiCaller}. */
export interface ApiCallerOptions {
  readonly endpoint: string;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly transport: HttpTransport;
  readonly method: 'GET' | 'POST';
  readonly requestTimeoutMs: number;
  readonly expiresInMs: number;
  /** Tries per read (1 = no retry). */
  readonly readAttempts: number;
  readonly retryBackoff: Backoff;
  readonly logger: CloudStackLogger;
  readonly now: () => number;
}

/** Per-call settings. */
export interface CallOptions {
  /** A read is safe to repeat. */
  readonly read: boolean;
  readonly signal?: AbortSignal;
  /** Epoch ms after which no try is started and the current one is cut short. */
  readonly deadlineAt?: number;
  /** Tries of a read, instead of `readAttempts` (1 when the caller has its own retry loop). */
  readonly attempts?: number;
}

/** Sends signed commands and opens their envelopes. */
export class ApiCaller {
  private readonly redact: (text: string) => string;

  constructor(private readonly options: ApiCallerOptions) {
    this.redact = secretRedactor([options.apiKey, options.secretKey]);
  }

  /** Calls `command` and returns the inner object of its answer. */
  async call(command: string, params: Readonly<Record<string, string>>, callOptions: CallOptions): Promise<Json> {
    const { readAttempts, retryBackoff, logger, now } = this.options;
    const attempts = Math.max(1, callOptions.attempts ?? readAttempts);
    // A write is sent again only after CloudStack's own 429 or 503 (answered before anything ran).
    const mayRetry = (error: CloudStackError) =>
      callOptions.read || error.httpStatus === ApiErrorCode.API_LIMIT_EXCEEDED || error.httpStatus === SERVICE_UNAVAILABLE;
    return retry((attempt) => this.once(command, params, callOptions, attempt), {
      backoff: retryBackoff,
      deadlineAt: callOptions.deadlineAt ?? Number.POSITIVE_INFINITY,
      signal: callOptions.signal,
      now,
      retryable: (error, attempt) => error instanceof CloudStackError && error.retryable && mayRetry(error) && attempt < attempts,
      onGiveUp: (error) => error as Error,
      onRetry: (error, attempt) => {
        const err = error as CloudStackError;
        logger.warn(
          { command, attempt, kind: err.kind, errorCode: err.errorCode, httpStatus: err.httpStatus, retryInMs: backoffDelay(retryBackoff, attempt - 1) },
          callOptions.read ? 'cloudstack read failed, retrying' : 'cloudstack refused the write before running it, sending it again',
        );
      },
    }).catch((error: unknown) => {
      // Aborted while waiting to try again: the wait's own rejection becomes the client's ABORTED.
      if (!(error instanceof CloudStackError) && callOptions.signal?.aborted) throw this.aborted(command, callOptions.signal);
      throw error;
    });
  }

  private async once(command: string, params: Readonly<Record<string, string>>, callOptions: CallOptions, attempt: number): Promise<Json> {
    const { endpoint, apiKey, secretKey, transport, requestTimeoutMs, expiresInMs, logger, now } = this.options;
    const { read, signal, deadlineAt } = callOptions;
    if (signal?.aborted) throw this.aborted(command, signal);
    const method = this.options.method;
    const timeoutMs = Math.max(1, Math.min(requestTimeoutMs, deadlineAt === undefined ? Infinity : deadlineAt - now()));
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const pairs = signRequest(command, params, { apiKey, secretKey, expires: new Date(now() + expiresInMs) });
    const started = now();
    let answer;
    try {
      answer = await transport.send({ url: endpoint, method, pairs, signal: combined });
    } catch (error) {
      if (signal?.aborted) throw this.aborted(command, signal);
      const timedOut = timeout.aborted;
      const neverSent = !timedOut && errorCodes(error).some((code) => NEVER_SENT_CODES.has(code));
      const kind = timedOut ? CloudStackErrorKind.TIMEOUT : CloudStackErrorKind.TRANSPORT;
      const what = timedOut ? `no answer within ${timeoutMs} ms` : `transport failure (${this.describe(error)})`;
      logger.warn({ command, method, attempt, kind, neverSent, ms: now() - started }, 'cloudstack request failed');
      throw new CloudStackError(kind, `${command} failed: ${what}`, {
        command,
        retryable: read || neverSent,
        ambiguous: !read && !neverSent,
        cause: new Error(this.redact(this.describe(error))),
      });
    }
    logger.debug({ command, method, attempt, httpStatus: answer.status, ms: now() - started }, 'cloudstack request');
    return openEnvelope(command, answer, read);
  }

  private aborted(command: string, signal: AbortSignal | undefined): CloudStackError {
    const reason = signal?.reason instanceof Error ? signal.reason.message : String(signal?.reason ?? 'aborted');
    return new CloudStackError(CloudStackErrorKind.ABORTED, `${command} aborted: ${this.redact(reason)}`, { command, retryable: false });
  }

  /** A short, secret-free description of a transport error (its code chain, else its message). */
  private describe(error: unknown): string {
    const parts: string[] = [];
    for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
      const code = (e as { code?: unknown }).code;
      parts.push(typeof code === 'string' ? code : e.message);
    }
    return this.redact(parts.join(': ') || String(error));
  }
}
