/**
 * Role-neutral RECEIVE-side faults of the reference peers: a table of `{ suffix, rule, trigger,
 * description, behaviour }`. Each one exists for both roles (`router-<suffix>`, `worker-<suffix>`)
 * and is carried out by the receive shim (receive-shim.ts), which sits between the socket and the
 * engine, parses the incoming byte stream with its own deliberately broken logic and then
 * forwards canonical frames to the engine, drops frames (the peer IGNORES what it should refuse),
 * closes the connection (the peer REFUSES what it should accept) or rewrites them.
 *
 * Every behaviour touches only the input its rule is about; everything else passes unchanged,
 * so the correct engine still enforces every other rule.
 *
 * @module
 */
import type { FaultHooks } from '../engine/connection.js';
import { HARD_MAX_MESSAGE_BYTES, MAX_CONCURRENT_REASSEMBLIES } from '../limits.js';
import { decodeRpcPayload, decodeWireFrame, encodeRpcPayload, encodeWireFrame, zstdDecompressBounded } from '../wire/index.js';
import { decodeLenientUnchecked, encodeLenientUnchecked } from '../wire/cbor.js';
import { PROTOCOL_FIELD_NAMES } from '../wire/preflight.js';
import type { Capabilities, CompressionAlgo, RpcPayload, WireFrame } from '../wire/model.js';
import type { FaultRole, FaultSpec, FaultTrigger } from './faults.js';

/** What the shim gives a behaviour, per connection. */
export interface ShimContext {
  readonly role: FaultRole;
  /** The full fault name (for logs). */
  readonly fault: string;
  /** The engine's fault hooks for this connection (chain, do not replace, existing ones). */
  readonly hooks: FaultHooks;
  /** The negotiated capabilities once the Welcome went by (either direction), else null. */
  caps(): Capabilities | null;
  /** Negotiated max_packet_len, or the 64 MiB hard cap before the handshake. */
  maxPacketBytes(): number;
  /** Write a frame straight to the peer (bypassing the engine). */
  sendBack(frame: WireFrame): void;
  /** Log that the fault acted (`fault_injected`). */
  injected(fields?: Record<string, string | number | boolean | null>): void;
}

/** Forward these bodies (unprefixed; `[]` drops the frame), or close the connection. */
export type Verdict = Uint8Array[] | 'close';

export interface ReceiveBehaviour {
  /** An incoming frame body; `first` = the handshake frame. `undefined` = not concerned (pass). */
  onFrame?(body: Uint8Array, first: boolean): Verdict | undefined;
  /** A decoded outgoing post-handshake frame (observation only). */
  onOutgoing?(frame: WireFrame): void;
}

/** How the fault changes the shim's own frame parser (default: correct parsing). */
export interface ParserFault {
  /** [FRM-2] skip zero-length frames instead of handing them to the engine (which closes). */
  skipZeroLength?: boolean;
  /** [FRM-3] refuse a frame whose length EQUALS the limit (checks >= instead of >). */
  limitOffByOne?: boolean;
  /** [FRM-4] read a first frame up to the hard cap instead of 1 MiB. */
  oversizeFirstFrame?: boolean;
  /** [FRM-7] wait for the body of a frame above the 64 MiB hard cap. */
  noHardCap?: boolean;
  /** [FRM-1] one frame per socket read: split or batched frames are lost. */
  oneFramePerRead?: boolean;
  /**
   * [FRM-8] "flush the parser on EOF": when the stream ends inside a frame body, the buffered body
   * bytes are handed on as a frame, and the write side stays open long enough to answer.
   */
  flushOnEnd?: boolean;
  /** [FRM-8] when the stream ends inside a frame, neither process nor close: the connection stays half-open. */
  stayOpenOnTruncatedEnd?: boolean;
}

export interface ReceiveFaultDef {
  readonly suffix: string;
  readonly rule: string;
  readonly trigger: FaultTrigger;
  readonly description: string;
  /** The roles the fault exists for (only where a conformance case needs it). Default both. */
  readonly roles?: readonly FaultRole[];
  readonly parser?: ParserFault;
  readonly hooks?: (hooks: FaultHooks) => void;
  readonly create?: (ctx: ShimContext) => ReceiveBehaviour;
}

// ---------------------------------------------------------------------------- decoding helpers

type Obj = Record<string, unknown>;

/** The first CBOR item of `bytes` decoded leniently (no preflight, trailing bytes ignored), or undefined. */
export const laxDecode = decodeLenientUnchecked;
const laxEncode = encodeLenientUnchecked;

function strictFrame(body: Uint8Array): WireFrame | undefined {
  try {
    return decodeWireFrame(body);
  } catch {
    return undefined;
  }
}

function strictPayload(data: Uint8Array): RpcPayload | undefined {
  try {
    return decodeRpcPayload(data);
  } catch {
    return undefined;
  }
}

/** Lenient bytes → the canonical encoding of the frame / payload they mean, if strict decoding accepts them. */
function canonicalFrame(bytes: Uint8Array | undefined): Uint8Array | undefined {
  const f = bytes && strictFrame(bytes);
  return f ? encodeWireFrame(f) : undefined;
}
function canonicalPayload(bytes: Uint8Array | undefined): Uint8Array | undefined {
  const p = bytes && strictPayload(bytes);
  return p ? encodeRpcPayload(p) : undefined;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** The payload of an uncompressed, unchunked Packet, if it decodes. */
function plainPayload(f: WireFrame | undefined): { id: bigint; payload: RpcPayload } | undefined {
  if (f?.type !== 'packet' || f.body.compression !== 'none') return undefined;
  const payload = strictPayload(f.body.data);
  return payload ? { id: f.body.id, payload } : undefined;
}

function packet(id: bigint, data: Uint8Array, compression: CompressionAlgo = 'none'): Uint8Array {
  return encodeWireFrame({ type: 'packet', body: { id, compression, data } });
}

function toBig(x: unknown): bigint {
  if (typeof x === 'bigint') return x;
  if (typeof x === 'number' && Number.isFinite(x)) return BigInt(Math.trunc(x));
  if (typeof x === 'boolean') return x ? 1n : 0n;
  if (typeof x === 'string' && /^-?\d+$/.test(x)) return BigInt(x);
  return 0n;
}
const u32 = (x: unknown): number => Number(BigInt.asUintN(32, toBig(x)));
const u64 = (x: unknown): bigint => BigInt.asUintN(64, toBig(x));
const str = (x: unknown, maxChars = 1024): string | null => (typeof x === 'string' ? x.slice(0, maxChars) : x instanceof Uint8Array ? Buffer.from(x).toString('utf8').slice(0, maxChars) : null);
const bool = (x: unknown): boolean => Boolean(x);

function laxVersion(v: unknown): { major: number; minor: number } {
  const o = isObj(v) ? v : {};
  return { major: u32(o.major), minor: u32(o.minor) };
}

function laxCaps(v: unknown): Capabilities {
  const o = isObj(v) ? v : {};
  const list = Array.isArray(o.supported_compression) ? o.supported_compression : [];
  return {
    max_frame_len: u32(o.max_frame_len),
    max_packet_len: u32(o.max_packet_len),
    supported_compression: list.map((c) => (c === 'zstd' || c === 'none' ? c : 'unknown')),
    supports_cancel: bool(o.supports_cancel),
    supports_chunking: bool(o.supports_chunking),
  };
}

/**
 * A weakly typed reading of a handshake frame: integers wrap to their width, anything truthy is
 * true, over-long strings are cut, missing or mistyped optional parts become null.
 */
function laxHandshakeFrame(v: unknown): WireFrame | undefined {
  if (!isObj(v) || typeof v.type !== 'string') return undefined;
  const b = isObj(v.body) ? v.body : {};
  switch (v.type) {
    case 'hello': {
      const sv = isObj(b.supported_versions) ? b.supported_versions : {};
      return {
        type: 'hello',
        body: {
          shard_id: u32(b.shard_id),
          auth_token: str(b.auth_token),
          supported_versions: { min: laxVersion(sv.min), max: laxVersion(sv.max) },
          capabilities: laxCaps(b.capabilities),
          cached_index_info: null,
          worker_build: str(b.worker_build),
        },
      };
    }
    case 'welcome':
      return {
        type: 'welcome',
        body: { worker_id: u32(b.worker_id), shard_id: u32(b.shard_id), revision: u64(b.revision), chosen_version: laxVersion(b.chosen_version), chosen_capabilities: laxCaps(b.chosen_capabilities) },
      };
    case 'reject':
      return { type: 'reject', body: { code: 'unknown', message: str(b.message) ?? '' } };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------- the strict scanner

/** What a strict (canonical-only) decoder refuses [CBOR-10]. */
interface StrictScan {
  lenient: string | null;
}

/** Walk one CBOR item; report the first lenient encoding (tag, indefinite length, non-minimal head, body before type, unit body null). */
function scanStrict(bytes: Uint8Array): string | null {
  let pos = 0;
  const out: StrictScan = { lenient: null };
  const head = (): { major: number; ai: number; val: bigint } => {
    const ib = bytes[pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    let val = BigInt(ai);
    const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (ai > 27 && ai !== 31) throw new Error('reserved');
    if (n > 0) {
      val = 0n;
      for (let i = 0; i < n; i++) val = (val << 8n) | BigInt(bytes[pos++]!);
      const min = n === 1 ? 24n : n === 2 ? 0x100n : n === 4 ? 0x10000n : 0x100000000n;
      if (major !== 7 && val < min && out.lenient === null) out.lenient = 'non-minimal integer or length';
    }
    if (ai === 31 && major !== 7 && out.lenient === null) out.lenient = 'indefinite length';
    return { major, ai, val };
  };
  const item = (): unknown => {
    if (pos >= bytes.length) throw new Error('truncated');
    const { major, ai, val } = head();
    switch (major) {
      case 0:
      case 1:
        return val;
      case 2:
      case 3: {
        if (ai === 31) {
          const parts: Uint8Array[] = [];
          while (bytes[pos] !== 0xff) parts.push(item() as Uint8Array);
          pos++;
          return major === 3 ? Buffer.concat(parts).toString('utf8') : Buffer.concat(parts);
        }
        const s = bytes.subarray(pos, pos + Number(val));
        pos += Number(val);
        return major === 3 ? Buffer.from(s).toString('utf8') : s;
      }
      case 4: {
        const arr: unknown[] = [];
        if (ai === 31) {
          while (bytes[pos] !== 0xff) arr.push(item());
          pos++;
        } else for (let i = 0n; i < val; i++) arr.push(item());
        return arr;
      }
      case 5: {
        const keys: unknown[] = [];
        const vals: unknown[] = [];
        const more = ai === 31 ? () => bytes[pos] !== 0xff : (() => { let left = Number(val); return () => left-- > 0; })();
        while (more()) {
          keys.push(item());
          vals.push(item());
        }
        if (ai === 31) pos++;
        const ti = keys.indexOf('type');
        const bi = keys.indexOf('body');
        if (out.lenient === null && ti >= 0 && bi >= 0) {
          if (bi < ti) out.lenient = 'body before type';
          else if (vals[bi] === null) out.lenient = 'unit variant with body null';
        }
        return Object.fromEntries(keys.map((k, i) => [String(k), vals[i]]));
      }
      case 6:
        if (out.lenient === null) out.lenient = 'tag';
        return item();
      default:
        return ai === 20 ? false : ai === 21 ? true : null;
    }
  };
  try {
    item();
  } catch {
    return null; // not our business: the engine refuses what is not well formed
  }
  return out.lenient;
}

/** Every field name of the protocol (shared with the preflight). */
const PROTOCOL_KEYS = PROTOCOL_FIELD_NAMES;

function unknownKey(v: unknown, depth = 0): string | null {
  if (depth > 64) return null;
  if (Array.isArray(v)) {
    for (const x of v) {
      const k = unknownKey(x, depth + 1);
      if (k !== null) return k;
    }
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (!PROTOCOL_KEYS.has(k)) return k;
      const inner = unknownKey(x, depth + 1);
      if (inner !== null) return inner;
    }
  }
  return null;
}

/** Round u64 values through a double, like a decoder that keeps integers as JS numbers. */
function truncateU64(v: unknown): { value: unknown; changed: boolean } {
  let changed = false;
  const walk = (x: unknown): unknown => {
    if (typeof x === 'bigint') {
      const t = BigInt(Number(x));
      if (t !== x) changed = true;
      return t;
    }
    if (Array.isArray(x)) return x.map(walk);
    if (isObj(x)) return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y)]));
    return x;
  };
  const value = walk(v);
  return { value, changed };
}

/** Lower-case every variant name (`type` values) in a decoded tree. */
function lowerTypes(v: unknown): { value: unknown; changed: boolean } {
  let changed = false;
  const walk = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(walk);
    if (isObj(x)) {
      return Object.fromEntries(
        Object.entries(x).map(([k, y]) => {
          if (k === 'type' && typeof y === 'string' && y !== y.toLowerCase()) {
            changed = true;
            return [k, y.toLowerCase()];
          }
          return [k, walk(y)];
        }),
      );
    }
    return x;
  };
  return { value: walk(v), changed };
}

// ---------------------------------------------------------------------------- chunk streams

/** A reassembly of PacketChunks done by the shim itself (no stream limit). */
function ownReassembly(ctx: ShimContext, onComplete: (id: bigint, compression: CompressionAlgo, data: Uint8Array) => Verdict): ReceiveBehaviour {
  const streams = new Map<bigint, { compression: CompressionAlgo; parts: Uint8Array[] }>();
  return {
    onFrame(body, first) {
      if (first) return undefined;
      const f = strictFrame(body);
      if (f?.type !== 'packet_chunk') return undefined;
      const s = streams.get(f.body.id) ?? { compression: f.body.compression, parts: [] };
      s.parts.push(f.body.data);
      streams.set(f.body.id, s);
      if (streams.size > MAX_CONCURRENT_REASSEMBLIES) ctx.injected({ streams: streams.size });
      if (!f.body.last) return [];
      streams.delete(f.body.id);
      return onComplete(f.body.id, s.compression, Buffer.concat(s.parts));
    },
  };
}

// ---------------------------------------------------------------------------- the table

function dropIf(ctx: ShimContext, cond: boolean, fields?: Record<string, string | number | boolean | null>): Verdict | undefined {
  if (!cond) return undefined;
  ctx.injected(fields);
  return [];
}

function closeIf(ctx: ShimContext, cond: boolean, fields?: Record<string, string | number | boolean | null>): Verdict | undefined {
  if (!cond) return undefined;
  ctx.injected(fields);
  return 'close';
}

/** The incoming packet or chunk, decoded strictly; undefined for anything else or the handshake frame. */
function dataFrame(body: Uint8Array, first: boolean): Extract<WireFrame, { type: 'packet' | 'packet_chunk' }> | undefined {
  if (first) return undefined;
  const f = strictFrame(body);
  return f?.type === 'packet' || f?.type === 'packet_chunk' ? f : undefined;
}

export const RECEIVE_FAULT_DEFS: readonly ReceiveFaultDef[] = [
  // --- the decoder ---
  {
    suffix: 'lax-decoder',
    rule: 'CBOR-6',
    trigger: 'on-input',
    description:
      'decodes frames and payloads with a lenient general-purpose CBOR decoder (no preflight): trailing bytes, duplicate keys, deep nesting, long or non-text keys, over-cap strings, mistyped or out-of-range fields are taken as they come (weakly typed); what still makes no sense is skipped instead of closing',
    create: (ctx) => ({
      onFrame(body, first) {
        const strict = strictFrame(body);
        if (strict) {
          if (strict.type !== 'packet' || strict.body.compression !== 'none' || first) return undefined;
          if (strictPayload(strict.body.data)) return undefined;
          const v = laxDecode(strict.body.data);
          const again = canonicalPayload(v === undefined ? undefined : laxEncode(v));
          ctx.injected({ what: 'payload' });
          return again ? [packet(strict.body.id, again)] : [];
        }
        const v = laxDecode(body);
        ctx.injected({ what: first ? 'handshake frame' : 'frame' });
        if (first) {
          const f = laxHandshakeFrame(v);
          return f ? [encodeWireFrame(f)] : [];
        }
        const again = canonicalFrame(v === undefined ? undefined : laxEncode(v));
        return again ? [again] : [];
      },
    }),
  },
  {
    suffix: 'strict-decoder',
    rule: 'CBOR-10',
    trigger: 'on-input',
    description: 'accepts only canonical CBOR: closes on indefinite lengths, tags, non-minimal integers, body before type, a unit variant with body null, and a Hello without its optional keys',
    create: (ctx) => ({
      onFrame(body, first) {
        const why = scanStrict(body);
        if (why !== null) return closeIf(ctx, true, { why });
        if (first && ctx.role === 'router') {
          const v = laxDecode(body);
          const b = isObj(v) && isObj(v.body) ? v.body : undefined;
          if (b && (!('cached_index_info' in b) || !('worker_build' in b))) return closeIf(ctx, true, { why: 'missing optional keys' });
        }
        const f = first ? undefined : strictFrame(body);
        if (f?.type === 'packet' && f.body.compression === 'none') {
          const inner = scanStrict(f.body.data);
          if (inner !== null) return closeIf(ctx, true, { why: inner });
        }
        return undefined;
      },
    }),
  },
  {
    suffix: 'rejects-unknown-keys',
    rule: 'FWD-1',
    trigger: 'on-input',
    description: 'closes on a map key that is not a protocol field name (frame, handshake or payload)',
    create: (ctx) => ({
      onFrame(body, first) {
        const k = unknownKey(laxDecode(body));
        if (k !== null) return closeIf(ctx, true, { where: 'frame' });
        const f = first ? undefined : strictFrame(body);
        if (f?.type === 'packet' && f.body.compression === 'none' && unknownKey(laxDecode(f.body.data)) !== null) return closeIf(ctx, true, { where: 'payload' });
        return undefined;
      },
    }),
  },
  {
    suffix: 'truncates-u64',
    rule: 'MSG-4',
    trigger: 'on-input',
    description: 'keeps integers as doubles: u64 values above 2^53 lose precision (2^64-1 becomes 2^64 and no longer fits, so the frame is refused)',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = strictFrame(body);
        if (!f) return undefined;
        if (first || f.type === 'hello' || f.type === 'welcome') {
          const t = truncateU64(f);
          if (!t.changed) return undefined;
          ctx.injected({ where: 'handshake' });
          try {
            return [encodeWireFrame(t.value as WireFrame)];
          } catch {
            return 'close';
          }
        }
        const p = plainPayload(f);
        if (!p) return undefined;
        const t = truncateU64(p.payload);
        if (!t.changed) return undefined;
        ctx.injected({ where: 'payload' });
        try {
          return [packet(p.id, encodeRpcPayload(t.value as RpcPayload))];
        } catch {
          return 'close';
        }
      },
    }),
  },
  {
    suffix: 'case-insensitive-variants',
    rule: 'FWD-4',
    trigger: 'on-input',
    description: 'matches variant names ignoring case ("Packet" is taken as a packet)',
    create: (ctx) => ({
      onFrame(body, first) {
        if (first) return undefined;
        const l = lowerTypes(laxDecode(body));
        if (!l.changed) return undefined;
        const again = canonicalFrame(laxEncode(l.value));
        if (!again) return undefined;
        ctx.injected();
        return [again];
      },
    }),
  },
  // --- framing ---
  { suffix: 'accepts-zero-length-frame', rule: 'FRM-2', trigger: 'on-input', description: 'skips zero-length frames instead of closing', parser: { skipZeroLength: true } },
  { suffix: 'frame-limit-off-by-one', rule: 'FRM-3', trigger: 'on-input', description: 'refuses a frame whose length equals the frame limit (checks >= instead of >), before and after the handshake', parser: { limitOffByOne: true } },
  { suffix: 'accepts-oversize-first-frame', rule: 'FRM-4', trigger: 'on-input', description: 'reads a first frame (Hello / Welcome) above 1 MiB, up to the 64 MiB hard cap', parser: { oversizeFirstFrame: true } },
  { suffix: 'no-hard-cap', rule: 'FRM-7', trigger: 'on-input', description: 'waits for the body of a frame above 64 MiB (then discards it) instead of closing at the prefix', parser: { noHardCap: true } },
  {
    suffix: 'processes-truncated-frame',
    rule: 'FRM-8',
    trigger: 'on-input',
    description: 'when the stream ends inside a frame body, decodes and serves the body bytes it buffered (a parser flushed on EOF), answering before it closes',
    parser: { flushOnEnd: true },
  },
  {
    suffix: 'stays-open-after-truncated-frame',
    rule: 'FRM-8',
    trigger: 'on-input',
    description: 'when the stream ends inside a frame, discards the partial frame but never closes the connection (its write side stays open)',
    parser: { stayOpenOnTruncatedEnd: true },
  },
  { suffix: 'one-frame-per-read', rule: 'FRM-1', trigger: 'on-input', description: 'assumes one whole frame per socket read: split frames and the frames after the first of a batched read are lost', parser: { oneFramePerRead: true } },
  {
    suffix: 'ignores-undecodable-frame',
    rule: 'DATA-5',
    trigger: 'on-input',
    description: 'skips a frame, or a packet payload, that does not decode instead of closing',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = strictFrame(body);
        if (!f) return dropIf(ctx, true, { what: first ? 'handshake frame' : 'frame' });
        if (f.type === 'packet' && f.body.compression === 'none' && !first) return dropIf(ctx, strictPayload(f.body.data) === undefined, { what: 'payload' });
        return undefined;
      },
    }),
  },
  // --- the data plane ---
  {
    suffix: 'accepts-oversize-packet',
    rule: 'DATA-4',
    trigger: 'on-input',
    description: 'serves a Packet whose data exceeds max_packet_len (its first CBOR item is taken as the payload)',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = dataFrame(body, first);
        if (f?.type !== 'packet' || f.body.data.length <= ctx.maxPacketBytes()) return undefined;
        ctx.injected({ bytes: f.body.data.length });
        const v = f.body.compression === 'none' ? laxDecode(f.body.data) : undefined;
        const again = canonicalPayload(v === undefined ? undefined : laxEncode(v));
        return again && again.length <= ctx.maxPacketBytes() ? [packet(f.body.id, again)] : [];
      },
    }),
  },
  {
    suffix: 'closes-on-unknown-response',
    rule: 'DATA-3',
    trigger: 'on-input',
    description: 'closes on a Response for an id that is not in flight',
    create: (ctx) => {
      const inFlight = new Set<bigint>();
      return {
        onOutgoing(frame) {
          if (frame.type === 'packet_chunk' && frame.body.seq === 0) inFlight.add(frame.body.id);
          if (frame.type !== 'packet') return;
          const p = frame.body.compression === 'none' ? strictPayload(frame.body.data) : undefined;
          if (!p || p.type === 'request') inFlight.add(frame.body.id);
        },
        onFrame(body, first) {
          const p = first ? undefined : plainPayload(strictFrame(body));
          if (p?.payload.type !== 'response') return undefined;
          if (inFlight.delete(p.id)) return undefined;
          return closeIf(ctx, true);
        },
      };
    },
  },
  {
    suffix: 'accepts-second-hello',
    rule: 'HS-7',
    trigger: 'on-input',
    description: 'ignores a Hello / Welcome / Reject after the handshake instead of closing',
    create: (ctx) => ({
      onFrame(body, first) {
        if (first) return undefined;
        const f = strictFrame(body);
        return dropIf(ctx, f?.type === 'hello' || f?.type === 'welcome' || f?.type === 'reject', { type: f?.type ?? null });
      },
    }),
  },
  {
    suffix: 'answers-notifications',
    rule: 'DATA-17',
    trigger: 'on-input',
    description: 'answers a notification with an ok ack response for its id',
    create: (ctx) => ({
      onFrame(body, first) {
        const p = first ? undefined : plainPayload(strictFrame(body));
        if (p?.payload.type !== 'notification') return undefined;
        ctx.injected();
        ctx.sendBack({ type: 'packet', body: { id: p.id, compression: 'none', data: encodeRpcPayload({ type: 'response', body: { status: 'ok', value: { type: 'ack' } } }) } });
        return undefined;
      },
    }),
  },
  // --- chunking ---
  {
    suffix: 'rejects-chunks',
    rule: 'CHK-8',
    trigger: 'on-input',
    description: 'closes on any PacketChunk although chunking was negotiated',
    create: (ctx) => ({ onFrame: (body, first) => closeIf(ctx, dataFrame(body, first)?.type === 'packet_chunk') }),
  },
  {
    suffix: 'accepts-chunk-seq-gap',
    rule: 'CHK-3',
    trigger: 'on-input',
    description: 'reassembles chunks whatever their seq (renumbers them 0, 1, 2 … in arrival order)',
    create: (ctx) => {
      const next = new Map<bigint, number>();
      return {
        onFrame(body, first) {
          const f = dataFrame(body, first);
          if (f?.type !== 'packet_chunk') return undefined;
          const want = next.get(f.body.id) ?? 0;
          if (f.body.last) next.delete(f.body.id);
          else next.set(f.body.id, want + 1);
          if (f.body.seq === want) return undefined;
          ctx.injected({ seq: f.body.seq, expected: want });
          return [encodeWireFrame({ type: 'packet_chunk', body: { ...f.body, seq: want } })];
        },
      };
    },
  },
  {
    suffix: 'accepts-chunk-compression-change',
    rule: 'CHK-4',
    trigger: 'on-input',
    description: 'takes the compression of the first chunk for the whole stream (a change inside a stream goes unnoticed)',
    create: (ctx) => {
      const first = new Map<bigint, CompressionAlgo>();
      return {
        onFrame(body, isFirst) {
          const f = dataFrame(body, isFirst);
          if (f?.type !== 'packet_chunk') return undefined;
          const c = first.get(f.body.id) ?? f.body.compression;
          if (f.body.last) first.delete(f.body.id);
          else first.set(f.body.id, c);
          if (c === f.body.compression) return undefined;
          ctx.injected();
          return [encodeWireFrame({ type: 'packet_chunk', body: { ...f.body, compression: c } })];
        },
      };
    },
  },
  {
    suffix: 'max-31-streams',
    rule: 'CHK-5',
    trigger: 'on-input',
    description: 'closes when a 32nd concurrent chunk stream opens (off by one)',
    create: (ctx) => {
      const open = new Set<bigint>();
      return {
        onFrame(body, first) {
          const f = dataFrame(body, first);
          if (f?.type !== 'packet_chunk') return undefined;
          if (!open.has(f.body.id) && !f.body.last && open.size >= MAX_CONCURRENT_REASSEMBLIES - 1) return closeIf(ctx, true, { streams: open.size + 1 });
          if (f.body.last) open.delete(f.body.id);
          else open.add(f.body.id);
          return undefined;
        },
      };
    },
  },
  {
    suffix: 'accepts-33-streams',
    rule: 'CHK-5',
    trigger: 'on-input',
    description: 'reassembles any number of concurrent chunk streams (no 32-stream limit)',
    hooks: (h) => {
      h.receiveFrameLimitBytes = HARD_MAX_MESSAGE_BYTES; // reassembled packets go on as one frame
    },
    create: (ctx) => ownReassembly(ctx, (id, compression, data) => [packet(id, data, compression)]),
  },
  {
    suffix: 'accepts-oversize-reassembly',
    rule: 'CHK-7',
    trigger: 'on-input',
    description: 'does not close when chunks add up to more than max_packet_len (the oversized packet is discarded)',
    hooks: (h) => {
      h.receiveFrameLimitBytes = HARD_MAX_MESSAGE_BYTES;
    },
    create: (ctx) =>
      ownReassembly(ctx, (id, compression, data) => {
        if (data.length <= ctx.maxPacketBytes()) return [packet(id, data, compression)];
        ctx.injected({ bytes: data.length });
        return [];
      }),
  },
  {
    suffix: 'rejects-empty-chunks',
    rule: 'CHK-11',
    trigger: 'on-input',
    description: 'closes on a PacketChunk with empty data',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = dataFrame(body, first);
        return closeIf(ctx, f?.type === 'packet_chunk' && f.body.data.length === 0);
      },
    }),
  },
  // --- compression ---
  {
    suffix: 'rejects-zstd',
    rule: 'NEG-4',
    trigger: 'on-input',
    description: 'closes on a zstd packet although zstd was negotiated',
    create: (ctx) => ({ onFrame: (body, first) => closeIf(ctx, dataFrame(body, first)?.body.compression === 'zstd') }),
  },
  {
    suffix: 'rejects-unnegotiated-none',
    rule: 'CMP-3',
    trigger: 'on-input',
    description: 'closes on compression none when the negotiated list does not name none',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = dataFrame(body, first);
        const caps = ctx.caps();
        return closeIf(ctx, f?.body.compression === 'none' && caps !== null && !caps.supported_compression.includes('none'));
      },
    }),
  },
  {
    suffix: 'accepts-unnegotiated-compression',
    rule: 'CMP-2',
    trigger: 'on-input',
    description: 'serves packets with an unnegotiated (zstd) or unknown compression: zstd is decompressed, an unknown algorithm is read as uncompressed',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = dataFrame(body, first);
        const caps = ctx.caps();
        if (f?.type !== 'packet' || f.body.compression === 'none' || caps === null || caps.supported_compression.includes(f.body.compression)) return undefined;
        ctx.injected({ compression: f.body.compression });
        if (f.body.compression !== 'zstd') return [packet(f.body.id, f.body.data)];
        try {
          return [packet(f.body.id, zstdDecompressBounded(f.body.data, ctx.maxPacketBytes()))];
        } catch {
          return 'close';
        }
      },
    }),
  },
  {
    suffix: 'ignores-malformed-zstd',
    rule: 'CMP-6',
    trigger: 'on-input',
    description: 'skips a zstd packet whose data does not decompress instead of closing',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = dataFrame(body, first);
        if (f?.type !== 'packet' || f.body.compression !== 'zstd') return undefined;
        try {
          zstdDecompressBounded(f.body.data, ctx.maxPacketBytes());
          return undefined;
        } catch {
          return dropIf(ctx, true);
        }
      },
    }),
  },
  {
    suffix: 'ignores-zstd-checksum',
    rule: 'CMP-7',
    trigger: 'on-input',
    description: 'does not verify zstd content checksums (strips the checksum before decompressing)',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = dataFrame(body, first);
        if (f?.type !== 'packet' || f.body.compression !== 'zstd') return undefined;
        const d = f.body.data;
        // Single zstd frame: magic 28 b5 2f fd, then the Frame_Header_Descriptor; bit 2 = Content_Checksum_flag.
        if (d.length < 9 || d[0] !== 0x28 || d[1] !== 0xb5 || d[2] !== 0x2f || d[3] !== 0xfd || (d[4]! & 0x04) === 0) return undefined;
        const stripped = new Uint8Array(d.subarray(0, d.length - 4));
        stripped[4] = stripped[4]! & ~0x04;
        ctx.injected();
        return [packet(f.body.id, stripped, 'zstd')];
      },
    }),
  },
  {
    suffix: 'accepts-huge-zstd-window',
    rule: 'CMP-8',
    trigger: 'on-input',
    description: 'decompresses and serves a zstd frame whatever window it declares (no 128 MiB window limit)',
    create: (ctx) => ({
      onFrame(body, first) {
        const f = dataFrame(body, first);
        if (f?.type !== 'packet' || f.body.compression !== 'zstd') return undefined;
        const d = f.body.data;
        // Magic, then the Frame_Header_Descriptor; Single_Segment_flag (bit 5) clear -> byte 5 is the Window_Descriptor.
        if (d.length < 6 || d[0] !== 0x28 || d[1] !== 0xb5 || d[2] !== 0x2f || d[3] !== 0xfd || (d[4]! & 0x20) !== 0) return undefined;
        const exponent = d[5]! >> 3;
        if (exponent < 17 || (exponent === 17 && (d[5]! & 0x07) === 0)) return undefined; // window <= 2^27
        // Stand-in for allocating the declared window: declare exactly 128 MiB (exponent 17) and decompress.
        const lowered = new Uint8Array(d);
        lowered[5] = 17 << 3;
        try {
          const data = zstdDecompressBounded(lowered, ctx.maxPacketBytes());
          ctx.injected({ window_exponent: exponent });
          return [packet(f.body.id, data)];
        } catch {
          return undefined;
        }
      },
    }),
  },
  // --- cancellation ---
  {
    suffix: 'closes-on-unknown-cancel',
    rule: 'CAN-4',
    trigger: 'on-input',
    description: 'closes on a Cancel for an id it never received a request with',
    create: (ctx) => {
      const seen = new Set<bigint>();
      return {
        onFrame(body, first) {
          const f = dataFrame(body, first);
          if (!f) return undefined;
          const p = plainPayload(f);
          if (!p) {
            seen.add(f.body.id); // chunked / compressed: treat as a request
            return undefined;
          }
          if (p.payload.type === 'request') seen.add(p.id);
          return closeIf(ctx, p.payload.type === 'cancel' && !seen.has(p.id));
        },
      };
    },
  },
  {
    suffix: 'honours-unnegotiated-cancel',
    rule: 'CAN-2',
    trigger: 'on-input',
    description: 'acts on a Cancel although cancel was not negotiated: the cancelled request is abandoned (its response is never sent)',
    create: (ctx) => {
      const cancelled = new Set<bigint>();
      const prev = ctx.hooks.mutateOutgoingFrame;
      ctx.hooks.mutateOutgoingFrame = (f) => {
        const r = prev ? prev(f) : f;
        const keep = (x: WireFrame): boolean => {
          if ((x.type !== 'packet' && x.type !== 'packet_chunk') || !cancelled.has(x.body.id)) return true;
          if (x.type === 'packet_chunk' ? !x.body.last : false) return false;
          cancelled.delete(x.body.id);
          ctx.injected({ dropped: 'response' });
          return false;
        };
        if (r === null) return null;
        const list = (Array.isArray(r) ? r : [r]).filter(keep);
        return list.length === 0 ? null : list;
      };
      return {
        onFrame(body, first) {
          const p = first ? undefined : plainPayload(strictFrame(body));
          const caps = ctx.caps();
          if (p?.payload.type === 'cancel' && caps !== null && !caps.supports_cancel) cancelled.add(p.id);
          return undefined;
        },
      };
    },
  },
];

const DEFS_BY_SUFFIX: ReadonlyMap<string, ReceiveFaultDef> = new Map(RECEIVE_FAULT_DEFS.map((d) => [d.suffix, d]));

/** The active receive-fault definitions for `role` among `faults`. */
export function activeReceiveFaults(faults: ReadonlySet<string>, role: FaultRole): ReceiveFaultDef[] {
  return [...faults]
    .filter((f) => f.startsWith(`${role}-`))
    .flatMap((f) => DEFS_BY_SUFFIX.get(f.slice(role.length + 1)) ?? [])
    .filter((d) => (d.roles ?? ['router', 'worker']).includes(role));
}

/** Catalogue entries (both roles), spread into FAULTS by faults.ts. */
export const RECEIVE_FAULTS: readonly FaultSpec[] = RECEIVE_FAULT_DEFS.flatMap((d) =>
  (d.roles ?? (['router', 'worker'] as const)).map((role) => ({ name: `${role}-${d.suffix}`, role, rule: d.rule, trigger: d.trigger, description: d.description })),
);
