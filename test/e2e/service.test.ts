import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gqlData, wsClient } from '../helpers/graphql.js';
import { createTestDatabase } from '../helpers/mariadb.js';
import { startTestRedis } from '../helpers/redis.js';
import { runFailingService, startServiceProcess, type ServiceProcess } from '../helpers/service-process.js';
import { waitFor } from '../helpers/wait.js';
import { DEMO_VMS } from '../../src/demo/demo-world.js';

const DONE_WHEN = `{ virtualMachines(first: 10) { edges { node { vmId readiness(type: TEST) { ready checks { name passed message } } } } } }`;
const disposers: (() => unknown)[] = [];
afterAll(async () => {
  for (const dispose of disposers.reverse()) await dispose();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'failover-api-'));
  disposers.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function started(env: Record<string, string>): Promise<ServiceProcess> {
  const service = await startServiceProcess(env);
  disposers.push(() => service.stop('SIGKILL'));
  return service;
}

describe('the embedded default (npm start with no configuration)', () => {
  it('creates its SQLite schema, seeds the demo VMs and answers the dashboard query', async () => {
    const dataDir = tempDir();
    const service = await started({ DATA_DIR: dataDir });
    expect(service.output()).toContain('CloudStack simulator running in-process');
    const data = await gqlData(service.url, DONE_WHEN);
    const vms = data.virtualMachines.edges.map((e: any) => e.node);
    expect(vms).toHaveLength(DEMO_VMS.length);
    const byId = Object.fromEntries(vms.map((vm: any) => [vm.vmId, vm.readiness]));
    expect(byId['4205a841-0265-f4bd-39a6-39fd92196f53'].ready).toBe(true);
    expect(byId['4205b17c-4c1a-8e3f-2d55-7a0c9e3b1f20'].ready).toBe(true);
    const notReady = byId['4205c3d9-9f02-11aa-6b7e-3e5d2c1b0a99'];
    expect(notReady.ready).toBe(false);
    expect(notReady.checks.filter((c: any) => !c.passed).map((c: any) => c.message)).toEqual([
      'Latest replication job job-20261124-080000 is replicating, not completed',
      'Replication job job-20261124-080000 has no successful CBT sync with a change id',
      'No test network mapping for "VM Network", "Legacy Network" (needed for a test failover)',
      'Replication job job-20261124-080000 is still running',
    ]);
    const twoDisks = await gqlData(
      service.url,
      `{ virtualMachines(first: 10, filter: { search: "db-01" }) { edges { node { disks { unitNumber } spec { networks { name } } } } } }`,
    );
    expect(twoDisks.virtualMachines.edges[0].node).toEqual({
      disks: [{ unitNumber: 0 }, { unitNumber: 1 }],
      spec: { networks: [{ name: 'VM Network' }, { name: 'Backend Network' }] },
    });

    // A change survives a restart, and the demo data is not seeded twice.
    await gqlData(
      service.url,
      `mutation { deleteNetworkMapping(input: { vmId: "4205a841-0265-f4bd-39a6-39fd92196f53", sourceNetworkName: "VM Network", isTestNetwork: true }) { id } }`,
    );
    expect(await service.stop()).toBe(0);
    const again = await started({ DATA_DIR: dataDir });
    const after = await gqlData(
      again.url,
      `{ virtualMachines { totalCount } networkMappings(vmId: "4205a841-0265-f4bd-39a6-39fd92196f53") { isTestNetwork } }`,
    );
    expect(after).toEqual({ virtualMachines: { totalCount: DEMO_VMS.length }, networkMappings: [{ isTestNetwork: false }] });
  });

  it('listens where PORT and HOST say', async () => {
    const service = await started({ DATA_DIR: tempDir(), PORT: '0', HOST: '127.0.0.2' });
    expect(service.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/graphql$/);
    const { port } = new URL(service.url);
    expect((await gqlData(service.url, '{ virtualMachines { totalCount } }')).virtualMachines.totalCount).toBe(DEMO_VMS.length);
    // Nothing answers on the default address for that port.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    // A second service on the same HOST and PORT is refused, naming PORT.
    const clash = await runFailingService({ DATA_DIR: tempDir(), PORT: port, HOST: '127.0.0.2' });
    expect(clash.code).toBe(2);
    expect(clash.stderr.trim()).toBe(`failover-api: configuration error: PORT: ${port} is already in use on 127.0.0.2`);
  });
});

describe('on MariaDB (DATABASE_URL)', () => {
  it('applies the migrations and serves from MariaDB; demo data only when asked', async () => {
    const db = await createTestDatabase('e2e_service');
    disposers.push(() => db.dispose());
    const service = await started({ DATABASE_URL: db.url, CLOUDSTACK_SIMULATOR: 'true', DATA_DIR: tempDir() });
    expect(service.output()).toContain('Migration001ApplianceTables');
    expect((await gqlData(service.url, '{ virtualMachines { totalCount } }')).virtualMachines.totalCount).toBe(0);
    await service.stop();
    const seeded = await started({ DATABASE_URL: db.url, CLOUDSTACK_SIMULATOR: 'true', DEMO_DATA: 'true', DATA_DIR: tempDir() });
    expect(seeded.output()).not.toContain('Migration001ApplianceTables');
    expect((await gqlData(seeded.url, '{ virtualMachines { totalCount } }')).virtualMachines.totalCount).toBe(DEMO_VMS.length);
  });
});

describe('with EVENTS_REDIS_URL', () => {
  it('starts and serves while Redis is down, reconnects when it comes up, never logs the password, and closes its connections on SIGTERM', async () => {
    const redis = await startTestRedis();
    disposers.push(() => redis.kill());
    await redis.kill();
    const service = await started({ DATA_DIR: tempDir(), EVENTS_REDIS_URL: redis.url, LOG_LEVEL: 'debug' });
    await waitFor(() => service.output().includes('Redis connection error'), { what: 'the Redis error logged' });
    expect((await gqlData(service.url, '{ virtualMachines { totalCount } }')).virtualMachines.totalCount).toBe(DEMO_VMS.length);
    await redis.restart();
    await waitFor(() => service.output().includes('Redis connection is back'), { timeoutMs: 15_000, what: 'the reconnect logged' });
    const client = redis.client();
    disposers.push(() => client.disconnect());
    const ours = async () => ((await client.client('LIST')) as string).split('\n').filter((line) => /name=failover-api-events-/.test(line)).length;
    // A publisher and a subscriber for each bus: the job events and the plan executions' events.
    await waitFor(async () => (await ours()) === 4, { what: 'the publishers and the subscribers connected' });
    expect(await service.stop()).toBe(0);
    expect(await ours()).toBe(0);
    expect(service.output()).toContain(`redis://:***@127.0.0.1:${redis.port}`);
    expect(service.output()).not.toContain(redis.password);
  });
});

describe('graceful shutdown on SIGTERM', () => {
  it('finishes an in-flight HTTP request, closes WebSockets with 1001, and exits 0', async () => {
    const service = await started({ DATA_DIR: tempDir() });
    const { port } = new URL(service.url);
    // An HTTP request whose body is still arriving when SIGTERM lands.
    const body = JSON.stringify({ query: '{ virtualMachines { totalCount } }' });
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((ok) => socket.once('connect', () => ok()));
    let response = '';
    socket.on('data', (chunk) => (response += chunk.toString()));
    const responded = new Promise<void>((ok) => socket.once('end', () => ok()));
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
    );

    const client = wsClient(service.url.replace('http', 'ws'), { lazy: false });
    const closed = new Promise<number>((ok) => client.on('closed', (event) => ok((event as { code: number }).code)));
    await new Promise<void>((ok) => client.on('connected', () => ok()));

    service.proc.kill('SIGTERM');
    // The 1001 close says shutdown has begun: the request started before it must still be answered.
    expect(await closed).toBe(1001);
    socket.write(body.slice(10));
    await responded;
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(response).toContain(`"totalCount":${DEMO_VMS.length}`);
    expect(await service.exited).toBe(0);
    expect(service.output()).toContain('shutting down');
  });
});

describe('configuration errors stop start-up with one line naming the variable', () => {
  it.each([
    [{ PORT: 'eighty' }, /^failover-api: configuration error: PORT: must be an integer between 0 and 65535 \(got "eighty"\)$/],
    [{ LOG_LEVEL: 'loud' }, /^failover-api: configuration error: LOG_LEVEL: must be one of/],
    [{ DATABASE_URL: 'postgres://u:secret@h/db' }, /^failover-api: configuration error: DATABASE_URL: scheme "postgres:" is not supported/],
    [{ DATABASE_URL: 'mariadb://u:secret@h:3306' }, /^failover-api: configuration error: DATABASE_URL: has no database name/],
    [{ CLOUDSTACK_URL: 'https://cloud.example.com' }, /^failover-api: configuration error: CLOUDSTACK_API_KEY: is required when CLOUDSTACK_URL is set/],
    [{ DEMO_DATA: 'maybe' }, /^failover-api: configuration error: DEMO_DATA: must be true or false/],
    [{ PORT: '0x1F' }, /^failover-api: configuration error: PORT: must be an integer between 0 and 65535 \(got "0x1F"\)$/],
    [{ HOST: 'not a host!' }, /^failover-api: configuration error: HOST: must be an IP address or a host name \(got "not a host!"\)$/],
    [{ HOST: '192.0.2.77' }, /^failover-api: configuration error: HOST: 192\.0\.2\.77 is not an address of this machine$/],
    [{ DATA_DIR: '/etc/passwd/data' }, /^failover-api: configuration error: DATA_DIR: \/etc\/passwd\/data cannot be created or written \(ENOTDIR\)$/],
    [{ DATABASE_URL: 'mariadb://u:secret@127.0.0.1:3306/db' }, /^failover-api: configuration error: CLOUDSTACK_URL: is required with a MariaDB DATABASE_URL/],
  ])('%o', async (env, expected) => {
    const { code, output, stderr } = await runFailingService({ DATA_DIR: tempDir(), ...(env as Record<string, string>) });
    expect(code).toBe(2);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
    expect(output).not.toContain('secret');
  });

  it('a database that cannot be reached exits 1 with one line and no password', async () => {
    const { code, output, stderr } = await runFailingService({
      DATABASE_URL: 'mariadb://root:hunter2@127.0.0.1:1/nowhere',
      CLOUDSTACK_SIMULATOR: 'true',
      DATA_DIR: tempDir(),
    });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^failover-api: failed to start: /);
    expect(output).not.toContain('hunter2');
  });
});
