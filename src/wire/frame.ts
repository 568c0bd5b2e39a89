/**
 * Length-prefixed framing (u32 little-endian length, then that many bytes) without I/O.
 *
 * @module
 */
import { ErrorCodes, ProtocolError } from '../errors.js';
import { HARD_MAX_MESSAGE_BYTES, LENGTH_PREFIX_BYTES, validateByteLimit } from '../limits.js';

/**
 * Prefix `body` with its u32-LE length [FRM-1]. A raw helper: it does not refuse an empty body
 * (tests build hostile frames with it); senders never produce one.
 * @throws ProtocolError ENCODE_INVALID_VALUE if the body cannot be described by a u32.
 */
export function encodeFrame(body: Uint8Array): Uint8Array {
  if (!(body instanceof Uint8Array) || body.length > 0xffffffff) {
    throw new ProtocolError(ErrorCodes.ENCODE_INVALID_VALUE, 'frame body must be a Uint8Array of at most 2^32-1 bytes');
  }
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + body.length);
  const n = body.length;
  out[0] = n & 0xff;
  out[1] = (n >>> 8) & 0xff;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 24) & 0xff;
  out.set(body, LENGTH_PREFIX_BYTES);
  return out;
}

/**
 * Push-based frame splitter.
 *
 * - The length prefix is checked against {@link maxFrameBytes} as soon as its 4 bytes are in,
 *   before any body byte is buffered [FRM-3]; `len == max` is allowed.
 * - Body bytes are kept as received pieces, so memory follows what arrived, never what the prefix
 *   claims [FRM-6]; a frame spanning pieces is joined once complete.
 * - A zero-length frame throws FRAME_EMPTY [FRM-2].
 *
 * Aliasing: a frame lying wholly inside one pushed chunk is returned as a view of that chunk (no
 * copy). Do not overwrite a chunk after pushing it (socket chunks are never reused, so this holds
 * for `net.Socket` data).
 *
 * After a throw the decoder stays failed (every later call rethrows). Frames completed earlier in
 * the failing `push` are in {@link framesBeforeError}.
 */
export class FrameDecoder {
  private maxFrame: number;
  private readonly header = new Uint8Array(LENGTH_PREFIX_BYTES);
  private headerFill = 0;
  /** Body length of the frame in progress, or -1 while reading a prefix. */
  private bodyLength = -1;
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private failure: ProtocolError | undefined;
  /** Frames completed in the `push` call that threw (empty otherwise). */
  framesBeforeError: Uint8Array[] = [];

  constructor(opts: { maxFrameBytes: number }) {
    this.maxFrame = validateByteLimit('maxFrameBytes', opts.maxFrameBytes, HARD_MAX_MESSAGE_BYTES);
  }

  /** Limit for prefixes read from now on (1 MiB before the handshake, then the negotiated max_frame_len) [FRM-4][FRM-5]. */
  get maxFrameBytes(): number {
    return this.maxFrame;
  }
  set maxFrameBytes(value: number) {
    // [FRM-7] never above the 64 MiB hard cap
    this.maxFrame = validateByteLimit('maxFrameBytes', value, HARD_MAX_MESSAGE_BYTES);
  }

  /**
   * Bytes held for the frame in progress: a partial prefix and body pieces. A complete prefix is not
   * held (only its length is kept), so this is 0 right after a chunk that ended exactly with a
   * prefix: use {@link inFrame} to ask whether a frame has started.
   */
  get bufferedBytes(): number {
    return this.headerFill + this.partsBytes;
  }

  /** True while a frame has started but is not complete (part of a prefix, or a prefix and part of a body). */
  get inFrame(): boolean {
    return this.headerFill > 0 || this.bodyLength >= 0;
  }

  /** Feed received bytes; returns the bodies of all frames completed by them, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    const out: Uint8Array[] = [];
    let p = 0;
    const n = chunk.length;
    try {
      while (p < n) {
        if (this.bodyLength < 0) {
          // Fast path: a whole prefix inside this chunk.
          if (this.headerFill === 0 && n - p >= LENGTH_PREFIX_BYTES) {
            this.startBody((chunk[p]! | (chunk[p + 1]! << 8) | (chunk[p + 2]! << 16) | (chunk[p + 3]! << 24)) >>> 0);
            p += LENGTH_PREFIX_BYTES;
          } else {
            this.header[this.headerFill++] = chunk[p++]!;
            if (this.headerFill === LENGTH_PREFIX_BYTES) {
              const h = this.header;
              this.headerFill = 0;
              this.startBody((h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0);
            }
          }
          continue;
        }
        const missing = this.bodyLength - this.partsBytes;
        const take = Math.min(missing, n - p);
        if (this.partsBytes === 0 && take === this.bodyLength) {
          out.push(chunk.subarray(p, p + take));
          p += take;
          this.bodyLength = -1;
          continue;
        }
        this.parts.push(chunk.subarray(p, p + take));
        this.partsBytes += take;
        p += take;
        if (this.partsBytes === this.bodyLength) {
          const body = new Uint8Array(this.bodyLength);
          let o = 0;
          for (const part of this.parts) {
            body.set(part, o);
            o += part.length;
          }
          out.push(body);
          this.parts = [];
          this.partsBytes = 0;
          this.bodyLength = -1;
        }
      }
    } catch (e) {
      this.failure = e as ProtocolError;
      this.framesBeforeError = out;
      this.parts = [];
      this.partsBytes = 0;
      throw e;
    }
    return out;
  }

  private startBody(len: number): void {
    // [FRM-2] zero-length frame
    if (len === 0) throw new ProtocolError(ErrorCodes.FRAME_EMPTY, 'zero-length frame', { rule: 'FRM-2' });
    // [FRM-3] checked before a single body byte is buffered
    if (len > this.maxFrame) {
      throw new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `frame too large: ${len} > ${this.maxFrame}`, {
        rule: 'FRM-3',
        details: { lengthBytes: len, maxBytes: this.maxFrame },
      });
    }
    this.bodyLength = len;
  }

  /**
   * The stream has ended. Throws FRAME_TRUNCATED if a prefix or body is incomplete.
   */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.headerFill > 0 || this.bodyLength >= 0) {
      this.failure = new ProtocolError(ErrorCodes.FRAME_TRUNCATED, 'stream ended inside a frame', {
        rule: 'FRM-1',
        details: { bufferedBytes: this.bufferedBytes },
      });
      throw this.failure;
    }
  }
}
