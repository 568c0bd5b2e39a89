/**
 * The offline properties: each one has a real oracle (an independent writer, a reference model,
 * a resource bound), not just "round-trips through itself". They are run by fuzz/offline.test.ts
 * with small fixed budgets and by fuzz/campaign.ts in a loop for longer campaigns.
 *
 * @module
 */
import { getHeapStatistics } from 'node:v8';
import fc from 'fast-check';
import { ErrorCodes, isProtocolError, type ErrorCode } from '../src/errors.js';
import {
  HARD_MAX_MESSAGE_BYTES,
  MAX_CONCURRENT_REASSEMBLIES,
  PRE_HANDSHAKE_MAX_FRAME_BYTES,
} from '../src/limits.js';
import type { CompressionAlgo, PacketChunkBody, WireFrame } from '../src/wire/model.js';
import {
  FrameDecoder,
  Reassembler,
  decodeRpcPayload,
  decodeWireFrame,
  encodeFrame,
  encodePacketFrames,
  encodeRpcPayload,
  encodeWireFrame,
  zstdAvailable,
} from '../src/wire/index.js';
import { PreflightFlags, SLOW_PATH_FLAGS, preflight } from '../src/wire/preflight.js';
import { decodeCbor, decodeFastPathUnchecked } from '../src/wire/cbor.js';
import { RequestIdAllocator } from '../src/engine/ids.js';
import {
  checkOwnCapabilities,
  checkWelcome,
  chooseCommonVersion,
  compareVersions,
  negotiateHello,
  sanitizeCapabilities,
  versionInRange,
} from '../src/engine/negotiation.js';
import {
  capabilitiesArb,
  compressionListArb,
  rpcPayloadArb,
  supportedVersionsArb,
  textArb,
  wireFrameArb,
  workerHelloArb,
} from './arbitraries.js';
import { type CborItem, neutralEncode, writeCbor, modelToTree } from '../conformance/cbor.js';
import { mutateBytes, mutateTree, replaceRandomNode, tolerantVariant, SPECIAL_KEYS } from './mutate.js';
import { createRng } from './rng.js';

/** One named offline property. `numRuns` is the per-test budget; campaigns loop it. */
export interface OfflineProperty {
  name: string;
  /** Spec ids the property checks. */
  rules: string[];
  numRuns: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  build(): fc.IProperty<any>;
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** Structural equality for model values: bigint, Uint8Array, arrays, plain objects. */
export function modelEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => modelEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !(a instanceof Uint8Array) && !(b instanceof Uint8Array)) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => modelEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return modelEqual(a, b);
}

/** Runs `fn`; returns what it returned, or the ProtocolError it threw. Anything else is re-thrown. */
function onlyProtocolErrors<T>(fn: () => T): { ok: true; value: T } | { ok: false; code: ErrorCode } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (isProtocolError(e)) return { ok: false, code: e.code };
    throw new Error(`non-ProtocolError escaped: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

const seedArb = fc.integer({ min: 0, max: 0x7fff_ffff });

// ---------------------------------------------------------------------------------------------
// A neutral generator of well-formed CBOR inside the documented tolerance
// ---------------------------------------------------------------------------------------------

/**
 * Well-formed CBOR items the reference validator accepts [CBOR-7] [CBOR-10]: text keys ≤ 64 bytes,
 * unique, never a protocol field name (those carry per-key caps); nesting well below 64; any
 * integer width; definite or indefinite strings and containers; tags; false/true/null/undefined;
 * floats. Excluded (outside the tolerance): unassigned simple values, invalid UTF-8, huge items.
 */
export function tolerableCborArb(maxDepth = 6): fc.Arbitrary<CborItem> {
  const keyArb = textArb(12).filter((k) => Buffer.byteLength(k) <= 64 && !SPECIAL_KEYS.has(k) && !KNOWN_FIELD_NAMES.has(k));
  const widthArb = fc.constantFrom<undefined | 1 | 2 | 4 | 8>(undefined, undefined, 1, 2, 4, 8);
  const chunksArb = fc.option(fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }), { nil: undefined });
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const leaf: fc.Arbitrary<CborItem> = fc.oneof(
    fc.tuple(u64, widthArb).map(([v, w]): CborItem => fitWidth({ k: 'uint', v }, w)),
    fc.tuple(u64, widthArb).map(([v, w]): CborItem => fitWidth({ k: 'nint', v }, w)),
    fc.tuple(fc.uint8Array({ maxLength: 24 }), chunksArb).map(([v, chunks]): CborItem => (chunks ? { k: 'bytes', v, chunks } : { k: 'bytes', v })),
    fc.tuple(textArb(12), chunksArb).map(([v, chunks]): CborItem => (chunks ? { k: 'text', v, chunks } : { k: 'text', v })),
    fc.constantFrom<CborItem>({ k: 'simple', v: 20 }, { k: 'simple', v: 21 }, { k: 'simple', v: 22 }, { k: 'simple', v: 23 }),
    fc.tuple(fc.double(), fc.constantFrom(4 as const, 8 as const)).map(([v, width]): CborItem => ({ k: 'float', v, width })),
  );
  const { item } = fc.letrec<{ item: CborItem }>((tie) => ({
    item: fc.oneof(
      { depthSize: 'small', maxDepth, withCrossShrink: true },
      leaf,
      fc.tuple(fc.array(tie('item'), { maxLength: 4 }), fc.boolean()).map(([items, indef]): CborItem => ({ k: 'array', items, indef })),
      fc
        .tuple(fc.uniqueArray(fc.tuple(keyArb, tie('item')), { maxLength: 4, selector: ([k]) => k }), fc.boolean())
        .map(([entries, indef]): CborItem => ({
          k: 'map',
          entries: entries.map(([key, v]): [CborItem, CborItem] => [{ k: 'text', v: key }, v]),
          indef,
        })),
      fc.tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), tie('item')).map(([tag, it]): CborItem => ({ k: 'tag', tag, item: it })),
    ),
  }));
  return item;
}

function fitWidth(item: { k: 'uint' | 'nint'; v: bigint }, width: 1 | 2 | 4 | 8 | undefined): CborItem {
  if (width === undefined || item.v >= 1n << BigInt(width * 8)) return item;
  return { ...item, width };
}

/** Field names the preflight tracks (repeated ones force the slow path, some select caps). */
const KNOWN_FIELD_NAMES: ReadonlySet<string> = new Set([
  'type', 'body', 'status', 'value', 'error', 'shard_id', 'auth_token', 'supported_versions', 'capabilities',
  'cached_index_info', 'worker_build', 'min', 'max', 'major', 'minor', 'max_frame_len', 'max_packet_len',
  'supported_compression', 'supports_cancel', 'supports_chunking', 'revision', 'index_generation', 'symbol_count',
  'worker_id', 'chosen_version', 'chosen_capabilities', 'code', 'message', 'id', 'compression', 'data', 'seq', 'last',
  'files', 'file', 'path', 'text', 'name', 'line', 'column', 'symbols', 'file_count', 'diagnostics', 'severity',
  'retryable', 'details', 'items', 'query',
]);

// ---------------------------------------------------------------------------------------------
// Reassembly model
// ---------------------------------------------------------------------------------------------

type ChunkFrame = Extract<WireFrame, { type: 'packet' | 'packet_chunk' }>;

interface ReassemblyScenario {
  frames: ChunkFrame[];
  /** Expected completions in order, or the error expected at `errorAt`. */
  expected: Array<{ id: bigint; payload: Uint8Array }>;
  error?: { at: number; code: ErrorCode };
  chunking: boolean;
  maxPacketBytes: number;
}

const VIOLATIONS = ['none', 'seq-skip', 'seq-repeat', 'compression-change', 'not-negotiated', 'too-large', 'too-many-streams'] as const;

/**
 * Build a reassembly scenario from a seed: packets split into random chunks (empty ones
 * included), interleaved at random (each id keeps its order), optionally with one injected
 * violation whose position and error code the scenario states in advance.
 */
export function reassemblyScenario(seed: number, violation: (typeof VIOLATIONS)[number]): ReassemblyScenario {
  const rng = createRng(seed);
  const maxPacketBytes = rng.pick([64, 300, 4096]);
  const streams: ChunkFrame[][] = [];
  const nStreams = violation === 'too-many-streams' ? MAX_CONCURRENT_REASSEMBLIES + 1 : rng.int(1, 5);
  const ids = new Set<bigint>();
  while (ids.size < nStreams) ids.add(rng.chance(0.2) ? rng.u64() | 1n : BigInt(rng.int(1, 1000)));
  const payloads = new Map<bigint, Uint8Array>();
  for (const id of ids) {
    const payload = rng.bytes(rng.int(0, maxPacketBytes));
    payloads.set(id, payload);
    const frames: ChunkFrame[] = [];
    if (violation !== 'too-many-streams' && rng.chance(0.2)) {
      frames.push({ type: 'packet', body: { id, compression: 'none', data: payload } });
    } else {
      let off = 0;
      let seq = 0;
      do {
        const size = rng.chance(0.15) ? 0 : rng.int(1, Math.max(1, Math.ceil(payload.length / 2)));
        const end = Math.min(payload.length, off + size);
        frames.push({ type: 'packet_chunk', body: { id, compression: 'none', seq: seq++, last: false, data: payload.slice(off, end) } });
        off = end;
      } while (off < payload.length || rng.chance(0.1));
      (frames[frames.length - 1]!.body as PacketChunkBody).last = true;
    }
    streams.push(frames);
  }
  if (violation === 'too-many-streams') {
    // Every stream sends its first chunk before any completes, so the 33rd opening must fail:
    // a stream of one chunk (seq 0, last) would complete at once, so give it an empty last chunk.
    for (const s of streams) {
      const first = s[0]!.body as PacketChunkBody;
      if (s.length === 1) {
        first.last = false;
        s.push({ type: 'packet_chunk', body: { id: first.id, compression: 'none', seq: 1, last: true, data: new Uint8Array(0) } });
      }
    }
  }
  // Interleave: repeatedly take the next frame of a random non-empty stream.
  const frames: ChunkFrame[] = [];
  const cursors = streams.map(() => 0);
  if (violation === 'too-many-streams') {
    for (let i = 0; i < streams.length; i++) frames.push(streams[i]![cursors[i]!++]!);
  }
  for (;;) {
    const open = streams.map((s, i) => i).filter((i) => cursors[i]! < streams[i]!.length);
    if (open.length === 0) break;
    const i = rng.pick(open);
    frames.push(streams[i]![cursors[i]!++]!);
  }
  const scenario: ReassemblyScenario = { frames, expected: [], chunking: true, maxPacketBytes };

  const chunkIdx = frames.map((f, i) => (f.type === 'packet_chunk' ? i : -1)).filter((i) => i >= 0);
  let errorAt: number | undefined;
  let code: ErrorCode | undefined;
  if (violation === 'not-negotiated' && chunkIdx.length) {
    scenario.chunking = false;
    errorAt = chunkIdx[0]!;
    code = ErrorCodes.CHUNKING_NOT_NEGOTIATED;
  } else if ((violation === 'seq-skip' || violation === 'seq-repeat' || violation === 'compression-change') && chunkIdx.length) {
    // Pick a chunk that is not the first of its stream for repeat/change, any chunk for skip.
    const candidates = chunkIdx.filter((i) => violation === 'seq-skip' || (frames[i]!.body as PacketChunkBody).seq > 0);
    if (candidates.length) {
      errorAt = rng.pick(candidates);
      const f = frames[errorAt]! as Extract<ChunkFrame, { type: 'packet_chunk' }>;
      const body = { ...f.body };
      if (violation === 'seq-skip') body.seq += 1;
      else if (violation === 'seq-repeat') body.seq -= 1;
      else body.compression = 'zstd';
      frames[errorAt] = { type: 'packet_chunk', body };
      code = violation === 'compression-change' ? ErrorCodes.CHUNK_COMPRESSION_CHANGED : ErrorCodes.CHUNK_SEQ_MISMATCH;
    }
  } else if (violation === 'too-large' && chunkIdx.length) {
    errorAt = rng.pick(chunkIdx);
    const f = frames[errorAt]! as Extract<ChunkFrame, { type: 'packet_chunk' }>;
    frames[errorAt] = { type: 'packet_chunk', body: { ...f.body, data: new Uint8Array(maxPacketBytes + 1) } };
    code = ErrorCodes.PACKET_TOO_LARGE;
  } else if (violation === 'too-many-streams') {
    errorAt = MAX_CONCURRENT_REASSEMBLIES;
    code = ErrorCodes.TOO_MANY_CHUNK_STREAMS;
  }
  // Expected completions before the error: replay the model.
  const progress = new Map<bigint, { len: number; parts: Uint8Array[] }>();
  for (let i = 0; i < frames.length; i++) {
    if (errorAt !== undefined && i === errorAt) break;
    const f = frames[i]!;
    if (f.type === 'packet') {
      scenario.expected.push({ id: f.body.id, payload: f.body.data });
      continue;
    }
    const st = progress.get(f.body.id) ?? { len: 0, parts: [] };
    st.parts.push(f.body.data);
    st.len += f.body.data.length;
    progress.set(f.body.id, st);
    if (f.body.last) {
      scenario.expected.push({ id: f.body.id, payload: Buffer.concat(st.parts) });
      progress.delete(f.body.id);
    }
  }
  if (errorAt !== undefined && code !== undefined) scenario.error = { at: errorAt, code };
  return scenario;
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

export function offlineProperties(): OfflineProperty[] {
  return [
    {
      name: 'wireframe: decode(encode(x)) = x, re-encode byte-stable, bytes = neutral writer',
      rules: ['CBOR-1', 'CBOR-2', 'CBOR-3', 'CBOR-5', 'MSG-1'],
      numRuns: 300,
      build: () =>
        fc.property(wireFrameArb, (frame) => {
          const bytes = encodeWireFrame(frame);
          // independent oracle: the neutral writer emits serde's layout from the model's field order
          if (!bytesEqual(bytes, neutralEncode(frame))) throw new Error('encoder differs from the neutral serde-layout writer');
          const back = decodeWireFrame(bytes);
          if (!modelEqual(back, frame)) throw new Error('decode(encode(x)) != x');
          if (!bytesEqual(encodeWireFrame(back), bytes)) throw new Error('re-encode is not byte-stable');
        }),
    },
    {
      name: 'rpc payload: decode(encode(x)) = x, re-encode byte-stable, bytes = neutral writer',
      rules: ['CBOR-1', 'CBOR-4', 'MSG-1', 'MSG-2', 'MSG-3'],
      numRuns: 300,
      build: () =>
        fc.property(rpcPayloadArb, (payload) => {
          const bytes = encodeRpcPayload(payload);
          if (!bytesEqual(bytes, neutralEncode(payload))) throw new Error('encoder differs from the neutral serde-layout writer');
          const back = decodeRpcPayload(bytes);
          if (!modelEqual(back, payload)) throw new Error('decode(encode(x)) != x');
          if (!bytesEqual(encodeRpcPayload(back), bytes)) throw new Error('re-encode is not byte-stable');
        }),
    },
    {
      name: 'tolerated re-encodings decode to the same value',
      rules: ['CBOR-10', 'CBOR-11', 'FWD-1', 'MSG-2'],
      numRuns: 300,
      build: () =>
        fc.property(
          fc.oneof(wireFrameArb.map((v) => ({ frame: true, v })), rpcPayloadArb.map((v) => ({ frame: false, v }))),
          seedArb,
          ({ frame, v: value }, seed) => {
          const variant = writeCbor(tolerantVariant(modelToTree(value), createRng(seed)));
          const back = frame ? decodeWireFrame(variant) : decodeRpcPayload(variant);
          if (!modelEqual(back, value)) throw new Error('a tolerated variant decoded to a different value');
          },
        ),
    },
    {
      name: 'arbitrary bytes: decoders only throw ProtocolError',
      rules: ['CBOR-6', 'CBOR-8', 'MSG-1'],
      numRuns: 1000,
      build: () =>
        fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
          for (const decode of [decodeWireFrame, decodeRpcPayload]) {
            const r = onlyProtocolErrors(() => decode(bytes));
            // anything that decodes must be a valid model value: it re-encodes
            if (r.ok) onlyProtocolErrors(() => (decode === decodeWireFrame ? encodeWireFrame(r.value as WireFrame) : encodeRpcPayload(r.value as never)));
          }
        }),
    },
    {
      name: 'mutated messages (bytes and structure): only ProtocolError, decoded values re-encode',
      rules: ['CBOR-6', 'CBOR-7', 'CBOR-8', 'CBOR-9', 'CBOR-12', 'MSG-1'],
      numRuns: 600,
      build: () =>
        fc.property(fc.oneof(wireFrameArb, rpcPayloadArb), seedArb, fc.boolean(), (value, seed, structural) => {
          const rng = createRng(seed);
          const bytes = structural ? writeCbor(mutateTree(modelToTree(value), rng).tree) : mutateBytes(neutralEncode(value), rng);
          for (const [decode, encode] of [
            [decodeWireFrame, encodeWireFrame],
            [decodeRpcPayload, encodeRpcPayload],
          ] as const) {
            const r = onlyProtocolErrors(() => decode(bytes));
            if (r.ok) {
              const again = (encode as (v: unknown) => Uint8Array)(r.value);
              if (!modelEqual((decode as (b: Uint8Array) => unknown)(again), r.value)) throw new Error('a decoded mutant does not round-trip');
            }
          }
        }),
    },
    {
      name: 'huge declared lengths: refused fast, heap growth bounded',
      rules: ['CBOR-8', 'FRM-6'],
      numRuns: 60,
      build: () =>
        fc.property(
          fc.constantFrom(2, 3, 4, 5),
          fc.constantFrom(0xffff_ffffn, 100_000_000n, (1n << 63n) - 1n, 1n << 40n, 2_000_000n),
          fc.oneof(wireFrameArb, rpcPayloadArb),
          seedArb,
          (major, claimed, value, seed) => {
            // the lying head replaces one item of a real message (so it is parsed as a head, not
            // swallowed as string content), followed by a few random bytes
            const rng = createRng(seed);
            const head = new Uint8Array(9);
            head[0] = (major << 5) | 27;
            for (let i = 0; i < 8; i++) head[8 - i] = Number((claimed >> BigInt(i * 8)) & 0xffn);
            const raw = Buffer.concat([head, rng.bytes(rng.int(0, 64))]);
            const input = writeCbor(replaceRandomNode(modelToTree(value), rng, { k: 'raw', bytes: raw }));
            const before = getHeapStatistics().used_heap_size;
            const t0 = performance.now();
            for (const decode of [decodeWireFrame, decodeRpcPayload]) {
              const r = onlyProtocolErrors(() => decode(input));
              if (r.ok) throw new Error('a lying length head was accepted');
            }
            const ms = performance.now() - t0;
            const grewBytes = getHeapStatistics().used_heap_size - before;
            if (ms > 250) throw new Error(`refusing a ${input.length}-byte input took ${ms.toFixed(0)} ms`);
            // a decoder that allocates per claimed item/byte grows by ≥ 100 MB here
            if (grewBytes > 48 * 1024 * 1024) throw new Error(`heap grew ${grewBytes} bytes for a ${input.length}-byte input`);
          },
        ),
    },
    {
      name: 'frame decoder: huge length prefix buffers only what arrived',
      rules: ['FRM-3', 'FRM-6'],
      numRuns: 60,
      build: () =>
        fc.property(fc.integer({ min: 1, max: PRE_HANDSHAKE_MAX_FRAME_BYTES }), fc.integer({ min: 0, max: 512 }), (claimed, sent) => {
          const dec = new FrameDecoder({ maxFrameBytes: PRE_HANDSHAKE_MAX_FRAME_BYTES });
          const prefix = new Uint8Array(4);
          new DataView(prefix.buffer).setUint32(0, claimed, true);
          const before = getHeapStatistics().used_heap_size;
          const out = dec.push(Buffer.concat([prefix, new Uint8Array(Math.min(sent, claimed - 1))]));
          if (out.length !== 0) throw new Error('an incomplete frame was returned');
          if (dec.bufferedBytes > 4 + sent) throw new Error(`buffered ${dec.bufferedBytes} bytes after receiving ${4 + sent}`);
          const grew = getHeapStatistics().used_heap_size - before;
          if (grew > 16 * 1024 * 1024) throw new Error(`heap grew ${grew} bytes for ${4 + sent} received bytes`);
          const r = onlyProtocolErrors(() => dec.end());
          if (r.ok || r.code !== ErrorCodes.FRAME_TRUNCATED) throw new Error('end() with a partial frame must throw FRAME_TRUNCATED');
        }),
    },
    {
      name: 'frame decoder: random splits yield exactly the frames; over-limit prefix refused',
      rules: ['FRM-1', 'FRM-2', 'FRM-3'],
      numRuns: 300,
      build: () =>
        fc.property(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
          fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 10 }),
          fc.integer({ min: 1, max: 400 }),
          (bodies, cuts, maxFrameBytes) => {
            const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
            const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
            const dec = new FrameDecoder({ maxFrameBytes });
            const got: Uint8Array[] = [];
            let prev = 0;
            const firstBad = bodies.findIndex((b) => b.length > maxFrameBytes);
            let error: ErrorCode | undefined;
            for (const p of [...points, stream.length]) {
              const r = onlyProtocolErrors(() => dec.push(stream.subarray(prev, p)));
              prev = p;
              if (!r.ok) {
                error = r.code;
                break;
              }
              got.push(...r.value);
            }
            if (firstBad >= 0) {
              if (error !== ErrorCodes.FRAME_TOO_LARGE) throw new Error('a frame over maxFrameBytes was not refused with FRAME_TOO_LARGE');
              // frames decoded earlier in the same push may be lost with the throw: a prefix is fine
              const before = bodies.slice(0, firstBad);
              if (got.length > before.length || !modelEqual(got, before.slice(0, got.length))) throw new Error('frames before the oversized one differ');
            } else {
              if (error !== undefined) throw new Error(`unexpected ${error}`);
              if (!modelEqual(got, bodies)) throw new Error('reassembled frames differ from the originals');
              dec.end();
            }
          },
        ),
    },
    {
      name: 'preflight and cbor-x agree on well-formed CBOR',
      rules: ['CBOR-7', 'CBOR-8', 'CBOR-10'],
      numRuns: 400,
      build: () =>
        fc.property(tolerableCborArb(), fc.uint8Array({ maxLength: 48 }), seedArb, (item, garbage, seed) => {
          const limits = { maxMessageBytes: HARD_MAX_MESSAGE_BYTES, maxPacketBytes: HARD_MAX_MESSAGE_BYTES };
          const bytes = writeCbor(item);
          // (1) neutral, in-tolerance CBOR: the preflight accepts it
          const r = onlyProtocolErrors(() => preflight(bytes, limits));
          if (!r.ok) throw new Error(`preflight refused well-formed in-tolerance CBOR (${r.code})`);
          // (2) whatever the preflight accepts without asking for the slow path, cbor-x decodes
          for (const candidate of [bytes, garbage, mutateBytes(bytes, createRng(seed))]) {
            const p = onlyProtocolErrors(() => preflight(candidate, limits));
            if (p.ok && (p.value & SLOW_PATH_FLAGS) === 0) {
              try {
                // the codec's own fast-path cbor-x decoder (only src/wire/cbor.ts imports cbor-x)
                decodeFastPathUnchecked(candidate);
              } catch (e) {
                throw new Error(`preflight accepted input that cbor-x cannot decode: ${(e as Error).message}`);
              }
            }
            // (3) and the codec's generic decoder (fast or careful path) builds a value for it
            if (p.ok) {
              const d = onlyProtocolErrors(() => decodeCbor(candidate, limits));
              // by design the UTF-8 of indefinite-length text is checked on the joined chunks, later
              const utf8Later = d.ok === false && d.code === ErrorCodes.CBOR_INVALID_UTF8 && (p.value & PreflightFlags.INDEFINITE_STRING) !== 0;
              if (!d.ok && !utf8Later) throw new Error(`preflight accepted input that decodeCbor refuses (${d.code})`);
            }
          }
        }),
    },
    {
      name: 'reassembler: random splits and interleavings give exactly the packets, violations the specified error',
      rules: ['CHK-2', 'CHK-3', 'CHK-4', 'CHK-5', 'CHK-7', 'CHK-8'],
      numRuns: 300,
      build: () =>
        fc.property(seedArb, fc.constantFrom(...VIOLATIONS), (seed, violation) => {
          const sc = reassemblyScenario(seed, violation);
          // zstd is negotiated so that a compression CHANGE, not an unsupported one, is what trips
          const re = new Reassembler({ maxPacketBytes: sc.maxPacketBytes, compression: ['none', 'zstd'], chunking: sc.chunking });
          const got: Array<{ id: bigint; payload: Uint8Array }> = [];
          for (let i = 0; i < sc.frames.length; i++) {
            const r = onlyProtocolErrors(() => re.accept(sc.frames[i]!));
            if (!r.ok) {
              if (!sc.error) throw new Error(`unexpected ${r.code} at frame ${i}`);
              if (i !== sc.error.at || r.code !== sc.error.code) throw new Error(`got ${r.code} at frame ${i}, expected ${sc.error.code} at ${sc.error.at}`);
              if (!modelEqual(got, sc.expected)) throw new Error('completions before the violation differ');
              return;
            }
            if (r.value) got.push({ id: r.value.id, payload: r.value.payload });
          }
          if (sc.error) throw new Error(`expected ${sc.error.code} at frame ${sc.error.at}, got none`);
          if (!modelEqual(got, sc.expected)) throw new Error('reassembled packets differ from the originals');
          if (re.openStreams !== 0 || re.bufferedBytes !== 0) throw new Error('state left behind after all packets completed');
        }),
    },
    {
      name: 'chunk sender: every frame fits max_frame_len and reassembles to the payload',
      rules: ['FRM-5', 'CHK-1', 'CHK-9', 'CMP-5'],
      numRuns: 150,
      build: () =>
        fc.property(
          fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
          fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 20_000 }).map((n) => new Uint8Array(n))),
          fc.integer({ min: 80, max: 2048 }),
          fc.boolean(),
          (id, payload, maxFrameBytes, useZstd) => {
            const compression: CompressionAlgo[] = useZstd && zstdAvailable() ? ['zstd', 'none'] : ['none'];
            const opts = { maxFrameBytes, maxPacketBytes: 1 << 20, compression, chunking: true };
            const bodies = encodePacketFrames(id, payload, opts);
            const re = new Reassembler({ maxPacketBytes: opts.maxPacketBytes, compression, chunking: true });
            let done: { id: bigint; payload: Uint8Array } | null = null;
            bodies.forEach((b, i) => {
              if (b.length > maxFrameBytes) throw new Error(`frame ${i} is ${b.length} bytes > max_frame_len ${maxFrameBytes}`);
              const f = decodeWireFrame(b);
              if (f.type !== 'packet' && f.type !== 'packet_chunk') throw new Error('sender produced a non-packet frame');
              if (f.body.id !== id) throw new Error('frame id differs');
              if (done) throw new Error('frames after the packet completed');
              done = re.accept(f);
            });
            if (!done || !modelEqual((done as { payload: Uint8Array }).payload, payload)) throw new Error('reassembled payload differs');
          },
        ),
    },
    {
      name: 'negotiation never chooses more than both sides offered',
      rules: ['NEG-1', 'NEG-2', 'NEG-3', 'VER-1', 'HS-4', 'HS-10'],
      numRuns: 500,
      build: () =>
        fc.property(workerHelloArb, capabilitiesArb, supportedVersionsArb, fc.boolean(), (hello, routerCaps, routerVersions, zstd) => {
          const own = sanitizeCapabilities(routerCaps, { zstdAvailable: zstd });
          if (own.max_frame_len === 0 || own.max_packet_len === 0) {
            // [LIM-1] zero own limits are a local configuration error, refused before any negotiation
            const r = onlyProtocolErrors(() => checkOwnCapabilities(own));
            if (r.ok || r.code !== ErrorCodes.HANDSHAKE_FAILED) throw new Error('zero own limits not refused with HANDSHAKE_FAILED');
            return;
          }
          const out = negotiateHello(hello, { supportedVersions: routerVersions, capabilities: own });
          const w = hello.capabilities;
          const version = chooseCommonVersion(routerVersions, hello.supported_versions);
          const common = own.supported_compression.filter((a) => a !== 'unknown' && w.supported_compression.includes(a));
          // the outcome is decided by the checks in order [HS-4]
          const expectReject =
            w.max_frame_len === 0 || w.max_packet_len === 0 ? 'invalid_request' : version === null ? 'unsupported_version' : common.length === 0 ? 'invalid_request' : null;
          if (expectReject) {
            if (out.kind !== 'reject' || out.reject.code !== expectReject) throw new Error(`expected Reject ${expectReject}`);
            return;
          }
          if (out.kind !== 'welcome') throw new Error('expected a Welcome');
          const c = out.welcome.chosen_capabilities;
          if (c.max_frame_len > w.max_frame_len || c.max_frame_len > own.max_frame_len) throw new Error('max_frame_len above an offer');
          if (c.max_packet_len > w.max_packet_len || c.max_packet_len > own.max_packet_len) throw new Error('max_packet_len above an offer');
          if (c.supports_cancel && !(w.supports_cancel && own.supports_cancel)) throw new Error('cancel not offered by both');
          if (c.supports_chunking && !(w.supports_chunking && own.supports_chunking)) throw new Error('chunking not offered by both');
          if (c.supported_compression.some((a) => a === 'unknown' || !w.supported_compression.includes(a) || !own.supported_compression.includes(a)))
            throw new Error('compression not offered by both');
          const ch = out.welcome.chosen_version;
          if (!versionInRange(ch, hello.supported_versions) && compareVersions(hello.supported_versions.min, hello.supported_versions.max) <= 0)
            throw new Error('chosen version outside the worker range');
          if (!versionInRange(ch, routerVersions) && compareVersions(routerVersions.min, routerVersions.max) <= 0)
            throw new Error('chosen version outside the router range');
          if (out.welcome.shard_id !== hello.shard_id) throw new Error('shard_id not echoed');
          // the worker-side check agrees with the router-side choice
          if (compareVersions(hello.supported_versions.min, hello.supported_versions.max) <= 0) checkWelcome(hello, out.welcome);
        }),
    },
    {
      name: 'sanitized own offer: no unknown, none present, order kept',
      rules: ['NEG-5'],
      numRuns: 300,
      build: () =>
        fc.property(compressionListArb, fc.boolean(), (list, zstd) => {
          const caps = { max_frame_len: 1, max_packet_len: 1, supported_compression: list, supports_cancel: true, supports_chunking: true };
          const s = sanitizeCapabilities(caps, { zstdAvailable: zstd }).supported_compression;
          if (!s.includes('none')) throw new Error('none missing');
          if (s.includes('unknown') || (!zstd && s.includes('zstd'))) throw new Error('unsupported algorithm kept');
          const kept = list.filter((a) => a === 'none' || (a === 'zstd' && zstd));
          if (!modelEqual(s.slice(0, kept.length), kept)) throw new Error('order not kept');
        }),
    },
    {
      name: 'request id allocator never collides, never 0, keeps parity (also across the u64 wrap)',
      rules: ['ID-1', 'ID-2'],
      numRuns: 200,
      build: () =>
        fc.property(
          fc.constantFrom('router' as const, 'worker' as const),
          fc.oneof(fc.constant(undefined), fc.bigInt({ min: (1n << 64n) - 200n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 1n, max: (1n << 64n) - 1n })),
          fc.integer({ min: 1, max: 400 }),
          (role, start, count) => {
            const parity = role === 'router' ? 0n : 1n;
            const first = start === undefined ? undefined : start - ((start - parity) % 2n + 2n) % 2n;
            const alloc = first === undefined || first <= 0n ? new RequestIdAllocator(role) : new RequestIdAllocator(role, first);
            const seen = new Set<bigint>();
            for (let i = 0; i < count; i++) {
              const id = alloc.next();
              if (id === 0n) throw new Error('allocated id 0');
              if (id % 2n !== parity) throw new Error('wrong parity');
              if (id >= 1n << 64n) throw new Error('id beyond u64');
              if (seen.has(id)) throw new Error(`id ${id} allocated twice`);
              seen.add(id);
            }
          },
        ),
    },
  ];
}
