/**
 * fast-check arbitraries for every message of the model, used by the JSON-view, schema and
 * vector tests. Values are built in declaration order, as a decoder builds them. Boundary values
 * (0, u32 max, 2^53+1, u64 max, empty and non-ASCII strings) are weighted in on purpose.
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
  type WireFrame,
  type WorkerStats,
} from '../src/wire/model.js';

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

export const u32 = (): fc.Arbitrary<number> =>
  fc.oneof(fc.constantFrom(0, 1, 23, 24, 255, 256, 65535, 65536, U32_MAX), fc.integer({ min: 0, max: U32_MAX }));

export const u64 = (): fc.Arbitrary<bigint> =>
  fc.oneof(
    fc.constantFrom(0n, 1n, 2n, 23n, 24n, 0xffff_ffffn, 1n << 32n, (1n << 53n) + 1n, U64_MAX),
    fc.bigInt({ min: 0n, max: U64_MAX }),
  );

/** Short strings with ASCII, BMP and astral characters, and the empty string. */
export const text = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom('', 'a', 'héllo ☃ 𝄞', 'src/Main.java', '\u0000', 'x'.repeat(24)),
    fc.string({ maxLength: 12, unit: 'grapheme' }),
  );

const bytes = (): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: 40 });
const compression = () => fc.constantFrom(...COMPRESSION_ALGOS);
const small = <T>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: 3 });

const protocolVersion = (): fc.Arbitrary<ProtocolVersion> => fc.record({ major: u32(), minor: u32() });
const capabilities = (): fc.Arbitrary<Capabilities> =>
  fc.record({
    max_frame_len: u32(),
    max_packet_len: u32(),
    supported_compression: small(compression()),
    supports_cancel: fc.boolean(),
    supports_chunking: fc.boolean(),
  });
const cachedIndexInfo = (): fc.Arbitrary<CachedIndexInfo> =>
  fc.record({ revision: u64(), index_generation: u64(), symbol_count: u32() });

export const wireFrame = (): fc.Arbitrary<WireFrame> =>
  fc.oneof(
    fc.record({
      type: fc.constant('hello' as const),
      body: fc.record({
        shard_id: u32(),
        auth_token: fc.option(text(), { nil: null }),
        supported_versions: fc.record({ min: protocolVersion(), max: protocolVersion() }),
        capabilities: capabilities(),
        cached_index_info: fc.option(cachedIndexInfo(), { nil: null }),
        worker_build: fc.option(text(), { nil: null }),
      }),
    }),
    fc.record({
      type: fc.constant('welcome' as const),
      body: fc.record({
        worker_id: u32(),
        shard_id: u32(),
        revision: u64(),
        chosen_version: protocolVersion(),
        chosen_capabilities: capabilities(),
      }),
    }),
    fc.record({
      type: fc.constant('reject' as const),
      body: fc.record({ code: fc.constantFrom(...REJECT_CODES), message: text() }),
    }),
    fc.record({
      type: fc.constant('packet' as const),
      body: fc.record({ id: u64(), compression: compression(), data: bytes() }),
    }),
    fc.record({
      type: fc.constant('packet_chunk' as const),
      body: fc.record({ id: u64(), compression: compression(), seq: u32(), last: fc.boolean(), data: bytes() }),
    }),
    fc.constant({ type: 'unknown' as const }),
  );

const fileText = (): fc.Arbitrary<FileText> => fc.record({ path: text(), text: text() });
const indexSymbol = (): fc.Arbitrary<IndexSymbol> => fc.record({ name: text(), path: text(), line: u32(), column: u32() });
const shardIndex = (): fc.Arbitrary<ShardIndex> =>
  fc.record({ shard_id: u32(), revision: u64(), index_generation: u64(), symbols: small(indexSymbol()) });
const workerStats = (): fc.Arbitrary<WorkerStats> =>
  fc.record({ shard_id: u32(), revision: u64(), index_generation: u64(), file_count: u32() });
const remoteDiagnostic = (): fc.Arbitrary<RemoteDiagnostic> =>
  fc.record({ severity: fc.constantFrom(...DIAGNOSTIC_SEVERITIES), line: u32(), column: u32(), message: text() });

export const request = (): fc.Arbitrary<Request> =>
  fc.oneof(
    fc.record({ type: fc.constant('load_files' as const), revision: u64(), files: small(fileText()) }),
    fc.record({ type: fc.constant('index_shard' as const), revision: u64(), files: small(fileText()) }),
    fc.record({ type: fc.constant('update_file' as const), revision: u64(), file: fileText() }),
    fc.record({ type: fc.constant('diagnostics' as const), path: text() }),
    fc.constantFrom<Request>({ type: 'get_worker_stats' }, { type: 'shutdown' }, { type: 'unknown' }),
  );

export const response = (): fc.Arbitrary<Response> =>
  fc.oneof(
    fc.constantFrom<Response>({ type: 'ack' }, { type: 'shutdown' }, { type: 'unknown' }),
    fc.record({ type: fc.constant('shard_index' as const), body: shardIndex() }),
    fc.record({ type: fc.constant('worker_stats' as const), body: workerStats() }),
    fc.record({ type: fc.constant('diagnostics' as const), body: fc.record({ diagnostics: small(remoteDiagnostic()) }) }),
  );

const rpcError = (): fc.Arbitrary<RpcError> =>
  fc.record({
    code: fc.constantFrom(...RPC_ERROR_CODES),
    message: text(),
    retryable: fc.boolean(),
    details: fc.option(text(), { nil: null }),
  });

const rpcResult = (): fc.Arbitrary<RpcResult> =>
  fc.oneof(
    fc.record({ status: fc.constant('ok' as const), value: response() }),
    fc.record({ status: fc.constant('err' as const), error: rpcError() }),
    fc.constant({ status: 'unknown' as const }),
  );

const notification = (): fc.Arbitrary<Notification> =>
  fc.oneof(fc.record({ type: fc.constant('cached_index' as const), body: shardIndex() }), fc.constant({ type: 'unknown' as const }));

export const rpcPayload = (): fc.Arbitrary<RpcPayload> =>
  fc.oneof(
    fc.record({ type: fc.constant('request' as const), body: request() }),
    fc.record({ type: fc.constant('response' as const), body: rpcResult() }),
    fc.record({ type: fc.constant('notification' as const), body: notification() }),
    fc.constantFrom<RpcPayload>({ type: 'cancel' }, { type: 'unknown' }),
  );
