/**
 * fast-check arbitraries for every message of the model (src/wire/model.ts).
 *
 * This is THE arbitraries module of the project: codec, engine, harness and fuzzer tests import
 * from here instead of writing their own. Every arbitrary produces a value that is valid under
 * the schema (u32 in range, u64 as bigint, optional fields as `null`, strings within their caps),
 * so `encode` must accept it and `decode(encode(x))` must give it back.
 *
 * Integers are boundary-biased (0, 1, 2^32−1, 2^32, 2^53±1, 2^64−1 …) and strings are often
 * non-ASCII (full Unicode code points, never lone surrogates).
 *
 * @example
 * import fc from 'fast-check';
 * import { wireFrameArb } from '../fuzz/arbitraries.js';
 * fc.assert(fc.property(wireFrameArb, (f) => deepEqual(decodeWireFrame(encodeWireFrame(f)), f)));
 *
 * @module
 */
import fc from 'fast-check';
import {
  COMPRESSION_ALGOS,
  DIAGNOSTIC_SEVERITIES,
  REJECT_CODES,
  RPC_ERROR_CODES,
  type CachedIndexInfo,
  type Capabilities,
  type CompressionAlgo,
  type FileText,
  type HandshakeReject,
  type IndexSymbol,
  type Notification,
  type PacketBody,
  type PacketChunkBody,
  type ProtocolVersion,
  type RemoteDiagnostic,
  type Request,
  type Response,
  type RouterWelcome,
  type RpcError,
  type RpcPayload,
  type RpcResult,
  type ShardIndex,
  type SupportedVersions,
  type WireFrame,
  type WorkerHello,
  type WorkerStats,
} from '../src/wire/model.js';

// ---------------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------------

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

/** u32 values at CBOR head-size and JS boundaries. */
export const U32_BOUNDARIES: readonly number[] = [
  0, 1, 2, 23, 24, 255, 256, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, U32_MAX - 1, U32_MAX,
];

/** u64 values at CBOR head-size, u32, JS-safe-integer and u64 boundaries. */
export const U64_BOUNDARIES: readonly bigint[] = [
  0n,
  1n,
  2n,
  23n,
  24n,
  255n,
  256n,
  65_535n,
  65_536n,
  BigInt(U32_MAX),
  1n << 32n,
  (1n << 32n) + 1n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 53n) + 1n,
  (1n << 63n) - 1n,
  1n << 63n,
  U64_MAX - 1n,
  U64_MAX,
];

/** A u32 (JS number), half the time a boundary value. */
export const u32Arb: fc.Arbitrary<number> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...U32_BOUNDARIES) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: U32_MAX }) },
);

/** A u64 (bigint), often a boundary value. */
export const u64Arb: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...U64_BOUNDARIES) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 1000n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) },
);

/** A request id that a valid sender may use: any u64 except 0 ([ID-2]). */
export const nonZeroU64Arb: fc.Arbitrary<bigint> = u64Arb.filter((v) => v !== 0n);

/**
 * A string of at most `maxLength` code points: ASCII, full Unicode (astral planes included,
 * never a lone surrogate), or a few fixed tricky ones (empty, NUL, combining marks, RTL, emoji).
 * `maxLength` is in code points; a code point takes at most 4 UTF-8 bytes.
 */
export function textArb(maxLength = 24): fc.Arbitrary<string> {
  // 'x' × 24: the first length that needs a 1-byte string-length head.
  const tricky = ['', '\u0000', 'é', 'e\u0301', 'שלום', '日本語', '😀👍🏽', '\u{10ffff}', '\uffff', 'a\u2028b', 'héllo ☃ 𝄞', 'src/Main.java', 'x'.repeat(24)];
  return fc.oneof(
    { weight: 2, arbitrary: fc.string({ maxLength, unit: 'binary' }) },
    { weight: 2, arbitrary: fc.string({ maxLength, unit: 'grapheme' }) },
    { weight: 1, arbitrary: fc.string({ maxLength }) },
    { weight: 1, arbitrary: fc.constantFrom(...tricky.filter((s) => [...s].length <= maxLength)) },
  );
}

/** Byte strings: usually short, sometimes a few KiB, with fixed patterns (empty, zeros, CBOR-looking). */
export function bytesArb(maxLength = 64): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength }) },
    { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(0), new Uint8Array([0]), new Uint8Array([0xff, 0xff])) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: maxLength }).map((n) => new Uint8Array(n)),
    },
  );
}

export const booleanArb: fc.Arbitrary<boolean> = fc.boolean();

function nullable<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.option(arb, { nil: null, freq: 3 });
}

// ---------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------

export const compressionAlgoArb: fc.Arbitrary<CompressionAlgo> = fc.constantFrom(...COMPRESSION_ALGOS);
export const rejectCodeArb = fc.constantFrom(...REJECT_CODES);
export const rpcErrorCodeArb = fc.constantFrom(...RPC_ERROR_CODES);
export const diagnosticSeverityArb = fc.constantFrom(...DIAGNOSTIC_SEVERITIES);

// ---------------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------------

export const protocolVersionArb: fc.Arbitrary<ProtocolVersion> = fc.record({
  major: fc.oneof(fc.constantFrom(0, 2, 3, 4), u32Arb),
  minor: fc.oneof(fc.constantFrom(0, 1, 5, 7), u32Arb),
});

export const supportedVersionsArb: fc.Arbitrary<SupportedVersions> = fc.record({
  min: protocolVersionArb,
  max: protocolVersionArb,
});

/** At most 32 entries ([CBOR-9] supported_compression ≤ 32), duplicates allowed. */
export const compressionListArb: fc.Arbitrary<CompressionAlgo[]> = fc.array(compressionAlgoArb, { maxLength: 6 });

export const capabilitiesArb: fc.Arbitrary<Capabilities> = fc.record({
  max_frame_len: u32Arb,
  max_packet_len: u32Arb,
  supported_compression: compressionListArb,
  supports_cancel: booleanArb,
  supports_chunking: booleanArb,
});

export const cachedIndexInfoArb: fc.Arbitrary<CachedIndexInfo> = fc.record({
  revision: u64Arb,
  index_generation: u64Arb,
  symbol_count: u32Arb,
});

export const workerHelloArb: fc.Arbitrary<WorkerHello> = fc.record({
  shard_id: u32Arb,
  auth_token: nullable(textArb(40)),
  supported_versions: supportedVersionsArb,
  capabilities: capabilitiesArb,
  cached_index_info: nullable(cachedIndexInfoArb),
  worker_build: nullable(textArb(24)),
});

export const routerWelcomeArb: fc.Arbitrary<RouterWelcome> = fc.record({
  worker_id: u32Arb,
  shard_id: u32Arb,
  revision: u64Arb,
  chosen_version: protocolVersionArb,
  chosen_capabilities: capabilitiesArb,
});

export const handshakeRejectArb: fc.Arbitrary<HandshakeReject> = fc.record({
  code: rejectCodeArb,
  message: textArb(40),
});

// ---------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------

export const packetBodyArb: fc.Arbitrary<PacketBody> = fc.record({
  id: u64Arb,
  compression: compressionAlgoArb,
  data: bytesArb(256),
});

export const packetChunkBodyArb: fc.Arbitrary<PacketChunkBody> = fc.record({
  id: u64Arb,
  compression: compressionAlgoArb,
  seq: u32Arb,
  last: booleanArb,
  data: bytesArb(256),
});

/** Every WireFrame variant, `unknown` included (it encodes as `{type:"unknown"}`). */
export const wireFrameArb: fc.Arbitrary<WireFrame> = fc.oneof(
  workerHelloArb.map((body): WireFrame => ({ type: 'hello', body })),
  routerWelcomeArb.map((body): WireFrame => ({ type: 'welcome', body })),
  handshakeRejectArb.map((body): WireFrame => ({ type: 'reject', body })),
  packetBodyArb.map((body): WireFrame => ({ type: 'packet', body })),
  packetChunkBodyArb.map((body): WireFrame => ({ type: 'packet_chunk', body })),
  fc.constant<WireFrame>({ type: 'unknown' }),
);

// ---------------------------------------------------------------------------------------------
// RPC payloads
// ---------------------------------------------------------------------------------------------

export const fileTextArb: fc.Arbitrary<FileText> = fc.record({
  path: textArb(32),
  text: fc.oneof({ weight: 4, arbitrary: textArb(64) }, { weight: 1, arbitrary: textArb(2000) }),
});

export const indexSymbolArb: fc.Arbitrary<IndexSymbol> = fc.record({
  name: textArb(24),
  path: textArb(32),
  line: u32Arb,
  column: u32Arb,
});

export const shardIndexArb: fc.Arbitrary<ShardIndex> = fc.record({
  shard_id: u32Arb,
  revision: u64Arb,
  index_generation: u64Arb,
  symbols: fc.array(indexSymbolArb, { maxLength: 6 }),
});

export const workerStatsArb: fc.Arbitrary<WorkerStats> = fc.record({
  shard_id: u32Arb,
  revision: u64Arb,
  index_generation: u64Arb,
  file_count: u32Arb,
});

export const remoteDiagnosticArb: fc.Arbitrary<RemoteDiagnostic> = fc.record({
  severity: diagnosticSeverityArb,
  line: u32Arb,
  column: u32Arb,
  message: textArb(40),
});

const filesArb = fc.array(fileTextArb, { maxLength: 5 });

export const requestArb: fc.Arbitrary<Request> = fc.oneof(
  fc.record({ type: fc.constant('load_files' as const), revision: u64Arb, files: filesArb }),
  fc.record({ type: fc.constant('index_shard' as const), revision: u64Arb, files: filesArb }),
  fc.record({ type: fc.constant('update_file' as const), revision: u64Arb, file: fileTextArb }),
  fc.record({ type: fc.constant('diagnostics' as const), path: textArb(32) }),
  fc.constant<Request>({ type: 'get_worker_stats' }),
  fc.constant<Request>({ type: 'shutdown' }),
  fc.constant<Request>({ type: 'unknown' }),
);

export const responseArb: fc.Arbitrary<Response> = fc.oneof(
  fc.constant<Response>({ type: 'ack' }),
  shardIndexArb.map((body): Response => ({ type: 'shard_index', body })),
  workerStatsArb.map((body): Response => ({ type: 'worker_stats', body })),
  fc
    .array(remoteDiagnosticArb, { maxLength: 5 })
    .map((diagnostics): Response => ({ type: 'diagnostics', body: { diagnostics } })),
  fc.constant<Response>({ type: 'shutdown' }),
  fc.constant<Response>({ type: 'unknown' }),
);

export const rpcErrorArb: fc.Arbitrary<RpcError> = fc.record({
  code: rpcErrorCodeArb,
  message: textArb(40),
  retryable: booleanArb,
  details: nullable(textArb(40)),
});

export const rpcResultArb: fc.Arbitrary<RpcResult> = fc.oneof(
  responseArb.map((value): RpcResult => ({ status: 'ok', value })),
  rpcErrorArb.map((error): RpcResult => ({ status: 'err', error })),
  fc.constant<RpcResult>({ status: 'unknown' }),
);

export const notificationArb: fc.Arbitrary<Notification> = fc.oneof(
  shardIndexArb.map((body): Notification => ({ type: 'cached_index', body })),
  fc.constant<Notification>({ type: 'unknown' }),
);

export const rpcPayloadArb: fc.Arbitrary<RpcPayload> = fc.oneof(
  requestArb.map((body): RpcPayload => ({ type: 'request', body })),
  rpcResultArb.map((body): RpcPayload => ({ type: 'response', body })),
  notificationArb.map((body): RpcPayload => ({ type: 'notification', body })),
  fc.constant<RpcPayload>({ type: 'cancel' }),
  fc.constant<RpcPayload>({ type: 'unknown' }),
);

// ---------------------------------------------------------------------------------------------
// Protocol-valid subsets (useful for live peers and the engine)
// ---------------------------------------------------------------------------------------------

/** A request a live reference worker can answer (no `unknown`, no `shutdown`, small texts). */
export const serviceableRequestArb: fc.Arbitrary<Request> = requestArb.filter(
  (r) => r.type !== 'unknown' && r.type !== 'shutdown',
);

/** Capabilities a peer could sanely offer: positive limits, a non-empty compression list. */
export const saneCapabilitiesArb: fc.Arbitrary<Capabilities> = fc.record({
  max_frame_len: fc.integer({ min: 512, max: 1 << 20 }),
  max_packet_len: fc.integer({ min: 512, max: 1 << 20 }),
  supported_compression: fc.constantFrom<CompressionAlgo[]>(['none'], ['zstd', 'none'], ['none', 'zstd']),
  supports_cancel: booleanArb,
  supports_chunking: booleanArb,
});

/**
 * A payload of `n` bytes that compresses well or not at all (for chunking / compression paths).
 * `kind` 'zeros' compresses ~1000×, 'random' not at all.
 */
export function payloadBytesArb(maxBytes: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.integer({ min: 0, max: maxBytes }).map((n) => new Uint8Array(n)),
    fc.uint8Array({ maxLength: Math.min(maxBytes, 4096) }),
  );
}
