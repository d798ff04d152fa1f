import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CloudStackClient } from '../../src/cloudstack/cloudstack.client.js';
import { INTERRUPTED_JOB_TEXT } from '../../src/cloudstack/simulator/simulator.jobs.js';
import { startSimulator } from '../../src/cloudstack/simulator/simulator.server.js';
import { StateFileError } from '../../src/cloudstack/simulator/simulator.state.js';
import { DEMO_NETWORKS, DEMO_VMS } from '../../src/demo/demo-world.js';
import { Disposers, FAST_CLIENT, rejectionOf, waitFor } from '../helpers/cloudstack.js';

const disposers = new Disposers();
const dir = disposers.add(mkdtempSync(join(tmpdir(), 'cs-sim-')), (d) => rmSync(d, { recursive: true, force: true }));
afterAll(() => disposers.dispose());

const clientFor = (sim: { url: string; apiKey: string; secretKey: string }) => new CloudStackClient({ url: sim.url, apiKey: sim.apiKey, secretKey: sim.secretKey, ...FAST_CLIENT });
const DISK = DEMO_VMS[0]!.disks[0]!.volumeId;

describe('state file', () => {
  it('keeps the cloud across a restart, written atomically', async () => {
    const stateFile = join(dir, 'round-trip', 'cloud.json');
    const first = await startSimulator({ stateFile, jobLatencyMs: 10 });
    const client = clientFor(first);
    const vm = await client.deployVirtualMachine({
      zoneId: first.ids.zoneId,
      serviceOfferingId: first.ids.serviceOfferingId,
      templateId: first.ids.templateId,
      networkIds: [DEMO_NETWORKS[2]!.id],
      name: 'web-01-test',
      cpuNumber: 2,
      memoryMb: 4096,
      startVm: false,
    });
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
    // and it goes on writing
    await again.attachVolume({ id: DISK, virtualMachineId: second.ids.applianceVmId, deviceId: 1 });
    expect((JSON.parse(readFileSync(stateFile, 'utf8')) as { volumes: { id: string; deviceid?: number }[] }).volumes.find((v) => v.id === DISK)!.deviceid).toBe(1);
  });

  it('fails the jobs a shutdown interrupted and settles what they left half-done', async () => {
    const stateFile = join(dir, 'interrupted.json');
    const first = await startSimulator({ stateFile, jobLatencyMs: 2_000, jobSteps: 40 });
    const client = clientFor(first);
    const pending = client.stopVirtualMachine({ id: first.ids.applianceVmId }, { deadlineMs: 60_000 }).catch((e: unknown) => e);
    await waitFor(() => first.getState().vms[0]!.state === 'Stopping');
    await first.close();
    await pending;

    const second = await startSimulator({ stateFile });
    disposers.add(second, (s) => s.close());
    expect(second.recoveredJobs).toBe(1);
    const state = second.getState({ jobs: true });
    expect(state.vms[0]!.state).toBe('Running');
    expect(state.jobs!.at(-1)).toMatchObject({ command: 'stopVirtualMachine', jobstatus: 2, jobresultcode: 530, jobresult: { errorcode: 530, errortext: INTERRUPTED_JOB_TEXT } });
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
