import { describe, expect, it } from 'vitest';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { DEMO_NETWORKS, DEMO_SERVICE_OFFERING, DEMO_TEMPLATE, DEMO_ZONE } from '../../src/demo/demo-world.js';
import { callRaw, rejectionOf, useCloud } from '../helpers/cloudstack.js';

const cloud = useCloud({ reset: false });
const raw = (command: string, extra: [string, string][] = []) => callRaw(cloud.sim, command, extra);

describe('the catalog of the seeded world', () => {
  it('lists the demo zone, by id and by name', async () => {
    expect(await cloud.client.listZones()).toMatchObject([{ id: DEMO_ZONE.id, name: DEMO_ZONE.name, allocationState: 'Enabled' }]);
    expect(await cloud.client.listZones({ name: 'elsewhere' })).toEqual([]);
  });

  it('lists the template with a templatefilter, which CloudStack requires', async () => {
    expect(await cloud.client.listTemplates({ templateFilter: 'executable', id: DEMO_TEMPLATE.id })).toMatchObject([
      { id: DEMO_TEMPLATE.id, name: DEMO_TEMPLATE.name, isReady: true, osTypeName: DEMO_TEMPLATE.ostypename, zoneId: DEMO_ZONE.id },
    ]);
    const missing = await raw('listTemplates');
    expect(missing.status).toBe(431);
    expect(missing.json.listtemplatesresponse!.errortext).toBe('Unable to execute API command listtemplates due to missing parameter templatefilter');
    expect((await raw('listTemplates', [['templatefilter', 'bogus']])).status).toBe(431);
  });

  it('lists the customised offering (fixed speed, CPU and memory at deploy time)', async () => {
    const [offering] = await cloud.client.listServiceOfferings({ id: DEMO_SERVICE_OFFERING.id });
    expect(offering).toMatchObject({ id: DEMO_SERVICE_OFFERING.id, name: DEMO_SERVICE_OFFERING.name, isCustomized: true, cpuSpeed: 2000 });
    expect(offering!.cpuNumber).toBeUndefined();
  });

  it('lists the production and test networks', async () => {
    const networks = await cloud.client.listNetworks({ zoneId: DEMO_ZONE.id, canUseForDeploy: true });
    expect(networks.map((n) => [n.id, n.name, n.cidr])).toEqual(DEMO_NETWORKS.map((n) => [n.id, n.name, n.cidr]));
    expect(networks.filter((n) => n.type === 'L2').map((n) => n.id)).toEqual(DEMO_NETWORKS.filter((n) => n.isTest).map((n) => n.id));
    expect((await cloud.client.listNetworks({ name: 'Test Network' })).map((n) => n.id)).toEqual([DEMO_NETWORKS[2]!.id]);
  });
});

describe('list envelopes and paging', () => {
  it('answers an empty list as {} (no count)', async () => {
    const answer = await raw('listSnapshots');
    expect(answer.json).toEqual({ listsnapshotsresponse: {} });
  });

  it('walks pages until it has count items', async () => {
    const client = cloud.clientWith({ pageSize: 2 });
    const volumes = await client.listVolumes();
    const all = cloud.sim.getState().volumes.length;
    expect(volumes).toHaveLength(all);
    expect(new Set(volumes.map((v) => v.id)).size).toBe(all);
    const listCalls = cloud.sim.faults.calls().listVolumes;
    expect(listCalls).toBeGreaterThanOrEqual(Math.ceil(all / 2));
  });

  it('wants page and pagesize together (431 otherwise)', async () => {
    const pageOnly = await raw('listVolumes', [['page', '1']]);
    const sizeOnly = await raw('listVolumes', [['pagesize', '1']]);
    expect([pageOnly.status, sizeOnly.status]).toEqual([431, 431]);
    expect(sizeOnly.json.listvolumesresponse!.errortext).toBe('"page" parameter is required when "pagesize" is specified');
    const second = await raw('listVolumes', [
      ['page', '2'],
      ['pagesize', '2'],
    ]);
    expect(second.json.listvolumesresponse!.count).toBe(cloud.sim.getState().volumes.length);
    expect(second.json.listvolumesresponse!.volume).toHaveLength(2);
  });

  it('answers queryAsyncJobResult for an unknown job with a sync 431', async () => {
    const error = await rejectionOf(cloud.client.queryAsyncJobResult({ jobId: 'no-such-job' }));
    expect(error).toMatchObject({ kind: CloudStackErrorKind.API, errorCode: 431 });
  });
});
