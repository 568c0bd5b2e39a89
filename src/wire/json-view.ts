/**
 * The lossless JSON view of nova remote RPC v3 messages.
 *
 * The view has exactly the keys and tags of the message model (which mirrors the wire), with
 * three representation rules so that every value survives a trip through any JSON library:
 *
 * - u64 fields (`id`, `revision`, `index_generation`) are decimal strings without leading zeros
 *   (`"0"` … `"18446744073709551615"`);
 * - bytes (`data`) are lowercase hex strings (`""` for no bytes);
 * - u32 fields are JSON integers 0…4294967295; optional fields are present as `null`.
 *
 * The view is strict: the readers accept exactly the keys of each type (unit variants have no
 * `body` key) and build objects in declaration order, so `toJsonView(wireFrameFromJson(x))`
 * is the canonical form of `x`. The JSON Schema in `schema/messages.schema.json` describes the
 * same set of documents.
 *
 * Errors are {@link ProtocolError}s whose message and details name only our own field paths,
 * never a string taken from the input:
 * - `SCHEMA_MISSING_FIELD` — a required key is absent;
 * - `SCHEMA_WRONG_TYPE` — wrong JSON type, a malformed hex / decimal string, an unknown tag
 *   name, or a key the type does not have;
 * - `SCHEMA_INT_RANGE` — an integer outside u32 / u64;
 * - `SCHEMA_UNIT_VARIANT_WITH_BODY`, `SCHEMA_UNKNOWN_VARIANT_WITH_BODY`, `SCHEMA_MISSING_BODY`
 *   — the variant/body rules of [CBOR-12];
 * - `ENCODE_INVALID_VALUE` — a string that cannot be UTF-8 (lone surrogate), or a value handed
 *   to {@link toJsonView} that is not part of a message.
 *
 * @module
 */
import { ErrorCodes, ProtocolError, type ErrorCode } from '../errors.js';
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
  type CachedIndexInfo,
  type Capabilities,
  type CompressionAlgo,
  type FileText,
  type IndexSymbol,
  type Notification,
  type ProtocolVersion,
  type RemoteDiagnostic,
  type Request,
  type Response,
  type RpcError,
  type RpcPayload,
  type RpcResult,
  type ShardIndex,
  type SupportedVersions,
  type WireFrame,
  type WorkerStats,
} from './model.js';

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export const U32_MAX = 0xffff_ffff;
export const U64_MAX = (1n << 64n) - 1n;

/** Deepest nesting `toJsonView` walks; messages are far shallower, so deeper means a cycle or junk. */
const MAX_VIEW_DEPTH = 64;

const DECIMAL_RE = /^(?:0|[1-9][0-9]*)$/;
/** A UTF-16 surrogate that is not part of a pair: such a string has no UTF-8 form. */
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const HEX_RE = /^(?:[0-9a-f]{2})*$/;

function fail(code: ErrorCode, what: string, path: string, reason?: string): never {
  throw new ProtocolError(code, `json view: ${what} at ${path}`, {
    details: reason === undefined ? { path } : { path, reason },
  });
}

// ---------------------------------------------------------------------------------------------
// model -> JSON

/**
 * The JSON view of any message or message part (WireFrame, RpcPayload, Request, ShardIndex, …).
 * bigint → decimal string, Uint8Array → lowercase hex, everything else kept, key order kept.
 *
 * @throws ProtocolError `ENCODE_INVALID_VALUE` for values no message contains (undefined,
 *   negative or non-integer numbers, numbers above u32, bigints outside u64, lone surrogates,
 *   non-plain objects).
 * @example toJsonView({ type: 'packet', body: { id: 2n, compression: 'none', data: new Uint8Array([1]) } })
 *   // → { type: 'packet', body: { id: '2', compression: 'none', data: '01' } }
 */
export function toJsonView(value: unknown): JsonValue {
  return view(value, '$', 0);
}

function view(value: unknown, path: string, depth: number): JsonValue {
  if (depth > MAX_VIEW_DEPTH) fail(ErrorCodes.ENCODE_INVALID_VALUE, 'value nested too deeply', path);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    if (LONE_SURROGATE_RE.test(value)) fail(ErrorCodes.ENCODE_INVALID_VALUE, 'string is not valid Unicode (lone surrogate)', path);
    return value;
  }
  if (typeof value === 'number') {
    // Every number in the model is a u32.
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
      fail(ErrorCodes.ENCODE_INVALID_VALUE, 'number is not a u32', path);
    }
    return value;
  }
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) fail(ErrorCodes.ENCODE_INVALID_VALUE, 'bigint is not a u64', path);
    return value.toString(10);
  }
  if (value instanceof Uint8Array) return bytesToHex(value);
  if (Array.isArray(value)) return value.map((item, i) => view(item, `${path}[${i}]`, depth + 1));
  if (typeof value === 'object' && isPlainObject(value)) {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value)) {
      // Keys come from our own model when this is used as intended; do not echo them anyway.
      // defineProperty so that an own "__proto__" key stays a key instead of a prototype.
      Object.defineProperty(out, key, { value: view(item, `${path}.<key>`, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return fail(ErrorCodes.ENCODE_INVALID_VALUE, `a ${value === undefined ? 'undefined' : typeof value} is not part of any message`, path);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Lowercase hex of bytes. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Bytes from a lowercase, even-length hex string.
 * @throws ProtocolError `SCHEMA_WRONG_TYPE` for anything else.
 */
export function hexToBytes(hex: string, path = '$'): Uint8Array {
  if (!HEX_RE.test(hex)) fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected lowercase hex of whole bytes', path);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

// ---------------------------------------------------------------------------------------------
// JSON -> model: field readers

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string, keys: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected an object', path);
  const o = v as Obj;
  for (const key of Object.keys(o)) {
    // The key itself is peer text: report where, not what.
    if (!keys.includes(key)) fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'unexpected key', path, 'unexpected_key');
  }
  return o;
}

function field(o: Obj, key: string, path: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(o, key)) fail(ErrorCodes.SCHEMA_MISSING_FIELD, `missing field ${key}`, path);
  return o[key];
}

function u32(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected an integer (u32)', path);
  if (v < 0 || v > U32_MAX) fail(ErrorCodes.SCHEMA_INT_RANGE, 'integer out of u32 range', path);
  return v;
}

function u64(v: unknown, path: string): bigint {
  if (typeof v !== 'string' || !DECIMAL_RE.test(v)) {
    fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected a decimal string without leading zeros (u64)', path);
  }
  // Longer than 20 digits can never fit; checking first keeps BigInt() off huge inputs.
  if (v.length > 20) fail(ErrorCodes.SCHEMA_INT_RANGE, 'integer out of u64 range', path);
  const n = BigInt(v);
  if (n > U64_MAX) fail(ErrorCodes.SCHEMA_INT_RANGE, 'integer out of u64 range', path);
  return n;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected a boolean', path);
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected a string', path);
  if (LONE_SURROGATE_RE.test(v)) fail(ErrorCodes.ENCODE_INVALID_VALUE, 'string is not valid Unicode (lone surrogate)', path);
  return v;
}

function bytes(v: unknown, path: string): Uint8Array {
  if (typeof v !== 'string') fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected a hex string (bytes)', path);
  return hexToBytes(v, path);
}

function nullable<T>(read: (v: unknown, path: string) => T): (v: unknown, path: string) => T | null {
  return (v, path) => (v === null ? null : read(v, path));
}

function array<T>(read: (v: unknown, path: string) => T): (v: unknown, path: string) => T[] {
  return (v, path) => {
    if (!Array.isArray(v)) fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected an array', path);
    return v.map((item, i) => read(item, `${path}[${i}]`));
  };
}

function name<T extends string>(names: readonly T[]): (v: unknown, path: string) => T {
  return (v, path) => {
    if (typeof v !== 'string') fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected a name string', path);
    if (!(names as readonly string[]).includes(v)) fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'unknown name', path, 'unknown_name');
    return v as T;
  };
}

/** A struct: exactly `keys`, each read by its reader, rebuilt in declaration order. */
function struct<T>(readers: { [K in keyof T]: (v: unknown, path: string) => T[K] }): (v: unknown, path: string) => T {
  const keys = Object.keys(readers);
  return (v, path) => {
    const o = obj(v, path, keys);
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      out[key] = (readers as Record<string, (v: unknown, path: string) => unknown>)[key]!(field(o, key, path), `${path}.${key}`);
    }
    return out as T;
  };
}

/**
 * An adjacently tagged enum `{type, body}`: `variants[name]` is a body reader, or null for a
 * unit variant (no `body` key at all). [CBOR-2] [CBOR-12]
 */
function adjacent<T>(
  tagKey: string,
  names: readonly string[],
  variants: Record<string, ((v: unknown, path: string) => unknown) | null>,
): (v: unknown, path: string) => T {
  return (v, path) => {
    const o = obj(v, path, [tagKey, 'body']);
    const tag = name(names)(field(o, tagKey, path), `${path}.${tagKey}`);
    const readBody = variants[tag];
    const hasBody = Object.prototype.hasOwnProperty.call(o, 'body');
    if (readBody === null || readBody === undefined) {
      if (hasBody) {
        fail(
          tag === 'unknown' ? ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY : ErrorCodes.SCHEMA_UNIT_VARIANT_WITH_BODY,
          `${tag} variant has a body key`,
          path,
        );
      }
      return { [tagKey]: tag } as T;
    }
    if (!hasBody || o['body'] === null) fail(ErrorCodes.SCHEMA_MISSING_BODY, `${tag} variant without a body`, path);
    return { [tagKey]: tag, body: readBody(o['body'], `${path}.body`) } as T;
  };
}

// ---------------------------------------------------------------------------------------------
// JSON -> model: message types (declaration order as in model.ts)

const compression = name<CompressionAlgo>(COMPRESSION_ALGOS);

const protocolVersion = struct<ProtocolVersion>({ major: u32, minor: u32 });
const supportedVersions = struct<SupportedVersions>({ min: protocolVersion, max: protocolVersion });
const capabilities = struct<Capabilities>({
  max_frame_len: u32,
  max_packet_len: u32,
  supported_compression: array(compression),
  supports_cancel: bool,
  supports_chunking: bool,
});
const cachedIndexInfo = struct<CachedIndexInfo>({ revision: u64, index_generation: u64, symbol_count: u32 });

const wireFrame = adjacent<WireFrame>('type', WIRE_FRAME_TYPES, {
  hello: struct({
    shard_id: u32,
    auth_token: nullable(str),
    supported_versions: supportedVersions,
    capabilities,
    cached_index_info: nullable(cachedIndexInfo),
    worker_build: nullable(str),
  }),
  welcome: struct({
    worker_id: u32,
    shard_id: u32,
    revision: u64,
    chosen_version: protocolVersion,
    chosen_capabilities: capabilities,
  }),
  reject: struct({ code: name(REJECT_CODES), message: str }),
  packet: struct({ id: u64, compression, data: bytes }),
  packet_chunk: struct({ id: u64, compression, seq: u32, last: bool, data: bytes }),
  unknown: null,
});

const fileText = struct<FileText>({ path: str, text: str });
const indexSymbol = struct<IndexSymbol>({ name: str, path: str, line: u32, column: u32 });
const shardIndex = struct<ShardIndex>({ shard_id: u32, revision: u64, index_generation: u64, symbols: array(indexSymbol) });
const workerStats = struct<WorkerStats>({ shard_id: u32, revision: u64, index_generation: u64, file_count: u32 });
const remoteDiagnostic = struct<RemoteDiagnostic>({
  severity: name(DIAGNOSTIC_SEVERITIES),
  line: u32,
  column: u32,
  message: str,
});

/** Request is internally tagged: `type` plus the variant's fields in one object. [CBOR-4] */
const requestFields: Record<string, Record<string, (v: unknown, path: string) => unknown>> = {
  load_files: { revision: u64, files: array(fileText) },
  index_shard: { revision: u64, files: array(fileText) },
  update_file: { revision: u64, file: fileText },
  diagnostics: { path: str },
  get_worker_stats: {},
  shutdown: {},
  unknown: {},
};

/** Read the tag of an internally tagged object before its keys can be checked. */
function tagOf<T extends string>(v: unknown, path: string, tagKey: string, names: readonly T[]): T {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(ErrorCodes.SCHEMA_WRONG_TYPE, 'expected an object', path);
  return name(names)(field(v as Obj, tagKey, path), `${path}.${tagKey}`);
}

function request(v: unknown, path: string): Request {
  const type = tagOf(v, path, 'type', REQUEST_TYPES);
  const readers = requestFields[type]!;
  const o = obj(v, path, ['type', ...Object.keys(readers)]);
  const out: Record<string, unknown> = { type };
  for (const [key, read] of Object.entries(readers)) out[key] = read(field(o, key, path), `${path}.${key}`);
  return out as Request;
}

const response = adjacent<Response>('type', RESPONSE_TYPES, {
  ack: null,
  shard_index: shardIndex,
  worker_stats: workerStats,
  diagnostics: struct<{ diagnostics: RemoteDiagnostic[] }>({ diagnostics: array(remoteDiagnostic) }),
  shutdown: null,
  unknown: null,
});

const rpcError = struct<RpcError>({
  code: name(RPC_ERROR_CODES),
  message: str,
  retryable: bool,
  details: nullable(str),
});

/** RpcResult is tagged by `status`: ok → value, err → error, unknown → nothing. [CBOR-4] */
function rpcResult(v: unknown, path: string): RpcResult {
  const status = tagOf(v, path, 'status', ['ok', 'err', 'unknown'] as const);
  if (status === 'ok') {
    const o = obj(v, path, ['status', 'value']);
    return { status, value: response(field(o, 'value', path), `${path}.value`) };
  }
  if (status === 'err') {
    const o = obj(v, path, ['status', 'error']);
    return { status, error: rpcError(field(o, 'error', path), `${path}.error`) };
  }
  obj(v, path, ['status']);
  return { status };
}

const notification = adjacent<Notification>('type', NOTIFICATION_TYPES, { cached_index: shardIndex, unknown: null });

const rpcPayload = adjacent<RpcPayload>('type', RPC_PAYLOAD_TYPES, {
  request,
  response: rpcResult,
  notification,
  cancel: null,
  unknown: null,
});

/**
 * Read the JSON view of a WireFrame (strict; see the module comment for the error codes).
 * @example wireFrameFromJson({ type: 'packet', body: { id: '2', compression: 'none', data: 'a0' } })
 */
export function wireFrameFromJson(json: unknown): WireFrame {
  return wireFrame(json, '$');
}

/**
 * Read the JSON view of an RpcPayload (strict; see the module comment for the error codes).
 * @example rpcPayloadFromJson({ type: 'cancel' })
 */
export function rpcPayloadFromJson(json: unknown): RpcPayload {
  return rpcPayload(json, '$');
}
