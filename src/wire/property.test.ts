/**
 * Seeded properties (seed printed; rerun with FC_SEED=<n>):
 * 1. random models round-trip encode -> decode, and re-encoding is byte-identical;
 * 2. random mutations of valid encodings only ever throw ProtocolError, and the decoder still
 *    works afterwards.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtocolError } from '../errors.js';
import { decodeRpcPayload, decodeWireFrame, decodeWireFrameGeneric, encodeRpcPayload, encodeWireFrame, encodeWireFrameGeneric } from './codec.js';
import type { RpcPayload, WireFrame } from './model.js';
import { toHex as hex } from '../../test/helpers.js';

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
console.log(`[property] fast-check seed ${seed} (rerun with FC_SEED=${seed})`);
const params = { seed, numRuns: 300 };

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const text = fc.string({ unit: 'grapheme', maxLength: 20 });
const algo = fc.constantFrom('none' as const, 'zstd' as const, 'unknown' as const);
const version = fc.record({ major: u32, minor: u32 });
const caps = fc.record({
  max_frame_len: u32,
  max_packet_len: u32,
  supported_compression: fc.array(algo, { maxLength: 4 }),
  supports_cancel: fc.boolean(),
  supports_chunking: fc.boolean(),
});
const bytes = fc.uint8Array({ maxLength: 64 });
const wireFrame: fc.Arbitrary<WireFrame> = fc.oneof(
  fc.record({
    type: fc.constant('hello' as const),
    body: fc.record({
      shard_id: u32,
      auth_token: fc.option(text, { nil: null }),
      supported_versions: fc.record({ min: version, max: version }),
      capabilities: caps,
      cached_index_info: fc.option(fc.record({ revision: u64, index_generation: u64, symbol_count: u32 }), { nil: null }),
      worker_build: fc.option(text, { nil: null }),
    }),
  }),
  fc.record({
    type: fc.constant('welcome' as const),
    body: fc.record({ worker_id: u32, shard_id: u32, revision: u64, chosen_version: version, chosen_capabilities: caps }),
  }),
  fc.record({
    type: fc.constant('reject' as const),
    body: fc.record({ code: fc.constantFrom('invalid_request' as const, 'unauthorized' as const, 'unsupported_version' as const, 'internal' as const, 'unknown' as const), message: text }),
  }),
  fc.record({ type: fc.constant('packet' as const), body: fc.record({ id: u64, compression: algo, data: bytes }) }),
  fc.record({ type: fc.constant('packet_chunk' as const), body: fc.record({ id: u64, compression: algo, seq: u32, last: fc.boolean(), data: bytes }) }),
  fc.constant({ type: 'unknown' as const }),
);
const fileText = fc.record({ path: text, text });
const shardIndex = fc.record({
  shard_id: u32,
  revision: u64,
  index_generation: u64,
  symbols: fc.array(fc.record({ name: text, path: text, line: u32, column: u32 }), { maxLength: 3 }),
});
const payload: fc.Arbitrary<RpcPayload> = fc.oneof(
  fc.record({
    type: fc.constant('request' as const),
    body: fc.oneof(
      fc.record({ type: fc.constantFrom('load_files' as const, 'index_shard' as const), revision: u64, files: fc.array(fileText, { maxLength: 3 }) }),
      fc.record({ type: fc.constant('update_file' as const), revision: u64, file: fileText }),
      fc.record({ type: fc.constant('diagnostics' as const), path: text }),
      fc.record({ type: fc.constantFrom('get_worker_stats' as const, 'shutdown' as const, 'unknown' as const) }),
    ),
  }),
  fc.record({
    type: fc.constant('response' as const),
    body: fc.oneof(
      fc.record({
        status: fc.constant('ok' as const),
        value: fc.oneof(
          fc.record({ type: fc.constantFrom('ack' as const, 'shutdown' as const, 'unknown' as const) }),
          fc.record({ type: fc.constant('shard_index' as const), body: shardIndex }),
          fc.record({ type: fc.constant('worker_stats' as const), body: fc.record({ shard_id: u32, revision: u64, index_generation: u64, file_count: u32 }) }),
          fc.record({
            type: fc.constant('diagnostics' as const),
            body: fc.record({
              diagnostics: fc.array(
                fc.record({ severity: fc.constantFrom('error' as const, 'warning' as const, 'info' as const, 'hint' as const, 'unknown' as const), line: u32, column: u32, message: text }),
                { maxLength: 3 },
              ),
            }),
          }),
        ),
      }),
      fc.record({
        status: fc.constant('err' as const),
        error: fc.record({
          code: fc.constantFrom('invalid_request' as const, 'too_large' as const, 'cancelled' as const, 'unknown' as const),
          message: text,
          retryable: fc.boolean(),
          details: fc.option(text, { nil: null }),
        }),
      }),
      fc.constant({ status: 'unknown' as const }),
    ),
  }),
  fc.record({ type: fc.constant('notification' as const), body: fc.oneof(fc.record({ type: fc.constant('cached_index' as const), body: shardIndex }), fc.constant({ type: 'unknown' as const })) }),
  fc.constant({ type: 'cancel' as const }),
  fc.constant({ type: 'unknown' as const }),
);


/** Flip, insert, delete or overwrite a few bytes. */
const mutation = fc.array(
  fc.record({ kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  { minLength: 1, maxLength: 4 },
);
function mutate(input: Uint8Array, ops: { kind: string; at: number; value: number }[]): Uint8Array {
  const b = [...input];
  for (const op of ops) {
    const i = b.length === 0 ? 0 : op.at % b.length;
    if (op.kind === 'flip') b[i] = (b[i] ?? 0) ^ (1 << (op.value % 8));
    else if (op.kind === 'set') b[i] = op.value;
    else if (op.kind === 'insert') b.splice(i, 0, op.value);
    else if (op.kind === 'delete') b.splice(i, 1);
    else b.length = i;
  }
  return new Uint8Array(b);
}

describe('properties', () => {
  it('WireFrame round-trips and re-encodes identically', () => {
    fc.assert(
      fc.property(wireFrame, (f) => {
        const bytes = encodeWireFrame(f);
        const back = decodeWireFrame(bytes);
        expect(back).toEqual(f);
        expect(hex(encodeWireFrame(back))).toBe(hex(bytes));
        // the direct Packet writer / reader and the generic cbor-x paths agree
        expect(hex(encodeWireFrameGeneric(f))).toBe(hex(bytes));
        expect(decodeWireFrameGeneric(bytes)).toEqual(back);
      }),
      params,
    );
  });

  it('RpcPayload round-trips and re-encodes identically', () => {
    fc.assert(
      fc.property(payload, (p) => {
        const bytes = encodeRpcPayload(p);
        expect(decodeRpcPayload(bytes)).toEqual(p);
      }),
      params,
    );
  });

  it('mutated encodings only ever throw ProtocolError', () => {
    fc.assert(
      fc.property(fc.oneof(wireFrame.map(encodeWireFrame), payload.map(encodeRpcPayload)), mutation, (valid, ops) => {
        const input = mutate(valid, ops);
        const verdict = (decode: (b: Uint8Array) => unknown) => {
          try {
            return { ok: true, value: decode(input) };
          } catch (e) {
            if (!isProtocolError(e)) throw e;
            return { ok: false };
          }
        };
        verdict(decodeRpcPayload);
        // the packet fast path never changes a verdict or a value
        expect(verdict(decodeWireFrame)).toEqual(verdict(decodeWireFrameGeneric));
        // the decoder still works afterwards
        expect(hex(encodeWireFrame(decodeWireFrame(encodeWireFrame({ type: 'unknown' }))))).toBe('a1647479706567756e6b6e6f776e');
      }),
      { ...params, numRuns: 1000 },
    );
  });
});
