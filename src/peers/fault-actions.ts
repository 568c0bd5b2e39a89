/**
 * How the reference peers carry out the faults of {@link FAULTS}: engine fault hooks for what the
 * engine can express, raw frames written through `connection.fault` for the rest.
 *
 * @module
 */
import type { EngineEvent, FaultHooks, RpcConnection } from '../engine/connection.js';
import { ErrorCodes, ProtocolError } from '../errors.js';
import { HARD_MAX_MESSAGE_BYTES } from '../limits.js';
import { decodeRpcPayload, encodeRpcPayload, zstdAvailable, zstdCompress } from '../wire/index.js';
import type { Capabilities, CompressionAlgo, WireFrame, WorkerHello } from '../wire/model.js';
import { chunkFrames, faultId, logEngineEvent, packetFramesUnchecked, paddedPacketFrame, paddedRequestPayload, prefixFrame } from './common.js';
import type { PeerLogger } from './log.js';

type Role = 'router' | 'worker';

/** Adjust our own capability offer for faults that need a particular negotiation outcome. */
export function adjustOwnCapabilities(caps: Capabilities, faults: ReadonlySet<string>, role: Role): Capabilities {
  const out = { ...caps, supported_compression: [...caps.supported_compression] };
  if (faults.has(`${role}-chunk-without-negotiation`)) out.supports_chunking = false;
  if (faults.has(`${role}-zstd-not-negotiated`)) out.supported_compression = ['none'];
  if (faults.has(`${role}-chunk-compression-change`) && zstdAvailable() && !out.supported_compression.includes('zstd')) {
    out.supported_compression = ['zstd', ...out.supported_compression];
  }
  if (faults.has('worker-unsanitized-offer')) {
    // Sent unsanitized (skipOwnSanitize): keep only what we can really use, then add the junk.
    out.supported_compression = unsanitizedCompression(out.supported_compression.filter((x) => x !== 'zstd' || zstdAvailable()));
  }
  if (faults.has('worker-accepts-invalid-welcome')) {
    // Offer neither flag so a Welcome enabling them (NEG-2) is one of the invalid Welcomes it takes.
    out.supports_cancel = false;
    out.supports_chunking = false;
  }
  return out;
}

/** Engine hooks for the faults that are pure engine configuration. */
export function engineHooksFor(faults: ReadonlySet<string>, role: Role): FaultHooks {
  const hooks: FaultHooks = {};
  if (faults.has(`${role}-accepts-oversize-frame`) || faults.has(`${role}-accepts-unnegotiated-chunks`)) {
    // Reassembled unnegotiated chunks come back as one Packet that may exceed max_frame_len.
    hooks.receiveFrameLimitBytes = HARD_MAX_MESSAGE_BYTES;
  }
  if (faults.has(`${role}-accepts-wrong-parity`) || faults.has(`${role}-accepts-duplicate-id`)) hooks.skipIncomingIdChecks = true;
  if (role === 'router') {
    // [DATA-20] violated on purpose: any ok variant answers any call.
    if (faults.has('router-accepts-mismatched-response')) hooks.skipResponsePairingCheck = true;
    if (faults.has('router-wrong-parity')) hooks.overrideId = (id) => id + 1n; // odd ids: worker parity
    if (faults.has('router-id-zero')) {
      let used = false;
      const prev = hooks.overrideId;
      hooks.overrideId = (id, kind) => {
        if (!used && kind === 'request') {
          used = true;
          return 0n;
        }
        return prev ? prev(id, kind) : id;
      };
    }
  }
  return hooks;
}

/** Router: the Welcome mutation for the welcome-* faults, given the worker's (redaction-free) offer. */
export function mutateWelcomeFor(faults: ReadonlySet<string>, offer: WorkerHello): FaultHooks['mutateWelcome'] | undefined {
  const active = [...faults].filter((f) => f.startsWith('router-welcome-') || f === 'router-compression-in-worker-order' || f === 'router-adds-unoffered-none');
  if (active.length === 0) return undefined;
  return (w) => {
    const c = { ...w.chosen_capabilities, supported_compression: [...w.chosen_capabilities.supported_compression] };
    let version = w.chosen_version;
    if (faults.has('router-welcome-exceeds-offer')) {
      // [NEG-1] one byte above what the worker offered.
      c.max_frame_len = offer.capabilities.max_frame_len + 1;
      c.max_packet_len = offer.capabilities.max_packet_len + 1;
    }
    if (faults.has('router-welcome-enables-unoffered')) {
      c.supports_cancel = true;
      c.supports_chunking = true;
    }
    if (faults.has('router-welcome-unoffered-compression') && !c.supported_compression.includes('zstd')) {
      c.supported_compression = ['zstd', ...c.supported_compression];
    }
    if (faults.has('router-welcome-unoffered-version')) version = { major: 9, minor: 9 };
    if (faults.has('router-compression-in-worker-order')) {
      // [NEG-3] violated on purpose: the chosen algorithms in the worker's order.
      const offered = offer.capabilities.supported_compression;
      c.supported_compression = [...c.supported_compression].sort((a, b) => offered.indexOf(a) - offered.indexOf(b));
    }
    if (faults.has('router-adds-unoffered-none') && !c.supported_compression.includes('none')) {
      // [NEG-3] violated on purpose: none although the worker did not offer it.
      c.supported_compression = [...c.supported_compression, 'none'];
    }
    return { ...w, chosen_version: version, chosen_capabilities: c };
  };
}

/**
 * Faults that fire right after the handshake (trigger `after-welcome`). Each writes the offending
 * frames; a correct peer closes the connection on them.
 */
export async function runAfterWelcomeFaults(conn: RpcConnection, faults: ReadonlySet<string>, role: Role, log: PeerLogger, hello: WorkerHello): Promise<void> {
  const caps = conn.negotiated.capabilities;
  let n = 0;
  const id = (): bigint => faultId(role, n++);
  const smallRequest = (): Uint8Array => encodeRpcPayload({ type: 'request', body: { type: 'get_worker_stats' } });
  const fired = (name: string, fields: Record<string, string | number> = {}): void => log.log('fault_injected', { fault: name, ...fields });
  const has = (suffix: string): boolean => faults.has(`${role}-${suffix}`);

  if (role === 'worker') {
    if (has('wrong-parity')) {
      // [ID-3] a request with router (even) parity.
      fired('worker-wrong-parity');
      await conn.fault.sendPayload(faultId('router', 0), { type: 'request', body: { type: 'get_worker_stats' } });
    }
    if (has('id-zero')) {
      fired('worker-id-zero');
      await conn.fault.writeFrame({ type: 'packet', body: { id: 0n, compression: 'none', data: smallRequest() } });
    }
  }
  if (has('reuse-inflight-id')) {
    // [ID-4] the same id twice while the first request is still in flight.
    fired(`${role}-reuse-inflight-id`);
    const dup = id();
    const stats = { type: 'request', body: { type: 'get_worker_stats' } } as const;
    await conn.fault.sendPayload(dup, role === 'router' ? { type: 'request', body: { type: 'index_shard', revision: 0n, files: [{ path: 'slow.txt', text: 'SLOW' }] } } : stats);
    await conn.fault.sendPayload(dup, stats);
  }
  if (has('second-hello-after-handshake')) {
    fired(`${role}-second-hello-after-handshake`);
    if (role === 'worker') await conn.fault.writeFrame({ type: 'hello', body: { ...hello, auth_token: null } });
    else await conn.fault.writeFrame({ type: 'welcome', body: conn.welcome });
  }
  if (has('oversize-frame')) {
    // [FRM-5] one byte over the negotiated frame limit, carrying a valid request.
    const body = paddedPacketFrame(id(), caps.max_frame_len + 1);
    fired(`${role}-oversize-frame`, { bytes: body.length, maxFrameBytes: caps.max_frame_len });
    await conn.fault.writeRaw(prefixFrame(body));
  }
  if (has('oversize-packet')) {
    // [DATA-4] packet data max_packet_len + 1; one Packet if it fits the frame limit, else chunks.
    const payload = paddedRequestPayload(caps.max_packet_len + 1);
    const bodies = packetFramesUnchecked(id(), payload, caps);
    fired(`${role}-oversize-packet`, { bytes: payload.length, maxPacketBytes: caps.max_packet_len, frames: bodies.length });
    for (const b of bodies) await conn.fault.writeRaw(prefixFrame(b));
  }
  if (has('chunk-out-of-sequence')) {
    // [CHK-3] seq 0 then seq 2.
    const chunks = chunkFrames(id(), smallRequest(), 4);
    fired(`${role}-chunk-out-of-sequence`);
    await conn.fault.writeFrame(chunks[0]!);
    const c2 = chunks[2] ?? chunks[chunks.length - 1]!;
    if (c2.type === 'packet_chunk') await conn.fault.writeFrame({ type: 'packet_chunk', body: { ...c2.body, seq: 2 } });
  }
  if (has('chunk-without-negotiation')) {
    // [CHK-2] chunks of a valid request although chunking is off.
    fired(`${role}-chunk-without-negotiation`, { negotiated: String(caps.supports_chunking) });
    for (const f of chunkFrames(id(), smallRequest(), 8)) await conn.fault.writeFrame(f);
  }
  if (has('chunk-compression-change')) {
    // [CHK-4] first chunk none, second zstd.
    const chunks = chunkFrames(id(), smallRequest(), 8);
    fired(`${role}-chunk-compression-change`);
    await conn.fault.writeFrame(chunks[0]!);
    const c1 = chunks[1]!;
    if (c1.type === 'packet_chunk') await conn.fault.writeFrame({ type: 'packet_chunk', body: { ...c1.body, compression: 'zstd' as CompressionAlgo } });
  }
  if (has('zstd-not-negotiated')) {
    // [CMP-2] zstd data although only none was negotiated.
    const raw = paddedRequestPayload(4096);
    const data = zstdAvailable() ? zstdCompress(raw) : raw;
    fired(`${role}-zstd-not-negotiated`, { negotiated: caps.supported_compression.join(',') });
    await conn.fault.writeFrame({ type: 'packet', body: { id: id(), compression: 'zstd', data } });
  }
  if (has('unknown-compression')) {
    fired(`${role}-unknown-compression`);
    await conn.fault.writeFrame({ type: 'packet', body: { id: id(), compression: 'unknown', data: smallRequest() } });
  }
  if (has('garbage-after-welcome')) {
    // [FRM-1] a frame that is not one CBOR item (0xff is a stray break).
    fired(`${role}-garbage-after-welcome`);
    await conn.fault.writeRaw(prefixFrame(new Uint8Array(16).fill(0xff)));
  }
}

const UNKNOWN_REASONS = new Set(['unknown_frame', 'unknown_payload', 'unknown_notification']);

/**
 * The engine event handler of a peer: logs every event, and for `*-crash-on-unknown-variant`
 * turns the engine's "ignored unknown variant" events into a close [DATA-6 violated on purpose].
 */
export function engineEventHandler(log: PeerLogger, faults: ReadonlySet<string>, role: Role, getConn: () => RpcConnection | null): (e: EngineEvent) => void {
  const crash = faults.has(`${role}-crash-on-unknown-variant`);
  return (e) => {
    logEngineEvent(log, e);
    if (crash && e.type === 'ignored' && UNKNOWN_REASONS.has(e.reason)) {
      // Deferred: the event can fire while the connection is still being constructed.
      setImmediate(() => {
        const conn = getConn();
        if (!conn) return;
        log.log('fault_injected', { fault: `${role}-crash-on-unknown-variant`, reason: e.reason });
        void conn.close(new ProtocolError(ErrorCodes.UNEXPECTED_FRAME, 'fault: closing on an unknown variant', { rule: 'DATA-6' }));
      });
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Role-specific behaviour faults (catalogue: faults-behaviour.ts)
// ---------------------------------------------------------------------------------------------

type FrameHook = NonNullable<FaultHooks['mutateOutgoingFrame']>;

/** Add `fn` after any outgoing-frame hook already installed (e.g. by the receive shim's faults). */
function chainFrameHook(hooks: FaultHooks, fn: FrameHook): void {
  const prev = hooks.mutateOutgoingFrame;
  if (!prev) {
    hooks.mutateOutgoingFrame = fn;
    return;
  }
  hooks.mutateOutgoingFrame = (frame) => {
    const first = prev(frame);
    if (first === null) return null;
    const out: WireFrame[] = [];
    for (const f of Array.isArray(first) ? first : [first]) {
      const r = fn(f);
      if (r !== null) out.push(...(Array.isArray(r) ? r : [r]));
    }
    return out.length > 0 ? out : null;
  };
}

/** The payload type of an uncompressed, unchunked packet frame, or null. */
function packetPayloadType(frame: WireFrame): string | null {
  if (frame.type !== 'packet' || frame.body.compression !== 'none') return null;
  try {
    return decodeRpcPayload(frame.body.data).type;
  } catch {
    return null;
  }
}

/**
 * Install the engine hooks of the behaviour faults on `hooks` (after engineHooksFor and the shim).
 * `getConn` gives the connection once it exists (the hooks run only after the handshake).
 */
export function installBehaviourHooks(hooks: FaultHooks, faults: ReadonlySet<string>, role: Role, log: PeerLogger, getConn: () => RpcConnection | null): void {
  const fired = (name: string, fields: Record<string, string | number> = {}): void => log.log('fault_injected', { fault: name, ...fields });
  if (role === 'router') {
    if (faults.has('router-cancel-without-packet')) {
      chainFrameHook(hooks, (f) => {
        if (packetPayloadType(f) !== 'cancel') return f;
        // [CAN-1] violated on purpose: the Cancel of an aborted call is never sent.
        fired('router-cancel-without-packet');
        return null;
      });
    }
    if (faults.has('router-double-response')) {
      chainFrameHook(hooks, (f) => {
        if (packetPayloadType(f) !== 'response') return f;
        // [DATA-1] violated on purpose: a second response with the same id.
        fired('router-double-response');
        return [f, f];
      });
    }
    return;
  }
  if (faults.has('worker-offers-zero-limits')) {
    // [LIM-1] violated on purpose (after our own start-up check).
    hooks.mutateHello = (h) => {
      fired('worker-offers-zero-limits');
      return { ...h, capabilities: { ...h.capabilities, max_frame_len: 0, max_packet_len: 0 } };
    };
  }
  if (faults.has('worker-unsanitized-offer')) {
    // [NEG-5] violated on purpose: the configured list as is, with unknown and a duplicate.
    hooks.skipOwnSanitize = true;
  }
  if (faults.has('worker-chunk-size-not-reference')) {
    // [CHK-9] violated on purpose: every chunk becomes two (seq s -> 2s, 2s+1), still a valid stream.
    chainFrameHook(hooks, (f) => {
      if (f.type !== 'packet_chunk') return f;
      const c = f.body;
      const half = Math.ceil(c.data.length / 2);
      if (c.seq === 0) fired('worker-chunk-size-not-reference', { chunkBytes: half });
      return [
        { type: 'packet_chunk', body: { ...c, seq: c.seq * 2, last: false, data: c.data.subarray(0, half) } },
        { type: 'packet_chunk', body: { ...c, seq: c.seq * 2 + 1, last: c.last, data: c.data.subarray(half) } },
      ];
    });
  }
  if (faults.has('worker-compresses-small-payloads')) {
    chainFrameHook(hooks, (f) => {
      const conn = getConn();
      if (f.type !== 'packet' || f.body.compression !== 'none' || !conn?.negotiated.capabilities.supported_compression.includes('zstd')) return f;
      // [CMP-5] violated on purpose: compressed whatever the size (and even when it grows).
      fired('worker-compresses-small-payloads', { bytes: f.body.data.length });
      return { type: 'packet', body: { ...f.body, compression: 'zstd', data: zstdCompress(f.body.data) } };
    });
  }
  if (faults.has('worker-zstd-without-content-size')) {
    chainFrameHook(hooks, (f) => {
      if (f.type !== 'packet' || f.body.compression !== 'zstd') return f;
      // [CMP-9] violated on purpose: the same zstd frame, its header without Frame_Content_Size.
      fired('worker-zstd-without-content-size');
      return { type: 'packet', body: { ...f.body, data: stripZstdContentSize(f.body.data) } };
    });
  }
}

/** worker-unsanitized-offer: the offer the faulty worker sends (unknown and a duplicate kept). */
export function unsanitizedCompression(list: readonly CompressionAlgo[]): CompressionAlgo[] {
  const base = list.length > 0 ? [...list] : ['none' as CompressionAlgo];
  return [...base, 'unknown', base[0]!];
}

/**
 * Rewrite a zstd frame so its header has no Frame_Content_Size: single-segment frames get a
 * Window_Descriptor covering the content instead. The compressed blocks are untouched, so the
 * frame still decodes (streaming decoders need no content size).
 */
export function stripZstdContentSize(frame: Uint8Array): Uint8Array {
  if (frame.length < 6 || frame[0] !== 0x28 || frame[1] !== 0xb5 || frame[2] !== 0x2f || frame[3] !== 0xfd) return frame;
  const fhd = frame[4]!;
  const fcsFlag = fhd >> 6;
  const single = (fhd & 0x20) !== 0;
  const dictBytes = [0, 1, 2, 4][fhd & 0x03]!;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
  let pos = 5;
  let windowDescriptor: number | null = null;
  if (!single) windowDescriptor = frame[pos++]!;
  const dict = frame.subarray(pos, pos + dictBytes);
  pos += dictBytes;
  let size = 0;
  for (let i = 0; i < fcsBytes; i++) size += frame[pos + i]! * 2 ** (8 * i);
  if (fcsBytes === 2) size += 256;
  pos += fcsBytes;
  if (windowDescriptor === null) {
    // Window_Size = 2^(10 + exponent), mantissa 0: the smallest power of two ≥ the content.
    const windowLog = Math.max(10, Math.ceil(Math.log2(Math.max(size, 1))));
    windowDescriptor = (windowLog - 10) << 3;
  }
  const head = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, fhd & 0x1f, windowDescriptor]);
  const out = new Uint8Array(head.length + dict.length + frame.length - pos);
  out.set(head, 0);
  out.set(dict, head.length);
  out.set(frame.subarray(pos), head.length + dict.length);
  return out;
}

/**
 * `router-noncanonical-encoding` / `worker-noncanonical-encoding`: re-encode the unsigned integer
 * value of the first map key `key` in `body` as a 4-byte integer (0x1a). Valid CBOR, not canonical
 * [CBOR-1]. Returns `body` unchanged if the key or a small integer value is not found.
 */
export function widenUintAfterKey(body: Uint8Array, key: string): Uint8Array {
  const k = new TextEncoder().encode(key);
  if (k.length >= 24) return body;
  const needle = [0x60 + k.length, ...k];
  outer: for (let i = 0; i + needle.length < body.length; i++) {
    for (let j = 0; j < needle.length; j++) if (body[i + j] !== needle[j]) continue outer;
    const at = i + needle.length;
    const b = body[at]!;
    let value: number;
    let len: number;
    if (b < 0x18) [value, len] = [b, 1];
    else if (b === 0x18) [value, len] = [body[at + 1]!, 2];
    else if (b === 0x19) [value, len] = [(body[at + 1]! << 8) | body[at + 2]!, 3];
    else return body;
    const wide = new Uint8Array([0x1a, (value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
    const out = new Uint8Array(body.length - len + wide.length);
    out.set(body.subarray(0, at), 0);
    out.set(wide, at);
    out.set(body.subarray(at + len), at + wide.length);
    return out;
  }
  return body;
}
