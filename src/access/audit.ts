import type { EntityManager } from '@mikro-orm/core';
import { GraphQLError } from 'graphql';
import { AuditEntry } from '../entities/index.js';
import { ErrorCode } from '../errors.js';
import type { Actor, RequestSource } from './actor.js';

/** The audit log: who changed what, when, from where, and how it ended. Append-only. */

/** How an audited request ended. */
export enum AuditOutcome {
  OK = 'ok',
  REFUSED = 'refused',
}

const MAX_ARGUMENTS_CHARS = 4_000;
const MAX_STRING_CHARS = 200;
const MAX_LIST_ITEMS = 20;
const MAX_MESSAGE_CHARS = 1_000;

/** Arguments as the audit log keeps them: long strings cut, long lists cut, the whole bounded. */
export function boundedArguments(args: unknown): string {
  const json = JSON.stringify(args, (_key, value: unknown) => {
    if (typeof value === 'string' && value.length > MAX_STRING_CHARS) return `${value.slice(0, MAX_STRING_CHARS)}… (${value.length} characters)`;
    if (Array.isArray(value) && value.length > MAX_LIST_ITEMS) return [...value.slice(0, MAX_LIST_ITEMS), `… (${value.length} entries)`];
    return value;
  });
  return json.length > MAX_ARGUMENTS_CHARS ? `${json.slice(0, MAX_ARGUMENTS_CHARS)}…` : json;
}

/** What a mutation is about, read from its arguments when the service does not say. */
function targetOf(args: Record<string, unknown>): string | null {
  const input = (args.input ?? {}) as Record<string, unknown>;
  for (const value of [args.jobId, args.id, args.name, input.vmId, input.planId, input.name, args.vmId]) {
    if (typeof value === 'string' && value !== '') return value.slice(0, 255);
  }
  return null;
}

/**
 * What a service that makes a change is given by the request that asks for it: who asks (for
 * `requestedBy`) and the audit record to write in the change's own transaction.
 */
export interface ChangeRecord {
  readonly requestedBy: string;
  inTransaction(tx: EntityManager, target?: string | null): Promise<void>;
}

/** A change the service makes on its own behalf (no request to audit): `system:<what>`. */
export const systemChange = (what: string): ChangeRecord => ({ requestedBy: `system:${what}`, inTransaction: async () => {} });

/**
 * The audit of one mutation. The service that makes the change writes the record in the change's
 * own transaction through {@link MutationAudit.inTransaction} (and takes `requestedBy` from here);
 * a refusal, which changes nothing, is recorded on its own by {@link MutationAudit.refused}.
 */
export class MutationAudit implements ChangeRecord {
  private written = false;

  constructor(
    private readonly root: EntityManager,
    readonly actor: Actor,
    private readonly source: RequestSource,
    readonly operation: string,
    private readonly args: Record<string, unknown>,
  ) {}

  /** Who asked: what jobs and events carry as `requestedBy`. */
  get requestedBy(): string {
    return this.actor.name;
  }

  /** Whether the record was written. */
  get recorded(): boolean {
    return this.written;
  }

  private entry(outcome: AuditOutcome, { target, errorCode, message }: { target?: string | null; errorCode?: string; message?: string }) {
    return {
      occurredAt: new Date(),
      actor: this.actor.name,
      actorRole: this.actor.role,
      source: this.source.address?.slice(0, 64) ?? null,
      transport: this.source.transport,
      operation: this.operation,
      target: target ?? targetOf(this.args),
      arguments: boundedArguments(this.args),
      outcome,
      errorCode: errorCode ?? null,
      message: message === undefined ? null : message.slice(0, MAX_MESSAGE_CHARS),
    };
  }

  /** Records the mutation as done, in `tx`: the transaction that makes its change. */
  readonly inTransaction = async (tx: EntityManager, target?: string | null): Promise<void> => {
    await tx.insert(AuditEntry, this.entry(AuditOutcome.OK, { target }));
    this.written = true;
  };

  /** Records a refusal (the error's code and, for the API's own errors, its message). */
  async refused(error: unknown): Promise<void> {
    const known = error instanceof GraphQLError && typeof error.extensions.code === 'string';
    const errorCode = known ? (error.extensions.code as string) : ErrorCode.INTERNAL_SERVER_ERROR;
    const message = known ? error.message : 'internal error (see the service log)';
    await this.root.fork().insert(AuditEntry, this.entry(AuditOutcome.REFUSED, { errorCode, message }));
    this.written = true;
  }

  /** After success: records it now if the service did not (a mutation that changes nothing of its own). */
  async settle(): Promise<void> {
    if (!this.written) await this.root.fork().transactional((tx) => this.inTransaction(tx));
  }
}

/** The audit of every mutation of one request, by one actor from one place (mutations run one after another). */
export class RequestAudit {
  private running: MutationAudit | undefined;

  constructor(
    private readonly root: EntityManager,
    readonly actor: Actor,
    readonly source: RequestSource,
  ) {}

  /** Starts the audit of the mutation `operation` with its arguments: {@link change} is it until {@link end}. */
  begin(operation: string, args: Record<string, unknown>): MutationAudit {
    this.running = new MutationAudit(this.root, this.actor, this.source, operation, args);
    return this.running;
  }

  end(): void {
    this.running = undefined;
  }

  /** The record of the mutation running now, for its service; only an audited mutation has one. */
  get change(): MutationAudit {
    if (!this.running) throw new Error('no audited mutation is running: declare the mutation with @AuditedMutation');
    return this.running;
  }
}
