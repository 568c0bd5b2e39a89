/**
 * Case generation for the network fuzzer: valid handshakes and sessions, with structure-aware
 * mutations (fields, frames, chunks, compression) and byte-level ones. Every decision comes from
 * the case's seeded {@link Rng}, so a seed gives the same frames (given the same handshake answer).
 *
 * @module
 */
import fc from 'fast-check';
import type { Capabilities, CompressionAlgo, Request, RouterWelcome, RpcPayload, WireFrame, WorkerHello } from '../../src/wire/model.js';
import { decodeWireFrame, encodePacketFrames, encodeRpcPayload, encodeWireFrame, zstdAvailable, zstdCompress } from '../../src/wire/index.js';
import { negotiateHello, sanitizeCapabilities } from '../../src/engine/negotiation.js';
import { fileTextArb, handshakeRejectArb, rpcPayloadArb, serviceableRequestArb, shardIndexArb, workerHelloArb } from '../arbitraries.js';
import { modelToTree, writeCbor, type CborItem } from '../../conformance/cbor.js';
import { mutateBytes, mutateTree } from '../mutate.js';
import type { Rng } from '../rng.js';
import { stepBytes, type FuzzStep, type TargetRole } from './model.js';

/** Deterministic sample of a fast-check arbitrary from our PRNG. */
export function sampleOf<T>(arb: fc.Arbitrary<T>, rng: Rng): T {
  return fc.sample(arb, { seed: rng.u32() | 0, numRuns: 1 })[0] as T;
}

/** Names of the session-level actions (recorded in step notes). */
export const HOSTILE_ACTIONS = [
  'oversize-frame',
  'lying-prefix',
  'zero-length-frame',
  'garbage-frame',
  'wrong-parity',
  'id-zero',
  'zstd-bomb',
  'unnegotiated-compression',
  'bad-zstd',
  'chunk-seq-gap',
  'chunk-compression-change',
  'chunks-without-negotiation',
  'too-many-streams',
  'chunked-too-large',
  'packet-too-large',
  'handshake-frame-again',
  'unknown-variant-with-body',
  'frame-tree-mutation',
  'payload-tree-mutation',
  'frame-byte-mutation',
  'stream-byte-mutation',
] as const;
export type HostileAction = (typeof HOSTILE_ACTIONS)[number];

export interface SessionContext {
  role: TargetRole;
  caps: Capabilities;
  shardId: number;
  rng: Rng;
  /** Hostile actions to use (default all); lets a user focus a campaign. */
  actions?: readonly HostileAction[];
}

/** The parity of request ids the target accepts (router target: odd, worker target: even). */
export function targetParity(role: TargetRole): bigint {
  return role === 'router' ? 1n : 0n;
}

/** Our capability offer / router config: positive, at most 1 MiB, so oversize cases stay cheap. */
export function randomOwnCaps(rng: Rng): Capabilities {
  const zstd = zstdAvailable();
  return {
    max_frame_len: rng.pick([512, 1024, 4096, 65_536, 1 << 20]),
    max_packet_len: rng.pick([1024, 8192, 65_536, 1 << 20]),
    supported_compression: rng.pick<CompressionAlgo[]>(zstd ? [['none'], ['zstd', 'none'], ['zstd', 'none'], ['none', 'zstd']] : [['none']]),
    supports_cancel: rng.chance(0.7),
    supports_chunking: rng.chance(0.7),
  };
}

/** A sane Hello for a router target (versions include 3.0, positive limits). */
export function saneHello(rng: Rng, shardId: number, authToken: string | null): WorkerHello {
  return {
    shard_id: shardId,
    auth_token: authToken,
    supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: rng.pick([0, 0, 1, 7]) } },
    capabilities: randomOwnCaps(rng),
    cached_index_info: null,
    worker_build: rng.chance(0.5) ? null : rng.pick(['fuzz', 'nova-fuzz/1 ✓', '']),
  };
}

/** A handshake step with an optional hostile mutation (probability `p`). */
function maybeMutateHandshake(frame: WireFrame, rng: Rng, p: number): FuzzStep {
  const body = encodeWireFrame(frame);
  if (!rng.chance(p)) return { kind: 'frame', body, note: frame.type };
  const r = rng.below(10);
  if (r < 5) {
    const { tree, mutation } = mutateTree(modelToTree(frame), rng);
    return { kind: 'frame', body: writeCbor(tree), note: `${frame.type} tree:${mutation}` };
  }
  if (r < 8) return { kind: 'frame', body: mutateBytes(body, rng), note: `${frame.type} bytes` };
  if (r < 9) {
    // a different (random, often invalid) handshake
    const other = sampleOf(workerHelloArb, rng);
    return { kind: 'frame', body: encodeWireFrame({ type: 'hello', body: other }), note: 'random hello' };
  }
  return { kind: 'frame', body: new Uint8Array(0), note: 'empty handshake frame' };
}

/** Router target: step 0, our Hello. */
export function helloStep(rng: Rng, shardId: number, authToken: string | null, mutateProbability = 0.15): { hello: WorkerHello; step: FuzzStep } {
  const hello = saneHello(rng, shardId, authToken);
  if (rng.chance(0.03)) hello.capabilities.max_frame_len = 0; // [HS-4] must be rejected invalid_request
  return { hello, step: maybeMutateHandshake({ type: 'hello', body: hello }, rng, mutateProbability) };
}

/** Worker target: step 0, our Welcome to the worker's Hello (what a conforming router would choose). */
export function welcomeStep(rng: Rng, workerHello: WorkerHello, mutateProbability = 0.1): { welcome: RouterWelcome | null; step: FuzzStep } {
  const own = sanitizeCapabilities(randomOwnCaps(rng), { zstdAvailable: zstdAvailable() });
  const out = negotiateHello(workerHello, {
    supportedVersions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
    capabilities: own,
    workerId: rng.int(1, 1000),
    revision: BigInt(rng.int(0, 5)),
  });
  if (out.kind === 'reject') return { welcome: null, step: { kind: 'frame', body: encodeWireFrame({ type: 'reject', body: out.reject }), note: 'reject' } };
  return { welcome: out.welcome, step: maybeMutateHandshake({ type: 'welcome', body: out.welcome }, rng, mutateProbability) };
}

function frameStep(frame: WireFrame, note: string): FuzzStep {
  return { kind: 'frame', body: encodeWireFrame(frame), note };
}

function packetOpts(caps: Capabilities): { maxFrameBytes: number; maxPacketBytes: number; compression: CompressionAlgo[]; chunking: boolean } {
  return { maxFrameBytes: caps.max_frame_len, maxPacketBytes: caps.max_packet_len, compression: caps.supported_compression, chunking: caps.supports_chunking };
}

/** Encode a payload as a conforming sender would; null when it cannot be sent under `caps`. */
function sendable(id: bigint, payload: RpcPayload, caps: Capabilities, note: string): FuzzStep[] | null {
  try {
    return encodePacketFrames(id, encodeRpcPayload(payload), packetOpts(caps)).map((body) => ({ kind: 'frame' as const, body, note }));
  } catch {
    return null;
  }
}

/** Raw packet frame with exactly the given fields (no compression applied by us). */
function packet(id: bigint, compression: CompressionAlgo, data: Uint8Array, note: string): FuzzStep {
  return frameStep({ type: 'packet', body: { id, compression, data } }, note);
}

function chunk(id: bigint, compression: CompressionAlgo, seq: number, last: boolean, data: Uint8Array, note: string): FuzzStep {
  return frameStep({ type: 'packet_chunk', body: { id, compression, seq, last, data } }, note);
}

function splitInto(data: Uint8Array, parts: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const size = Math.max(1, Math.ceil(data.length / parts));
  for (let off = 0; off < data.length; off += size) out.push(data.subarray(off, off + size));
  while (out.length < parts) out.push(new Uint8Array(0));
  return out;
}

/** Generates the post-handshake steps of one case. */
export class SessionGenerator {
  private nextId: bigint;
  private readonly parity: bigint;
  private readonly usedIds: bigint[] = [];

  constructor(private readonly ctx: SessionContext) {
    this.parity = targetParity(ctx.role);
    const rng = ctx.rng;
    // start from a boundary now and then (2^32, 2^53, near 2^64)
    const base = rng.pick([1n, 1n, 1n, 1n << 32n, 1n << 53n, (1n << 64n) - 64n]);
    this.nextId = base - (base % 2n) + this.parity;
    if (this.nextId === 0n) this.nextId = 2n;
  }

  /** A fresh request id with the parity the target accepts. */
  freshId(): bigint {
    const id = this.nextId;
    this.nextId += 2n;
    if (this.nextId >= 1n << 64n) this.nextId = this.parity === 0n ? 2n : 1n;
    this.usedIds.push(id);
    return id;
  }

  private request(): Request {
    const { rng } = this.ctx;
    const r = sampleOf(serviceableRequestArb, rng);
    if (rng.chance(0.1)) return { type: 'unknown' };
    return r;
  }

  /** One valid message (it must not close the connection). */
  validMessage(): FuzzStep[] {
    const { rng, caps } = this.ctx;
    for (let attempt = 0; attempt < 5; attempt++) {
      const k = rng.below(12);
      let steps: FuzzStep[] | null = null;
      if (k < 5) steps = sendable(this.freshId(), { type: 'request', body: this.request() }, caps, 'request');
      else if (k === 5) {
        // a big request: exercises chunking and compression (when negotiated)
        const file = sampleOf(fileTextArb, rng);
        const size = Math.min(caps.max_packet_len - 256, rng.pick([caps.max_frame_len + 100, 2 * caps.max_frame_len, 3000]));
        if (size > 0) {
          file.text = rng.chance(0.5) ? 'a'.repeat(size) : Buffer.from(rng.bytes(Math.floor(size / 2))).toString('hex');
          steps = sendable(this.freshId(), { type: 'request', body: { type: 'update_file', revision: 1n, file } }, caps, 'big request');
        }
      } else if (k === 6) {
        // DATA-6: unknown variants with body absent / null must be ignored
        const variant = rng.below(3);
        if (variant === 0) {
          const entries: Array<[CborItem, CborItem]> = [[{ k: 'text', v: 'type' }, { k: 'text', v: rng.pick(['unknown', 'future_frame']) }]];
          if (rng.chance(0.5)) entries.push([{ k: 'text', v: 'body' }, { k: 'simple', v: 22 }]);
          steps = [{ kind: 'frame', body: writeCbor({ k: 'map', entries }), note: 'unknown wire frame' }];
        }
        else if (variant === 1) steps = sendable(this.freshIdNoTrack(), { type: 'unknown' }, caps, 'unknown payload');
        else steps = sendable(this.freshIdNoTrack(), { type: 'notification', body: { type: 'unknown' } }, caps, 'unknown notification');
      } else if (k === 7) {
        const index = sampleOf(shardIndexArb, rng);
        index.shard_id = this.ctx.shardId;
        steps = sendable(this.freshIdNoTrack(), { type: 'notification', body: { type: 'cached_index', body: index } }, caps, 'cached index');
      } else if (k === 8) {
        // cancel for one of our requests, or for an id never used [CAN-4]
        const id = this.usedIds.length && rng.chance(0.7) ? rng.pick(this.usedIds) : this.freshIdNoTrack();
        steps = sendable(id, { type: 'cancel' }, caps, 'cancel');
      } else if (k === 9) {
        // a response for an id the target never used [DATA-3]
        const p = sampleOf(rpcPayloadArb.filter((x) => x.type === 'response'), rng);
        steps = sendable(this.freshIdNoTrack() + 1n, p, caps, 'stray response');
      } else if (k === 10) {
        // now and then a Shutdown [DATA-8] (it ends the session)
        const shutdown = rng.chance(0.15);
        steps = sendable(this.freshId(), { type: 'request', body: { type: shutdown ? 'shutdown' : 'get_worker_stats' } }, caps, shutdown ? 'shutdown' : 'request');
      } else {
        steps = [{ kind: 'frame', body: encodeWireFrame({ type: 'unknown' }), note: 'unknown wire frame' }];
      }
      if (steps) return steps;
    }
    return [];
  }

  /** An id not recorded as a request (for notifications, cancels, stray responses). */
  private freshIdNoTrack(): bigint {
    const id = this.nextId;
    this.nextId += 2n;
    if (this.nextId >= 1n << 64n) this.nextId = this.parity === 0n ? 2n : 1n;
    return id;
  }

  /** One hostile action; the model decides what it means. */
  hostile(action: HostileAction): FuzzStep[] {
    const { rng, caps } = this.ctx;
    const reqPayload = (): Uint8Array => encodeRpcPayload({ type: 'request', body: { type: 'get_worker_stats' } });
    const note = action;
    switch (action) {
      case 'oversize-frame': {
        // [FRM-3] a frame one byte (or more) over the negotiated max_frame_len
        if (caps.max_frame_len > 2 << 20) return this.hostile('lying-prefix');
        const id = this.freshId();
        const body = encodeWireFrame({ type: 'packet', body: { id, compression: 'none', data: new Uint8Array(caps.max_frame_len) } });
        const over = rng.pick([1, 1, 2, 100]);
        // trim the data so the body is exactly max_frame_len + over (when possible)
        const excess = body.length - (caps.max_frame_len + over);
        const data = new Uint8Array(Math.max(0, caps.max_frame_len - excess));
        return [frameStep({ type: 'packet', body: { id, compression: 'none', data } }, note)];
      }
      case 'lying-prefix': {
        const claimed = rng.pick([caps.max_frame_len + 1, 0x7fff_ffff, 0xffff_ffff, Math.min(0xffff_ffff, caps.max_frame_len * 2)]);
        const b = new Uint8Array(4 + 16);
        new DataView(b.buffer).setUint32(0, claimed >>> 0, true);
        b.set(rng.bytes(16), 4);
        return [{ kind: 'raw', bytes: b, note }];
      }
      case 'zero-length-frame':
        return [{ kind: 'raw', bytes: new Uint8Array(4), note }];
      case 'garbage-frame':
        return [{ kind: 'frame', body: rng.chance(0.5) ? new Uint8Array(16).fill(0xff) : rng.bytes(rng.int(1, 40)), note }];
      case 'wrong-parity': {
        const id = this.freshId() + 1n; // the other parity
        return sendable(id, { type: 'request', body: this.request() }, caps, note) ?? [packet(id, 'none', reqPayload(), note)];
      }
      case 'id-zero':
        return rng.chance(0.7) ? [packet(0n, 'none', reqPayload(), note)] : [chunk(0n, 'none', 0, true, reqPayload(), note)];
      case 'zstd-bomb': {
        // without zstd negotiated this is just an unnegotiated compression: say so
        if (!zstdAvailable() || !caps.supported_compression.includes('zstd')) return this.hostile('unnegotiated-compression');
        if (caps.max_packet_len > 4 << 20) return this.hostile('lying-prefix'); // keep cases cheap
        // zeros compress ~1000x: decompressed size over max_packet_len, compressed frame well under max_frame_len
        const inner = encodeRpcPayload({ type: 'request', body: { type: 'update_file', revision: 1n, file: { path: 'bomb', text: '\u0000'.repeat(caps.max_packet_len + rng.int(1, 70_000)) } } });
        const data = zstdCompress(inner);
        if (data.length + 64 > caps.max_frame_len) return this.hostile('packet-too-large');
        return [packet(this.freshId(), 'zstd', data, note)];
      }
      case 'unnegotiated-compression': {
        const algo: CompressionAlgo = caps.supported_compression.includes('zstd') || rng.chance(0.5) ? 'unknown' : 'zstd';
        const data = algo === 'zstd' && zstdAvailable() ? zstdCompress(reqPayload()) : reqPayload();
        return [packet(this.freshId(), algo, data, note)];
      }
      case 'bad-zstd':
        return [packet(this.freshId(), 'zstd', rng.chance(0.5) ? rng.bytes(rng.int(0, 32)) : Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, ...rng.bytes(12)]), note)];
      case 'chunk-seq-gap':
      case 'chunk-compression-change':
      case 'chunks-without-negotiation': {
        const id = this.freshId();
        const parts = splitInto(reqPayload(), 3);
        const comp2: CompressionAlgo = action === 'chunk-compression-change' ? (caps.supported_compression.includes('zstd') ? 'zstd' : 'unknown') : 'none';
        return [
          chunk(id, 'none', 0, false, parts[0]!, note),
          chunk(id, comp2, action === 'chunk-seq-gap' ? 2 : 1, false, parts[1]!, note),
          chunk(id, comp2, action === 'chunk-seq-gap' ? 3 : 2, true, parts[2]!, note),
        ];
      }
      case 'too-many-streams': {
        // [CHK-5] 33 concurrent reassemblies
        const out: FuzzStep[] = [];
        for (let i = 0; i < 33; i++) out.push(chunk(this.freshIdNoTrack(), 'none', 0, false, new Uint8Array([0xa1]), note));
        return out;
      }
      case 'chunked-too-large': {
        // [CHK-7] the reassembled packet exceeds max_packet_len
        const id = this.freshIdNoTrack();
        const per = Math.max(1, Math.min(caps.max_frame_len - 64, caps.max_packet_len));
        const out: FuzzStep[] = [];
        let total = 0;
        for (let seq = 0; total <= caps.max_packet_len && out.length < 5000; seq++) {
          const n = Math.min(per, caps.max_packet_len + 1 - total);
          total += n;
          out.push(chunk(id, 'none', seq, total > caps.max_packet_len, new Uint8Array(n), note));
        }
        return out;
      }
      case 'packet-too-large': {
        // [DATA-4] data one byte over max_packet_len (the frame may then be oversized too)
        if (caps.max_packet_len > 2 << 20) return this.hostile('lying-prefix');
        return [packet(this.freshIdNoTrack(), 'none', new Uint8Array(caps.max_packet_len + 1), note)];
      }
      case 'handshake-frame-again': {
        const k = rng.below(3);
        if (k === 0) return [frameStep({ type: 'hello', body: sampleOf(workerHelloArb, rng) }, note)];
        if (k === 1) return [frameStep({ type: 'reject', body: sampleOf(handshakeRejectArb, rng) }, note)];
        return [frameStep({ type: 'welcome', body: { worker_id: 1, shard_id: this.ctx.shardId, revision: 0n, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: caps } }, note)];
      }
      case 'unknown-variant-with-body': {
        const body: CborItem = { k: 'map', entries: [[{ k: 'text', v: 'x' }, { k: 'uint', v: 1n }]] };
        if (rng.chance(0.5)) {
          return [{ kind: 'frame', body: writeCbor({ k: 'map', entries: [[{ k: 'text', v: 'type' }, { k: 'text', v: 'future_frame' }], [{ k: 'text', v: 'body' }, body]] }), note }];
        }
        const inner = writeCbor({ k: 'map', entries: [[{ k: 'text', v: 'type' }, { k: 'text', v: 'future_payload' }], [{ k: 'text', v: 'body' }, body]] });
        return [packet(this.freshIdNoTrack(), 'none', inner, note)];
      }
      case 'frame-tree-mutation': {
        const steps = this.validMessage();
        const i = steps.findIndex((s) => s.kind === 'frame');
        if (i < 0) return steps;
        const frame = steps[i] as Extract<FuzzStep, { kind: 'frame' }>;
        const { tree: mutated, mutation } = mutateTree(cborTreeOfFrame(frame.body), rng);
        steps[i] = { kind: 'frame', body: writeCbor(mutated), note: `${note}:${mutation}` };
        return steps;
      }
      case 'payload-tree-mutation': {
        const payload: RpcPayload = rng.chance(0.7) ? { type: 'request', body: this.request() } : sampleOf(rpcPayloadArb, rng);
        const { tree, mutation } = mutateTree(modelToTree(payload), rng);
        const inner = writeCbor(tree);
        if (inner.length > caps.max_packet_len || inner.length + 64 > caps.max_frame_len) return this.hostile('garbage-frame');
        return [packet(this.freshId(), 'none', inner, `${note}:${mutation}`)];
      }
      case 'frame-byte-mutation': {
        const steps = this.validMessage();
        const i = steps.findIndex((s) => s.kind === 'frame');
        if (i < 0) return steps;
        const frame = steps[i] as Extract<FuzzStep, { kind: 'frame' }>;
        steps[i] = { kind: 'frame', body: mutateBytes(frame.body, rng), note };
        return steps;
      }
      case 'stream-byte-mutation': {
        const steps = this.validMessage();
        if (steps.length === 0) return steps;
        const i = rng.below(steps.length);
        const s = steps[i]!;
        const bytes = stepBytes(s);
        steps[i] = { kind: 'raw', bytes: mutateBytes(bytes, rng, 2), note };
        return steps;
      }
    }
  }

  /** The whole post-handshake session: a few valid messages with 0–2 hostile actions mixed in. */
  session(): FuzzStep[] {
    const { rng } = this.ctx;
    const actions = this.ctx.actions ?? HOSTILE_ACTIONS;
    const steps: FuzzStep[] = [];
    const nValid = rng.int(0, 4);
    const nHostile = actions.length === 0 ? 0 : rng.chance(0.25) ? 0 : rng.chance(0.8) ? 1 : 2;
    const slots: Array<'v' | 'h'> = [...Array<'v'>(nValid).fill('v'), ...Array<'h'>(nHostile).fill('h')];
    for (let i = slots.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [slots[i], slots[j]] = [slots[j]!, slots[i]!];
    }
    for (const s of slots) steps.push(...(s === 'v' ? this.validMessage() : this.hostile(rng.pick(actions))));
    return steps;
  }
}

/**
 * The item tree of an encoded frame body, rebuilt from its decoded value (bodies we generate
 * always decode), so tree mutations apply to exactly what would have been sent.
 */
function cborTreeOfFrame(body: Uint8Array): ReturnType<typeof modelToTree> {
  return modelToTree(decodeForTree(body));
}

function decodeForTree(body: Uint8Array): unknown {
  try {
    return decodeWireFrame(body);
  } catch {
    return { type: 'unknown' };
  }
}
