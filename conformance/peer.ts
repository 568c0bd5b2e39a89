/**
 * The scripted peer: a raw socket plus the codec, so a case can send anything and read what
 * the target sends with a deadline on every read.
 *
 * Incoming bytes are split into frames with our own length check (never trusting the
 * target: the limit in force is enforced here and a violation is recorded), decoded with the
 * strict codec, and recorded in the transcript. Packets are reassembled and decompressed with
 * bounded output. Everything the target does wrong on the way in (oversized frames,
 * unnegotiated compression, wrong request-id parity …) is recorded as a violation; the runner
 * fails the case if any were seen.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import { decodeRpcPayload, decodeWireFrame, zstdDecompressBounded } from '../src/wire/index.js';
import type { CompressionAlgo, RpcPayload, WireFrame } from '../src/wire/model.js';
import { HARD_MAX_MESSAGE_BYTES, PRE_HANDSHAKE_MAX_FRAME_BYTES } from '../src/limits.js';
import { cbor, concatBytes, framed, type CValue } from './cbor.js';
import { chunkFrame, encodePayload, packetFrame } from './messages.js';
import { describeValue, type Transcript } from './transcript.js';

/** What both sides agreed in the handshake. */
export interface Session {
  maxFrameBytes: number;
  maxPacketBytes: number;
  compression: string[];
  cancel: boolean;
  chunking: boolean;
}

export interface Violation {
  requirement: string;
  message: string;
}

/** Anything the crafting writer can encode, including model objects. */
export type Sendable = CValue | object;

export type Incoming =
  | { kind: 'frame'; frame: WireFrame; body: Uint8Array; atMs: number }
  /** A frame that is not a valid message (decode error) or a framing error. */
  | { kind: 'invalid'; reason: string; body?: Uint8Array; atMs: number }
  | { kind: 'closed'; reason: string; atMs: number }
  | { kind: 'timeout' };

export type Message =
  | Incoming
  | { kind: 'payload'; id: bigint; payload: RpcPayload; compression: string; chunks: number; atMs: number };

export interface PeerOptions {
  /** Connection number within the case, for the transcript. */
  conn: number;
  transcript: Transcript;
  /** The role the HARNESS plays on this connection. */
  plays: 'worker' | 'router';
  /** Time-scale factor applied to every nominal timeout. */
  scale: number;
  onViolation(v: Violation): void;
  signal?: AbortSignal;
}

type Waiter = { resolve: (m: Incoming) => void; timer: NodeJS.Timeout | undefined };

interface Reassembly {
  nextSeq: number;
  compression: string;
  parts: Uint8Array[];
  bytes: number;
}

export class ScriptedPeer {
  readonly conn: number;
  readonly plays: 'worker' | 'router';
  /** Null until the handshake completed (pre-handshake limits apply). */
  session: Session | null = null;
  private readonly queue: Incoming[] = [];
  private waiter: Waiter | undefined;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private skipBytes = 0;
  private closedReason: string | undefined;
  private dead = false;
  private nextOwnId: bigint;
  private readonly reassembly = new Map<bigint, Reassembly>();
  /** Incoming requests seen (id → type), for parity/duplicate bookkeeping and for answering. */
  readonly incomingRequests: { id: bigint; type: string }[] = [];
  /** Payloads read past while waiting for something else (e.g. notifications). */
  readonly backlog: Extract<Message, { kind: 'payload' }>[] = [];
  readonly startedAt = performance.now();
  /** Ids of requests we sent that have not been answered yet. */
  readonly outstanding = new Set<bigint>();
  /** Responses for ids we had no outstanding request for (double answers, unknown ids). */
  readonly strayResponses: bigint[] = [];
  private readonly openIncoming = new Set<bigint>();
  private handshakeFrames = 0;
  /** Raw (decompressed) payload bytes of the latest packet per id, for encoding checks. */
  readonly lastPayloadBytes = new Map<bigint, Uint8Array>();
  /** When true, frames that do not decode are reported but not counted as violations (legacy probes). */
  tolerateInvalidFrames = false;

  constructor(
    readonly socket: Duplex,
    private readonly opts: PeerOptions,
  ) {
    this.conn = opts.conn;
    this.plays = opts.plays;
    this.nextOwnId = opts.plays === 'router' ? 2n : 1n;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onClosed('end of stream'));
    socket.on('close', () => this.onClosed('connection closed'));
    socket.on('error', (err: NodeJS.ErrnoException) => this.onClosed(`socket error ${err.code ?? 'unknown'}`));
    // The case's signal outlives this connection: drop the listener once the socket is gone.
    const onAbort = (): void => this.destroy();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
  }

  private get t(): Transcript {
    return this.opts.transcript;
  }

  /** Nominal ms → real ms. */
  scaled(ms: number): number {
    return Math.max(1, Math.round(ms * this.opts.scale));
  }

  get isClosed(): boolean {
    return this.closedReason !== undefined;
  }

  /** The limit the target must respect when writing to us right now. */
  get inboundLimitBytes(): number {
    return this.session ? this.session.maxFrameBytes : PRE_HANDSHAKE_MAX_FRAME_BYTES;
  }

  /** Allocate a request id with the parity of the role we play [ID-1]. */
  nextId(): bigint {
    const id = this.nextOwnId;
    this.nextOwnId += 2n;
    return id;
  }

  violation(requirement: string, message: string): void {
    this.t.note(this.conn, `VIOLATION [${requirement}] ${message}`);
    this.opts.onViolation({ requirement, message });
  }

  // ---------------------------------------------------------------- writing

  /** Write raw bytes (anything: partial prefixes, garbage). Errors after close are recorded, not thrown. */
  async writeRaw(bytes: Uint8Array, text: string): Promise<void> {
    this.t.frame('out', this.conn, bytes, text);
    if (this.dead || this.socket.destroyed || this.socket.writableEnded) {
      this.t.note(this.conn, 'write skipped: connection already closed');
      return;
    }
    await new Promise<void>((resolve) => {
      try {
        this.socket.write(bytes, (err) => {
          if (err) this.t.note(this.conn, `write failed (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
          resolve();
        });
      } catch {
        resolve();
      }
    });
  }

  /** Send one frame: a crafted value (encoded with the crafting writer) or pre-encoded body bytes. */
  async send(value: Sendable | Uint8Array, text?: string): Promise<void> {
    const body = value instanceof Uint8Array ? value : cbor(value as CValue);
    await this.writeRaw(framed(body), text ?? describeValue(value instanceof Uint8Array ? `<${body.length} bytes>` : value));
  }

  /** Send several frames in ONE write (so the target sees them back to back). */
  async sendBatch(values: readonly (Sendable | Uint8Array)[], text: string): Promise<void> {
    const bodies = values.map((v) => (v instanceof Uint8Array ? v : cbor(v as CValue)));
    await this.writeRaw(concatBytes(bodies.map(framed)), text);
  }

  /** The frames that carry a payload: one Packet, or chunks of `chunkDataBytes` each. */
  packetFrames(
    id: bigint,
    payload: Sendable,
    opts: { compression?: string; data?: Uint8Array; chunkDataBytes?: number } = {},
  ): Uint8Array[] {
    const data = opts.data ?? encodePayload(payload as CValue);
    const compression = opts.compression ?? 'none';
    let chunkBytes = opts.chunkDataBytes;
    if (chunkBytes === undefined) {
      const single = cbor(packetFrame(id, data, compression));
      // Like a correct sender [CHK-1]: chunk only what does not fit the negotiated frame limit.
      if (!this.session || !this.session.chunking || single.length <= this.session.maxFrameBytes) return [single];
      chunkBytes = Math.max(1, this.session.maxFrameBytes - 256);
    }
    const out: Uint8Array[] = [];
    const step = Math.max(1, chunkBytes);
    let seq = 0;
    for (let off = 0; off < data.length || seq === 0; off += step) {
      const end = Math.min(data.length, off + step);
      out.push(cbor(chunkFrame(id, seq, end >= data.length, data.subarray(off, end), compression)));
      seq++;
    }
    return out;
  }

  /** Send a payload as a Packet (or chunks). Returns the id. */
  async sendPayload(
    id: bigint,
    payload: Sendable,
    opts: { compression?: string; data?: Uint8Array; chunkDataBytes?: number } = {},
  ): Promise<bigint> {
    const frames = this.packetFrames(id, payload, opts);
    const label = `${frames.length > 1 ? `${frames.length} chunks` : 'packet'} id=${id}${opts.compression && opts.compression !== 'none' ? ` (${opts.compression})` : ''}: ${describeValue(opts.data ? `<${opts.data.length} crafted bytes>` : payload)}`;
    await this.writeRaw(concatBytes(frames.map(framed)), label);
    return id;
  }

  /** Send a request with a fresh id of our parity. */
  async request(request: Sendable, opts: { compression?: string; data?: Uint8Array; chunkDataBytes?: number } = {}): Promise<bigint> {
    const id = this.nextId();
    this.outstanding.add(id);
    return this.sendPayload(id, { type: 'request', body: request } as CValue, opts);
  }

  /** Answer a request the target sent us. */
  async respond(id: bigint, result: Sendable): Promise<void> {
    this.openIncoming.delete(id);
    await this.sendPayload(id, { type: 'response', body: result } as CValue);
  }

  // ---------------------------------------------------------------- reading

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    // A plain Uint8Array view: Buffer#slice shares memory, Uint8Array#slice copies.
    let data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.skipBytes > 0) {
      // Discarding the body of an oversized frame: never buffer what the limit forbids.
      const n = Math.min(this.skipBytes, data.length);
      this.skipBytes -= n;
      data = data.subarray(n);
      if (data.length === 0) return;
    }
    this.chunks.push(data);
    this.buffered += data.length;
    for (;;) {
      if (this.buffered < 4) return;
      const head = this.peek(4);
      const len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
      const limit = this.inboundLimitBytes;
      if (len === 0) {
        this.t.frame('in', this.conn, this.take(4), 'zero-length frame');
        this.violation('FRM-2', 'target sent a zero-length frame');
        this.enqueue({ kind: 'invalid', reason: 'zero-length frame', atMs: this.t.now() });
        continue;
      }
      if (len > limit) {
        // [FRM-4]/[FRM-5] the target must never write a frame larger than the limit in force.
        this.violation(this.session ? 'FRM-5' : 'FRM-4', `target sent a frame of ${len} bytes; the limit in force is ${limit}`);
        const prefix = this.take(4);
        this.t.frame('in', this.conn, prefix, `length prefix ${len} over the limit ${limit}: body discarded`);
        const drop = Math.min(len, this.buffered);
        if (drop > 0) this.take(drop);
        this.skipBytes = len - drop;
        this.enqueue({ kind: 'invalid', reason: `frame of ${len} bytes over the limit ${limit}`, atMs: this.t.now() });
        if (this.skipBytes > 0) return;
        continue;
      }
      if (this.buffered < 4 + len) return;
      const wire = this.take(4 + len);
      this.onFrame(wire, Uint8Array.prototype.slice.call(wire, 4));
    }
  }

  /** The first `n` buffered bytes (copied only when they span chunks). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return concatBytes(this.chunks).subarray(0, n);
  }

  /** Remove and return the first `n` buffered bytes. */
  private take(n: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n;
    return parts.length === 1 ? parts[0]! : concatBytes(parts);
  }

  private onFrame(wire: Uint8Array, body: Uint8Array): void {
    const atMs = this.t.now();
    let frame: WireFrame;
    try {
      frame = decodeWireFrame(body);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'decode error';
      this.t.frame('in', this.conn, wire, `undecodable frame (${code})`);
      // [FRM-1] every frame carries exactly one valid message.
      if (!this.tolerateInvalidFrames) this.violation('FRM-1', `target sent a frame that does not decode (${code})`);
      this.enqueue({ kind: 'invalid', reason: `frame does not decode (${code})`, body, atMs });
      return;
    }
    this.t.frame('in', this.conn, wire, describeValue(frame));
    // [FWD-6] a peer never sends a variant this version does not define.
    if (frame.type === 'unknown') this.violation('FWD-6', 'target sent a WireFrame variant that version 3.0 does not define');
    if (frame.type === 'hello' || frame.type === 'welcome' || frame.type === 'reject') {
      // [HS-7] exactly one handshake frame per direction; any later one is a protocol violation.
      this.handshakeFrames++;
      if (this.session && (this.handshakeFrames > 1 || this.plays === 'router')) this.violation('HS-7', `target sent a ${frame.type} frame after the handshake`);
      // Apply the Welcome at once: frames right behind it in the same read are already post-handshake [FRM-5].
      if (frame.type === 'welcome' && this.plays === 'worker' && !this.session) this.session = sessionOf(frame.body.chosen_capabilities);
    }
    this.enqueue({ kind: 'frame', frame, body, atMs });
  }

  private enqueue(m: Incoming): void {
    const w = this.waiter;
    if (w && this.queue.length === 0) {
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.resolve(m);
      return;
    }
    this.queue.push(m);
  }

  private onClosed(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    if (this.buffered > 0 && !this.dead) {
      this.t.note(this.conn, `stream ended inside a frame (${this.buffered} bytes pending)`);
    }
    this.t.note(this.conn, `target closed: ${reason}`);
    this.enqueue({ kind: 'closed', reason, atMs: this.t.now() });
  }

  /** Next raw frame / close / invalid frame, or timeout after `nominalMs` (scaled). */
  next(nominalMs: number): Promise<Incoming> {
    const queued = this.queue.shift();
    if (queued) {
      // A close stays observable for every later read.
      if (queued.kind === 'closed') this.queue.unshift(queued);
      return Promise.resolve(queued);
    }
    if (this.closedReason !== undefined) return Promise.resolve({ kind: 'closed', reason: this.closedReason, atMs: this.t.now() });
    // Past a caller's deadline: only what is already queued, no waiting.
    if (nominalMs <= 0) return Promise.resolve({ kind: 'timeout' });
    return new Promise<Incoming>((resolve) => {
      const onDeadline = (): void => {
        // Replaced by a concurrent read: this one just times out.
        if (this.waiter !== waiter) return void resolve({ kind: 'timeout' });
        // Timers run before pending I/O: after the event loop was blocked (a loaded machine), the
        // deadline can fire while what the target sent in time is still unread. Let this loop
        // iteration's I/O be read first (one iteration: the window does not grow by a stall).
        setImmediate(() => {
          if (this.waiter !== waiter) return;
          this.waiter = undefined;
          resolve({ kind: 'timeout' });
        });
      };
      const wrapped = (m: Incoming): void => {
        if (m.kind === 'closed') this.queue.unshift(m);
        resolve(m);
      };
      const waiter: Waiter = { resolve: wrapped, timer: setTimeout(onDeadline, this.scaled(nominalMs)) };
      this.waiter = waiter;
    });
  }

  /** Something can be read without waiting (a queued message, or the close). */
  private get readable(): boolean {
    return this.queue.length > 0 || this.closedReason !== undefined;
  }

  /**
   * Next message at the packet level: packets (and completed chunk streams) come back as decoded
   * payloads; other frames, invalid frames, closes and timeouts as they are. The deadline covers
   * the whole wait, not each frame.
   */
  async nextMessage(nominalMs: number): Promise<Message> {
    const deadline = performance.now() + (nominalMs > 0 ? this.scaled(nominalMs) : 0);
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0 && !this.readable) return { kind: 'timeout' };
      const m = await this.next(Math.max(0, left) / this.opts.scale);
      if (m.kind !== 'frame') return m;
      const f = m.frame;
      if (f.type === 'packet') {
        const out = this.acceptData(f.body.id, f.body.compression, f.body.data, 1, m.atMs);
        if (out) return out;
        continue;
      }
      if (f.type === 'packet_chunk') {
        const out = this.acceptChunk(f.body, m.atMs);
        if (out) return out;
        continue;
      }
      return m;
    }
  }

  private acceptChunk(c: { id: bigint; compression: CompressionAlgo; seq: number; last: boolean; data: Uint8Array }, atMs: number): Message | null {
    if (this.session && !this.session.chunking) this.violation('CHK-2', `target sent a PacketChunk (id ${c.id}) although chunking was not negotiated`);
    if (c.id === 0n) this.violation('ID-2', 'target sent a PacketChunk with id 0');
    let r = this.reassembly.get(c.id);
    if (!r) {
      r = { nextSeq: 0, compression: c.compression, parts: [], bytes: 0 };
      this.reassembly.set(c.id, r);
    }
    if (c.seq !== r.nextSeq) this.violation('CHK-3', `chunk seq for id ${c.id}: expected ${r.nextSeq}, got ${c.seq}`);
    if (c.compression !== r.compression) this.violation('CHK-4', `chunk compression changed mid-stream for id ${c.id}`);
    r.nextSeq = c.seq + 1;
    r.parts.push(c.data);
    r.bytes += c.data.length;
    if (!c.last) return null;
    this.reassembly.delete(c.id);
    return this.acceptData(c.id, r.compression, concatBytes(r.parts), r.parts.length, atMs);
  }

  private acceptData(id: bigint, compression: string, data: Uint8Array, chunks: number, atMs: number): Message | null {
    if (id === 0n) this.violation('ID-2', 'target sent a packet with id 0');
    const s = this.session;
    const maxPacket = s ? s.maxPacketBytes : HARD_MAX_MESSAGE_BYTES;
    if (data.length > maxPacket) this.violation('DATA-4', `target sent packet data of ${data.length} bytes; max_packet_len is ${maxPacket}`);
    if (compression !== 'none' && !(s?.compression.includes(compression) ?? false)) {
      this.violation('CMP-1', `target used compression "${compression}" which was not negotiated`);
    }
    let raw = data;
    if (compression === 'zstd') {
      try {
        raw = zstdDecompressBounded(data, maxPacket);
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        this.violation('CMP-6', `target sent zstd data that does not decompress within max_packet_len (${code})`);
        return { kind: 'invalid', reason: `undecompressable packet id ${id} (${code})`, atMs };
      }
    } else if (compression !== 'none') {
      return { kind: 'invalid', reason: `packet id ${id} uses unknown compression`, atMs };
    }
    let payload: RpcPayload;
    try {
      payload = decodeRpcPayload(raw);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      this.t.note(this.conn, `payload of id ${id} does not decode (${code})`);
      return { kind: 'invalid', reason: `payload of packet id ${id} does not decode (${code})`, body: raw, atMs };
    }
    if (this.lastPayloadBytes.size > 64) this.lastPayloadBytes.clear();
    this.lastPayloadBytes.set(id, raw);
    this.t.note(this.conn, `  payload id=${id}${chunks > 1 ? ` (${chunks} chunks)` : ''}${compression !== 'none' ? ` [${compression}]` : ''}: ${describeValue(payload)}`);
    if (payload.type === 'request') {
      // [ID-1] the target allocates ids of its own parity: router even, worker odd.
      const want = this.plays === 'worker' ? 0n : 1n;
      if (id % 2n !== want) this.violation('ID-1', `target sent a Request with id ${id}; its ids must be ${want === 0n ? 'even' : 'odd'}`);
      // [ID-4] the target must not reuse an id that is still in flight (we have not answered it).
      if (this.openIncoming.has(id)) this.violation('ID-4', `target sent a second Request with id ${id} while the first is still in flight`);
      this.openIncoming.add(id);
      this.incomingRequests.push({ id, type: payload.body.type });
    }
    if (payload.type === 'unknown' || (payload.type === 'request' && payload.body.type === 'unknown') || (payload.type === 'notification' && payload.body.type === 'unknown')) {
      this.violation('FWD-6', `target sent a payload variant that version 3.0 does not define (id ${id})`);
    }
    if (payload.type === 'cancel') {
      // [CAN-6] only when negotiated; [CAN-7] only for a request the target itself sent us.
      if (this.session && !this.session.cancel) this.violation('CAN-6', `target sent a Cancel (id ${id}) although cancel was not negotiated`);
      if (!this.incomingRequests.some((r) => r.id === id)) this.violation('CAN-7', `target sent a Cancel for id ${id}, which is not a request it issued`);
    }
    if (payload.type === 'response') {
      if (this.outstanding.has(id)) this.outstanding.delete(id);
      else this.strayResponses.push(id);
    }
    if (payload.type === 'notification') {
      const want = this.plays === 'worker' ? 0n : 1n;
      if (id % 2n !== want) this.violation('ID-6', `target sent a notification with id ${id}; notifications use the request counter (${want === 0n ? 'even' : 'odd'})`);
    }
    return { kind: 'payload', id, payload, compression, chunks, atMs };
  }

  /** Read until the response for `id` arrives; other payloads go to `backlog`. */
  async awaitResponse(id: bigint, nominalMs: number): Promise<Message> {
    const idx = this.backlog.findIndex((p) => p.id === id && p.payload.type === 'response');
    if (idx >= 0) return this.backlog.splice(idx, 1)[0]!;
    const deadline = performance.now() + this.scaled(nominalMs);
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0 && !this.readable) return { kind: 'timeout' };
      const m = await this.nextMessage(Math.max(0, left) / this.opts.scale);
      if (m.kind === 'payload') {
        if (m.id === id && m.payload.type === 'response') return m;
        this.backlog.push(m);
        continue;
      }
      if (m.kind === 'frame') continue; // unknown frames etc.: recorded in the transcript, not our answer
      return m;
    }
  }

  /**
   * Wait for the target to close. Frames arriving meanwhile are recorded and returned.
   * Returns `closed: false` if the connection is still open at the deadline.
   */
  async awaitClose(nominalMs: number): Promise<{ closed: boolean; afterMs: number; received: Message[] }> {
    const start = performance.now();
    const deadline = start + this.scaled(nominalMs);
    const received: Message[] = [];
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0 && !this.readable) return { closed: false, afterMs: performance.now() - start, received };
      const m = await this.nextMessage(Math.max(0, left) / this.opts.scale);
      if (m.kind === 'closed') return { closed: true, afterMs: performance.now() - start, received };
      if (m.kind === 'timeout') return { closed: false, afterMs: performance.now() - start, received };
      received.push(m);
      if (m.kind === 'invalid' && this.dead) return { closed: false, afterMs: performance.now() - start, received };
    }
  }

  /** Collect whatever arrives within `nominalMs` (stops early on close). */
  async drain(nominalMs: number): Promise<Message[]> {
    const out: Message[] = [];
    const deadline = performance.now() + this.scaled(nominalMs);
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0 && !this.readable) return out;
      const m = await this.nextMessage(Math.max(0, left) / this.opts.scale);
      if (m.kind === 'timeout') return out;
      out.push(m);
      if (m.kind === 'closed') return out;
    }
  }

  /** Close our side gracefully (FIN), then destroy after a grace period. */
  async end(): Promise<void> {
    if (this.socket.destroyed) return;
    this.socket.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 200);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  destroy(): void {
    this.dead = true;
    if (!this.socket.destroyed) this.socket.destroy();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.resolve({ kind: 'closed', reason: 'aborted by the harness', atMs: this.t.now() });
    }
  }
}

/** The session a Welcome's chosen capabilities establish. */
export function sessionOf(c: { max_frame_len: number; max_packet_len: number; supported_compression: readonly string[]; supports_cancel: boolean; supports_chunking: boolean }): Session {
  return { maxFrameBytes: c.max_frame_len, maxPacketBytes: c.max_packet_len, compression: [...c.supported_compression], cancel: c.supports_cancel, chunking: c.supports_chunking };
}

/** Short text for an incoming message, for "actual" fields. */
export function describeMessage(m: Message): string {
  switch (m.kind) {
    case 'frame':
      return `${m.frame.type} frame ${describeValue(m.frame, 300)}`;
    case 'payload':
      return `packet id=${m.id} ${describeValue(m.payload, 300)}`;
    case 'invalid':
      return `an invalid frame (${m.reason})`;
    case 'closed':
      return `the connection closed (${m.reason})`;
    case 'timeout':
      return 'nothing (timed out)';
  }
}
