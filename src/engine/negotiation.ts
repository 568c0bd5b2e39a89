/**
 * Handshake negotiation, as pure functions.
 *
 * Router side: {@link negotiateHello} runs the Rust router's checks in the Rust order [HS-4]
 * (limits → auth → version → compression → admission) and computes the chosen parameters
 * [NEG-1] [NEG-2] [NEG-3] [VER-1]. Worker side: {@link checkWelcome} refuses a Welcome that breaks
 * those rules against the worker's own offer [HS-10] (the Rust worker accepts anything).
 *
 * @module
 */
import { ErrorCodes, ProtocolError } from '../errors.js';
import type {
  Capabilities,
  CompressionAlgo,
  HandshakeReject,
  ProtocolVersion,
  RejectCode,
  RouterWelcome,
  SupportedVersions,
  WorkerHello,
} from '../wire/model.js';

/** Compare versions (major, minor) lexicographically: negative, 0 or positive. */
export function compareVersions(a: ProtocolVersion, b: ProtocolVersion): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

/**
 * Rust `SupportedVersions::choose_common`: min(max_r, max_w) if max(min_r, min_w) ≤ it, else null [VER-1].
 * Ranges are taken as given (a range with min > max simply has no overlap with anything above max).
 */
export function chooseCommonVersion(router: SupportedVersions, worker: SupportedVersions): ProtocolVersion | null {
  const hi = compareVersions(router.max, worker.max) <= 0 ? router.max : worker.max;
  const lo = compareVersions(router.min, worker.min) >= 0 ? router.min : worker.min;
  return compareVersions(lo, hi) <= 0 ? { major: hi.major, minor: hi.minor } : null;
}

/** True when `v` lies within [range.min, range.max]. */
export function versionInRange(v: ProtocolVersion, range: SupportedVersions): boolean {
  return compareVersions(range.min, v) <= 0 && compareVersions(v, range.max) <= 0;
}

/**
 * Rust `sanitize_capabilities` [NEG-5]: keep only algorithms other than `unknown` that this build
 * supports (zstd only when a backend is available), keep their order (duplicates included, as Rust does),
 * and append `none` if absent. Apply it to our OWN offer only, never to a received Hello.
 */
export function sanitizeCapabilities(own: Capabilities, opts: { zstdAvailable: boolean }): Capabilities {
  const supported = (a: CompressionAlgo): boolean => a === 'none' || (a === 'zstd' && opts.zstdAvailable);
  const list = own.supported_compression.filter(supported);
  if (!list.includes('none')) list.push('none');
  return {
    max_frame_len: own.max_frame_len,
    max_packet_len: own.max_packet_len,
    supported_compression: list,
    supports_cancel: own.supports_cancel,
    supports_chunking: own.supports_chunking,
  };
}

/** What an admission hook decides after the protocol checks passed. */
export type AdmissionDecision =
  | { accept: true; workerId: number; revision: bigint }
  | { accept: false; code: RejectCode; message: string };

/** Everything the router-side negotiation needs. */
export interface RouterNegotiationConfig {
  /** The router's version range. */
  supportedVersions: SupportedVersions;
  /** The router's own capabilities, ALREADY sanitized (see {@link sanitizeCapabilities}). */
  capabilities: Capabilities;
  /** Expected auth token; null/undefined = tokens are ignored. Never echoed anywhere. */
  authToken?: string | null;
  /** Synchronous admission hook, run last [HS-4] [HS-11]. Absent = admit with `workerId` / `revision` below. */
  admit?: (hello: WorkerHello, chosen: { version: ProtocolVersion; capabilities: Capabilities }) => AdmissionDecision;
  /** worker_id used when there is no admission hook (default 1). */
  workerId?: number;
  /** revision used when there is no admission hook (default 0). */
  revision?: bigint;
}

export type NegotiationOutcome = { kind: 'welcome'; welcome: RouterWelcome } | { kind: 'reject'; reject: HandshakeReject };

/**
 * The reject table's messages [HS-16] (spec/06-handshake.md "Reject codes and messages"): the Rust
 * router's texts, one place for the reference router and for the checks of a router's Rejects.
 */
export const REJECT_MESSAGES = {
  limits: (maxFrameLen: number, maxPacketLen: number): string => `invalid worker capability limits: max_frame_len=${maxFrameLen}, max_packet_len=${maxPacketLen}`,
  auth: (): string => 'authentication failed',
  version: (): string => 'unsupported protocol version',
  compression: (): string => 'handshake failed: no common compression algorithm',
  shardNotAllowed: (): string => 'shard authorization failed',
  unknownShard: (shardId: number): string => `unknown shard ${shardId}`,
  shardBusy: (shardId: number): string => `shard ${shardId} already has a connected worker`,
} as const;

function reject(code: RejectCode, message: string): NegotiationOutcome {
  return { kind: 'reject', reject: { code, message } };
}

/**
 * Answer a decoded Hello exactly as the Rust router does (rpc:395-511). Pure: no I/O, no clocks.
 * The returned Reject messages are the Rust strings and never contain the token [SEC-2].
 */
export function negotiateHello(hello: WorkerHello, config: RouterNegotiationConfig): NegotiationOutcome {
  const w = hello.capabilities;
  // [HS-4] 1. limits first, before auth: a zero limit is an invalid request.
  if (w.max_frame_len === 0 || w.max_packet_len === 0) {
    return reject('invalid_request', REJECT_MESSAGES.limits(w.max_frame_len, w.max_packet_len));
  }
  // [HS-4] [SEC-1] 2. auth: plain equality; no expected token → the Hello's token is ignored.
  const expected = config.authToken ?? null;
  if (expected !== null && hello.auth_token !== expected) {
    return reject('unauthorized', REJECT_MESSAGES.auth());
  }
  // [HS-4] [VER-1] 3. version overlap.
  const version = chooseCommonVersion(config.supportedVersions, hello.supported_versions);
  if (version === null) return reject('unsupported_version', REJECT_MESSAGES.version());
  // [HS-4] [NEG-3] 4. compression: router order, filtered to known entries the worker offered.
  const r = config.capabilities;
  const compression = r.supported_compression.filter((a) => a !== 'unknown' && w.supported_compression.includes(a));
  if (compression.length === 0) {
    return reject('invalid_request', REJECT_MESSAGES.compression());
  }
  const capabilities: Capabilities = {
    // [NEG-1] limits are the minimum of both offers.
    max_frame_len: Math.min(r.max_frame_len, w.max_frame_len),
    max_packet_len: Math.min(r.max_packet_len, w.max_packet_len),
    supported_compression: compression,
    // [NEG-2] booleans are the AND of both offers.
    supports_cancel: r.supports_cancel && w.supports_cancel,
    supports_chunking: r.supports_chunking && w.supports_chunking,
  };
  // [HS-4] [HS-11] 5. admission.
  let workerId = config.workerId ?? 1;
  let revision = config.revision ?? 0n;
  if (config.admit) {
    const decision = config.admit(hello, { version, capabilities });
    if (!decision.accept) return reject(decision.code, decision.message);
    workerId = decision.workerId;
    revision = decision.revision;
  }
  // [HS-9] echo shard_id, carry worker_id, revision and the choices.
  return {
    kind: 'welcome',
    welcome: { worker_id: workerId, shard_id: hello.shard_id, revision, chosen_version: version, chosen_capabilities: capabilities },
  };
}

/** Our own limits must be positive [LIM-1]; the Rust peer fails with HandshakeFailed before any I/O. */
export function checkOwnCapabilities(own: Capabilities): void {
  if (own.max_frame_len <= 0 || own.max_packet_len <= 0) {
    throw new ProtocolError(ErrorCodes.HANDSHAKE_FAILED, 'own capability limits must be positive', {
      rule: 'LIM-1',
      details: { maxFrameBytes: own.max_frame_len, maxPacketBytes: own.max_packet_len },
    });
  }
}

function invalidWelcome(rule: string, message: string, details: Record<string, number | bigint | boolean | string>): never {
  throw new ProtocolError(ErrorCodes.HANDSHAKE_INVALID_WELCOME, message, { rule: 'HS-10', details: { ...details, brokenRule: rule } });
}

/**
 * Worker-side check of a Welcome against our own (sanitized) Hello [HS-10].
 * `details.brokenRule` names the negotiation rule the router broke (NEG-1, NEG-2, NEG-3, VER-1, HS-9, LIM-1).
 * @throws ProtocolError HANDSHAKE_INVALID_WELCOME
 */
export function checkWelcome(offer: WorkerHello, welcome: RouterWelcome): void {
  const o = offer.capabilities;
  const c = welcome.chosen_capabilities;
  if (welcome.shard_id !== offer.shard_id) {
    invalidWelcome('HS-9', 'welcome shard_id differs from the offered shard_id', { offered: offer.shard_id, chosen: welcome.shard_id });
  }
  if (!versionInRange(welcome.chosen_version, offer.supported_versions)) {
    invalidWelcome('VER-1', 'welcome chosen_version is outside the offered range', {
      chosenMajor: welcome.chosen_version.major,
      chosenMinor: welcome.chosen_version.minor,
    });
  }
  for (const [field, chosen, offered] of [
    ['max_frame_len', c.max_frame_len, o.max_frame_len],
    ['max_packet_len', c.max_packet_len, o.max_packet_len],
  ] as const) {
    if (chosen === 0) invalidWelcome('LIM-1', `welcome chooses a zero ${field}`, { field, offered, chosen });
    if (chosen > offered) invalidWelcome('NEG-1', `welcome ${field} exceeds the offered value`, { field, offered, chosen });
  }
  for (const [field, chosen, offered] of [
    ['supports_cancel', c.supports_cancel, o.supports_cancel],
    ['supports_chunking', c.supports_chunking, o.supports_chunking],
  ] as const) {
    if (chosen && !offered) invalidWelcome('NEG-2', `welcome enables ${field} which was not offered`, { field });
  }
  if (c.supported_compression.length === 0) {
    invalidWelcome('NEG-3', 'welcome chooses no compression algorithm', { field: 'supported_compression' });
  }
  for (const algo of c.supported_compression) {
    if (algo === 'unknown' || !o.supported_compression.includes(algo)) {
      invalidWelcome('NEG-3', 'welcome chooses a compression algorithm that was not offered', {
        field: 'supported_compression',
        algorithm: algo, // one of our own enum names, never peer text
      });
    }
  }
}
