import { describe, expect, it } from 'vitest';
import { FetchTransport, type HttpRequest, type HttpTransport } from '../../src/cloudstack/cloudstack.transport.js';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { FaultKind } from '../../src/cloudstack/simulator/faults.js';
import { DEMO_NETWORKS, DEMO_VMS } from '../../src/demo/demo-world.js';
import { closedPort, deployParams as params, rejectionOf, useCloud } from '../helpers/cloudstack.js';

const cloud = useCloud();

const DISK = DEMO_VMS[0]!.disks[0]!.volumeId;
const calls = (command: string) => cloud.sim.faults.calls()[command] ?? 0;
const deployParams = (name?: string) => params(cloud.sim, { name });
const [, , TEST, TEST_BACKEND] = DEMO_NETWORKS.map((n) => n.id) as [string, string, string, string];

/**
 * A clock that moves only when the client asks the cloud `command`: each such request costs
 * `stepMs`, whatever the machine's speed, so "until the deadline" is a count of requests, not a race.
 */
function requestClock(command: string, stepMs = 100): { now: () => number; transport: HttpTransport } {
  let t = Date.now();
  const http = new FetchTransport();
  return {
    now: () => t,
    transport: {
      send(request) {
        if (request.pairs.some(([name, value]) => name === 'command' && value === command)) t += stepMs;
        return http.send(request);
      },
    },
  };
}

/** Sends the first `times` calls of `command` to a closed port (a real ECONNREFUSED), the rest to the simulator. */
async function refusingTransport(command: string, times: number) {
  const refusedUrl = `http://127.0.0.1:${await closedPort()}/client/api`;
  const inner = new FetchTransport();
  let refused = 0;
  return {
    get refused() {
      return refused;
    },
    send(request: HttpRequest) {
      const isTarget = request.pairs.some(([name, value]) => name === 'command' && value === command);
      if (isTarget && refused < times) {
        refused++;
        return inner.send({ ...request, url: refusedUrl });
      }
      return inner.send(request);
    },
  };
}

describe('sync error on the nth call', () => {
  it('fails exactly the nth call; a read retries past a 5xx', async () => {
    cloud.sim.faults.add({ command: 'listVolumes', kind: FaultKind.ERROR, nth: 2, errorCode: 530, errorText: 'database hiccup' });
    await cloud.client.listVolumes();
    expect(await cloud.client.listVolumes()).toHaveLength(cloud.sim.getState().volumes.length); // 2nd call failed, the retry (3rd) succeeded
    expect(calls('listVolumes')).toBe(3);
    expect(cloud.logs.records.some((r) => r.level === 'warn' && r.msg.includes('retrying'))).toBe(true);
  });

  it('gives up after readAttempts and surfaces the typed error', async () => {
    cloud.sim.faults.add({ command: 'listZones', kind: FaultKind.ERROR, count: 0, errorCode: 530, errorText: 'down' });
    const error = await rejectionOf(cloud.clientWith({ readAttempts: 3 }).listZones());
    expect(error).toMatchObject({ kind: CloudStackErrorKind.API, httpStatus: 530, errorCode: 530, errorText: 'down', retryable: true });
    expect(calls('listZones')).toBe(3);
  });

  it('does not retry a 431 read, nor any failed write', async () => {
    cloud.sim.faults.add({ command: 'listZones', kind: FaultKind.ERROR, errorCode: 431, errorText: 'bad' });
    expect((await rejectionOf(cloud.client.listZones())).retryable).toBe(false);
    expect(calls('listZones')).toBe(1);
    cloud.sim.faults.add({ command: 'attachVolume', kind: FaultKind.ERROR, errorCode: 530, errorText: 'boom' });
    await cloud.client.detachVolume({ id: DISK });
    const error = await rejectionOf(cloud.client.attachVolume({ id: DISK, virtualMachineId: cloud.sim.ids.applianceVmIds[0]! }));
    expect(error).toMatchObject({ errorCode: 530, retryable: false });
    expect(calls('attachVolume')).toBe(1);
  });

  it('fails a read transiently while its job is polled, and the poll carries on', async () => {
    cloud.sim.faults.add({ command: 'queryAsyncJobResult', kind: FaultKind.ERROR, nth: 1, count: 2, errorCode: 503, errorText: 'busy' });
    expect(await cloud.client.detachVolume({ id: DISK })).toMatchObject({ id: DISK });
  });
});

describe('transient failures while a job is polled', () => {
  it('counts failed polls as "still running": more failures than readAttempts, then the deploy resolves normally', async () => {
    cloud.sim.faults.add({ command: 'queryAsyncJobResult', kind: FaultKind.ERROR, count: 5, errorCode: 503, errorText: 'busy' });
    const vm = await cloud.clientWith({ readAttempts: 2 }).deployVirtualMachine({ ...deployParams('web-01-test'), startVm: false });
    expect(vm).toMatchObject({ name: 'web-01-test', state: 'Stopped' });
    expect(cloud.sim.faults.list()[0]!.fired).toBe(5);
    expect(calls('deployVirtualMachine')).toBe(1);
    expect(cloud.logs.records.some((r) => r.level === 'warn' && r.msg.includes('still waiting'))).toBe(true);
  });

  it('polls failing until the deadline: DEADLINE for the deploy, with its job id and VM id, ambiguous and not retryable', async () => {
    cloud.sim.faults.add({ command: 'queryAsyncJobResult', kind: FaultKind.ERROR, count: 0, errorCode: 503, errorText: 'busy' });
    const error = await rejectionOf(
      cloud.clientWith(requestClock('queryAsyncJobResult')).deployVirtualMachine(deployParams('web-01-test'), { deadlineMs: 400 }),
    );
    const [vm] = cloud.sim.getState().vms.filter((v) => v.name === 'web-01-test');
    expect(error).toMatchObject({ kind: CloudStackErrorKind.DEADLINE, command: 'deployVirtualMachine', resourceId: vm!.id, ambiguous: true, retryable: false });
    expect(error.jobId).toBe(cloud.sim.getState({ jobs: true }).jobs!.find((j) => j.command === 'deployVirtualMachine')!.jobid);
    expect((error.cause as Record<string, unknown>).command).toBe('queryAsyncJobResult');
  });

  it('a poll refused for good (431) ends the wait, reported against the write with its job id', async () => {
    cloud.sim.faults.add({ command: 'queryAsyncJobResult', kind: FaultKind.ERROR, errorCode: 431, errorText: 'no such job' });
    const error = await rejectionOf(cloud.client.detachVolume({ id: DISK }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.API, command: 'detachVolume', errorCode: 431, ambiguous: true, retryable: false });
    expect(typeof error.jobId).toBe('string');
  });
});

describe('async job failure', () => {
  it('fails the job with the given code and text, and changes nothing', async () => {
    const before = cloud.sim.getState();
    cloud.sim.faults.add({ command: 'detachVolume', kind: FaultKind.JOB_FAILURE, errorCode: 530, errorText: 'Failed to detach volume: agent unavailable' });
    const error = await rejectionOf(cloud.client.detachVolume({ id: DISK }));
    expect(error).toMatchObject({
      kind: CloudStackErrorKind.JOB_FAILED,
      errorCode: 530,
      errorText: 'Failed to detach volume: agent unavailable',
      retryable: false,
    });
    expect(cloud.sim.getState()).toEqual(before);
    const job = cloud.sim.getState({ jobs: true }).jobs!.at(-1)!;
    expect(job).toMatchObject({ jobstatus: 2, jobresultcode: 530, jobresult: { errorcode: 530, errortext: 'Failed to detach volume: agent unavailable' } });
  });

  it('leaves a VM whose deploy job failed in state Error', async () => {
    cloud.sim.faults.add({ command: 'deployVirtualMachine', kind: FaultKind.JOB_FAILURE, errorCode: 533, errorText: 'Unable to create a deployment for VM' });
    const error = await rejectionOf(cloud.client.deployVirtualMachine(deployParams('unlucky')));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode: 533 });
    expect((await cloud.client.listVirtualMachines({ name: 'unlucky' }))[0]!.state).toBe('Error');
  });
});

describe('latency', () => {
  it('holds a call; a read that times out is retried', async () => {
    cloud.sim.faults.add({ command: 'listNetworks', kind: FaultKind.LATENCY, ms: 300 });
    const networks = await cloud.clientWith({ requestTimeoutMs: 100 }).listNetworks();
    expect(networks).toHaveLength(DEMO_NETWORKS.length);
    expect(calls('listNetworks')).toBe(2);
  });

  it('never re-sends a timed-out create: the original, held past the client timeout, is found by name and is the only VM', async () => {
    cloud.sim.faults.add({ command: 'deployVirtualMachine', kind: FaultKind.LATENCY, ms: 150 });
    const client = cloud.clientWith({ requestTimeoutMs: 60 });
    const vm = await client.deployVirtualMachine({ ...deployParams('web-01-test'), startVm: false });
    expect(calls('deployVirtualMachine')).toBe(1);
    expect(calls('listVirtualMachines')).toBeGreaterThanOrEqual(2); // before sending, then until the original showed up
    await cloud.sim.idle();
    const named = cloud.sim.getState().vms.filter((v) => v.name === 'web-01-test');
    expect(named).toHaveLength(1);
    expect(vm).toMatchObject({ id: named[0]!.id, state: 'Stopped' });
  });
});

describe('dropped connection', () => {
  it('retries a read whose connection was dropped', async () => {
    cloud.sim.faults.add({ command: 'listZones', kind: FaultKind.DROP });
    expect(await cloud.client.listZones()).toHaveLength(1);
    expect(calls('listZones')).toBe(2);
  });

  it('after a deploy ran but its answer was lost: finds the VM by name, waits for it, does not deploy twice', async () => {
    cloud.sim.faults.add({ command: 'deployVirtualMachine', kind: FaultKind.DROP, when: 'after' });
    const vm = await cloud.client.deployVirtualMachine(deployParams('web-01-test'));
    expect(vm).toMatchObject({ name: 'web-01-test', state: 'Running' });
    expect(calls('deployVirtualMachine')).toBe(1);
    expect(cloud.sim.getState().vms.filter((v) => v.name === 'web-01-test')).toHaveLength(1);
  });

  it('before a deploy ran: not sent again (it may still arrive); looked up until the deadline, then DEADLINE, ambiguous', async () => {
    cloud.sim.faults.add({ command: 'deployVirtualMachine', kind: FaultKind.DROP, when: 'before' });
    const error = await rejectionOf(
      cloud.clientWith(requestClock('listVirtualMachines')).deployVirtualMachine({ ...deployParams('web-01-test'), startVm: false }, { deadlineMs: 400 }),
    );
    expect(error).toMatchObject({ kind: CloudStackErrorKind.DEADLINE, command: 'deployVirtualMachine', ambiguous: true, retryable: false });
    expect((error.cause as Record<string, unknown>).kind).toBe(CloudStackErrorKind.TRANSPORT);
    expect(calls('deployVirtualMachine')).toBe(1);
    expect(calls('listVirtualMachines')).toBeGreaterThanOrEqual(2);
    expect(cloud.sim.getState().vms.filter((v) => v.name === 'web-01-test')).toEqual([]);
  });

  it('re-sends a create that never reached the server (connection refused): one VM', async () => {
    const transport = await refusingTransport('deployVirtualMachine', 1);
    const vm = await cloud.clientWith({ transport }).deployVirtualMachine({ ...deployParams('web-01-test'), startVm: false });
    expect(transport.refused).toBe(1);
    expect(calls('deployVirtualMachine')).toBe(1);
    expect(
      cloud.sim
        .getState()
        .vms.filter((v) => v.name === 'web-01-test')
        .map((v) => v.id),
    ).toEqual([vm.id]);
  });

  it('gives up after createAttempts refused connections: retryable, not ambiguous (nothing was sent)', async () => {
    const transport = await refusingTransport('deployVirtualMachine', 10);
    const error = await rejectionOf(cloud.clientWith({ transport, createAttempts: 3 }).deployVirtualMachine(deployParams('web-01-test')));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.TRANSPORT, command: 'deployVirtualMachine', retryable: true, ambiguous: false });
    expect(transport.refused).toBe(3);
    expect(calls('deployVirtualMachine')).toBe(0);
  });

  it('a lost deploy answer finds the VM of that name in its own network, not a namesake in another one', async () => {
    const other = await cloud.client.deployVirtualMachine({ ...deployParams('web-01-test'), networkIds: [TEST_BACKEND], startVm: false });
    cloud.sim.faults.add({ command: 'deployVirtualMachine', kind: FaultKind.DROP, when: 'after' });
    const vm = await cloud.client.deployVirtualMachine({ ...deployParams('web-01-test'), networkIds: [TEST], startVm: false });
    expect(vm.id).not.toBe(other.id);
    expect(vm.nics[0]!.networkId).toBe(TEST);
    expect(cloud.sim.getState().vms.filter((v) => v.name === 'web-01-test')).toHaveLength(2);
  });

  it('a lost snapshot answer finds the new snapshot, not an older one of the same name on the volume', async () => {
    await cloud.client.detachVolume({ id: DISK }); // off the Running appliance, as the engine snapshots it
    const older = await cloud.client.createSnapshot({ volumeId: DISK, name: 'pre-failover' });
    cloud.sim.faults.add({ command: 'createSnapshot', kind: FaultKind.DROP, when: 'after' });
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK, name: 'pre-failover' });
    expect(snapshot.id).not.toBe(older.id);
    expect(snapshot).toMatchObject({ name: 'pre-failover', state: 'BackedUp' });
    expect(calls('createSnapshot')).toBe(2);
  });

  it('without a name there is nothing to look up: the ambiguous error is thrown, nothing is re-sent', async () => {
    cloud.sim.faults.add({ command: 'deployVirtualMachine', kind: FaultKind.DROP, when: 'after' });
    const error = await rejectionOf(cloud.client.deployVirtualMachine(deployParams()));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.TRANSPORT, ambiguous: true, retryable: false, command: 'deployVirtualMachine' });
    expect(calls('deployVirtualMachine')).toBe(1);
  });

  it('after a snapshot was taken but its answer lost: finds it by volume and name, waits until BackedUp', async () => {
    await cloud.client.detachVolume({ id: DISK }); // off the Running appliance, as the engine snapshots it
    cloud.sim.setJobLatency(80);
    cloud.sim.faults.add({ command: 'createSnapshot', kind: FaultKind.DROP, when: 'after' });
    const snapshot = await cloud.client.createSnapshot({ volumeId: DISK, name: 'pre-failover' });
    expect(snapshot).toMatchObject({ name: 'pre-failover', state: 'BackedUp', volumeId: DISK });
    expect(calls('createSnapshot')).toBe(1);
    expect(cloud.sim.getState().snapshots).toHaveLength(1);
  });

  it('does not re-send other writes either: an attach whose connection dropped is reported as ambiguous', async () => {
    await cloud.client.detachVolume({ id: DISK });
    cloud.sim.faults.add({ command: 'attachVolume', kind: FaultKind.DROP, when: 'after' });
    const error = await rejectionOf(cloud.client.attachVolume({ id: DISK, virtualMachineId: cloud.sim.ids.applianceVmIds[0]! }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.TRANSPORT, ambiguous: true, retryable: false });
    expect(calls('attachVolume')).toBe(1);
  });
});

describe('the fault injector', () => {
  it('fires on nth..nth+count-1 only, matches any command with *, and can be removed', async () => {
    const fault = cloud.sim.faults.add({ command: '*', kind: FaultKind.ERROR, nth: 2, count: 2, errorCode: 431, errorText: 'x' });
    const outcomes = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(
        await cloud.client.listZones().then(
          () => 'ok',
          () => 'failed',
        ),
      );
    expect(outcomes).toEqual(['ok', 'failed', 'failed', 'ok']);
    expect(cloud.sim.faults.list()[0]).toMatchObject({ id: fault.id, seen: 4, fired: 2 });
    expect(cloud.sim.faults.remove(fault.id)).toBe(true);
    expect(cloud.sim.faults.list()).toEqual([]);
  });

  it('rejects malformed specifications', () => {
    expect(() => cloud.sim.faults.add({ command: 'x', kind: 'explode' as FaultKind })).toThrow(/kind must be one of/);
    expect(() => cloud.sim.faults.add({ command: 'x', kind: FaultKind.LATENCY })).toThrow(/needs ms/);
    expect(() => cloud.sim.faults.add({ command: 'x', kind: FaultKind.ERROR, nth: 0 })).toThrow(/nth/);
  });
});
