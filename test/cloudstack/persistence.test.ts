import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CloudStackClient } from '../../src/cloudstack/cloudstack.client.js';
import { INTERRUPTED_JOB_TEXT } from '../../src/cloudstack/simulator/simulator.jobs.js';
import { startSimulator } from '../../src/cloudstack/simulator/simulator.server.js';
import { StateFileError, StateWriter } from '../../src/cloudstack/simulator/simulator.state.js';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { callRaw, deployParams, Disposers, FAST_CLIENT, rejectionOf, waitFor } from '../helpers/cloudstack.js';

const disposers = new Disposers();
const dir = disposers.add(mkdtempSync(join(tmpdir(), 'cs-sim-')), (d) => rmSync(d, { recursive: true, force: true }));
afterAll(() => disposers.dispose());

const clientFor = (sim: { url: string; apiKey: string; secretKey: string }) =>
  new CloudStackClient({ url: sim.url, apiKey: sim.apiKey, secretKey: sim.secretKey, ...FAST_CLIENT });
const DISK = DEMO_VMS[0]!.disks[0]!.volumeId;

describe('state file', () => {
  it('keeps the cloud across a restart, written atomically', async () => {
    const stateFile = join(dir, 'round-trip', 'cloud.json');
    const first = await startSimulator({ stateFile, jobLatencyMs: 10 });
    const client = clientFor(first);
    const vm = await client.deployVirtualMachine(deployParams(first, { name: 'web-01-test', memoryMb: 4096, startVm: false }));
    await client.detachVolume({ id: DISK });
    const snapshot = await client.createSnapshot({ volumeId: DISK, name: 'before' });
    const before = first.getState({ jobs: true });
    await first.close();

    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual(before);
    expect(readdirSync(join(dir, 'round-trip'))).toEqual(['cloud.json']); // no temporary file left behind

    const second = await startSimulator({ stateFile, jobLatencyMs: 10 });
    disposers.add(second, (s) => s.close());
    expect(second.getState({ jobs: true })).toEqual(before);
    expect(second.recoveredJobs).toBe(0);
    const again = clientFor(second);
    expect((await again.listVirtualMachines({ name: 'web-01-test' }))[0]).toMatchObject({ id: vm.id, state: 'Stopped' });
    expect((await again.listSnapshots({ volumeId: DISK }))[0]).toMatchObject({ id: snapshot.id, state: 'BackedUp' });
    expect((await again.listVolumes({ id: DISK }))[0]!.virtualMachineId).toBeUndefined();
    // and it goes on writing (in the background: the test waits for the file to show it)
    await again.attachVolume({ id: DISK, virtualMachineId: second.ids.applianceVmIds[0]!, deviceId: 1 });
    const deviceOnDisk = () =>
      (JSON.parse(readFileSync(stateFile, 'utf8')) as { volumes: { id: string; deviceid?: number }[] }).volumes.find((v) => v.id === DISK)!.deviceid;
    await waitFor(() => deviceOnDisk() === 1);
  });

  it('fails the jobs a shutdown interrupted and settles what they left half-done', async () => {
    const stateFile = join(dir, 'interrupted.json');
    const first = await startSimulator({ stateFile, jobLatencyMs: 2_000, jobSteps: 40 });
    const client = clientFor(first);
    // Polls against a closed simulator count as "still running"; the test stops waiting by aborting.
    const controller = new AbortController();
    const pending = client.stopVirtualMachine({ id: first.ids.applianceVmIds[0]! }, { deadlineMs: 60_000, signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => first.getState().vms[0]!.state === 'Stopping');
    await first.close();
    controller.abort(new Error('test done'));
    expect(await pending).toMatchObject({ kind: 'ABORTED', command: 'stopVirtualMachine', ambiguous: true });

    const second = await startSimulator({ stateFile });
    disposers.add(second, (s) => s.close());
    expect(second.recoveredJobs).toBe(1);
    const state = second.getState({ jobs: true });
    expect(state.vms[0]!.state).toBe('Running');
    expect(state.jobs!.at(-1)).toMatchObject({
      command: 'stopVirtualMachine',
      jobstatus: 2,
      jobresultcode: 530,
      jobresult: { errorcode: 530, errortext: INTERRUPTED_JOB_TEXT },
    });
  });

  it('starts from the demo world without a file, from nothing with seed=false, and refuses a corrupt file', async () => {
    const empty = await startSimulator({ seed: false });
    disposers.add(empty, (s) => s.close());
    expect(empty.getState()).toMatchObject({ vms: [], volumes: [], zones: [] });
    expect(await clientFor(empty).listZones()).toEqual([]);

    const corrupt = join(dir, 'corrupt.json');
    writeFileSync(corrupt, '{"half": ');
    const error = await rejectionOf(startSimulator({ stateFile: corrupt }));
    expect(error).toBeInstanceOf(StateFileError);
    expect(error.message).toContain('is not valid JSON');
  });
});

describe('state file size and write pattern', () => {
  it('stays bounded: only the newest keepFinishedJobs finished jobs are kept (running ones always), as compact JSON', async () => {
    const stateFile = join(dir, 'bounded.json');
    const sim = await startSimulator({ stateFile, jobLatencyMs: 0, keepFinishedJobs: 5 });
    const client = clientFor(sim);
    // One job that keeps running while the others come and go (its own VM, so its own queue).
    const vm = await client.deployVirtualMachine(deployParams(sim, { name: 'long-runner' }));
    sim.setJobLatency(60_000);
    const running = (await callRaw(sim, 'stopVirtualMachine', [['id', vm.id]])).json.stopvirtualmachineresponse!.jobid as string;
    sim.setJobLatency(0);
    for (let i = 0; i < 30; i++) await client.stopVirtualMachine({ id: sim.ids.applianceVmIds[0]! });
    const jobs = sim.getState({ jobs: true }).jobs!;
    expect(jobs.filter((j) => j.jobstatus !== 0)).toHaveLength(5);
    expect(jobs.find((j) => j.jobid === running)).toMatchObject({ jobstatus: 0 });
    await sim.close();

    const text = readFileSync(stateFile, 'utf8');
    expect(text).not.toContain('\n');
    expect(JSON.parse(text).jobs).toHaveLength(6);
    // After a restart the interrupted job is the most recently finished one: it is kept, the oldest other goes.
    const again = disposers.add(await startSimulator({ stateFile, keepFinishedJobs: 5 }), (s) => s.close());
    const after = again.getState({ jobs: true }).jobs!;
    expect(after).toHaveLength(5);
    expect(after.find((j) => j.jobid === running)).toMatchObject({ jobstatus: 2 });
    expect(after.map((j) => j.jobid)).not.toContain(jobs.find((j) => j.jobstatus !== 0)!.jobid);
  });

  it('has a change made just before close() on disk after a restart', async () => {
    const stateFile = join(dir, 'last-change.json');
    const first = await startSimulator({ stateFile });
    first.update((w) => void (w.vms[0]!.displayname = 'renamed just before close'));
    await first.close();
    const second = disposers.add(await startSimulator({ stateFile }), (s) => s.close());
    expect(second.getState().vms[0]!.displayname).toBe('renamed just before close');
  });
});

/** A promise with its resolve/reject at hand. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('StateWriter', () => {
  /** A writer whose writes finish when the test says so; `versions` is what each write saw. */
  function controlledWriter() {
    let version = 0;
    const writes: { saw: number; done: ReturnType<typeof deferred> }[] = [];
    const started: (() => void)[] = [];
    const writer = new StateWriter(() => {
      const done = deferred();
      writes.push({ saw: version, done });
      started.splice(0).forEach((wake) => wake());
      return done.promise;
    });
    const change = () => {
      version++;
      writer.schedule();
    };
    const nextWrite = (n: number) =>
      (writes.length >= n ? Promise.resolve() : new Promise<void>((resolve) => started.push(resolve))).then(() => writes[n - 1]!);
    return { writer, writes, change, nextWrite };
  }

  it('coalesces a burst into one write, keeps one write in flight, and makes exactly one more for changes during it', async () => {
    const { writer, writes, change, nextWrite } = controlledWriter();
    change();
    change();
    change();
    const first = await nextWrite(1);
    expect(first.saw).toBe(3);
    change();
    change();
    expect(writes).toHaveLength(1); // still in flight: nothing else starts
    let flushed = false;
    const flushing = writer.flush().then(() => (flushed = true));
    first.done.resolve();
    const second = await nextWrite(2);
    expect(second.saw).toBe(5);
    expect(flushed).toBe(false);
    second.done.resolve();
    await flushing;
    expect(writes).toHaveLength(2);
  });

  it('flush rejects when the last write failed, and resolves again once a later write succeeds', async () => {
    const { writer, change, nextWrite } = controlledWriter();
    change();
    (await nextWrite(1)).done.reject(new Error('disk full'));
    await expect(writer.flush()).rejects.toThrow('disk full');
    change();
    (await nextWrite(2)).done.resolve();
    await expect(writer.flush()).resolves.toBeUndefined();
  });
});
