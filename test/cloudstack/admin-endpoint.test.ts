import { describe, expect, it } from 'vitest';
import { CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { DEMO_VMS } from '../../src/demo/demo-world.js';
import { rejectionOf, useCloud } from '../helpers/cloudstack.js';

const cloud = useCloud();

async function admin(method: string, path: string, body?: unknown) {
  const response = await fetch(`${cloud.sim.url}${path}`, {
    method,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('/admin/faults', () => {
  it('installs a sync error fault over HTTP, reports counters, removes it', async () => {
    const added = await admin('POST', '/admin/faults', { command: 'listZones', kind: 'error', errorCode: 431, errorText: 'injected from admin' });
    expect(added.status).toBe(201);
    const error = await rejectionOf(cloud.client.listZones());
    expect(error).toMatchObject({ kind: CloudStackErrorKind.API, errorCode: 431, errorText: 'injected from admin' });

    const listed = await admin('GET', '/admin/faults');
    expect(listed.body).toMatchObject({ faults: [{ id: added.body.id, command: 'listZones', seen: 1, fired: 1 }], calls: { listZones: 1 } });
    expect((await admin('DELETE', `/admin/faults/${String(added.body.id)}`)).status).toBe(200);
    expect((await admin('DELETE', `/admin/faults/${String(added.body.id)}`)).status).toBe(404);
    expect(await cloud.client.listZones()).toHaveLength(1);
  });

  it('installs job-failure, latency and drop faults over HTTP', async () => {
    await admin('POST', '/admin/faults', { command: 'detachVolume', kind: 'jobFailure', errorCode: 530, errorText: 'agent down' });
    await admin('POST', '/admin/faults', { command: 'listVolumes', kind: 'drop' });
    await admin('POST', '/admin/faults', { command: 'listVolumes', kind: 'latency', ms: 30, nth: 2 });
    expect(await rejectionOf(cloud.client.detachVolume({ id: DEMO_VMS[0]!.disks[0]!.volumeId }))).toMatchObject({ errorCode: 530, errorText: 'agent down' });
    const started = Date.now();
    expect(await cloud.client.listVolumes()).toHaveLength(cloud.sim.getState().volumes.length); // dropped, then retried (held 30 ms)
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect((await admin('DELETE', '/admin/faults')).body).toEqual({ cleared: true });
    expect((await admin('GET', '/admin/faults')).body).toEqual({ faults: [], calls: {} });
  });

  it('refuses malformed faults with 400', async () => {
    expect((await admin('POST', '/admin/faults', '{not json')).status).toBe(400);
    const bad = await admin('POST', '/admin/faults', { command: 'listZones', kind: 'meteor' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/kind must be one of/);
  });
});

describe('/admin/state, /admin/reset, /admin/config', () => {
  it('returns the whole state, with jobs on request', async () => {
    await cloud.client.detachVolume({ id: DEMO_VMS[0]!.disks[0]!.volumeId });
    const state = await admin('GET', '/admin/state');
    expect(state.body).toEqual(cloud.sim.getState());
    expect(state.body.jobs).toBeUndefined();
    const withJobs = await admin('GET', '/admin/state?jobs=true');
    expect(withJobs.body.jobs).toHaveLength(1);
  });

  it('resets the cloud to the seeded world', async () => {
    const seeded = cloud.sim.getState();
    await cloud.client.detachVolume({ id: DEMO_VMS[0]!.disks[0]!.volumeId });
    expect(cloud.sim.getState()).not.toEqual(seeded);
    expect((await admin('POST', '/admin/reset')).status).toBe(200);
    expect(cloud.sim.getState()).toEqual(seeded);
  });

  it('reads and changes the job latency', async () => {
    expect((await admin('PUT', '/admin/config', { jobLatencyMs: 7 })).body).toEqual({ jobLatencyMs: 7 });
    expect(cloud.sim.jobLatencyMs).toBe(7);
    expect((await admin('GET', '/admin/config')).body).toEqual({ jobLatencyMs: 7 });
    expect((await admin('PUT', '/admin/config', { jobLatencyMs: -1 })).status).toBe(400);
    expect((await admin('GET', '/admin/nothing')).status).toBe(404);
  });
});
