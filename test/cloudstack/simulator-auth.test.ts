import { describe, expect, it } from 'vitest';
import { CloudStackError, CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { formatExpires } from '../../src/cloudstack/signing.js';
import { UNAUTHORIZED_TEXT } from '../../src/cloudstack/simulator/simulator.api.js';
import { deployParams, rejectionOf, sendRaw, useCloud } from '../helpers/cloudstack.js';

const cloud = useCloud({ reset: false });

const inTenMinutes = () => formatExpires(new Date(Date.now() + 600_000));
const base = (command: string) =>
  [
    ['command', command],
    ['apikey', cloud.sim.apiKey],
    ['response', 'json'],
  ] as [string, string][];

describe('simulator signature check', () => {
  it.each(['GET', 'POST'] as const)('accepts a correctly signed %s request', async (method) => {
    const client = cloud.clientWith({ method });
    const zones = await client.listZones();
    expect(zones.map((z) => z.id)).toEqual([cloud.sim.ids.zoneId]);
  });

  it.each([
    ['space', 'web 01 test'],
    ['asterisk', 'web*01'],
    ['tilde', 'web~01'],
    ['parentheses', 'web (01)'],
    ['unicode', 'wéb-01 ✓ 日本'],
    ['reserved characters', "a+b=c&d/e?f'g!h%i"],
  ])('signs and verifies a value with %s, by GET and by POST', async (_what, displayName) => {
    for (const method of ['GET', 'POST'] as const) {
      const vm = await cloud.clientWith({ method }).deployVirtualMachine(deployParams(cloud.sim, { displayName, startVm: false }));
      expect(vm.displayName).toBe(displayName);
    }
  });

  it('verifies a client that sends camelCase names (apiKey, signatureVersion, Expires, virtualMachineId)', async () => {
    const pairs: [string, string][] = [
      ['command', 'listVolumes'],
      ['apiKey', cloud.sim.apiKey],
      ['response', 'json'],
      ['signatureVersion', '3'],
      ['Expires', inTenMinutes()],
      ['virtualMachineId', cloud.sim.ids.applianceVmIds[0]!],
      ['Type', 'ROOT'],
    ];
    for (const method of ['GET', 'POST'] as const) {
      const answer = await sendRaw(cloud.sim.apiUrl, pairs, { method, signWith: cloud.sim.secretKey });
      expect(answer.status).toBe(200);
      expect(answer.json.listvolumesresponse!.count).toBe(1);
    }
  });

  it('sorts names as received (case-sensitively) before lowercasing, as ApiServer does', async () => {
    // "Name" sorts before "apikey" ordinally but after it once lowercased: a signer that
    // lowercases before sorting signs another string than the server computes.
    const pairs: [string, string][] = [...base('listZones'), ['Name', 'zone-dr-1']];
    const { canonicalString, computeSignature } = await import('../../src/cloudstack/signing.js');
    const lowercasedFirst = pairs.map(([n, v]) => [n.toLowerCase(), v] as [string, string]);
    const wrong = computeSignature(canonicalString(lowercasedFirst), cloud.sim.secretKey);
    expect((await sendRaw(cloud.sim.apiUrl, [...pairs, ['signature', wrong]])).status).toBe(401);
    expect((await sendRaw(cloud.sim.apiUrl, pairs, { signWith: cloud.sim.secretKey })).status).toBe(200);
  });

  it('refuses an expired request with 401, the real text and the command envelope', async () => {
    const pairs: [string, string][] = [...base('listZones'), ['signatureversion', '3'], ['expires', formatExpires(new Date(Date.now() - 1_000))]];
    const answer = await sendRaw(cloud.sim.apiUrl, pairs, { signWith: cloud.sim.secretKey });
    expect(answer.status).toBe(401);
    expect(answer.description).toBe(UNAUTHORIZED_TEXT);
    expect(answer.json).toEqual({ listzonesresponse: { uuidList: [], errorcode: 401, errortext: UNAUTHORIZED_TEXT } });
  });

  it('refuses signature version 3 without expires, or with an unreadable one; ignores expires without version 3', async () => {
    const past = formatExpires(new Date(Date.now() - 60_000));
    const missing = await sendRaw(cloud.sim.apiUrl, [...base('listZones'), ['signatureversion', '3']], { signWith: cloud.sim.secretKey });
    const garbled = await sendRaw(cloud.sim.apiUrl, [...base('listZones'), ['signatureversion', '3'], ['expires', 'next tuesday']], {
      signWith: cloud.sim.secretKey,
    });
    const unversioned = await sendRaw(cloud.sim.apiUrl, [...base('listZones'), ['expires', past]], { signWith: cloud.sim.secretKey });
    expect([missing.status, garbled.status, unversioned.status]).toEqual([401, 401, 200]);
  });

  it('refuses tampered, wrongly keyed and unsigned requests', async () => {
    const signed = [...base('listVolumes'), ['type', 'ROOT']] as [string, string][];
    const { canonicalString, computeSignature } = await import('../../src/cloudstack/signing.js');
    const signature = computeSignature(canonicalString(signed), cloud.sim.secretKey);
    const tampered = await sendRaw(cloud.sim.apiUrl, [...base('listVolumes'), ['type', 'DATADISK'], ['signature', signature]]);
    const wrongSecret = await sendRaw(cloud.sim.apiUrl, signed, { signWith: 'not-the-secret' });
    const unknownKey = await sendRaw(
      cloud.sim.apiUrl,
      [
        ['command', 'listZones'],
        ['apikey', 'someone-else'],
        ['response', 'json'],
      ],
      { signWith: cloud.sim.secretKey },
    );
    const unsigned = await sendRaw(cloud.sim.apiUrl, signed);
    for (const answer of [tampered, wrongSecret, unknownKey, unsigned]) {
      expect(answer.status).toBe(401);
      expect(Object.values(answer.json)[0]!.errortext).toBe(UNAUTHORIZED_TEXT);
    }
    expect(Object.keys(tampered.json)).toEqual(['listvolumesresponse']);
  });

  it('answers an unknown command (command names are case-sensitive) with 401 errorresponse, and a missing one with 400', async () => {
    const unknown = await sendRaw(cloud.sim.apiUrl, base('listvirtualmachines'), { signWith: cloud.sim.secretKey });
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual({ errorresponse: { uuidList: [], errorcode: 401, errortext: UNAUTHORIZED_TEXT } });
    const none = await sendRaw(cloud.sim.apiUrl, [['response', 'json']]);
    expect(none.status).toBe(400);
    expect(Object.keys(none.json)).toEqual(['errorresponse']);
  });

  it('gives the client a typed, non-retryable 401 when its secret is wrong', async () => {
    const client = cloud.clientWith({ secretKey: 'wrong-secret-value' });
    const error = await rejectionOf(client.listZones());
    expect(error).toBeInstanceOf(CloudStackError);
    expect(error).toMatchObject({ kind: CloudStackErrorKind.API, httpStatus: 401, errorCode: 401, errorText: UNAUTHORIZED_TEXT, retryable: false });
  });
});
