import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { zstdAvailable, zstdCompress } from './compression.js';
import type { CompressionAlgo } from './model.js';
import { Reassembler } from './reassembler.js';
import { errorCode as code } from '../../test/helpers.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const chunk = (id: bigint, seq: number, last: boolean, data: Uint8Array, compression: CompressionAlgo = 'none') =>
  ({ type: 'packet_chunk', body: { id, compression, seq, last, data } }) as const;
const packet = (id: bigint, data: Uint8Array, compression: CompressionAlgo = 'none') => ({ type: 'packet', body: { id, compression, data } }) as const;
const make = (over: Partial<ConstructorParameters<typeof Reassembler>[0]> = {}) =>
  new Reassembler({ maxPacketBytes: 1024, compression: ['none'], chunking: true, ...over });

describe('Reassembler', () => {
  it('passes plain Packets through', () => {
    expect(make().accept(packet(3n, bytes(1, 2)))).toEqual({ id: 3n, payload: bytes(1, 2) });
  });

  it('refuses id 0 [ID-2]', () => {
    expect(code(() => make().accept(packet(0n, bytes())))).toBe(ErrorCodes.REQUEST_ID_ZERO);
    expect(code(() => make().accept(chunk(0n, 0, true, bytes())))).toBe(ErrorCodes.REQUEST_ID_ZERO);
  });

  it('refuses Packets over max_packet_len [DATA-4]', () => {
    expect(make({ maxPacketBytes: 2 }).accept(packet(1n, bytes(1, 2)))).not.toBeNull();
    expect(code(() => make({ maxPacketBytes: 2 }).accept(packet(1n, bytes(1, 2, 3))))).toBe(ErrorCodes.PACKET_TOO_LARGE);
  });

  it('compression: none always, unknown never, zstd only when negotiated [CMP-2][CMP-3]', () => {
    expect(make({ compression: ['zstd'] }).accept(packet(1n, bytes(9)))).toEqual({ id: 1n, payload: bytes(9) });
    expect(code(() => make().accept(packet(1n, bytes(9), 'unknown')))).toBe(ErrorCodes.COMPRESSION_UNSUPPORTED);
    expect(code(() => make({ compression: ['zstd', 'none', 'unknown'] }).accept(packet(1n, bytes(9), 'unknown')))).toBe(ErrorCodes.COMPRESSION_UNSUPPORTED);
    expect(code(() => make().accept(packet(1n, bytes(9), 'zstd')))).toBe(ErrorCodes.COMPRESSION_UNSUPPORTED);
  });

  it.skipIf(!zstdAvailable())('decompresses zstd packets and chunk streams with the output capped at max_packet_len [CMP-4]', () => {
    const text = new TextEncoder().encode('y'.repeat(1024));
    const z = zstdCompress(text);
    expect(make({ compression: ['zstd'] }).accept(packet(1n, z, 'zstd'))).toEqual({ id: 1n, payload: text });
    expect(code(() => make({ compression: ['zstd'], maxPacketBytes: 1023 }).accept(packet(1n, z, 'zstd')))).toBe(ErrorCodes.PACKET_TOO_LARGE);
    const r = make({ compression: ['zstd'] });
    expect(r.accept(chunk(5n, 0, false, z.subarray(0, 5), 'zstd'))).toBeNull();
    expect(r.accept(chunk(5n, 1, true, z.subarray(5), 'zstd'))).toEqual({ id: 5n, payload: text });
    expect(code(() => make({ compression: ['zstd'] }).accept(packet(1n, bytes(1, 2, 3), 'zstd')))).toBe(ErrorCodes.DECOMPRESSION_FAILED);
  });

  it('refuses chunks when chunking was not negotiated [CHK-2]', () => {
    expect(code(() => make({ chunking: false }).accept(chunk(1n, 0, true, bytes(1))))).toBe(ErrorCodes.CHUNKING_NOT_NEGOTIATED);
  });

  it('requires contiguous seq from 0 [CHK-3]', () => {
    expect(code(() => make().accept(chunk(1n, 1, false, bytes(1))))).toBe(ErrorCodes.CHUNK_SEQ_MISMATCH);
    const r = make();
    r.accept(chunk(1n, 0, false, bytes(1)));
    expect(code(() => r.accept(chunk(1n, 0, false, bytes(1))))).toBe(ErrorCodes.CHUNK_SEQ_MISMATCH);
  });

  it('refuses a compression change mid-stream [CHK-4]', () => {
    const r = make({ compression: ['zstd', 'none'] });
    r.accept(chunk(1n, 0, false, bytes(1)));
    expect(code(() => r.accept(chunk(1n, 1, true, bytes(1), 'zstd')))).toBe(ErrorCodes.CHUNK_COMPRESSION_CHANGED);
  });

  it('allows 32 concurrent streams and refuses the 33rd [CHK-5]', () => {
    const r = make();
    for (let i = 1n; i <= 32n; i++) r.accept(chunk(i, 0, false, bytes(1)));
    expect(r.openStreams).toBe(32);
    expect(code(() => r.accept(chunk(33n, 0, false, bytes(1))))).toBe(ErrorCodes.TOO_MANY_CHUNK_STREAMS);
    // an existing stream may continue
    const ok = make();
    for (let i = 1n; i <= 32n; i++) ok.accept(chunk(i, 0, false, bytes(1)));
    expect(ok.accept(chunk(7n, 1, true, bytes(2)))).toEqual({ id: 7n, payload: bytes(1, 2) });
    expect(ok.accept(chunk(33n, 0, false, bytes(1)))).toBeNull();
  });

  it('caps bytes across streams [CHK-6] and per stream [CHK-7]', () => {
    const r = make({ maxTotalBytes: 4 });
    r.accept(chunk(1n, 0, false, bytes(1, 2)));
    r.accept(chunk(2n, 0, false, bytes(1, 2)));
    expect(r.bufferedBytes).toBe(4);
    expect(code(() => r.accept(chunk(3n, 0, false, bytes(1))))).toBe(ErrorCodes.REASSEMBLY_LIMIT_EXCEEDED);
    const s = make({ maxPacketBytes: 3 });
    s.accept(chunk(1n, 0, false, bytes(1, 2)));
    expect(code(() => s.accept(chunk(1n, 1, true, bytes(3, 4))))).toBe(ErrorCodes.PACKET_TOO_LARGE);
  });

  it('interleaves ids, allows empty chunks, completes on last even at seq 0, frees accounting [CHK-8]', () => {
    const r = make();
    expect(r.accept(chunk(1n, 0, false, bytes(1)))).toBeNull();
    expect(r.accept(chunk(2n, 0, false, bytes()))).toBeNull();
    expect(r.accept(chunk(1n, 1, false, bytes()))).toBeNull();
    expect(r.accept(packet(1n, bytes(7)))).toEqual({ id: 1n, payload: bytes(7) }); // independent of the open stream
    expect(r.accept(chunk(2n, 1, true, bytes(5)))).toEqual({ id: 2n, payload: bytes(5) });
    expect(r.accept(chunk(1n, 2, true, bytes(2)))).toEqual({ id: 1n, payload: bytes(1, 2) });
    expect(r.accept(chunk(9n, 0, true, bytes()))).toEqual({ id: 9n, payload: bytes() });
    expect(r.openStreams).toBe(0);
    expect(r.bufferedBytes).toBe(0);
    // the id can be reused from seq 0
    expect(r.accept(chunk(1n, 0, true, bytes(3)))).toEqual({ id: 1n, payload: bytes(3) });
  });
});

describe('Reassembler.beginChunk / chunkData / endChunk (data copied in while it arrives)', () => {
  const head = (id: bigint, seq: number, last: boolean, dataBytes: number, compression: CompressionAlgo = 'none') => ({
    id,
    compression,
    seq,
    last,
    dataBytes,
    headBytes: 40,
  });
  /** Feed a chunk through the streaming path, data in pieces of `step` bytes. */
  const stream = (r: Reassembler, id: bigint, seq: number, last: boolean, data: Uint8Array, step = 1) => {
    expect(r.beginChunk(head(id, seq, last, data.length))).toBe(true);
    for (let i = 0; i < data.length; i += step) r.chunkData(data.subarray(i, i + step));
    return r.endChunk();
  };

  it('gives the same results as accept, mixed freely with it', () => {
    const r = make();
    expect(stream(r, 1n, 0, false, bytes(1, 2, 3))).toBeNull();
    expect(r.openStreams).toBe(1);
    expect(r.bufferedBytes).toBe(3);
    expect(r.accept(chunk(1n, 1, false, bytes(4)))).toBeNull();
    expect(stream(r, 1n, 2, true, bytes(5, 6), 2)).toEqual({ id: 1n, payload: bytes(1, 2, 3, 4, 5, 6) });
    // a stream begun by accept (first chunk kept as a view) continued by the streaming path
    expect(r.accept(chunk(3n, 0, false, bytes(9, 8)))).toBeNull();
    expect(stream(r, 3n, 1, true, bytes(7))).toEqual({ id: 3n, payload: bytes(9, 8, 7) });
    expect(stream(r, 5n, 0, true, bytes())).toEqual({ id: 5n, payload: bytes() });
    expect(r.openStreams).toBe(0);
    expect(r.bufferedBytes).toBe(0);
  });

  it('admits nothing accept would refuse, changes no state, and accept then throws the usual error', () => {
    const cases: Array<[string, Reassembler, ReturnType<typeof head>, string]> = [];
    cases.push(['ID-2', make(), head(0n, 0, true, 1), ErrorCodes.REQUEST_ID_ZERO]);
    cases.push(['CHK-2', make({ chunking: false }), head(1n, 0, true, 1), ErrorCodes.CHUNKING_NOT_NEGOTIATED]);
    cases.push(['CHK-3 new stream', make(), head(1n, 1, true, 1), ErrorCodes.CHUNK_SEQ_MISMATCH]);
    const seq = make();
    seq.accept(chunk(1n, 0, false, bytes(1)));
    cases.push(['CHK-3 gap', seq, head(1n, 2, true, 1), ErrorCodes.CHUNK_SEQ_MISMATCH]);
    const algo = make({ compression: ['zstd', 'none'] });
    algo.accept(chunk(1n, 0, false, bytes(1)));
    cases.push(['CHK-4', algo, { ...head(1n, 1, true, 1), compression: 'zstd' }, ErrorCodes.CHUNK_COMPRESSION_CHANGED]);
    const full = make();
    for (let i = 1n; i <= 32n; i++) full.accept(chunk(i, 0, false, bytes(1)));
    cases.push(['CHK-5', full, head(33n, 0, false, 1), ErrorCodes.TOO_MANY_CHUNK_STREAMS]);
    const total = make({ maxTotalBytes: 4 });
    total.accept(chunk(1n, 0, false, bytes(1, 2, 3)));
    cases.push(['CHK-6', total, head(2n, 0, false, 2), ErrorCodes.REASSEMBLY_LIMIT_EXCEEDED]);
    const per = make({ maxPacketBytes: 3 });
    per.accept(chunk(1n, 0, false, bytes(1, 2)));
    cases.push(['CHK-7', per, head(1n, 1, true, 2), ErrorCodes.PACKET_TOO_LARGE]);
    for (const [name, r, hd, want] of cases) {
      const before = [r.openStreams, r.bufferedBytes];
      expect(r.beginChunk(hd), name).toBe(false);
      expect([r.openStreams, r.bufferedBytes], name).toEqual(before);
      expect(code(() => r.accept(chunk(hd.id, hd.seq, hd.last, new Uint8Array(hd.dataBytes), hd.compression))), name).toBe(want);
    }
    // at the limits exactly: admitted
    expect(make({ maxTotalBytes: 4, maxPacketBytes: 4 }).beginChunk(head(1n, 0, true, 4))).toBe(true);
  });

  it('completes with the codec errors at the usual point: unknown or unnegotiated compression on the last chunk [CMP-2]', () => {
    const r = make();
    expect(r.beginChunk(head(1n, 0, false, 1, 'unknown'))).toBe(true);
    r.chunkData(bytes(1));
    expect(r.endChunk()).toBeNull();
    expect(r.beginChunk(head(1n, 1, true, 1, 'unknown'))).toBe(true);
    r.chunkData(bytes(2));
    expect(code(() => r.endChunk())).toBe(ErrorCodes.COMPRESSION_UNSUPPORTED);
  });

  it('refuses caller mistakes: more data than admitted, ending early', () => {
    const r = make();
    expect(r.beginChunk(head(1n, 0, true, 2))).toBe(true);
    expect(() => r.chunkData(bytes(1, 2, 3))).toThrow(/more bytes/);
    r.chunkData(bytes(1));
    expect(() => r.endChunk()).toThrow(/incomplete/);
  });

  it('reuses a released payload buffer for the next stream, and only a released one', () => {
    const r = make();
    const a = stream(r, 1n, 0, false, bytes(1)) ?? stream(r, 1n, 1, true, bytes(2));
    expect(a!.payload).toEqual(bytes(1, 2));
    // not released: the next stream gets a fresh buffer and `a` stays intact
    const b = (stream(r, 3n, 0, false, bytes(3)), stream(r, 3n, 1, true, bytes(4)));
    expect(b!.payload.buffer).not.toBe(a!.payload.buffer);
    expect(a!.payload).toEqual(bytes(1, 2));
    r.release(a!.payload);
    r.release(a!.payload); // a second release is ignored
    const c = (r.accept(chunk(5n, 0, false, bytes(5))), r.accept(chunk(5n, 1, true, bytes(6))));
    expect(c!.payload.buffer).toBe(a!.payload.buffer);
    expect(c!.payload).toEqual(bytes(5, 6));
    const d = (stream(r, 7n, 0, false, bytes(7)), stream(r, 7n, 1, true, bytes(8)));
    expect(d!.payload.buffer).not.toBe(c!.payload.buffer); // the double release did not hand it out twice
    expect(c!.payload).toEqual(bytes(5, 6));
    // views that are not reassembly buffers are ignored
    const single = r.accept(chunk(9n, 0, true, bytes(9)))!.payload;
    r.release(single);
    r.release(r.accept(packet(11n, bytes(1)))!.payload);
    const e = (stream(r, 13n, 0, false, bytes(1)), stream(r, 13n, 1, true, bytes(2)));
    expect(e!.payload.buffer).not.toBe(single.buffer);
    r.release(d!.payload);
    r.dropSpare();
    const f = (stream(r, 15n, 0, false, bytes(1)), stream(r, 15n, 1, true, bytes(2)));
    expect(f!.payload.buffer).not.toBe(d!.payload.buffer);
  });
});
