import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { FrameDecoder, STREAM_HEAD_BYTES, encodeFrame, type FrameSink } from './frame.js';
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

describe('FrameDecoder.pushTo (large frames streamed to a sink)', () => {
  // small frame, a 200-byte frame (bytes 0..199), small frame; streamFromBytes 129 makes the middle one large
  const big = Uint8Array.from({ length: 200 }, (_, i) => i);
  const stream = new Uint8Array([...h('02000000 a0f6'), ...h('c8000000'), ...big, ...h('01000000 a0')]);
  expect(STREAM_HEAD_BYTES).toBe(128);

  /** A sink that records what it is given; `accept` decides whether large frames are streamed. */
  function recorder(accept: boolean) {
    const events: string[] = [];
    let streamed: number[] = [];
    const sink: FrameSink = {
      frame: (b) => events.push(`frame ${hex(b)}`),
      begin: (head, n) => {
        events.push(`begin ${head.length}/${n} ${hex(head.subarray(0, 3))}..${hex(head.subarray(-1))}`);
        if (accept) streamed = [...head];
        return accept;
      },
      piece: (b) => streamed.push(...b),
      end: () => events.push(`end ${hex(Uint8Array.from(streamed))}`),
    };
    return { sink, events };
  }

  it('streams a frame split across chunks at every byte boundary: head first, then the rest as pieces', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const d = new FrameDecoder({ maxFrameBytes: 1024, streamFromBytes: 129 });
      const { sink, events } = recorder(true);
      d.pushTo(stream.subarray(0, cut), sink);
      expect(d.bufferedBytes, `cut ${cut}`).toBeLessThanOrEqual(STREAM_HEAD_BYTES);
      d.pushTo(stream.subarray(cut), sink);
      const inOneChunk = cut <= 10 || cut >= 10 + 200; // the prefix ends at 10, the body at 210
      expect(events, `cut ${cut}`).toEqual([
        'frame a0f6',
        ...(inOneChunk ? [`frame ${hex(big)}`] : ['begin 128/200 000102..7f', `end ${hex(big)}`]),
        'frame a0',
      ]);
      expect(d.inFrame).toBe(false);
      d.end();
    }
  });

  it('fed 1..n bytes at a time, a streamed frame is never held in the decoder', () => {
    for (let step = 1; step <= stream.length; step++) {
      const d = new FrameDecoder({ maxFrameBytes: 1024, streamFromBytes: 129 });
      const { sink, events } = recorder(true);
      let maxHeld = 0;
      for (let i = 0; i < stream.length; i += step) {
        d.pushTo(stream.subarray(i, i + step), sink);
        maxHeld = Math.max(maxHeld, d.bufferedBytes);
      }
      const whole = step >= 210; // the body (bytes 10..210) lies in the first chunk: a view, nothing to stream
      expect(events, `step ${step}`).toEqual(['frame a0f6', ...(whole ? [`frame ${hex(big)}`] : ['begin 128/200 000102..7f', `end ${hex(big)}`]), 'frame a0']);
      expect(maxHeld).toBeLessThanOrEqual(STREAM_HEAD_BYTES);
    }
  });

  it('a refusing sink (or one without begin) gets the frame joined, as push returns it', () => {
    for (const step of [1, 7, 64, 150]) {
      const d = new FrameDecoder({ maxFrameBytes: 1024, streamFromBytes: 129 });
      const { sink, events } = recorder(false);
      for (let i = 0; i < stream.length; i += step) d.pushTo(stream.subarray(i, i + step), sink);
      expect(events.filter((e) => e.startsWith('frame')), `step ${step}`).toEqual(['frame a0f6', `frame ${hex(big)}`, 'frame a0']);
      expect(events.filter((e) => e.startsWith('begin')).length).toBe(1); // offered once, then joined
      const plain = new FrameDecoder({ maxFrameBytes: 1024, streamFromBytes: 129 });
      const got: string[] = [];
      for (let i = 0; i < stream.length; i += step) plain.pushTo(stream.subarray(i, i + step), { frame: (b) => got.push(hex(b)) });
      expect(got).toEqual(['a0f6', hex(big), 'a0']);
    }
  });

  it('frames below streamFromBytes are never offered', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024, streamFromBytes: 201 });
    const { sink, events } = recorder(true);
    for (let i = 0; i < stream.length; i += 5) d.pushTo(stream.subarray(i, i + 5), sink);
    expect(events).toEqual(['frame a0f6', `frame ${hex(big)}`, 'frame a0']);
  });

  it('keeps the limits: FRM-3 at the prefix, FRM-2, truncation inside a streamed frame [FRM-1]', () => {
    const { sink, events } = recorder(true);
    const tooBig = new FrameDecoder({ maxFrameBytes: 199, streamFromBytes: 129 });
    expect(code(() => tooBig.pushTo(stream.subarray(0, 14), sink))).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(events).toEqual(['frame a0f6']); // the frame before the bad prefix was delivered first
    expect(tooBig.bufferedBytes).toBe(0);
    expect(code(() => tooBig.pushTo(h('00'), sink))).toBe(ErrorCodes.FRAME_TOO_LARGE); // stays failed
    expect(code(() => new FrameDecoder({ maxFrameBytes: 8 }).pushTo(h('00000000'), sink))).toBe(ErrorCodes.FRAME_EMPTY);
    const cut = new FrameDecoder({ maxFrameBytes: 1024, streamFromBytes: 129 });
    cut.pushTo(stream.subarray(0, 150), recorder(true).sink);
    expect(cut.inFrame).toBe(true);
    expect(cut.bufferedBytes).toBe(0); // streamed, not held
    expect(code(() => cut.end())).toBe(ErrorCodes.FRAME_TRUNCATED);
  });

  it('a prefix claiming 60 MiB holds only the bytes received [FRM-6]', () => {
    const d = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
    let offered = 0;
    const sink: FrameSink = { frame: () => undefined, begin: () => (offered++, false) };
    d.pushTo(h('0000c003'), sink); // 60 MiB
    d.pushTo(new Uint8Array(100), sink);
    expect(d.bufferedBytes).toBe(100);
    expect(offered).toBe(0); // not even offered before STREAM_HEAD_BYTES are in
    d.pushTo(new Uint8Array(100), sink);
    expect(offered).toBe(1);
    expect(d.bufferedBytes).toBe(200); // refused: kept as received pieces, never sized by the claim
  });

  it('a throwing sink fails the decoder', () => {
    const d = new FrameDecoder({ maxFrameBytes: 16 });
    expect(() => d.pushTo(h('01000000 a0'), { frame: () => { throw new Error('handler'); } })).toThrow('handler');
    expect(() => d.pushTo(h('01000000 a0'), { frame: () => undefined })).toThrow('handler');
  });
});
