import { describe, expect, it } from 'vitest';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { deployParams, rejectionOf, useCloud, waitFor } from '../helpers/cloudstack.js';

/**
 * The client against what a stock cloud does to it: a page size above the cloud's limit, a
 * management server in maintenance or over its API rate limit, resources owned by a project.
 */

const cloud = useCloud();
const WEB_DISK = DEMO_VMS[0]!.disks[0]!.volumeId;
const PATIENT = { readAttempts: 40, retryBackoff: { initialMs: 20, maxMs: 50, multiplier: 1.5 } };

describe('paging within what the cloud allows', () => {
  it('a cloud whose default.page.size is below the client page size: the refusal is handled, every item comes back once', async () => {
    cloud.sim.configure({ defaultPageSize: 4 });
    const client = cloud.clientWith({ pageSize: 500 });
    const volumes = await client.listVolumes();
    const all = cloud.sim.getState().volumes.length;
    expect(all).toBeGreaterThan(8);
    expect(new Set(volumes.map((v) => v.id)).size).toBe(all);
    expect(volumes).toHaveLength(all);
    expect(cloud.logs.text()).toMatch(/refused the page size/);
  });
});

describe('a write refused before anything ran is sent again', () => {
  it('after a 503 (maintenance): the detach is sent again until the server takes it, and happens once', async () => {
    cloud.sim.configure({ maintenance: true });
    const client = cloud.clientWith(PATIENT);
    const pending = client.detachVolume({ id: WEB_DISK });
    await waitFor(() => (cloud.sim.faults.calls().detachVolume ?? 0) >= 2);
    cloud.sim.configure({ maintenance: false });
    const volume = await pending;
    expect(volume.virtualMachineId).toBeUndefined();
    expect(cloud.sim.getState({ jobs: true }).jobs!.filter((j) => j.command === 'detachVolume')).toHaveLength(1);
    expect(cloud.logs.text()).toMatch(/refused the write before running it, sending it again/);
  });

  it('after a 429 (API rate limit): sent again once the interval has passed', async () => {
    cloud.sim.configure({ apiThrottlingMax: 1, apiThrottlingIntervalSeconds: 1 });
    const client = cloud.clientWith(PATIENT);
    await client.listZones(); // the one call of this interval
    const volume = await client.detachVolume({ id: WEB_DISK });
    expect(volume.virtualMachineId).toBeUndefined();
    expect(cloud.sim.getState({ jobs: true }).jobs!.filter((j) => j.command === 'detachVolume')).toHaveLength(1);
    // It was refused at least once first (the window of the listZones call was still open).
    expect(
      cloud.logs.records.some(
        (r) => r.msg === 'cloudstack refused the write before running it, sending it again' && (r.obj as { httpStatus?: number }).httpStatus === 429,
      ),
    ).toBe(true);
  });

  it('a refusal that is not one of those is not sent again', async () => {
    const client = cloud.clientWith(PATIENT);
    const error = await rejectionOf(client.createSnapshot({ volumeId: WEB_DISK, name: 'attached' }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.API, errorCode: 530, retryable: false });
    expect(cloud.sim.faults.calls().createSnapshot).toBe(1);
  });
});

describe('a project (CLOUDSTACK_PROJECT_ID)', () => {
  it("deploys into the project and finds the project's resources, which a client without the project does not", async () => {
    cloud.sim.update((world) => void world.projects.push({ id: 'p-dr', name: 'dr' }));
    const inProject = cloud.clientWith({ projectId: 'p-dr' });
    const vm = await inProject.deployVirtualMachine(deployParams(cloud.sim, { name: 'in-project', startVm: false }));
    expect(cloud.sim.getState().vms.find((v) => v.id === vm.id)!.projectid).toBe('p-dr');
    expect((await inProject.listVirtualMachines({ id: vm.id })).map((v) => v.id)).toEqual([vm.id]);
    expect((await inProject.listVolumes({ virtualMachineId: vm.id })).map((v) => v.type)).toEqual(['ROOT']);
    // Without projectid the same lookups come back empty: no list ever proves a resource is gone.
    expect(await cloud.client.listVirtualMachines({ id: vm.id })).toEqual([]);
    expect(await cloud.client.listVolumes({ virtualMachineId: vm.id })).toEqual([]);
  });
});
