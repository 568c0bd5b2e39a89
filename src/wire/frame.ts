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
 * Receiver of {@link FrameDecoder.pushTo}: complete frames, and optionally large frames as pieces.
 *
 * A frame of at least `streamFromBytes` (constructor option) that does not lie wholly inside the
 * chunk at hand is offered to {@link begin} once its first min({@link STREAM_HEAD_BYTES}, length)
 * body bytes are in. If `begin` returns true, the rest of the body is handed to {@link piece} as
 * views of the pushed chunks (never joined, never copied), then {@link end} is called; if it
 * returns false (or is absent), the frame is joined and delivered to {@link frame} as usual.
 */
export interface FrameSink {
  /** One complete frame body (a view of the pushed chunk when it lay inside it, else a joined copy). */
  frame(body: Uint8Array): void;
  /** A large frame began: `head` is its first body bytes (a view or a small copy), `bodyBytes` its length. */
  begin?(head: Uint8Array, bodyBytes: number): boolean;
  /** The next body bytes of an accepted large frame, after `head`, in order. */
  piece?(bytes: Uint8Array): void;
  /** The accepted large frame is complete. */
  end?(): void;
}

/**
 * Bytes of a large frame's body collected before {@link FrameSink.begin} is asked: enough for the
 * head of an encoded PacketChunk (at most 82 bytes) so the sink can decide from it alone.
 */
export const STREAM_HEAD_BYTES = 128;

/**
 * Push-based frame splitter.
 *
 * - The length prefix is checked against {@link maxFrameBytes} as soon as its 4 bytes are in,
 *   before any body byte is buffered [FRM-3]; `len == max` is allowed.
 * - Body bytes are kept as received pieces, so memory follows what arrived, never what the prefix
 *   claims [FRM-6]; a frame spanning pieces is joined once complete (or, with {@link pushTo} and a
 *   sink that accepts it, passed on piece by piece and never held here).
 * - A zero-length frame throws FRAME_EMPTY [FRM-2].
 *
 * Aliasing: a frame lying wholly inside one pushed chunk is returned as a view of that chunk (no
 * copy). Do not overwrite a chunk after pushing it (socket chunks are never reused, so this holds
 * for `net.Socket` data).
 *
 * After a throw (its own or a sink's) the decoder stays failed (every later call rethrows). Frames
 * completed earlier in the failing `push` are in {@link framesBeforeError}.
 */
export class FrameDecoder {
  private maxFrame: number;
  /** Frames of at least this many bytes may be streamed to a sink (pushTo only). */
  private readonly streamFrom: number;
  private readonly header = new Uint8Array(LENGTH_PREFIX_BYTES);
  private headerFill = 0;
  /** Body length of the frame in progress, or -1 while reading a prefix. */
  private bodyLength = -1;
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  /** The frame in progress may still be offered to the sink (large, and begin not asked yet). */
  private candidate = false;
  /** Body bytes already passed to the sink for an accepted large frame, or -1 when not streaming. */
  private streamed = -1;
  private failure: ProtocolError | undefined;
  /** Frames completed in the `push` call that threw (empty otherwise). */
  framesBeforeError: Uint8Array[] = [];

  /**
   * @param opts.streamFromBytes frames at least this long may be streamed through
   *   {@link FrameSink.begin} by {@link pushTo} (default 32 KiB; never below {@link STREAM_HEAD_BYTES}).
   */
  constructor(opts: { maxFrameBytes: number; streamFromBytes?: number }) {
    this.maxFrame = validateByteLimit('maxFrameBytes', opts.maxFrameBytes, HARD_MAX_MESSAGE_BYTES);
    this.streamFrom = Math.max(opts.streamFromBytes ?? DEFAULT_STREAM_FROM_BYTES, STREAM_HEAD_BYTES + 1);
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
   * prefix: use {@link inFrame} to ask whether a frame has started. Bytes already handed to a sink
   * are not held either.
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
    if (this.failure) throw this.failure; // framesBeforeError keeps the failing call's frames
    const out: Uint8Array[] = [];
    try {
      this.pushTo(chunk, { frame: (body) => out.push(body) });
    } catch (e) {
      this.framesBeforeError = out;
      throw e;
    }
    return out;
  }

  /**
   * Feed received bytes; every frame they complete goes to `sink` at once, in order, and large
   * frames may be streamed to it (see {@link FrameSink}). A frame delivered before a framing error
   * has been delivered: the caller sees frames exactly as a sequential reader would.
   */
  pushTo(chunk: Uint8Array, sink: FrameSink): void {
    if (this.failure) throw this.failure;
    let p = 0;
    const n = chunk.length;
    try {
      while (p < n) {
        if (this.bodyLength < 0) {
          // Fast path: a whole prefix inside this chunk.
          if (this.headerFill === 0 && n - p >= LENGTH_PREFIX_BYTES) {
            this.startBody((chunk[p]! | (chunk[p + 1]! << 8) | (chunk[p + 2]! << 16) | (chunk[p + 3]! << 24)) >>> 0, sink);
            p += LENGTH_PREFIX_BYTES;
          } else {
            this.header[this.headerFill++] = chunk[p++]!;
            if (this.headerFill === LENGTH_PREFIX_BYTES) {
              const h = this.header;
              this.headerFill = 0;
              this.startBody((h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0, sink);
            }
          }
          continue;
        }
        if (this.streamed >= 0) {
          // An accepted large frame: pass the bytes on as views, hold nothing.
          const take = Math.min(this.bodyLength - this.streamed, n - p);
          const piece = chunk.subarray(p, p + take);
          p += take;
          this.streamed += take;
          if (this.streamed === this.bodyLength) {
            this.streamed = -1;
            this.bodyLength = -1;
          }
          sink.piece!(piece);
          if (this.bodyLength < 0) sink.end!();
          continue;
        }
        const missing = this.bodyLength - this.partsBytes;
        const take = Math.min(missing, n - p);
        if (this.partsBytes === 0 && take === this.bodyLength) {
          // Whole body inside this chunk: a view, even for a large frame (nothing to stream).
          const body = chunk.subarray(p, p + take);
          p += take;
          this.bodyLength = -1;
          this.candidate = false;
          sink.frame(body);
          continue;
        }
        if (this.candidate && this.partsBytes + take >= STREAM_HEAD_BYTES) {
          this.candidate = false;
          const need = STREAM_HEAD_BYTES - this.partsBytes;
          const head = this.partsBytes === 0 ? chunk.subarray(p, p + need) : join([...this.parts, chunk.subarray(p, p + need)], STREAM_HEAD_BYTES);
          if (sink.begin!(head, this.bodyLength)) {
            p += need;
            this.parts = [];
            this.partsBytes = 0;
            this.streamed = STREAM_HEAD_BYTES; // < bodyLength: only frames above STREAM_HEAD_BYTES are candidates
            continue;
          }
          // refused: joined and delivered whole, as without a sink
        }
        this.parts.push(chunk.subarray(p, p + take));
        this.partsBytes += take;
        p += take;
        if (this.partsBytes === this.bodyLength) {
          const body = join(this.parts, this.bodyLength);
          this.parts = [];
          this.partsBytes = 0;
          this.bodyLength = -1;
          sink.frame(body);
        }
      }
    } catch (e) {
      this.failure = e as ProtocolError;
      this.parts = [];
      this.partsBytes = 0;
      throw e;
    }
  }

  private startBody(len: number, sink: FrameSink): void {
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
    this.candidate = len >= this.streamFrom && sink.begin !== undefined;
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

/** Large frames below this are joined even when a sink could take them piece by piece: the copy is cheap. */
const DEFAULT_STREAM_FROM_BYTES = 32 * 1024;

function join(parts: readonly Uint8Array[], bytes: number): Uint8Array {
  // Every byte is written below: no zero-fill.
  const out = new Uint8Array(Buffer.allocUnsafeSlow(bytes).buffer, 0, bytes);
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}
