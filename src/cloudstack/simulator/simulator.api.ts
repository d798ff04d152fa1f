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
import type { CloudJobRunner } from './simulator.jobs.js';
import { RequestParams, SimApiError, paramError } from './simulator.params.js';
import type { CloudState } from './simulator.state.js';

/**
 * The simulated API layer, independent of HTTP: parameters in, an answer (status + JSON body) or
 * a dropped connection out. Order of work, as in CloudStack: known command and signature (401
 * `errorresponse` for an unknown command, 401 `<command>response` for a bad signature), then
 * injected faults, then the command (sync errors), then for async commands the job.
 */

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

/** CloudStack's default (and largest) page size. */
const DEFAULT_PAGE_SIZE = 500;

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
  constructor(private readonly options: SimulatedApiOptions) {}

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
    const decision = faults.decide(command);
    if (decision.latencyMs > 0) await sleep(decision.latencyMs);
    if (decision.drop === 'before') return { drop: true };
    if (decision.error) return errorAnswer(responseName, decision.error);
    let answer: HttpAnswer;
    try {
      const outcome = handler({ state: this.options.state, params: new RequestParams(command, pairs) });
      answer = { status: 200, body: { [responseName]: this.render(command, outcome, pairs, decision.jobFailure) } };
      if (outcome.kind === 'async' || outcome.kind === 'success') this.options.onChange();
    } catch (error) {
      answer = errorAnswer(responseName, error instanceof SimApiError ? error : new SimApiError(530, (error as Error).message));
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
      case 'list':
        return paginate(outcome.key, outcome.items, new RequestParams(command, pairs));
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

/** `page`/`pagesize` as ApiServer applies them; an empty list is `{}`. */
function paginate(key: string, items: readonly Obj[], params: RequestParams): Obj {
  const page = params.integer('page');
  const pageSize = params.integer('pagesize');
  if (pageSize !== undefined && page === undefined) throw paramError('"page" parameter is required when "pagesize" is specified');
  if (page !== undefined && pageSize === undefined) throw paramError('"pagesize" parameter is required when "page" is specified');
  const size = pageSize || DEFAULT_PAGE_SIZE;
  const start = page ? (page - 1) * size : 0;
  const shown = items.slice(start, start + size);
  return items.length === 0 ? {} : shown.length === 0 ? { count: items.length } : { count: items.length, [key]: shown };
}
