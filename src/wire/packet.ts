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
import { encodeWireFrame } from './codec.js';
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
 * Encode `payload` (an encoded RpcPayload) for request id `id` into WireFrame bodies (not
 * length-prefixed), exactly as the Rust sender does:
 * - zstd when "zstd" is anywhere in the negotiated list and the payload is ≥ 1024 bytes, level 3,
 *   kept only if strictly smaller [CMP-1][CMP-5];
 * - payload (before or after compression) > maxPacketBytes -> PACKET_TOO_LARGE [DATA-4];
 * - one Packet if its encoded frame is ≤ maxFrameBytes; otherwise FRAME_TOO_LARGE without
 *   chunking [CHK-1], else PacketChunks of max(maxFrameBytes − 256, 1) data bytes, shrunk by 128
 *   until each encoded chunk fits, seq from 0, `last` on the final one, same compression [CHK-9].
 */
export function encodePacketFrames(id: bigint, payload: Uint8Array, opts: PacketOptions): Uint8Array[] {
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

  // The encoded Packet is always longer than its data: skip encoding one that cannot fit.
  if (data.length < maxFrame) {
    const single = encodeWireFrame({ type: 'packet', body: { id, compression, data } });
    // [CHK-1] a frame of exactly maxFrameBytes is not chunked
    if (single.length <= maxFrame) return [single];
  }
  if (!opts.chunking) {
    throw new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `packet frame larger than max_frame_len ${maxFrame} and chunking was not negotiated`, {
      rule: 'CHK-1',
      details: { dataBytes: data.length, maxBytes: maxFrame },
    });
  }

  const frames: Uint8Array[] = [];
  let chunkBytes = Math.max(maxFrame - CHUNK_OVERHEAD_GUESS_BYTES, 1);
  let offset = 0;
  let seq = 0;
  do {
    for (;;) {
      const len = Math.min(chunkBytes, data.length - offset);
      const last = offset + len === data.length;
      const frame = encodeWireFrame({
        type: 'packet_chunk',
        body: { id, compression, seq, last, data: data.subarray(offset, offset + len) },
      });
      if (frame.length <= maxFrame) {
        frames.push(frame);
        offset += len;
        seq++;
        break;
      }
      if (len <= 1) {
        // no chunk can carry even one byte under this max_frame_len
        throw new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `max_frame_len ${maxFrame} cannot carry a packet chunk`, {
          rule: 'CHK-9',
          details: { lengthBytes: frame.length, maxBytes: maxFrame },
        });
      }
      // [CHK-9] shrink by 128 until the encoded chunk fits
      chunkBytes = Math.max(len - CHUNK_SHRINK_STEP_BYTES, 1);
    }
  } while (offset < data.length);
  return frames;
}
