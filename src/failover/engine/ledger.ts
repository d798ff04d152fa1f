import type { EntityManager } from '@mikro-orm/core';
import { FailoverLedgerEntry, LedgerState } from '../../entities/index.js';
import type { Action } from './actions.js';
import { run } from '../../inventory/sql.js';
import { LeaseLost } from './errors.js';

/** The kinds of cloud resource the ledger names. */
export type ResourceType = 'vm' | 'volume' | 'snapshot';

/** What an intent records: the action, its resource, and what undoing it needs. */
export interface Intent {
  readonly key: string;
  /** One of the registry's actions (actions.ts). */
  readonly action: Action;
  readonly resourceType: ResourceType;
  readonly resourceId?: string | null;
  readonly resourceName?: string | null;
  readonly detail?: Record<string, unknown>;
}

/** A ledger entry with its detail parsed. */
export type Entry = FailoverLedgerEntry & { readonly data: Record<string, unknown> };

const parse = (entry: FailoverLedgerEntry): Entry => Object.assign(entry, { data: JSON.parse(entry.detail ?? '{}') as Record<string, unknown> });

/** The ledger as steps see it: read-only. */
export interface LedgerView {
  /** Every entry, oldest first. */
  readonly entries: readonly Entry[];
  get(key: string): Entry | undefined;
}

/**
 * A job's ledger of cloud calls. Every write is fenced by the job's lease (written only while this
 * worker holds it: one statement conditional on the execution row's lease owner, else
 * {@link LeaseLost}), so a worker that lost its lease can never record, or go on to make, a call.
 */
export class Ledger implements LedgerView {
  private cache: Entry[] = [];

  constructor(
    private readonly root: EntityManager,
    readonly jobId: string,
    private readonly owner: string,
  ) {}

  /** Reads the job's entries (oldest first). */
  async load(): Promise<readonly Entry[]> {
    const rows = await this.root.fork().find(FailoverLedgerEntry, { jobId: this.jobId }, { orderBy: { id: 'asc' }, disableIdentityMap: true });
    this.cache = rows.map(parse);
    return this.cache;
  }

  /** Every entry, oldest first (as of the last load or write). */
  get entries(): readonly Entry[] {
    return this.cache;
  }

  get(key: string): Entry | undefined {
    return this.cache.find((e) => e.actionKey === key);
  }

  /** Writes the intent before a call (or returns the entry already written under `key`). */
  async intent(flow: string, step: string, intent: Intent): Promise<Entry> {
    const existing = this.get(intent.key);
    if (existing) return existing;
    const now = new Date();
    const row = Object.assign(new FailoverLedgerEntry(), {
      jobId: this.jobId,
      flow,
      step,
      actionKey: intent.key,
      action: intent.action,
      resourceType: intent.resourceType,
      resourceId: intent.resourceId ?? null,
      resourceName: intent.resourceName ?? null,
      state: LedgerState.INTENT,
      detail: JSON.stringify(intent.detail ?? {}),
      createdAt: now,
      updatedAt: now,
    });
    // One statement, fenced by the lease: the row is inserted only while this worker holds it (the
    // read of the execution row is a locking read, so a claim by another worker waits for it or wins first).
    const columns = [
      'job_id',
      'flow',
      'step',
      'action_key',
      'action',
      'resource_type',
      'resource_id',
      'resource_name',
      'state',
      'detail',
      'created_at',
      'updated_at',
    ];
    const values = [row.jobId, flow, step, row.actionKey, row.action, row.resourceType, row.resourceId, row.resourceName, row.state, row.detail, now, now];
    const result = await run(
      this.root.fork(),
      `INSERT INTO failover_ledger (${columns.join(', ')}) SELECT ${columns.map(() => '?').join(', ')} FROM failover_executions WHERE job_id = ? AND lease_owner = ?`,
      [...values, this.jobId, this.owner],
    );
    if (result.affectedRows === 0) throw new LeaseLost(this.jobId);
    row.id = Number(result.insertId);
    const parsed = parse(row);
    this.cache.push(parsed);
    return parsed;
  }

  /** Records that the call succeeded (with the resource it made or moved). */
  async done(entry: Entry, resourceId?: string | null, detail?: Record<string, unknown>): Promise<void> {
    await this.update(entry, LedgerState.DONE, resourceId, detail);
  }

  /** Records, before compensation's calls, that it is undoing this entry. */
  async undoing(entry: Entry): Promise<void> {
    if (entry.state !== LedgerState.UNDOING) await this.update(entry, LedgerState.UNDOING);
  }

  /** Records that the call's effect is undone, or that it provably never happened. */
  async undone(entry: Entry): Promise<void> {
    await this.update(entry, LedgerState.UNDONE);
  }

  private async update(entry: Entry, state: LedgerState, resourceId?: string | null, detail?: Record<string, unknown>): Promise<void> {
    const data = detail ? { ...entry.data, ...detail } : entry.data;
    const patch = { state, resourceId: resourceId ?? entry.resourceId ?? null, detail: JSON.stringify(data), updatedAt: new Date() };
    // One statement, fenced by the lease like the intent.
    const result = await run(
      this.root.fork(),
      'UPDATE failover_ledger SET state = ?, resource_id = ?, detail = ?, updated_at = ? WHERE id = ? AND EXISTS (SELECT 1 FROM failover_executions WHERE job_id = ? AND lease_owner = ?)',
      [patch.state, patch.resourceId, patch.detail, patch.updatedAt, entry.id, this.jobId, this.owner],
    );
    if (result.affectedRows === 0) throw new LeaseLost(this.jobId);
    Object.assign(entry, patch, { data });
  }
}
