import { DriverException } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionPhase, FailoverExecution, FailoverLedgerEntry, FlowName, LedgerState } from '../../src/entities/index.js';
import { Action } from '../../src/failover/engine/actions.js';
import { LeaseLost } from '../../src/failover/engine/errors.js';
import { Ledger } from '../../src/failover/engine/ledger.js';
import { DATABASE_KINDS, openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';

/**
 * The ledger's writes on both databases: each is one statement fenced by the job's lease — written
 * while the worker holds it, refused with LeaseLost (nothing written) once another worker holds it —
 * and read back as written; a database error stays the ORM's DriverException (the runner breaks the
 * run off on it rather than failing the job).
 */

describe.each(DATABASE_KINDS)('ledger writes on %s', (kind) => {
  let db: MigratedDatabase;
  let serial = 0;
  beforeAll(async () => {
    db = await openMigratedDatabase('ledger_fence', { kind });
  });
  afterAll(() => db?.close());

  /** A job whose lease `owner` holds. */
  const heldJob = async (owner: string): Promise<string> => {
    const jobId = `ledger-job-${++serial}`;
    await db.orm.em.fork().insert(FailoverExecution, {
      jobId,
      vmId: `vm-${serial}`,
      flow: FlowName.TEST_FAILOVER,
      phase: ExecutionPhase.RUN,
      step: 1,
      progressPercent: 0,
      leaseOwner: owner,
      createdAt: new Date(),
      updatedAt: new Date(),
    } as never);
    return jobId;
  };
  const stored = (jobId: string) => db.orm.em.fork().find(FailoverLedgerEntry, { jobId }, { orderBy: { id: 'asc' }, disableIdentityMap: true });
  const intent = {
    key: 'snapshot:vol-1',
    action: Action.CREATE_SNAPSHOT,
    resourceType: 'snapshot' as const,
    resourceName: 'snap-1',
    detail: { volumeId: 'vol-1' },
  };

  it('writes intent and done while the worker holds the lease, and reads them back as written', async () => {
    const jobId = await heldJob('worker-a');
    const ledger = new Ledger(db.orm.em, jobId, 'worker-a');
    const entry = await ledger.intent(FlowName.TEST_FAILOVER, 'snapshot_volumes', intent);
    expect(entry.id).toBeGreaterThan(0);
    await ledger.done(entry, 'snapshot-9', { size: 3 });
    const [row] = await stored(jobId);
    expect(row).toMatchObject({
      id: entry.id,
      flow: FlowName.TEST_FAILOVER,
      step: 'snapshot_volumes',
      actionKey: 'snapshot:vol-1',
      action: Action.CREATE_SNAPSHOT,
      resourceType: 'snapshot',
      resourceId: 'snapshot-9',
      resourceName: 'snap-1',
      state: LedgerState.DONE,
    });
    expect(JSON.parse(row!.detail!)).toEqual({ volumeId: 'vol-1', size: 3 });
    expect(row!.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(row!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    // A second ledger of the job (a resumed run) finds the same entry.
    const reloaded = new Ledger(db.orm.em, jobId, 'worker-a');
    await reloaded.load();
    expect(reloaded.get('snapshot:vol-1')).toMatchObject({ id: entry.id, state: LedgerState.DONE, data: { volumeId: 'vol-1', size: 3 } });
  });

  it('refuses every write once another worker holds the lease, and writes nothing', async () => {
    const jobId = await heldJob('worker-a');
    const ledger = new Ledger(db.orm.em, jobId, 'worker-a');
    const entry = await ledger.intent(FlowName.TEST_FAILOVER, 'snapshot_volumes', intent);
    await db.orm.em.fork().nativeUpdate(FailoverExecution, { jobId }, { leaseOwner: 'worker-b' });
    await expect(ledger.done(entry, 'snapshot-9')).rejects.toBeInstanceOf(LeaseLost);
    await expect(ledger.intent(FlowName.TEST_FAILOVER, 'create_vm', { key: 'vm', action: Action.DEPLOY_VM, resourceType: 'vm' })).rejects.toBeInstanceOf(
      LeaseLost,
    );
    const rows = await stored(jobId);
    expect(rows.map((r) => [r.actionKey, r.state, r.resourceId ?? null])).toEqual([['snapshot:vol-1', LedgerState.INTENT, null]]);
    expect(ledger.entries).toHaveLength(1);
    expect(ledger.entries[0]!.state).toBe(LedgerState.INTENT);
  });

  it('a database error is the ORM DriverException, not a lost lease', async () => {
    const jobId = await heldJob('worker-a');
    const ledger = new Ledger(db.orm.em, jobId, 'worker-a');
    const entry = await ledger.intent(FlowName.TEST_FAILOVER, 'snapshot_volumes', intent);
    const connection = db.orm.em.getConnection();
    await connection.execute('ALTER TABLE failover_ledger RENAME TO failover_ledger_away');
    try {
      await expect(ledger.done(entry, 'snapshot-9')).rejects.toBeInstanceOf(DriverException);
      await expect(ledger.intent(FlowName.TEST_FAILOVER, 'create_vm', { key: 'vm', action: Action.DEPLOY_VM, resourceType: 'vm' })).rejects.toBeInstanceOf(
        DriverException,
      );
    } finally {
      await connection.execute('ALTER TABLE failover_ledger_away RENAME TO failover_ledger');
    }
  });
});
