/**
 * The bulk Request writer must give exactly the generic encoder's bytes, or step aside (undefined).
 * Seeded properties (seed printed; rerun with FC_SEED=<n>).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BULK_PAYLOAD_MIN_BYTES,
  BULK_PAYLOAD_MIN_TEXT_CHARS,
  BulkRequestReader,
  decodeBulkRequestPayload,
  encodeBulkRequestPayload,
  planBulkRequestPayload,
} from './bulk-payload.js';
import { decodeRpcPayload, encodeRpcPayload } from './codec.js';
import type { RpcPayload } from './model.js';
import { toHex as hex } from '../../test/helpers.js';

const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
console.log(`[bulk-payload] fast-check seed ${seed} (rerun with FC_SEED=${seed})`);

const req = (type: 'load_files' | 'index_shard', revision: bigint, files: Array<{ path: string; text: string }>): RpcPayload => ({
  type: 'request',
  body: { type, revision, files },
});

describe('encodeBulkRequestPayload', () => {
  it('writes literal serde_cbor bytes for a one-file load_files', () => {
    const out = encodeBulkRequestPayload(req('load_files', 5n, [{ path: 'a', text: 'bc' }]), { minTextChars: 0 });
    expect(hex(out!)).toBe(
      'a26474797065677265717565737464626f6479a364747970656a6c6f61645f66696c6573687265766973696f6e056566696c657381a2647061746861616474657874626263',
    );
  });

  it('matches the generic encoder byte for byte (any text, sizes across every CBOR head width, u64 revisions)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }), // includes astral code points
      fc.constantFrom(23, 24, 255, 256, 65535, 65536).map((n) => 'x'.repeat(n)),
      fc.constantFrom(21845, 21846).map((n) => '\u20ac'.repeat(n)), // 3-byte chars: 65535 / 65538 bytes
    );
    const revision = fc.oneof(
      fc.constantFrom(0n, 23n, 24n, 255n, 256n, 65535n, 65536n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn),
      fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('load_files' as const, 'index_shard' as const),
        revision,
        fc.array(fc.record({ path: text, text }), { maxLength: 30 }),
        (type, rev, files) => {
          const p = req(type, rev, files);
          const fast = encodeBulkRequestPayload(p, { minTextChars: 0 });
          expect(fast).toBeDefined();
          expect(hex(fast!)).toBe(hex(encodeRpcPayload(p)));
        },
      ),
      { seed, numRuns: 150 },
    );
  });

  it('gives the generic bytes for 24 files around the head widths (array of 24 needs a 2-byte head)', () => {
    const files = Array.from({ length: 24 }, (_, i) => ({ path: `p${i}`, text: 't'.repeat(i * 3000) }));
    const p = req('load_files', 1n << 40n, files);
    expect(hex(encodeBulkRequestPayload(p)!)).toBe(hex(encodeRpcPayload(p)));
  });

  it('handles a 64 MiB payload exactly, as an exact unshared buffer that decodes back', () => {
    const text = 'a'.repeat(8 * 1024 * 1024 - 1024);
    const p = req('load_files', 1n, Array.from({ length: 8 }, (_, i) => ({ path: `f${i}`, text })));
    const fast = encodeBulkRequestPayload(p)!;
    expect(fast.buffer.byteLength).toBe(fast.length);
    expect(Buffer.compare(fast, encodeRpcPayload(p))).toBe(0);
    const back = decodeRpcPayload(fast, { maxPacketBytes: 64 * 1024 * 1024 });
    expect(back.type === 'request' && back.body.type === 'load_files' && back.body.files.length).toBe(8);
  });

  it('steps aside for small payloads, other shapes and anything the generic encoder would refuse', () => {
    const big = 'y'.repeat(BULK_PAYLOAD_MIN_TEXT_CHARS);
    expect(encodeBulkRequestPayload(req('load_files', 1n, [{ path: 'a', text: 'small' }]))).toBeUndefined();
    expect(encodeBulkRequestPayload(req('load_files', 1n, [{ path: 'a', text: big }]))).toBeDefined();
    const refused: unknown[] = [
      req('load_files', -1n, [{ path: 'a', text: big }]),
      req('load_files', 1n << 64n, [{ path: 'a', text: big }]),
      req('load_files', 1n, [{ path: 'a', text: `${big}\ud800` }]), // lone surrogate
      req('load_files', 1n, [{ path: '\udfff', text: big }]),
      { type: 'request', body: { type: 'load_files', revision: 1n, files: [{ path: 'a', text: new Uint8Array(3) }, { path: 'b', text: big }] } },
      { type: 'request', body: { type: 'load_files', revision: 1n, files: 'nope' } },
      { type: 'request', body: { type: 'update_file', revision: 1n, file: { path: 'a', text: big } } },
      { type: 'notification', body: { type: 'load_files', revision: 1n, files: [{ path: 'a', text: big }] } },
      { type: 'request', body: { type: 'load_files', revision: 1.5, files: [{ path: 'a', text: big }] } },
      null,
    ];
    for (const p of refused) expect(encodeBulkRequestPayload(p as RpcPayload)).toBeUndefined();
  });

  it('normalises number revisions like the generic encoder', () => {
    const files = [{ path: 'a', text: 'z'.repeat(BULK_PAYLOAD_MIN_TEXT_CHARS) }];
    for (const rev of [0, 23, 24, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER]) {
      const p = { type: 'request', body: { type: 'load_files', revision: rev, files } } as unknown as RpcPayload;
      expect(hex(encodeBulkRequestPayload(p)!)).toBe(hex(encodeRpcPayload(p)));
    }
  });
});

/** The generic decoder's verdict: the value, or the error code. */
function generic(bytes: Uint8Array): RpcPayload | string {
  try {
    return decodeRpcPayload(bytes);
  } catch (e) {
    return (e as { code: string }).code;
  }
}

/** Pad a payload past the bulk threshold with one extra ASCII file. */
const padFile = { path: 'pad', text: 'p'.repeat(BULK_PAYLOAD_MIN_BYTES) };

describe('decodeBulkRequestPayload', () => {
  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.constantFrom('\ufeffbom at the start', '\ufeff'.repeat(70), 'é'.repeat(40), 'x'.repeat(63), 'x'.repeat(64), '\u0000'.repeat(70)),
  );
  const payload = fc.record({
    type: fc.constantFrom('load_files' as const, 'index_shard' as const),
    revision: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
    files: fc.array(fc.record({ path: text, text }), { maxLength: 12 }),
  });

  it('returns exactly what decodeRpcPayload returns for canonical bulk requests (any text, BOMs kept)', () => {
    fc.assert(
      fc.property(payload, (p) => {
        const bytes = encodeRpcPayload(req(p.type, p.revision, [...p.files, padFile]));
        const fast = decodeBulkRequestPayload(bytes);
        expect(fast).toBeDefined();
        expect(fast).toEqual(generic(bytes));
      }),
      { seed, numRuns: 120 },
    );
  });

  it('on damaged input either steps aside or agrees with the generic decoder (never accepts what it refuses)', () => {
    const mutation = fc.array(
      fc.record({ kind: fc.constantFrom('set', 'insert', 'delete', 'truncate'), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      { minLength: 1, maxLength: 3 },
    );
    fc.assert(
      fc.property(payload, mutation, fc.boolean(), (p, ops, nearHead) => {
        const good = encodeRpcPayload(req(p.type, p.revision, [...p.files, padFile]));
        const b = Buffer.from(good);
        let bytes: Uint8Array = b;
        for (const op of ops) {
          // most structure sits in the first bytes and around the file heads: aim there half the time
          const i = nearHead ? op.at % Math.min(bytes.length, 200) : op.at % bytes.length;
          if (op.kind === 'set') bytes[i] = op.value;
          else if (op.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([op.value]), bytes.subarray(i)]);
          else if (op.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
          else bytes = bytes.subarray(0, Math.max(i, 1));
        }
        const fast = decodeBulkRequestPayload(bytes);
        if (fast !== undefined) expect(fast).toEqual(generic(bytes));
      }),
      { seed, numRuns: 300 },
    );
  });

  it('fed growing prefixes (as chunks arrive), gives exactly the one-shot result, also on damaged input', () => {
    const mutation = fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 2 });
    fc.assert(
      fc.property(payload, mutation, fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 5 }), (p, ops, steps) => {
        const bytes = Buffer.from(encodeRpcPayload(req(p.type, p.revision, [...p.files, padFile])));
        for (const op of ops) bytes[op.at % Math.min(bytes.length, 300)] = op.value;
        const reader = new BulkRequestReader();
        for (let k = 0, i = 0; k < bytes.length; k += steps[i++ % steps.length]!) reader.feed(bytes.subarray(0, k));
        expect(reader.finish(bytes)).toEqual(decodeBulkRequestPayload(bytes));
      }),
      { seed, numRuns: 150 },
    );
    // literal: every prefix of a small two-file payload, then the whole
    const two = encodeRpcPayload(req('index_shard', 3n, [{ path: 'a', text: 'é'.repeat(40_000) }, { path: 'b', text: 'x'.repeat(30_000) }]));
    const r = new BulkRequestReader();
    for (let k = 0; k < two.length; k += 997) r.feed(two.subarray(0, k));
    expect(r.finish(two)).toEqual(decodeRpcPayload(two));
  });

  it('steps aside for small payloads and for limit or UTF-8 failures the generic decoder reports', () => {
    const small = encodeRpcPayload(req('load_files', 1n, [{ path: 'a', text: 'b' }]));
    expect(decodeBulkRequestPayload(small)).toBeUndefined();
    // a text over MAX_TEXT_BYTES (8 MiB): CBOR_LIMIT_EXCEEDED from the generic path
    const huge = encodeRpcPayload(req('load_files', 1n, [{ path: 'a', text: 'h'.repeat(8 * 1024 * 1024 + 1) }]));
    expect(decodeBulkRequestPayload(huge)).toBeUndefined();
    expect(generic(huge)).toBe('CBOR_LIMIT_EXCEEDED');
    // invalid UTF-8 inside a long text
    const bad = Buffer.from(encodeRpcPayload(req('load_files', 1n, [padFile])));
    bad[bad.length - 10] = 0xff;
    expect(decodeBulkRequestPayload(bad)).toBeUndefined();
    expect(generic(bad)).toBe('CBOR_INVALID_UTF8');
    // a path over MAX_SMALL_STRING_BYTES (16 KiB)
    const longPath = encodeRpcPayload(req('load_files', 1n, [{ path: 'q'.repeat(16 * 1024 + 1), text: padFile.text }]));
    expect(decodeBulkRequestPayload(longPath)).toBeUndefined();
    expect(generic(longPath)).toBe('CBOR_LIMIT_EXCEEDED');
    // over maxMessageBytes
    const ok = encodeRpcPayload(req('load_files', 1n, [padFile]));
    expect(decodeBulkRequestPayload(ok, { maxMessageBytes: ok.length - 1 })).toBeUndefined();
    expect(decodeBulkRequestPayload(ok, { maxMessageBytes: ok.length })).toBeDefined();
    // trailing byte
    expect(decodeBulkRequestPayload(Buffer.concat([ok, Buffer.from([0])]))).toBeUndefined();
  });
});

describe('planBulkRequestPayload (the payload written piece by piece)', () => {
  /** Write the plan in pieces of the given sizes (cycling), then the rest. */
  const writeInPieces = (p: RpcPayload, sizes: readonly number[]): Uint8Array => {
    const plan = planBulkRequestPayload(p, { minTextChars: 0 })!;
    const out = new Uint8Array(plan.bytes);
    let at = 0;
    for (let i = 0; at < out.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, out.length - at);
      plan.writeNext(out.subarray(at, at + n));
      at += n;
    }
    expect(plan.remaining).toBe(0);
    return out;
  };

  it('gives literal bytes at every split, including inside 2-, 3- and 4-byte characters', () => {
    // {"type":"request","body":{"type":"load_files","revision":1,"files":[{"path":"é","text":"a€😀"}]}}
    const p = req('load_files', 1n, [{ path: 'é', text: 'a€😀' }]);
    const want =
      'a26474797065677265717565737464626f6479a364747970656a6c6f61645f66696c6573687265766973696f6e016566696c657381a2647061746862c3a9647465787468' +
      '61e282acf09f9880';
    expect(hex(encodeRpcPayload(p))).toBe(want);
    for (let size = 1; size <= want.length / 2; size++) expect(hex(writeInPieces(p, [size])), `pieces of ${size}`).toBe(want);
    for (let cut = 1; cut < want.length / 2; cut++) expect(hex(writeInPieces(p, [cut, 1000])), `cut at ${cut}`).toBe(want);
  });

  it('matches the generic encoder for any text written in any pieces (property)', () => {
    const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), fc.constant('x'.repeat(300)));
    fc.assert(
      fc.property(
        fc.array(fc.record({ path: text, text }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 6 }),
        (files, sizes) => {
          const p = req('index_shard', 7n, files);
          expect(hex(writeInPieces(p, sizes))).toBe(hex(encodeRpcPayload(p)));
        },
      ),
      { seed, numRuns: 200 },
    );
  });

  it('refuses to write past the end', () => {
    const plan = planBulkRequestPayload(req('load_files', 1n, [{ path: 'a', text: 'b' }]), { minTextChars: 0 })!;
    expect(() => plan.writeNext(new Uint8Array(plan.bytes + 1))).toThrow(/more bytes/);
  });
});
