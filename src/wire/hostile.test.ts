/**
 * Hostile input: refused by error code with bounded memory. No timing assertions here (see bench).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isProtocolError } from '../errors.js';
import { decodeRpcPayload, decodeWireFrame } from './codec.js';
import { zstdAvailable, zstdCompress, zstdDecompressBounded } from './compression.js';
import { FrameDecoder } from './frame.js';
import { Reassembler } from './reassembler.js';
import { errorCode as code, fromHex as h } from '../../test/helpers.js';

const MiB = 1024 * 1024;
/** RSS growth while running fn (generous bound: other tests share the process). */
function rssGrowth(fn: () => void): number {
  global.gc?.();
  const before = process.memoryUsage().rss;
  fn();
  return process.memoryUsage().rss - before;
}

describe('hostile input', () => {
  it('6-byte array-length bombs are refused before any allocation', () => {
    const bombs = [
      h('9a05f5e10000'), // array of 10^8 items, 1 byte follows
      h('9a000f424000'), // 10^6 items (within the cap), 1 byte follows
      h('a1646461746 19a05f5e100'.replace(' ', '')), // {"data": [10^8 items]}
      h('bb00000000ffffffff'), // map of 2^32-1 pairs
      h('5bffffffffffffffff'), // byte string of 2^64-1 bytes
    ];
    const growth = rssGrowth(() => {
      const allowed: string[] = [ErrorCodes.CBOR_LIMIT_EXCEEDED, ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT];
      for (const b of bombs) expect(allowed).toContain(code(() => decodeWireFrame(b)));
      let refusedCount = 0;
      for (let i = 0; i < 2000; i++) {
        for (const b of bombs) {
          try {
            decodeWireFrame(b);
          } catch (e) {
            if (isProtocolError(e) && allowed.includes(e.code)) refusedCount++;
          }
        }
      }
      expect(refusedCount).toBe(2000 * bombs.length);
    });
    expect(growth).toBeLessThan(64 * MiB);
  });

  it('a 4 GiB length prefix is refused at once, nothing buffered', () => {
    const d = new FrameDecoder({ maxFrameBytes: 64 * MiB });
    expect(code(() => d.push(h('ffffffff')))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(d.bufferedBytes).toBe(0);
  });

  it('a 64 MiB prefix followed by a trickle costs only the trickle', () => {
    const d = new FrameDecoder({ maxFrameBytes: 64 * MiB });
    const growth = rssGrowth(() => {
      d.push(h('00000004'));
      for (let i = 0; i < 100; i++) d.push(new Uint8Array(100));
    });
    expect(d.bufferedBytes).toBe(10_000);
    expect(growth).toBeLessThan(32 * MiB);
  });

  it.skipIf(!zstdAvailable())('a zstd bomb (10 MB of zeros) is refused at the max_packet_len cap', () => {
    const bomb = zstdCompress(new Uint8Array(10_000_000));
    expect(bomb.length).toBeLessThan(2000);
    const r = new Reassembler({ maxPacketBytes: 65536, compression: ['zstd'], chunking: true });
    const growth = rssGrowth(() => {
      for (let i = 0; i < 20; i++) {
        expect(code(() => r.accept({ type: 'packet', body: { id: 1n, compression: 'zstd', data: bomb } }))).toBe(ErrorCodes.PACKET_TOO_LARGE);
      }
    });
    expect(growth).toBeLessThan(48 * MiB);
  });

  it.skipIf(!zstdAvailable())('a zstd header claiming 2^40 bytes does not allocate them', () => {
    // magic, FHD = single segment + 8-byte content size, content size 2^40, then nothing
    const liar = h('28b52ffd e0 0000000000010000');
    const growth = rssGrowth(() => {
      const c = code(() => zstdDecompressBounded(liar, 65536));
      expect([ErrorCodes.DECOMPRESSION_FAILED, ErrorCodes.PACKET_TOO_LARGE]).toContain(c);
    });
    expect(growth).toBeLessThan(32 * MiB);
  });

  it('errors never echo peer strings (tokens, types, keys)', () => {
    const marker = Buffer.from('tok-SECRET-MARKER').toString('hex'); // 17 bytes -> 0x71
    const samples = [
      // Hello with a marker auth_token and a bad shard_id (-1)
      'a264747970656568656c6c6f64626f6479a2' + '6873686172645f696420' + '6a617574685f746f6b656e71' + marker,
      // unknown type carrying a body
      'a2647479706571' + marker + '64626f6479a0',
      // unknown key before a reserved-ai byte
      'a171' + marker + '1c',
    ];
    for (const hex of samples) {
      for (const decode of [decodeWireFrame, decodeRpcPayload]) {
        try {
          decode(h(hex));
          expect.unreachable();
        } catch (e) {
          expect(isProtocolError(e)).toBe(true);
          const text = `${String(e)} ${JSON.stringify((e as { toJSON(): unknown }).toJSON())}`;
          expect(text).not.toContain('SECRET');
          expect(text).not.toContain('MARKER');
        }
      }
    }
  });
});
