/**
 * One error class for every protocol-level failure, with a closed set of stable codes.
 *
 * Messages never echo peer-controlled strings (types, keys, tokens, messages): only our own
 * words and numbers. `details` carries numbers and our own identifiers only.
 *
 * @module
 */

/**
 * The stable error codes. Never renamed or reused; new ones are only appended.
 * The documented list lives in `docs/error-codes.md` (generated from this table's comments).
 */
export const ErrorCodes = {
  // --- framing ---
  /** A length prefix exceeds the limit in force (pre-handshake 1 MiB, negotiated max_frame_len or the 64 MiB hard cap). */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** A zero-length frame. */
  FRAME_EMPTY: 'FRAME_EMPTY',
  /** The stream ended inside a length prefix or a frame body. */
  FRAME_TRUNCATED: 'FRAME_TRUNCATED',

  // --- CBOR well-formedness and pre-decode limits (the preflight) ---
  /** Not well-formed CBOR: reserved additional info, bad break, truncated item, bad simple value. */
  CBOR_MALFORMED: 'CBOR_MALFORMED',
  /** Bytes remain after the single top-level item. */
  CBOR_TRAILING_BYTES: 'CBOR_TRAILING_BYTES',
  /** Nesting deeper than the limit. */
  CBOR_TOO_DEEP: 'CBOR_TOO_DEEP',
  /** A declared length (string or container) exceeds the bytes left in the input. */
  CBOR_LENGTH_EXCEEDS_INPUT: 'CBOR_LENGTH_EXCEEDS_INPUT',
  /** A per-field or per-container cap was exceeded (map pairs, array items, string bytes, key bytes). */
  CBOR_LIMIT_EXCEEDED: 'CBOR_LIMIT_EXCEEDED',
  /** A map key that is not a text string. */
  CBOR_MAP_KEY_NOT_TEXT: 'CBOR_MAP_KEY_NOT_TEXT',
  /** The same key twice in one map. */
  CBOR_DUPLICATE_KEY: 'CBOR_DUPLICATE_KEY',
  /** A text string that is not valid UTF-8. */
  CBOR_INVALID_UTF8: 'CBOR_INVALID_UTF8',
  /** An encoded message larger than the 64 MiB hard cap. */
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',

  // --- schema (well-formed CBOR that is not a valid message) ---
  /** A required field is missing (or a fixed-length array is too short). [MSG-1] */
  SCHEMA_MISSING_FIELD: 'SCHEMA_MISSING_FIELD',
  /** A field has the wrong type (in the JSON view also: an unexpected key). */
  SCHEMA_WRONG_TYPE: 'SCHEMA_WRONG_TYPE',
  /** An integer outside its field's range (u32 / u64). */
  SCHEMA_INT_RANGE: 'SCHEMA_INT_RANGE',
  /** An unknown adjacently-tagged variant that carries a non-null body (the Rust decoder refuses these). */
  SCHEMA_UNKNOWN_VARIANT_WITH_BODY: 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY',
  /** A unit variant (e.g. cancel, ack) with a non-null body. */
  SCHEMA_UNIT_VARIANT_WITH_BODY: 'SCHEMA_UNIT_VARIANT_WITH_BODY',
  /** A struct variant with a missing or null body. */
  SCHEMA_MISSING_BODY: 'SCHEMA_MISSING_BODY',

  // --- packets, compression, chunking ---
  /** A packet's data, a reassembled packet or a decompressed payload exceeds the negotiated max_packet_len. [DATA-4, CHK-7, CMP-4] */
  PACKET_TOO_LARGE: 'PACKET_TOO_LARGE',
  /** A compression that was not negotiated, or `unknown`. */
  COMPRESSION_UNSUPPORTED: 'COMPRESSION_UNSUPPORTED',
  /** zstd is needed but no zstd backend could be loaded on this machine. */
  COMPRESSION_UNAVAILABLE: 'COMPRESSION_UNAVAILABLE',
  /** Malformed compressed data or a checksum mismatch. */
  DECOMPRESSION_FAILED: 'DECOMPRESSION_FAILED',
  /** A PacketChunk arrived although chunking was not negotiated. [CHK-2] */
  CHUNKING_NOT_NEGOTIATED: 'CHUNKING_NOT_NEGOTIATED',
  /** The chunks of one request id are not numbered 0, 1, 2, … without gaps. [CHK-3] */
  CHUNK_SEQ_MISMATCH: 'CHUNK_SEQ_MISMATCH',
  /** The chunks of one request id do not all carry the same compression. [CHK-4] */
  CHUNK_COMPRESSION_CHANGED: 'CHUNK_COMPRESSION_CHANGED',
  /** More chunked packets under reassembly at once than the limit allows. [CHK-5] */
  TOO_MANY_CHUNK_STREAMS: 'TOO_MANY_CHUNK_STREAMS',
  /** The bytes buffered across all reassemblies exceed the limit. [CHK-6] */
  REASSEMBLY_LIMIT_EXCEEDED: 'REASSEMBLY_LIMIT_EXCEEDED',

  // --- handshake and negotiation ---
  /** The handshake did not complete within its timeout. [HS-6] */
  HANDSHAKE_TIMEOUT: 'HANDSHAKE_TIMEOUT',
  /** The first frame was not the one the handshake requires (e.g. not a Hello). */
  HANDSHAKE_UNEXPECTED_FRAME: 'HANDSHAKE_UNEXPECTED_FRAME',
  /** The router answered with Reject. */
  HANDSHAKE_REJECTED: 'HANDSHAKE_REJECTED',
  /** A Welcome that breaks the negotiation rules against our own offer. */
  HANDSHAKE_INVALID_WELCOME: 'HANDSHAKE_INVALID_WELCOME',
  /** Local configuration makes a handshake impossible (e.g. zero limits). */
  HANDSHAKE_FAILED: 'HANDSHAKE_FAILED',

  // --- data plane ---
  /** A packet or chunk carries the reserved request id 0. [ID-2] */
  REQUEST_ID_ZERO: 'REQUEST_ID_ZERO',
  /** An incoming request id has the wrong parity for its sender (router ids are even, worker ids odd). [ID-3] */
  REQUEST_ID_PARITY: 'REQUEST_ID_PARITY',
  /** An incoming request reuses an id that is still in flight. [ID-4] */
  REQUEST_ID_DUPLICATE: 'REQUEST_ID_DUPLICATE',
  /** A frame that is not allowed in the current connection state (e.g. a second Hello). */
  UNEXPECTED_FRAME: 'UNEXPECTED_FRAME',
  /** The peer's response is not usable (e.g. RpcResult `unknown`). */
  UNEXPECTED_RESPONSE: 'UNEXPECTED_RESPONSE',
  /** The remote side answered a call with an RpcError (see `details.rpcCode`). */
  REMOTE_ERROR: 'REMOTE_ERROR',
  /** The call was cancelled: aborted locally through its AbortSignal, or answered by the peer with the cancelled error. */
  CANCELLED: 'CANCELLED',
  /** A local deadline expired (a call timeout, a connect timeout). */
  TIMEOUT: 'TIMEOUT',
  /** The connection closed while the operation was pending; pending calls fail with this code unless an earlier error closed it. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',

  // --- local ---
  /** A value handed to an encoder is not a valid message (wrong type, out-of-range integer). */
  ENCODE_INVALID_VALUE: 'ENCODE_INVALID_VALUE',
  /** Invalid local configuration or API use (for example a limit outside its range). */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** An address that is not `unix:/abs/path`, `tcp:host:port`, `tcp+tls:host:port` or `pipe:name`. [TRN-1] */
  ADDRESS_INVALID: 'ADDRESS_INVALID',
  /** Plaintext TCP carrying an auth token, or to a non-loopback host, without the explicit opt-in. [TRN-2] */
  INSECURE_TRANSPORT_REFUSED: 'INSECURE_TRANSPORT_REFUSED',
  /** The socket or TLS layer failed (refused, reset, certificate rejected). */
  TRANSPORT_ERROR: 'TRANSPORT_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Values allowed in `details`: numbers, booleans and our own identifiers, never peer text. */
export type ErrorDetailValue = number | bigint | boolean | string;

const BRAND = Symbol.for('nova-conformance.ProtocolError');

export interface ProtocolErrorOptions {
  /** The spec requirement id this error enforces, e.g. `FRM-3`. */
  rule?: string;
  details?: Record<string, ErrorDetailValue>;
  cause?: unknown;
}

/**
 * The typed error every codec, engine and transport function throws on bad input.
 *
 * @example
 * try { decodeWireFrame(bytes) } catch (e) { if (isProtocolError(e) && e.code === 'CBOR_TOO_DEEP') … }
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ErrorCode;
  readonly rule: string | undefined;
  readonly details: Readonly<Record<string, ErrorDetailValue>>;

  constructor(code: ErrorCode, message: string, options: ProtocolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.rule = options.rule;
    this.details = Object.freeze({ ...(options.details ?? {}) });
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** A JSON-safe form for reports and logs (bigints as decimal strings). */
  toJSON(): { name: string; code: ErrorCode; message: string; rule?: string; details: Record<string, string | number | boolean> } {
    const details: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(this.details)) details[k] = typeof v === 'bigint' ? v.toString() : v;
    return { name: this.name, code: this.code, message: this.message, ...(this.rule ? { rule: this.rule } : {}), details };
  }
}

/** `instanceof` that also works across two copies of this library. */
export function isProtocolError(value: unknown): value is ProtocolError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** Shorthand used throughout the codebase. */
export function protocolError(
  code: ErrorCode,
  message: string,
  rule?: string,
  details?: Record<string, ErrorDetailValue>,
): ProtocolError {
  return new ProtocolError(code, message, { ...(rule ? { rule } : {}), ...(details ? { details } : {}) });
}
