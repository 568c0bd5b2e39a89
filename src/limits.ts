/**
 * Every numeric limit and timeout of the protocol, in one place, with units in the names.
 * Values are those of the Rust reference (see spec/14-limits.md for the table and citations).
 *
 * @module
 */
import { ErrorCodes, ProtocolError } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// --- framing ---
/** Limit on any frame read or written before the handshake completes. [FRM-4] */
export const PRE_HANDSHAKE_MAX_FRAME_BYTES = 1 * MiB;
/** Hard cap on any frame or payload, independent of negotiation. [CBOR limits] */
export const HARD_MAX_MESSAGE_BYTES = 64 * MiB;
/** Capabilities::default() values for max_frame_len / max_packet_len. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * MiB;
export const DEFAULT_MAX_PACKET_BYTES = 64 * MiB;
/** Size of the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;

// --- CBOR preflight (validate_cbor.rs) ---
export const MAX_CBOR_NESTING_DEPTH = 64;
export const MAX_CBOR_MAP_PAIRS = 1024;
export const MAX_CBOR_MAP_KEY_BYTES = 64;
/** Strings under the keys `type` and `compression`. */
export const MAX_TAG_STRING_BYTES = 64;
/** path, name, auth_token, message, details, worker_build, query. */
export const MAX_SMALL_STRING_BYTES = 16 * KiB;
/** FileText.text and any other text. */
export const MAX_TEXT_BYTES = 8 * MiB;
export const MAX_ARRAY_ITEMS = 1_000_000;
export const MAX_FILES_PER_MESSAGE = 100_000;
export const MAX_DIAGNOSTICS_PER_MESSAGE = 100_000;
export const MAX_SUPPORTED_COMPRESSION_ITEMS = 32;
/**
 * Cap on arrays under the key `items` (a legacy v2 key the reference validator still caps, with
 * ≥ MIN_BYTES_PER_LARGE_ARRAY_ITEM bytes per item; validate_cbor.rs). Added by the codec. [CBOR-9]
 */
export const MAX_LEGACY_SEARCH_ITEMS = 10_000;
/** Minimum encoded bytes per item assumed for `files` / `diagnostics` arrays when checking declared lengths. */
export const MIN_BYTES_PER_LARGE_ARRAY_ITEM = 8;

// --- packets, compression, chunking ---
/** Payloads smaller than this are never compressed by the sender. */
export const COMPRESSION_THRESHOLD_BYTES = 1024;
export const ZSTD_LEVEL = 3;
/** First chunk data size is max(max_frame_len − this, 1). */
export const CHUNK_OVERHEAD_GUESS_BYTES = 256;
/** Chunk data size shrinks by this until the encoded chunk fits. */
export const CHUNK_SHRINK_STEP_BYTES = 128;
export const MAX_CONCURRENT_REASSEMBLIES = 32;
export const MAX_REASSEMBLY_TOTAL_BYTES = 256 * MiB;
/** Streaming decompression reads in steps of this size. */
export const DECOMPRESS_STEP_BYTES = 8 * KiB;

// --- timeouts ---
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/** How long a request waits for a handler before the fallback invalid_request answer. */
export const MISSING_HANDLER_WAIT_MS = 500;
export const MAX_BUFFERED_NOTIFICATIONS = 16;
export const WRITE_QUEUE_MAX_FRAMES = 256;
/** Bytes a stream may buffer before the engine queues frames instead of writing (then bounded by WRITE_QUEUE_MAX_FRAMES). Engine choice. */
export const WRITE_BUFFER_HIGH_WATER_BYTES = 1024 * 1024;
/** A local graceful close() flushes queued frames for at most this long, then destroys the stream (a peer that stops reading cannot hang close()). Engine choice, not from the reference. */
export const GRACEFUL_CLOSE_TIMEOUT_MS = 2_000;

// --- transports and reference peers (src/transport, src/peers) ---
/** Default limit on opening a transport stream, TLS handshake included. */
export const TRANSPORT_CONNECT_TIMEOUT_MS = 10_000;
/** nova-worker sleeps this long after answering Shutdown before it closes (worker:229-233). */
export const WORKER_SHUTDOWN_LINGER_MS = 50;
/** nova-router waits this long for a Shutdown response before closing (router:73). */
export const ROUTER_SHUTDOWN_WAIT_MS = 2_000;
/** nova-router: connections beyond this are dropped silently (router:97-101). */
export const ROUTER_MAX_CONNECTIONS = 1024;
/** nova-router: handshakes in progress beyond this are dropped silently (router:69). */
export const ROUTER_MAX_CONCURRENT_HANDSHAKES = 128;
/** nova-router waits this long for a response to one of its requests (WORKER_RPC_READ_TIMEOUT, router:70-71). */
export const ROUTER_CALL_TIMEOUT_MS = 600_000;

/** Limits a decoder applies to one frame's CBOR. */
export interface DecodeLimits {
  /** Largest accepted encoded size of the item, in bytes (≤ HARD_MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** Largest accepted `data` byte string / packet, in bytes. */
  maxPacketBytes: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxMessageBytes: HARD_MAX_MESSAGE_BYTES,
  maxPacketBytes: HARD_MAX_MESSAGE_BYTES,
});

/** Validate a byte limit once at set-up: a positive safe integer no larger than `ceiling`. */
export function validateByteLimit(name: string, value: number, ceiling: number = HARD_MAX_MESSAGE_BYTES): number {
  if (!Number.isSafeInteger(value) || value <= 0 || value > ceiling) {
    throw new ProtocolError(ErrorCodes.CONFIG_INVALID, `${name} must be an integer in 1..${ceiling}, got ${String(value)}`, {
      details: { limit: name, ceiling },
    });
  }
  return value;
}

/** Merge and validate partial decode limits. */
export function resolveDecodeLimits(partial: Partial<DecodeLimits> = {}): DecodeLimits {
  return {
    maxMessageBytes: validateByteLimit('maxMessageBytes', partial.maxMessageBytes ?? DEFAULT_DECODE_LIMITS.maxMessageBytes),
    maxPacketBytes: validateByteLimit('maxPacketBytes', partial.maxPacketBytes ?? DEFAULT_DECODE_LIMITS.maxPacketBytes),
  };
}
