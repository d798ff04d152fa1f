import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { ExecutionPhase, FailoverExecution, FailoverJob, FailoverStatus } from '../../src/entities/index.js';
import { createLogger } from '../../src/logger.js';
import { createFailoverRuntime } from '../../src/service.js';
import { waitFor } from '../helpers/wait.js';
import { FAST_ENGINE, START_TEST, startFailoverApi, type FailoverHarness } from '../helpers/failover.js';
import { gqlData } from '../helpers/graphql.js';

/**
 * Rows another tool changed under a job this service runs: the engine never runs on a status it
 * does not write, and never claims such a job again and again.
 */

const WEB = DEMO_VMS[0]!;

describe('a job whose status another tool rewrote (MariaDB, simulator over HTTP)', () => {
  let api: FailoverHarness;
  beforeAll(async () => {
    api = await startFailoverApi('foreign_rows');
  });
  afterAll(() => api?.close());

  it('is left alone: its cursor ends, its lease is let go, the reason is kept, its status stays as the other tool wrote it', async () => {
    // Hold the job in power_on, then stop the engine (it lets the lease go) and rewrite the status.
    api.sim.faults.add({ command: 'startVirtualMachine', kind: 'latency', ms: 400 });
    const { startTestFailover: started } = await gqlData<{ startTestFailover: { jobId: string } }>(api.url, START_TEST, { input: { vmId: WEB.vmId } });
    await waitFor(
      async () => (await api.orm.em.fork().findOne(FailoverJob, { jobId: started.jobId }, { disableIdentityMap: true }))?.status === 'powering_on',
      {
        timeoutMs: 20_000,
        what: 'the job powering on',
      },
    );
    await api.runtime.engine.stop();
    await api.orm.em.fork().nativeUpdate(FailoverJob, { jobId: started.jobId }, { status: FailoverStatus.EXECUTING });

    const other = createFailoverRuntime(api.orm, { cloudStack: api.client, ids: api.sim.ids }, createLogger({ level: 'silent' }), FAST_ENGINE);
    other.engine.start();
    try {
      const execution = await waitFor(
        async () => {
          const row = await api.orm.em.fork().findOne(FailoverExecution, { jobId: started.jobId }, { disableIdentityMap: true });
          // Done in the database, and the engine's runner has returned (it lets go of the job last).
          return row?.phase === ExecutionPhase.DONE && !other.engine.active.includes(started.jobId) ? row : undefined;
        },
        { timeoutMs: 20_000, what: 'the job abandoned and its runner returned' },
      );
      expect(execution.failure).toMatch(/status "executing" was written by another tool/);
      expect(execution.leaseOwner).toBeNull();
      expect(execution.vmLock).toBe(WEB.vmId); // the VM stays locked: what the job holds is for a person to look at
      const row = await api.orm.em.fork().findOneOrFail(FailoverJob, { jobId: started.jobId }, { disableIdentityMap: true });
      expect(row.status).toBe('executing');
    } finally {
      await other.engine.stop();
    }
  });
});
