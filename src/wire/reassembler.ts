/**
 * The receiver side of the data plane: Packets and PacketChunks -> complete, decompressed
 * payloads, with the Rust receiver's checks and limits (nova-remote-rpc lib.rs reader loop).
 *
 * @module
 */
import { ErrorCodes, ProtocolError } from '../errors.js';
import { HARD_MAX_MESSAGE_BYTES, MAX_CONCURRENT_REASSEMBLIES, MAX_REASSEMBLY_TOTAL_BYTES, validateByteLimit } from '../limits.js';
import { zstdDecompressBounded } from './compression.js';
import type { CompressionAlgo, PacketBody, PacketChunkBody, WireFrame } from './model.js';

export interface ReassemblerOptions {
  /** Negotiated max_packet_len: caps a Packet's data, a reassembled stream and decompressed output. */
  maxPacketBytes: number;
  /** The negotiated compression list. */
  compression: readonly CompressionAlgo[];
  /** Negotiated supports_chunking. */
  chunking: boolean;
  /** Concurrent chunk streams (default 32). */
  maxConcurrentStreams?: number;
  /** Bytes buffered across all streams (default 256 MiB). */
  maxTotalBytes?: number;
}

interface Stream {
  nextSeq: number;
  compression: CompressionAlgo;
  /** Chunk data copied in as it arrives; capacity maxPacketBytes, allocated without zero-fill so
   *  only the bytes written become resident. Undefined until a second chunk needs it. */
  arena: Uint8Array | undefined;
  /** The first chunk's data (a view), until a second chunk arrives. */
  first: Uint8Array | undefined;
  bytes: number;
}

/**
 * Stateful per-connection reassembly. Every throw is connection-fatal (the reference closes).
 *
 * Chunk `data` views are kept until their stream completes: the frames' buffers must not be
 * overwritten meanwhile (FrameDecoder output is safe).
 */
export class Reassembler {
  private readonly maxPacket: number;
  private readonly negotiated: readonly CompressionAlgo[];
  private readonly chunking: boolean;
  private readonly maxStreams: number;
  private readonly maxTotal: number;
  private readonly streams = new Map<bigint, Stream>();
  private total = 0;

  constructor(opts: ReassemblerOptions) {
    this.maxPacket = validateByteLimit('maxPacketBytes', opts.maxPacketBytes, HARD_MAX_MESSAGE_BYTES);
    this.negotiated = [...opts.compression];
    this.chunking = opts.chunking;
    this.maxStreams = opts.maxConcurrentStreams ?? MAX_CONCURRENT_REASSEMBLIES;
    this.maxTotal = opts.maxTotalBytes ?? MAX_REASSEMBLY_TOTAL_BYTES;
  }

  /** Streams with at least one chunk received and no `last` yet. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Chunk bytes held across open streams. */
  get bufferedBytes(): number {
    return this.total;
  }

  /**
   * Feed one Packet or PacketChunk. Returns the complete payload (decompressed) when a Packet
   * arrives or a stream's `last` chunk completes it, else null.
   * @throws ProtocolError (connection-fatal)
   */
  accept(frame: Extract<WireFrame, { type: 'packet' | 'packet_chunk' }>): { id: bigint; payload: Uint8Array } | null {
    if (frame.type === 'packet') return this.acceptPacket(frame.body);
    return this.acceptChunk(frame.body);
  }

  private checkId(id: bigint): void {
    // [ID-2] id 0 is reserved
    if (id === 0n) throw new ProtocolError(ErrorCodes.REQUEST_ID_ZERO, 'request_id=0 is reserved', { rule: 'ID-2' });
  }

  private acceptPacket(body: PacketBody): { id: bigint; payload: Uint8Array } {
    this.checkId(body.id);
    // [DATA-4]
    if (body.data.length > this.maxPacket) {
      throw new ProtocolError(ErrorCodes.PACKET_TOO_LARGE, `packet too large: ${body.data.length} > ${this.maxPacket}`, {
        rule: 'DATA-4',
        details: { lengthBytes: body.data.length, maxBytes: this.maxPacket },
      });
    }
    return { id: body.id, payload: this.unpack(body.compression, body.data) };
  }

  private acceptChunk(body: PacketChunkBody): { id: bigint; payload: Uint8Array } | null {
    this.checkId(body.id);
    // [CHK-2]
    if (!this.chunking) {
      throw new ProtocolError(ErrorCodes.CHUNKING_NOT_NEGOTIATED, 'received chunked packet but chunking not negotiated', { rule: 'CHK-2' });
    }
    let stream = this.streams.get(body.id);
    if (!stream) {
      // [CHK-3] a stream starts at seq 0
      if (body.seq !== 0) throw seqMismatch(0, body.seq);
      // [CHK-5]
      if (this.streams.size >= this.maxStreams) {
        throw new ProtocolError(ErrorCodes.TOO_MANY_CHUNK_STREAMS, 'too many in-flight chunked packets', {
          rule: 'CHK-5',
          details: { maxStreams: this.maxStreams },
        });
      }
      stream = { nextSeq: 0, compression: body.compression, arena: undefined, first: undefined, bytes: 0 };
      this.streams.set(body.id, stream);
    }
    if (body.seq !== stream.nextSeq) throw seqMismatch(stream.nextSeq, body.seq);
    // [CHK-4]
    if (body.compression !== stream.compression) {
      throw new ProtocolError(ErrorCodes.CHUNK_COMPRESSION_CHANGED, 'chunk compression changed mid-stream', { rule: 'CHK-4' });
    }
    const n = body.data.length;
    // [CHK-6]
    if (this.total + n > this.maxTotal) {
      throw new ProtocolError(ErrorCodes.REASSEMBLY_LIMIT_EXCEEDED, 'reassembly buffer limit exceeded', {
        rule: 'CHK-6',
        details: { maxBytes: this.maxTotal },
      });
    }
    // [CHK-7]
    if (stream.bytes + n > this.maxPacket) {
      throw new ProtocolError(ErrorCodes.PACKET_TOO_LARGE, `packet too large: ${stream.bytes + n} > ${this.maxPacket}`, {
        rule: 'CHK-7',
        details: { lengthBytes: stream.bytes + n, maxBytes: this.maxPacket },
      });
    }
    if (n > 0) {
      // Copy now (the frame buffer is released at once) into one buffer: no second copy at the end.
      if (stream.arena === undefined && stream.first === undefined && stream.bytes === 0) stream.first = body.data;
      else {
        if (stream.arena === undefined) {
          stream.arena = new Uint8Array(Buffer.allocUnsafeSlow(this.maxPacket).buffer, 0, this.maxPacket);
          if (stream.first) stream.arena.set(stream.first, 0);
          stream.first = undefined;
        }
        stream.arena.set(body.data, stream.bytes);
      }
    }
    stream.bytes += n;
    this.total += n;
    stream.nextSeq++;
    if (!body.last) return null;
    // [CHK-8] last=true completes the packet (even at seq 0)
    this.streams.delete(body.id);
    this.total -= stream.bytes;
    const data = stream.arena ? stream.arena.subarray(0, stream.bytes) : (stream.first ?? new Uint8Array(0));
    return { id: body.id, payload: this.unpack(stream.compression, data) };
  }

  private unpack(compression: CompressionAlgo, data: Uint8Array): Uint8Array {
    // [CMP-3] none is always accepted
    if (compression === 'none') return data;
    // [CMP-2] unknown, or a compression that was not negotiated
    if (compression === 'unknown' || !this.negotiated.includes(compression)) {
      throw new ProtocolError(ErrorCodes.COMPRESSION_UNSUPPORTED, `compression ${compression} was not negotiated`, {
        rule: 'CMP-2',
        details: { compression },
      });
    }
    // [CMP-4] output capped at max_packet_len
    return zstdDecompressBounded(data, this.maxPacket);
  }
}

function seqMismatch(expected: number, got: number): ProtocolError {
  return new ProtocolError(ErrorCodes.CHUNK_SEQ_MISMATCH, `chunk seq mismatch: expected ${expected}, got ${got}`, {
    rule: 'CHK-3',
    details: { expectedSeq: expected, gotSeq: got },
  });
}
