import { describe, expect, it } from 'vitest';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import type { JobProgress } from '../../src/cloudstack/cloudstack.port.js';
import { JobStatus } from '../../src/cloudstack/cloudstack.types.js';
import { DEMO_APPLIANCE_VM, DEMO_VMS } from '../../src/demo/demo-world.js';
import { callRaw, rejectionOf, useCloud, waitFor } from '../helpers/cloudstack.js';

const cloud = useCloud();

const DISK = DEMO_VMS[0]!.disks[0]!.volumeId;

/** Submits detachVolume by hand and returns its job id. */
async function submitDetach(): Promise<string> {
  const answer = await callRaw(cloud.sim, 'detachVolume', [['id', DISK]]);
  return answer.json.detachvolumeresponse!.jobid as string;
}

describe('async jobs', () => {
  it('reports a running job (jobstatus 0, advancing jobprocstatus, no result) then its result', async () => {
    cloud.sim.setJobLatency(200);
    const jobId = await submitDetach();
    const first = await cloud.client.queryAsyncJobResult({ jobId });
    expect(first).toMatchObject({ jobId, status: JobStatus.PENDING, resultCode: 0, instanceType: 'Volume', instanceId: DISK });
    expect(first.result).toBeUndefined();
    expect(first.cmd).toBe('org.apache.cloudstack.api.command.admin.volume.DetachVolumeCmdByAdmin');
    await waitFor(async () => (await cloud.client.queryAsyncJobResult({ jobId })).procStatus >= 2);
    const done = await waitFor(async () => {
      const job = await cloud.client.queryAsyncJobResult({ jobId });
      return job.status === JobStatus.SUCCEEDED && job;
    });
    expect(done.result).toMatchObject({ volume: { id: DISK, type: 'DATADISK' } });
    expect(done.completed).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
  });

  it('shapes a failed job as jobstatus 2 with errorcode/errortext in jobresult', async () => {
    const answer = await callRaw(cloud.sim, 'startVirtualMachine', [['id', DEMO_APPLIANCE_VM.id]]);
    const jobId = answer.json.startvirtualmachineresponse!.jobid as string;
    const job = await waitFor(async () => {
      const j = await cloud.client.queryAsyncJobResult({ jobId });
      return j.status !== JobStatus.PENDING && j;
    });
    expect(job).toMatchObject({
      status: JobStatus.FAILED,
      resultCode: 431,
      result: { errorcode: 431, errortext: expect.stringContaining('is already running') },
    });
  });

  it('calls the progress callback with jobprocstatus and elapsed time while the job runs', async () => {
    cloud.sim.setJobLatency(150);
    const progress: JobProgress[] = [];
    await cloud.client.detachVolume({ id: DISK }, { onProgress: (p) => progress.push(p) });
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.every((p) => p.command === 'detachVolume' && typeof p.jobId === 'string')).toBe(true);
    const statuses = progress.map((p) => p.procStatus);
    expect(statuses).toEqual([...statuses].sort((a, b) => a - b));
    expect(Math.max(...statuses)).toBeGreaterThanOrEqual(2);
    const elapsed = progress.map((p) => p.elapsedMs);
    expect(elapsed).toEqual([...elapsed].sort((a, b) => a - b));
  });

  it('gives up at the operation deadline with a DEADLINE error that names the job: ambiguous, never retryable', async () => {
    cloud.sim.setJobLatency(5_000);
    const started = Date.now();
    const error = await rejectionOf(cloud.client.detachVolume({ id: DISK }, { deadlineMs: 150 }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.DEADLINE, command: 'detachVolume', retryable: false, ambiguous: true });
    expect(typeof error.jobId).toBe('string');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('caps the poll interval (backoff never exceeds maxMs)', async () => {
    cloud.sim.setJobLatency(300);
    const client = cloud.clientWith({ pollBackoff: { initialMs: 5, maxMs: 15, multiplier: 3 } });
    const before = cloud.sim.faults.calls().queryAsyncJobResult ?? 0;
    await client.detachVolume({ id: DISK });
    const polls = (cloud.sim.faults.calls().queryAsyncJobResult ?? 0) - before;
    // 300 ms at ≤ 15 ms per poll: many polls, not the handful an uncapped ×3 backoff would make.
    expect(polls).toBeGreaterThan(8);
  });

  it('stops at once when the AbortSignal fires, before or during the job', async () => {
    cloud.sim.setJobLatency(5_000);
    const controller = new AbortController();
    const pending = cloud.client.detachVolume({ id: DISK }, { signal: controller.signal, onProgress: () => controller.abort(new Error('user cancelled')) });
    const error = await rejectionOf(pending);
    expect(error).toMatchObject({ kind: CloudStackErrorKind.ABORTED, command: 'detachVolume', retryable: false, ambiguous: true });
    expect(typeof error.jobId).toBe('string');
    const early = await rejectionOf(cloud.client.listZones({}, { signal: AbortSignal.abort() }));
    expect(early).toMatchObject({ kind: CloudStackErrorKind.ABORTED });
  });

  it('serialises the jobs that work on one VM, as the VM work queue does', async () => {
    cloud.sim.setJobLatency(100);
    const started = Date.now();
    await Promise.all(DEMO_VMS.flatMap((vm) => vm.disks).map((d) => cloud.client.detachVolume({ id: d.volumeId })));
    // Four detaches from the appliance: one after the other.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });
});
