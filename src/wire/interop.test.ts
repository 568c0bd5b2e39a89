/**
 * Interop with the Rust reference: vectors produced by running nova-remote-proto (serde_cbor 0.11).
 * /work/shared exists in the team's workspace and CI, not in a user's clone: skipped when absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isProtocolError } from '../errors.js';
import { KNOWN_REFERENCE_DIFFERENCES, decodeRpcPayload, decodeWireFrame, encodeRpcPayload, encodeWireFrame } from './codec.js';
import { zstdAvailable, zstdDecompressBounded } from './compression.js';
import { FrameDecoder, encodeFrame } from './frame.js';
import { rpcPayloadFromSerdeJson, wireFrameFromSerdeJson } from './serde-json.js';
import { fromHex as bytesOf, toHex as hexOf } from '../../test/helpers.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const VECTORS = resolve(repoRoot, '../shared/reference/interop-vectors.jsonl');
const present = existsSync(VECTORS);
if (!present) console.warn(`[interop] ${VECTORS} not found: Rust interop vectors skipped`);

interface Vector {
  name: string;
  kind: 'wire_frame' | 'rpc_payload' | 'decode_only';
  hex: string;
  framed_hex?: string;
  inner_hex?: string;
  value?: unknown;
  accepted?: boolean;
  error?: string;
}

const vectors: Vector[] = present
  ? readFileSync(VECTORS, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Vector)
  : [];

const WIRE_TYPES = new Set(['hello', 'welcome', 'reject', 'packet', 'packet_chunk']);

/** Which decoder a decode_only vector targets: by name prefix, else by the accepted value's type. */
function targetOf(v: Vector): 'wire' | 'rpc' | 'either' {
  if (v.name.startsWith('wire_')) return 'wire';
  if (v.name.startsWith('rpc_')) return 'rpc';
  if (v.value && typeof v.value === 'object') return WIRE_TYPES.has((v.value as { type?: string }).type ?? '') ? 'wire' : 'rpc';
  return 'either';
}

type Verdict = { accepted: true; value: unknown } | { accepted: false; error: unknown };
function run(fn: () => unknown): Verdict {
  try {
    return { accepted: true, value: fn() };
  } catch (error) {
    return { accepted: false, error };
  }
}

const differences = new Map(KNOWN_REFERENCE_DIFFERENCES.map((d) => [d.vector, d.reason]));

describe.skipIf(!present)('Rust reference interop vectors', () => {
  it('has vectors', () => {
    expect(vectors.length).toBeGreaterThan(0);
  });

  for (const v of vectors.filter((x) => x.kind === 'wire_frame')) {
    it(`wire_frame ${v.name}: encodes to hex, decodes to value`, () => {
      const model = wireFrameFromSerdeJson(v.value);
      expect(hexOf(encodeWireFrame(model))).toBe(v.hex);
      expect(decodeWireFrame(bytesOf(v.hex))).toEqual(model);
      if (v.framed_hex) {
        expect(hexOf(encodeFrame(bytesOf(v.hex)))).toBe(v.framed_hex);
        const frames = new FrameDecoder({ maxFrameBytes: 1 << 20 }).push(bytesOf(v.framed_hex));
        expect(frames.map(hexOf)).toEqual([v.hex]);
      }
      if (v.inner_hex !== undefined && zstdAvailable()) {
        const body = (model as { body: { data: Uint8Array } }).body;
        expect(hexOf(zstdDecompressBounded(body.data, 1 << 26))).toBe(v.inner_hex);
        // the inner bytes are an RpcPayload the reference encoder produced: round-trip it too
        const inner = decodeRpcPayload(bytesOf(v.inner_hex));
        expect(hexOf(encodeRpcPayload(inner))).toBe(v.inner_hex);
      }
    });
  }

  for (const v of vectors.filter((x) => x.kind === 'rpc_payload')) {
    it(`rpc_payload ${v.name}: encodes to hex, decodes to value`, () => {
      const model = rpcPayloadFromSerdeJson(v.value);
      expect(hexOf(encodeRpcPayload(model))).toBe(v.hex);
      expect(decodeRpcPayload(bytesOf(v.hex))).toEqual(model);
    });
  }

  for (const v of vectors.filter((x) => x.kind === 'decode_only')) {
    const reason = differences.get(v.name);
    it(`decode_only ${v.name}: ${reason ? 'KNOWN DIFFERENCE, ' : ''}Rust ${v.accepted ? 'accepts' : 'refuses'}`, () => {
      const target = targetOf(v);
      const bytes = bytesOf(v.hex);
      const wire = target !== 'rpc' ? run(() => decodeWireFrame(bytes)) : undefined;
      const rpc = target !== 'wire' ? run(() => decodeRpcPayload(bytes)) : undefined;
      const verdicts = [wire, rpc].filter((x): x is Verdict => x !== undefined);
      for (const r of verdicts) if (!r.accepted) expect(isProtocolError(r.error), String(r.error)).toBe(true);
      const expected = reason ? !v.accepted : v.accepted;
      if (expected) {
        const model = target === 'wire' ? wireFrameFromSerdeJson(v.value) : rpcPayloadFromSerdeJson(v.value);
        const ok = verdicts.filter((r) => r.accepted);
        expect(ok.length, 'accepted').toBeGreaterThan(0);
        if (!reason) expect((ok[0] as { value: unknown }).value).toEqual(model);
      } else {
        for (const r of verdicts) expect(r.accepted, 'refused').toBe(false);
      }
    });
  }

  it('every listed reference difference names a vector in the file', () => {
    const names = new Set(vectors.map((v) => v.name));
    for (const d of KNOWN_REFERENCE_DIFFERENCES) expect(names.has(d.vector), d.vector).toBe(true);
  });
});
