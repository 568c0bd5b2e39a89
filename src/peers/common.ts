/**
 * Pieces shared by the reference router and worker: capability options, auth-token loading,
 * engine-event logging, and the wire-level helpers the fault injection uses.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { readHandshakeFrame, type EngineEvent } from '../engine/connection.js';
import { ErrorCodes, ProtocolError } from '../errors.js';
import { HARD_MAX_MESSAGE_BYTES, LENGTH_PREFIX_BYTES, PRE_HANDSHAKE_MAX_FRAME_BYTES } from '../limits.js';
import { encodePacketFrames, encodeRpcPayload, encodeWireFrame } from '../wire/index.js';
import type { Capabilities, CompressionAlgo, ProtocolVersion, SupportedVersions, WireFrame } from '../wire/model.js';
import type { PeerLogger } from './log.js';

/** Capability and version flags common to both peers. Absent fields take the engine defaults. */
export interface PeerCapabilityOptions {
  maxFrameLen?: number;
  maxPacketLen?: number;
  /** Offered compression, best first (sanitized by the engine: unsupported entries dropped, none appended). */
  compression?: CompressionAlgo[];
  /** Offer cancellation. Default true. */
  cancel?: boolean;
  /** Offer chunking. Default true. */
  chunking?: boolean;
  minVersion?: ProtocolVersion;
  maxVersion?: ProtocolVersion;
}

/** Where the auth token comes from [SEC-3]: a file or an environment variable (CLI), or a value (programmatic only). */
export interface AuthTokenSource {
  /** Programmatic only; the CLI never takes a token on the command line. */
  authToken?: string;
  authTokenFile?: string;
  authTokenEnv?: string;
}

export function buildCapabilities(o: PeerCapabilityOptions, defaults: Capabilities): Capabilities {
  return {
    max_frame_len: o.maxFrameLen ?? defaults.max_frame_len,
    max_packet_len: o.maxPacketLen ?? defaults.max_packet_len,
    supported_compression: o.compression ? [...o.compression] : [...defaults.supported_compression],
    supports_cancel: o.cancel ?? defaults.supports_cancel,
    supports_chunking: o.chunking ?? defaults.supports_chunking,
  };
}

export function buildVersions(o: PeerCapabilityOptions, defaults: SupportedVersions): SupportedVersions {
  return { min: o.minVersion ?? defaults.min, max: o.maxVersion ?? defaults.max };
}

/** Parse `3.0` style versions. */
export function parseVersion(text: string): ProtocolVersion {
  const m = /^([0-9]{1,9})\.([0-9]{1,9})$/.exec(text);
  if (!m) throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'a version must look like MAJOR.MINOR (e.g. 3.0)');
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** Parse a comma-separated compression list (`zstd,none`). */
export function parseCompressionList(text: string): CompressionAlgo[] {
  const out: CompressionAlgo[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    if (part !== 'none' && part !== 'zstd') throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'compression entries must be none or zstd');
    out.push(part);
  }
  return out;
}

/**
 * Load the auth token [SEC-3]. Errors name the source kind only, never the token or file content.
 * Trailing CR/LF of a token file are removed (files usually end with a newline).
 */
export function loadAuthToken(src: AuthTokenSource): string | null {
  const given = [src.authToken !== undefined, src.authTokenFile !== undefined, src.authTokenEnv !== undefined].filter(Boolean).length;
  if (given > 1) throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'give the auth token by one source only (file or environment variable)');
  let token: string | undefined;
  if (src.authToken !== undefined) token = src.authToken;
  else if (src.authTokenFile !== undefined) {
    try {
      token = readFileSync(src.authTokenFile, 'utf8').replace(/[\r\n]+$/, '');
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'cannot read the auth token file', {
        details: { errno: typeof code === 'string' ? code : 'UNKNOWN' },
      });
    }
  } else if (src.authTokenEnv !== undefined) {
    token = process.env[src.authTokenEnv];
    if (token === undefined) throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'the auth token environment variable is not set');
  } else return null;
  if (token.length === 0) throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'the auth token is empty');
  return token;
}

/** Turn an engine event into one log line (bigints as strings, nested objects flattened to JSON text). */
export function logEngineEvent(logger: PeerLogger, e: EngineEvent): void {
  const fields: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'type' || k === 'role') continue;
    if (typeof v === 'bigint') fields[k] = v.toString();
    else if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') fields[k] = v;
    else if (v !== undefined) fields[k] = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  }
  logger.log(e.type, fields);
}

// ---------------------------------------------------------------------------------------------
// Wire helpers for fault injection
// ---------------------------------------------------------------------------------------------

export function prefixFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, LENGTH_PREFIX_BYTES);
  return out;
}

/** A load_files request payload (one padding file) whose encoding is `targetBytes` long (or the next size CBOR allows). */
export function paddedRequestPayload(targetBytes: number): Uint8Array {
  const make = (n: number): Uint8Array =>
    encodeRpcPayload({ type: 'request', body: { type: 'load_files', revision: 0n, files: [{ path: 'pad.txt', text: 'x'.repeat(Math.max(0, n)) }] } });
  let n = Math.max(0, targetBytes - 64);
  for (let i = 0; i < 6; i++) {
    const len = make(n).length;
    if (len === targetBytes) break;
    n += targetBytes - len;
    if (n < 0) n = 0;
  }
  let out = make(n);
  while (out.length < targetBytes) out = make(++n);
  return out;
}

/** A Packet frame body (no prefix) whose encoded length is `targetBytes` (or just above), carrying a valid request. */
export function paddedPacketFrame(id: bigint, targetBytes: number): Uint8Array {
  let dataBytes = Math.max(1, targetBytes - 64);
  let body = encodeWireFrame({ type: 'packet', body: { id, compression: 'none', data: paddedRequestPayload(dataBytes) } });
  for (let i = 0; i < 6 && body.length !== targetBytes; i++) {
    dataBytes += targetBytes - body.length;
    body = encodeWireFrame({ type: 'packet', body: { id, compression: 'none', data: paddedRequestPayload(Math.max(1, dataBytes)) } });
  }
  return body;
}

/** Frame bodies carrying `payload` as chunks of `chunkBytes` (seq 0.., last on the final), no negotiation checks. */
export function chunkFrames(id: bigint, payload: Uint8Array, chunkBytes: number, compression: CompressionAlgo = 'none'): WireFrame[] {
  const out: WireFrame[] = [];
  const n = Math.max(1, Math.ceil(payload.length / chunkBytes));
  for (let seq = 0; seq < n; seq++) {
    out.push({
      type: 'packet_chunk',
      body: { id, compression, seq, last: seq === n - 1, data: payload.subarray(seq * chunkBytes, (seq + 1) * chunkBytes) },
    });
  }
  return out;
}

/** Encode a payload the way the engine would, but with the packet limit lifted (for over-limit faults). */
export function packetFramesUnchecked(id: bigint, payload: Uint8Array, caps: Capabilities): Uint8Array[] {
  return encodePacketFrames(id, payload, {
    maxFrameBytes: Math.min(caps.max_frame_len, HARD_MAX_MESSAGE_BYTES),
    maxPacketBytes: HARD_MAX_MESSAGE_BYTES,
    compression: ['none'],
    chunking: caps.supports_chunking,
  });
}

/**
 * Read exactly one frame (pre-handshake limit [FRM-4]) from a stream; every later byte is kept,
 * untouched, in `leftover` for the connection. Used by the fault-mode handshakes that the engine
 * helpers cannot express. Delegates to the engine's {@link readHandshakeFrame}: bytes after the
 * first frame are never parsed here, so a next frame's prefix that shares a chunk with the end of
 * this one is kept, and a later frame above 1 MiB is judged by the negotiated limit, not by this one.
 */
export function readOneFrame(stream: Duplex, maxFrameBytes = PRE_HANDSHAKE_MAX_FRAME_BYTES): Promise<{ body: Uint8Array; leftover: Uint8Array[] }> {
  return readHandshakeFrame(stream, maxFrameBytes);
}

/** Ids used by fault actions, far above anything the allocators reach in a test run, with the sender's parity. */
export function faultId(role: 'router' | 'worker', n: number): bigint {
  return (1n << 62n) + BigInt(n) * 2n + (role === 'worker' ? 1n : 0n);
}

