/**
 * The golden-vector machinery: definition types, the flag vocabulary, the id registry, file
 * and manifest building. The definitions themselves live in `vector-defs.ts`; the CLI is
 * `gen-vectors.ts`; the format is documented in docs/vectors.md and schema/vector-file.schema.json.
 *
 * Generation runs our codec on every definition and REFUSES to emit a vector the codec
 * disagrees with (a valid value that does not round-trip, an acceptable input that decodes to
 * something else, an invalid input that is accepted or fails with another code), so the files
 * on disk are always vectors our codec passes; their independent check is the reference
 * cross-check and the hand-built inputs.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { isProtocolError, type ErrorCode } from '../src/errors.js';
import type { DecodeLimits } from '../src/limits.js';
import { bytesToHex, toJsonView, type JsonValue } from '../src/wire/json-view.js';
import type { CompressionAlgo, RpcPayload, WireFrame } from '../src/wire/model.js';

export const VECTOR_FORMAT = 'nova-conformance-vectors';
export const VECTOR_FORMAT_VERSION = 1;
export const GENERATOR_NAME = 'nova-conformance/scripts/gen-vectors';
/** Bump when the generator's output changes for the same definitions. */
export const GENERATOR_VERSION = '1.0.0';

export type VectorKind = 'wire_frame' | 'rpc_payload' | 'frame_stream' | 'packet_send' | 'packet_receive';
export const VECTOR_KINDS: readonly VectorKind[] = ['wire_frame', 'rpc_payload', 'frame_stream', 'packet_send', 'packet_receive'];
export type VectorResult = 'valid' | 'acceptable' | 'invalid';

// ---------------------------------------------------------------------------------------------
// flags (Wycheproof style: why a vector has its result)

export const FLAGS = {
  // valid
  Typical: 'An ordinary, well-formed message.',
  U64Boundary: 'A u64 field at a boundary: 0, 1, 2^32, 2^53+1 (not exact in a double) or 2^64-1.',
  U32Boundary: 'A u32 field at a boundary: 0 or 2^32-1.',
  EnumValue: 'Exercises one value of a closed name set (RejectCode, RpcErrorCode, DiagnosticSeverity, CompressionAlgo).',
  UnitVariant: 'A unit variant: encoded as a map with only the tag key (no body key).',
  UnknownVariant: 'The "unknown" variant of an enum, or a name that decodes to it.',
  NonAscii: 'Text with non-ASCII characters (2-, 3- and 4-byte UTF-8, including an astral character).',
  EmptyValue: 'An empty string, byte string or list.',
  NullOptional: 'Optional fields absent: encoded as null with the key present.',
  Compressed: 'data is zstd-compressed: the compressed bytes depend on the zstd library version, so compare the payload after decompression (see inner / payload_hex), not the compressed bytes.',
  InnerPayload: 'data carries a complete RpcPayload, given in inner.',
  TransportInvalid: 'The frame decodes, but a connection that receives it must fail with transport_error.',
  // acceptable
  UnknownKey: 'Carries map keys the schema does not have; a decoder ignores them.',
  UnknownName: 'A tag or enum name this version does not define; it decodes as "unknown".',
  IndefiniteLength: 'Uses indefinite-length maps, arrays or strings, which an encoder never emits.',
  NonMinimalInt: 'An integer in a longer head than necessary.',
  Tagged: 'Carries CBOR tags, which a decoder ignores.',
  KeyOrder: 'Keys in an order other than declaration order.',
  VariantIndex: 'A variant given by its index integer instead of its name.',
  BytesAsArray: 'data given as an array of u8 instead of a byte string.',
  MissingOptional: 'An optional field left out entirely; it decodes as null.',
  MissingDefault: 'A defaulted field left out; it decodes as its default (0).',
  NullUnitBody: 'A unit variant with an explicit "body": null.',
  AtLimit: 'A size or depth exactly at its limit, which is allowed.',
  SequenceForm: 'A struct or envelope given as an array of its fields in declaration order (serde\'s sequence form).',
  BytesAsText: 'A text field given as a UTF-8 byte string.',
  // invalid
  TrailingBytes: 'Bytes follow the single top-level item.',
  TooDeep: 'Nesting deeper than 64.',
  BadMapKey: 'A map key that is not text, or longer than 64 bytes.',
  DuplicateKey: 'The same key twice in one map.',
  LengthBomb: 'A declared length far larger than the input, which must be refused before allocating.',
  Malformed: 'Not well-formed CBOR.',
  OverLimit: 'A size, count or length over its cap.',
  InvalidUtf8: 'A text string that is not valid UTF-8.',
  UnitVariantWithBody: 'A unit variant with a non-null body.',
  UnknownVariantWithBody: 'An unknown adjacently tagged variant with a non-null body.',
  MissingBody: 'A struct variant with a null or missing body.',
  MissingField: 'A required field is missing.',
  WrongType: 'A field of the wrong CBOR type.',
  IntRange: 'An integer outside the range of its field.',
  // streams and packets
  Split: 'The input arrives in several pieces, split at awkward places.',
  ExactFit: 'A frame or packet exactly at its limit, which is allowed.',
  Truncated: 'The stream ends inside a length prefix or a frame body.',
  EmptyFrame: 'A zero-length frame.',
  Chunked: 'The payload travels as a PacketChunk sequence.',
  Interleaved: 'Chunks of different ids interleave.',
  BelowThreshold: 'Payload below the compression threshold: sent uncompressed even though zstd was negotiated.',
  NotNegotiated: 'Uses a feature (compression, chunking) that was not negotiated.',
  SeqMismatch: 'Chunk sequence numbers are not 0, 1, 2, ...',
  CompressionChanged: 'The compression changes in the middle of a chunk sequence.',
  StreamLimit: 'More concurrent reassemblies, or more buffered bytes, than allowed.',
  DecompressionBomb: 'A small compressed input that expands beyond max_packet_len.',
  BadCompressedData: 'Compressed data that is not a valid zstd frame.',
} as const;
export type Flag = keyof typeof FLAGS;

// ---------------------------------------------------------------------------------------------
// definitions

export interface TransportError {
  code: ErrorCode;
  requirements: string[];
}

interface DefBase {
  name: string;
  description: string;
  requirements: string[];
  flags: Flag[];
}

export type MessageDef = DefBase & { kind: 'wire_frame' | 'rpc_payload' } & (
    | {
        result: 'valid';
        value: WireFrame | RpcPayload;
        transportError?: TransportError;
        /** For a Packet/PacketChunk: data := encodeRpcPayload(payload), zstd-compressed at level 3 when compression is zstd. */
        inner?: { compression: 'none' | 'zstd'; payload: RpcPayload };
      }
    | { result: 'acceptable'; input: Uint8Array; decoded: WireFrame | RpcPayload }
    | { result: 'invalid'; input: Uint8Array; error: ErrorCode; decodeLimits?: Partial<DecodeLimits> }
  );

export type FrameStreamDef = DefBase & {
  kind: 'frame_stream';
  maxFrameBytes: number;
  stream: Uint8Array;
  pieces?: number[];
  /** Frame bodies expected (before the error, for invalid ones). */
  frames: Uint8Array[];
} & ({ result: 'valid' } | { result: 'invalid'; error: ErrorCode; errorOn: 'push' | 'end' });

export interface SendOptionsDef {
  /** A number, or relative to the encoded size of the single Packet the payload would make. */
  maxFrameBytes: number | { packetSizePlus: number };
  maxPacketBytes: number;
  compression: CompressionAlgo[];
  chunking: boolean;
  compressionThresholdBytes?: number;
}

export type PacketSendDef = DefBase & {
  kind: 'packet_send';
  options: SendOptionsDef;
  id: bigint;
  payload: RpcPayload;
} & ({ result: 'valid' } | { result: 'invalid'; error: ErrorCode });

export interface ReceiveOptions {
  maxPacketBytes: number;
  compression: CompressionAlgo[];
  chunking: boolean;
  maxConcurrentStreams?: number;
  maxTotalBytes?: number;
}

/** A frame to feed to the receiver. */
export type ReceiveFrameDef = { frame: Extract<WireFrame, { type: 'packet' | 'packet_chunk' }> };

export type PacketReceiveDef = DefBase & {
  kind: 'packet_receive';
  options: ReceiveOptions;
  frames: ReceiveFrameDef[];
  /** Packets completed (before the error, for invalid ones): id and uncompressed payload. */
  packets: { id: bigint; payload: Uint8Array }[];
} & ({ result: 'valid' } | { result: 'invalid'; error: ErrorCode; errorAtFrame: number });

export type VectorDef = MessageDef | FrameStreamDef | PacketSendDef | PacketReceiveDef;

// ---------------------------------------------------------------------------------------------
// the codec surface the generator needs (src/wire/index.ts)

export interface PacketOptionsArg {
  maxFrameBytes: number;
  maxPacketBytes: number;
  compression: readonly CompressionAlgo[];
  chunking: boolean;
  compressionThresholdBytes?: number;
}

export interface Codec {
  encodeWireFrame(frame: WireFrame): Uint8Array;
  decodeWireFrame(bytes: Uint8Array, limits?: Partial<DecodeLimits>): WireFrame;
  encodeRpcPayload(payload: RpcPayload): Uint8Array;
  decodeRpcPayload(bytes: Uint8Array, limits?: Partial<DecodeLimits>): RpcPayload;
  encodeFrame(body: Uint8Array): Uint8Array;
  FrameDecoder: new (opts: { maxFrameBytes: number }) => { push(chunk: Uint8Array): Uint8Array[]; end(): void };
  encodePacketFrames(id: bigint, payload: Uint8Array, opts: PacketOptionsArg): Uint8Array[];
  Reassembler: new (opts: {
    maxPacketBytes: number;
    compression: readonly CompressionAlgo[];
    chunking: boolean;
    maxConcurrentStreams?: number;
    maxTotalBytes?: number;
  }) => { accept(frame: Extract<WireFrame, { type: 'packet' | 'packet_chunk' }>): { id: bigint; payload: Uint8Array } | null };
  zstdAvailable(): boolean;
  zstdCompress(data: Uint8Array, level?: number): Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// id registry

export interface IdRegistry {
  format_version: 1;
  next_id: number;
  ids: Record<string, number>;
}

export const emptyRegistry = (): IdRegistry => ({ format_version: 1, next_id: 1, ids: {} });
export const registryKey = (kind: VectorKind, name: string): string => `${kind}/${name}`;

/**
 * The id of every definition: its registry entry, or (when `allowNew`) a fresh id. Entries are
 * never removed, so a dropped vector's id is never reused. Returns the updated registry.
 */
export function assignIds(defs: readonly VectorDef[], registry: IdRegistry, allowNew: boolean): { ids: Map<VectorDef, number>; registry: IdRegistry; added: string[] } {
  const next: IdRegistry = { format_version: 1, next_id: registry.next_id, ids: { ...registry.ids } };
  const ids = new Map<VectorDef, number>();
  const added: string[] = [];
  const seen = new Set<string>();
  for (const def of defs) {
    const key = registryKey(def.kind, def.name);
    if (seen.has(key)) throw new Error(`duplicate vector name ${key}`);
    seen.add(key);
    let id = next.ids[key];
    if (id === undefined) {
      if (!allowNew) throw new Error(`vector ${key} has no id in vectors/ids.json: run \`npm run vectors\``);
      id = next.next_id++;
      next.ids[key] = id;
      added.push(key);
    }
    ids.set(def, id);
  }
  return { ids, registry: next, added };
}

// ---------------------------------------------------------------------------------------------
// building vectors (runs the codec; refuses disagreements)

const hex = bytesToHex;

/** Deep equality of JSON views (order-insensitive for object keys). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** Run `fn`; return the ProtocolError code it throws, or null if it returns. Other errors propagate. */
export function errorCodeOf(fn: () => unknown): ErrorCode | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (isProtocolError(e)) return e.code;
    throw e;
  }
}

type Vector = Record<string, JsonValue>;

function base(def: VectorDef, id: number, result: VectorResult): Vector {
  return {
    id,
    name: def.name,
    description: def.description,
    requirements: def.requirements,
    result,
    flags: def.flags,
  };
}

function buildMessage(def: MessageDef, id: number, codec: Codec): Vector {
  const wire = def.kind === 'wire_frame';
  const encode = (v: WireFrame | RpcPayload) => (wire ? codec.encodeWireFrame(v as WireFrame) : codec.encodeRpcPayload(v as RpcPayload));
  const decode = (b: Uint8Array, l?: Partial<DecodeLimits>) => (wire ? codec.decodeWireFrame(b, l) : codec.decodeRpcPayload(b, l));
  const where = registryKey(def.kind, def.name);
  if (def.result === 'valid') {
    let value = def.value;
    let inner: JsonValue | undefined;
    if (def.inner) {
      if (value.type !== 'packet' && value.type !== 'packet_chunk') throw new Error(`${where}: inner needs a packet`);
      const payloadBytes = codec.encodeRpcPayload(def.inner.payload);
      const data = def.inner.compression === 'zstd' ? codec.zstdCompress(payloadBytes, 3) : payloadBytes;
      value = { ...value, body: { ...value.body, compression: def.inner.compression, data } } as WireFrame;
      inner = { compression: def.inner.compression, hex: hex(payloadBytes), json: toJsonView(def.inner.payload) };
    }
    const bytes = encode(value);
    const back = toJsonView(decode(bytes));
    if (!jsonEqual(back, toJsonView(value))) throw new Error(`${where}: our codec does not round-trip this value`);
    const v: Vector = { ...base(def, id, 'valid'), hex: hex(bytes) };
    if (wire) v['framed_hex'] = hex(codec.encodeFrame(bytes));
    v['json'] = toJsonView(value);
    if (inner !== undefined) v['inner'] = inner;
    if (def.transportError) v['transport_error'] = { code: def.transportError.code, requirements: def.transportError.requirements };
    return v;
  }
  if (def.result === 'acceptable') {
    let decoded: WireFrame | RpcPayload | undefined;
    const code = errorCodeOf(() => (decoded = decode(def.input)));
    if (code !== null || decoded === undefined) throw new Error(`${where}: our codec refuses this input with ${code ?? '?'}`);
    const got = toJsonView(decoded);
    const want = toJsonView(def.decoded);
    if (!jsonEqual(got, want)) throw new Error(`${where}: our codec decodes this to ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    const canonical = encode(def.decoded);
    if (hex(canonical) === hex(def.input)) throw new Error(`${where}: input is canonical; make it a valid vector`);
    return { ...base(def, id, 'acceptable'), hex: hex(def.input), json: want, canonical_hex: hex(canonical) };
  }
  const code = errorCodeOf(() => decode(def.input, def.decodeLimits));
  if (code !== def.error) throw new Error(`${where}: our codec gives ${code ?? 'no error'}, expected ${def.error}`);
  const v: Vector = { ...base(def, id, 'invalid'), hex: hex(def.input), error: def.error };
  if (def.decodeLimits) {
    const l: Record<string, number> = {};
    if (def.decodeLimits.maxMessageBytes !== undefined) l['max_message_bytes'] = def.decodeLimits.maxMessageBytes;
    if (def.decodeLimits.maxPacketBytes !== undefined) l['max_packet_bytes'] = def.decodeLimits.maxPacketBytes;
    v['decode_limits'] = l;
  }
  return v;
}

/** Feed `stream` to a FrameDecoder in `pieces`; the frames produced and the error code, if any. */
export function runFrameStream(
  codec: Pick<Codec, 'FrameDecoder'>,
  maxFrameBytes: number,
  stream: Uint8Array,
  pieces: readonly number[] | undefined,
): { frames: Uint8Array[]; error: ErrorCode | null; errorOn: 'push' | 'end' | null } {
  const dec = new codec.FrameDecoder({ maxFrameBytes });
  const frames: Uint8Array[] = [];
  const sizes = pieces ?? [stream.length];
  let at = 0;
  for (const size of sizes) {
    const chunk = stream.subarray(at, at + size);
    at += size;
    const code = errorCodeOf(() => frames.push(...dec.push(chunk)));
    if (code !== null) return { frames, error: code, errorOn: 'push' };
  }
  const code = errorCodeOf(() => dec.end());
  return { frames, error: code, errorOn: code === null ? null : 'end' };
}

function buildFrameStream(def: FrameStreamDef, id: number, codec: Codec): Vector {
  const where = registryKey(def.kind, def.name);
  if (def.pieces && def.pieces.reduce((a, b) => a + b, 0) !== def.stream.length) throw new Error(`${where}: pieces do not sum to the stream length`);
  const run = runFrameStream(codec, def.maxFrameBytes, def.stream, def.pieces);
  const same = run.frames.length === def.frames.length && run.frames.every((f, i) => hex(f) === hex(def.frames[i]!));
  if (!same) throw new Error(`${where}: our FrameDecoder produces other frames`);
  if (def.result === 'valid' && run.error !== null) throw new Error(`${where}: our FrameDecoder fails with ${run.error}`);
  if (def.result === 'invalid' && (run.error !== def.error || run.errorOn !== def.errorOn)) {
    throw new Error(`${where}: our FrameDecoder gives ${run.error ?? 'no error'} on ${run.errorOn ?? '-'}, expected ${def.error} on ${def.errorOn}`);
  }
  const v: Vector = { ...base(def, id, def.result), max_frame_bytes: def.maxFrameBytes, stream_hex: hex(def.stream) };
  if (def.pieces) v['pieces'] = def.pieces;
  v['frames'] = def.frames.map(hex);
  if (def.result === 'invalid') {
    v['error'] = def.error;
    v['error_on'] = def.errorOn;
  }
  return v;
}

/** The concrete PacketOptions of a send definition. */
export function resolveSendOptions(def: PacketSendDef, codec: Codec): PacketOptionsArg {
  let maxFrameBytes: number;
  if (typeof def.options.maxFrameBytes === 'number') maxFrameBytes = def.options.maxFrameBytes;
  else {
    // The size of the one Packet an uncompressed send would produce.
    const packet = codec.encodeWireFrame({ type: 'packet', body: { id: def.id, compression: 'none', data: codec.encodeRpcPayload(def.payload) } });
    maxFrameBytes = packet.length + def.options.maxFrameBytes.packetSizePlus;
  }
  const opts: PacketOptionsArg = {
    maxFrameBytes,
    maxPacketBytes: def.options.maxPacketBytes,
    compression: def.options.compression,
    chunking: def.options.chunking,
  };
  if (def.options.compressionThresholdBytes !== undefined) opts.compressionThresholdBytes = def.options.compressionThresholdBytes;
  return opts;
}

function sendOptionsJson(o: PacketOptionsArg): JsonValue {
  const j: Record<string, JsonValue> = {
    max_frame_bytes: o.maxFrameBytes,
    max_packet_bytes: o.maxPacketBytes,
    compression: [...o.compression],
    chunking: o.chunking,
  };
  if (o.compressionThresholdBytes !== undefined) j['compression_threshold_bytes'] = o.compressionThresholdBytes;
  return j;
}

function buildPacketSend(def: PacketSendDef, id: number, codec: Codec): Vector {
  const where = registryKey(def.kind, def.name);
  const opts = resolveSendOptions(def, codec);
  const payload = codec.encodeRpcPayload(def.payload);
  const v: Vector = {
    ...base(def, id, def.result),
    options: sendOptionsJson(opts),
    id_u64: def.id.toString(),
    payload_hex: hex(payload),
    payload_json: toJsonView(def.payload),
  };
  let frames: Uint8Array[] | null = null;
  const code = errorCodeOf(() => (frames = codec.encodePacketFrames(def.id, payload, opts)));
  if (def.result === 'invalid') {
    if (code !== def.error) throw new Error(`${where}: our sender gives ${code ?? 'no error'}, expected ${def.error}`);
    v['error'] = def.error;
    return v;
  }
  if (code !== null || frames === null) throw new Error(`${where}: our sender fails with ${code ?? '?'}`);
  v['frames'] = (frames as Uint8Array[]).map((f) => ({ hex: hex(f), json: toJsonView(codec.decodeWireFrame(f)) }));
  return v;
}

function receiveOptionsJson(o: ReceiveOptions): JsonValue {
  const j: Record<string, JsonValue> = { max_packet_bytes: o.maxPacketBytes, compression: [...o.compression], chunking: o.chunking };
  if (o.maxConcurrentStreams !== undefined) j['max_concurrent_streams'] = o.maxConcurrentStreams;
  if (o.maxTotalBytes !== undefined) j['max_total_bytes'] = o.maxTotalBytes;
  return j;
}

/** Feed decoded frames to a Reassembler; the packets completed and the error, if any. */
export function runReceive(
  codec: Pick<Codec, 'Reassembler'>,
  options: ReceiveOptions,
  frames: readonly Extract<WireFrame, { type: 'packet' | 'packet_chunk' }>[],
): { packets: { id: bigint; payload: Uint8Array }[]; error: ErrorCode | null; errorAtFrame: number | null } {
  const opts: ConstructorParameters<Codec['Reassembler']>[0] = {
    maxPacketBytes: options.maxPacketBytes,
    compression: options.compression,
    chunking: options.chunking,
  };
  if (options.maxConcurrentStreams !== undefined) opts.maxConcurrentStreams = options.maxConcurrentStreams;
  if (options.maxTotalBytes !== undefined) opts.maxTotalBytes = options.maxTotalBytes;
  const r = new codec.Reassembler(opts);
  const packets: { id: bigint; payload: Uint8Array }[] = [];
  for (let i = 0; i < frames.length; i++) {
    const code = errorCodeOf(() => {
      const out = r.accept(frames[i]!);
      if (out) packets.push(out);
    });
    if (code !== null) return { packets, error: code, errorAtFrame: i };
  }
  return { packets, error: null, errorAtFrame: null };
}

function payloadJson(codec: Codec, bytes: Uint8Array): JsonValue {
  try {
    return toJsonView(codec.decodeRpcPayload(bytes));
  } catch (e) {
    if (isProtocolError(e)) return null;
    throw e;
  }
}

function buildPacketReceive(def: PacketReceiveDef, id: number, codec: Codec): Vector {
  const where = registryKey(def.kind, def.name);
  const frames = def.frames.map(({ frame }) => frame);
  const encoded = frames.map((f) => codec.encodeWireFrame(f));
  // Feed what a receiver would see: the frames as decoded from their bytes.
  const decoded = encoded.map((b) => codec.decodeWireFrame(b) as Extract<WireFrame, { type: 'packet' | 'packet_chunk' }>);
  const run = runReceive(codec, def.options, decoded);
  const same = run.packets.length === def.packets.length && run.packets.every((p, i) => p.id === def.packets[i]!.id && hex(p.payload) === hex(def.packets[i]!.payload));
  if (!same) throw new Error(`${where}: our Reassembler completes other packets`);
  if (def.result === 'valid' && run.error !== null) throw new Error(`${where}: our Reassembler fails with ${run.error}`);
  if (def.result === 'invalid' && (run.error !== def.error || run.errorAtFrame !== def.errorAtFrame)) {
    throw new Error(`${where}: our Reassembler gives ${run.error ?? 'no error'} at ${run.errorAtFrame ?? '-'}, expected ${def.error} at ${def.errorAtFrame}`);
  }
  const v: Vector = {
    ...base(def, id, def.result),
    options: receiveOptionsJson(def.options),
    frames: encoded.map((b, i) => ({ hex: hex(b), json: toJsonView(frames[i]) })),
    packets: def.packets.map((p) => ({ id_u64: p.id.toString(), hex: hex(p.payload), json: payloadJson(codec, p.payload) })),
  };
  if (def.result === 'invalid') {
    v['error'] = def.error;
    v['error_at_frame'] = def.errorAtFrame;
  }
  return v;
}

export function buildVector(def: VectorDef, id: number, codec: Codec): Vector {
  switch (def.kind) {
    case 'wire_frame':
    case 'rpc_payload':
      return buildMessage(def, id, codec);
    case 'frame_stream':
      return buildFrameStream(def, id, codec);
    case 'packet_send':
      return buildPacketSend(def, id, codec);
    case 'packet_receive':
      return buildPacketReceive(def, id, codec);
  }
}

// ---------------------------------------------------------------------------------------------
// files and manifest

export const KIND_DESCRIPTIONS: Record<VectorKind, string> = {
  wire_frame: 'WireFrame envelopes: hex is the exact CBOR of one frame body (framed_hex adds the u32-LE length prefix). valid: decode(hex) gives json and encode(json) gives hex; acceptable: decode(hex) gives json, which re-encodes to canonical_hex; invalid: decoding fails with error.',
  rpc_payload: 'RpcPayloads (what Packet.data carries before compression): hex is the exact CBOR. Same rules as wire_frame.',
  frame_stream: 'Length-prefixed framing: stream_hex fed to a frame decoder with max_frame_bytes, in pieces, yields the frame bodies in frames, or fails with error on push or at end of stream.',
  packet_send: 'The sender side of packets: encoding payload_hex under id_u64 with the negotiated options yields exactly frames (one Packet, or the full PacketChunk sequence), or fails locally with error.',
  packet_receive: 'The receiver side of packets: feeding frames to a receiver with the negotiated options completes packets (payloads after decompression and reassembly), or fails with error at frame error_at_frame.',
};

export const VECTOR_FILES: Record<VectorKind, string> = {
  wire_frame: 'wire_frame.json',
  rpc_payload: 'rpc_payload.json',
  frame_stream: 'frame_stream.json',
  packet_send: 'packet_send.json',
  packet_receive: 'packet_receive.json',
};

const RESULT_ORDER: Record<VectorResult, number> = { valid: 0, acceptable: 1, invalid: 2 };

/** Stable JSON text of a file: 2-space indent, trailing newline. */
export const fileText = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

export interface GeneratedVectors {
  /** File name (under vectors/) → exact text. Includes ids.json and manifest.json. */
  files: Map<string, string>;
  registry: IdRegistry;
  added: string[];
  counts: Record<VectorKind, Record<VectorResult, number>>;
}

export function generate(defs: readonly VectorDef[], codec: Codec, registry: IdRegistry, allowNewIds: boolean): GeneratedVectors {
  const { ids, registry: nextRegistry, added } = assignIds(defs, registry, allowNewIds);
  const failures: string[] = [];
  const files = new Map<string, string>();
  const counts = {} as GeneratedVectors['counts'];
  for (const kind of VECTOR_KINDS) {
    const mine = defs.filter((d) => d.kind === kind);
    counts[kind] = { valid: 0, acceptable: 0, invalid: 0 };
    const vectors: Vector[] = [];
    // Valid, acceptable and invalid vectors kept apart, each group in definition order.
    const ordered = [...mine].sort((a, b) => RESULT_ORDER[a.result] - RESULT_ORDER[b.result]);
    for (const def of ordered) {
      try {
        vectors.push(buildVector(def, ids.get(def)!, codec));
        counts[kind][def.result]++;
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    const used = [...new Set(ordered.flatMap((d) => d.flags))].sort();
    const flags: Record<string, JsonValue> = {};
    for (const f of used) flags[f] = { description: FLAGS[f] };
    files.set(VECTOR_FILES[kind], fileText({
      format: VECTOR_FORMAT,
      format_version: VECTOR_FORMAT_VERSION,
      generator: { name: GENERATOR_NAME, version: GENERATOR_VERSION },
      protocol_version: '3.0',
      kind,
      description: KIND_DESCRIPTIONS[kind],
      flags,
      vectors,
    }));
  }
  if (failures.length > 0) throw new Error(`refusing to write vectors our codec disagrees with:\n  ${failures.join('\n  ')}`);
  files.set('ids.json', fileText(nextRegistry));
  files.set('manifest.json', fileText(buildManifest(files)));
  return { files, registry: nextRegistry, added, counts };
}

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(text)));
}

/** The manifest of every file in `files` except manifest.json itself, sorted by name. */
export function buildManifest(files: ReadonlyMap<string, string>): JsonValue {
  const entries = [...files.keys()].filter((f) => f !== 'manifest.json').sort();
  return {
    format_version: 1,
    generator: { name: GENERATOR_NAME, version: GENERATOR_VERSION },
    files: entries.map((path) => {
      const text = files.get(path)!;
      const entry: Record<string, JsonValue> = { path, sha256: sha256Hex(text), bytes: Buffer.byteLength(text, 'utf8') };
      if (path !== 'ids.json') {
        const c: Record<VectorResult, number> = { valid: 0, acceptable: 0, invalid: 0 };
        for (const v of (JSON.parse(text) as { vectors: { result: VectorResult }[] }).vectors) c[v.result]++;
        entry['vectors'] = c;
      }
      return entry;
    }),
  };
}
