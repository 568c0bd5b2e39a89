/**
 * A frame-level filter between the socket and the engine, for the receiver faults the engine's
 * fault hooks cannot express (`*-accepts-id-zero`, `*-accepts-unnegotiated-chunks`,
 * `*-accepts-zstd-bomb`). It parses incoming frames (64 MiB hard cap) and rewrites the offending
 * ones into something the engine accepts, so the peer visibly fails to enforce the rule:
 *
 * - id 0 packets get an alias id with the right parity; outgoing frames with the alias go back out
 *   as id 0 (via the engine's `mutateOutgoingFrame` hook), so a request with id 0 is answered with id 0.
 * - PacketChunks are reassembled here (no negotiation check) and handed on as one Packet.
 * - zstd packets are decompressed here with only the 64 MiB hard cap; the result goes on as an
 *   uncompressed Packet when it fits max_packet_len, and is dropped silently otherwise (no close).
 *
 * Handshake frames pass through unchanged.
 *
 * @module
 */
import { Duplex } from 'node:stream';
import type { FaultHooks } from '../engine/connection.js';
import { HARD_MAX_MESSAGE_BYTES } from '../limits.js';
import { FrameDecoder, decodeWireFrame, encodeWireFrame, zstdDecompressBounded } from '../wire/index.js';
import type { CompressionAlgo, WireFrame } from '../wire/model.js';
import { prefixFrame } from './common.js';
import type { PeerLogger } from './log.js';

type Role = 'router' | 'worker';

export const SHIM_FAULT_SUFFIXES = ['accepts-id-zero', 'accepts-unnegotiated-chunks', 'accepts-zstd-bomb'] as const;

export function needsShim(faults: ReadonlySet<string>, role: Role): boolean {
  return SHIM_FAULT_SUFFIXES.some((s) => faults.has(`${role}-${s}`));
}

/** The alias used for incoming id 0: the parity the receiving role accepts for requests, at the top of u64. */
function aliasFor(role: Role): bigint {
  return role === 'router' ? (1n << 64n) - 1n : (1n << 64n) - 2n;
}

class FilterDuplex extends Duplex {
  readonly #inner: Duplex;
  constructor(inner: Duplex, filter: (body: Uint8Array) => Uint8Array[]) {
    super({ allowHalfOpen: false });
    this.#inner = inner;
    const decoder = new FrameDecoder({ maxFrameBytes: HARD_MAX_MESSAGE_BYTES });
    inner.on('data', (chunk: Uint8Array) => {
      try {
        for (const body of decoder.push(chunk)) for (const out of filter(body)) this.push(prefixFrame(out));
      } catch (e) {
        this.destroy(e as Error);
      }
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (e) => this.destroy(e));
    inner.on('close', () => this.destroy());
  }
  override _read(): void {
    this.#inner.resume();
  }
  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
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

/**
 * Wrap `socket` for the active shim faults. `hooks` gets the outgoing id-0 mapping;
 * `maxPacketBytes()` returns the negotiated packet limit once known.
 */
export function wrapWithShim(socket: Duplex, faults: ReadonlySet<string>, role: Role, hooks: FaultHooks, log: PeerLogger, maxPacketBytes: () => number): Duplex {
  const idZero = faults.has(`${role}-accepts-id-zero`);
  const chunks = faults.has(`${role}-accepts-unnegotiated-chunks`);
  const bomb = faults.has(`${role}-accepts-zstd-bomb`);
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
  let handshakeDone = false;
  const filter = (body: Uint8Array): Uint8Array[] => {
    if (!handshakeDone) {
      // The first frame each way is the handshake; pass it untouched.
      handshakeDone = true;
      return [body];
    }
    let frame: WireFrame;
    try {
      frame = decodeWireFrame(body);
    } catch {
      return [body]; // let the engine report it
    }
    if (frame.type !== 'packet' && frame.type !== 'packet_chunk') return [body];
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
      if (!chunks) return changed ? [encodeWireFrame({ ...frame, body: { ...frame.body, id } })] : [body];
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
        return [body];
      }
      compression = 'none';
      changed = true;
      if (data.length > maxPacketBytes()) {
        log.log('fault_injected', { fault: `${role}-accepts-zstd-bomb`, bytes: data.length, dropped: true });
        return [];
      }
    }
    return changed ? [encodeWireFrame({ type: 'packet', body: { id, compression, data } })] : [body];
  };
  return new FilterDuplex(socket, filter);
}
