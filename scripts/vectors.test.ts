/**
 * Checks the checked-in golden vectors (vectors/*.json) both ways against our codec, checks the
 * manifest and the id registry, and checks that the generator still produces exactly the files
 * on disk. The vectors are read from disk, not rebuilt, so a hand edit or a codec change shows.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import * as wire from '../src/wire/index.js';
import { hexToBytes, toJsonView } from '../src/wire/json-view.js';
import { wireFrameFromSerdeJson, rpcPayloadFromSerdeJson } from '../src/wire/serde-json.js';
import { generateVectors, staleFiles, vectorsDir } from './gen-vectors.js';
import { loadRequirements } from './spec-index.js';
import { repoRoot } from './repo-root.js';
import { verifyVector } from './vector-verify.js';
import {
  FLAGS,
  VECTOR_FILES,
  VECTOR_KINDS,
  buildManifest,
  jsonEqual,
  registryKey,
  sha256Hex,
  type IdRegistry,
  type VectorKind,
} from './vectors-lib.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- vector files are untyped JSON */
type V = Record<string, any>;
interface VectorFile {
  kind: VectorKind;
  flags: Record<string, { description: string }>;
  vectors: V[];
}

const dir = vectorsDir();
const fileTextOf = (name: string) => readFileSync(join(dir, name), 'utf8');
const files = new Map<VectorKind, VectorFile>(VECTOR_KINDS.map((k) => [k, JSON.parse(fileTextOf(VECTOR_FILES[k])) as VectorFile]));
const registry = JSON.parse(fileTextOf('ids.json')) as IdRegistry;
const all = [...files.values()].flatMap((f) => f.vectors.map((v) => ({ kind: f.kind, v })));
const byKind = (kind: VectorKind, result?: string) => files.get(kind)!.vectors.filter((v) => result === undefined || v['result'] === result);
const b = (h: string) => hexToBytes(h);
const zstd = wire.zstdAvailable();
if (!zstd) console.warn('vectors.test: zstd is unavailable here; compressed vectors are checked without decompression and the generator up-to-date check is skipped');

describe('vector files: structure, ids, flags, requirements', () => {
  const requirementIds = new Set(loadRequirements().map((r) => r.id));

  it('has the expected counts', () => {
    expect(all.length).toBeGreaterThanOrEqual(240);
    for (const kind of VECTOR_KINDS) expect(byKind(kind).length, kind).toBeGreaterThan(0);
  });

  it('every id is unique, registered under kind/name, and below next_id', () => {
    const seen = new Set<number>();
    for (const { kind, v } of all) {
      expect(seen.has(v['id']), `duplicate id ${v['id']}`).toBe(false);
      seen.add(v['id']);
      expect(registry.ids[registryKey(kind, v['name'])], `${kind}/${v['name']}`).toBe(v['id']);
      expect(v['id']).toBeLessThan(registry.next_id);
    }
    // Registry values are unique too: an id is never given to two names.
    const values = Object.values(registry.ids);
    expect(new Set(values).size).toBe(values.length);
  });

  it('cites only known requirement ids and error codes, and only described flags', () => {
    const codes = new Set<string>(Object.values(ErrorCodes));
    for (const { kind, v } of all) {
      for (const r of v['requirements'] as string[]) expect(requirementIds.has(r), `${kind}/${v['name']}: ${r}`).toBe(true);
      for (const f of v['flags'] as string[]) {
        expect(files.get(kind)!.flags[f], `${kind}/${v['name']}: flag ${f}`).toBeDefined();
        expect(f in FLAGS).toBe(true);
      }
      if (v['error'] !== undefined) expect(codes.has(v['error']), v['error']).toBe(true);
      if (v['transport_error'] !== undefined) expect(codes.has(v['transport_error'].code)).toBe(true);
    }
  });

  it('covers every variant, enum value and the id boundaries', () => {
    const jsons = [...byKind('wire_frame', 'valid'), ...byKind('rpc_payload', 'valid')].map((v) => JSON.stringify(v['json']));
    const has = (s: string) => jsons.some((j) => j.includes(s));
    for (const t of wire.WIRE_FRAME_TYPES) expect(has(`{"type":"${t}"`), t).toBe(true);
    for (const t of wire.RPC_PAYLOAD_TYPES) expect(has(`{"type":"${t}"`), t).toBe(true);
    for (const t of wire.REQUEST_TYPES) expect(has(`"body":{"type":"${t}"`), t).toBe(true);
    for (const t of wire.RESPONSE_TYPES) expect(has(`"value":{"type":"${t}"`), t).toBe(true);
    for (const t of wire.NOTIFICATION_TYPES) expect(has(`{"type":"notification","body":{"type":"${t}"`), t).toBe(true);
    for (const s of ['ok', 'err', 'unknown']) expect(has(`"status":"${s}"`), s).toBe(true);
    for (const c of wire.REJECT_CODES) expect(has(`"type":"reject","body":{"code":"${c}"`), c).toBe(true);
    for (const c of wire.RPC_ERROR_CODES) expect(has(`"error":{"code":"${c}"`), c).toBe(true);
    for (const s of wire.DIAGNOSTIC_SEVERITIES) expect(has(`"severity":"${s}"`), s).toBe(true);
    for (const c of wire.COMPRESSION_ALGOS) expect(has(`"compression":"${c}"`), c).toBe(true);
    for (const id of ['0', '1', '2', '4294967296', '9007199254740993', '18446744073709551615']) expect(has(`"id":"${id}"`), id).toBe(true);
    expect(has('4294967295')).toBe(true);
    expect(has('"message":""')).toBe(true);
    expect(has('𝄞')).toBe(true);
  });
});

describe('manifest', () => {
  const manifest = JSON.parse(fileTextOf('manifest.json')) as { files: { path: string; sha256: string; bytes: number; vectors?: Record<string, number> }[] };

  it('lists every file under vectors/ with its sha256 and size', () => {
    const onDisk = readdirSync(dir).filter((f) => f !== 'manifest.json').sort();
    expect(manifest.files.map((f) => f.path)).toEqual(onDisk);
    for (const entry of manifest.files) {
      const text = fileTextOf(entry.path);
      expect(sha256Hex(text), entry.path).toBe(entry.sha256);
      expect(Buffer.byteLength(text)).toBe(entry.bytes);
    }
  });

  it('is exactly what the files imply (counts included)', () => {
    const texts = new Map(readdirSync(dir).filter((f) => f !== 'manifest.json').map((f) => [f, fileTextOf(f)]));
    expect(JSON.parse(JSON.stringify(buildManifest(texts)))).toEqual(manifest);
  });

  it('sha256 is right on a known input (guards the hash helper itself)', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

for (const kind of VECTOR_KINDS) {
  describe(`${kind} vectors against our codec`, () => {
    it.each(byKind(kind).map((v) => [`${v['result']} ${v['name']}`, v] as const))('%s', (_n, v) => {
      expect(verifyVector(kind, v, wire, zstd)).toEqual([]);
    });
  });
}

describe('the verifier catches a wrong vector (negative controls)', () => {
  const pick = (kind: VectorKind, result: string, flag?: string) =>
    structuredClone(byKind(kind, result).find((v) => flag === undefined || (v['flags'] as string[]).includes(flag))!);
  const flipLastHexDigit = (h: string) => h.slice(0, -1) + (h.endsWith('0') ? '1' : '0');

  it('message vectors', () => {
    const valid = pick('wire_frame', 'valid', 'U64Boundary');
    expect(verifyVector('wire_frame', { ...valid, hex: flipLastHexDigit(valid.hex) }, wire, zstd)).not.toEqual([]);
    expect(verifyVector('wire_frame', { ...valid, framed_hex: '00' + valid.framed_hex.slice(2) }, wire, zstd)).not.toEqual([]);
    expect(verifyVector('wire_frame', { ...valid, json: { type: 'unknown' } }, wire, zstd)).not.toEqual([]);
    const inner = pick('wire_frame', 'valid', 'InnerPayload');
    expect(verifyVector('wire_frame', { ...inner, inner: { ...inner.inner, json: { type: 'unknown' } } }, wire, zstd)).not.toEqual([]);
    const acceptable = pick('rpc_payload', 'acceptable');
    expect(verifyVector('rpc_payload', { ...acceptable, canonical_hex: acceptable.hex }, wire, zstd)).not.toEqual([]);
    const invalid = pick('rpc_payload', 'invalid');
    expect(verifyVector('rpc_payload', { ...invalid, error: 'CBOR_MALFORMED' === invalid.error ? 'CBOR_TOO_DEEP' : 'CBOR_MALFORMED' }, wire, zstd)).not.toEqual([]);
    expect(verifyVector('rpc_payload', { ...invalid, hex: 'a164747970656663616e63656c' }, wire, zstd)).toEqual([`decodes, expected ${invalid.error}`]);
  });

  it('stream and packet vectors', () => {
    const stream = pick('frame_stream', 'invalid');
    expect(verifyVector('frame_stream', { ...stream, error_on: stream.error_on === 'push' ? 'end' : 'push' }, wire, zstd)).not.toEqual([]);
    const chunked = pick('packet_send', 'valid', 'Chunked');
    expect(verifyVector('packet_send', { ...chunked, frames: chunked.frames.slice(0, -1) }, wire, zstd)).not.toEqual([]);
    const recv = pick('packet_receive', 'invalid');
    expect(verifyVector('packet_receive', { ...recv, error_at_frame: recv.error_at_frame + 1 }, wire, zstd)).not.toEqual([]);
    const ok = pick('packet_receive', 'valid', 'Interleaved');
    expect(verifyVector('packet_receive', { ...ok, packets: [...ok.packets].reverse() }, wire, zstd)).not.toEqual([]);
  });
});

describe('packet_send structure', () => {
  it('chunked sends use max(max_frame_len − 256, 1) data bytes per chunk but the last [CHK-9]', () => {
    const chunked = byKind('packet_send', 'valid').filter((v) => (v['flags'] as string[]).includes('Chunked'));
    expect(chunked.length).toBeGreaterThanOrEqual(3);
    for (const v of chunked) {
      const size = Math.max(v['options'].max_frame_bytes - 256, 1);
      const frames = v['frames'] as V[];
      expect(frames.length).toBeGreaterThan(1);
      frames.forEach((f, i) => {
        expect(f['json'].type).toBe('packet_chunk');
        expect(f['json'].body.seq).toBe(i);
        expect(f['json'].body.last).toBe(i === frames.length - 1);
        expect(f['json'].body.compression).toBe(frames[0]!['json'].body.compression);
        if (i < frames.length - 1) expect(f['json'].body.data.length / 2).toBe(size);
      });
    }
  });
});

describe.skipIf(!zstd)('generator', () => {
  it('reproduces exactly the files on disk (run `npm run vectors` after changing definitions)', () => {
    const generated = generateVectors(false, registry);
    expect(staleFiles(generated, dir)).toEqual([]);
    expect([...generated.files.keys()].sort()).toEqual(readdirSync(dir).sort());
  });
});

// --- cross-check against the Rust reference sample ------------------------------------------

const REFERENCE = '/work/shared/reference/interop-vectors.jsonl';
const haveReference = existsSync(REFERENCE);
if (!haveReference) console.warn(`vectors.test: ${REFERENCE} is absent; skipping the cross-check of our vectors against the Rust reference`);

describe.skipIf(!haveReference)('our vectors agree with the Rust reference sample', () => {
  const reference = haveReference
    ? readFileSync(REFERENCE, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as V)
    : [];

  it('every reference wire_frame / rpc_payload whose value is in our valid vectors has our exact bytes', () => {
    let matched = 0;
    for (const ref of reference.filter((r) => r['kind'] === 'wire_frame' || r['kind'] === 'rpc_payload')) {
      const kind = ref['kind'] as 'wire_frame' | 'rpc_payload';
      const json = toJsonView(kind === 'wire_frame' ? wireFrameFromSerdeJson(ref['value']) : rpcPayloadFromSerdeJson(ref['value']));
      for (const v of byKind(kind, 'valid').filter((x) => jsonEqual(x['json'], json))) {
        matched++;
        expect(v['hex'], `${kind}/${v['name']} vs reference ${ref['name']}`).toBe(ref['hex']);
        if (kind === 'wire_frame' && ref['framed_hex']) expect(v['framed_hex']).toBe(ref['framed_hex']);
      }
    }
    // Guard against a vacuous pass: our definitions repeat most reference values on purpose.
    console.log(`reference cross-check: ${matched} of our valid vectors have a reference twin`);
    expect(matched).toBeGreaterThanOrEqual(50);
  });

  it('our compressed vectors decompress to payloads the reference would carry: same inner bytes for the same payload', () => {
    let matched = 0;
    for (const ref of reference.filter((r) => r['inner_hex'])) {
      const inner = toJsonView(wire.decodeRpcPayload(b(ref['inner_hex'])));
      for (const v of byKind('wire_frame', 'valid').filter((x) => x['inner'] && jsonEqual(x['inner'].json, inner))) {
        matched++;
        expect(v['inner'].hex).toBe(ref['inner_hex']);
      }
    }
    expect(matched).toBeGreaterThanOrEqual(1);
  });

  it('every reference decode_only input that is also one of our inputs gets the same verdict and value', () => {
    let matched = 0;
    const ours = [...byKind('wire_frame'), ...byKind('rpc_payload')];
    for (const ref of reference.filter((r) => r['kind'] === 'decode_only')) {
      const kind: VectorKind = String(ref['name']).startsWith('wire_') ? 'wire_frame' : 'rpc_payload';
      for (const v of ours.filter((x) => x['hex'] === ref['hex'] && files.get(kind)!.vectors.includes(x))) {
        matched++;
        const accepted = v['result'] !== 'invalid';
        expect(accepted, `${kind}/${v['name']} vs reference ${ref['name']}`).toBe(ref['accepted']);
        if (accepted) {
          const value = toJsonView(kind === 'wire_frame' ? wireFrameFromSerdeJson(ref['value']) : rpcPayloadFromSerdeJson(ref['value']));
          expect(jsonEqual(v['json'], value), `${v['name']} value`).toBe(true);
        }
      }
    }
    console.log(`reference cross-check: ${matched} of our inputs are reference decode_only inputs`);
    expect(matched).toBeGreaterThanOrEqual(15);
  });
});

describe('docs/vectors.md', () => {
  const doc = readFileSync(join(repoRoot(), 'docs', 'vectors.md'), 'utf8');
  it('documents every flag, kind and file', () => {
    for (const flag of Object.keys(FLAGS)) expect(doc, flag).toContain(`| \`${flag}\` |`);
    for (const kind of VECTOR_KINDS) {
      // wire_frame and rpc_payload share one section.
      const heading = kind === 'wire_frame' || kind === 'rpc_payload' ? '### `wire_frame` and `rpc_payload`' : `### \`${kind}\``;
      expect(doc, kind).toContain(heading);
      expect(doc).toContain(`\`${VECTOR_FILES[kind]}\``);
    }
  });
});
