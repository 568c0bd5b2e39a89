/**
 * The small-call fast paths of codec.ts (unit requests, cancel, unit and worker_stats `ok`
 * responses) against the generic cbor-x path: byte-identical encodings, equal decoded values, and
 * every other input (non-canonical, mutated, out of range) left to the generic path with its
 * verdict. Seeded (seed printed; rerun with FC_SEED=<n>).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtocolError } from '../errors.js';
import { resolveDecodeLimits } from '../limits.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import { decodeRpcPayload, encodeRpcPayload, encodeRpcPayloadShared, rpcPayloadFromCbor, rpcPayloadToCbor, smallPayloadFastPath } from './codec.js';
import type { RpcPayload } from './model.js';
import { toHex as hex } from '../../test/helpers.js';

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
console.log(`[codec-small] fast-check seed ${seed} (rerun with FC_SEED=${seed})`);
const params = { seed, numRuns: 500 };

const genericEncode = (p: RpcPayload): Uint8Array => encodeCbor(rpcPayloadToCbor(p));
const genericDecode = (b: Uint8Array): RpcPayload => rpcPayloadFromCbor(decodeCbor(b, resolveDecodeLimits()));

/** The generic verdict on `b`: the value, or the error code. */
function verdict(decode: (b: Uint8Array) => RpcPayload, b: Uint8Array): { value: RpcPayload } | { code: string } {
  try {
    return { value: decode(b) };
  } catch (e) {
    if (!isProtocolError(e)) throw e;
    return { code: e.code };
  }
}

const stats = (shard_id: number, revision: bigint, index_generation: bigint, file_count: number): RpcPayload => ({
  type: 'response',
  body: { status: 'ok', value: { type: 'worker_stats', body: { shard_id, revision, index_generation, file_count } } },
});

const CONSTANTS: RpcPayload[] = [
  { type: 'request', body: { type: 'get_worker_stats' } },
  { type: 'request', body: { type: 'shutdown' } },
  { type: 'cancel' },
  { type: 'response', body: { status: 'ok', value: { type: 'ack' } } },
  { type: 'response', body: { status: 'ok', value: { type: 'shutdown' } } },
];

describe('small-call payload fast paths', () => {
  it('worker_stats: literal serde_cbor bytes, both ways', () => {
    const p = stats(7, 300n, 0x100000000n, 65536);
    const expected =
      'a2647479706568726573706f6e736564626f6479a266737461747573626f6b6576616c7565a26474797065' +
      '6c776f726b65725f737461747364626f6479a46873686172645f696407687265766973696f6e19012c' +
      '70696e6465785f67656e65726174696f6e1b00000001000000006a66696c655f636f756e741a00010000';
    expect(hex(smallPayloadFastPath.encode(p)!)).toBe(expected);
    expect(hex(encodeRpcPayload(p))).toBe(expected);
    expect(smallPayloadFastPath.decode(Buffer.from(expected, 'hex'))).toEqual(p);
  });

  it('get_worker_stats request: literal bytes', () => {
    const p: RpcPayload = { type: 'request', body: { type: 'get_worker_stats' } };
    const expected = 'a2647479706567726571756573746462' + '6f6479a164747970657067' + '65745f776f726b65725f7374617473';
    expect(hex(smallPayloadFastPath.encode(p)!)).toBe(expected);
    expect(smallPayloadFastPath.decode(Buffer.from(expected, 'hex'))).toEqual(p);
  });

  it('constants are the generic bytes and decode to the generic value (fresh objects)', () => {
    for (const p of CONSTANTS) {
      const fast = smallPayloadFastPath.encode(p);
      expect(fast, JSON.stringify(p)).toBeDefined();
      expect(hex(fast!)).toBe(hex(genericEncode(p)));
      const a = smallPayloadFastPath.decode(fast!);
      expect(a).toEqual(genericDecode(fast!));
      expect(smallPayloadFastPath.decode(fast!)).not.toBe(a);
    }
  });

  it('worker_stats: random values encode byte-identically and decode to the generic value', () => {
    const u32 = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 0xffffffff));
    const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }), fc.constantFrom(0n, 23n, 24n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn));
    fc.assert(
      fc.property(u32, u64, u64, u32, (a, b, c, d) => {
        const p = stats(a, b, c, d);
        const fast = smallPayloadFastPath.encode(p)!;
        expect(hex(fast)).toBe(hex(genericEncode(p)));
        expect(smallPayloadFastPath.decode(fast)).toEqual(genericDecode(fast));
        expect(decodeRpcPayload(fast)).toEqual(p);
      }),
      params,
    );
  });

  it('numbers for u64 fields (below and above 2^32) encode as the generic path does', () => {
    for (const v of [0, 5, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER]) {
      const p = stats(1, v as unknown as bigint, v as unknown as bigint, 2);
      expect(hex(smallPayloadFastPath.encode(p)!)).toBe(hex(genericEncode(p)));
    }
  });

  it('invalid values are left to the generic encoder, which throws', () => {
    const bad: unknown[] = [
      stats(-1, 0n, 0n, 0),
      stats(0x100000000, 0n, 0n, 0),
      stats(0, -1n, 0n, 0),
      stats(0, 0n, 0x10000000000000000n, 0),
      stats(0, 0n, 0n, 1.5),
      { type: 'response', body: { status: 'ok', value: { type: 'worker_stats', body: null } } },
      { type: 'response', body: { status: 'ok', value: [] } },
      { type: 'request', body: { type: 'no_such_request' } },
      { type: 'request', body: [] },
      Object.assign([], { type: 'cancel' }),
    ];
    for (const p of bad) {
      expect(smallPayloadFastPath.encode(p as RpcPayload), JSON.stringify(p, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).toBeUndefined();
      expect(() => encodeRpcPayloadShared(p as RpcPayload)).toThrow(expect.objectContaining({ code: 'ENCODE_INVALID_VALUE' }));
    }
  });

  it('mutated, truncated and extended encodings get the generic verdict', () => {
    const base = [...CONSTANTS, stats(3, 1n << 40n, 9n, 70000)].map(genericEncode);
    fc.assert(
      fc.property(
        fc.constantFrom(...base),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.constantFrom('flip', 'truncate', 'append'),
        (b, edits, mode) => {
          let m = Uint8Array.from(b);
          if (mode === 'flip') for (const [i, v] of edits) m[i % m.length] = v;
          else if (mode === 'truncate') m = m.subarray(0, edits[0]![0] % m.length);
          else m = Uint8Array.from([...m, ...edits.map(([, v]) => v)]);
          expect(verdict((x) => decodeRpcPayload(x), m)).toEqual(verdict(genericDecode, m));
        },
      ),
      params,
    );
  });

  it('non-shortest integers take the generic path (same value)', () => {
    // shard_id 7 written as a 4-byte argument (1a 00000007): serde accepts it; the fast path does not match
    const canonical = genericEncode(stats(7, 1n, 2n, 3));
    const i = hex(canonical).indexOf('6873686172645f696407') / 2 + 9;
    const wide = Uint8Array.from([...canonical.subarray(0, i), 0x1a, 0, 0, 0, 7, ...canonical.subarray(i + 1)]);
    expect(smallPayloadFastPath.decode(wide)).toBeUndefined();
    expect(decodeRpcPayload(wide)).toEqual(stats(7, 1n, 2n, 3));
  });

  it('the size limit still applies to fast-path layouts', () => {
    const b = genericEncode({ type: 'request', body: { type: 'get_worker_stats' } });
    expect(() => decodeRpcPayload(b, { maxMessageBytes: b.length - 1 })).toThrow(expect.objectContaining({ code: expect.any(String) }));
    expect(verdict((x) => decodeRpcPayload(x, { maxMessageBytes: b.length - 1 }), b)).toEqual(
      verdict((x) => rpcPayloadFromCbor(decodeCbor(x, resolveDecodeLimits({ maxMessageBytes: b.length - 1 }))), b),
    );
  });
});
