/**
 * Convert the serde_json rendering of a Rust value (as stored in interop-vectors.jsonl: bytes as
 * arrays of numbers, integers beyond 2^53−1 as decimal strings, keys sorted) into the in-memory
 * model, which mirrors the wire. Only two things differ between the two forms: u64 fields
 * (`id`, `revision`, `index_generation`) are bigints here, and `data` is a Uint8Array.
 *
 * @module
 */
import type { RpcPayload, WireFrame } from './model.js';

const U64_KEYS = new Set(['id', 'revision', 'index_generation']);

function convert(value: unknown, key: string | undefined): unknown {
  if (key !== undefined && U64_KEYS.has(key) && (typeof value === 'number' || typeof value === 'string')) {
    return BigInt(value);
  }
  if (key === 'data' && Array.isArray(value)) return Uint8Array.from(value as number[]);
  if (Array.isArray(value)) return value.map((item) => convert(item, undefined));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = convert(v, k);
    return out;
  }
  return value;
}

/** serde_json value of a Rust `WireFrame` -> model. */
export function wireFrameFromSerdeJson(json: unknown): WireFrame {
  return convert(json, undefined) as WireFrame;
}

/** serde_json value of a Rust `RpcPayload` -> model. */
export function rpcPayloadFromSerdeJson(json: unknown): RpcPayload {
  return convert(json, undefined) as RpcPayload;
}
