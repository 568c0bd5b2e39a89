/**
 * How the reference peers carry out the faults of {@link FAULTS}: engine fault hooks for what the
 * engine can express, raw frames written through `connection.fault` for the rest.
 *
 * @module
 */
import type { EngineEvent, FaultHooks, RpcConnection } from '../engine/connection.js';
import { ErrorCodes, ProtocolError } from '../errors.js';
import { HARD_MAX_MESSAGE_BYTES } from '../limits.js';
import { encodeRpcPayload, zstdAvailable, zstdCompress } from '../wire/index.js';
import type { Capabilities, CompressionAlgo, WorkerHello } from '../wire/model.js';
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
  const active = [...faults].filter((f) => f.startsWith('router-welcome-'));
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
