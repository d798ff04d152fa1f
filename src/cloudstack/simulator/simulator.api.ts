import { canonicalString, computeSignature, parseExpires, signaturesEqual, type ParamPair } from '../signing.js';
import { silentLogger, type CloudStackLogger } from '../logger.js';
import { sleep } from '../../retry.js';
import { CATALOG_COMMANDS } from './commands/catalog.commands.js';
import type { CommandHandler, CommandOutcome, Obj } from './commands/command.js';
import { SNAPSHOT_COMMANDS } from './commands/snapshot.commands.js';
import { VM_COMMANDS } from './commands/vm.commands.js';
import { VM_SNAPSHOT_COMMANDS } from './commands/vm-snapshot.commands.js';
import { VOLUME_COMMANDS } from './commands/volume.commands.js';
import type { FaultInjector } from './faults.js';
import { ASYNC_COMMANDS, type CloudJobRunner } from './simulator.jobs.js';
import { RequestParams, SimApiError, USER_ERROR_TEXT, paramError } from './simulator.params.js';
import type { CloudState } from './simulator.state.js';

/**
 * The simulated API layer, independent of HTTP: parameters in, an answer (status + JSON body) or
 * a dropped connection out. Order of work, as in CloudStack: known command and signature (401
 * `errorresponse` for an unknown command, 401 `<command>response` for a bad signature), the API
 * rate limit of the verified account (429, ApiServer.verifyRequest → commandAvailable), then
 * injected faults, then a
 * management server in maintenance refuses every async command (503, ApiServer.processAsyncCmd;
 * lists still answer), then the command (sync errors), then for async commands the job. A sync
 * 530 that is not CloudStack's own ServerApiException reads USER_ERROR_TEXT for a caller that is
 * not a root admin (ApiServer.handleRequest); job results keep their text.
 */

/** ApiServer.processAsyncCmd's refusal while the management server prepares for maintenance or shutdown. */
export const MAINTENANCE_TEXT = 'Maintenance or Shutdown has been initiated on this management server. Can not accept new jobs';
/** ApiRateLimitServiceImpl's refusal once the account used its `api.throttling.max` calls of the interval. */
export const rateLimitText = (retryAfterMs: number) => `The given user has reached his/her account api limit, please retry after [${retryAfterMs}] ms.`;

/**
 * The signature check of CloudStack's ApiServer.verifyRequest, step for step:
 * - `signature`, `apikey`, `signatureversion` and `expires` are found whatever the case of their
 *   names (equalsIgnoreCase); `command` must be spelled `command`;
 * - the string to sign is every other parameter, names exactly as received, sorted ordinally,
 *   `name=URLEncoder(value)` joined with `&`, then lowercased — so a client that sends camelCase
 *   names verifies as long as it signed the names it sent;
 * - with signatureversion 3, `expires` must be present, parseable and not in the past;
 * - the key must be known, and signatures are compared in constant time.
 * Any failure is the same 401: the server never says which part was wrong.
 */

/** CloudStack's one answer to every authentication failure. */
export const UNAUTHORIZED_TEXT = 'unable to verify user credentials and/or request signature';

/** A key pair the simulator accepts. */
export interface Credentials {
  readonly apiKey: string;
  readonly secretKey: string;
}

/** Why a request was refused (for the simulator's debug log only; never sent to the client). */
export type AuthFailure = 'missing-signature' | 'missing-apikey' | 'unknown-apikey' | 'missing-expires' | 'bad-expires' | 'expired' | 'bad-signature';

/** Verifies a request's signature; returns undefined when it is good, else why not. */
export function verifySignature(pairs: readonly ParamPair[], credentials: Credentials, now: Date = new Date()): AuthFailure | undefined {
  const find = (name: string) => pairs.find(([n]) => n.toLowerCase() === name)?.[1];
  const signature = find('signature');
  const apiKey = find('apikey');
  if (signature === undefined) return 'missing-signature';
  if (apiKey === undefined) return 'missing-apikey';
  if (find('signatureversion') === '3') {
    const expires = find('expires');
    if (expires === undefined) return 'missing-expires';
    const when = parseExpires(expires);
    if (when === undefined) return 'bad-expires';
    if (when.getTime() < now.getTime()) return 'expired';
  }
  if (apiKey !== credentials.apiKey) return 'unknown-apikey';
  let expected: string;
  try {
    expected = computeSignature(canonicalString(pairs), credentials.secretKey);
  } catch {
    return 'bad-signature'; // a value that cannot be encoded (a lone surrogate)
  }
  return signaturesEqual(signature, expected) ? undefined : 'bad-signature';
}

/** Every command the simulator knows, by its exact (case-sensitive) name. */
export const COMMANDS: Readonly<Record<string, CommandHandler>> = {
  ...VM_COMMANDS,
  ...VOLUME_COMMANDS,
  ...SNAPSHOT_COMMANDS,
  ...VM_SNAPSHOT_COMMANDS,
  ...CATALOG_COMMANDS,
};

/** An HTTP answer: status, JSON body and the `X-Description` header. */
export interface HttpAnswer {
  readonly drop?: false;
  readonly status: number;
  readonly body: Obj;
  readonly description?: string;
}

/** What to send back: an answer, or nothing (the connection is destroyed). */
export type ApiAnswer = HttpAnswer | { readonly drop: true };

/** What the API layer needs. */
export interface SimulatedApiOptions {
  readonly state: CloudState;
  readonly credentials: Credentials;
  readonly faults: FaultInjector;
  readonly jobs: () => CloudJobRunner;
  /** Called after a command changed the world (sync writes; async commands also through their job). */
  readonly onChange: () => void;
  readonly logger?: CloudStackLogger;
}

/** An error answer: HTTP status = errorcode, `X-Description`, the error envelope. */
export function errorAnswer(responseName: string, error: SimApiError, { csErrorCode = true } = {}): HttpAnswer {
  const inner: Obj = { uuidList: [], errorcode: error.errorCode };
  if (csErrorCode) inner.cserrorcode = error.csErrorCode;
  inner.errortext = error.errorText;
  return { status: error.errorCode, body: { [responseName]: inner }, description: error.errorText };
}

/** Handles API requests against the simulated cloud. */
export class SimulatedApi {
  /** The API rate limit's current window: when it started and the calls counted in it. */
  private window = { startedMs: 0, calls: 0 };

  constructor(private readonly options: SimulatedApiOptions) {}

  /** The 429 of `api.throttling` (root admins are exempt), counting this call. */
  private throttled(): SimApiError | undefined {
    const { apiThrottlingMax: max, apiThrottlingIntervalSeconds: seconds, callerIsAdmin } = this.options.state.settings;
    if (max <= 0 || callerIsAdmin) return undefined;
    const now = Date.now();
    if (now - this.window.startedMs >= seconds * 1000) this.window = { startedMs: now, calls: 0 };
    this.window.calls++;
    if (this.window.calls <= max) return undefined;
    return new SimApiError(429, rateLimitText(this.window.startedMs + seconds * 1000 - now), 4100);
  }

  /** Answers one request given its parameters as received (query and form body merged). */
  async handle(received: readonly ParamPair[]): Promise<ApiAnswer> {
    const { credentials, faults, logger = silentLogger } = this.options;
    const pairs = dedupe(received);
    const command = pairs.find(([name]) => name === 'command')?.[1];
    if (command === undefined) return errorAnswer('errorresponse', new SimApiError(400, 'no command specified'), { csErrorCode: false });
    const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!handler) {
      logger.debug({ command }, 'simulator: unknown command');
      return errorAnswer('errorresponse', new SimApiError(401, UNAUTHORIZED_TEXT), { csErrorCode: false });
    }
    const responseName = `${command.toLowerCase()}response`;
    const refused = verifySignature(pairs, credentials);
    if (refused) {
      logger.debug({ command, reason: refused }, 'simulator: request refused');
      return errorAnswer(responseName, new SimApiError(401, UNAUTHORIZED_TEXT), { csErrorCode: false });
    }
    // The per-account limit counts the calls of the verified user.
    const limited = this.throttled();
    if (limited) return errorAnswer(responseName, limited);
    const decision = faults.decide(command);
    if (decision.latencyMs > 0) await sleep(decision.latencyMs);
    if (decision.drop === 'before') return { drop: true };
    if (decision.error) return errorAnswer(responseName, decision.error);
    const { state } = this.options;
    if (state.settings.maintenance && ASYNC_COMMANDS.has(command)) return errorAnswer(responseName, new SimApiError(503, MAINTENANCE_TEXT, 4250));
    let answer: HttpAnswer;
    try {
      const outcome = handler({ state, params: new RequestParams(command, pairs) });
      answer = { status: 200, body: { [responseName]: this.render(command, outcome, pairs, decision.jobFailure) } };
      if (outcome.kind === 'async' || outcome.kind === 'success') this.options.onChange();
    } catch (error) {
      const refusal = error instanceof SimApiError ? error : new SimApiError(530, (error as Error).message, 4250, true);
      const shown = refusal.runtime && !state.settings.callerIsAdmin ? new SimApiError(530, USER_ERROR_TEXT, refusal.csErrorCode) : refusal;
      answer = errorAnswer(responseName, shown);
    }
    logger.debug({ command, status: answer.status }, 'simulator: answered');
    return decision.drop === 'after' ? { drop: true } : answer;
  }

  private render(command: string, outcome: CommandOutcome, pairs: readonly ParamPair[], jobFailure: SimApiError | undefined): Obj {
    switch (outcome.kind) {
      case 'fields':
        return outcome.fields;
      case 'object':
        return { [outcome.key]: outcome.value };
      case 'success':
        return { success: true };
      case 'list': {
        const params = new RequestParams(command, pairs);
        return paginate(
          outcome.key,
          visibleToCaller(this.options.state, params, outcome.key, outcome.items),
          params,
          this.options.state.settings.defaultPageSize,
        );
      }
      case 'async': {
        const job = this.options.jobs().submit(command, outcome.plan, jobFailure);
        return outcome.plan.createdId === undefined ? { jobid: job.jobid } : { id: outcome.plan.createdId, jobid: job.jobid };
      }
    }
  }
}

/** Keeps the first value of each exact parameter name, as the servlet's parameter map does. */
function dedupe(pairs: readonly ParamPair[]): ParamPair[] {
  const seen = new Set<string>();
  return pairs.filter(([name]) => !seen.has(name) && (seen.add(name), true));
}

/** The list answers (by item key) of resources a project can own; the others ignore `projectid`. */
const PROJECT_OWNED = new Set(['virtualmachine', 'volume', 'snapshot', 'vmSnapshot', 'network']);

/**
 * Which listed resources the caller sees (AccountManagerImpl.buildACLSearchParameters): without
 * `projectid`, none a project owns — even by `id`, for a caller that is not an admin (the account
 * filter stays); a root admin finds them by id. With `projectid=<id>`, only that project's; with
 * `projectid=-1`, those of every project. An unknown project id is the unknown-id 431.
 */
function visibleToCaller(state: CloudState, params: RequestParams, key: string, items: readonly Obj[]): readonly Obj[] {
  if (!PROJECT_OWNED.has(key)) return items;
  const projectId = params.get('projectid');
  if (projectId !== undefined && projectId !== '-1' && !state.project(projectId)) throw params.invalid('projectid', projectId);
  const owner = (item: Obj) => (typeof item.projectid === 'string' ? item.projectid : undefined);
  if (projectId === '-1') return items.filter((item) => owner(item) !== undefined);
  if (projectId !== undefined) return items.filter((item) => owner(item) === projectId);
  const adminById = state.settings.callerIsAdmin && params.get('id') !== undefined;
  return adminById ? items : items.filter((item) => owner(item) === undefined);
}

/**
 * `page`/`pagesize` as BaseListCmd takes them: together or not at all; `pagesize` at most
 * `default.page.size` (431 otherwise), or -1 for all of them (then without `page`). An empty list
 * is `{}`.
 */
function paginate(key: string, items: readonly Obj[], params: RequestParams, maxPageSize: number): Obj {
  const unlimited = params.get('pagesize') === '-1';
  const page = params.integer('page');
  const pageSize = unlimited ? undefined : params.integer('pagesize');
  if (unlimited && page !== undefined) throw paramError("Can't specify page parameter when pagesize is -1 (Unlimited)");
  if (pageSize !== undefined && pageSize > maxPageSize) throw paramError(`Page size can't exceed max allowed page size value: ${maxPageSize}`);
  if (pageSize !== undefined && page === undefined) throw paramError('"page" parameter is required when "pagesize" is specified');
  if (page !== undefined && pageSize === undefined && !unlimited) throw paramError('"pagesize" parameter is required when "page" is specified');
  const size = unlimited ? items.length : pageSize || maxPageSize;
  const start = page ? (page - 1) * size : 0;
  const shown = items.slice(start, start + size);
  return items.length === 0 ? {} : shown.length === 0 ? { count: items.length } : { count: items.length, [key]: shown };
}
