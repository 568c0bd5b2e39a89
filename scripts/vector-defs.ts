/**
 * The golden-vector definitions. Add new vectors anywhere (new names get new ids); never rename
 * a vector (its name is its registry key) — retire it and add a new one instead.
 *
 * Valid vectors give a model value (the hex comes from our encoder); acceptable and invalid
 * vectors give hand-built CBOR (conformance/cbor.ts) and the decoded value or the error code
 * the specification requires. Values shared with the Rust reference sample
 * (/work/shared/reference/interop-vectors.jsonl) are repeated here on purpose so the
 * cross-check test can compare bytes.
 *
 * @module
 */
import type { ErrorCode } from '../src/errors.js';
import type {
  Capabilities,
  CompressionAlgo,
  Response,
  RpcPayload,
  WireFrame,
  WorkerHello,
} from '../src/wire/model.js';
import { DIAGNOSTIC_SEVERITIES, REJECT_CODES, RPC_ERROR_CODES } from '../src/wire/model.js';
import * as L from '../conformance/cbor.js';
import type {
  FrameStreamDef,
  MessageDef,
  PacketReceiveDef,
  PacketSendDef,
  ReceiveFrameDef,
  VectorDef,
} from './vectors-lib.js';

const MiB = 1024 * 1024;
const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const P53 = (1n << 53n) + 1n;
const NON_ASCII = 'héllo ☃ 𝄞';
const CANCEL_HEX = 'a164747970656663616e63656c'; // {"type":"cancel"}

const bytesOf = (hex: string) => L.raw(hex);
/** `too_large` → `TooLarge` (the Rust variant name, as in the reference sample's messages). */
const camel = (name: string) => name.replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());
const seqBytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff);

// ----------------------------------------------------------------------------- model helpers

const caps = (o: Partial<Capabilities> = {}): Capabilities => ({
  max_frame_len: 64 * MiB,
  max_packet_len: 64 * MiB,
  supported_compression: ['none'],
  supports_cancel: false,
  supports_chunking: false,
  ...o,
});

const hello = (o: Partial<WorkerHello> = {}): WireFrame => ({
  type: 'hello',
  body: {
    shard_id: 1,
    auth_token: null,
    supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
    capabilities: caps(),
    cached_index_info: null,
    worker_build: null,
    ...o,
  },
});

const packet = (id: bigint, data: Uint8Array, compression: CompressionAlgo = 'none'): WireFrame => ({
  type: 'packet',
  body: { id, compression, data },
});
const chunk = (id: bigint, seq: number, last: boolean, data: Uint8Array, compression: CompressionAlgo = 'none') =>
  ({ type: 'packet_chunk', body: { id, compression, seq, last, data } }) as const;

const ok = (value: Response): RpcPayload => ({
  type: 'response',
  body: { status: 'ok', value },
});

const getWorkerStats: RpcPayload = { type: 'request', body: { type: 'get_worker_stats' } };

/** A LoadFiles request of about `n` bytes of text: compressible, deterministic. */
function bigRequest(n: number, revision = 7n): RpcPayload {
  const line = 'class A { void f() { return; } } // nova\n';
  return {
    type: 'request',
    body: { type: 'load_files', revision, files: [{ path: 'src/A.java', text: line.repeat(Math.ceil(n / line.length)).slice(0, n) }] },
  };
}

/** Deterministic, poorly compressible text (xorshift PRNG over a 64-letter alphabet). */
function noiseText(n: number, seed = 0x9e3779b9): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let x = seed >>> 0;
  let s = '';
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    s += alphabet[x & 63];
  }
  return s;
}

// ----------------------------------------------------------------------------- CBOR helpers

const env = (type: L.Bytes, body?: L.Bytes): L.Bytes => L.map(body === undefined ? [['type', type]] : [['type', type], ['body', body]]);
const packetBody = (o: { id?: L.Bytes; compression?: L.Bytes; data?: L.Bytes } = {}): L.Bytes =>
  L.map([
    ['id', o.id ?? L.uint(2)],
    ['compression', o.compression ?? L.text('none')],
    ['data', o.data ?? L.bytes([])],
  ]);
const packetEnv = (body: L.Bytes = packetBody()) => env(L.text('packet'), body);
const chunkBody = (o: { seq?: L.Bytes; last?: L.Bytes } = {}) =>
  L.map([
    ['id', L.uint(2)],
    ['compression', L.text('none')],
    ['seq', o.seq ?? L.uint(0)],
    ['last', o.last ?? L.TRUE],
    ['data', L.bytes([])],
  ]);
const chunkEnv = (body: L.Bytes) => env(L.text('packet_chunk'), body);
const rpcEnv = (type: string, body?: L.Bytes) => env(L.text(type), body);
const requestEnv = (entries: L.Entry[]) => rpcEnv('request', L.map(entries));
const responseEnv = (entries: L.Entry[]) => rpcEnv('response', L.map(entries));

/** The Hello body fields, in declaration order, as CBOR entries. */
const helloEntries = (capsBytes?: L.Bytes): L.Entry[] => [
  ['shard_id', L.uint(0)],
  ['auth_token', L.NULL],
  ['supported_versions', L.map([['min', L.map([['major', L.uint(3)], ['minor', L.uint(0)]])], ['max', L.map([['major', L.uint(3)], ['minor', L.uint(0)]])]])],
  [
    'capabilities',
    capsBytes ??
      L.map([
        ['max_frame_len', L.uint(65536)],
        ['max_packet_len', L.uint(65536)],
        ['supported_compression', L.array([L.text('none')])],
        ['supports_cancel', L.TRUE],
        ['supports_chunking', L.TRUE],
      ]),
  ],
  ['cached_index_info', L.NULL],
  ['worker_build', L.NULL],
];
const helloModel = (o: Partial<Capabilities> = {}): WireFrame =>
  hello({ shard_id: 0, capabilities: caps({ max_frame_len: 65536, max_packet_len: 65536, supports_cancel: true, supports_chunking: true, ...o }) });

/** `depth` nested single-item arrays around 0 (the innermost integer sits at depth `depth` below the array). */
function nestedArrays(depth: number): L.Bytes {
  let item = L.uint(0);
  for (let i = 0; i < depth; i++) item = L.array([item]);
  return item;
}

// ----------------------------------------------------------------------------- wire_frame

/** Omit that keeps a union a union. */
type DefOf<T> = T extends unknown ? Omit<T, 'kind'> : never;

type Msg = MessageDef;
const wf = (d: DefOf<Msg>): Msg => ({ kind: 'wire_frame', ...d }) as Msg;
const rp = (d: DefOf<Msg>): Msg => ({ kind: 'rpc_payload', ...d }) as Msg;

const wireFrameValid: Msg[] = [
  wf({ name: 'hello_auth_empty_string', description: 'Hello with an empty (not absent) auth token, version range 3.0..3.0 and default capabilities.', requirements: ['MSG-1', 'CBOR-3', 'HS-1', 'VER-2'], flags: ['EmptyValue', 'NullOptional'], result: 'valid', value: hello({ auth_token: '' }) }),
  wf({ name: 'hello_unicode_token_and_build', description: 'Hello whose auth token and worker_build are non-ASCII.', requirements: ['MSG-1', 'CBOR-3'], flags: ['NonAscii'], result: 'valid', value: hello({ shard_id: 2, auth_token: NON_ASCII, worker_build: NON_ASCII }) }),
  wf({ name: 'hello_worker_build_empty', description: 'Hello with an empty worker_build and no token.', requirements: ['MSG-1', 'CBOR-3'], flags: ['EmptyValue', 'NullOptional'], result: 'valid', value: hello({ shard_id: 4, worker_build: '' }) }),
  wf({ name: 'hello_caps_empty_compression_list', description: 'Hello offering no compression at all (the router rejects it later, but it encodes).', requirements: ['MSG-1', 'NEG-3'], flags: ['EmptyValue'], result: 'valid', value: hello({ shard_id: 6, capabilities: caps({ max_frame_len: 1024, max_packet_len: 2048, supported_compression: [] }) }) }),
  wf({ name: 'hello_caps_with_unknown_algo', description: 'Hello whose compression list holds "unknown" (how CompressionAlgo::Unknown serializes).', requirements: ['MSG-1', 'FWD-2'], flags: ['UnknownVariant', 'EnumValue'], result: 'valid', value: hello({ shard_id: 7, capabilities: caps({ max_frame_len: 4096, max_packet_len: 4096, supported_compression: ['unknown', 'none'], supports_cancel: true }) }) }),
  wf({ name: 'hello_u32_max_and_cached_index_u64_max', description: 'Hello with every u32 at 2^32-1 and cached_index_info u64 fields at 2^64-1 and 2^53+1.', requirements: ['MSG-1', 'CBOR-1'], flags: ['U32Boundary', 'U64Boundary', 'EnumValue'], result: 'valid', value: hello({ shard_id: U32_MAX, supported_versions: { min: { major: 0, minor: 0 }, max: { major: U32_MAX, minor: U32_MAX } }, capabilities: caps({ max_frame_len: U32_MAX, max_packet_len: U32_MAX, supported_compression: ['zstd', 'none'], supports_cancel: true, supports_chunking: true }), cached_index_info: { revision: U64_MAX, index_generation: P53, symbol_count: U32_MAX }, worker_build: 'nova-worker 1.0' }) }),
  wf({ name: 'hello_cached_index_zero', description: 'Hello with cached_index_info all zero and a token.', requirements: ['MSG-1'], flags: ['U64Boundary', 'U32Boundary'], result: 'valid', value: hello({ shard_id: 0, auth_token: 's3cr3t', cached_index_info: { revision: 0n, index_generation: 0n, symbol_count: 0 } }) }),
  wf({ name: 'welcome_no_cancel_no_chunking', description: 'Welcome choosing version 3.0, small limits, no cancel, no chunking.', requirements: ['MSG-1', 'HS-9', 'VER-2'], flags: ['Typical'], result: 'valid', value: { type: 'welcome', body: { worker_id: 3, shard_id: 1, revision: 1n, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: caps({ max_frame_len: 1024, max_packet_len: 1024 }) } } }),
  wf({ name: 'welcome_revision_2pow53plus1', description: 'Welcome whose revision is 2^53+1 (not exact as a double).', requirements: ['MSG-1', 'HS-9'], flags: ['U64Boundary'], result: 'valid', value: { type: 'welcome', body: { worker_id: 1, shard_id: 0, revision: P53, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: caps({ supports_cancel: true, supports_chunking: true }) } } }),
  wf({ name: 'welcome_revision_u64_max', description: 'Welcome whose revision is 2^64-1 and ids are 2^32-1.', requirements: ['MSG-1'], flags: ['U64Boundary', 'U32Boundary'], result: 'valid', value: { type: 'welcome', body: { worker_id: U32_MAX, shard_id: U32_MAX, revision: U64_MAX, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: caps({ supported_compression: ['zstd'] }) } } }),
  ...REJECT_CODES.map((code) =>
    wf({ name: `reject_code_${code}`, description: `Reject with code ${code}.`, requirements: ['MSG-1', 'HS-5'], flags: code === 'unknown' ? ['EnumValue', 'UnknownVariant'] : ['EnumValue'], result: 'valid', value: { type: 'reject', body: { code, message: `${code} message` } } }),
  ),
  wf({ name: 'reject_invalid_request', description: 'Reject as the reference router sends it when there is no common compression.', requirements: ['HS-4', 'HS-5', 'NEG-3'], flags: ['Typical'], result: 'valid', value: { type: 'reject', body: { code: 'invalid_request', message: 'no common compression algorithm' } } }),
  wf({ name: 'reject_unauthorized', description: 'Reject unauthorized, as the reference router words it.', requirements: ['HS-4', 'SEC-1'], flags: ['Typical'], result: 'valid', value: { type: 'reject', body: { code: 'unauthorized', message: 'authentication failed' } } }),
  wf({ name: 'reject_unsupported_version', description: 'Reject unsupported_version, as the reference router words it.', requirements: ['HS-4', 'VER-1'], flags: ['Typical'], result: 'valid', value: { type: 'reject', body: { code: 'unsupported_version', message: 'unsupported protocol version' } } }),
  wf({ name: 'reject_empty_message', description: 'Reject with an empty message.', requirements: ['MSG-1'], flags: ['EmptyValue'], result: 'valid', value: { type: 'reject', body: { code: 'internal', message: '' } } }),
  wf({ name: 'reject_non_ascii_message', description: 'Reject with a non-ASCII message.', requirements: ['MSG-1'], flags: ['NonAscii'], result: 'valid', value: { type: 'reject', body: { code: 'invalid_request', message: NON_ASCII } } }),
  wf({ name: 'packet_id1_empty_data', description: 'Packet id 1 (first worker id) with empty data.', requirements: ['MSG-1', 'CBOR-5', 'ID-1'], flags: ['U64Boundary', 'EmptyValue'], result: 'valid', value: packet(1n, new Uint8Array()) }),
  wf({ name: 'packet_id2_cancel', description: 'Packet id 2 (first router id) carrying a Cancel payload.', requirements: ['MSG-1', 'CAN-1', 'ID-1'], flags: ['InnerPayload'], result: 'valid', value: packet(2n, new Uint8Array()), inner: { compression: 'none', payload: { type: 'cancel' } } }),
  wf({ name: 'packet_id_2pow32', description: 'Packet id 2^32 (needs the 8-byte integer head).', requirements: ['MSG-1', 'CBOR-1'], flags: ['U64Boundary'], result: 'valid', value: packet(1n << 32n, Uint8Array.from([0, 1, 255])) }),
  wf({ name: 'packet_id_2pow53plus1', description: 'Packet id 2^53+1, not exact as a double.', requirements: ['MSG-1', 'CBOR-1'], flags: ['U64Boundary'], result: 'valid', value: packet(P53, Uint8Array.from([0xa0])) }),
  wf({ name: 'packet_id_u64max', description: 'Packet id 2^64-1 carrying a Cancel payload.', requirements: ['MSG-1', 'CBOR-1'], flags: ['U64Boundary', 'InnerPayload'], result: 'valid', value: packet(U64_MAX, new Uint8Array()), inner: { compression: 'none', payload: { type: 'cancel' } } }),
  wf({ name: 'packet_id0_reserved', description: 'Packet with the reserved id 0: it decodes, but a receiving connection must close.', requirements: ['MSG-1', 'ID-2'], flags: ['U64Boundary', 'TransportInvalid', 'InnerPayload'], result: 'valid', value: packet(0n, new Uint8Array()), inner: { compression: 'none', payload: { type: 'cancel' } }, transportError: { code: 'REQUEST_ID_ZERO', requirements: ['ID-2'] } }),
  wf({ name: 'packet_compression_unknown', description: 'Packet with compression "unknown": it decodes, but a receiver must close the connection.', requirements: ['MSG-1', 'CMP-2', 'FWD-2'], flags: ['UnknownVariant', 'TransportInvalid'], result: 'valid', value: packet(3n, Uint8Array.from([1, 2, 3]), 'unknown'), transportError: { code: 'COMPRESSION_UNSUPPORTED', requirements: ['CMP-2'] } }),
  wf({ name: 'packet_data_256_bytes', description: 'Packet whose data is the 256 byte values 0..255 (2-byte length head).', requirements: ['MSG-1', 'CBOR-5'], flags: ['Typical'], result: 'valid', value: packet(6n, seqBytes(256)) }),
  wf({ name: 'packet_zstd_load_files', description: 'Packet whose data is a zstd-compressed LoadFiles request (level 3).', requirements: ['MSG-1', 'CMP-1', 'CMP-5'], flags: ['Compressed', 'EnumValue', 'InnerPayload'], result: 'valid', value: packet(8n, new Uint8Array()), inner: { compression: 'zstd', payload: bigRequest(2048) } }),
  wf({ name: 'packet_zstd_index_shard', description: 'Packet whose data is a zstd-compressed IndexShard request of 4200 bytes of text (the reference sample\'s payload).', requirements: ['CMP-1', 'CMP-5'], flags: ['Compressed', 'InnerPayload'], result: 'valid', value: packet(8n, new Uint8Array()), inner: { compression: 'zstd', payload: { type: 'request', body: { type: 'index_shard', revision: 5n, files: [{ path: 'src/Big.java', text: 'class Big { int x; }\n'.repeat(200) }] } } } }),
  wf({ name: 'packet_zstd_tiny_get_worker_stats', description: 'A zstd packet below the compression threshold: a sender would not produce it, but receivers must accept it.', requirements: ['CMP-1', 'CMP-5'], flags: ['Compressed', 'InnerPayload'], result: 'valid', value: packet(10n, new Uint8Array()), inner: { compression: 'zstd', payload: getWorkerStats } }),
  wf({ name: 'chunk_seq0_not_last', description: 'First chunk (seq 0, last false).', requirements: ['MSG-1', 'CHK-3'], flags: ['Typical'], result: 'valid', value: chunk(2n, 0, false, bytesOf('a26474797065677265717565737464626f6479a164')) }),
  wf({ name: 'chunk_seq1_last', description: 'Final chunk (seq 1, last true).', requirements: ['MSG-1', 'CHK-8'], flags: ['Typical'], result: 'valid', value: chunk(2n, 1, true, bytesOf('74797065706765745f776f726b65725f7374617473')) }),
  wf({ name: 'chunk_seq1_not_last', description: 'Middle chunk (seq 1, last false).', requirements: ['MSG-1'], flags: ['Typical'], result: 'valid', value: chunk(6n, 1, false, Uint8Array.from([255])) }),
  wf({ name: 'chunk_empty_data_last', description: 'A chunk with empty data that is both first and last.', requirements: ['MSG-1', 'CHK-8'], flags: ['EmptyValue'], result: 'valid', value: chunk(8n, 0, true, new Uint8Array()) }),
  wf({ name: 'chunk_seq_u32max_id_u64max', description: 'A chunk with seq 2^32-1 and id 2^64-1.', requirements: ['MSG-1', 'CBOR-1'], flags: ['U32Boundary', 'U64Boundary'], result: 'valid', value: chunk(U64_MAX, U32_MAX, true, Uint8Array.from([1])) }),
  wf({ name: 'chunk_id_2pow53plus1', description: 'A chunk with id 2^53+1.', requirements: ['MSG-1'], flags: ['U64Boundary'], result: 'valid', value: chunk(P53, 0, false, Uint8Array.from([2])) }),
  wf({ name: 'chunk_zstd_whole_payload', description: 'A single zstd chunk holding a whole compressed payload.', requirements: ['MSG-1', 'CHK-4'], flags: ['Compressed', 'InnerPayload'], result: 'valid', value: chunk(12n, 0, true, new Uint8Array()), inner: { compression: 'zstd', payload: bigRequest(1500) } }),
  wf({ name: 'chunk_id0_reserved', description: 'PacketChunk with the reserved id 0: it decodes, but a receiving connection must close.', requirements: ['ID-2'], flags: ['U64Boundary', 'TransportInvalid'], result: 'valid', value: chunk(0n, 0, true, Uint8Array.from([0xa0])), transportError: { code: 'REQUEST_ID_ZERO', requirements: ['ID-2'] } }),
  wf({ name: 'unknown_frame', description: 'WireFrame::Unknown encodes as {"type":"unknown"} with no body key.', requirements: ['CBOR-2', 'DATA-6'], flags: ['UnitVariant', 'UnknownVariant'], result: 'valid', value: { type: 'unknown' } }),
];

const wireFrameAcceptable: Msg[] = [
  wf({ name: 'hello_unknown_keys_ignored', description: 'Unknown keys in the envelope and the Hello body are ignored.', requirements: ['CBOR-10', 'FWD-1'], flags: ['UnknownKey'], result: 'acceptable', input: L.map([['type', L.text('hello')], ['body', L.map([...helloEntries(), ['future_field', L.uint(1)], ['nested_future', L.map([['x', L.array([])]])]])], ['envelope_extra', L.text('x')]]), decoded: helloModel() }),
  wf({ name: 'hello_caps_unknown_key_ignored', description: 'An unknown key inside capabilities is ignored.', requirements: ['CBOR-10', 'FWD-1'], flags: ['UnknownKey'], result: 'acceptable', input: env(L.text('hello'), L.map(helloEntries(L.map([['max_frame_len', L.uint(65536)], ['max_packet_len', L.uint(65536)], ['supported_compression', L.array([L.text('none')])], ['supports_cancel', L.TRUE], ['supports_chunking', L.TRUE], ['supports_telepathy', L.TRUE]])))), decoded: helloModel() }),
  wf({ name: 'hello_unknown_compression_string', description: 'An unknown compression name ("brotli") decodes as "unknown".', requirements: ['FWD-2'], flags: ['UnknownName'], result: 'acceptable', input: env(L.text('hello'), L.map(helloEntries(L.map([['max_frame_len', L.uint(65536)], ['max_packet_len', L.uint(65536)], ['supported_compression', L.array([L.text('brotli'), L.text('none')])], ['supports_cancel', L.TRUE], ['supports_chunking', L.TRUE]])))), decoded: helloModel({ supported_compression: ['unknown', 'none'] }) }),
  wf({ name: 'hello_optional_fields_absent', description: 'auth_token, cached_index_info and worker_build left out entirely decode as null.', requirements: ['CBOR-10'], flags: ['MissingOptional'], result: 'acceptable', input: env(L.text('hello'), L.map(helloEntries().filter(([k]) => k !== 'auth_token' && k !== 'cached_index_info' && k !== 'worker_build'))), decoded: helloModel() }),
  wf({ name: 'reject_unknown_code', description: 'An unknown reject code ("teapot") decodes as "unknown".', requirements: ['FWD-2'], flags: ['UnknownName'], result: 'acceptable', input: env(L.text('reject'), L.map([['code', L.text('teapot')], ['message', L.text('m')]])), decoded: { type: 'reject', body: { code: 'unknown', message: 'm' } } }),
  wf({ name: 'unknown_type_no_body', description: 'An unknown frame type without a body decodes as unknown.', requirements: ['DATA-6', 'FWD-2'], flags: ['UnknownName'], result: 'acceptable', input: env(L.text('future_frame')), decoded: { type: 'unknown' } }),
  wf({ name: 'unknown_type_null_body', description: 'An unknown frame type with "body": null decodes as unknown.', requirements: ['DATA-6', 'CBOR-12'], flags: ['UnknownName', 'NullUnitBody'], result: 'acceptable', input: env(L.text('future_frame'), L.NULL), decoded: { type: 'unknown' } }),
  wf({ name: 'packet_compression_lz4', description: 'An unknown compression name ("lz4") decodes as "unknown" (the transport then refuses it).', requirements: ['FWD-2', 'CMP-2'], flags: ['UnknownName'], result: 'acceptable', input: packetEnv(packetBody({ compression: L.text('lz4'), data: L.bytes([1]) })), decoded: packet(2n, Uint8Array.from([1]), 'unknown') }),
  wf({ name: 'packet_data_indefinite_bytes', description: 'data as an indefinite-length byte string.', requirements: ['CBOR-10'], flags: ['IndefiniteLength'], result: 'acceptable', input: packetEnv(packetBody({ data: L.bytesIndef([Uint8Array.from([1, 2]), Uint8Array.from([3])]) })), decoded: packet(2n, Uint8Array.from([1, 2, 3])) }),
  wf({ name: 'packet_data_indefinite_array', description: 'data as an indefinite-length array of u8.', requirements: ['CBOR-10'], flags: ['IndefiniteLength', 'BytesAsArray'], result: 'acceptable', input: packetEnv(packetBody({ data: L.arrayIndef([L.uint(1), L.uint(2)]) })), decoded: packet(2n, Uint8Array.from([1, 2])) }),
  wf({ name: 'packet_data_array_of_u8', description: 'data as a definite array of u8 (0, 23, 24, 255).', requirements: ['CBOR-10'], flags: ['BytesAsArray'], result: 'acceptable', input: packetEnv(packetBody({ data: L.array([L.uint(0), L.uint(23), L.uint(24), L.uint(255)]) })), decoded: packet(2n, Uint8Array.from([0, 23, 24, 255])) }),
  wf({ name: 'packet_indefinite_maps', description: 'Indefinite-length envelope and body maps.', requirements: ['CBOR-10'], flags: ['IndefiniteLength'], result: 'acceptable', input: L.mapIndef([['type', L.text('packet')], ['body', L.mapIndef([['id', L.uint(2)], ['compression', L.text('none')], ['data', L.bytes([0xa0])]])]]), decoded: packet(2n, Uint8Array.from([0xa0])) }),
  wf({ name: 'packet_indefinite_text_type', description: 'The type tag as an indefinite-length text string ("pack" "et").', requirements: ['CBOR-10'], flags: ['IndefiniteLength'], result: 'acceptable', input: env(L.textIndef(['pack', 'et']), packetBody()), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'packet_body_before_type', description: 'body before type in the envelope.', requirements: ['CBOR-10'], flags: ['KeyOrder'], result: 'acceptable', input: L.map([['body', packetBody()], ['type', L.text('packet')]]), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'packet_fields_reversed', description: 'Body fields in reverse declaration order.', requirements: ['CBOR-10'], flags: ['KeyOrder'], result: 'acceptable', input: packetEnv(L.map([['data', L.bytes([7])], ['compression', L.text('none')], ['id', L.uint(4)]])), decoded: packet(4n, Uint8Array.from([7])) }),
  wf({ name: 'packet_id_nonminimal_u64', description: 'id 2 in an 8-byte head.', requirements: ['CBOR-10'], flags: ['NonMinimalInt'], result: 'acceptable', input: packetEnv(packetBody({ id: L.uint(2, 8) })), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'packet_id_nonminimal_1byte', description: 'id 2 in a 1-byte head (0x18 0x02).', requirements: ['CBOR-10'], flags: ['NonMinimalInt'], result: 'acceptable', input: packetEnv(packetBody({ id: L.uint(2, 1) })), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'chunk_seq_nonminimal_u32', description: 'seq 1 in a 4-byte head.', requirements: ['CBOR-10'], flags: ['NonMinimalInt'], result: 'acceptable', input: chunkEnv(chunkBody({ seq: L.uint(1, 4) })), decoded: chunk(2n, 1, true, new Uint8Array()) }),
  wf({ name: 'self_describe_tag', description: 'The self-describe tag 55799 in front of the envelope.', requirements: ['CBOR-10'], flags: ['Tagged'], result: 'acceptable', input: L.tag(55799, packetEnv()), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'tagged_id', description: 'A tag (2) on the id integer is ignored.', requirements: ['CBOR-10'], flags: ['Tagged'], result: 'acceptable', input: packetEnv(packetBody({ id: L.tag(2, L.uint(2)) })), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'type_as_variant_index_3', description: 'type given as variant index 3 (= packet).', requirements: ['CBOR-11'], flags: ['VariantIndex'], result: 'acceptable', input: env(L.uint(3), packetBody()), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'type_as_variant_index_5', description: 'type given as variant index 5 (= unknown), no body.', requirements: ['CBOR-11'], flags: ['VariantIndex', 'UnknownVariant'], result: 'acceptable', input: env(L.uint(5)), decoded: { type: 'unknown' } }),
  wf({ name: 'compression_as_index_1', description: 'compression given as variant index 1 (= zstd).', requirements: ['CBOR-11'], flags: ['VariantIndex'], result: 'acceptable', input: packetEnv(packetBody({ compression: L.uint(1) })), decoded: packet(2n, new Uint8Array(), 'zstd') }),
  wf({ name: 'map_key_64_bytes', description: 'An unknown key of exactly 64 bytes is allowed (and ignored).', requirements: ['CBOR-7', 'CBOR-10'], flags: ['AtLimit', 'UnknownKey'], result: 'acceptable', input: packetEnv(L.map([['id', L.uint(2)], ['compression', L.text('none')], ['data', L.bytes([])], ['k'.repeat(64), L.uint(1)]])), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'map_1024_pairs', description: 'A body map of exactly 1024 pairs (3 fields + 1021 unknown keys) is allowed.', requirements: ['CBOR-7', 'CBOR-10'], flags: ['AtLimit', 'UnknownKey'], result: 'acceptable', input: packetEnv(L.map([['id', L.uint(2)], ['compression', L.text('none')], ['data', L.bytes([])], ...Array.from({ length: 1021 }, (_, i): L.Entry => [`k${i}`, L.NULL])])), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'nesting_64_deep', description: 'An ignored unknown value nested so that its innermost item is at depth 64 (the envelope map is depth 0): allowed.', requirements: ['CBOR-7', 'CBOR-10'], flags: ['AtLimit', 'UnknownKey'], result: 'acceptable', input: packetEnv(L.map([['id', L.uint(2)], ['compression', L.text('none')], ['data', L.bytes([])], ['x', nestedArrays(62)]])), decoded: packet(2n, new Uint8Array()) }),
  wf({ name: 'duplicate_unknown_key', description: 'An unknown key twice in one map: unknown keys are skipped without a duplicate check, as in the reference (only known fields are checked for duplicates).', requirements: ['CBOR-7', 'CBOR-10'], flags: ['UnknownKey', 'DuplicateKey'], result: 'acceptable', input: L.map([['type', L.text('future_frame')], ['x', L.uint(1)], ['x', L.uint(1)]]), decoded: { type: 'unknown' } }),
  wf({ name: 'envelope_and_body_as_arrays', description: 'Envelope and Packet body given as arrays of their fields in declaration order (serde\'s sequence form), which the reference accepts.', requirements: ['CBOR-10'], flags: ['SequenceForm'], result: 'acceptable', input: L.array([L.text('packet'), L.array([L.uint(2), L.text('none'), L.bytes([9])])]), decoded: packet(2n, Uint8Array.from([9])) }),
  wf({ name: 'type_string_64_bytes', description: 'A type string of exactly 64 bytes is allowed; unknown, it decodes as unknown.', requirements: ['CBOR-9', 'FWD-2'], flags: ['AtLimit', 'UnknownName'], result: 'acceptable', input: env(L.text('t'.repeat(64))), decoded: { type: 'unknown' } }),
];

const wireFrameInvalid: Msg[] = [
  wf({ name: 'trailing_byte', description: 'One byte (0x00) after a valid envelope.', requirements: ['CBOR-6'], flags: ['TrailingBytes'], result: 'invalid', input: L.cat(packetEnv(), L.uint(0)), error: 'CBOR_TRAILING_BYTES' }),
  wf({ name: 'two_concatenated_envelopes', description: 'Two complete envelopes in one frame.', requirements: ['CBOR-6'], flags: ['TrailingBytes'], result: 'invalid', input: L.cat(env(L.text('x')), env(L.text('x'))), error: 'CBOR_TRAILING_BYTES' }),
  wf({ name: 'nesting_65_deep', description: 'An ignored unknown value whose innermost item is at depth 65.', requirements: ['CBOR-7'], flags: ['TooDeep'], result: 'invalid', input: packetEnv(L.map([['id', L.uint(2)], ['compression', L.text('none')], ['data', L.bytes([])], ['x', nestedArrays(63)]])), error: 'CBOR_TOO_DEEP' }),
  wf({ name: 'nesting_far_too_deep', description: 'The reference sample\'s deep input: 66 nested arrays under body.', requirements: ['CBOR-7'], flags: ['TooDeep'], result: 'invalid', input: env(L.text('x'), nestedArrays(66)), error: 'CBOR_TOO_DEEP' }),
  wf({ name: 'integer_map_key', description: 'A map with an integer key.', requirements: ['CBOR-7'], flags: ['BadMapKey'], result: 'invalid', input: L.map([[L.uint(1), L.text('packet')]]), error: 'CBOR_MAP_KEY_NOT_TEXT' }),
  wf({ name: 'bytes_map_key', description: 'A map with a byte-string key "type".', requirements: ['CBOR-7'], flags: ['BadMapKey'], result: 'invalid', input: L.map([[L.bytes(new TextEncoder().encode('type')), L.text('packet')]]), error: 'CBOR_MAP_KEY_NOT_TEXT' }),
  wf({ name: 'map_key_65_bytes', description: 'A map key of 65 bytes.', requirements: ['CBOR-7'], flags: ['BadMapKey', 'OverLimit'], result: 'invalid', input: L.map([['type', L.text('x')], ['k'.repeat(65), L.uint(1)]]), error: 'CBOR_LIMIT_EXCEEDED' }),
  wf({ name: 'map_1025_pairs', description: 'A body map of 1025 pairs.', requirements: ['CBOR-7'], flags: ['OverLimit'], result: 'invalid', input: packetEnv(L.map([['id', L.uint(2)], ['compression', L.text('none')], ['data', L.bytes([])], ...Array.from({ length: 1022 }, (_, i): L.Entry => [`k${i}`, L.NULL])])), error: 'CBOR_LIMIT_EXCEEDED' }),
  wf({ name: 'duplicate_key_in_body', description: 'The key "id" twice in a Packet body.', requirements: ['CBOR-7'], flags: ['DuplicateKey'], result: 'invalid', input: packetEnv(L.map([['id', L.uint(2)], ['id', L.uint(4)], ['compression', L.text('none')], ['data', L.bytes([])]])), error: 'CBOR_DUPLICATE_KEY' }),
  wf({ name: 'bytes_length_bomb', description: 'data declares 4294967295 bytes with none following.', requirements: ['CBOR-8', 'FRM-7'], flags: ['LengthBomb'], result: 'invalid', input: packetEnv(packetBody({ data: L.head(2, 0xffffffff) })), error: 'CBOR_LIMIT_EXCEEDED' }),
  wf({ name: 'bytes_length_exceeds_input', description: 'data declares 1000 bytes; 3 follow.', requirements: ['CBOR-8'], flags: ['LengthBomb'], result: 'invalid', input: packetEnv(packetBody({ data: L.cat(L.head(2, 1000), Uint8Array.from([1, 2, 3])) })), error: 'CBOR_LENGTH_EXCEEDS_INPUT' }),
  wf({ name: 'map_length_bomb', description: 'The envelope declares 2^32-1 pairs.', requirements: ['CBOR-7', 'CBOR-8'], flags: ['LengthBomb'], result: 'invalid', input: L.cat(L.head(5, 0xffffffff), L.text('type'), L.text('x')), error: 'CBOR_LIMIT_EXCEEDED' }),
  wf({ name: 'packet_data_over_max_packet', description: 'data of 1025 bytes when the decoder was given max_packet_bytes 1024.', requirements: ['DATA-4', 'CBOR-8'], flags: ['OverLimit'], result: 'invalid', input: packetEnv(packetBody({ data: L.bytes(new Uint8Array(1025)) })), error: 'PACKET_TOO_LARGE', decodeLimits: { maxPacketBytes: 1024 } }),
  wf({ name: 'message_over_max_message', description: 'A frame larger than the max_message_bytes (32) the decoder was given.', requirements: ['FRM-7'], flags: ['OverLimit'], result: 'invalid', input: packetEnv(packetBody({ data: L.bytes(new Uint8Array(8)) })), error: 'MESSAGE_TOO_LARGE', decodeLimits: { maxMessageBytes: 32 } }),
  wf({ name: 'type_string_65_bytes', description: 'A type string of 65 bytes.', requirements: ['CBOR-9'], flags: ['OverLimit'], result: 'invalid', input: env(L.text('t'.repeat(65))), error: 'CBOR_LIMIT_EXCEEDED' }),
  wf({ name: 'auth_token_over_16kib', description: 'An auth_token of 16385 bytes.', requirements: ['CBOR-9'], flags: ['OverLimit'], result: 'invalid', input: env(L.text('hello'), L.map(helloEntries().map(([k, v]): L.Entry => (k === 'auth_token' ? [k, L.text('a'.repeat(16385))] : [k, v])))), error: 'CBOR_LIMIT_EXCEEDED' }),
  wf({ name: 'supported_compression_33_items', description: 'supported_compression with 33 items.', requirements: ['CBOR-9'], flags: ['OverLimit'], result: 'invalid', input: env(L.text('hello'), L.map(helloEntries(L.map([['max_frame_len', L.uint(65536)], ['max_packet_len', L.uint(65536)], ['supported_compression', L.array(Array.from({ length: 33 }, () => L.text('none')))], ['supports_cancel', L.TRUE], ['supports_chunking', L.TRUE]])))), error: 'CBOR_LIMIT_EXCEEDED' }),
  wf({ name: 'reserved_ai_28', description: 'A lone byte 0x1c (reserved additional info 28).', requirements: ['CBOR-1'], flags: ['Malformed'], result: 'invalid', input: L.raw('1c'), error: 'CBOR_MALFORMED' }),
  wf({ name: 'reserved_ai_in_body', description: 'Reserved additional info 30 (0x5e) where data should be.', requirements: ['CBOR-1'], flags: ['Malformed'], result: 'invalid', input: packetEnv(packetBody({ data: L.raw('5e') })), error: 'CBOR_MALFORMED' }),
  wf({ name: 'empty_input', description: 'No bytes at all.', requirements: ['FRM-2', 'CBOR-1'], flags: ['Malformed'], result: 'invalid', input: new Uint8Array(), error: 'CBOR_MALFORMED' }),
  wf({ name: 'truncated_map', description: 'The envelope declares 2 pairs; only 1 follows.', requirements: ['CBOR-8'], flags: ['Malformed'], result: 'invalid', input: L.mapDeclaring(2, [['type', L.text('packet')]]), error: 'CBOR_MALFORMED' }),
  wf({ name: 'truncated_integer', description: 'The id head says 8 bytes follow; the input ends first.', requirements: ['CBOR-8'], flags: ['Malformed'], result: 'invalid', input: L.cat(L.raw('a1'), L.text('type'), L.raw('1b0000')), error: 'CBOR_MALFORMED' }),
  wf({ name: 'stray_break', description: 'A break byte (0xff) outside any indefinite item.', requirements: ['CBOR-1'], flags: ['Malformed'], result: 'invalid', input: L.raw('ff'), error: 'CBOR_MALFORMED' }),
  wf({ name: 'indefinite_text_with_bytes_chunk', description: 'An indefinite text string containing a byte-string chunk.', requirements: ['CBOR-1'], flags: ['Malformed'], result: 'invalid', input: env(L.cat(L.raw('7f'), L.bytes([0x61]), L.BREAK)), error: 'CBOR_MALFORMED' }),
  wf({ name: 'invalid_utf8_text', description: 'A reject message holding the bytes ff fe (not UTF-8).', requirements: ['CBOR-1'], flags: ['InvalidUtf8'], result: 'invalid', input: env(L.text('reject'), L.map([['code', L.text('internal')], ['message', L.textRaw(Uint8Array.from([0xff, 0xfe]))]])), error: 'CBOR_INVALID_UTF8' }),
  wf({ name: 'utf8_encoded_surrogate', description: 'A text string holding an encoded surrogate (ed a0 80), which is not valid UTF-8.', requirements: ['CBOR-1'], flags: ['InvalidUtf8'], result: 'invalid', input: env(L.text('reject'), L.map([['code', L.text('internal')], ['message', L.textRaw(Uint8Array.from([0xed, 0xa0, 0x80]))]])), error: 'CBOR_INVALID_UTF8' }),
  wf({ name: 'unknown_type_with_body', description: 'An unknown frame type with a map body.', requirements: ['CBOR-12'], flags: ['UnknownVariantWithBody'], result: 'invalid', input: env(L.text('future_frame'), L.map([['a', L.uint(1)]])), error: 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY' }),
  wf({ name: 'unknown_type_body_scalar', description: 'An unknown frame type with the body 5.', requirements: ['CBOR-12'], flags: ['UnknownVariantWithBody'], result: 'invalid', input: env(L.text('future_frame'), L.uint(5)), error: 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY' }),
  wf({ name: 'type_wrong_case', description: '"Packet" is not "packet": an unknown type, here with a body.', requirements: ['CBOR-12'], flags: ['UnknownVariantWithBody'], result: 'invalid', input: env(L.text('Packet'), packetBody()), error: 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY' }),
  wf({ name: 'unknown_variant_explicit_with_body', description: '"unknown" itself with a body.', requirements: ['CBOR-12'], flags: ['UnknownVariantWithBody'], result: 'invalid', input: env(L.text('unknown'), L.map([])), error: 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY' }),
  wf({ name: 'packet_body_null', description: 'A Packet with "body": null.', requirements: ['CBOR-12'], flags: ['MissingBody'], result: 'invalid', input: env(L.text('packet'), L.NULL), error: 'SCHEMA_MISSING_BODY' }),
  wf({ name: 'packet_body_missing', description: 'A Packet without a body key.', requirements: ['CBOR-12'], flags: ['MissingBody'], result: 'invalid', input: env(L.text('packet')), error: 'SCHEMA_MISSING_BODY' }),
  wf({ name: 'type_index_1_body_null', description: 'type 1 (= welcome) with a null body.', requirements: ['CBOR-11', 'CBOR-12'], flags: ['VariantIndex', 'MissingBody'], result: 'invalid', input: env(L.uint(1), L.NULL), error: 'SCHEMA_MISSING_BODY' }),
  wf({ name: 'type_missing', description: 'An envelope without a type key.', requirements: ['CBOR-2'], flags: ['MissingField'], result: 'invalid', input: L.map([['body', packetBody()]]), error: 'SCHEMA_MISSING_FIELD' }),
  wf({ name: 'type_as_bool', description: 'type given as true.', requirements: ['CBOR-2'], flags: ['WrongType'], result: 'invalid', input: env(L.TRUE, packetBody()), error: 'SCHEMA_WRONG_TYPE' }),
  wf({ name: 'not_a_map', description: 'A top-level text string instead of a map.', requirements: ['CBOR-2'], flags: ['WrongType'], result: 'invalid', input: L.text('packet'), error: 'SCHEMA_WRONG_TYPE' }),
  wf({ name: 'hello_missing_capabilities', description: 'A Hello body without capabilities.', requirements: ['MSG-1'], flags: ['MissingField'], result: 'invalid', input: env(L.text('hello'), L.map(helloEntries().filter(([k]) => k !== 'capabilities'))), error: 'SCHEMA_MISSING_FIELD' }),
  wf({ name: 'packet_missing_data', description: 'A Packet body without data.', requirements: ['MSG-1'], flags: ['MissingField'], result: 'invalid', input: packetEnv(L.map([['id', L.uint(2)], ['compression', L.text('none')]])), error: 'SCHEMA_MISSING_FIELD' }),
  wf({ name: 'packet_data_as_text', description: 'data as a text string.', requirements: ['CBOR-5'], flags: ['WrongType'], result: 'invalid', input: packetEnv(packetBody({ data: L.text('abc') })), error: 'SCHEMA_WRONG_TYPE' }),
  wf({ name: 'packet_id_float', description: 'id as the float 2.0.', requirements: ['CBOR-1', 'MSG-1'], flags: ['WrongType'], result: 'invalid', input: packetEnv(packetBody({ id: L.float64(2) })), error: 'SCHEMA_WRONG_TYPE' }),
  wf({ name: 'packet_id_negative', description: 'id as the negative integer -1.', requirements: ['MSG-1'], flags: ['IntRange'], result: 'invalid', input: packetEnv(packetBody({ id: L.negMinus1(0) })), error: 'SCHEMA_INT_RANGE' }),
  wf({ name: 'packet_id_text', description: 'id as the text "2".', requirements: ['MSG-1'], flags: ['WrongType'], result: 'invalid', input: packetEnv(packetBody({ id: L.text('2') })), error: 'SCHEMA_WRONG_TYPE' }),
  wf({ name: 'packet_compression_as_null', description: 'compression as null.', requirements: ['MSG-1'], flags: ['WrongType'], result: 'invalid', input: packetEnv(packetBody({ compression: L.NULL })), error: 'SCHEMA_WRONG_TYPE' }),
  wf({ name: 'packet_data_array_item_256', description: 'data as an array of integers with one item 256 (not a u8).', requirements: ['CBOR-5'], flags: ['IntRange', 'BytesAsArray'], result: 'invalid', input: packetEnv(packetBody({ data: L.array([L.uint(1), L.uint(256)]) })), error: 'SCHEMA_INT_RANGE' }),
  wf({ name: 'chunk_last_as_int', description: 'last given as the integer 1.', requirements: ['MSG-1'], flags: ['WrongType'], result: 'invalid', input: chunkEnv(chunkBody({ last: L.uint(1) })), error: 'SCHEMA_WRONG_TYPE' }),
  wf({ name: 'chunk_seq_over_u32', description: 'seq 2^32 (one more than u32 max).', requirements: ['MSG-1'], flags: ['IntRange'], result: 'invalid', input: chunkEnv(chunkBody({ seq: L.uint(1n << 32n) })), error: 'SCHEMA_INT_RANGE' }),
  wf({ name: 'hello_max_frame_len_over_u32', description: 'max_frame_len 2^32.', requirements: ['MSG-1'], flags: ['IntRange'], result: 'invalid', input: env(L.text('hello'), L.map(helloEntries(L.map([['max_frame_len', L.uint(1n << 32n)], ['max_packet_len', L.uint(65536)], ['supported_compression', L.array([L.text('none')])], ['supports_cancel', L.TRUE], ['supports_chunking', L.TRUE]])))), error: 'SCHEMA_INT_RANGE' }),
  wf({ name: 'hello_auth_token_undefined', description: 'auth_token as the CBOR simple value undefined (0xf7), which is not null.', requirements: ['CBOR-3'], flags: ['WrongType'], result: 'invalid', input: env(L.text('hello'), L.map(helloEntries().map(([k, v]): L.Entry => (k === 'auth_token' ? [k, L.UNDEFINED] : [k, v])))), error: 'SCHEMA_WRONG_TYPE' }),
];

// ----------------------------------------------------------------------------- rpc_payload

const shardIndex = { shard_id: 1, revision: 2n, index_generation: 3n, symbols: [{ name: 'A', path: 'src/A.java', line: 0, column: 6 }, { name: NON_ASCII, path: 'src/Ü.java', line: U32_MAX, column: U32_MAX }] };

const rpcValid: Msg[] = [
  rp({ name: 'req_load_files_empty', description: 'LoadFiles with revision 0 and no files.', requirements: ['MSG-1', 'CBOR-4'], flags: ['EmptyValue', 'U64Boundary'], result: 'valid', value: { type: 'request', body: { type: 'load_files', revision: 0n, files: [] } } }),
  rp({ name: 'req_load_files_two_files', description: 'LoadFiles with two files, one with non-ASCII path and text, one empty.', requirements: ['MSG-1', 'CBOR-4'], flags: ['NonAscii', 'EmptyValue'], result: 'valid', value: { type: 'request', body: { type: 'load_files', revision: 5n, files: [{ path: 'src/Ü.java', text: `// ${NON_ASCII}\n` }, { path: '', text: '' }] } } }),
  rp({ name: 'req_index_shard_empty', description: 'IndexShard with revision 0 and no files.', requirements: ['MSG-1', 'CBOR-4'], flags: ['EmptyValue'], result: 'valid', value: { type: 'request', body: { type: 'index_shard', revision: 0n, files: [] } } }),
  rp({ name: 'req_index_shard_rev_2pow53plus1', description: 'IndexShard with revision 2^53+1.', requirements: ['MSG-1'], flags: ['U64Boundary'], result: 'valid', value: { type: 'request', body: { type: 'index_shard', revision: P53, files: [{ path: 'a', text: 'b' }] } } }),
  rp({ name: 'req_update_file', description: 'UpdateFile with one Java file.', requirements: ['MSG-1', 'CBOR-4'], flags: ['Typical'], result: 'valid', value: { type: 'request', body: { type: 'update_file', revision: 3n, file: { path: 'src/A.java', text: 'class A { void f() {} }\n' } } } }),
  rp({ name: 'req_update_file_rev_u64_max', description: 'UpdateFile with revision 2^64-1.', requirements: ['MSG-1'], flags: ['U64Boundary'], result: 'valid', value: { type: 'request', body: { type: 'update_file', revision: U64_MAX, file: { path: 'x', text: NON_ASCII } } } }),
  rp({ name: 'req_diagnostics_empty_path', description: 'Diagnostics request with an empty path.', requirements: ['MSG-3'], flags: ['EmptyValue'], result: 'valid', value: { type: 'request', body: { type: 'diagnostics', path: '' } } }),
  rp({ name: 'req_diagnostics_path', description: 'Diagnostics request for a non-ASCII path.', requirements: ['MSG-3'], flags: ['NonAscii'], result: 'valid', value: { type: 'request', body: { type: 'diagnostics', path: 'src/Ü.java' } } }),
  rp({ name: 'req_get_worker_stats', description: 'GetWorkerStats: an internally tagged unit variant, body {"type":"get_worker_stats"}.', requirements: ['CBOR-4'], flags: ['UnitVariant'], result: 'valid', value: getWorkerStats }),
  rp({ name: 'req_shutdown', description: 'Shutdown request.', requirements: ['CBOR-4', 'DATA-8'], flags: ['UnitVariant'], result: 'valid', value: { type: 'request', body: { type: 'shutdown' } } }),
  rp({ name: 'req_unknown', description: 'Request::Unknown encodes as {"type":"unknown"}.', requirements: ['CBOR-4', 'DATA-7'], flags: ['UnitVariant', 'UnknownVariant'], result: 'valid', value: { type: 'request', body: { type: 'unknown' } } }),
  rp({ name: 'resp_ok_ack', description: 'Ok(Ack): an adjacently tagged unit variant, value {"type":"ack"}.', requirements: ['CBOR-2', 'CBOR-4'], flags: ['UnitVariant'], result: 'valid', value: ok({ type: 'ack' }) }),
  rp({ name: 'resp_ok_shard_index', description: 'Ok(ShardIndex) with two symbols, one at u32 max line/column.', requirements: ['MSG-1', 'MSG-2'], flags: ['U32Boundary', 'NonAscii'], result: 'valid', value: ok({ type: 'shard_index', body: shardIndex }) }),
  rp({ name: 'resp_ok_shard_index_empty', description: 'Ok(ShardIndex) with no symbols and u64-max revision.', requirements: ['MSG-1'], flags: ['EmptyValue', 'U64Boundary'], result: 'valid', value: ok({ type: 'shard_index', body: { shard_id: 0, revision: U64_MAX, index_generation: 0n, symbols: [] } }) }),
  rp({ name: 'resp_ok_worker_stats', description: 'Ok(WorkerStats).', requirements: ['MSG-1'], flags: ['Typical'], result: 'valid', value: ok({ type: 'worker_stats', body: { shard_id: 1, revision: 2n, index_generation: 3n, file_count: 4 } }) }),
  rp({ name: 'resp_ok_worker_stats_max', description: 'Ok(WorkerStats) with every integer at its maximum.', requirements: ['MSG-1'], flags: ['U32Boundary', 'U64Boundary'], result: 'valid', value: ok({ type: 'worker_stats', body: { shard_id: U32_MAX, revision: U64_MAX, index_generation: U64_MAX, file_count: U32_MAX } }) }),
  rp({ name: 'resp_ok_worker_stats_zero', description: 'Ok(WorkerStats) with every integer 0.', requirements: ['MSG-1'], flags: ['U32Boundary', 'U64Boundary'], result: 'valid', value: ok({ type: 'worker_stats', body: { shard_id: 0, revision: 0n, index_generation: 0n, file_count: 0 } }) }),
  rp({ name: 'resp_ok_diagnostics', description: 'Ok(Diagnostics) with one diagnostic of every severity.', requirements: ['MSG-3'], flags: ['EnumValue', 'NonAscii', 'U32Boundary'], result: 'valid', value: ok({ type: 'diagnostics', body: { diagnostics: [{ severity: 'error', line: 0, column: 0, message: "expected ';'" }, { severity: 'warning', line: 1, column: 2, message: NON_ASCII }, { severity: 'info', line: U32_MAX, column: U32_MAX, message: '' }, { severity: 'hint', line: 3, column: 4, message: 'hint' }, { severity: 'unknown', line: 5, column: 6, message: 'unknown severity' }] } }) }),
  ...DIAGNOSTIC_SEVERITIES.map((severity) =>
    rp({ name: `resp_ok_diagnostics_severity_${severity}`, description: `Ok(Diagnostics) with one ${severity} diagnostic.`, requirements: ['MSG-3'], flags: severity === 'unknown' ? ['EnumValue', 'UnknownVariant'] : ['EnumValue'], result: 'valid', value: ok({ type: 'diagnostics', body: { diagnostics: [{ severity, line: 10, column: 2, message: severity }] } }) }),
  ),
  rp({ name: 'resp_ok_diagnostics_empty', description: 'Ok(Diagnostics) with no diagnostics.', requirements: ['MSG-3'], flags: ['EmptyValue'], result: 'valid', value: ok({ type: 'diagnostics', body: { diagnostics: [] } }) }),
  rp({ name: 'resp_ok_shutdown', description: 'Ok(Shutdown).', requirements: ['DATA-8'], flags: ['UnitVariant'], result: 'valid', value: ok({ type: 'shutdown' }) }),
  rp({ name: 'resp_ok_unknown', description: 'Ok(Unknown).', requirements: ['CBOR-2'], flags: ['UnitVariant', 'UnknownVariant'], result: 'valid', value: ok({ type: 'unknown' }) }),
  rp({ name: 'resp_result_unknown', description: 'RpcResult::Unknown encodes as {"status":"unknown"}.', requirements: ['CBOR-4', 'ERR-2'], flags: ['UnknownVariant'], result: 'valid', value: { type: 'response', body: { status: 'unknown' } } }),
  ...RPC_ERROR_CODES.map((code) =>
    rp({ name: `resp_err_${code}`, description: `Err with code ${code}, no details.`, requirements: ['ERR-1'], flags: code === 'unknown' ? ['EnumValue', 'UnknownVariant', 'NullOptional'] : ['EnumValue', 'NullOptional'], result: 'valid', value: { type: 'response', body: { status: 'err', error: { code, message: `${camel(code)} error`, retryable: code === 'cancelled', details: null } } } }),
  ),
  rp({ name: 'resp_err_internal_details_some', description: 'Err internal with details present.', requirements: ['ERR-1'], flags: ['Typical'], result: 'valid', value: { type: 'response', body: { status: 'err', error: { code: 'internal', message: 'Internal error', retryable: false, details: '{"k":"v"}' } } } }),
  rp({ name: 'resp_err_reference_worker_cancelled', description: 'The error the reference worker returns for a cancelled request.', requirements: ['CAN-3', 'CAN-5'], flags: ['Typical'], result: 'valid', value: { type: 'response', body: { status: 'err', error: { code: 'cancelled', message: 'request cancelled', retryable: true, details: null } } } }),
  rp({ name: 'resp_err_reference_no_handler', description: 'What the reference sends when no request handler is installed.', requirements: ['ERR-1'], flags: ['Typical'], result: 'valid', value: { type: 'response', body: { status: 'err', error: { code: 'invalid_request', message: 'no request handler installed', retryable: false, details: null } } } }),
  rp({ name: 'resp_err_non_ascii_empty_details', description: 'Err with a non-ASCII message and empty details.', requirements: ['ERR-1'], flags: ['NonAscii', 'EmptyValue'], result: 'valid', value: { type: 'response', body: { status: 'err', error: { code: 'too_large', message: NON_ASCII, retryable: false, details: '' } } } }),
  rp({ name: 'notif_cached_index', description: 'Notification CachedIndex.', requirements: ['MSG-1', 'ID-6'], flags: ['Typical'], result: 'valid', value: { type: 'notification', body: { type: 'cached_index', body: shardIndex } } }),
  rp({ name: 'notif_unknown', description: 'Notification::Unknown encodes as {"type":"unknown"}.', requirements: ['DATA-6'], flags: ['UnitVariant', 'UnknownVariant'], result: 'valid', value: { type: 'notification', body: { type: 'unknown' } } }),
  rp({ name: 'cancel', description: 'Cancel: {"type":"cancel"} with no body key.', requirements: ['CAN-1', 'CBOR-2'], flags: ['UnitVariant'], result: 'valid', value: { type: 'cancel' } }),
  rp({ name: 'payload_unknown', description: 'RpcPayload::Unknown encodes as {"type":"unknown"}.', requirements: ['DATA-6'], flags: ['UnitVariant', 'UnknownVariant'], result: 'valid', value: { type: 'unknown' } }),
];

const sym = (entries: L.Entry[]) => L.map(entries);
const rpcAcceptable: Msg[] = [
  rp({ name: 'request_unknown_type', description: 'An unknown Request type with fields decodes as Request::Unknown.', requirements: ['FWD-2', 'DATA-7'], flags: ['UnknownName', 'UnknownKey'], result: 'acceptable', input: requestEnv([['type', L.text('search_symbols')], ['query', L.text('Foo')]]), decoded: { type: 'request', body: { type: 'unknown' } } }),
  rp({ name: 'request_extra_fields_ignored', description: 'An extra field on a unit Request variant is ignored.', requirements: ['FWD-1'], flags: ['UnknownKey'], result: 'acceptable', input: requestEnv([['type', L.text('get_worker_stats')], ['verbose', L.TRUE]]), decoded: getWorkerStats }),
  rp({ name: 'request_type_last', description: 'Internally tagged Request with "type" after the fields.', requirements: ['CBOR-10'], flags: ['KeyOrder'], result: 'acceptable', input: requestEnv([['revision', L.uint(1)], ['files', L.array([])], ['type', L.text('load_files')]]), decoded: { type: 'request', body: { type: 'load_files', revision: 1n, files: [] } } }),
  rp({ name: 'request_type_as_index_4', description: 'Request type given as variant index 4 (= get_worker_stats).', requirements: ['CBOR-11'], flags: ['VariantIndex'], result: 'acceptable', input: requestEnv([['type', L.uint(4)]]), decoded: getWorkerStats }),
  rp({ name: 'request_type_as_index_3', description: 'Request type given as variant index 3 (= diagnostics; the order includes diagnostics).', requirements: ['CBOR-11', 'MSG-3'], flags: ['VariantIndex'], result: 'acceptable', input: requestEnv([['type', L.uint(3)], ['path', L.text('a')]]), decoded: { type: 'request', body: { type: 'diagnostics', path: 'a' } } }),
  rp({ name: 'payload_type_as_index_3', description: 'RpcPayload type given as variant index 3 (= cancel).', requirements: ['CBOR-11'], flags: ['VariantIndex'], result: 'acceptable', input: env(L.uint(3)), decoded: { type: 'cancel' } }),
  rp({ name: 'response_unknown_status', description: 'An unknown RpcResult status ("partial") decodes as unknown; its other keys are ignored.', requirements: ['FWD-2', 'ERR-2'], flags: ['UnknownName'], result: 'acceptable', input: responseEnv([['status', L.text('partial')], ['value', L.NULL]]), decoded: { type: 'response', body: { status: 'unknown' } } }),
  rp({ name: 'response_err_details_absent', description: 'RpcError without a details key: details is null.', requirements: ['CBOR-10'], flags: ['MissingOptional'], result: 'acceptable', input: responseEnv([['status', L.text('err')], ['error', L.map([['code', L.text('internal')], ['message', L.text('m')], ['retryable', L.FALSE]])]]), decoded: { type: 'response', body: { status: 'err', error: { code: 'internal', message: 'm', retryable: false, details: null } } } }),
  rp({ name: 'response_err_unknown_code', description: 'An unknown RpcErrorCode ("teapot") decodes as unknown.', requirements: ['FWD-2', 'ERR-2'], flags: ['UnknownName'], result: 'acceptable', input: responseEnv([['status', L.text('err')], ['error', L.map([['code', L.text('teapot')], ['message', L.text('m')], ['retryable', L.FALSE], ['details', L.NULL]])]]), decoded: { type: 'response', body: { status: 'err', error: { code: 'unknown', message: 'm', retryable: false, details: null } } } }),
  rp({ name: 'diagnostic_unknown_severity', description: 'An unknown severity ("fatal") decodes as unknown.', requirements: ['FWD-2'], flags: ['UnknownName'], result: 'acceptable', input: responseEnv([['status', L.text('ok')], ['value', L.map([['type', L.text('diagnostics')], ['body', L.map([['diagnostics', L.array([L.map([['severity', L.text('fatal')], ['line', L.uint(1)], ['column', L.uint(2)], ['message', L.text('m')]])])]])]])]]), decoded: ok({ type: 'diagnostics', body: { diagnostics: [{ severity: 'unknown', line: 1, column: 2, message: 'm' }] } }) }),
  rp({ name: 'symbol_without_line_column', description: 'Symbol without line and column: both default to 0.', requirements: ['MSG-2'], flags: ['MissingDefault'], result: 'acceptable', input: rpcEnv('notification', L.map([['type', L.text('cached_index')], ['body', L.map([['shard_id', L.uint(0)], ['revision', L.uint(1)], ['index_generation', L.uint(1)], ['symbols', L.array([sym([['name', L.text('A')], ['path', L.text('a.java')]])])]])]])), decoded: { type: 'notification', body: { type: 'cached_index', body: { shard_id: 0, revision: 1n, index_generation: 1n, symbols: [{ name: 'A', path: 'a.java', line: 0, column: 0 }] } } } }),
  rp({ name: 'notification_unknown_type_no_body', description: 'An unknown Notification type without a body decodes as unknown.', requirements: ['DATA-6', 'FWD-2'], flags: ['UnknownName'], result: 'acceptable', input: rpcEnv('notification', L.map([['type', L.text('progress')]])), decoded: { type: 'notification', body: { type: 'unknown' } } }),
  rp({ name: 'payload_unknown_type_no_body', description: 'An unknown RpcPayload type without a body decodes as unknown.', requirements: ['DATA-6', 'FWD-2'], flags: ['UnknownName'], result: 'acceptable', input: rpcEnv('stream_open'), decoded: { type: 'unknown' } }),
  rp({ name: 'cancel_body_null', description: 'Cancel with an explicit "body": null.', requirements: ['CBOR-12'], flags: ['NullUnitBody'], result: 'acceptable', input: rpcEnv('cancel', L.NULL), decoded: { type: 'cancel' } }),
  rp({ name: 'response_ok_ack_body_null', description: 'Ok(Ack) with an explicit "body": null.', requirements: ['CBOR-12'], flags: ['NullUnitBody'], result: 'acceptable', input: responseEnv([['status', L.text('ok')], ['value', L.map([['type', L.text('ack')], ['body', L.NULL]])]]), decoded: ok({ type: 'ack' }) }),
  rp({ name: 'request_indefinite_files', description: 'LoadFiles with an indefinite-length files array and indefinite-length text.', requirements: ['CBOR-10'], flags: ['IndefiniteLength'], result: 'acceptable', input: requestEnv([['type', L.text('load_files')], ['revision', L.uint(9)], ['files', L.arrayIndef([L.map([['path', L.text('a/b')], ['text', L.text('t')]])])]]), decoded: { type: 'request', body: { type: 'load_files', revision: 9n, files: [{ path: 'a/b', text: 't' }] } } }),
  rp({ name: 'reject_message_indefinite_text', description: 'An owned string field (RpcError.message) as an indefinite-length text is accepted.', requirements: ['CBOR-10'], flags: ['IndefiniteLength'], result: 'acceptable', input: responseEnv([['status', L.text('err')], ['error', L.map([['code', L.text('internal')], ['message', L.textIndef(['he', 'llo'])], ['retryable', L.FALSE], ['details', L.NULL]])]]), decoded: { type: 'response', body: { status: 'err', error: { code: 'internal', message: 'hello', retryable: false, details: null } } } }),
  rp({ name: 'file_text_as_bytes', description: 'FileText.text given as a UTF-8 byte string decodes as text (serde reads strings from byte strings).', requirements: ['CBOR-10'], flags: ['BytesAsText'], result: 'acceptable', input: requestEnv([['type', L.text('update_file')], ['revision', L.uint(1)], ['file', L.map([['path', L.text('p')], ['text', L.bytes([0x74])]])]]), decoded: { type: 'request', body: { type: 'update_file', revision: 1n, file: { path: 'p', text: 't' } } } }),
  rp({ name: 'revision_nonminimal', description: 'revision 1 in an 8-byte head.', requirements: ['CBOR-10'], flags: ['NonMinimalInt'], result: 'acceptable', input: requestEnv([['type', L.text('update_file')], ['revision', L.uint(1, 8)], ['file', L.map([['path', L.text('p')], ['text', L.text('t')]])]]), decoded: { type: 'request', body: { type: 'update_file', revision: 1n, file: { path: 'p', text: 't' } } } }),
];

const rpcInvalid: Msg[] = [
  rp({ name: 'cancel_body_map', description: 'Cancel with an (empty) map body.', requirements: ['CBOR-12'], flags: ['UnitVariantWithBody'], result: 'invalid', input: rpcEnv('cancel', L.map([])), error: 'SCHEMA_UNIT_VARIANT_WITH_BODY' }),
  rp({ name: 'ack_body_map', description: 'Ok(Ack) with a map body.', requirements: ['CBOR-12'], flags: ['UnitVariantWithBody'], result: 'invalid', input: responseEnv([['status', L.text('ok')], ['value', L.map([['type', L.text('ack')], ['body', L.map([])]])]]), error: 'SCHEMA_UNIT_VARIANT_WITH_BODY' }),
  rp({ name: 'notification_unknown_type_with_body', description: 'An unknown Notification type with the body 50.', requirements: ['CBOR-12'], flags: ['UnknownVariantWithBody'], result: 'invalid', input: rpcEnv('notification', L.map([['type', L.text('progress')], ['body', L.uint(50)]])), error: 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY' }),
  rp({ name: 'payload_unknown_type_with_body', description: 'An unknown RpcPayload type with a map body.', requirements: ['CBOR-12'], flags: ['UnknownVariantWithBody'], result: 'invalid', input: rpcEnv('stream_open', L.map([['id', L.uint(1)]])), error: 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY' }),
  rp({ name: 'response_value_unknown_type_with_body', description: 'An unknown Response type with a body.', requirements: ['CBOR-12'], flags: ['UnknownVariantWithBody'], result: 'invalid', input: responseEnv([['status', L.text('ok')], ['value', L.map([['type', L.text('progress')], ['body', L.map([])]])]]), error: 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY' }),
  rp({ name: 'request_body_null', description: 'A Request payload with "body": null.', requirements: ['CBOR-12'], flags: ['MissingBody'], result: 'invalid', input: rpcEnv('request', L.NULL), error: 'SCHEMA_MISSING_BODY' }),
  rp({ name: 'shard_index_body_missing', description: 'Ok(ShardIndex) without a body.', requirements: ['CBOR-12'], flags: ['MissingBody'], result: 'invalid', input: responseEnv([['status', L.text('ok')], ['value', L.map([['type', L.text('shard_index')]])]]), error: 'SCHEMA_MISSING_BODY' }),
  rp({ name: 'request_missing_revision', description: 'LoadFiles without revision.', requirements: ['MSG-1'], flags: ['MissingField'], result: 'invalid', input: requestEnv([['type', L.text('load_files')], ['files', L.array([])]]), error: 'SCHEMA_MISSING_FIELD' }),
  rp({ name: 'request_missing_type', description: 'A Request without its type key.', requirements: ['CBOR-4'], flags: ['MissingField'], result: 'invalid', input: requestEnv([['path', L.text('a')]]), error: 'SCHEMA_MISSING_FIELD' }),
  rp({ name: 'response_ok_missing_value', description: 'Ok without value.', requirements: ['CBOR-4'], flags: ['MissingField'], result: 'invalid', input: responseEnv([['status', L.text('ok')]]), error: 'SCHEMA_MISSING_FIELD' }),
  rp({ name: 'request_files_len_bomb', description: 'files declares 3 items but fewer than 8 bytes per item remain.', requirements: ['CBOR-8'], flags: ['LengthBomb'], result: 'invalid', input: requestEnv([['type', L.text('load_files')], ['revision', L.uint(1)], ['files', L.head(4, 3)]]), error: 'CBOR_LENGTH_EXCEEDS_INPUT' }),
  rp({ name: 'request_files_100001', description: 'files declares 100,001 items (over the per-message cap).', requirements: ['CBOR-9'], flags: ['OverLimit', 'LengthBomb'], result: 'invalid', input: requestEnv([['type', L.text('load_files')], ['revision', L.uint(1)], ['files', L.head(4, 100_001)]]), error: 'CBOR_LIMIT_EXCEEDED' }),
  rp({ name: 'retryable_as_int', description: 'retryable given as 0.', requirements: ['MSG-1'], flags: ['WrongType'], result: 'invalid', input: responseEnv([['status', L.text('err')], ['error', L.map([['code', L.text('internal')], ['message', L.text('m')], ['retryable', L.uint(0)], ['details', L.NULL]])]]), error: 'SCHEMA_WRONG_TYPE' }),
  rp({ name: 'revision_negative', description: 'revision -1.', requirements: ['MSG-1'], flags: ['IntRange'], result: 'invalid', input: requestEnv([['type', L.text('update_file')], ['revision', L.negMinus1(0)], ['file', L.map([['path', L.text('p')], ['text', L.text('t')]])]]), error: 'SCHEMA_INT_RANGE' }),
  rp({ name: 'symbol_line_over_u32', description: 'A symbol line of 2^32.', requirements: ['MSG-1', 'MSG-2'], flags: ['IntRange'], result: 'invalid', input: rpcEnv('notification', L.map([['type', L.text('cached_index')], ['body', L.map([['shard_id', L.uint(0)], ['revision', L.uint(1)], ['index_generation', L.uint(1)], ['symbols', L.array([sym([['name', L.text('A')], ['path', L.text('a')], ['line', L.uint(1n << 32n)], ['column', L.uint(0)]])])]])]])), error: 'SCHEMA_INT_RANGE' }),
  rp({ name: 'borrowed_path_indefinite_text', description: 'FileText.path as an indefinite-length text: the reference reads path/text/name (and Diagnostics path) as borrowed strings, which cannot be assembled from chunks, so it refuses this.', requirements: ['CBOR-10', 'MSG-1'], flags: ['IndefiniteLength', 'WrongType'], result: 'invalid', input: requestEnv([['type', L.text('update_file')], ['revision', L.uint(1)], ['file', L.map([['path', L.textIndef(['a', '/b'])], ['text', L.text('t')]])]]), error: 'SCHEMA_WRONG_TYPE' }),
  rp({ name: 'file_text_as_non_utf8_bytes', description: 'FileText.text as a byte string that is not UTF-8: a string of the wrong kind, not a malformed text string.', requirements: ['MSG-1'], flags: ['WrongType'], result: 'invalid', input: requestEnv([['type', L.text('update_file')], ['revision', L.uint(1)], ['file', L.map([['path', L.text('p')], ['text', L.bytes([0xff])]])]]), error: 'SCHEMA_WRONG_TYPE' }),
  rp({ name: 'empty_payload', description: 'An empty payload (a Packet with empty data).', requirements: ['DATA-5'], flags: ['Malformed'], result: 'invalid', input: new Uint8Array(), error: 'CBOR_MALFORMED' }),
  rp({ name: 'payload_trailing_bytes', description: 'A Cancel followed by one byte.', requirements: ['CBOR-6', 'DATA-5'], flags: ['TrailingBytes'], result: 'invalid', input: L.cat(L.raw(CANCEL_HEX), L.raw('00')), error: 'CBOR_TRAILING_BYTES' }),
  rp({ name: 'path_over_16kib', description: 'A diagnostics path of 16385 bytes.', requirements: ['CBOR-9'], flags: ['OverLimit'], result: 'invalid', input: requestEnv([['type', L.text('diagnostics')], ['path', L.text('p'.repeat(16385))]]), error: 'CBOR_LIMIT_EXCEEDED' }),
];

// ----------------------------------------------------------------------------- frame_stream

// u32-LE length prefixes built by hand (not by the codec under test).
const framed = L.framed;
const le32 = L.lengthPrefix;
const cancelPacket = L.raw('a26474797065667061636b657464626f6479a3626964026b636f6d7072657373696f6e646e6f6e6564646174614da164747970656663616e63656c');
const smallFrame = env(L.text('unknown'));
// {type:"x", body: h'00'*49} is exactly 64 bytes: 1 + 5 + 2 + 5 + 2 + 49.
const body64 = env(L.text('x'), L.bytes(new Uint8Array(49)));
if (body64.length !== 64) throw new Error('body64 must be 64 bytes');

const fs = (d: DefOf<FrameStreamDef>): FrameStreamDef => ({ kind: 'frame_stream', ...d }) as FrameStreamDef;
const frameStream: FrameStreamDef[] = [
  fs({ name: 'one_frame', description: 'One frame (a Packet carrying Cancel) in one piece.', requirements: ['FRM-1'], flags: ['Typical'], result: 'valid', maxFrameBytes: MiB, stream: framed(cancelPacket), frames: [cancelPacket] }),
  fs({ name: 'two_frames_one_piece', description: 'Two frames back to back, delivered together.', requirements: ['FRM-1'], flags: ['Typical'], result: 'valid', maxFrameBytes: MiB, stream: L.cat(framed(cancelPacket), framed(smallFrame)), frames: [cancelPacket, smallFrame] }),
  fs({ name: 'byte_by_byte', description: 'Two frames delivered one byte at a time.', requirements: ['FRM-1', 'FRM-6'], flags: ['Split'], result: 'valid', maxFrameBytes: MiB, stream: L.cat(framed(smallFrame), framed(cancelPacket)), pieces: Array.from({ length: 8 + smallFrame.length + cancelPacket.length }, () => 1), frames: [smallFrame, cancelPacket] }),
  fs({ name: 'split_inside_prefix', description: 'The length prefix split 1+3, the body in two pieces, the next frame joined to the last piece.', requirements: ['FRM-1'], flags: ['Split'], result: 'valid', maxFrameBytes: MiB, stream: L.cat(framed(cancelPacket), framed(smallFrame)), pieces: [1, 3, 10, cancelPacket.length - 10 + 2, 2 + smallFrame.length], frames: [cancelPacket, smallFrame] }),
  fs({ name: 'frame_at_limit', description: 'A 64-byte frame when the limit is 64: allowed (len == limit).', requirements: ['FRM-3'], flags: ['ExactFit'], result: 'valid', maxFrameBytes: 64, stream: framed(body64), frames: [body64] }),
  fs({ name: 'empty_stream', description: 'No bytes at all: no frames, no error.', requirements: ['FRM-1'], flags: ['EmptyValue'], result: 'valid', maxFrameBytes: MiB, stream: new Uint8Array(), frames: [] }),
  fs({ name: 'zero_length_frame', description: 'A zero-length frame.', requirements: ['FRM-2'], flags: ['EmptyFrame'], result: 'invalid', maxFrameBytes: MiB, stream: le32(0), frames: [], error: 'FRAME_EMPTY', errorOn: 'push' }),
  fs({ name: 'zero_length_after_frame', description: 'A good frame, then a zero-length frame.', requirements: ['FRM-2'], flags: ['EmptyFrame'], result: 'invalid', maxFrameBytes: MiB, stream: L.cat(framed(smallFrame), le32(0)), pieces: [4 + smallFrame.length, 4], frames: [smallFrame], error: 'FRAME_EMPTY', errorOn: 'push' }),
  fs({ name: 'over_limit_by_one', description: 'A prefix of 65 when the limit is 64; the body is never sent.', requirements: ['FRM-3'], flags: ['OverLimit'], result: 'invalid', maxFrameBytes: 64, stream: le32(65), frames: [], error: 'FRAME_TOO_LARGE', errorOn: 'push' }),
  fs({ name: 'pre_handshake_over_1mib', description: 'A prefix of 1 MiB + 1 under the pre-handshake limit of 1 MiB.', requirements: ['FRM-3', 'FRM-4'], flags: ['OverLimit'], result: 'invalid', maxFrameBytes: MiB, stream: le32(MiB + 1), frames: [], error: 'FRAME_TOO_LARGE', errorOn: 'push' }),
  fs({ name: 'prefix_u32_max', description: 'A prefix of 2^32-1 under the 64 MiB hard cap.', requirements: ['FRM-3', 'FRM-7', 'FRM-6'], flags: ['OverLimit', 'LengthBomb'], result: 'invalid', maxFrameBytes: 64 * MiB, stream: le32(U32_MAX), frames: [], error: 'FRAME_TOO_LARGE', errorOn: 'push' }),
  fs({ name: 'over_limit_after_good_frame', description: 'A good frame, then an oversized prefix split across pieces.', requirements: ['FRM-3'], flags: ['OverLimit', 'Split'], result: 'invalid', maxFrameBytes: 64, stream: L.cat(framed(smallFrame), le32(1000)), pieces: [4 + smallFrame.length + 2, 2], frames: [smallFrame], error: 'FRAME_TOO_LARGE', errorOn: 'push' }),
  fs({ name: 'truncated_prefix', description: 'The stream ends after 2 bytes of a length prefix.', requirements: ['FRM-1'], flags: ['Truncated'], result: 'invalid', maxFrameBytes: MiB, stream: L.raw('0500'), frames: [], error: 'FRAME_TRUNCATED', errorOn: 'end' }),
  fs({ name: 'truncated_body', description: 'A good frame, then a prefix of 13 with only 5 body bytes before the end.', requirements: ['FRM-1'], flags: ['Truncated'], result: 'invalid', maxFrameBytes: MiB, stream: L.cat(framed(smallFrame), le32(13), L.raw(CANCEL_HEX).subarray(0, 5)), frames: [smallFrame], error: 'FRAME_TRUNCATED', errorOn: 'end' }),
];

// ----------------------------------------------------------------------------- packet_send

const ps = (d: DefOf<PacketSendDef>): PacketSendDef => ({ kind: 'packet_send', ...d }) as PacketSendDef;
const sendBase = { maxPacketBytes: 64 * MiB, compression: ['none'] as CompressionAlgo[], chunking: true };
const packetSend: PacketSendDef[] = [
  ps({ name: 'small_uncompressed', description: 'A small request in one Packet, compression none.', requirements: ['FRM-5', 'CMP-1'], flags: ['Typical'], result: 'valid', options: { ...sendBase, maxFrameBytes: 64 * MiB }, id: 1n, payload: getWorkerStats }),
  ps({ name: 'zstd_compressed', description: 'A 4 KiB request with zstd negotiated: compressed at level 3 into one Packet.', requirements: ['CMP-1', 'CMP-5'], flags: ['Compressed'], result: 'valid', options: { ...sendBase, maxFrameBytes: 64 * MiB, compression: ['zstd', 'none'] }, id: 3n, payload: bigRequest(4096) }),
  ps({ name: 'zstd_below_threshold', description: 'A small request with zstd negotiated: below 1024 bytes it is sent uncompressed.', requirements: ['CMP-5'], flags: ['BelowThreshold'], result: 'valid', options: { ...sendBase, maxFrameBytes: 64 * MiB, compression: ['zstd', 'none'] }, id: 5n, payload: bigRequest(600) }),
  ps({ name: 'zstd_not_negotiated', description: 'A 4 KiB request when only none was negotiated: sent uncompressed.', requirements: ['CMP-1'], flags: ['NotNegotiated'], result: 'valid', options: { ...sendBase, maxFrameBytes: 64 * MiB }, id: 7n, payload: bigRequest(4096) }),
  ps({ name: 'zstd_noise_text', description: 'A 1.5 KiB request of pseudo-random text with zstd negotiated: compressed (zstd still wins on 6-bit text).', requirements: ['CMP-5'], flags: ['Compressed'], result: 'valid', options: { ...sendBase, maxFrameBytes: 64 * MiB, compression: ['zstd', 'none'] }, id: 9n, payload: { type: 'request', body: { type: 'update_file', revision: 1n, file: { path: 'noise', text: noiseText(1500) } } } }),
  ps({ name: 'exact_fit_not_chunked', description: 'max_frame_len equal to the encoded Packet: sent as one Packet, not chunked.', requirements: ['CHK-1', 'FRM-5'], flags: ['ExactFit'], result: 'valid', options: { ...sendBase, maxFrameBytes: { packetSizePlus: 0 } }, id: 2n, payload: bigRequest(500) }),
  ps({ name: 'one_over_fit_chunked', description: 'max_frame_len one below the encoded Packet: chunked.', requirements: ['CHK-1', 'CHK-9', 'FRM-5'], flags: ['Chunked'], result: 'valid', options: { ...sendBase, maxFrameBytes: { packetSizePlus: -1 } }, id: 4n, payload: bigRequest(500) }),
  ps({ name: 'chunked_small_frames', description: 'A ~1 KiB request chunked at max_frame_len 300: chunk data max(300-256,1) = 44 bytes, seq 0.., last on the final chunk.', requirements: ['CHK-1', 'CHK-3', 'CHK-9'], flags: ['Chunked'], result: 'valid', options: { ...sendBase, maxFrameBytes: 300 }, id: 6n, payload: bigRequest(1000) }),
  ps({ name: 'chunked_u64_max_id', description: 'max_frame_len 400 with id 2^64-1: chunk data 144 bytes (400-256); every chunk frame at or under 400.', requirements: ['CHK-9'], flags: ['Chunked', 'U64Boundary'], result: 'valid', options: { ...sendBase, maxFrameBytes: 400 }, id: U64_MAX, payload: bigRequest(900) }),
  ps({ name: 'chunked_compressed', description: 'A 1.2 KiB request of pseudo-random text, zstd and chunking negotiated, max_frame_len 600: compressed first, then the compressed bytes are chunked (344-byte chunk data), every chunk marked zstd.', requirements: ['CHK-1', 'CHK-4', 'CMP-5'], flags: ['Chunked', 'Compressed'], result: 'valid', options: { ...sendBase, maxFrameBytes: 600, compression: ['zstd', 'none'] }, id: 8n, payload: { type: 'request', body: { type: 'update_file', revision: 2n, file: { path: 'noise', text: noiseText(1200, 7) } } } }),
  ps({ name: 'too_big_no_chunking', description: 'A payload too big for one frame when chunking was not negotiated: a local error.', requirements: ['CHK-1'], flags: ['NotNegotiated', 'OverLimit'], result: 'invalid', options: { ...sendBase, maxFrameBytes: 300, chunking: false }, id: 10n, payload: bigRequest(1000), error: 'FRAME_TOO_LARGE' }),
  ps({ name: 'payload_over_max_packet', description: 'A payload larger than max_packet_len: a local error.', requirements: ['DATA-4'], flags: ['OverLimit'], result: 'invalid', options: { ...sendBase, maxFrameBytes: 64 * MiB, maxPacketBytes: 512 }, id: 12n, payload: bigRequest(1000), error: 'PACKET_TOO_LARGE' }),
  ps({ name: 'frame_too_small_for_any_chunk', description: 'max_frame_len 40 cannot carry even a 1-byte chunk: a local error.', requirements: ['CHK-9'], flags: ['OverLimit'], result: 'invalid', options: { ...sendBase, maxFrameBytes: 40 }, id: 14n, payload: bigRequest(100), error: 'FRAME_TOO_LARGE' }),
];

// ----------------------------------------------------------------------------- packet_receive

const pr = (d: DefOf<PacketReceiveDef>): PacketReceiveDef => ({ kind: 'packet_receive', ...d }) as PacketReceiveDef;
const recvBase = { maxPacketBytes: 64 * MiB, compression: ['none'] as CompressionAlgo[], chunking: true };
const f = (frame: ReceiveFrameDef['frame']): ReceiveFrameDef => ({ frame });
const pkt = (id: bigint, data: Uint8Array, compression: CompressionAlgo = 'none') => ({ type: 'packet', body: { id, compression, data } }) as const;
const cancelBytes = L.raw(CANCEL_HEX);
const gwsBytes = L.raw('a26474797065677265717565737464626f6479a16474797065706765745f776f726b65725f7374617473');
const filler = (n: number, b = 0x61) => new Uint8Array(n).fill(b);
const err = (error: ErrorCode, errorAtFrame: number) => ({ result: 'invalid' as const, error, errorAtFrame });

/** `compress` is zstd level 3 (the generator passes the codec's). */
function packetReceive(compress: (data: Uint8Array) => Uint8Array): PacketReceiveDef[] {
  const gwsZstd = compress(gwsBytes);
  return [
  pr({ name: 'single_packet', description: 'One uncompressed Packet.', requirements: ['DATA-1'], flags: ['Typical'], result: 'valid', options: recvBase, frames: [f(pkt(2n, cancelBytes))], packets: [{ id: 2n, payload: cancelBytes }] }),
  pr({ name: 'zstd_packet', description: 'A zstd Packet with zstd negotiated: decompressed.', requirements: ['CMP-1'], flags: ['Compressed'], result: 'valid', options: { ...recvBase, compression: ['zstd', 'none'] }, frames: [f(pkt(4n, gwsZstd, 'zstd'))], packets: [{ id: 4n, payload: gwsBytes }] }),
  pr({ name: 'none_accepted_when_not_listed', description: 'compression none is accepted even when the negotiated list is ["zstd"].', requirements: ['CMP-3'], flags: ['Typical'], result: 'valid', options: { ...recvBase, compression: ['zstd'] }, frames: [f(pkt(6n, cancelBytes))], packets: [{ id: 6n, payload: cancelBytes }] }),
  pr({ name: 'packet_at_max_packet', description: 'data exactly max_packet_len (64) bytes: allowed.', requirements: ['DATA-4'], flags: ['ExactFit'], result: 'valid', options: { ...recvBase, maxPacketBytes: 64 }, frames: [f(pkt(2n, filler(64)))], packets: [{ id: 2n, payload: filler(64) }] }),
  pr({ name: 'chunks_three', description: 'A payload in three chunks (seq 0, 1, 2; last on 2).', requirements: ['CHK-3', 'CHK-8'], flags: ['Chunked'], result: 'valid', options: recvBase, frames: [f(chunk(2n, 0, false, gwsBytes.subarray(0, 10))), f(chunk(2n, 1, false, gwsBytes.subarray(10, 30))), f(chunk(2n, 2, true, gwsBytes.subarray(30)))], packets: [{ id: 2n, payload: gwsBytes }] }),
  pr({ name: 'chunks_interleaved', description: 'Chunks of ids 2 and 4 interleave; each completes on its own last chunk.', requirements: ['CHK-8', 'DATA-9'], flags: ['Chunked', 'Interleaved'], result: 'valid', options: recvBase, frames: [f(chunk(2n, 0, false, gwsBytes.subarray(0, 20))), f(chunk(4n, 0, false, cancelBytes.subarray(0, 5))), f(chunk(4n, 1, true, cancelBytes.subarray(5))), f(chunk(2n, 1, true, gwsBytes.subarray(20)))], packets: [{ id: 4n, payload: cancelBytes }, { id: 2n, payload: gwsBytes }] }),
  pr({ name: 'chunk_single_empty_last', description: 'One empty chunk with seq 0 and last: an empty payload.', requirements: ['CHK-8'], flags: ['Chunked', 'EmptyValue'], result: 'valid', options: recvBase, frames: [f(chunk(8n, 0, true, new Uint8Array()))], packets: [{ id: 8n, payload: new Uint8Array() }] }),
  pr({ name: 'chunks_with_empty_middle', description: 'An empty chunk in the middle of a sequence is allowed.', requirements: ['CHK-3'], flags: ['Chunked', 'EmptyValue'], result: 'valid', options: recvBase, frames: [f(chunk(2n, 0, false, cancelBytes.subarray(0, 6))), f(chunk(2n, 1, false, new Uint8Array())), f(chunk(2n, 2, true, cancelBytes.subarray(6)))], packets: [{ id: 2n, payload: cancelBytes }] }),
  pr({ name: 'packet_same_id_as_open_stream', description: 'A plain Packet with the id of an open reassembly is processed on its own.', requirements: ['CHK-8'], flags: ['Chunked', 'Interleaved'], result: 'valid', options: recvBase, frames: [f(chunk(2n, 0, false, gwsBytes.subarray(0, 20))), f(pkt(2n, cancelBytes)), f(chunk(2n, 1, true, gwsBytes.subarray(20)))], packets: [{ id: 2n, payload: cancelBytes }, { id: 2n, payload: gwsBytes }] }),
  pr({ name: 'chunks_32_streams', description: '32 concurrent reassemblies: allowed.', requirements: ['CHK-5'], flags: ['Chunked', 'AtLimit'], result: 'valid', options: recvBase, frames: [...Array.from({ length: 32 }, (_, i) => f(chunk(BigInt(2 * i + 2), 0, false, cancelBytes.subarray(0, 1)))), f(chunk(2n, 1, true, cancelBytes.subarray(1)))], packets: [{ id: 2n, payload: cancelBytes }] }),
  pr({ name: 'chunked_zstd', description: 'A zstd-compressed payload split over two chunks, both marked zstd.', requirements: ['CHK-4', 'CMP-1'], flags: ['Chunked', 'Compressed'], result: 'valid', options: { ...recvBase, compression: ['zstd', 'none'] }, frames: [f(chunk(6n, 0, false, gwsZstd.subarray(0, 10), 'zstd')), f(chunk(6n, 1, true, gwsZstd.subarray(10), 'zstd'))], packets: [{ id: 6n, payload: gwsBytes }] }),
  pr({ name: 'zstd_not_negotiated', description: 'A zstd Packet when only none was negotiated.', requirements: ['CMP-2'], flags: ['NotNegotiated', 'Compressed'], ...err('COMPRESSION_UNSUPPORTED', 0), options: recvBase, frames: [f(pkt(2n, gwsZstd, 'zstd'))], packets: [] }),
  pr({ name: 'compression_unknown', description: 'A Packet with compression unknown.', requirements: ['CMP-2'], flags: ['UnknownVariant'], ...err('COMPRESSION_UNSUPPORTED', 0), options: { ...recvBase, compression: ['zstd', 'none'] }, frames: [f(pkt(2n, Uint8Array.from([1, 2, 3]), 'unknown'))], packets: [] }),
  pr({ name: 'packet_over_max_packet', description: 'data of 65 bytes when max_packet_len is 64.', requirements: ['DATA-4'], flags: ['OverLimit'], ...err('PACKET_TOO_LARGE', 0), options: { ...recvBase, maxPacketBytes: 64 }, frames: [f(pkt(2n, filler(65)))], packets: [] }),
  pr({ name: 'zstd_malformed', description: 'compression zstd with data that is not a zstd frame.', requirements: ['CMP-6'], flags: ['BadCompressedData'], ...err('DECOMPRESSION_FAILED', 0), options: { ...recvBase, compression: ['zstd', 'none'] }, frames: [f(pkt(2n, L.raw('0102030405060708'), 'zstd'))], packets: [] }),
  pr({ name: 'zstd_bomb', description: '1 MiB of zeros compressed to a few dozen bytes, max_packet_len 64 KiB: refused while decompressing.', requirements: ['CMP-4'], flags: ['DecompressionBomb', 'Compressed'], ...err('PACKET_TOO_LARGE', 0), options: { ...recvBase, maxPacketBytes: 65536, compression: ['zstd', 'none'] }, frames: [f(pkt(2n, compress(new Uint8Array(MiB)), 'zstd'))], packets: [] }),
  pr({ name: 'chunk_not_negotiated', description: 'A PacketChunk when chunking was not negotiated.', requirements: ['CHK-2'], flags: ['NotNegotiated', 'Chunked'], ...err('CHUNKING_NOT_NEGOTIATED', 0), options: { ...recvBase, chunking: false }, frames: [f(chunk(2n, 0, true, cancelBytes))], packets: [] }),
  pr({ name: 'chunk_seq_starts_at_1', description: 'A chunk sequence starting at seq 1.', requirements: ['CHK-3'], flags: ['SeqMismatch', 'Chunked'], ...err('CHUNK_SEQ_MISMATCH', 0), options: recvBase, frames: [f(chunk(2n, 1, false, cancelBytes))], packets: [] }),
  pr({ name: 'chunk_seq_duplicate', description: 'seq 0 twice.', requirements: ['CHK-3'], flags: ['SeqMismatch', 'Chunked'], ...err('CHUNK_SEQ_MISMATCH', 1), options: recvBase, frames: [f(chunk(2n, 0, false, cancelBytes.subarray(0, 4))), f(chunk(2n, 0, false, cancelBytes.subarray(4)))], packets: [] }),
  pr({ name: 'chunk_seq_gap', description: 'seq 0 then seq 2.', requirements: ['CHK-3'], flags: ['SeqMismatch', 'Chunked'], ...err('CHUNK_SEQ_MISMATCH', 1), options: recvBase, frames: [f(chunk(2n, 0, false, cancelBytes.subarray(0, 4))), f(chunk(2n, 2, true, cancelBytes.subarray(4)))], packets: [] }),
  pr({ name: 'chunk_compression_changed', description: 'The first chunk says none, the second zstd.', requirements: ['CHK-4'], flags: ['CompressionChanged', 'Chunked'], ...err('CHUNK_COMPRESSION_CHANGED', 1), options: { ...recvBase, compression: ['zstd', 'none'] }, frames: [f(chunk(2n, 0, false, cancelBytes.subarray(0, 4))), f(chunk(2n, 1, true, cancelBytes.subarray(4), 'zstd'))], packets: [] }),
  pr({ name: 'chunks_33_streams', description: 'A 33rd concurrent reassembly.', requirements: ['CHK-5'], flags: ['StreamLimit', 'Chunked'], ...err('TOO_MANY_CHUNK_STREAMS', 32), options: recvBase, frames: Array.from({ length: 33 }, (_, i) => f(chunk(BigInt(2 * i + 2), 0, false, cancelBytes.subarray(0, 1)))), packets: [] }),
  pr({ name: 'chunks_over_max_packet', description: 'Chunks adding up to 65 bytes when max_packet_len is 64.', requirements: ['CHK-7'], flags: ['OverLimit', 'Chunked'], ...err('PACKET_TOO_LARGE', 1), options: { ...recvBase, maxPacketBytes: 64 }, frames: [f(chunk(2n, 0, false, filler(40))), f(chunk(2n, 1, false, filler(25)))], packets: [] }),
  pr({ name: 'chunks_over_total_buffer', description: 'Two streams buffering 60 + 50 bytes when the total reassembly limit is 100.', requirements: ['CHK-6'], flags: ['StreamLimit', 'Chunked'], ...err('REASSEMBLY_LIMIT_EXCEEDED', 1), options: { ...recvBase, maxTotalBytes: 100 }, frames: [f(chunk(2n, 0, false, filler(60))), f(chunk(4n, 0, false, filler(50)))], packets: [] }),
];
}

/** All definitions, in a stable order. `compress` is zstd at level 3 (the codec's). */
export function vectorDefinitions(compress: (data: Uint8Array) => Uint8Array): VectorDef[] {
  return [
    ...wireFrameValid,
    ...wireFrameAcceptable,
    ...wireFrameInvalid,
    ...rpcValid,
    ...rpcAcceptable,
    ...rpcInvalid,
    ...frameStream,
    ...packetSend,
    ...packetReceive(compress),
  ];
}
