import { describe, expect, it } from 'vitest';
import { lowerKeys, openEnvelope, readAsync, readCount, readList, readObject, readSuccess } from '../../src/cloudstack/envelope.js';
import { CloudStackError, CloudStackErrorKind } from '../../src/cloudstack/errors.js';
import { toVirtualMachine } from '../../src/cloudstack/cloudstack.mappers.js';

const ok = (body: unknown, status = 200) => ({ status, body: JSON.stringify(body) });
const thrown = (fn: () => unknown): CloudStackError => {
  try {
    fn();
  } catch (error) {
    return error as CloudStackError;
  }
  throw new Error('expected a throw');
};

describe('response envelopes', () => {
  it('opens a sync object answer', () => {
    const inner = openEnvelope('startVirtualMachine', ok({ startvirtualmachineresponse: { virtualmachine: { id: 'v', state: 'Running' } } }), false);
    expect(readObject(inner, 'virtualmachine', 'x')).toEqual({ id: 'v', state: 'Running' });
  });

  it('reads lists, including the empty form without count', () => {
    const full = openEnvelope('listVolumes', ok({ listvolumesresponse: { count: 2, volume: [{ id: 'a' }, { id: 'b' }] } }), true);
    expect(readList(full, 'volume').map((v) => v.id)).toEqual(['a', 'b']);
    expect(readCount(full)).toBe(2);
    const empty = openEnvelope('listVolumes', ok({ listvolumesresponse: {} }), true);
    expect(readList(empty, 'volume')).toEqual([]);
    expect(readCount(empty)).toBe(0);
  });

  it('matches keys case-insensitively, at every level', () => {
    const inner = openEnvelope('listVMSnapshot', ok({ listVMSnapshotResponse: { Count: 1, vmSnapshot: [{ ID: 'x', VirtualMachineId: 'vm' }] } }), true);
    expect(readList(inner, 'vmSnapshot')).toEqual([{ id: 'x', virtualmachineid: 'vm' }]);
    expect(lowerKeys({ A: [{ B: 1 }] })).toEqual({ a: [{ b: 1 }] });
    const vm = toVirtualMachine(
      lowerKeys({
        ID: 'v',
        Name: 'n',
        State: 'Running',
        Nic: [
          { ID: 'n2', DeviceId: '1', NetworkId: 'b' },
          { ID: 'n1', DeviceId: '0', NetworkId: 'a', IsDefault: true },
        ],
      }) as Record<string, unknown>,
    );
    expect(vm.nics.map((n) => [n.networkId, n.isDefault])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  });

  it('falls back to the only "…response" key when the name differs', () => {
    const inner = openEnvelope('listVolumes', ok({ listvolumeresponse: { count: 1, volume: [{ id: 'a' }] } }), true);
    expect(readList(inner, 'volume')).toHaveLength(1);
  });

  it('reads async answers: jobid, and id for async creates', () => {
    expect(readAsync({ jobid: 'j' }, 'attachVolume')).toEqual({ jobId: 'j' });
    expect(readAsync({ jobid: 'j', id: 'vm' }, 'deployVirtualMachine')).toEqual({ jobId: 'j', id: 'vm' });
    expect(thrown(() => readAsync({}, 'attachVolume')).kind).toBe(CloudStackErrorKind.PROTOCOL);
  });

  it('reads success-only answers (boolean or string)', () => {
    expect(() => readSuccess({ success: true }, 'deleteVolume')).not.toThrow();
    expect(() => readSuccess({ success: 'true' }, 'deleteVolume')).not.toThrow();
    expect(thrown(() => readSuccess({ success: false, displaytext: 'nope' }, 'deleteVolume')).errorText).toBe('nope');
  });

  it('turns an error envelope into a typed error with status, code and text', () => {
    const body = { attachvolumeresponse: { uuidList: [], errorcode: 431, cserrorcode: 4350, errortext: 'Vm already has root volume attached to it' } };
    const error = thrown(() => openEnvelope('attachVolume', ok(body, 431), false));
    expect(error).toBeInstanceOf(CloudStackError);
    expect(error).toMatchObject({
      kind: CloudStackErrorKind.API,
      command: 'attachVolume',
      httpStatus: 431,
      errorCode: 431,
      errorText: 'Vm already has root volume attached to it',
      retryable: false,
    });
    expect(error.message).toContain('Vm already has root volume attached to it');
  });

  it('says retryable only for 5xx/429 on reads; 431 never', () => {
    const answer = (code: number) => ok({ listvolumesresponse: { errorcode: code, errortext: 't' } }, code);
    expect(thrown(() => openEnvelope('listVolumes', answer(530), true)).retryable).toBe(true);
    expect(thrown(() => openEnvelope('listVolumes', answer(429), true)).retryable).toBe(true);
    expect(thrown(() => openEnvelope('listVolumes', answer(431), true)).retryable).toBe(false);
    expect(thrown(() => openEnvelope('attachVolume', answer(530), false)).retryable).toBe(false);
  });

  it('treats a non-envelope answer as a protocol error (ambiguous for a write behind a 5xx)', () => {
    const html = { status: 502, body: '<html>Bad Gateway</html>' };
    expect(thrown(() => openEnvelope('listZones', html, true))).toMatchObject({ kind: CloudStackErrorKind.PROTOCOL, retryable: true, httpStatus: 502 });
    expect(thrown(() => openEnvelope('deployVirtualMachine', html, false))).toMatchObject({ retryable: false, ambiguous: true });
    expect(thrown(() => openEnvelope('listZones', ok({ somethingelse: 1 }), true))).toMatchObject({ kind: CloudStackErrorKind.PROTOCOL, retryable: false });
  });
});
