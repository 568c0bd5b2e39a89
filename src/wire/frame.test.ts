import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { FrameDecoder, encodeFrame } from './frame.js';
import { errorCode as code, fromHex as h, toHex as hex } from '../../test/helpers.js';


describe('encodeFrame', () => {
  it('prefixes a u32 little-endian length [FRM-1]', () => {
    expect(hex(encodeFrame(h('a0')))).toBe('01000000a0');
    expect(hex(encodeFrame(new Uint8Array(0x0102)))).toMatch(/^02010000/);
  });
});

describe('FrameDecoder', () => {
  const stream = h('02000000 a0f6 01000000 a0 03000000 010203');

  it('splits frames at every byte boundary, fed 1..n bytes at a time', () => {
    for (let step = 1; step <= stream.length; step++) {
      const d = new FrameDecoder({ maxFrameBytes: 16 });
      const got: string[] = [];
      for (let i = 0; i < stream.length; i += step) got.push(...d.push(stream.subarray(i, i + step)).map(hex));
      expect(got, `step ${step}`).toEqual(['a0f6', 'a0', '010203']);
      expect(d.bufferedBytes).toBe(0);
      d.end();
    }
  });

  it('allows len == max and refuses len == max + 1 before buffering the body [FRM-3]', () => {
    const d = new FrameDecoder({ maxFrameBytes: 3 });
    expect(d.push(h('03000000 010203')).map(hex)).toEqual(['010203']);
    const e = new FrameDecoder({ maxFrameBytes: 3 });
    expect(code(() => e.push(h('04000000')))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(e.bufferedBytes).toBe(0);
    // the decoder stays failed
    expect(code(() => e.push(h('00')))).toBe(ErrorCodes.FRAME_TOO_LARGE);
  });

  it('applies a changed limit to the next prefix [FRM-4][FRM-5]', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    expect(d.maxFrameBytes).toBe(1 << 20);
    d.maxFrameBytes = 4;
    expect(code(() => d.push(h('05000000')))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(code(() => new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 + 1 }))).toBe(ErrorCodes.CONFIG_INVALID);
  });

  it('refuses a zero-length frame [FRM-2]', () => {
    expect(code(() => new FrameDecoder({ maxFrameBytes: 8 }).push(h('00000000')))).toBe(ErrorCodes.FRAME_EMPTY);
  });

  it('keeps frames completed before an error in framesBeforeError', () => {
    const d = new FrameDecoder({ maxFrameBytes: 4 });
    expect(code(() => d.push(h('01000000 a0 ffffffff')))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(d.framesBeforeError.map(hex)).toEqual(['a0']);
  });

  it('reports truncation at end [FRM-1]', () => {
    const a = new FrameDecoder({ maxFrameBytes: 8 });
    a.push(h('0200'));
    expect(a.bufferedBytes).toBe(2);
    expect(code(() => a.end())).toBe(ErrorCodes.FRAME_TRUNCATED);
    const b = new FrameDecoder({ maxFrameBytes: 8 });
    b.push(h('02000000 a0'));
    expect(b.bufferedBytes).toBe(1);
    expect(code(() => b.end())).toBe(ErrorCodes.FRAME_TRUNCATED);
    new FrameDecoder({ maxFrameBytes: 8 }).end();
  });

  it('inFrame tells a started frame from a frame boundary, even when only a whole prefix is pending', () => {
    const d = new FrameDecoder({ maxFrameBytes: 8 });
    expect(d.inFrame).toBe(false);
    expect(d.push(h('01000000 a0 02000000')).map(hex)).toEqual(['a0']);
    expect(d.bufferedBytes).toBe(0); // the prefix is consumed, not held
    expect(d.inFrame).toBe(true);
    expect(d.push(h('b1')).length).toBe(0);
    expect(d.inFrame).toBe(true);
    expect(d.push(h('b2')).map(hex)).toEqual(['b1b2']);
    expect(d.inFrame).toBe(false);
    d.push(h('01'));
    expect(d.inFrame).toBe(true);
  });

  it('grows with bytes received, not bytes claimed [FRM-6]', () => {
    const d = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
    d.push(h('00000004')); // claims 64 MiB
    d.push(new Uint8Array(10));
    expect(d.bufferedBytes).toBe(10);
  });
});
