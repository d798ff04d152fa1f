import { describe, expect, it } from 'vitest';
import { CloudStackClient } from '../../src/cloudstack/cloudstack.client.js';
import { FetchTransport, type HttpRequest, type HttpTransport } from '../../src/cloudstack/cloudstack.transport.js';
import { FaultKind } from '../../src/cloudstack/simulator/faults.js';
import { captureLogger, deployParams, FAST_CLIENT, rejectionOf, useCloud } from '../helpers/cloudstack.js';

/** A transport that records every signature it sends, and can fail the way a careless library does. */
class RecordingTransport implements HttpTransport {
  readonly signatures: string[] = [];
  failWithUrl = false;
  private readonly inner = new FetchTransport();
  async send(request: HttpRequest) {
    const signature = request.pairs.find(([n]) => n === 'signature')![1];
    this.signatures.push(signature);
    if (this.failWithUrl) {
      const query = request.pairs.map(([n, v]) => `${n}=${encodeURIComponent(v)}`).join('&');
      throw new TypeError(`request to ${request.url}?${query} failed`, {
        cause: Object.assign(new Error(`connect ECONNREFUSED (${query})`), { code: 'ECONNREFUSED' }),
      });
    }
    return this.inner.send(request);
  }
}

const cloud = useCloud({ reset: false, sim: { apiKey: 'api-key-that-must-stay-hidden-1234', secretKey: 'secret-key-that-must-stay-hidden-5678' } });

function everythingAbout(error: Error & Record<string, unknown>): string {
  const cause = error.cause as Error | undefined;
  return [error.message, error.stack, JSON.stringify(error), String(cause), cause?.stack, JSON.stringify(cause)].join('\n');
}

describe('secrets', () => {
  it('never appear in errors or logs, whatever fails, by GET or POST', async () => {
    const transport = new RecordingTransport();
    const logs = captureLogger();
    const make = (options: Partial<ConstructorParameters<typeof CloudStackClient>[0]> = {}) =>
      new CloudStackClient({
        url: cloud.sim.url,
        apiKey: cloud.sim.apiKey,
        secretKey: cloud.sim.secretKey,
        logger: logs,
        transport,
        ...FAST_CLIENT,
        readAttempts: 2,
        ...options,
      });
    const errors: (Error & Record<string, unknown>)[] = [];
    const collect = async (promise: Promise<unknown>) => errors.push(await rejectionOf(promise));

    for (const method of ['GET', 'POST'] as const) {
      const client = make({ method });
      // Successes, for the debug logs.
      await client.listVolumes();
      const vm = await client.deployVirtualMachine(deployParams(cloud.sim, { name: `secret-test-${method.toLowerCase()}` }));
      // A sync error, a failed job, a dropped connection, a timeout, a 401, an abort.
      await collect(client.attachVolume({ id: 'nope', virtualMachineId: vm.id }));
      await collect(client.startVirtualMachine({ id: vm.id }));
      cloud.sim.faults.add({ command: 'listZones', kind: FaultKind.DROP, count: 0 });
      await collect(client.listZones());
      cloud.sim.faults.clear();
      cloud.sim.faults.add({ command: 'listNetworks', kind: FaultKind.LATENCY, ms: 100, count: 0 });
      await collect(make({ method, requestTimeoutMs: 20 }).listNetworks());
      cloud.sim.faults.clear();
      await collect(make({ method, secretKey: 'not-the-secret-but-still-secret' }).listZones());
      await collect(client.listZones({}, { signal: AbortSignal.abort(new Error(`abort ${cloud.sim.apiKey}`)) }));
      transport.failWithUrl = true;
      await collect(client.listZones());
      transport.failWithUrl = false;
    }

    expect(errors).toHaveLength(14);
    const secrets = [cloud.sim.apiKey, cloud.sim.secretKey, 'not-the-secret-but-still-secret', ...new Set(transport.signatures)];
    expect(transport.signatures.length).toBeGreaterThan(20);
    const haystack = [...errors.map(everythingAbout), logs.text()].join('\n');
    for (const secret of secrets) {
      expect(haystack).not.toContain(secret);
      expect(haystack).not.toContain(encodeURIComponent(secret));
    }
    // The errors still say what happened.
    expect(errors.map((e) => e.kind)).toEqual(expect.arrayContaining(['API', 'JOB_FAILED', 'TRANSPORT', 'TIMEOUT', 'ABORTED']));
    expect(haystack).toContain('ECONNREFUSED');
  });
});
