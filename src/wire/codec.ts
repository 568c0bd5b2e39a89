/**
 * Message model <-> generic CBOR values, with the semantics of the Rust reference
 * (serde 1.0.152 derive + serde_cbor 0.11 over nova-remote-proto's types).
 *
 * Decoding mirrors serde, including its less obvious corners:
 * - unknown keys are ignored [FWD-1]; a missing `Option` field is `null`; Symbol.line/column
 *   default to 0 [MSG-2]; a repeated field name of the struct being read is refused;
 * - enum tags may be names, UTF-8 byte strings or variant indices [CBOR-11]; an unknown name or an
 *   index past the end selects `unknown` [FWD-2];
 * - unit variants accept no body or a null body; any other body is refused, for `unknown` too
 *   [CBOR-12]; struct variants refuse a null or missing body;
 * - structs and tagged enums may also arrive as arrays (serde's `visit_seq`);
 * - inside internally tagged enums (Request, RpcResult) and in a body that precedes its `type`
 *   key, serde buffers values as `Content`, which changes three details: an `undefined` in an
 *   Option field reads as None, and plain enums (error code, severity) accept only names or a
 *   single-key map, not indices or byte strings. `content` below tracks that.
 * - `data` accepts a byte string or an array of u8 [CBOR-10].
 *
 * Encoding validates the model (throws ENCODE_INVALID_VALUE) and builds plain objects in the
 * Rust declaration order, integers normalised to number below 2^32 and bigint above [CBOR-1..5].
 *
 * @module
 */
import { ErrorCodes, ProtocolError, type ErrorCode } from '../errors.js';
import { HARD_MAX_MESSAGE_BYTES, resolveDecodeLimits, type DecodeLimits } from '../limits.js';
import { CborFloat, IndefiniteText, TAGGED_NULL, decodeCbor, encodeCbor, encodeCborShared, repeatedKeys, type CborValue } from './cbor.js';
import { bytesAt, headBytes, writeHead } from './cbor-head.js';
import {
  COMPRESSION_ALGOS,
  DIAGNOSTIC_SEVERITIES,
  NOTIFICATION_TYPES,
  REJECT_CODES,
  REQUEST_TYPES,
  RESPONSE_TYPES,
  RPC_ERROR_CODES,
  RPC_PAYLOAD_TYPES,
  WIRE_FRAME_TYPES,
} from './model.js';
import type {
  CachedIndexInfo,
  Capabilities,
  CompressionAlgo,
  DiagnosticSeverity,
  FileText,
  HandshakeReject,
  IndexSymbol,
  Notification,
  PacketBody,
  PacketChunkBody,
  ProtocolVersion,
  RejectCode,
  RemoteDiagnostic,
  Request,
  Response,
  RouterWelcome,
  RpcError,
  RpcErrorCode,
  RpcPayload,
  RpcResult,
  ShardIndex,
  SupportedVersions,
  WireFrame,
  WorkerHello,
  WorkerStats,
} from './model.js';

/**
 * Decode verdicts where this codec deliberately differs from the Rust reference, by vector name
 * (interop-vectors.jsonl `decode_only`). The interop test expects the opposite verdict for exactly
 * these names and fails if one of them starts agreeing with Rust (so the list cannot go stale).
 */
export const KNOWN_REFERENCE_DIFFERENCES: ReadonlyArray<{ readonly vector: string; readonly reason: string }> = Object.freeze([]);

// Variant orders (used to read variant indices) come from the model, which lists them in Rust
// declaration order [CBOR-11].
const RESPONSE_VARIANT_INDEX_ORDER = RESPONSE_TYPES;
const WIRE_NAMES = WIRE_FRAME_TYPES;
const PAYLOAD_NAMES = RPC_PAYLOAD_TYPES;
const REQUEST_NAMES = REQUEST_TYPES;
const NOTIFICATION_NAMES = NOTIFICATION_TYPES;
const RESULT_NAMES = ['ok', 'err', 'unknown'] as const;
const COMPRESSION_NAMES = COMPRESSION_ALGOS;
const REJECT_NAMES = REJECT_CODES;
const RPC_CODE_NAMES = RPC_ERROR_CODES;
const SEVERITY_NAMES = DIAGNOSTIC_SEVERITIES;

// ------------------------------------------------------------------------------------------------
// decoding helpers

function fail(code: ErrorCode, message: string, rule: string, details?: Record<string, string | number>): never {
  // Only our own schema words (field and type names) go into messages, never peer text [ERR-3].
  throw new ProtocolError(code, message, { rule, ...(details ? { details } : {}) });
}

function kindOf(v: CborValue): string {
  if (v === null || v === TAGGED_NULL) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' || typeof v === 'bigint') return 'integer';
  if (typeof v === 'string' || v instanceof IndefiniteText) return 'text string';
  if (typeof v === 'boolean') return 'boolean';
  if (v instanceof Uint8Array) return 'byte string';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Map) return 'map';
  if (v instanceof CborFloat) return 'float';
  return 'value';
}

function wrongType(v: CborValue, expected: string): never {
  return fail(ErrorCodes.SCHEMA_WRONG_TYPE, `invalid type: ${kindOf(v)}, expected ${expected}`, 'MSG-1', { expected });
}

const isUnit = (v: CborValue): boolean => v === null || v === undefined || v === TAGGED_NULL;

type Reader<T> = (v: CborValue, content: boolean) => T;

function readU32(v: CborValue): number {
  if (typeof v === 'number') {
    if (v >= 0 && v <= 0xffffffff) return v;
    return fail(ErrorCodes.SCHEMA_INT_RANGE, 'integer out of range for u32', 'MSG-1');
  }
  if (typeof v === 'bigint') {
    if (v >= 0n && v <= 0xffffffffn) return Number(v);
    return fail(ErrorCodes.SCHEMA_INT_RANGE, 'integer out of range for u32', 'MSG-1');
  }
  return wrongType(v, 'u32');
}

function readU64(v: CborValue): bigint {
  if (typeof v === 'number') {
    if (v >= 0) return BigInt(v);
    return fail(ErrorCodes.SCHEMA_INT_RANGE, 'integer out of range for u64', 'MSG-1');
  }
  if (typeof v === 'bigint') {
    if (v >= 0n && v <= 0xffffffffffffffffn) return v;
    return fail(ErrorCodes.SCHEMA_INT_RANGE, 'integer out of range for u64', 'MSG-1');
  }
  return wrongType(v, 'u64');
}

function readBool(v: CborValue): boolean {
  if (typeof v === 'boolean') return v;
  return wrongType(v, 'a boolean');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function bytesToText(v: Uint8Array): string {
  try {
    return utf8.decode(v);
  } catch {
    return fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'invalid value: byte string is not UTF-8, expected a string', 'MSG-1');
  }
}

/** serde `String`: text (definite or not) or a UTF-8 byte string. */
function readString(v: CborValue): string {
  if (typeof v === 'string') return v;
  if (v instanceof IndefiniteText) return v.value;
  if (v instanceof Uint8Array) return bytesToText(v);
  return wrongType(v, 'a string');
}

/**
 * serde borrowed `&str` (the reference's bounded small_string/file_text fields): like
 * {@link readString} but an indefinite-length text cannot be borrowed and is refused.
 */
function readBorrowedString(v: CborValue): string {
  if (v instanceof IndefiniteText) return wrongType(v, 'a borrowed string');
  return readString(v);
}

function option<T>(read: Reader<T>): Reader<T | null> {
  return (v, content) => {
    if (v === null) return null;
    // serde_cbor's deserialize_option peeks for the byte 0xf6 only (a tagged null or an undefined
    // is Some(unit), an error); buffered Content turns both into Unit, which reads as None
    if ((v === undefined || v === TAGGED_NULL) && content) return null;
    if (v === TAGGED_NULL) return wrongType(v, 'option');
    return read(v, content);
  };
}

function readVec<T>(read: Reader<T>): Reader<T[]> {
  return (v, content) => {
    if (!Array.isArray(v)) return wrongType(v, 'a sequence');
    const out = new Array<T>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = read(v[i], content);
    return out;
  };
}

/** Variant index for a tag (adjacent or internal): name, UTF-8 bytes, or u64 index; else unknown. */
function readIdentifier(v: CborValue, names: readonly string[]): number {
  let name: string | undefined;
  if (typeof v === 'string') name = v;
  else if (v instanceof IndefiniteText) name = v.value;
  else if (v instanceof Uint8Array) {
    try {
      name = utf8.decode(v);
    } catch {
      return names.length - 1;
    }
  } else if (typeof v === 'number' || typeof v === 'bigint') {
    if (v < 0) return wrongType(v, 'variant identifier');
    // serde(other): an index past the end selects the catch-all variant
    return v < names.length ? Number(v) : names.length - 1;
  } else return wrongType(v, 'variant identifier');
  const i = names.indexOf(name);
  // `unknown` itself is an ordinary name here (it maps to the catch-all either way)
  return i >= 0 ? i : names.length - 1;
}

/** A plain (externally tagged, all-unit) enum such as CompressionAlgo, via serde's deserialize_enum. */
function readUnitEnum<T extends string>(v: CborValue, names: readonly T[], content: boolean): T {
  if (content) {
    // serde ContentDeserializer::deserialize_enum: a string, or a map with a single key
    if (typeof v === 'string' || v instanceof IndefiniteText) return names[readIdentifier(v, names)]!;
    if (v instanceof Map) {
      if (v.size !== 1 || repeatedKeys(v) !== undefined) return fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'invalid value: map, expected map with a single key', 'MSG-1');
      const [key, value] = v.entries().next().value as [string, CborValue];
      if (!isUnit(value)) return wrongType(value, 'unit variant');
      return names[readIdentifier(key, names)]!;
    }
    return wrongType(v, 'string or map');
  }
  // serde_cbor deserialize_enum: [variant, unit] (legacy array form), {variant: unit}, or the
  // identifier itself
  if (Array.isArray(v)) {
    if (v.length !== 2) return fail(ErrorCodes.SCHEMA_WRONG_TYPE, `invalid length ${v.length} for an enum in array form`, 'MSG-1');
    if (!isUnit(v[1])) return wrongType(v[1], 'unit variant');
    return names[readIdentifier(v[0], names)]!;
  }
  if (v instanceof Map) {
    if (v.size !== 1 || repeatedKeys(v) !== undefined) return fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'invalid value: map, expected map with a single key', 'MSG-1');
    const [key, value] = v.entries().next().value as [string, CborValue];
    if (!isUnit(value)) return wrongType(value, 'unit variant');
    return names[readIdentifier(key, names)]!;
  }
  return names[readIdentifier(v, names)]!;
}

function readData(v: CborValue): Uint8Array {
  // A plain Uint8Array view whatever the input type was (a Buffer input gives Buffer slices).
  if (v instanceof Uint8Array) return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) {
    const out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const b = v[i];
      if (typeof b === 'number' || typeof b === 'bigint') {
        if (b < 0 || b > 255) fail(ErrorCodes.SCHEMA_INT_RANGE, 'integer out of range for u8', 'MSG-1');
        out[i] = Number(b);
      } else wrongType(b, 'u8');
    }
    return out;
  }
  return wrongType(v, 'a CBOR byte string (or a sequence of u8)');
}

interface Field {
  readonly name: string;
  readonly read: Reader<unknown>;
  /** 'option': absent -> null; 'zero': absent -> 0 (serde(default)); undefined: required. */
  readonly absent?: 'option' | 'zero';
}

/** A struct from a map (by name) or an array (by position), as serde-derived visitors allow. */
function readStruct<T>(v: CborValue, what: string, fields: readonly Field[], content: boolean): T {
  const out: Record<string, unknown> = {};
  if (v instanceof Map) {
    const repeated = repeatedKeys(v);
    for (const f of fields) {
      if (repeated?.has(f.name)) fail(ErrorCodes.CBOR_DUPLICATE_KEY, `duplicate field \`${f.name}\` in ${what}`, 'CBOR-7', { field: f.name });
      const x = v.get(f.name);
      if (x !== undefined || v.has(f.name)) out[f.name] = f.read(x, content);
      else if (f.absent === 'option') out[f.name] = null;
      else if (f.absent === 'zero') out[f.name] = 0;
      else fail(ErrorCodes.SCHEMA_MISSING_FIELD, `missing field \`${f.name}\` in ${what}`, 'MSG-1', { field: f.name });
    }
    return out as T;
  }
  if (Array.isArray(v)) {
    if (v.length > fields.length) fail(ErrorCodes.SCHEMA_WRONG_TYPE, `too many elements for ${what}`, 'MSG-1', { items: v.length });
    fields.forEach((f, i) => {
      if (i < v.length) out[f.name] = f.read(v[i], content);
      else if (f.absent === 'zero') out[f.name] = 0;
      else fail(ErrorCodes.SCHEMA_MISSING_FIELD, `invalid length ${v.length}, expected ${what}`, 'MSG-1', { items: v.length });
    });
    return out as T;
  }
  if (isUnit(v)) return fail(ErrorCodes.SCHEMA_MISSING_BODY, `invalid type: ${kindOf(v)}, expected ${what}`, 'CBOR-12');
  return wrongType(v, what);
}

const struct =
  <T>(what: string, fields: readonly Field[]): Reader<T> =>
  (v, content) =>
    readStruct<T>(v, what, fields, content);

const u32: Reader<number> = (v) => readU32(v);
const u64: Reader<bigint> = (v) => readU64(v);
const bool: Reader<boolean> = (v) => readBool(v);
const str: Reader<string> = (v) => readString(v);
const borrowedStr: Reader<string> = (v) => readBorrowedString(v);
const unitEnum =
  <T extends string>(names: readonly T[]): Reader<T> =>
  (v, content) =>
    readUnitEnum(v, names, content);

const readVersion = struct<ProtocolVersion>('struct ProtocolVersion', [
  { name: 'major', read: u32 },
  { name: 'minor', read: u32 },
]);
const readCapabilities = struct<Capabilities>('struct Capabilities', [
  { name: 'max_frame_len', read: u32 },
  { name: 'max_packet_len', read: u32 },
  { name: 'supported_compression', read: readVec(unitEnum(COMPRESSION_NAMES)) },
  { name: 'supports_cancel', read: bool },
  { name: 'supports_chunking', read: bool },
]);
const readHello = struct<WorkerHello>('struct WorkerHello', [
  { name: 'shard_id', read: u32 },
  { name: 'auth_token', read: option(str), absent: 'option' },
  {
    name: 'supported_versions',
    read: struct<SupportedVersions>('struct SupportedVersions', [
      { name: 'min', read: readVersion },
      { name: 'max', read: readVersion },
    ]),
  },
  { name: 'capabilities', read: readCapabilities },
  {
    name: 'cached_index_info',
    read: option(
      struct<CachedIndexInfo>('struct CachedIndexInfo', [
        { name: 'revision', read: u64 },
        { name: 'index_generation', read: u64 },
        { name: 'symbol_count', read: u32 },
      ]),
    ),
    absent: 'option',
  },
  { name: 'worker_build', read: option(str), absent: 'option' },
]);
const readWelcome = struct<RouterWelcome>('struct RouterWelcome', [
  { name: 'worker_id', read: u32 },
  { name: 'shard_id', read: u32 },
  { name: 'revision', read: u64 },
  { name: 'chosen_version', read: readVersion },
  { name: 'chosen_capabilities', read: readCapabilities },
]);
const readReject = struct<HandshakeReject>('struct HandshakeReject', [
  { name: 'code', read: unitEnum(REJECT_NAMES) },
  { name: 'message', read: str },
]);
const readPacket = struct<PacketBody>('struct variant WireFrame::Packet', [
  { name: 'id', read: u64 },
  { name: 'compression', read: unitEnum(COMPRESSION_NAMES) },
  { name: 'data', read: readData },
]);
const readPacketChunk = struct<PacketChunkBody>('struct variant WireFrame::PacketChunk', [
  { name: 'id', read: u64 },
  { name: 'compression', read: unitEnum(COMPRESSION_NAMES) },
  { name: 'seq', read: u32 },
  { name: 'last', read: bool },
  { name: 'data', read: readData },
]);
const readFileText = struct<FileText>('struct FileText', [
  { name: 'path', read: borrowedStr },
  { name: 'text', read: borrowedStr },
]);
const readSymbol = struct<IndexSymbol>('struct Symbol', [
  { name: 'name', read: borrowedStr },
  { name: 'path', read: borrowedStr },
  { name: 'line', read: u32, absent: 'zero' },
  { name: 'column', read: u32, absent: 'zero' },
]);
const readShardIndex = struct<ShardIndex>('struct ShardIndex', [
  { name: 'shard_id', read: u32 },
  { name: 'revision', read: u64 },
  { name: 'index_generation', read: u64 },
  { name: 'symbols', read: readVec(readSymbol) },
]);
const readWorkerStats = struct<WorkerStats>('struct WorkerStats', [
  { name: 'shard_id', read: u32 },
  { name: 'revision', read: u64 },
  { name: 'index_generation', read: u64 },
  { name: 'file_count', read: u32 },
]);
const readDiagnostic = struct<RemoteDiagnostic>('struct RemoteDiagnostic', [
  { name: 'severity', read: unitEnum(SEVERITY_NAMES) },
  { name: 'line', read: u32 },
  { name: 'column', read: u32 },
  { name: 'message', read: borrowedStr },
]);
const readDiagnosticsBody = struct<{ diagnostics: RemoteDiagnostic[] }>('struct variant Response::Diagnostics', [
  { name: 'diagnostics', read: readVec(readDiagnostic) },
]);
const readRpcError = struct<RpcError>('struct RpcError', [
  { name: 'code', read: unitEnum(RPC_CODE_NAMES) },
  { name: 'message', read: str },
  { name: 'retryable', read: bool },
  { name: 'details', read: option(str), absent: 'option' },
]);

/**
 * Decode options beyond the limits. Default: Rust-identical verdicts.
 */
export interface DecodeOptions {
  /**
   * An unknown `type` of an adjacently tagged enum (WireFrame, RpcPayload, Response, Notification)
   * with a body that is present and not null: `'reject'` (default) refuses it like the Rust
   * reference (SCHEMA_UNKNOWN_VARIANT_WITH_BODY); `'ignore'` decodes it as `unknown` and drops the
   * body [FWD-5]. The body has passed the preflight either way; known unit variants with a body
   * are refused in both modes [CBOR-12].
   */
  unknownVariantBody?: 'reject' | 'ignore';
}

/**
 * The mode of the decode in progress. Decoding is synchronous and never re-enters itself, so a
 * module-level setting scoped by {@link withDecodeOptions} reaches the nested enum readers
 * without threading a parameter through every reader.
 */
let unknownVariantBody: 'reject' | 'ignore' = 'reject';

function withDecodeOptions<T>(opts: DecodeOptions | undefined, run: () => T): T {
  const mode = opts?.unknownVariantBody ?? 'reject';
  if (mode === unknownVariantBody) return run();
  const prev = unknownVariantBody;
  unknownVariantBody = mode;
  try {
    return run();
  } finally {
    unknownVariantBody = prev;
  }
}

/** Body reader per variant; null marks a unit variant. */
type VariantBodies = readonly (Reader<unknown> | null)[];

/**
 * An adjacently tagged enum (`{type, body}`), as serde derives it: unknown keys skipped, `type`
 * and `body` each at most once, a body before the type buffered (Content), or a 2-element array.
 */
function readAdjacent(v: CborValue, what: string, names: readonly string[], bodies: VariantBodies, content: boolean): { index: number; body: unknown } {
  let tag: CborValue;
  let hasBody: boolean;
  let body: CborValue;
  let bodyContent = content;
  if (v instanceof Map) {
    const repeated = repeatedKeys(v);
    if (repeated?.has('type')) fail(ErrorCodes.CBOR_DUPLICATE_KEY, `duplicate field \`type\` in ${what}`, 'CBOR-7', { field: 'type' });
    if (repeated?.has('body')) fail(ErrorCodes.CBOR_DUPLICATE_KEY, `duplicate field \`body\` in ${what}`, 'CBOR-7', { field: 'body' });
    if (!v.has('type')) fail(ErrorCodes.SCHEMA_MISSING_FIELD, `missing field \`type\` in ${what}`, 'CBOR-2', { field: 'type' });
    tag = v.get('type');
    hasBody = v.has('body');
    body = v.get('body');
    if (hasBody && !content) {
      // serde buffers a body that comes before the tag and reads it through Content later
      for (const k of v.keys()) {
        if (k === 'type') break;
        if (k === 'body') {
          bodyContent = true;
          break;
        }
      }
    }
  } else if (Array.isArray(v)) {
    if (v.length !== 2) {
      if (v.length > 2) fail(ErrorCodes.SCHEMA_WRONG_TYPE, `too many elements for ${what}`, 'MSG-1', { items: v.length });
      fail(ErrorCodes.SCHEMA_MISSING_FIELD, `invalid length ${v.length}, expected ${what}`, 'CBOR-2', { items: v.length });
    }
    tag = v[0];
    hasBody = true;
    body = v[1];
  } else {
    return wrongType(v, what);
  }
  const index = readIdentifier(tag, names);
  const reader = bodies[index];
  if (reader === null || reader === undefined) {
    // [CBOR-12] unit variants: no body or a null body; anything else is refused (unknown included)
    if (hasBody && !isUnit(body)) {
      if (index === names.length - 1) {
        // [FWD-5] tolerant mode: the (preflighted) body of an unknown variant is ignored.
        if (unknownVariantBody === 'ignore') return { index, body: undefined };
        fail(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY, `unknown variant of ${what} with a non-null body`, 'CBOR-12');
      }
      fail(ErrorCodes.SCHEMA_UNIT_VARIANT_WITH_BODY, `unit variant ${what}::${names[index]} with a non-null body`, 'CBOR-12');
    }
    return { index, body: undefined };
  }
  if (!hasBody || isUnit(body)) fail(ErrorCodes.SCHEMA_MISSING_BODY, `missing body for ${what}::${names[index]}`, 'CBOR-12');
  return { index, body: reader(body, bodyContent) };
}

/**
 * An internally tagged enum (tag key inside the map). The other entries are buffered by serde
 * (Content) and read from there; unit variants ignore them.
 */
function readInternal(v: CborValue, what: string, tagKey: string, names: readonly string[], bodies: VariantBodies): { index: number; fields: unknown } {
  let tag: CborValue;
  let rest: CborValue;
  if (v instanceof Map) {
    if (repeatedKeys(v)?.has(tagKey)) fail(ErrorCodes.CBOR_DUPLICATE_KEY, `duplicate field \`${tagKey}\` in ${what}`, 'CBOR-7', { field: tagKey });
    if (!v.has(tagKey)) fail(ErrorCodes.SCHEMA_MISSING_FIELD, `missing field \`${tagKey}\` in ${what}`, 'CBOR-4', { field: tagKey });
    tag = v.get(tagKey);
    rest = v; // struct readers look up their own names only; the tag key is not one of them
  } else if (Array.isArray(v)) {
    if (v.length === 0) fail(ErrorCodes.SCHEMA_MISSING_FIELD, `missing field \`${tagKey}\` in ${what}`, 'CBOR-4', { field: tagKey });
    tag = v[0];
    rest = v.slice(1);
  } else {
    return wrongType(v, what);
  }
  const index = readIdentifier(tag, names);
  const reader = bodies[index];
  if (reader === null || reader === undefined) return { index, fields: undefined };
  return { index, fields: reader(rest, true) };
}

const REQUEST_BODIES: VariantBodies = [
  struct('struct variant Request::LoadFiles', [
    { name: 'revision', read: u64 },
    { name: 'files', read: readVec(readFileText) },
  ]),
  struct('struct variant Request::IndexShard', [
    { name: 'revision', read: u64 },
    { name: 'files', read: readVec(readFileText) },
  ]),
  struct('struct variant Request::UpdateFile', [
    { name: 'revision', read: u64 },
    { name: 'file', read: readFileText },
  ]),
  struct('struct variant Request::Diagnostics', [{ name: 'path', read: borrowedStr }]),
  null,
  null,
  null,
];

const readRequest: Reader<Request> = (v) => {
  const { index, fields } = readInternal(v, 'internally tagged enum Request', 'type', REQUEST_NAMES, REQUEST_BODIES);
  return { type: REQUEST_NAMES[index]!, ...(fields as object) } as Request;
};

const RESPONSE_BODIES: VariantBodies = [null, readShardIndex, readDiagnosticsBody, readWorkerStats, null, null];
const readResponse: Reader<Response> = (v, content) => {
  const { index, body } = readAdjacent(v, 'adjacently tagged enum Response', RESPONSE_VARIANT_INDEX_ORDER, RESPONSE_BODIES, content);
  const type = RESPONSE_VARIANT_INDEX_ORDER[index]!;
  return (body === undefined ? { type } : { type, body }) as Response;
};

const RESULT_BODIES: VariantBodies = [
  struct('struct variant RpcResult::Ok', [{ name: 'value', read: readResponse }]),
  struct('struct variant RpcResult::Err', [{ name: 'error', read: readRpcError }]),
  null,
];
const readRpcResult: Reader<RpcResult> = (v) => {
  const { index, fields } = readInternal(v, 'internally tagged enum RpcResult', 'status', RESULT_NAMES, RESULT_BODIES);
  return { status: RESULT_NAMES[index]!, ...(fields as object) } as RpcResult;
};

const NOTIFICATION_BODIES: VariantBodies = [readShardIndex, null];
const readNotification: Reader<Notification> = (v, content) => {
  const { index, body } = readAdjacent(v, 'adjacently tagged enum Notification', NOTIFICATION_NAMES, NOTIFICATION_BODIES, content);
  const type = NOTIFICATION_NAMES[index]!;
  return (body === undefined ? { type } : { type, body }) as Notification;
};

const PAYLOAD_BODIES: VariantBodies = [readRequest, readRpcResult, readNotification, null, null];
const WIRE_BODIES: VariantBodies = [readHello, readWelcome, readReject, readPacket, readPacketChunk, null];

/** Generic CBOR value -> WireFrame (throws ProtocolError). */
export function wireFrameFromCbor(v: CborValue): WireFrame {
  const { index, body } = readAdjacent(v, 'adjacently tagged enum WireFrame', WIRE_NAMES, WIRE_BODIES, false);
  const type = WIRE_NAMES[index]!;
  return (body === undefined ? { type } : { type, body }) as WireFrame;
}

/** Generic CBOR value -> RpcPayload (throws ProtocolError). */
export function rpcPayloadFromCbor(v: CborValue): RpcPayload {
  const { index, body } = readAdjacent(v, 'adjacently tagged enum RpcPayload', PAYLOAD_NAMES, PAYLOAD_BODIES, false);
  const type = PAYLOAD_NAMES[index]!;
  return (body === undefined ? { type } : { type, body }) as RpcPayload;
}

// ------------------------------------------------------------------------------------------------
// encoding

function bad(path: string, expected: string): never {
  // The value itself is never echoed: it may be a token.
  throw new ProtocolError(ErrorCodes.ENCODE_INVALID_VALUE, `${path}: expected ${expected}`, { details: { field: path } });
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(path, 'an object');
  return v as Record<string, unknown>;
}

function encU32(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  if (typeof v === 'bigint' && v >= 0n && v <= 0xffffffffn) return Number(v);
  return bad(path, 'a u32');
}

function encU64(v: unknown, path: string): number | bigint {
  // cbor-x writes numbers ≥ 2^32 as floats and every bigint as 9 bytes: normalise [CBOR-1]
  if (typeof v === 'bigint') {
    if (v < 0n || v > 0xffffffffffffffffn) bad(path, 'a u64');
    return v < 0x100000000n ? Number(v) : v;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v < 0x100000000 ? v : BigInt(v);
  return bad(path, 'a u64 (bigint)');
}

function encStr(v: unknown, path: string): string {
  // Rust strings are UTF-8: lone surrogates cannot be represented
  if (typeof v === 'string' && (v as unknown as { isWellFormed(): boolean }).isWellFormed()) return v;
  return bad(path, 'a well-formed string');
}

function encOptStr(v: unknown, path: string): string | null {
  return v === null ? null : encStr(v, path);
}

function encBool(v: unknown, path: string): boolean {
  if (typeof v === 'boolean') return v;
  return bad(path, 'a boolean');
}

function encBytes(v: unknown, path: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  return bad(path, 'a Uint8Array');
}

function encEnum<T extends string>(v: unknown, names: readonly T[], path: string): T {
  if (typeof v === 'string' && (names as readonly string[]).includes(v)) return v as T;
  return bad(path, `one of ${names.join(', ')}`);
}

function encArray<T>(v: unknown, path: string, each: (item: unknown, path: string) => T): T[] {
  if (!Array.isArray(v)) bad(path, 'an array');
  const out = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = each(v[i], path);
  return out;
}

const encVersion = (v: unknown, path: string) => {
  const o = obj(v, path);
  return { major: encU32(o.major, `${path}.major`), minor: encU32(o.minor, `${path}.minor`) };
};

const encCaps = (v: unknown, path: string) => {
  const o = obj(v, path);
  return {
    max_frame_len: encU32(o.max_frame_len, `${path}.max_frame_len`),
    max_packet_len: encU32(o.max_packet_len, `${path}.max_packet_len`),
    supported_compression: encArray(o.supported_compression, `${path}.supported_compression`, (x, p) => encEnum(x, COMPRESSION_NAMES, p)),
    supports_cancel: encBool(o.supports_cancel, `${path}.supports_cancel`),
    supports_chunking: encBool(o.supports_chunking, `${path}.supports_chunking`),
  };
};

const encFileText = (v: unknown, path: string) => {
  const o = obj(v, path);
  return { path: encStr(o.path, `${path}.path`), text: encStr(o.text, `${path}.text`) };
};

const encShardIndex = (v: unknown, path: string) => {
  const o = obj(v, path);
  return {
    shard_id: encU32(o.shard_id, `${path}.shard_id`),
    revision: encU64(o.revision, `${path}.revision`),
    index_generation: encU64(o.index_generation, `${path}.index_generation`),
    symbols: encArray(o.symbols, `${path}.symbols`, (x, p) => {
      const s = obj(x, p);
      return {
        name: encStr(s.name, `${p}.name`),
        path: encStr(s.path, `${p}.path`),
        line: encU32(s.line, `${p}.line`),
        column: encU32(s.column, `${p}.column`),
      };
    }),
  };
};

function encWireBody(type: string, b: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case 'hello': {
      const info = b.cached_index_info;
      let cached: Record<string, unknown> | null = null;
      if (info !== null) {
        const c = obj(info, 'hello.cached_index_info');
        cached = {
          revision: encU64(c.revision, 'hello.cached_index_info.revision'),
          index_generation: encU64(c.index_generation, 'hello.cached_index_info.index_generation'),
          symbol_count: encU32(c.symbol_count, 'hello.cached_index_info.symbol_count'),
        };
      }
      const sv = obj(b.supported_versions, 'hello.supported_versions');
      return {
        shard_id: encU32(b.shard_id, 'hello.shard_id'),
        auth_token: encOptStr(b.auth_token, 'hello.auth_token'),
        supported_versions: { min: encVersion(sv.min, 'hello.supported_versions.min'), max: encVersion(sv.max, 'hello.supported_versions.max') },
        capabilities: encCaps(b.capabilities, 'hello.capabilities'),
        cached_index_info: cached,
        worker_build: encOptStr(b.worker_build, 'hello.worker_build'),
      };
    }
    case 'welcome':
      return {
        worker_id: encU32(b.worker_id, 'welcome.worker_id'),
        shard_id: encU32(b.shard_id, 'welcome.shard_id'),
        revision: encU64(b.revision, 'welcome.revision'),
        chosen_version: encVersion(b.chosen_version, 'welcome.chosen_version'),
        chosen_capabilities: encCaps(b.chosen_capabilities, 'welcome.chosen_capabilities'),
      };
    case 'reject':
      return { code: encEnum(b.code, REJECT_NAMES, 'reject.code'), message: encStr(b.message, 'reject.message') };
    case 'packet':
      return {
        id: encU64(b.id, 'packet.id'),
        compression: encEnum(b.compression, COMPRESSION_NAMES, 'packet.compression'),
        data: encBytes(b.data, 'packet.data'),
      };
    default:
      // packet_chunk
      return {
        id: encU64(b.id, 'packet_chunk.id'),
        compression: encEnum(b.compression, COMPRESSION_NAMES, 'packet_chunk.compression'),
        seq: encU32(b.seq, 'packet_chunk.seq'),
        last: encBool(b.last, 'packet_chunk.last'),
        data: encBytes(b.data, 'packet_chunk.data'),
      };
  }
}

/** WireFrame -> plain object in wire order (throws ENCODE_INVALID_VALUE). */
export function wireFrameToCbor(frame: WireFrame): Record<string, unknown> {
  const f = obj(frame, 'frame');
  const type = encEnum(f.type, WIRE_NAMES, 'frame.type');
  // [CBOR-2] unit variants are {type} with no body key
  if (type === 'unknown') return { type };
  return { type, body: encWireBody(type, obj(f.body, `${type}.body`)) };
}

function encRequest(v: unknown): Record<string, unknown> {
  const r = obj(v, 'request');
  const type = encEnum(r.type, REQUEST_NAMES, 'request.type');
  // [CBOR-4] internally tagged: type first, then the fields
  switch (type) {
    case 'load_files':
    case 'index_shard':
      return { type, revision: encU64(r.revision, 'request.revision'), files: encArray(r.files, 'request.files', encFileText) };
    case 'update_file':
      return { type, revision: encU64(r.revision, 'request.revision'), file: encFileText(r.file, 'request.file') };
    case 'diagnostics':
      return { type, path: encStr(r.path, 'request.path') };
    default:
      return { type };
  }
}

function encResponse(v: unknown): Record<string, unknown> {
  const r = obj(v, 'response.value');
  const type = encEnum(r.type, RESPONSE_VARIANT_INDEX_ORDER, 'response.value.type');
  switch (type) {
    case 'shard_index':
      return { type, body: encShardIndex(r.body, 'response.value.body') };
    case 'worker_stats': {
      const b = obj(r.body, 'response.value.body');
      return {
        type,
        body: {
          shard_id: encU32(b.shard_id, 'worker_stats.shard_id'),
          revision: encU64(b.revision, 'worker_stats.revision'),
          index_generation: encU64(b.index_generation, 'worker_stats.index_generation'),
          file_count: encU32(b.file_count, 'worker_stats.file_count'),
        },
      };
    }
    case 'diagnostics': {
      const b = obj(r.body, 'response.value.body');
      return {
        type,
        body: {
          diagnostics: encArray(b.diagnostics, 'diagnostics', (x, p) => {
            const d = obj(x, p);
            return {
              severity: encEnum(d.severity, SEVERITY_NAMES, `${p}.severity`),
              line: encU32(d.line, `${p}.line`),
              column: encU32(d.column, `${p}.column`),
              message: encStr(d.message, `${p}.message`),
            };
          }),
        },
      };
    }
    default:
      return { type };
  }
}

function encResult(v: unknown): Record<string, unknown> {
  const r = obj(v, 'response');
  const status = encEnum(r.status, RESULT_NAMES, 'response.status');
  if (status === 'ok') return { status, value: encResponse(r.value) };
  if (status === 'err') {
    const e = obj(r.error, 'response.error');
    return {
      status,
      error: {
        code: encEnum(e.code, RPC_CODE_NAMES, 'response.error.code'),
        message: encStr(e.message, 'response.error.message'),
        retryable: encBool(e.retryable, 'response.error.retryable'),
        details: encOptStr(e.details, 'response.error.details'),
      },
    };
  }
  return { status };
}

/** RpcPayload -> plain object in wire order (throws ENCODE_INVALID_VALUE). */
export function rpcPayloadToCbor(payload: RpcPayload): Record<string, unknown> {
  const p = obj(payload, 'payload');
  const type = encEnum(p.type, PAYLOAD_NAMES, 'payload.type');
  switch (type) {
    case 'request':
      return { type, body: encRequest(p.body) };
    case 'response':
      return { type, body: encResult(p.body) };
    case 'notification': {
      const n = obj(p.body, 'notification');
      const nt = encEnum(n.type, NOTIFICATION_NAMES, 'notification.type');
      return { type, body: nt === 'cached_index' ? { type: nt, body: encShardIndex(n.body, 'notification.body') } : { type: nt } };
    }
    default:
      return { type };
  }
}

// ------------------------------------------------------------------------------------------------
// bytes-level API

let defaultLimits: DecodeLimits | undefined;
/** The last partial limits resolved, by value (a connection passes the same limits on every call). */
let lastPartial: { maxMessageBytes: number | undefined; maxPacketBytes: number | undefined; resolved: DecodeLimits } | undefined;
function limitsFor(partial: Partial<DecodeLimits> | undefined): DecodeLimits {
  if (partial === undefined) return (defaultLimits ??= resolveDecodeLimits());
  const last = lastPartial;
  if (last !== undefined && last.maxMessageBytes === partial.maxMessageBytes && last.maxPacketBytes === partial.maxPacketBytes) return last.resolved;
  // validation is a pure function of the two values: same values, same verdict (a throw is not cached)
  const resolved = resolveDecodeLimits(partial);
  lastPartial = { maxMessageBytes: partial.maxMessageBytes, maxPacketBytes: partial.maxPacketBytes, resolved };
  return resolved;
}

/**
 * Encode a WireFrame exactly as serde_cbor does (no length prefix).
 * @throws ProtocolError ENCODE_INVALID_VALUE when the value is not a valid frame.
 */
export function encodeWireFrame(frame: WireFrame): Uint8Array {
  const f = obj(frame, 'frame');
  // Packets carry the bulk bytes: written directly into an exact-size buffer (one copy of data,
  // no oversized shared encoder buffer kept alive by the result).
  if (f.type === 'packet' || f.type === 'packet_chunk') return encodePacketFrame(f.type, obj(f.body, `${f.type}.body`));
  return encodeCbor(wireFrameToCbor(frame));
}

/** Byte string from a string of byte values (\xNN escapes and ASCII). */
const raw = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const PACKET_PREFIX = raw('\xa2\x64type\x66packet\x64body\xa3\x62id');
const CHUNK_PREFIX = raw('\xa2\x64type\x6cpacket_chunk\x64body\xa5\x62id');
const ALGO_BYTES: Record<CompressionAlgo, Uint8Array> = {
  none: raw('\x6bcompression\x64none'),
  zstd: raw('\x6bcompression\x64zstd'),
  unknown: raw('\x6bcompression\x67unknown'),
};
const SEQ_KEY = raw('\x63seq');
const LAST_KEY = raw('\x64last');
const DATA_KEY = raw('\x64data');

/** serde_cbor's bytes for WireFrame::Packet / PacketChunk, validated like the generic path. */
function encodePacketFrame(type: 'packet' | 'packet_chunk', b: Record<string, unknown>): Uint8Array {
  const id = encU64(b.id, `${type}.id`);
  const algo = encEnum(b.compression, COMPRESSION_NAMES, `${type}.compression`);
  const chunk = type === 'packet_chunk';
  const seq = chunk ? encU32(b.seq, `${type}.seq`) : 0;
  const last = chunk ? encBool(b.last, `${type}.last`) : false;
  const data = encBytes(b.data, `${type}.data`);
  const headLen = packetHeadBytes(chunk, id, algo, seq, data.length);
  const out = new Uint8Array(headLen + data.length);
  writePacketHead(out, chunk, id, algo, seq, last, data.length);
  out.set(data, headLen);
  return out;
}

/**
 * Length of the CBOR bytes that precede `data` in an encoded Packet (`chunk` false) or PacketChunk
 * frame body: the frame body is exactly `head ++ data`, so its length is this plus `dataBytes`.
 * Pure arithmetic (no encoding); `id`/`seq` must already be valid (u64 / u32).
 */
export function packetHeadBytes(chunk: boolean, id: number | bigint, compression: CompressionAlgo, seq: number, dataBytes: number): number {
  return (
    (chunk ? CHUNK_PREFIX.length : PACKET_PREFIX.length) +
    headBytes(id) +
    ALGO_BYTES[compression].length +
    (chunk ? SEQ_KEY.length + headBytes(seq) + LAST_KEY.length + 1 : 0) +
    DATA_KEY.length +
    headBytes(dataBytes)
  );
}

/** Write the head of a Packet / PacketChunk body (everything before `data`) at offset `base`; returns the offset after it. */
function writePacketHead(out: Uint8Array, chunk: boolean, id: number | bigint, algo: CompressionAlgo, seq: number, last: boolean, dataBytes: number, base = 0): number {
  const prefix = chunk ? CHUNK_PREFIX : PACKET_PREFIX;
  const algoBytes = ALGO_BYTES[algo];
  out.set(prefix, base);
  let at = writeHead(out, base + prefix.length, 0, id);
  out.set(algoBytes, at);
  at += algoBytes.length;
  if (chunk) {
    out.set(SEQ_KEY, at);
    at = writeHead(out, at + SEQ_KEY.length, 0, seq);
    out.set(LAST_KEY, at);
    at += LAST_KEY.length;
    out[at++] = last ? 0xf5 : 0xf4;
  }
  out.set(DATA_KEY, at);
  return writeHead(out, at + DATA_KEY.length, 2, dataBytes);
}

/**
 * The head of an encoded Packet / PacketChunk body, i.e. the body without its trailing `data`
 * bytes: `head ++ data` is byte-identical to `encodeWireFrame` of the same frame. Lets a sender
 * write big payloads as [prefix, head, data view] without copying `data` into a frame buffer.
 * Values are validated like {@link encodeWireFrame} (throws ENCODE_INVALID_VALUE).
 */
export function encodePacketHead(
  frame: { type: 'packet'; id: bigint; compression: CompressionAlgo; dataBytes: number } | { type: 'packet_chunk'; id: bigint; compression: CompressionAlgo; seq: number; last: boolean; dataBytes: number },
): Uint8Array {
  const chunk = frame.type === 'packet_chunk';
  const id = encU64(frame.id, `${frame.type}.id`);
  const algo = encEnum(frame.compression, COMPRESSION_NAMES, `${frame.type}.compression`);
  const seq = chunk ? encU32(frame.seq, `${frame.type}.seq`) : 0;
  const last = chunk ? encBool(frame.last, `${frame.type}.last`) : false;
  const n = frame.dataBytes;
  if (!Number.isSafeInteger(n) || n < 0) bad(`${frame.type}.data`, 'a byte length');
  const out = new Uint8Array(packetHeadBytes(chunk, id, algo, seq, n));
  writePacketHead(out, chunk, id, algo, seq, last, n);
  return out;
}

/** The generic (cbor-x) path for any frame, including packets; tests compare it with the direct writer. */
export function encodeWireFrameGeneric(frame: WireFrame): Uint8Array {
  return encodeCbor(wireFrameToCbor(frame));
}

/**
 * Decode one WireFrame (a frame body without its prefix). Peer bytes are preflighted first.
 * `data` of packets is a view into `bytes` (no copy): keep `bytes` unmodified while using it.
 * @throws ProtocolError for anything the Rust reference would refuse (and the listed differences).
 */
export function decodeWireFrame(bytes: Uint8Array, limits?: Partial<DecodeLimits>, opts?: DecodeOptions): WireFrame {
  const resolved = limitsFor(limits);
  return decodeCanonicalPacket(bytes, resolved) ?? withDecodeOptions(opts, () => wireFrameFromCbor(decodeCbor(bytes, resolved)));
}

/** The generic path (preflight, cbor-x or careful decoder, schema); tests compare it with the packet fast path. */
export function decodeWireFrameGeneric(bytes: Uint8Array, limits?: Partial<DecodeLimits>): WireFrame {
  return wireFrameFromCbor(decodeCbor(bytes, limitsFor(limits)));
}

/**
 * Fast path for the frames that carry bulk data: a Packet or PacketChunk laid out exactly as
 * serde_cbor writes it (the only layout our and the reference encoder produce) is read directly,
 * with the same limits and the same result as the generic path. Anything else (other key order,
 * tags, indefinite lengths, out-of-range values, over-limit data) returns undefined and takes the
 * generic path, which produces the verdict.
 */
function decodeCanonicalPacket(bytes: Uint8Array, limits: DecodeLimits): WireFrame | undefined {
  if (bytes.length > limits.maxMessageBytes || bytes.length < PACKET_PREFIX.length) return undefined;
  const chunk = bytes[6] === 0x6c; // text(12) "packet_chunk" vs text(6) "packet"
  if (!bytesAt(bytes, 0, chunk ? CHUNK_PREFIX : PACKET_PREFIX)) return undefined;
  // Heads read without tuples (this runs for every frame): `argAt` leaves the offset after the head in `argEnd`.
  let at = chunk ? CHUNK_PREFIX.length : PACKET_PREFIX.length;
  const idArg = argAt(bytes, at, 0);
  if (idArg === undefined) return undefined;
  at = argEnd;
  let compression: CompressionAlgo;
  if (bytesAt(bytes, at, ALGO_NONE)) compression = 'none';
  else if (bytesAt(bytes, at, ALGO_ZSTD)) compression = 'zstd';
  else if (bytesAt(bytes, at, ALGO_UNKNOWN)) compression = 'unknown';
  else return undefined;
  at += ALGO_BYTES[compression].length;
  let seq = 0;
  let last = false;
  if (chunk) {
    if (!bytesAt(bytes, at, SEQ_KEY)) return undefined;
    const seqArg = argAt(bytes, at + SEQ_KEY.length, 0);
    if (seqArg === undefined || seqArg > 0xffffffff) return undefined;
    seq = Number(seqArg);
    at = argEnd;
    if (!bytesAt(bytes, at, LAST_KEY)) return undefined;
    const flag = bytes[at + LAST_KEY.length];
    if (flag !== 0xf4 && flag !== 0xf5) return undefined;
    last = flag === 0xf5;
    at += LAST_KEY.length + 1;
  }
  if (!bytesAt(bytes, at, DATA_KEY)) return undefined;
  const len = argAt(bytes, at + DATA_KEY.length, 2);
  if (len === undefined) return undefined;
  const start = argEnd;
  // exactly the rest of the input, within the byte-string cap the preflight applies
  if (typeof len !== 'number' || start + len !== bytes.length || len > Math.min(limits.maxPacketBytes, HARD_MAX_MESSAGE_BYTES)) return undefined;
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset + start, len);
  const id = BigInt(idArg);
  return chunk ? { type: 'packet_chunk', body: { id, compression, seq, last, data } } : { type: 'packet', body: { id, compression, data } };
}

const ALGO_NONE = ALGO_BYTES.none;
const ALGO_ZSTD = ALGO_BYTES.zstd;
const ALGO_UNKNOWN = ALGO_BYTES.unknown;

/** Offset after the head last read by {@link argAt}. */
let argEnd = 0;

/** Argument of a definite head of major type `major` at `at` (or undefined), with the offset after the head left in {@link argEnd}. */
function argAt(bytes: Uint8Array, at: number, major: number): number | bigint | undefined {
  const b = bytes[at];
  if (b === undefined || b >> 5 !== major) return undefined;
  const ai = b & 0x1f;
  if (ai < 24) {
    argEnd = at + 1;
    return ai;
  }
  const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
  if (n === 0 || at + 1 + n > bytes.length) return undefined;
  argEnd = at + 1 + n;
  if (n < 8) {
    let v = 0;
    for (let i = 1; i <= n; i++) v = v * 256 + bytes[at + i]!;
    return v;
  }
  let big = 0n;
  for (let i = 1; i <= 8; i++) big = (big << 8n) | BigInt(bytes[at + i]!);
  return big;
}

/**
 * Encode an RpcPayload (the bytes that go into Packet.data before compression).
 * @throws ProtocolError ENCODE_INVALID_VALUE when the value is not a valid payload.
 */
export function encodeRpcPayload(payload: RpcPayload): Uint8Array {
  return encodeCbor(rpcPayloadToCbor(payload));
}

/** Whether an {@link encodeRpcPayloadShared} result is a view of the shared encoder buffer (copy it before the next encode). */
export { isSharedEncoding } from './cbor.js';

/**
 * {@link encodeRpcPayload} without the final copy: the same bytes as a view that is valid only
 * until the next encode call of this codec (copy it out at once, e.g. with {@link encodePrefixedPacket}).
 * @throws ProtocolError ENCODE_INVALID_VALUE when the value is not a valid payload.
 */
export function encodeRpcPayloadShared(payload: RpcPayload): Uint8Array {
  return encodeSmallPayload(payload) ?? encodeCborShared(rpcPayloadToCbor(payload));
}

/** Bytes of the u32-LE length prefix (as limits.ts LENGTH_PREFIX_BYTES; the codec does not import framing). */
const PREFIX_BYTES = 4;

/**
 * One whole uncompressed Packet frame, length prefix included, in one fresh buffer:
 * `u32le(n) ++ encodeWireFrame({type: 'packet', body: {id, compression: 'none', data}})` where n is
 * the body length. For small payloads the sender would send as a single uncompressed Packet; the
 * caller checks that (frame limit, packet limit, compression threshold) before choosing it.
 * `data` may be a shared view: it is copied here.
 */
export function encodePrefixedPacket(id: bigint, data: Uint8Array): Uint8Array {
  const idv = encU64(id, 'packet.id');
  const headLen = packetHeadBytes(false, idv, 'none', 0, data.length);
  const n = headLen + data.length;
  // Pooled small allocation (node's slab); every byte is written below.
  const out = Buffer.allocUnsafe(PREFIX_BYTES + n);
  out[0] = n & 0xff;
  out[1] = (n >>> 8) & 0xff;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 24) & 0xff;
  writePacketHead(out, false, idv, 'none', 0, false, data.length, PREFIX_BYTES);
  out.set(data, PREFIX_BYTES + headLen);
  return out;
}

/**
 * Decode an RpcPayload (after decompression / reassembly).
 * @throws ProtocolError for anything the Rust reference would refuse.
 */
export function decodeRpcPayload(bytes: Uint8Array, limits?: Partial<DecodeLimits>, opts?: DecodeOptions): RpcPayload {
  const resolved = limitsFor(limits);
  if (bytes.length <= SMALL_PAYLOAD_MAX_BYTES && bytes.length <= resolved.maxMessageBytes) {
    const small = decodeSmallPayload(bytes);
    if (small !== undefined) return small;
  }
  return withDecodeOptions(opts, () => rpcPayloadFromCbor(decodeCbor(bytes, resolved)));
}

// ------------------------------------------------------------------------------------------------
// small-call fast paths
//
// The payloads of the small-call path (unit requests such as get_worker_stats, cancel, unit and
// worker_stats responses) skip cbor-x: their bytes are either constants produced by the generic
// encoder itself (below, at load time) or a fixed layout with four integers. Decoding recognises
// exactly those canonical bytes and builds the value the generic decoder builds for them; any
// other input (other key order, non-shortest integers, extra keys, trailing bytes) takes the
// generic path, which gives every verdict. codec-small.test.ts compares both paths.

/** Payloads longer than this never match a fast-path layout (worker_stats is at most 96 bytes). */
const SMALL_PAYLOAD_MAX_BYTES = 128;

interface SmallConstant {
  readonly bytes: Uint8Array;
  /** A fresh value, equal to what the generic decoder returns for `bytes`. */
  readonly make: () => RpcPayload;
}

function smallConstant(make: () => RpcPayload): SmallConstant {
  // the generic encoder's own bytes: byte-identical by construction
  return { bytes: encodeCbor(rpcPayloadToCbor(make())), make };
}

/** Unit request variants (no fields): get_worker_stats, shutdown. */
const UNIT_REQUEST_PAYLOADS = new Map<string, SmallConstant>(
  REQUEST_NAMES.filter((t, i) => REQUEST_BODIES[i] === null && t !== 'unknown').map((t) => [
    t,
    smallConstant(() => ({ type: 'request', body: { type: t } }) as RpcPayload),
  ]),
);
/** `ok` responses of unit variants: ack, shutdown. */
const UNIT_OK_PAYLOADS = new Map<string, SmallConstant>(
  RESPONSE_VARIANT_INDEX_ORDER.filter((t, i) => RESPONSE_BODIES[i] === null && t !== 'unknown').map((t) => [
    t,
    smallConstant(() => ({ type: 'response', body: { status: 'ok', value: { type: t } } }) as RpcPayload),
  ]),
);
const CANCEL_PAYLOAD = smallConstant(() => ({ type: 'cancel' }));
const SMALL_CONSTANTS: readonly SmallConstant[] = [...UNIT_REQUEST_PAYLOADS.values(), ...UNIT_OK_PAYLOADS.values(), CANCEL_PAYLOAD];

/** {"type": "response", "body": {"status": "ok", "value": {"type": "worker_stats", "body": {4 fields}}}} up to the fields. */
const WORKER_STATS_PREFIX = raw('\xa2\x64type\x68response\x64body\xa2\x66status\x62ok\x65value\xa2\x64type\x6cworker_stats\x64body\xa4');
const SHARD_ID_KEY = raw('\x68shard_id');
const REVISION_KEY = raw('\x68revision');
const INDEX_GENERATION_KEY = raw('\x70index_generation');
const FILE_COUNT_KEY = raw('\x6afile_count');

/** A plain object as `obj` accepts it (not null, not an array, not bytes), else undefined. */
function plainObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) ? (v as Record<string, unknown>) : undefined;
}

/**
 * The encoding of a small-call payload, or undefined (then the generic encoder runs, and gives any
 * error). Constants are shared: the caller copies them, as it copies the encoder's shared buffer.
 */
function encodeSmallPayload(payload: RpcPayload): Uint8Array | undefined {
  const p = plainObject(payload);
  if (p === undefined) return undefined;
  // rpcPayloadToCbor writes unit payload variants as {type} whatever else the object holds
  if (p.type === 'cancel') return CANCEL_PAYLOAD.bytes;
  const body = plainObject(p.body);
  if (body === undefined) return undefined;
  if (p.type === 'request') return typeof body.type === 'string' ? UNIT_REQUEST_PAYLOADS.get(body.type)?.bytes : undefined;
  if (p.type !== 'response' || body.status !== 'ok') return undefined;
  const value = plainObject(body.value);
  if (value === undefined || typeof value.type !== 'string') return undefined;
  if (value.type === 'worker_stats') return encodeWorkerStatsPayload(value.body);
  return UNIT_OK_PAYLOADS.get(value.type)?.bytes;
}

/** u32 as encU32 accepts it (number or bigint), or undefined instead of a throw. */
function u32OrUndefined(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : undefined;
  if (typeof v === 'bigint') return v >= 0n && v <= 0xffffffffn ? Number(v) : undefined;
  return undefined;
}

/** u64 as encU64 normalises it (number below 2^32, else bigint), or undefined instead of a throw. */
function u64OrUndefined(v: unknown): number | bigint | undefined {
  if (typeof v === 'bigint') return v >= 0n && v <= 0xffffffffffffffffn ? (v < 0x100000000n ? Number(v) : v) : undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? (v < 0x100000000 ? v : BigInt(v)) : undefined;
  return undefined;
}

/** `ok` worker_stats response written directly: shortest-form integers, as serde_cbor (and cbor-x with encU64's normalisation). */
function encodeWorkerStatsPayload(v: unknown): Uint8Array | undefined {
  const b = plainObject(v);
  if (b === undefined) return undefined;
  const shardId = u32OrUndefined(b.shard_id);
  const revision = u64OrUndefined(b.revision);
  const generation = u64OrUndefined(b.index_generation);
  const fileCount = u32OrUndefined(b.file_count);
  if (shardId === undefined || revision === undefined || generation === undefined || fileCount === undefined) return undefined;
  const out = new Uint8Array(
    WORKER_STATS_PREFIX.length +
      SHARD_ID_KEY.length + headBytes(shardId) +
      REVISION_KEY.length + headBytes(revision) +
      INDEX_GENERATION_KEY.length + headBytes(generation) +
      FILE_COUNT_KEY.length + headBytes(fileCount),
  );
  out.set(WORKER_STATS_PREFIX, 0);
  let at = WORKER_STATS_PREFIX.length;
  out.set(SHARD_ID_KEY, at);
  at = writeHead(out, at + SHARD_ID_KEY.length, 0, shardId);
  out.set(REVISION_KEY, at);
  at = writeHead(out, at + REVISION_KEY.length, 0, revision);
  out.set(INDEX_GENERATION_KEY, at);
  at = writeHead(out, at + INDEX_GENERATION_KEY.length, 0, generation);
  out.set(FILE_COUNT_KEY, at);
  writeHead(out, at + FILE_COUNT_KEY.length, 0, fileCount);
  return out;
}

/** Shortest-form unsigned integer at `at` (what serde_cbor writes), else undefined; the offset after it is left in argEnd. */
function shortestUintAt(bytes: Uint8Array, at: number): number | bigint | undefined {
  const v = argAt(bytes, at, 0);
  if (v === undefined) return undefined;
  const len = argEnd - at;
  return len === headBytes(v) ? v : undefined;
}

/**
 * The value of a canonical small-call payload, or undefined. Callers have checked the size
 * against the decode limits (the only preflight rule that can refuse these layouts).
 */
function decodeSmallPayload(bytes: Uint8Array): RpcPayload | undefined {
  const n = bytes.length;
  for (const c of SMALL_CONSTANTS) {
    if (c.bytes.length === n && bytesAt(bytes, 0, c.bytes)) return c.make();
  }
  if (!bytesAt(bytes, 0, WORKER_STATS_PREFIX)) return undefined;
  let at = WORKER_STATS_PREFIX.length;
  if (!bytesAt(bytes, at, SHARD_ID_KEY)) return undefined;
  const shardId = shortestUintAt(bytes, at + SHARD_ID_KEY.length);
  // u32 fields: an argument above 2^32-1 is a range error, left to the generic path
  if (typeof shardId !== 'number' || shardId > 0xffffffff) return undefined;
  at = argEnd;
  if (!bytesAt(bytes, at, REVISION_KEY)) return undefined;
  const revision = shortestUintAt(bytes, at + REVISION_KEY.length);
  if (revision === undefined) return undefined;
  at = argEnd;
  if (!bytesAt(bytes, at, INDEX_GENERATION_KEY)) return undefined;
  const generation = shortestUintAt(bytes, at + INDEX_GENERATION_KEY.length);
  if (generation === undefined) return undefined;
  at = argEnd;
  if (!bytesAt(bytes, at, FILE_COUNT_KEY)) return undefined;
  const fileCount = shortestUintAt(bytes, at + FILE_COUNT_KEY.length);
  if (typeof fileCount !== 'number' || fileCount > 0xffffffff || argEnd !== n) return undefined;
  return {
    type: 'response',
    body: {
      status: 'ok',
      value: { type: 'worker_stats', body: { shard_id: shardId, revision: BigInt(revision), index_generation: BigInt(generation), file_count: fileCount } },
    },
  };
}

/** TEST-ONLY: the fast paths alone (undefined when a payload or input is not one of their layouts). */
export const smallPayloadFastPath = {
  encode: (payload: RpcPayload): Uint8Array | undefined => encodeSmallPayload(payload),
  decode: (bytes: Uint8Array): RpcPayload | undefined => decodeSmallPayload(bytes),
};
