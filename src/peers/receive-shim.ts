/**
 * A frame-level filter between the socket and the engine, for the receiver faults the engine's
 * fault hooks cannot express. It parses the incoming byte stream itself (with the framing faults
 * of faults-receive.ts, or correctly), hands each frame body to the active receive behaviours
 * (faults-receive.ts), and forwards what they return to the engine as canonical frames, drops
 * frames, or closes the connection. Outgoing frames are parsed too (to learn the negotiated
 * capabilities from the router's Welcome, and for behaviours that track what the peer sent).
 *
 * Built in (older) behaviours, kept here:
 * - `*-accepts-id-zero`: id 0 packets get an alias id with the right parity; outgoing frames with
 *   the alias go back out as id 0 (via the engine's `mutateOutgoingFrame` hook).
 * - `*-accepts-unnegotiated-chunks`: PacketChunks are reassembled here (no negotiation check) and
 *   handed on as one Packet.
 * - `*-accepts-zstd-bomb`: zstd packets are decompressed here with only the 64 MiB hard cap; the
 *   result goes on as an uncompressed Packet when it fits max_packet_len, and is dropped silently
 *   otherwise (no close).
 *
 * A frame whose length prefix exceeds the current limit switches the shim to pass-through, so
 * the engine sees the prefix and refuses it exactly as without the shim.
 *
 * @module
 */
import { Duplex } from 'node:stream';
import type { FaultHooks } from '../engine/connection.js';
import { HARD_MAX_MESSAGE_BYTES, PRE_HANDSHAKE_MAX_FRAME_BYTES } from '../limits.js';
import { FrameDecoder, decodeWireFrame, encodeWireFrame, zstdDecompressBounded } from '../wire/index.js';
import type { Capabilities, CompressionAlgo, WireFrame } from '../wire/model.js';
import { prefixFrame } from './common.js';
import { activeReceiveFaults, type ParserFault, type ReceiveBehaviour, type ShimContext, type Verdict } from './faults-receive.js';
import type { PeerLogger } from './log.js';

type Role = 'router' | 'worker';

export const SHIM_FAULT_SUFFIXES = ['accepts-id-zero', 'accepts-unnegotiated-chunks', 'accepts-zstd-bomb'] as const;

export function needsShim(faults: ReadonlySet<string>, role: Role): boolean {
  return SHIM_FAULT_SUFFIXES.some((s) => faults.has(`${role}-${s}`)) || activeReceiveFaults(faults, role).length > 0;
}

/** The alias used for incoming id 0: the parity the receiving role accepts for requests, at the top of u64. */
function aliasFor(role: Role): bigint {
  return role === 'router' ? (1n << 64n) - 1n : (1n << 64n) - 2n;
}

const LENGTH_PREFIX_BYTES = 4;
/** processes-truncated-frame: how long the engine's stream stays open after the first answer goes out. */
const FLUSH_ANSWER_GRACE_MS = 200;
/** processes-truncated-frame: the longest wait for an answer to the flushed frame (the router answers after 500 ms). */
const FLUSH_ANSWER_WAIT_MS = 2_000;

/** The per-connection receive pipeline (parser + behaviours). */
class ShimCore {
  caps: Capabilities | null = null;
  firstDone = false;
  passthrough = false;
  pending: Buffer = Buffer.alloc(0);
  /** Reads held back until the frame they complete is whole: joined once, not on every read (a 64 MiB frame arrives in ~1,000 reads). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Bytes `pending` must reach before the next frame is complete; 0 when unknown. */
  private neededBytes = 0;
  closed = false;
  /** processes-truncated-frame: set once the flushed frame went to the engine; ends its stream after the answer. */
  awaitingAnswer: (() => void) | null = null;
  constructor(
    readonly role: Role,
    readonly parser: ParserFault,
    readonly behaviours: ReceiveBehaviour[],
    readonly emit: (bytes: Uint8Array) => void,
    readonly closeSocket: () => void,
    readonly log: PeerLogger,
    /** End of stream for the engine. */
    readonly endEngine: () => void,
  ) {}

  /** stays-open-after-truncated-frame: keeps the (otherwise idle) process alive while the connection is half-open. */
  keepAlive: NodeJS.Timeout | undefined;

  /** The socket is gone. */
  dispose(): void {
    clearInterval(this.keepAlive);
  }

  /** The peer ended its side of the stream. */
  onEnd(): void {
    this.joinHeld();
    const partial = !this.closed && !this.passthrough && this.pending.length > 0;
    if (partial && this.parser.stayOpenOnTruncatedEnd) {
      // [FRM-8] violated on purpose: the partial frame is dropped, the connection is not closed.
      this.log.log('fault_injected', { fault: 'stays-open-after-truncated-frame', bufferedBytes: this.pending.length });
      this.pending = Buffer.alloc(0);
      // A socket that no longer reads does not keep node's event loop alive: a peer process would exit.
      this.keepAlive = setInterval(() => undefined, 60_000);
      return;
    }
    if (partial && this.parser.flushOnEnd && this.pending.length > LENGTH_PREFIX_BYTES) {
      // [FRM-8] violated on purpose: the bytes of the cut-off frame are processed as if complete.
      const body = new Uint8Array(this.pending.subarray(LENGTH_PREFIX_BYTES));
      this.pending = Buffer.alloc(0);
      this.log.log('fault_injected', { fault: 'processes-truncated-frame', bodyBytes: body.length });
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearTimeout(fallback);
        this.awaitingAnswer = null;
        this.endEngine();
      };
      const fallback = setTimeout(end, FLUSH_ANSWER_WAIT_MS);
      this.awaitingAnswer = () => setTimeout(end, FLUSH_ANSWER_GRACE_MS);
      this.frame(body);
      return;
    }
    this.endEngine();
  }

  /** An outgoing frame went by (the engine answers). */
  onOutgoing(): void {
    this.awaitingAnswer?.();
  }

  close(): void {
    this.closed = true;
    this.pending = Buffer.alloc(0);
    this.held = [];
    this.heldBytes = 0;
    this.closeSocket();
  }

  limit(): number {
    if (!this.firstDone) return this.parser.oversizeFirstFrame ? HARD_MAX_MESSAGE_BYTES : PRE_HANDSHAKE_MAX_FRAME_BYTES;
    return this.caps?.max_frame_len ?? HARD_MAX_MESSAGE_BYTES;
  }

  onData(chunk: Uint8Array): void {
    if (this.closed) return;
    if (this.passthrough) return this.emit(chunk);
    if (this.parser.oneFramePerRead) return this.oneFrame(chunk);
    if (this.neededBytes > 0 && this.pending.length + this.heldBytes + chunk.length < this.neededBytes) {
      this.held.push(Buffer.from(chunk));
      this.heldBytes += chunk.length;
      return;
    }
    this.held.push(Buffer.from(chunk));
    this.heldBytes += chunk.length;
    this.joinHeld();
    this.neededBytes = 0;
    while (!this.passthrough && !this.closed && this.pending.length >= LENGTH_PREFIX_BYTES) {
      const len = this.pending.readUInt32LE(0);
      const limit = this.limit();
      if (this.parser.limitOffByOne && len !== 0 && len >= limit) {
        this.log.log('fault_injected', { fault: 'frame-limit-off-by-one', lengthBytes: len, limitBytes: limit });
        return this.close();
      }
      const overHardCap = len > HARD_MAX_MESSAGE_BYTES;
      if (len > limit && !(overHardCap && this.parser.noHardCap)) {
        // Not ours to judge: the engine sees the prefix and refuses it.
        this.passthrough = true;
        const rest = this.pending;
        this.pending = Buffer.alloc(0);
        return this.emit(rest);
      }
      if (len === 0) {
        if (this.parser.skipZeroLength) {
          this.log.log('fault_injected', { fault: 'accepts-zero-length-frame' });
          this.pending = this.pending.subarray(LENGTH_PREFIX_BYTES);
          continue;
        }
        this.passthrough = true;
        const rest = this.pending;
        this.pending = Buffer.alloc(0);
        return this.emit(rest);
      }
      if (this.pending.length < LENGTH_PREFIX_BYTES + len) {
        this.neededBytes = LENGTH_PREFIX_BYTES + len;
        return;
      }
      const body = new Uint8Array(this.pending.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + len));
      this.pending = this.pending.subarray(LENGTH_PREFIX_BYTES + len);
      if (overHardCap) {
        this.log.log('fault_injected', { fault: 'no-hard-cap', lengthBytes: len, dropped: true });
        continue;
      }
      this.frame(body);
    }
  }

  /** Moves the held reads into `pending` (one copy). */
  private joinHeld(): void {
    if (this.heldBytes === 0 && this.held.length === 0) return;
    this.pending = this.pending.length === 0 && this.held.length === 1 ? this.held[0]! : Buffer.concat([this.pending, ...this.held]);
    this.held = [];
    this.heldBytes = 0;
  }

  /** [FRM-1] broken on purpose: each read is taken as exactly one frame. */
  oneFrame(chunk: Uint8Array): void {
    const len = chunk.length >= LENGTH_PREFIX_BYTES ? Buffer.from(chunk).readUInt32LE(0) : -1;
    if (len < 0 || chunk.length < LENGTH_PREFIX_BYTES + len || len > this.limit() || len === 0) {
      if (len > this.limit() || len === 0) {
        this.passthrough = true;
        return this.emit(chunk);
      }
      this.log.log('fault_injected', { fault: 'one-frame-per-read', droppedBytes: chunk.length });
      return;
    }
    if (chunk.length > LENGTH_PREFIX_BYTES + len) this.log.log('fault_injected', { fault: 'one-frame-per-read', droppedBytes: chunk.length - LENGTH_PREFIX_BYTES - len });
    this.frame(new Uint8Array(chunk.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + len)));
  }

  frame(body: Uint8Array): void {
    const first = !this.firstDone;
    let out: Verdict = [body];
    for (const b of this.behaviours) {
      const v = b.onFrame?.(body, first);
      if (v !== undefined) {
        out = v;
        break;
      }
    }
    this.firstDone = true;
    if (out === 'close') return this.close();
    for (const o of out) {
      if (this.closed) return;
      if (first && this.role === 'worker') this.learn(o);
      this.emit(prefixFrame(o));
    }
  }

  /** The Welcome fixes the capabilities (incoming for workers, outgoing for routers). */
  learn(body: Uint8Array): void {
    try {
      const f = decodeWireFrame(body);
      if (f.type === 'welcome') this.caps = f.body.chosen_capabilities;
    } catch {
      // not a Welcome: the engine will say what it is
    }
  }
}

class FilterDuplex extends Duplex {
  readonly #inner: Duplex;
  readonly #outgoing: FrameDecoder | null;
  readonly #onOutgoing: (frame: WireFrame) => void;
  constructor(
    inner: Duplex,
    onData: (self: FilterDuplex, chunk: Uint8Array) => void,
    onOutgoing: (frame: WireFrame) => void,
    onEnd: (self: FilterDuplex) => void = (self) => self.push(null),
  ) {
    super({ allowHalfOpen: false });
    this.#inner = inner;
    this.#outgoing = new FrameDecoder({ maxFrameBytes: HARD_MAX_MESSAGE_BYTES });
    this.#onOutgoing = onOutgoing;
    inner.on('data', (chunk: Uint8Array) => {
      try {
        onData(this, chunk);
      } catch (e) {
        this.destroy(e as Error);
      }
    });
    inner.on('end', () => onEnd(this));
    inner.on('error', (e) => this.destroy(e));
    inner.on('close', () => this.destroy());
  }
  /** Close the socket as a peer close would be seen: end of stream, then close. */
  closeInner(): void {
    this.push(null);
    this.#inner.destroy();
  }
  /** Write straight to the socket (frames the fault itself sends). */
  writeInner(bytes: Uint8Array): void {
    if (!this.#inner.destroyed) this.#inner.write(bytes);
  }
  override _read(): void {
    this.#inner.resume();
  }
  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.#outgoing) {
      try {
        for (const body of this.#outgoing.push(chunk)) {
          try {
            this.#onOutgoing(decodeWireFrame(body));
          } catch {
            // a deliberately bad frame of another fault: not ours to read
          }
        }
      } catch {
        // framing broken on purpose by a sender fault; keep writing
      }
    }
    this.#inner.write(chunk, cb);
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.#inner.end(cb);
  }
  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.#inner.destroy();
    cb(err);
  }
}

/** The older built-in behaviours (id 0, unnegotiated chunks, zstd bomb). */
function builtInBehaviour(faults: ReadonlySet<string>, role: Role, hooks: FaultHooks, log: PeerLogger, maxPacketBytes: () => number): ReceiveBehaviour | null {
  const idZero = faults.has(`${role}-accepts-id-zero`);
  const chunks = faults.has(`${role}-accepts-unnegotiated-chunks`);
  const bomb = faults.has(`${role}-accepts-zstd-bomb`);
  if (!idZero && !chunks && !bomb) return null;
  const alias = aliasFor(role);
  if (idZero) {
    const prev = hooks.mutateOutgoingFrame;
    hooks.mutateOutgoingFrame = (f) => {
      const r = prev ? prev(f) : f;
      const map = (x: WireFrame): WireFrame =>
        (x.type === 'packet' || x.type === 'packet_chunk') && x.body.id === alias ? ({ ...x, body: { ...x.body, id: 0n } } as WireFrame) : x;
      return r === null ? null : Array.isArray(r) ? r.map(map) : map(r);
    };
  }
  const streams = new Map<bigint, { compression: CompressionAlgo; parts: Uint8Array[] }>();
  return {
    onFrame(body, first) {
      // The first frame each way is the handshake; pass it untouched.
      if (first) return undefined;
      let frame: WireFrame;
      try {
        frame = decodeWireFrame(body);
      } catch {
        return undefined; // let the engine report it
      }
      if (frame.type !== 'packet' && frame.type !== 'packet_chunk') return undefined;
      let changed = false;
      let id = frame.body.id;
      if (idZero && id === 0n) {
        log.log('fault_injected', { fault: `${role}-accepts-id-zero` });
        id = alias;
        changed = true;
      }
      let compression = frame.body.compression;
      let data = frame.body.data;
      if (frame.type === 'packet_chunk') {
        if (!chunks) return changed ? [encodeWireFrame({ ...frame, body: { ...frame.body, id } })] : undefined;
        const s = streams.get(id) ?? { compression, parts: [] };
        s.parts.push(data);
        streams.set(id, s);
        if (!frame.body.last) return [];
        streams.delete(id);
        log.log('fault_injected', { fault: `${role}-accepts-unnegotiated-chunks`, chunks: s.parts.length });
        data = Buffer.concat(s.parts);
        compression = s.compression;
        changed = true;
      }
      if (bomb && compression === 'zstd') {
        try {
          data = zstdDecompressBounded(data, HARD_MAX_MESSAGE_BYTES);
        } catch {
          return undefined;
        }
        compression = 'none';
        changed = true;
        if (data.length > maxPacketBytes()) {
          log.log('fault_injected', { fault: `${role}-accepts-zstd-bomb`, bytes: data.length, dropped: true });
          return [];
        }
      }
      return changed ? [encodeWireFrame({ type: 'packet', body: { id, compression, data } })] : undefined;
    },
  };
}

/** Close on purpose: the engine sees a transport error, the peer sees the socket close. */
function shimClose(d: FilterDuplex): void {
  d.closeInner();
}

/**
 * Wrap `socket` for the active shim faults. `hooks` gets the engine-side parts of the faults;
 * `maxPacketBytes()` returns the negotiated packet limit once known.
 */
export function wrapWithShim(socket: Duplex, faults: ReadonlySet<string>, role: Role, hooks: FaultHooks, log: PeerLogger, maxPacketBytes: () => number): Duplex {
  const defs = activeReceiveFaults(faults, role);
  const parser: ParserFault = Object.assign({}, ...defs.map((d) => d.parser ?? {})) as ParserFault;
  for (const d of defs) d.hooks?.(hooks);
  if (parser.flushOnEnd || parser.stayOpenOnTruncatedEnd) {
    // These faults act after the peer's FIN: keep our write side open (node ends it by default).
    (socket as Duplex & { allowHalfOpen: boolean }).allowHalfOpen = true;
  }
  let core: ShimCore | null = null;
  let duplex: FilterDuplex | null = null;
  const behaviours: ReceiveBehaviour[] = [];
  const builtIn = builtInBehaviour(faults, role, hooks, log, maxPacketBytes);
  if (builtIn) behaviours.push(builtIn);
  for (const d of defs) {
    if (!d.create) continue;
    const fault = `${role}-${d.suffix}`;
    const ctx: ShimContext = {
      role,
      fault,
      hooks,
      caps: () => core?.caps ?? null,
      maxPacketBytes: () => core?.caps?.max_packet_len ?? maxPacketBytes(),
      sendBack: (frame) => duplex?.writeInner(prefixFrame(encodeWireFrame(frame))),
      injected: (fields = {}) => log.log('fault_injected', { fault, ...fields }),
    };
    behaviours.push(d.create(ctx));
  }
  let sawOutgoingWelcome = false;
  const newCore = (d: FilterDuplex): ShimCore =>
    new ShimCore(role, parser, behaviours, (b) => d.push(b), () => shimClose(d), log, () => d.push(null));
  duplex = new FilterDuplex(
    socket,
    (self, chunk) => {
      core ??= newCore(self);
      core.onData(chunk);
    },
    (frame) => {
      if (!sawOutgoingWelcome && frame.type === 'welcome') {
        sawOutgoingWelcome = true;
        if (role === 'router') {
          core ??= newCore(duplex!);
          core.caps = frame.body.chosen_capabilities;
        }
        return;
      }
      core?.onOutgoing();
      for (const b of behaviours) b.onOutgoing?.(frame);
    },
    (self) => (core ? core.onEnd() : self.push(null)),
  );
  socket.once('close', () => core?.dispose());
  return duplex;
}
