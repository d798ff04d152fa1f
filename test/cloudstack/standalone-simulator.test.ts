import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CloudStackClient } from '../../src/cloudstack/cloudstack.client.js';
import { DEMO_APPLIANCE_VMS, DEMO_NETWORKS, DEMO_VMS, DEMO_ZONE } from '../../src/demo/demo-world.js';
import { Disposers, FAST_CLIENT } from '../helpers/cloudstack.js';

/**
 * `npm run simulator` runs the BUILT entry point (`npm test` builds first; by hand, run
 * `npm run build` before vitest). This starts it as a child process, as a user would.
 */

const MAIN = fileURLToPath(new URL('../../dist/src/cloudstack/simulator/main.js', import.meta.url));
const disposers = new Disposers();
const dir = disposers.add(mkdtempSync(join(tmpdir(), 'cs-standalone-')), (d) => rmSync(d, { recursive: true, force: true }));
afterAll(() => disposers.dispose());

/** Resolves with the printed `CLOUDSTACK_*` settings once the last one is out; rejects if the process ends first. */
function printedSettings(child: ChildProcess): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!/^\s*CLOUDSTACK_APPLIANCE_VM_ID=.*\n/m.test(stdout)) return;
      resolve(Object.fromEntries([...stdout.matchAll(/^\s*(CLOUDSTACK_[A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!])));
    });
    child.once('exit', (code) => reject(new Error(`simulator exited (${code}) before printing its settings: ${stderr}`)));
  });
}

/** Resolves with the exit code and signal. */
const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

describe('npm run simulator (dist/src/cloudstack/simulator/main.js)', () => {
  it('starts on PORT=0, prints the settings for the bound port, answers a signed call, stops on SIGTERM with its state written', async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`).toBe(true);
    const stateFile = join(dir, 'cloud.json');
    const child = spawn(process.execPath, [MAIN, '--state-file', stateFile, '--job-latency-ms', '20', '--quiet'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const done = exited(child);
    disposers.add(child, (c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'));
    const settings = await printedSettings(child);

    expect(settings.CLOUDSTACK_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(settings.CLOUDSTACK_URL!).port)).toBeGreaterThan(0);
    expect(settings.CLOUDSTACK_ZONE_ID).toBe(DEMO_ZONE.id);
    const client = new CloudStackClient({
      ...FAST_CLIENT,
      url: settings.CLOUDSTACK_URL!,
      apiKey: settings.CLOUDSTACK_API_KEY!,
      secretKey: settings.CLOUDSTACK_SECRET_KEY!,
    });
    expect(await client.listZones()).toMatchObject([{ id: DEMO_ZONE.id, name: DEMO_ZONE.name }]);
    // The demo world: two appliance VMs holding every demo VM's replicated volumes, none at device 3.
    const appliances = settings.CLOUDSTACK_APPLIANCE_VM_ID!.split(',');
    expect(appliances).toEqual(DEMO_APPLIANCE_VMS.map((a) => a.id));
    const attached = (await Promise.all(appliances.map((id) => client.listVolumes({ virtualMachineId: id })))).flat();
    expect(
      attached
        .filter((v) => v.type === 'DATADISK')
        .map((v) => v.id)
        .sort(),
    ).toEqual(DEMO_VMS.flatMap((d) => d.disks.map((disk) => disk.volumeId)).sort());
    expect(attached.map((v) => v.deviceId)).not.toContain(3);
    const vm = await client.deployVirtualMachine({
      zoneId: settings.CLOUDSTACK_ZONE_ID!,
      serviceOfferingId: settings.CLOUDSTACK_SERVICE_OFFERING_ID!,
      templateId: settings.CLOUDSTACK_TEMPLATE_ID!,
      networkIds: [DEMO_NETWORKS[2]!.id],
      name: 'standalone-probe',
      cpuNumber: 1,
      memoryMb: 512,
      startVm: false,
    });

    child.kill('SIGTERM');
    expect(await done).toEqual({ code: 0, signal: null });
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { vms: { id: string; name: string }[] };
    expect(saved.vms.find((v) => v.id === vm.id)?.name).toBe('standalone-probe');
  });
});
