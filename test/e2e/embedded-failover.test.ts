import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { CLEANUP, isSettled, JOB, START_LIVE, START_TEST, subscribeEvents, transitions } from '../helpers/failover.js';
import { gqlData, gqlError, wsClient } from '../helpers/graphql.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/service-process.js';

/**
 * `npm start` with no configuration runs failovers: the built service on its embedded SQLite file
 * and in-process simulator, driven over HTTP and graphql-ws, and a restart finds jobs and cloud as
 * they were.
 */

const disposers: (() => unknown)[] = [];
afterAll(async () => {
  for (const dispose of disposers.reverse()) await dispose();
});

const [WEB, DB, LEGACY] = DEMO_VMS as [(typeof DEMO_VMS)[0], (typeof DEMO_VMS)[0], (typeof DEMO_VMS)[0]];

async function started(env: Record<string, string>): Promise<ServiceProcess> {
  const service = await startServiceProcess({ CLOUDSTACK_POLL_INTERVAL_MS: '20', ...env });
  disposers.push(() => service.stop('SIGKILL'));
  return service;
}

async function settle(service: ServiceProcess, jobId: string, status: string) {
  const client = wsClient(service.url.replace(/^http/, 'ws'));
  try {
    const stream = subscribeEvents(client, { jobId, afterSequence: 0 });
    await stream.until((e) => e.status === status && e.previousStatus !== status);
    stream.dispose();
    return stream.events;
  } finally {
    await client.dispose();
  }
}

describe('the embedded default runs failovers (SQLite + in-process simulator, child process)', () => {
  it('test failover and cleanup of the demo VMs; the not-ready one is refused; a restart keeps everything', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'failover-embedded-'));
    disposers.push(() => rmSync(dataDir, { recursive: true, force: true }));
    let service = await started({ DATA_DIR: dataDir });

    const refused = await gqlError(service.url, START_TEST, { input: { vmId: LEGACY.vmId } });
    expect(refused.extensions?.code).toBe('VM_NOT_READY');

    const { startTestFailover: test } = await gqlData(service.url, START_TEST, { input: { vmId: DB.vmId } });
    const { startLiveFailover: live } = await gqlData(service.url, START_LIVE, { input: { vmId: WEB.vmId } });
    const testEvents = await settle(service, test.jobId, 'COMPLETED');
    expect(transitions(testEvents)).toEqual(['PENDING', 'VALIDATING', 'SNAPSHOTTING', 'CREATING_VM', 'SWITCHING_VOLUME', 'POWERING_ON', 'COMPLETED']);
    await settle(service, live.jobId, 'COMPLETED');

    // A restart (SIGTERM) finds both jobs completed, and the cloud still holding their VMs.
    await service.stop('SIGTERM');
    service = await started({ DATA_DIR: dataDir });
    for (const job of [test, live]) {
      const { failoverJob } = await gqlData(service.url, JOB, { jobId: job.jobId });
      expect(failoverJob).toMatchObject({ status: 'COMPLETED', progressPercent: 100 });
      expect(failoverJob.destinationVmId).toBeTruthy();
    }
    await gqlData(service.url, CLEANUP, { jobId: test.jobId });
    const cleanupEvents = await settle(service, test.jobId, 'CLEANED_UP');
    expect(cleanupEvents.some(isSettled)).toBe(true);
    const { failoverJob: cleaned } = await gqlData(service.url, JOB, { jobId: test.jobId });
    expect(cleaned.status).toBe('CLEANED_UP');
    // The VM is free again: readiness for a new test failover passes (cloud checks included).
    const { vmReadiness } = await gqlData(service.url, `query ($vmId: String!) { vmReadiness(vmId: $vmId, type: TEST) { ready checks { name passed } } }`, {
      vmId: DB.vmId,
    });
    expect(vmReadiness.ready).toBe(true);
    expect(vmReadiness.checks.map((c: { name: string }) => c.name)).toContain('cloud_volumes_ready');
  });
});
