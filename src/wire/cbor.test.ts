import { describe, expect, it } from 'vitest';
import { ErrorCodes, isProtocolError } from '../errors.js';
import { DEFAULT_DECODE_LIMITS } from '../limits.js';
import { CborFloat, IndefiniteText, decodeCbor, encodeCbor, repeatedKeys, type CborMap } from './cbor.js';
import { fromHex as h, toHex as hex } from '../../test/helpers.js';

const dec = (hex: string) => decodeCbor(h(hex), DEFAULT_DECODE_LIMITS);

describe('cbor', () => {
  it('decodes maps as Map, so __proto__ is a plain entry and nothing is polluted', () => {
    // {"__proto__": {"polluted": true}}
    const v = dec('a1695f5f70726f746f5f5fa168706f6c6c75746564f5');
    expect(v).toBeInstanceOf(Map);
    const m = v as Map<string, unknown>;
    expect([...m.keys()]).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('ignores tags: cbor-x never builds RegExp, Set, Date or records from peer bytes', () => {
    // tag 27 [ "a", "" ] would be a RegExp; tag 258 [] a Set; tag 1 0 a Date; tag 105 a record
    expect(dec('d81b826161 60')).toEqual(['a', '']);
    expect(dec('d9010280')).toEqual([]);
    expect(dec('c100')).toBe(0);
    expect(dec('d869a0')).toEqual(new Map());
    expect(dec('d9d9f7 a1 6161 c2 01')).toEqual(new Map([['a', 1]]));
  });

  it('joins indefinite strings; texts are marked so borrowed fields can refuse them', () => {
    expect(dec('5f420102 4103 ff')).toEqual(new Uint8Array([1, 2, 3]));
    const t = dec('7f 6161 6162 ff');
    expect(t).toBeInstanceOf(IndefiniteText);
    expect((t as IndefiniteText).value).toBe('ab');
    // UTF-8 is checked on the joined chunks (é split across chunks is fine)
    expect((dec('7f 61c3 61a9 ff') as IndefiniteText).value).toBe('é');
    try {
      dec('7f 61c3 ff');
      expect.unreachable();
    } catch (e) {
      expect(isProtocolError(e) && e.code).toBe(ErrorCodes.CBOR_INVALID_UTF8);
    }
  });

  it('marks floats instead of turning them into integers', () => {
    const v = dec('82 01 fb4000000000000000');
    expect((v as unknown[])[0]).toBe(1);
    expect((v as unknown[])[1]).toBeInstanceOf(CborFloat);
    expect(((v as unknown[])[1] as CborFloat).value).toBe(2);
    expect(((dec('f93c00') as CborFloat).value)).toBe(1);
  });

  it('records repeated keys (slow path) and keeps the first value', () => {
    const m = dec('a3 626964 01 626964 02 6161 03') as CborMap;
    expect(m.get('id')).toBe(1);
    expect(repeatedKeys(m)?.has('id')).toBe(true);
    expect(repeatedKeys(dec('c0a16161 01') as CborMap)).toBeUndefined();
  });

  it('fast and careful paths agree on plain input (a tag elsewhere forces the careful path)', () => {
    const body = 'a4 6161 1b0000000000000002 6162 3b0000000000000002 6163 43010203 6164 9f f6 f7 f4 f5 ff';
    const fast = dec(body);
    const careful = dec('c0' + body); // tag 0 in front: same value through the careful decoder
    expect(careful).toEqual(fast);
    expect((fast as Map<string, unknown>).get('a')).toBe(2n);
    expect((fast as Map<string, unknown>).get('b')).toBe(-3n);
  });

  it('returns byte strings as views of the input (documented aliasing)', () => {
    const input = h('43010203');
    const v = dec('43010203');
    expect(v).toEqual(new Uint8Array([1, 2, 3]));
    const view = decodeCbor(input, DEFAULT_DECODE_LIMITS) as Uint8Array;
    expect(view.buffer).toBe(input.buffer);
  });

  it('encodes with serde_cbor conventions', () => {
    expect(hex(encodeCbor({ b: 1, a: new Uint8Array([1]) }))).toBe('a2616201616141' + '01');
    expect(hex(encodeCbor({ n: 2n ** 32n }))).toBe('a1616e1b0000000100000000');
    expect(hex(encodeCbor({ n: null }))).toBe('a1616ef6');
  });
});
