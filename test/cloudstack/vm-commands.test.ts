import { describe, expect, it } from 'vitest';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { DEMO_APPLIANCE_VM, DEMO_APPLIANCE_VMS, DEMO_NETWORKS, DEMO_VMS } from '../../src/demo/demo-world.js';
import { callRaw, deployParams, rejectionOf, useCloud, waitFor } from '../helpers/cloudstack.js';

const cloud = useCloud();

const [PROD, PROD_BACKEND, TEST, TEST_BACKEND] = DEMO_NETWORKS.map((n) => n.id) as [string, string, string, string];
const deploy = (extra: Parameters<typeof deployParams>[1] = {}) => cloud.client.deployVirtualMachine(deployParams(cloud.sim, { memoryMb: 4096, ...extra }));

describe('deployVirtualMachine', () => {
  it('deploys Stopped with startvm=false: custom CPU/memory, NICs in networkids order (first default), a template ROOT', async () => {
    const vm = await deploy({ name: 'db-01-test', displayName: 'db-01 (test)', networkIds: [TEST, TEST_BACKEND], startVm: false });
    expect(vm).toMatchObject({
      name: 'db-01-test',
      displayName: 'db-01 (test)',
      state: 'Stopped',
      cpuNumber: 2,
      memoryMb: 4096,
      templateId: cloud.sim.ids.templateId,
    });
    expect(vm.nics.map((n) => [n.networkId, n.isDefault])).toEqual([
      [TEST, true],
      [TEST_BACKEND, false],
    ]);
    const volumes = await cloud.client.listVolumes({ virtualMachineId: vm.id });
    expect(volumes).toHaveLength(1);
    expect(volumes[0]).toMatchObject({ type: 'ROOT', deviceId: 0, state: 'Allocated' });
  });

  it('deploys Running by default, its ROOT created (Ready)', async () => {
    const vm = await deploy({ name: 'web-01', networkIds: [PROD, PROD_BACKEND] });
    expect(vm.state).toBe('Running');
    expect(vm.nics[0]).toMatchObject({ networkId: PROD, isDefault: true });
    const [root] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });
    expect(root!.state).toBe('Ready');
  });

  it('refuses a customised offering without details, synchronously, with the real text', async () => {
    const error = await rejectionOf(deploy({ cpuNumber: undefined, memoryMb: undefined }));
    expect(error).toMatchObject({
      kind: CloudStackErrorKind.API,
      httpStatus: 431,
      errorCode: 431,
      errorText: 'Need to specify custom parameter values cpu, cpu speed and memory when using custom offering',
      retryable: false,
    });
    expect(cloud.sim.getState().vms).toHaveLength(DEMO_APPLIANCE_VMS.length);
  });

  it('refuses out-of-range custom values', async () => {
    expect((await rejectionOf(deploy({ cpuNumber: 0 }))).errorText).toMatch(/^Invalid cpu cores value/);
    expect((await rejectionOf(deploy({ memoryMb: 8 }))).errorText).toMatch(/^Invalid memory value/);
  });

  it('reads details keys case-sensitively (details[0].cpunumber is not cpuNumber)', async () => {
    const answer = await callRaw(cloud.sim, 'deployVirtualMachine', [
      ['zoneid', cloud.sim.ids.zoneId],
      ['serviceofferingid', cloud.sim.ids.serviceOfferingId],
      ['templateid', cloud.sim.ids.templateId],
      ['details[0].cpunumber', '2'],
      ['details[0].memory', '1024'],
    ]);
    expect(answer.status).toBe(431);
    expect(answer.json.deployvirtualmachineresponse!.errortext).toMatch(/^Invalid cpu cores value/);
  });

  it("refuses unknown ids and missing parameters with 431 and CloudStack's texts", async () => {
    const unknown = await rejectionOf(deploy({ templateId: '00000000-0000-4000-8000-00000000dead' }));
    expect(unknown.errorText).toBe(
      'Unable to execute API command deployvirtualmachine due to invalid value. Invalid parameter templateid value=00000000-0000-4000-8000-00000000dead due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.',
    );
    const badNetwork = await rejectionOf(deploy({ networkIds: [TEST, 'nope'] }));
    expect(badNetwork.errorText).toContain('Invalid parameter networkids value=nope');
    const missing = await rejectionOf(deploy({ zoneId: '' }));
    expect(missing.errorText).toBe('Unable to execute API command deployvirtualmachine due to missing parameter zoneid');
  });

  it('keeps host names unique per network (vm.distinct.hostname.scope=network), naming the network domain', async () => {
    await deploy({ name: 'web-01-test', networkIds: [TEST], startVm: false });
    const sameNetwork = await rejectionOf(deploy({ name: 'web-01-test', networkIds: [TEST_BACKEND, TEST], startVm: false }));
    expect(sameNetwork).toMatchObject({
      kind: CloudStackErrorKind.API,
      errorCode: 431,
      errorText: 'The vm with hostName web-01-test already exists in the network domain: null; network=Test Network',
    });
    // Another network: the same name is fine (CloudStack does not look beyond the VM's networks).
    const elsewhere = await deploy({ name: 'web-01-test', networkIds: [PROD], startVm: false });
    expect(elsewhere.name).toBe('web-01-test');
    const isolated = await rejectionOf(deploy({ name: 'web-01-test', networkIds: [PROD], startVm: false }));
    expect(isolated.errorText).toBe('The vm with hostName web-01-test already exists in the network domain: cs1cloud.internal; network=Production Network');
    // Until the VM is expunged: a Destroyed VM still holds its name.
    await cloud.client.destroyVirtualMachine({ id: elsewhere.id });
    expect((await rejectionOf(deploy({ name: 'web-01-test', networkIds: [PROD], startVm: false }))).errorCode).toBe(431);
    cloud.sim.configure({ allowUserExpungeRecoverVm: true }); // a non-admin key may expunge only so
    await cloud.client.destroyVirtualMachine({ id: elsewhere.id, expunge: true });
    expect((await deploy({ name: 'web-01-test', networkIds: [PROD], startVm: false })).state).toBe('Stopped');
  });

  it('refuses an invalid host name', async () => {
    expect((await rejectionOf(deploy({ name: '1bad_name' }))).errorText).toMatch(/^Invalid name/);
  });

  it('names an unnamed VM VM-<uuid>', async () => {
    const vm = await deploy({ startVm: false });
    expect(vm.name).toBe(`VM-${vm.id}`);
  });
});

describe('start, stop, destroy', () => {
  it('starts a Stopped VM and refuses to start a Running one (failed job, 431)', async () => {
    const vm = await deploy({ name: 'app', startVm: false });
    expect((await cloud.client.startVirtualMachine({ id: vm.id })).state).toBe('Running');
    const error = await rejectionOf(cloud.client.startVirtualMachine({ id: vm.id }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode: 431, errorText: `The virtual machine ${vm.id} (app) is already running` });
    expect(typeof error.jobId).toBe('string');
  });

  it('fails to start a VM without a ROOT volume (530)', async () => {
    const vm = await deploy({ name: 'rootless', startVm: false });
    const [root] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });
    await cloud.client.detachVolume({ id: root!.id });
    const error = await rejectionOf(cloud.client.startVirtualMachine({ id: vm.id }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode: 530 });
    expect((await cloud.client.listVirtualMachines({ id: vm.id }))[0]!.state).toBe('Stopped');
  });

  it('stops (forced) a Running VM; stopping a Stopped VM succeeds and changes nothing', async () => {
    const vm = await deploy({ name: 'app' });
    expect((await cloud.client.stopVirtualMachine({ id: vm.id, forced: true })).state).toBe('Stopped');
    const before = cloud.sim.getState();
    expect((await cloud.client.stopVirtualMachine({ id: vm.id })).state).toBe('Stopped');
    expect(cloud.sim.getState()).toEqual(before);
  });

  it('destroying a VM deletes its ROOT volume — even a swapped-in replicated root — but not its data volumes', async () => {
    const vm = await deploy({ name: 'web-01-test', startVm: false });
    const [templateRoot] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });
    const [osDisk, dataDisk] = DEMO_VMS[1]!.disks.map((d) => d.volumeId) as [string, string];
    await cloud.client.detachVolume({ id: templateRoot!.id });
    await cloud.client.detachVolume({ id: osDisk });
    await cloud.client.detachVolume({ id: dataDisk });
    await cloud.client.attachVolume({ id: osDisk, virtualMachineId: vm.id, deviceId: 0 });
    await cloud.client.attachVolume({ id: dataDisk, virtualMachineId: vm.id, deviceId: 1 });

    const destroyed = await cloud.client.destroyVirtualMachine({ id: vm.id });
    expect(destroyed?.state).toBe('Destroyed');
    const state = cloud.sim.getState();
    expect(state.volumes.find((v) => v.id === osDisk)).toMatchObject({ state: 'Destroy', type: 'ROOT' });
    expect(state.volumes.find((v) => v.id === dataDisk)).toMatchObject({ state: 'Ready', type: 'DATADISK', virtualmachineid: vm.id });
    expect(state.vms.find((v) => v.id === vm.id)!.state).toBe('Destroyed');
  });

  it('expunges: the VM disappears, its ROOT is expunged, data volumes are detached and stay Ready', async () => {
    const vm = await deploy({ name: 'web-01-test' });
    const data = DEMO_VMS[0]!.disks[0]!.volumeId;
    await cloud.client.detachVolume({ id: data });
    await cloud.client.attachVolume({ id: data, virtualMachineId: vm.id });
    const [root] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });

    cloud.sim.configure({ allowUserExpungeRecoverVm: true }); // a non-admin key may expunge only so
    const result = await cloud.client.destroyVirtualMachine({ id: vm.id, expunge: true });
    expect(result?.state).toBe('Expunging');
    expect(await cloud.client.listVirtualMachines({ id: vm.id })).toEqual([]);
    expect(await cloud.client.listVolumes({ id: root!.id })).toEqual([]);
    const [kept] = await cloud.client.listVolumes({ id: data });
    expect(kept).toMatchObject({ state: 'Ready', type: 'DATADISK' });
    expect(kept!.virtualMachineId).toBeUndefined();
    // An expunged VM is gone for the API: its id no longer resolves (sync 431).
    expect((await rejectionOf(cloud.client.startVirtualMachine({ id: vm.id }))).errorCode).toBe(431);
  });

  it('destroys the data volumes named in volumeids along with the VM', async () => {
    const vm = await deploy({ name: 'web-01-test', startVm: false });
    const data = DEMO_VMS[0]!.disks[0]!.volumeId;
    await cloud.client.detachVolume({ id: data });
    await cloud.client.attachVolume({ id: data, virtualMachineId: vm.id });
    await cloud.client.destroyVirtualMachine({ id: vm.id, volumeIds: [data] });
    expect(cloud.sim.getState().volumes.find((v) => v.id === data)).toMatchObject({ state: 'Destroy' });
    expect(cloud.sim.getState().volumes.find((v) => v.id === data)!.virtualmachineid).toBeUndefined();
  });
});

describe('start, stop, destroy: state rules are checked in the job (jobstatus 2, 431)', () => {
  const jobFailure = async (promise: Promise<unknown>, errorText: string) =>
    expect(await rejectionOf(promise)).toMatchObject({ kind: CloudStackErrorKind.JOB_FAILED, errorCode: 431, errorText, jobId: expect.any(String) });

  it('start refuses a VM that is not Stopped; stop refuses one that is neither Running nor Stopped', async () => {
    const vm = await deploy({ name: 'app', startVm: false });
    cloud.sim.update((w) => void (w.vms.find((v) => v.id === vm.id)!.state = 'Error'));
    await jobFailure(cloud.client.startVirtualMachine({ id: vm.id }), `Unable to start VM ${vm.id} in state Error`);
    await jobFailure(cloud.client.stopVirtualMachine({ id: vm.id }), `Unable to stop VM ${vm.id} in state Error`);
  });

  it('destroy refuses volumeids that are not data volumes of the VM, and a VM being expunged', async () => {
    const vm = await deploy({ name: 'app', startVm: false });
    const [root] = await cloud.client.listVolumes({ virtualMachineId: vm.id, type: 'ROOT' });
    await jobFailure(
      cloud.client.destroyVirtualMachine({ id: vm.id, volumeIds: [root!.id] }),
      `The following supplied volumes are not DATADISK attached to the VM: Volume {"name":"ROOT-app","uuid":"${root!.id}"}; `,
    );
    cloud.sim.update((w) => void (w.vms.find((v) => v.id === vm.id)!.state = 'Expunging'));
    await jobFailure(cloud.client.destroyVirtualMachine({ id: vm.id }), `VM ${vm.id} is being expunged`);
  });

  it('a rule checked in the job sees the state when the job runs, not when it was asked for', async () => {
    cloud.sim.setJobLatency(1_000); // its checks run after the first quarter: time to change the VM
    const vm = await deploy({ name: 'app', startVm: false });
    const starting = cloud.client.startVirtualMachine({ id: vm.id });
    await waitFor(() => cloud.sim.getState({ jobs: true }).jobs!.some((j) => j.command === 'startVirtualMachine'));
    cloud.sim.update((w) => void (w.vms.find((v) => v.id === vm.id)!.state = 'Running'));
    await jobFailure(starting, `The virtual machine ${vm.id} (app) is already running`);
  });

  it.each([
    ['startVirtualMachine', [], 'due to missing parameter id'],
    ['stopVirtualMachine', [['id', 'no-such-vm']], 'Invalid parameter id value=no-such-vm'],
    ['destroyVirtualMachine', [['id', 'no-such-vm']], 'Invalid parameter id value=no-such-vm'],
    [
      'destroyVirtualMachine',
      [
        ['id', DEMO_APPLIANCE_VM.id],
        ['volumeids', 'no-such-volume'],
      ],
      'Invalid parameter volumeids value=no-such-volume',
    ],
  ] as [string, [string, string][], string][])('%s %j: refused before any job (sync 431)', async (command, extra, text) => {
    const answer = await callRaw(cloud.sim, command, extra);
    expect(answer.status).toBe(431);
    expect(answer.json[`${command.toLowerCase()}response`]!.errortext).toContain(text);
    expect(cloud.sim.getState({ jobs: true }).jobs).toEqual([]);
  });
});

describe('listVirtualMachines', () => {
  it('filters by id, ids, state and zone; the server matches name as a substring, the client keeps exact matches', async () => {
    const a = await deploy({ name: 'web-01', startVm: false });
    const b = await deploy({ name: 'web-01-test', startVm: false });
    expect((await cloud.client.listVirtualMachines({ id: a.id })).map((v) => v.id)).toEqual([a.id]);
    expect((await cloud.client.listVirtualMachines({ ids: [a.id, b.id] })).map((v) => v.name).sort()).toEqual(['web-01', 'web-01-test']);
    expect((await cloud.client.listVirtualMachines({ name: 'web-01' })).map((v) => v.id)).toEqual([a.id]);
    expect((await cloud.client.listVirtualMachines({ state: 'Running' })).map((v) => v.id)).toEqual(DEMO_APPLIANCE_VMS.map((a) => a.id));
    expect(await cloud.client.listVirtualMachines({ zoneId: cloud.sim.ids.zoneId })).toHaveLength(DEMO_APPLIANCE_VMS.length + 2);
    const raw = await callRaw(cloud.sim, 'listVirtualMachines', [['name', 'WEB-01']]);
    expect(raw.json.listvirtualmachinesresponse!.count).toBe(2);
  });
});
