/**
 * The sender side of the data plane: one payload -> the WireFrame bodies the Rust sender would
 * write (nova-remote-rpc lib.rs send path: maybe_compress, then one Packet or PacketChunks).
 *
 * @module
 */
import { ErrorCodes, ProtocolError } from '../errors.js';
import {
  CHUNK_OVERHEAD_GUESS_BYTES,
  CHUNK_SHRINK_STEP_BYTES,
  COMPRESSION_THRESHOLD_BYTES,
  HARD_MAX_MESSAGE_BYTES,
  ZSTD_LEVEL,
  validateByteLimit,
} from '../limits.js';
import { encodePacketHead } from './codec.js';
import { zstdCompress } from './compression.js';
import type { CompressionAlgo } from './model.js';

export interface PacketOptions {
  /** Negotiated max_frame_len. */
  maxFrameBytes: number;
  /** Negotiated max_packet_len. */
  maxPacketBytes: number;
  /** The negotiated compression list (order is ignored, as the reference sender ignores it). */
  compression: readonly CompressionAlgo[];
  /** Negotiated supports_chunking. */
  chunking: boolean;
  /** Payloads below this are sent uncompressed (default 1024, as the reference). */
  compressionThresholdBytes?: number;
}

function packetTooLarge(len: number, max: number, rule: string): ProtocolError {
  return new ProtocolError(ErrorCodes.PACKET_TOO_LARGE, `packet too large: ${len} > ${max}`, {
    rule,
    details: { lengthBytes: len, maxBytes: max },
  });
}

/**
 * One frame body of {@link encodePacketFrameParts}: the body is `head ++ data` (byte-identical to
 * the corresponding {@link encodePacketFrames} entry) and `data` is a view of the payload (or of
 * its zstd output), never a copy.
 */
export interface PacketFrameParts {
  /** The CBOR bytes before `data` (a small fresh buffer). */
  head: Uint8Array;
  /** A subarray view of the (possibly compressed) payload. */
  data: Uint8Array;
  /** head.length + data.length: the frame body length (what the u32 prefix carries). */
  bodyBytes: number;
}

/**
 * Encode `payload` (an encoded RpcPayload) for request id `id` into WireFrame bodies (not
 * length-prefixed), exactly as the Rust sender does:
 * - zstd when "zstd" is anywhere in the negotiated list and the payload is ≥ 1024 bytes, level 3,
 *   kept only if strictly smaller [CMP-1][CMP-5];
 * - payload (before or after compression) > maxPacketBytes -> PACKET_TOO_LARGE [DATA-4];
 * - one Packet if its encoded frame is ≤ maxFrameBytes; otherwise FRAME_TOO_LARGE without
 *   chunking [CHK-1], else PacketChunks of max(maxFrameBytes − 256, 1) data bytes, shrunk by 128
 *   until each encoded chunk fits, seq from 0, `last` on the final one, same compression [CHK-9].
 *
 * Each body is a fresh buffer. Senders that can write several buffers per frame should use
 * {@link encodePacketFrameParts}, which returns the same bytes without copying the payload.
 */
export function encodePacketFrames(id: bigint, payload: Uint8Array, opts: PacketOptions): Uint8Array[] {
  const parts = encodePacketFrameParts(id, payload, opts);
  const out: Uint8Array[] = new Array<Uint8Array>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const body = new Uint8Array(p.bodyBytes);
    body.set(p.head, 0);
    body.set(p.data, p.head.length);
    out[i] = body;
  }
  return out;
}

/**
 * {@link encodePacketFrames} without the copies: the same frames (same split, same errors, same
 * bytes once `head` and `data` are concatenated), with frame sizes computed arithmetically from the
 * CBOR head sizes instead of by encoding, and `data` left as views of `payload`. The caller must
 * not modify `payload` until the frames are written.
 */
export function encodePacketFrameParts(id: bigint, payload: Uint8Array, opts: PacketOptions): PacketFrameParts[] {
  const maxFrame = validateByteLimit('maxFrameBytes', opts.maxFrameBytes, HARD_MAX_MESSAGE_BYTES);
  const maxPacket = validateByteLimit('maxPacketBytes', opts.maxPacketBytes, HARD_MAX_MESSAGE_BYTES);
  const threshold = opts.compressionThresholdBytes ?? COMPRESSION_THRESHOLD_BYTES;

  if (payload.length > maxPacket) throw packetTooLarge(payload.length, maxPacket, 'DATA-4');
  let compression: CompressionAlgo = 'none';
  let data = payload;
  if (opts.compression.includes('zstd') && payload.length >= threshold) {
    const packed = zstdCompress(payload, ZSTD_LEVEL);
    if (packed.length < payload.length) {
      compression = 'zstd';
      data = packed;
    }
  }
  if (data.length > maxPacket) throw packetTooLarge(data.length, maxPacket, 'DATA-4');
  return frameLayout(id, compression, data.length, maxFrame, opts.chunking).map((f) => ({
    head: f.head,
    data: data.subarray(f.offset, f.offset + f.dataBytes),
    bodyBytes: f.head.length + f.dataBytes,
  }));
}

/** One frame of {@link planPacketFrames}: its head, and which payload bytes follow it. */
export interface PlannedPacketFrame {
  /** The CBOR bytes before the data (a small fresh buffer). */
  head: Uint8Array;
  /** Offset and length of this frame's data in the payload. */
  offset: number;
  dataBytes: number;
}

/**
 * The frames {@link encodePacketFrameParts} would produce for a payload of `payloadBytes` bytes,
 * without the payload: same split, same heads, same errors. Lets a sender write each frame's data
 * as it produces it. Undefined when the payload could be compressed (zstd negotiated and the
 * payload at or above the threshold): compression needs the whole payload first.
 */
export function planPacketFrames(id: bigint, payloadBytes: number, opts: PacketOptions): PlannedPacketFrame[] | undefined {
  const maxFrame = validateByteLimit('maxFrameBytes', opts.maxFrameBytes, HARD_MAX_MESSAGE_BYTES);
  const maxPacket = validateByteLimit('maxPacketBytes', opts.maxPacketBytes, HARD_MAX_MESSAGE_BYTES);
  const threshold = opts.compressionThresholdBytes ?? COMPRESSION_THRESHOLD_BYTES;
  if (payloadBytes > maxPacket) throw packetTooLarge(payloadBytes, maxPacket, 'DATA-4');
  if (opts.compression.includes('zstd') && payloadBytes >= threshold) return undefined;
  return frameLayout(id, 'none', payloadBytes, maxFrame, opts.chunking);
}

/**
 * The Rust sender's split of `dataBytes` (already compressed or not) into one Packet or PacketChunks.
 * Exported as the reference split a receiver can compare a peer's chunk sizes with [CHK-9].
 */
export function frameLayout(id: bigint, compression: CompressionAlgo, dataBytes: number, maxFrame: number, chunking: boolean): PlannedPacketFrame[] {
  // The encoded Packet is always longer than its data: skip one that cannot fit.
  if (dataBytes < maxFrame) {
    const head = encodePacketHead({ type: 'packet', id, compression, dataBytes });
    // [CHK-1] a frame of exactly maxFrameBytes is not chunked
    if (head.length + dataBytes <= maxFrame) return [{ head, offset: 0, dataBytes }];
  }
  if (!chunking) {
    throw new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `packet frame larger than max_frame_len ${maxFrame} and chunking was not negotiated`, {
      rule: 'CHK-1',
      details: { dataBytes, maxBytes: maxFrame },
    });
  }

  const frames: PlannedPacketFrame[] = [];
  let chunkBytes = Math.max(maxFrame - CHUNK_OVERHEAD_GUESS_BYTES, 1);
  let offset = 0;
  let seq = 0;
  do {
    for (;;) {
      const len = Math.min(chunkBytes, dataBytes - offset);
      const last = offset + len === dataBytes;
      // Sized arithmetically: the head depends only on id, compression, seq and len.
      const head = encodePacketHead({ type: 'packet_chunk', id, compression, seq, last, dataBytes: len });
      const bodyBytes = head.length + len;
      if (bodyBytes <= maxFrame) {
        frames.push({ head, offset, dataBytes: len });
        offset += len;
        seq++;
        break;
      }
      if (len <= 1) {
        // no chunk can carry even one byte under this max_frame_len
        throw new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `max_frame_len ${maxFrame} cannot carry a packet chunk`, {
          rule: 'CHK-9',
          details: { lengthBytes: bodyBytes, maxBytes: maxFrame },
        });
      }
      // [CHK-9] shrink by 128 until the encoded chunk fits
      chunkBytes = Math.max(len - CHUNK_SHRINK_STEP_BYTES, 1);
    }
  } while (offset < dataBytes);
  return frames;
}
