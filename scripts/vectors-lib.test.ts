import { describe, expect, it } from 'vitest';
import * as L from '../conformance/cbor.js';
import { assignIds, emptyRegistry, jsonEqual, type VectorDef } from './vectors-lib.js';

const def = (name: string, kind: VectorDef['kind'] = 'rpc_payload'): VectorDef =>
  ({ kind, name, description: 'd', requirements: ['CBOR-1'], flags: ['Typical'], result: 'valid', value: { type: 'cancel' } }) as VectorDef;

describe('id registry', () => {
  it('gives new names the next ids and keeps existing ones', () => {
    const first = assignIds([def('a'), def('b')], emptyRegistry(), true);
    expect(first.registry).toEqual({ format_version: 1, next_id: 3, ids: { 'rpc_payload/a': 1, 'rpc_payload/b': 2 } });
    expect(first.added).toEqual(['rpc_payload/a', 'rpc_payload/b']);
    // Reordered, one dropped, one new: old ids stay, the dropped id is not reused.
    const c = def('c');
    const b = def('b');
    const second = assignIds([c, b], first.registry, true);
    expect(second.ids.get(b)).toBe(2);
    expect(second.ids.get(c)).toBe(3);
    expect(second.registry.ids['rpc_payload/a']).toBe(1);
    expect(second.registry.next_id).toBe(4);
  });

  it('keys by kind and name, refuses duplicates and unregistered names in check mode', () => {
    const r = assignIds([def('x', 'wire_frame'), def('x', 'rpc_payload')], emptyRegistry(), true).registry;
    expect(Object.keys(r.ids)).toEqual(['wire_frame/x', 'rpc_payload/x']);
    expect(() => assignIds([def('x'), def('x')], emptyRegistry(), true)).toThrow(/duplicate/);
    expect(() => assignIds([def('new')], r, false)).toThrow(/no id/);
  });
});

describe('the CBOR writer combinators write exactly what it is told', () => {
  const hex = (b: Uint8Array) => L.toHex(b);
  it('heads: minimal and forced widths', () => {
    expect(hex(L.uint(0))).toBe('00');
    expect(hex(L.uint(23))).toBe('17');
    expect(hex(L.uint(24))).toBe('1818');
    expect(hex(L.uint(256))).toBe('190100');
    expect(hex(L.uint(1n << 32n))).toBe('1b0000000100000000');
    expect(hex(L.uint(2, 8))).toBe('1b0000000000000002');
    expect(hex(L.uint(1, 4))).toBe('1a00000001');
    expect(hex(L.negMinus1(0))).toBe('20');
    expect(() => L.uint(256, 1)).toThrow();
  });
  it('strings, containers, tags, simple values', () => {
    expect(hex(L.text('type'))).toBe('6474797065');
    expect(hex(L.bytes([1, 2]))).toBe('420102');
    expect(hex(L.map([['a', L.NULL]]))).toBe('a16161f6');
    expect(hex(L.mapIndef([['a', L.TRUE]]))).toBe('bf6161f5ff');
    expect(hex(L.arrayIndef([L.uint(1)]))).toBe('9f01ff');
    expect(hex(L.textIndef(['a', 'b']))).toBe('7f61616162ff');
    expect(hex(L.bytesIndef([Uint8Array.from([1])]))).toBe('5f4101ff');
    expect(hex(L.tag(55799, L.uint(0)))).toBe('d9d9f700');
    expect(hex(L.float64(2))).toBe('fb4000000000000000');
    expect(hex(L.mapDeclaring(2, [['a', L.uint(1)]]))).toBe('a2616101');
  });
});

describe('jsonEqual', () => {
  it('ignores key order, not values or array order', () => {
    expect(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: '1' }, { a: 1 })).toBe(false);
  });
});
