import { describe, expect, it } from 'vitest';
import {
  canonicalString,
  computeSignature,
  encodeValue,
  formatExpires,
  parseExpires,
  signRequest,
  signaturesEqual,
  wireName,
} from '../../src/cloudstack/signing.js';

const API_KEY = 'plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg';
const SECRET = 'VDaACYb0LV9eNjTetIOElcVQkvJck_J_QljX_FcHRj87ZKiy0z0ty0ZsYBkoXkY9b7eq1EhwJaw7FF3akA3KBQ';

describe('request signing', () => {
  it('reproduces test vector 1 (developer guide, listUsers)', () => {
    const pairs = [
      ['command', 'listUsers'],
      ['response', 'json'],
      ['apikey', API_KEY],
    ] as const;
    const text = canonicalString(pairs);
    expect(text).toBe('apikey=plgwjfzk4gys3momtvmjuvg-x-jlwlnfauj9gabbbf9edm-kaymmailqzzq1elzlyq_u38zcm0bewzgudp66mg&command=listusers&response=json');
    expect(computeSignature(text, SECRET)).toBe('TTpdDq/7j/J58XCRHomKoQXEQds=');
  });

  it('reproduces test vector 2 (deploy with details, space * ~ ( ) and expires)', () => {
    const pairs = signRequest(
      'deployVirtualMachine',
      {
        zoneid: 'z-1',
        serviceofferingid: 'so-1',
        templateid: 't-1',
        displayname: 'web 01*~(x)',
        'details[0].cpuNumber': '2',
        'details[0].memory': '2048',
      },
      { apiKey: API_KEY, secretKey: SECRET, expires: new Date('2030-01-01T00:00:00Z') },
    );
    const text = canonicalString(pairs);
    expect(text).toContain('details[0].cpunumber=2&details[0].memory=2048&displayname=web%2001*%7e%28x%29&expires=2030-01-01t00%3a00%3a00%2b0000');
    expect(Object.fromEntries(pairs).signature).toBe('q0xlNpJ06q+TVBC1X8VgudQZZ38=');
    expect(Object.fromEntries(pairs).signatureversion).toBe('3');
  });

  it('encodes like Java URLEncoder with + turned into %20', () => {
    expect(encodeValue('a b')).toBe('a%20b');
    expect(encodeValue('*-._')).toBe('*-._');
    expect(encodeValue("~!'()")).toBe('%7E%21%27%28%29');
    expect(encodeValue('é/€')).toBe('%C3%A9%2F%E2%82%AC');
    expect(encodeValue('a+b=c&d')).toBe('a%2Bb%3Dc%26d');
  });

  it('sorts names as received (case-sensitively) before lowercasing', () => {
    // "Zeta" sorts before "alpha" ordinally (uppercase first), and stays there after lowercasing.
    expect(
      canonicalString([
        ['alpha', '1'],
        ['Zeta', '2'],
      ]),
    ).toBe('zeta=2&alpha=1');
    expect(
      canonicalString([
        ['signature', 'x'],
        ['b', '2'],
        ['a', '1'],
      ]),
    ).toBe('a=1&b=2');
  });

  it('lowercases top-level names but keeps the key case inside map parameters', () => {
    expect(wireName('zoneId')).toBe('zoneid');
    expect(wireName('Details[0].cpuNumber')).toBe('details[0].cpuNumber');
    const pairs = signRequest('listZones', { Name: 'x', apiKey: 'ignored', signature: 'ignored' }, { apiKey: 'k', secretKey: 's' });
    expect(pairs.map(([n]) => n)).toEqual(['command', 'name', 'apikey', 'response', 'signature']);
  });

  it('formats and parses expires', () => {
    const date = new Date('2030-01-01T00:00:00.000Z');
    expect(formatExpires(date)).toBe('2030-01-01T00:00:00+0000');
    expect(parseExpires('2030-01-01T00:00:00+0000')?.getTime()).toBe(date.getTime());
    expect(parseExpires('2030-01-01T02:00:00.000+0200')?.getTime()).toBe(date.getTime());
    expect(parseExpires('2030-01-01T00:00:00Z')).toBeUndefined();
    expect(parseExpires('tomorrow')).toBeUndefined();
  });

  it('compares signatures in constant time, unequal lengths unequal', () => {
    expect(signaturesEqual('abc=', 'abc=')).toBe(true);
    expect(signaturesEqual('abc=', 'abd=')).toBe(false);
    expect(signaturesEqual('abc', 'abc=')).toBe(false);
  });
});
