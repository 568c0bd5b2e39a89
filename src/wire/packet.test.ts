import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodeWireFrame, encodeWireFrameGeneric } from './codec.js';
import { zstdAvailable, zstdDecompressBounded } from './compression.js';
import type { PacketChunkBody, WireFrame } from './model.js';
import { encodePacketFrameParts, encodePacketFrames, planPacketFrames, type PacketOptions } from './packet.js';
import { Reassembler } from './reassembler.js';
import { errorCode as code, fromHex, toHex as hex } from '../../test/helpers.js';

const base: PacketOptions = { maxFrameBytes: 1 << 20, maxPacketBytes: 1 << 20, compression: ['none'], chunking: false };
const CANCEL = fromHex('a164747970656663616e63656c');
// deterministic incompressible bytes (xorshift)
function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('encodePacketFrames', () => {
  it('sends a small payload as one Packet with compression none', () => {
    const frames = encodePacketFrames(2n, CANCEL, base);
    expect(frames.map(hex)).toEqual([
      'a26474797065667061636b657464626f6479a3626964026b636f6d7072657373696f6e646e6f6e6564646174614da164747970656663616e63656c',
    ]);
  });

  it('refuses payloads over maxPacketBytes [DATA-4]', () => {
    expect(code(() => encodePacketFrames(2n, new Uint8Array(11), { ...base, maxPacketBytes: 10 }))).toBe(ErrorCodes.PACKET_TOO_LARGE);
  });

  it.skipIf(!zstdAvailable())('compresses when zstd is negotiated (any position), ≥ 1024 bytes and strictly smaller [CMP-5]', () => {
    const text = new TextEncoder().encode('x'.repeat(2000));
    const f = decodeWireFrame(encodePacketFrames(4n, text, { ...base, compression: ['none', 'zstd'] })[0]!) as Extract<WireFrame, { type: 'packet' }>;
    expect(f.body.compression).toBe('zstd');
    expect(zstdDecompressBounded(f.body.data, 4096)).toEqual(text);
    // below the threshold
    const small = decodeWireFrame(encodePacketFrames(4n, text.subarray(0, 1023), { ...base, compression: ['zstd'] })[0]!) as Extract<WireFrame, { type: 'packet' }>;
    expect(small.body.compression).toBe('none');
    // not smaller
    const rnd = decodeWireFrame(encodePacketFrames(4n, noise(4096), { ...base, compression: ['zstd'] })[0]!) as Extract<WireFrame, { type: 'packet' }>;
    expect(rnd.body.compression).toBe('none');
    // not negotiated
    const plain = decodeWireFrame(encodePacketFrames(4n, text, base)[0]!) as Extract<WireFrame, { type: 'packet' }>;
    expect(plain.body.compression).toBe('none');
  });

  it('does not chunk a frame of exactly maxFrameBytes; one byte less chunks or fails [CHK-1]', () => {
    const payload = noise(300);
    const exact = encodePacketFrames(2n, payload, base)[0]!.length;
    expect(encodePacketFrames(2n, payload, { ...base, maxFrameBytes: exact })).toHaveLength(1);
    expect(code(() => encodePacketFrames(2n, payload, { ...base, maxFrameBytes: exact - 1 }))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    const chunks = encodePacketFrames(2n, payload, { ...base, maxFrameBytes: exact - 1, chunking: true });
    // chunk data = exact - 1 - 256 bytes
    const sizes = chunks.map((f) => (decodeWireFrame(f) as { body: PacketChunkBody }).body.data.length);
    expect(exact - 257).toBe(91);
    expect(sizes).toEqual([91, 91, 91, 27]);
  });

  it('chunks like the reference: max_frame_len 65536 -> 65280-byte chunks, seq from 0, last on the final one [CHK-9]', () => {
    const payload = noise(200_000, 7);
    const frames = encodePacketFrames(6n, payload, { ...base, maxFrameBytes: 65536, chunking: true });
    const bodies = frames.map((f) => (decodeWireFrame(f) as { body: PacketChunkBody }).body);
    expect(bodies.map((b) => b.data.length)).toEqual([65280, 65280, 65280, 200_000 - 3 * 65280]);
    expect(bodies.map((b) => b.seq)).toEqual([0, 1, 2, 3]);
    expect(bodies.map((b) => b.last)).toEqual([false, false, false, true]);
    expect(frames.every((f) => f.length <= 65536)).toBe(true);
    expect(frames[0]!.length).toBe(65345);
    const r = new Reassembler({ maxPacketBytes: 1 << 20, compression: ['none'], chunking: true });
    const out = frames.map((f) => r.accept(decodeWireFrame(f) as Extract<WireFrame, { type: 'packet_chunk' }>));
    expect(out.slice(0, 3)).toEqual([null, null, null]);
    expect(out[3]!.id).toBe(6n);
    expect(Buffer.compare(out[3]!.payload, payload)).toBe(0); // (toEqual on 200 kB typed arrays is slow)
  });

  it('falls back to 1-byte chunks for a small max_frame_len and fails when none fits', () => {
    const frames = encodePacketFrames(2n, CANCEL, { ...base, maxFrameBytes: 80, chunking: true });
    expect(frames).toHaveLength(1); // the 59-byte Packet itself fits in 80
    const tiny = encodePacketFrames(2n, noise(300), { ...base, maxFrameBytes: 80, chunking: true });
    expect(tiny).toHaveLength(300);
    expect(code(() => encodePacketFrames(2n, noise(300), { ...base, maxFrameBytes: 50, chunking: true }))).toBe(ErrorCodes.FRAME_TOO_LARGE);
  });
});

/** The pre-parts algorithm, with the generic (cbor-x) frame encoder as an independent oracle: encode every candidate frame to measure it. */
function referenceFrames(id: bigint, data: Uint8Array, maxFrame: number, chunking: boolean): Uint8Array[] | string {
  if (data.length < maxFrame) {
    const single = encodeWireFrameGeneric({ type: 'packet', body: { id, compression: 'none', data } });
    if (single.length <= maxFrame) return [single];
  }
  if (!chunking) return ErrorCodes.FRAME_TOO_LARGE;
  const frames: Uint8Array[] = [];
  let chunkBytes = Math.max(maxFrame - 256, 1);
  let offset = 0;
  let seq = 0;
  do {
    for (;;) {
      const len = Math.min(chunkBytes, data.length - offset);
      const last = offset + len === data.length;
      const f = encodeWireFrameGeneric({ type: 'packet_chunk', body: { id, compression: 'none', seq, last, data: data.subarray(offset, offset + len) } });
      if (f.length <= maxFrame) {
        frames.push(f);
        offset += len;
        seq++;
        break;
      }
      if (len <= 1) return ErrorCodes.FRAME_TOO_LARGE;
      chunkBytes = Math.max(len - 128, 1);
    }
  } while (offset < data.length);
  return frames;
}

describe('encodePacketFrameParts (arithmetic sizing, no payload copy)', () => {
  it('gives byte-identical frames and the same errors as measuring by encoding, across CBOR head-size boundaries', () => {
    // payload sizes and frame limits around the 1/2/3/5-byte CBOR length heads and the 256/128 chunk steps
    const sizes = [0, 1, 23, 24, 255, 256, 257, 300, 65535, 65536, 65537, 70_000];
    const maxFrames = [40, 50, 60, 61, 62, 80, 100, 300, 312, 313, 314, 400, 65536, 65600, 1 << 20];
    const ids = [1n, 24n, 256n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn];
    const payload = noise(70_000, 3);
    let compared = 0;
    for (const n of sizes) {
      for (const maxFrame of maxFrames) {
        if (maxFrame <= 100 && n > 300) continue; // thousands of 1-byte chunks: slow, nothing new
        for (const id of ids) {
          for (const chunking of [false, true]) {
            const data = payload.subarray(0, n);
            const want = referenceFrames(id, data, maxFrame, chunking);
            const opts = { maxFrameBytes: maxFrame, maxPacketBytes: 1 << 20, compression: ['none'] as const, chunking };
            let got: Uint8Array[] | string;
            let parts: ReturnType<typeof encodePacketFrameParts> | undefined;
            try {
              got = encodePacketFrames(id, data, opts);
              parts = encodePacketFrameParts(id, data, opts);
            } catch (e) {
              got = (e as { code: string }).code;
            }
            const ctx = `n=${n} maxFrame=${maxFrame} id=${id} chunking=${chunking}`;
            if (typeof want === 'string') {
              expect(got, ctx).toBe(want);
              continue;
            }
            expect(Array.isArray(got), ctx).toBe(true);
            const same = (a: Uint8Array[]): boolean => a.length === want.length && a.every((f, i) => Buffer.from(f).equals(want[i]!));
            expect(same(got as Uint8Array[]), ctx).toBe(true);
            expect(same(parts!.map((p) => Buffer.concat([p.head, p.data]))), ctx).toBe(true);
            expect(parts!.map((p) => p.bodyBytes), ctx).toEqual(want.map((f) => f.length));
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(500);
  });

  it('leaves data as views of the payload (no copy)', () => {
    const payload = noise(200_000, 9);
    const parts = encodePacketFrameParts(8n, payload, { ...base, maxFrameBytes: 65536, chunking: true });
    expect(parts).toHaveLength(4);
    for (const p of parts) expect(p.data.buffer).toBe(payload.buffer);
    expect(parts.map((p) => p.data.byteOffset)).toEqual([0, 65280, 130560, 195840]);
  });

  it('refuses an invalid id like the frame encoder', () => {
    expect(code(() => encodePacketFrameParts(-1n, CANCEL, base))).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
    expect(code(() => encodePacketFrameParts(1n << 64n, noise(300), { ...base, maxFrameBytes: 100, chunking: true }))).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
  });
});

describe('planPacketFrames (the split without the payload)', () => {
  it('plans exactly the frames encodePacketFrameParts writes, with the same errors', () => {
    const cases: Array<[number, Partial<PacketOptions>]> = [
      [0, {}],
      [13, {}],
      [300, { maxFrameBytes: 300, chunking: true }],
      [1000, { maxFrameBytes: 300, chunking: true }],
      [5000, { maxFrameBytes: 129, chunking: true }],
      [3000, { maxFrameBytes: 257, chunking: true, compression: ['none', 'zstd'], compressionThresholdBytes: 3001 }],
    ];
    for (const [n, over] of cases) {
      const opts = { ...base, ...over };
      const payload = noise(n, n + 1);
      const planned = planPacketFrames(9n, n, opts)!;
      const parts = encodePacketFrameParts(9n, payload, opts);
      expect(planned.map((f) => [hex(f.head), f.offset, f.dataBytes]), `${n}`).toEqual(
        parts.map((p) => [hex(p.head), p.data.byteOffset - payload.byteOffset, p.data.length]),
      );
    }
    expect(code(() => planPacketFrames(1n, 1001, { ...base, maxPacketBytes: 1000 }))).toBe(ErrorCodes.PACKET_TOO_LARGE);
    expect(code(() => planPacketFrames(1n, 1000, { ...base, maxFrameBytes: 300 }))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(code(() => planPacketFrames(1n, 1000, { ...base, maxFrameBytes: 40, chunking: true }))).toBe(ErrorCodes.FRAME_TOO_LARGE);
  });

  it('steps aside when the payload could be compressed (zstd negotiated, at or above the threshold)', () => {
    expect(planPacketFrames(1n, 1024, { ...base, compression: ['zstd'] })).toBeUndefined();
    expect(planPacketFrames(1n, 1023, { ...base, compression: ['zstd'] })).toBeDefined();
    expect(planPacketFrames(1n, 5000, { ...base, compression: ['none'] })).toBeDefined();
  });
});
