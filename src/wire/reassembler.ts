/**
 * The receiver side of the data plane: Packets and PacketChunks -> complete, decompressed
 * payloads, with the Rust receiver's checks and limits (nova-remote-rpc lib.rs reader loop).
 *
 * @module
 */
import { ErrorCodes, ProtocolError } from '../errors.js';
import { HARD_MAX_MESSAGE_BYTES, MAX_CONCURRENT_REASSEMBLIES, MAX_REASSEMBLY_TOTAL_BYTES, validateByteLimit } from '../limits.js';
import { zstdDecompressBounded } from './compression.js';
import type { PacketChunkHead } from './chunk-head.js';
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

/** A chunk admitted by {@link Reassembler.beginChunk} whose data is being copied in. */
interface Reservation {
  head: PacketChunkHead;
  /** The stream's buffer (taken for a new stream, which is only registered on commit). */
  arena: Uint8Array;
  /** Next byte to write, and the end of this chunk's region. */
  at: number;
  end: number;
}

/**
 * Stateful per-connection reassembly. Every throw is connection-fatal (the reference closes).
 *
 * Chunk `data` views are kept until their stream completes: the frames' buffers must not be
 * overwritten meanwhile (FrameDecoder output is safe).
 *
 * Two ways in: {@link accept} takes decoded frames; {@link beginChunk} / {@link chunkData} /
 * {@link endChunk} take a PacketChunk whose head is known while its data is still arriving, and
 * copy that data straight into the reassembly buffer (one copy from the socket chunks).
 *
 * Buffer reuse: a payload of several chunks is a view of a buffer of max_packet_len capacity.
 * A caller done with it may hand it back with {@link release}; the next stream then reuses it
 * instead of faulting in fresh pages (the dominant cost of a large transfer). One released
 * buffer is kept, so a connection that received a chunked payload holds up to that payload's
 * size resident until it is dropped.
 */
export class Reassembler {
  private readonly maxPacket: number;
  private readonly negotiated: readonly CompressionAlgo[];
  private readonly chunking: boolean;
  private readonly maxStreams: number;
  private readonly maxTotal: number;
  private readonly streams = new Map<bigint, Stream>();
  private total = 0;
  private reservation: Reservation | undefined;
  /** One buffer back from {@link release}, for the next stream. */
  private spare: Uint8Array | undefined;
  /** Buffers handed out inside a payload and not released yet (release accepts only these). */
  private readonly lent = new WeakSet<ArrayBuffer>();

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
   * Hand back a payload returned by this reassembler once nothing refers to its bytes any more
   * (for example after decoding it into strings): its buffer is reused for the next stream.
   * Payloads that are not reusable buffers (a Packet's data, a single chunk, decompressed output)
   * are ignored, as is a second release of the same payload.
   */
  release(payload: Uint8Array): void {
    const buffer = payload.buffer as ArrayBuffer;
    if (!this.lent.has(buffer)) return;
    this.lent.delete(buffer);
    this.spare ??= new Uint8Array(buffer, 0, this.maxPacket);
  }

  /**
   * The data received so far of open stream `id` (not decompressed), or undefined. A view: later
   * chunks extend it in the same buffer and never change these bytes, so a caller may decode a
   * growing prefix while the rest arrives. Valid until the stream completes.
   */
  peek(id: bigint): { compression: CompressionAlgo; data: Uint8Array } | undefined {
    const s = this.streams.get(id);
    if (s === undefined) return undefined;
    return { compression: s.compression, data: s.arena ? s.arena.subarray(0, s.bytes) : (s.first ?? new Uint8Array(0)) };
  }

  /** Drop the kept buffer (an idle connection need not hold it). */
  dropSpare(): void {
    this.spare = undefined;
  }

  /**
   * Admit a PacketChunk from its head alone (see decodePacketChunkHead): runs the checks
   * {@link accept} would run on that chunk, without throwing and without changing any state. Returns
   * false when accept would refuse it: the caller then decodes the whole frame and calls accept,
   * which throws the error at the usual point. On true, copy exactly `head.dataBytes` bytes in with
   * {@link chunkData}, then call {@link endChunk}, before any other call.
   */
  beginChunk(head: PacketChunkHead): boolean {
    this.abandonReservation();
    if (head.id === 0n || !this.chunking) return false;
    const stream = this.streams.get(head.id);
    if (stream === undefined) {
      if (head.seq !== 0 || this.streams.size >= this.maxStreams) return false;
    } else if (head.seq !== stream.nextSeq || head.compression !== stream.compression) return false;
    const n = head.dataBytes;
    const at = stream?.bytes ?? 0;
    if (this.total + n > this.maxTotal || at + n > this.maxPacket) return false;
    let arena = stream?.arena;
    if (arena === undefined) {
      arena = this.takeArena();
      if (stream) {
        // the first chunk was kept as a view; move it in now (accept would on this chunk too)
        if (stream.first) arena.set(stream.first, 0);
        stream.first = undefined;
        stream.arena = arena;
      }
    }
    this.reservation = { head, arena, at, end: at + n };
    return true;
  }

  /** Copy the next data bytes of the chunk admitted by {@link beginChunk}. */
  chunkData(bytes: Uint8Array): void {
    const r = this.reservation;
    // a caller bug, not peer input: the frame decoder bounds the pieces by the frame length
    if (r === undefined || r.at + bytes.length > r.end) throw new Error('Reassembler.chunkData: more bytes than the admitted chunk carries');
    r.arena.set(bytes, r.at);
    r.at += bytes.length;
  }

  /** All data of the admitted chunk is in: the same result as {@link accept} of that chunk. */
  endChunk(): { id: bigint; payload: Uint8Array } | null {
    const r = this.reservation;
    if (r === undefined || r.at !== r.end) throw new Error('Reassembler.endChunk: the admitted chunk is incomplete');
    this.reservation = undefined;
    const { head } = r;
    let stream = this.streams.get(head.id);
    if (stream === undefined) {
      stream = { nextSeq: 0, compression: head.compression, arena: r.arena, first: undefined, bytes: 0 };
      this.streams.set(head.id, stream);
    }
    stream.bytes += head.dataBytes;
    this.total += head.dataBytes;
    stream.nextSeq++;
    if (!head.last) return null;
    return this.finish(head.id, stream);
  }

  /**
   * Feed one Packet or PacketChunk. Returns the complete payload (decompressed) when a Packet
   * arrives or a stream's `last` chunk completes it, else null.
   * @throws ProtocolError (connection-fatal)
   */
  accept(frame: Extract<WireFrame, { type: 'packet' | 'packet_chunk' }>): { id: bigint; payload: Uint8Array } | null {
    this.abandonReservation();
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
          stream.arena = this.takeArena();
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
    return this.finish(body.id, stream);
  }

  private finish(id: bigint, stream: Stream): { id: bigint; payload: Uint8Array } {
    // [CHK-8] last=true completes the packet (even at seq 0)
    this.streams.delete(id);
    this.total -= stream.bytes;
    const { arena } = stream;
    const data = arena ? arena.subarray(0, stream.bytes) : (stream.first ?? new Uint8Array(0));
    const payload = this.unpack(stream.compression, data);
    if (arena) {
      if (payload.buffer === arena.buffer) this.lent.add(arena.buffer as ArrayBuffer);
      else this.spare ??= arena; // decompressed into a fresh buffer: the arena is free at once
    }
    return { id, payload };
  }

  /** A buffer of maxPacket capacity: the kept one, or a fresh one without zero-fill (pages become resident as written). */
  private takeArena(): Uint8Array {
    const spare = this.spare;
    if (spare) {
      this.spare = undefined;
      return spare;
    }
    return new Uint8Array(Buffer.allocUnsafeSlow(this.maxPacket).buffer, 0, this.maxPacket);
  }

  /** A reservation never completed (its frame was abandoned): keep a new stream's buffer for reuse. */
  private abandonReservation(): void {
    const r = this.reservation;
    if (r === undefined) return;
    this.reservation = undefined;
    if (!this.streams.has(r.head.id)) this.spare ??= r.arena;
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
