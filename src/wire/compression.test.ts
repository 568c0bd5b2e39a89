import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { setZstdBackend, zstdAvailable, zstdBackendName, zstdCompress, zstdDecompressBounded } from './compression.js';
import { errorCode as code, fromHex as h } from '../../test/helpers.js';


// zstd frame of the RpcPayload {"type":"request","body":{"type":"get_worker_stats"}} (from the
// Rust reference, libzstd 1.5.4, level 3)
const FRAME = h('28b52ffd202a510100a26474797065677265717565737464626f6479a16474797065706765745f776f726b65725f7374617473');
const INNER = 'a26474797065677265717565737464626f6479a16474797065706765745f776f726b65725f7374617473';

describe.skipIf(!zstdAvailable())('zstd (backend present)', () => {
  it('uses zstd-napi here', () => {
    expect(zstdBackendName()).toBe('zstd-napi');
  });

  it('decompresses a reference frame', () => {
    expect(Buffer.from(zstdDecompressBounded(FRAME, 1024)).toString('hex')).toBe(INNER);
  });

  it('refuses output beyond the cap [CMP-4], including exactly cap + 1', () => {
    expect(zstdDecompressBounded(FRAME, 42).length).toBe(42);
    expect(code(() => zstdDecompressBounded(FRAME, 41))).toBe(ErrorCodes.PACKET_TOO_LARGE);
  });

  it('refuses malformed data, truncation and checksum mismatches [CMP-6]', () => {
    expect(code(() => zstdDecompressBounded(h('00010203040506070809'), 1024))).toBe(ErrorCodes.DECOMPRESSION_FAILED);
    expect(code(() => zstdDecompressBounded(FRAME.subarray(0, FRAME.length - 3), 1024))).toBe(ErrorCodes.DECOMPRESSION_FAILED);
    // "hello hello hello" with a content checksum (last 4 bytes); valid, then one checksum bit flipped
    const withChecksum = h('28b52ffd24116500003068656c6c6f200100314a11a2ed1e0c');
    expect(Buffer.from(zstdDecompressBounded(withChecksum, 1024)).toString()).toBe('hello hello hello');
    const corrupted = withChecksum.slice();
    corrupted[corrupted.length - 1]! ^= 1;
    expect(code(() => zstdDecompressBounded(corrupted, 1024))).toBe(ErrorCodes.DECOMPRESSION_FAILED);
  });

  it('decodes concatenated frames, as the reference stream decoder does', () => {
    const two = new Uint8Array([...FRAME, ...FRAME]);
    expect(zstdDecompressBounded(two, 1024).length).toBe(84);
  });

  it('round-trips and compresses repetitive data', () => {
    const data = new TextEncoder().encode('abc'.repeat(10_000));
    const packed = zstdCompress(data);
    expect(packed.length).toBeLessThan(data.length / 10);
    expect(Buffer.compare(zstdDecompressBounded(packed, data.length), data)).toBe(0);
  });
});

describe('zstd backend seam', () => {
  it('reports COMPRESSION_UNAVAILABLE without a backend', () => {
    setZstdBackend(null);
    try {
      expect(zstdAvailable()).toBe(false);
      expect(code(() => zstdCompress(new Uint8Array(1)))).toBe(ErrorCodes.COMPRESSION_UNAVAILABLE);
      expect(code(() => zstdDecompressBounded(FRAME, 100))).toBe(ErrorCodes.COMPRESSION_UNAVAILABLE);
    } finally {
      setZstdBackend(undefined);
    }
  });
});
