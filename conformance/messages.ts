/**
 * Builders for well-formed messages, in Rust declaration order so that `cbor(x)` from
 * ./cbor.ts is the canonical encoding [CBOR-3]. Cases derive malformed variants from these.
 *
 * @module
 */
import type {
  Capabilities,
  CompressionAlgo,
  FileText,
  Notification,
  ProtocolVersion,
  RejectCode,
  Request,
  RouterWelcome,
  RpcError,
  RpcPayload,
  RpcResult,
  WorkerHello,
} from '../src/wire/model.js';
import { cbor, type CValue } from './cbor.js';

export const V3_0: ProtocolVersion = { major: 3, minor: 0 };

export interface CapsInit {
  max_frame_len?: number;
  max_packet_len?: number;
  /** Any strings: unknown names are deliberately allowed to test tolerance. */
  supported_compression?: string[];
  supports_cancel?: boolean;
  supports_chunking?: boolean;
}

export function caps(init: CapsInit = {}): Capabilities {
  return {
    max_frame_len: init.max_frame_len ?? 64 * 1024 * 1024,
    max_packet_len: init.max_packet_len ?? 64 * 1024 * 1024,
    supported_compression: (init.supported_compression ?? ['none']) as CompressionAlgo[],
    supports_cancel: init.supports_cancel ?? true,
    supports_chunking: init.supports_chunking ?? true,
  };
}

export interface HelloInit {
  shard_id: number;
  auth_token?: string | null;
  min?: ProtocolVersion;
  max?: ProtocolVersion;
  capabilities?: CapsInit;
  worker_build?: string | null;
}

export function hello(init: HelloInit): WorkerHello {
  return {
    shard_id: init.shard_id,
    auth_token: init.auth_token ?? null,
    supported_versions: { min: init.min ?? V3_0, max: init.max ?? V3_0 },
    capabilities: caps(init.capabilities),
    cached_index_info: null,
    worker_build: init.worker_build ?? 'nova-conformance-harness',
  };
}

export function helloFrame(init: HelloInit): { type: 'hello'; body: WorkerHello } {
  return { type: 'hello', body: hello(init) };
}

export function welcomeFrame(body: RouterWelcome): { type: 'welcome'; body: RouterWelcome } {
  return {
    type: 'welcome',
    body: {
      worker_id: body.worker_id,
      shard_id: body.shard_id,
      revision: body.revision,
      chosen_version: { major: body.chosen_version.major, minor: body.chosen_version.minor },
      chosen_capabilities: caps(body.chosen_capabilities),
    },
  };
}

export function rejectFrame(code: RejectCode | string, message: string): CValue {
  return { type: 'reject', body: { code, message } };
}

export function packetFrame(id: bigint, data: Uint8Array, compression: string = 'none'): CValue {
  return { type: 'packet', body: { id, compression, data } };
}

export function chunkFrame(id: bigint, seq: number, last: boolean, data: Uint8Array, compression: string = 'none'): CValue {
  return { type: 'packet_chunk', body: { id, compression, seq, last, data } };
}

export function requestPayload(request: Request): RpcPayload {
  return { type: 'request', body: request };
}

export function responsePayload(result: RpcResult): RpcPayload {
  return { type: 'response', body: result };
}

export function notificationPayload(n: Notification): RpcPayload {
  return { type: 'notification', body: n };
}

export const CANCEL: RpcPayload = { type: 'cancel' };

export function rpcError(code: RpcError['code'], message: string, retryable = false): RpcResult {
  return { status: 'err', error: { code, message, retryable, details: null } };
}

/** Requests built in declaration order (internally tagged: `type` first [CBOR-4]). */
export const req = {
  stats: (): Request => ({ type: 'get_worker_stats' }),
  shutdown: (): Request => ({ type: 'shutdown' }),
  diagnostics: (path: string): Request => ({ type: 'diagnostics', path }),
  loadFiles: (revision: bigint, files: FileText[]): Request => ({ type: 'load_files', revision, files }),
  indexShard: (revision: bigint, files: FileText[]): Request => ({ type: 'index_shard', revision, files }),
  updateFile: (revision: bigint, file: FileText): Request => ({ type: 'update_file', revision, file }),
};

/** Encode an RpcPayload exactly as a canonical sender would (the model objects are wire-shaped). */
export function encodePayload(payload: RpcPayload | CValue): Uint8Array {
  return cbor(payload as CValue);
}

/** Some source files with a predictable size. */
export function sourceFiles(count: number, bytesEach: number, prefix = 'src/f'): FileText[] {
  const files: FileText[] = [];
  for (let i = 0; i < count; i++) {
    const head = `class C${i} { void m${i}() {} }\n`;
    files.push({ path: `${prefix}${i}.java`, text: head + '/'.repeat(Math.max(0, bytesEach - head.length)) });
  }
  return files;
}

/** Deterministic pseudo-random bytes (xorshift32), hard to compress. */
export function noiseBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
