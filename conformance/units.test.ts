/** Unit tests of the harness building blocks (literal bytes where bytes matter). */
import { describe, expect, it } from 'vitest';
import { applyBaseline, baselineFromResults, parseBaseline } from './baseline.js';
import { CIndefArray, CMap, CTag, CWideUint, cbor, framed, padTo, toHex as hex } from './cbor.js';
import { globToRegExp, selectCases, type CaseDef } from './registry.js';
import type { CaseResult } from './runner.js';
import { LogTail, shellQuote, substitute } from './targets.js';
import { Redactor } from './transcript.js';


describe('crafting CBOR writer', () => {
  it('writes canonical maps in property order', () => {
    expect(hex(cbor({ type: 'cancel' }))).toBe('a1647479706566' + '63616e63656c');
    expect(hex(cbor({ id: 2n, ok: true, n: null }))).toBe('a362696402626f6bf5616ef6');
    expect(hex(cbor(70000))).toBe('1a00011170');
    expect(hex(cbor(new Uint8Array([1, 2])))).toBe('420102');
  });
  it('writes the deliberately odd forms', () => {
    expect(hex(cbor(new CWideUint(1, 8)))).toBe('1b0000000000000001');
    expect(hex(cbor(new CIndefArray([1])))).toBe('9f01ff');
    expect(hex(cbor(new CMap([['a', 1], ['a', 2]])))).toBe('a2616101616102');
    expect(hex(cbor(new CTag(55799, 0)))).toBe('d9d9f700');
  });
  it('frames with a u32-LE prefix and pads bodies to an exact size', () => {
    expect(hex(framed(new Uint8Array([0xa0])))).toBe('01000000a0');
    for (const n of [100, 300, 70_000]) expect(padTo(n, (pad) => cbor({ type: 'x', pad })).length).toBe(n);
  });
});

describe('selection', () => {
  const mk = (id: string): CaseDef => ({ id, role: 'router', title: '', requirements: ['FRM-1'], strength: 'MUST', faults: [], run: async () => {} });
  const cases = ['router.handshake.welcome', 'router.handshake.timeout', 'router.ids.zero-packet'].map(mk);
  it('globs match whole ids', () => {
    expect(globToRegExp('router.handshake.*').test('router.handshake.welcome')).toBe(true);
    expect(globToRegExp('router.handshake.*').test('router.handshakeX.welcome')).toBe(false);
    expect(globToRegExp('*.zero-*').test('router.ids.zero-packet')).toBe(true);
  });
  it('run and skip combine', () => {
    expect(selectCases(cases, ['router.handshake.*'], ['*.timeout']).map((c) => c.id)).toEqual(['router.handshake.welcome']);
    expect(selectCases(cases, [], []).length).toBe(3);
  });
});

describe('baseline', () => {
  const result = (id: string, outcome: CaseResult['outcome']): CaseResult => ({ id, role: 'router', title: '', strength: 'MUST', requirements: [], outcome, notes: [], transcript: [], durationMs: 0, rerun: '' });
  it('parses JSON and plain lists', () => {
    expect(parseBaseline('{"formatVersion":1,"knownFailures":[{"id":"a.b.c","reason":"r"}]}')).toEqual([{ id: 'a.b.c', reason: 'r' }]);
    expect(parseBaseline('# known\nrouter.x.y\n\nrouter.z.w # flaky\n')).toEqual([{ id: 'router.x.y' }, { id: 'router.z.w' }]);
  });
  it('marks known failures and stale entries', () => {
    const rs = [result('r.a.fails', 'fail'), result('r.a.passes', 'pass'), result('r.a.other', 'fail')];
    applyBaseline(rs, [{ id: 'r.a.fails' }, { id: 'r.a.passes' }], false);
    expect(rs.map((r) => r.baseline)).toEqual(['known-failure', 'stale', undefined]);
    expect(baselineFromResults(rs, [{ id: 'r.a.fails', reason: 'kept' }, { id: 'r.not.run' }], false).knownFailures).toEqual([
      { id: 'r.a.fails', reason: 'kept' },
      { id: 'r.a.other', reason: 'fail' },
      { id: 'r.not.run' },
    ]);
  });
});

describe('secret redaction', () => {
  it('masks text, hex and bytes without touching the input', () => {
    const r = new Redactor(['tok-123']);
    expect(r.text('a tok-123 b')).toBe('a [REDACTED] b');
    expect(r.text(`x${Buffer.from('tok-123').toString('hex')}y`)).toBe('x[REDACTED]y');
    const input = new TextEncoder().encode('..tok-123..');
    expect(new TextDecoder().decode(r.bytes(input))).toBe('..*******..');
    expect(new TextDecoder().decode(input)).toBe('..tok-123..');
  });
});

describe('process helpers', () => {
  it('quotes substituted values for the shell and refuses unknown placeholders', () => {
    expect(substitute('w --connect {address} --shard {shard}', { address: "unix:/tmp/a b'c", shard: '3' })).toBe(`w --connect 'unix:/tmp/a b'\\''c' --shard 3`);
    expect(() => substitute('w {nope}', {})).toThrow(/unknown placeholder/);
    expect(shellQuote('plain-1.2:/x')).toBe('plain-1.2:/x');
  });
  it('keeps a bounded tail of output lines', () => {
    const t = new LogTail(32);
    for (let i = 0; i < 20; i++) t.push(`line ${i}\n`);
    expect(t.tail(2)).toBe('line 18\nline 19');
    expect(t.all().length).toBeLessThanOrEqual(40);
  });
});
