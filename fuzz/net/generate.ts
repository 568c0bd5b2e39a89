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
import { PRE_HANDSHAKE_MAX_FRAME_BYTES } from '../../src/limits.js';
import { fileTextArb, handshakeRejectArb, rpcPayloadArb, serviceableRequestArb, shardIndexArb, workerHelloArb } from '../arbitraries.js';
import { framed, modelToTree, writeCbor, type CborItem } from '../../conformance/cbor.js';
import { mutateBytes, mutateTree } from '../mutate.js';
import type { Rng } from '../rng.js';
import { EOF_NOTE, isEofStep, stepBytes, type FuzzStep, type TargetRole } from './model.js';

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
  'truncated-frame',
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
    supported_compression: rng.pick<CompressionAlgo[]>(zstd ? [['none'], ['zstd', 'none'], ['zstd', 'none'], ['none', 'zstd'], ['zstd']] : [['none']]),
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

/**
 * Rule-breaking Hello mutations (router targets). Each breaks one negotiation check of [HS-4]
 * (limits, auth, version, compression, admission); a case combines 1–3 of them, so the oracle
 * must know which Reject the FIRST failing check gives. `silent` / `stall-mid-frame` never
 * complete the Hello: the router must close within its handshake timeout [HS-6].
 */
export const HANDSHAKE_MUTATIONS = [
  'token-absent',
  'token-wrong',
  'token-truncated',
  'token-case-changed',
  'token-extra-byte',
  'shard-unknown',
  'shard-busy',
  'version-mismatch',
  'no-common-compression',
  'zero-limit',
  'not-hello',
  'silent',
  'stall-mid-frame',
  'oversize-first-frame',
] as const;
export type HandshakeMutation = (typeof HANDSHAKE_MUTATIONS)[number];

/** How the Hello's auth_token relates to the configured one (recorded in notes as `token:<variant>`). */
export type TokenVariant = 'exact' | 'absent' | 'wrong' | 'truncated' | 'case-changed' | 'extra-byte' | 'unexpected';

function swapCase(s: string): string {
  return [...s].map((ch) => (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase())).join('');
}

/**
 * The auth_token for a variant. Derived variants (truncated, case-changed, extra-byte) come from
 * the real token, so they are as secret as it is: regression files and logs redact them
 * (see regression.ts `redactSteps`). `wrong` and `unexpected` are random and unrelated.
 */
export function tokenFor(variant: TokenVariant, token: string | null, rng: Rng): string | null {
  const random = (): string => {
    let t: string;
    do t = Buffer.from(rng.bytes(rng.int(4, 24))).toString('hex');
    while (t === token);
    return t;
  };
  if (variant === 'absent') return null;
  if (token === null) return variant === 'exact' ? null : random(); // no token configured: any token is "unexpected" [SEC-7]
  switch (variant) {
    case 'exact':
      return token;
    case 'wrong':
    case 'unexpected':
      return random();
    case 'truncated':
      return token.slice(0, -1);
    case 'case-changed': {
      const swapped = swapCase(token);
      return swapped !== token ? swapped : token.slice(0, -1); // no letters to change: truncate instead
    }
    case 'extra-byte':
      return token + rng.pick(['x', '0', ' ', '=']);
  }
}

/** The derived (secret) token variants, longest first, for redaction. */
export function derivedTokenVariants(token: string): Array<{ variant: TokenVariant; text: string }> {
  const out: Array<{ variant: TokenVariant; text: string }> = [{ variant: 'exact', text: token }];
  const swapped = swapCase(token);
  if (swapped !== token) out.push({ variant: 'case-changed', text: swapped });
  if (token.length > 1) out.push({ variant: 'truncated', text: token.slice(0, -1) });
  return out;
}

export interface HelloPlanOptions {
  /** A shard id the router certainly does not admit (enables `shard-unknown`). */
  unknownShardId?: number;
  /** The router's handshake timeout, ms (enables `silent` / `stall-mid-frame`); 0 or absent: unknown. */
  routerHandshakeTimeoutMs?: number;
  /** Probability of a rule-breaking Hello (default 0.25). */
  ruleBreakingProbability?: number;
  /** Probability of a silent / stalled handshake when the timeout is known (default 0.03). */
  silentProbability?: number;
  /** Restrict the rule-breaking mutations (default all). */
  mutations?: readonly HandshakeMutation[];
}

/** Router target: step 0, our Hello. */
export function helloStep(rng: Rng, shardId: number, authToken: string | null, mutateProbability = 0.15, plan: HelloPlanOptions = {}): { hello: WorkerHello; step: FuzzStep } {
  const hello = saneHello(rng, shardId, authToken);
  const allowed = (plan.mutations ?? HANDSHAKE_MUTATIONS).filter((m) => m !== 'shard-unknown' || plan.unknownShardId !== undefined);
  const timing = allowed.filter((m) => m === 'silent' || m === 'stall-mid-frame');
  if (timing.length && (plan.routerHandshakeTimeoutMs ?? 0) > 0 && rng.chance(plan.silentProbability ?? 0.03)) {
    // [HS-6] silence, or a stall inside the Hello (in the prefix or the body)
    if (rng.pick(timing) === 'silent') return { hello, step: { kind: 'raw', bytes: new Uint8Array(0), note: 'hello silent' } };
    const whole = framed(encodeWireFrame({ type: 'hello', body: hello }));
    return { hello, step: { kind: 'raw', bytes: whole.subarray(0, rng.int(1, whole.length - 1)), note: 'hello stall-mid-frame' } };
  }
  if (allowed.includes('oversize-first-frame') && rng.chance(0.02)) {
    // [FRM-4] a Hello above the 1 MiB pre-handshake limit (a long worker_build): its prefix and the
    // start of its body; it must be refused at the prefix, not waited for until the handshake timeout
    hello.worker_build = 'x'.repeat(PRE_HANDSHAKE_MAX_FRAME_BYTES + rng.pick([1, 100, 4096]));
    return { hello, step: { kind: 'raw', bytes: oversizeFirstFrameStart(encodeWireFrame({ type: 'hello', body: hello }), rng), note: 'hello oversize-first-frame' } };
  }
  if (allowed.includes('not-hello') && rng.chance(0.02)) {
    // [HS-3] a first frame that decodes but is not a Hello: close, no Welcome
    const other: WireFrame = rng.pick<WireFrame>([
      { type: 'packet', body: { id: 1n, compression: 'none', data: encodeRpcPayload({ type: 'request', body: { type: 'get_worker_stats' } }) } },
      { type: 'welcome', body: { worker_id: 1, shard_id: shardId, revision: 0n, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: hello.capabilities } },
      { type: 'unknown' },
    ]);
    return { hello, step: { kind: 'frame', body: encodeWireFrame(other), note: `hello not-hello:${other.type}` } };
  }
  const breaking = allowed.filter((m) => m !== 'silent' && m !== 'stall-mid-frame' && m !== 'not-hello' && m !== 'oversize-first-frame');
  if (breaking.length && rng.chance(plan.ruleBreakingProbability ?? 0.25)) {
    const chosen = new Set<HandshakeMutation>();
    const n = rng.pick([1, 1, 2, 2, 3]);
    for (let i = 0; i < n; i++) chosen.add(rng.pick(breaking));
    if (chosen.has('shard-busy') && chosen.has('shard-unknown')) chosen.delete(rng.pick(['shard-busy', 'shard-unknown'] as const));
    const tokenMuts = [...chosen].filter((m) => m.startsWith('token-'));
    for (const t of tokenMuts.slice(1)) chosen.delete(t); // one token variant per Hello
    const notes: string[] = [];
    for (const m of chosen) {
      switch (m) {
        case 'token-absent':
        case 'token-wrong':
        case 'token-truncated':
        case 'token-case-changed':
        case 'token-extra-byte': {
          // without a configured token, a token in the Hello must be ignored [SEC-7]
          const variant: TokenVariant = authToken === null && m !== 'token-absent' ? 'unexpected' : (m.slice(6) as TokenVariant);
          hello.auth_token = tokenFor(variant, authToken, rng);
          notes.push(`token:${variant}`);
          break;
        }
        case 'shard-unknown':
          hello.shard_id = plan.unknownShardId!;
          notes.push('shard-unknown');
          break;
        case 'shard-busy':
          notes.push('shard-busy'); // the runner first connects a holder for this shard
          break;
        case 'version-mismatch':
          hello.supported_versions = rng.pick([
            { min: { major: 2, minor: 0 }, max: { major: 2, minor: 9 } },
            { min: { major: 4, minor: 0 }, max: { major: 4, minor: 1 } },
            { min: { major: 3, minor: 1 }, max: { major: 3, minor: 0 } }, // inverted range
          ]);
          notes.push('version-mismatch');
          break;
        case 'no-common-compression':
          hello.capabilities.supported_compression = rng.pick<CompressionAlgo[]>([[], ['unknown'], ['unknown', 'unknown']]);
          notes.push('no-common-compression');
          break;
        case 'zero-limit':
          if (rng.chance(0.5)) hello.capabilities.max_frame_len = 0;
          else hello.capabilities.max_packet_len = 0;
          notes.push('zero-limit');
          break;
        default:
          break;
      }
    }
    return { hello, step: { kind: 'frame', body: encodeWireFrame({ type: 'hello', body: hello }), note: `hello ${notes.join('+')}` } };
  }
  if (rng.chance(0.03)) hello.capabilities.max_frame_len = 0; // [HS-4] must be rejected invalid_request
  return { hello, step: maybeMutateHandshake({ type: 'hello', body: hello }, rng, mutateProbability) };
}

/**
 * Handshake-stage answers to a worker's Hello that a conforming worker must refuse (worker
 * targets, the fuzzer plays the router): `packet-first` (a Packet instead of Welcome / Reject
 * [HS-14]), `reject` (the worker must close [HS-13]), `wrong-shard` (a Welcome naming another
 * shard [HS-15]), `invalid-welcome` (a Welcome that breaks the negotiation rules [HS-10]),
 * `silent` (no answer: the worker must close within its handshake timeout [HS-17]; only when
 * that timeout is known), `oversize-first-frame` (the prefix and start of a Welcome padded above
 * the 1 MiB pre-handshake limit with an unknown key: refused at the prefix [FRM-4]).
 */
export const WORKER_HANDSHAKE_MUTATIONS = ['packet-first', 'reject', 'wrong-shard', 'invalid-welcome', 'silent', 'oversize-first-frame'] as const;
export type WorkerHandshakeMutation = (typeof WORKER_HANDSHAKE_MUTATIONS)[number];

export interface WelcomePlanOptions {
  /** Probability of a handshake-stage mutation from {@link WORKER_HANDSHAKE_MUTATIONS} (default 0). */
  mutationProbability?: number;
  /** The worker's handshake timeout, ms (enables `silent`); 0 or absent: unknown. */
  workerHandshakeTimeoutMs?: number;
}

/** The length prefix of a first frame above 1 MiB and the start of its body (the rest never comes) [FRM-4]. */
function oversizeFirstFrameStart(body: Uint8Array, rng: Rng): Uint8Array {
  return framed(body).subarray(0, 4 + rng.int(0, 256));
}

/** A Welcome that breaks one rule HS-10 names (the base Welcome is a valid negotiation result). */
function invalidWelcome(rng: Rng, hello: WorkerHello, base: RouterWelcome): { welcome: RouterWelcome; what: string } {
  const o = hello.capabilities;
  const c = { ...base.chosen_capabilities, supported_compression: [...base.chosen_capabilities.supported_compression] };
  const options: Array<() => string> = [
    () => {
      c.max_frame_len = o.max_frame_len + rng.pick([1, 1, 1000]); // [NEG-1]
      return 'frame-limit-over-offer';
    },
    () => {
      c.max_packet_len = o.max_packet_len + rng.pick([1, 1, 1000]); // [NEG-1]
      return 'packet-limit-over-offer';
    },
  ];
  if (!o.supports_cancel) options.push(() => ((c.supports_cancel = true), 'cancel-not-offered')); // [NEG-2]
  if (!o.supports_chunking) options.push(() => ((c.supports_chunking = true), 'chunking-not-offered')); // [NEG-2]
  if (!o.supported_compression.includes('zstd')) options.push(() => (c.supported_compression.push('zstd'), 'zstd-not-offered')); // [NEG-3]
  const vmax = hello.supported_versions.max;
  const version = { major: vmax.major, minor: vmax.minor + 1 };
  const pick = rng.below(options.length + 1);
  if (pick === options.length) return { welcome: { ...base, chosen_version: version }, what: 'version-outside-offer' }; // [VER-1]
  const what = options[pick]!();
  return { welcome: { ...base, chosen_capabilities: c }, what };
}

/** Worker target: step 0, our Welcome to the worker's Hello (what a conforming router would choose). */
export function welcomeStep(rng: Rng, workerHello: WorkerHello, mutateProbability = 0.1, plan: WelcomePlanOptions = {}): { welcome: RouterWelcome | null; step: FuzzStep } {
  const own = sanitizeCapabilities(randomOwnCaps(rng), { zstdAvailable: zstdAvailable() });
  const out = negotiateHello(workerHello, {
    supportedVersions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
    capabilities: own,
    workerId: rng.int(1, 1000),
    revision: BigInt(rng.int(0, 5)),
  });
  if (out.kind === 'reject') return { welcome: null, step: { kind: 'frame', body: encodeWireFrame({ type: 'reject', body: out.reject }), note: 'reject' } };
  if ((plan.mutationProbability ?? 0) > 0 && rng.chance(plan.mutationProbability!)) {
    const allowed = WORKER_HANDSHAKE_MUTATIONS.filter((m) => m !== 'silent' || (plan.workerHandshakeTimeoutMs ?? 0) > 0);
    const m = rng.pick(allowed);
    const note = `welcome ${m}`;
    switch (m) {
      case 'packet-first': {
        // [HS-14] a request Packet (even id, as the router's) where the Welcome belongs
        const data = encodeRpcPayload({ type: 'request', body: { type: 'get_worker_stats' } });
        return { welcome: null, step: frameStep({ type: 'packet', body: { id: 2n * BigInt(rng.int(1, 1000)), compression: 'none', data } }, note) };
      }
      case 'reject':
        return { welcome: null, step: frameStep({ type: 'reject', body: sampleOf(handshakeRejectArb, rng) }, note) };
      case 'wrong-shard': {
        const shard = (workerHello.shard_id + rng.pick([1, 2, 1000])) >>> 0;
        return { welcome: null, step: frameStep({ type: 'welcome', body: { ...out.welcome, shard_id: shard } }, note) };
      }
      case 'invalid-welcome': {
        const { welcome, what } = invalidWelcome(rng, workerHello, out.welcome);
        return { welcome: null, step: frameStep({ type: 'welcome', body: welcome }, `${note}:${what}`) };
      }
      case 'silent':
        return { welcome: null, step: { kind: 'raw', bytes: new Uint8Array(0), note } };
      case 'oversize-first-frame': {
        // [FRM-4] the Welcome with an unknown key [FWD-1] whose value takes it over 1 MiB
        const tree = modelToTree({ type: 'welcome', body: out.welcome }) as Extract<CborItem, { k: 'map' }>;
        const body = tree.entries.find(([key]) => key.k === 'text' && key.v === 'body')?.[1] as Extract<CborItem, { k: 'map' }>;
        body.entries.push([{ k: 'text', v: 'padding' }, { k: 'bytes', v: new Uint8Array(PRE_HANDSHAKE_MAX_FRAME_BYTES + rng.pick([1, 100, 4096])) }]);
        return { welcome: null, step: { kind: 'raw', bytes: oversizeFirstFrameStart(writeCbor(tree), rng), note } };
      }
    }
  }
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

/**
 * Encodings a receiver must tolerate: unknown keys [FWD-1], other-case variant names as unknown
 * variants [FWD-4], lenient CBOR forms [CBOR-10] and a unit variant with body null [CBOR-13].
 */
export const TOLERATED_FORMS = ['unknown-key', 'case-variant', 'lenient', 'unit-null-body'] as const;

type MapItem = Extract<CborItem, { k: 'map' }>;

function mapValue(m: CborItem | undefined, key: string): CborItem | undefined {
  if (!m || m.k !== 'map') return undefined;
  return m.entries.find(([k]) => k.k === 'text' && k.v === key)?.[1];
}

function unknownEntry(rng: Rng): [CborItem, CborItem] {
  const value: CborItem = rng.pick<CborItem>([
    { k: 'uint', v: 7n },
    { k: 'text', v: 'future' },
    { k: 'map', entries: [[{ k: 'text', v: 'nested' }, { k: 'array', items: [{ k: 'simple', v: 22 }] }]] },
    { k: 'float', v: 1.5, width: 8 },
  ]);
  return [{ k: 'text', v: rng.pick(['x_future', 'extension', 'Type', 'bodyy']) }, value];
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
    return this.plainValidMessage();
  }

  /**
   * A request in an encoding the target must tolerate (TOLERATED_FORMS); the model judges it like
   * any frame (the codec accepts these forms), so the request must be answered and the connection
   * stays open (a probe follows). `case-variant` is the exception: `"Packet"` is an unknown variant
   * [FWD-4], so the request inside it must never be answered. Null when caps cannot carry it.
   */
  tolerated(): FuzzStep[] | null {
    const { rng, caps } = this.ctx;
    const form = rng.pick(TOLERATED_FORMS);
    const id = form === 'case-variant' ? this.freshIdNoTrack() : this.freshId();
    const payload: RpcPayload = { type: 'request', body: rng.chance(0.5) ? { type: 'get_worker_stats' } : this.request() };
    const ptree = modelToTree(payload) as MapItem;
    if (form === 'unit-null-body') {
      // [CBOR-13] a unit variant with "body": null (the request variant when it is a unit, else the payload's inner unit)
      const inner = mapValue(ptree, 'body');
      if (inner && inner.k === 'map' && inner.entries.length === 1) inner.entries.push([{ k: 'text', v: 'body' }, { k: 'simple', v: 22 }]);
      else ptree.entries = [[{ k: 'text', v: 'type' }, { k: 'text', v: 'request' }], [{ k: 'text', v: 'body' }, { k: 'map', entries: [[{ k: 'text', v: 'type' }, { k: 'text', v: 'get_worker_stats' }], [{ k: 'text', v: 'body' }, { k: 'simple', v: 22 }]] }]];
    }
    if (form === 'unknown-key' && rng.chance(0.5)) {
      // [FWD-1] an unknown key inside the payload (or its request body)
      const target = rng.chance(0.5) ? ptree : mapValue(ptree, 'body');
      if (target && target.k === 'map') target.entries.splice(rng.below(target.entries.length + 1), 0, unknownEntry(rng));
    }
    const data = writeCbor(ptree);
    const ftree = modelToTree({ type: 'packet', body: { id, compression: 'none', data } }) as MapItem;
    const fbody = mapValue(ftree, 'body') as MapItem;
    let what: string = form;
    switch (form) {
      case 'unknown-key':
        // [FWD-1] an unknown key in the frame envelope or the packet body, at any position
        if (rng.chance(0.5)) {
          const m = rng.chance(0.5) ? ftree : fbody;
          m.entries.splice(rng.below(m.entries.length + 1), 0, unknownEntry(rng));
        }
        break;
      case 'case-variant':
        // [FWD-4] variant names match exactly: "Packet" is an unknown variant (with a body)
        ftree.entries[0] = [{ k: 'text', v: 'type' }, { k: 'text', v: rng.pick(['Packet', 'PACKET', 'pAcket']) }];
        break;
      case 'lenient': {
        // [CBOR-10] indefinite-length maps and strings, non-minimal integers, a tag, body before type
        const k = rng.pick(['indefinite', 'non-minimal-int', 'tag', 'body-before-type'] as const);
        what = `lenient:${k}`;
        if (k === 'indefinite') {
          ftree.indef = true;
          fbody.indef = true;
          const d = mapValue(fbody, 'data');
          if (d && d.k === 'bytes' && d.v.length > 1) d.chunks = [1, d.v.length - 1];
        } else if (k === 'non-minimal-int') {
          const i = fbody.entries.findIndex(([key]) => key.k === 'text' && key.v === 'id');
          fbody.entries[i] = [{ k: 'text', v: 'id' }, { k: 'uint', v: id, width: 8 }];
        } else if (k === 'tag') {
          ftree.entries[1] = [{ k: 'text', v: 'body' }, { k: 'tag', tag: 55_799n, item: fbody }];
        } else ftree.entries.reverse();
        break;
      }
      case 'unit-null-body':
        break;
    }
    const body = writeCbor(ftree);
    if (body.length > caps.max_frame_len || data.length > caps.max_packet_len) return null;
    return [{ kind: 'frame', body, note: `tolerated ${what}` }];
  }

  private plainValidMessage(): FuzzStep[] {
    const { rng, caps } = this.ctx;
    for (let attempt = 0; attempt < 5; attempt++) {
      const k = rng.below(12);
      let steps: FuzzStep[] | null = null;
      if (k < 5) steps = sendable(this.freshId(), { type: 'request', body: this.request() }, caps, 'request');
      else if (k === 5) {
        // a big request: exercises chunking and compression (when negotiated)
        const file = sampleOf(fileTextArb, rng);
        const size = Math.min(caps.max_packet_len - 256, rng.pick([caps.max_frame_len + 100, 2 * caps.max_frame_len, 3000]));
        // a request with a big answer: one `class` line per symbol of the shard_index (about 45
        // bytes each in the reference worker's answer), so the target's own chunking [CHK-9] and compression [CMP-5] [CMP-9] show.
        // At most half of what the target can send (one frame without chunking; the rest of the
        // index comes from the case's other files): a conforming target answers it.
        const answerBudget = Math.floor((caps.supports_chunking ? caps.max_packet_len : Math.min(caps.max_frame_len, caps.max_packet_len)) / 2) - 256;
        if (rng.chance(0.5) && answerBudget >= 1100) {
          const responseBytes = Math.min(answerBudget, rng.pick([1100, 3 * caps.max_frame_len, 8 * caps.max_frame_len, 40 * caps.max_frame_len, 20_000]));
          file.path = 'big/B.java';
          // random names: zstd shrinks the index less, so a compressed answer still needs chunks
          file.text = Array.from({ length: Math.floor(responseBytes / 45) }, () => `class B${rng.u32().toString(36)} {}`).join('\n');
          steps = sendable(this.freshId(), { type: 'request', body: { type: 'update_file', revision: 1n, file } }, caps, 'big answer request');
        } else if (size > 0) {
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
      case 'truncated-frame': {
        // [FRM-8] a complete, valid request frame under a prefix that claims more bytes than follow,
        // then the end of our stream (half-close): the partial frame holds a decodable request, so a
        // receiver that flushes its parser at end of stream would serve it
        const body = encodeWireFrame({ type: 'packet', body: { id: this.freshIdNoTrack(), compression: 'none', data: reqPayload() } });
        const bytes = new Uint8Array(4 + body.length);
        new DataView(bytes.buffer).setUint32(0, body.length + rng.pick([1, 8, 100]), true);
        bytes.set(body, 4);
        return [
          { kind: 'raw', bytes, note },
          { kind: 'raw', bytes: new Uint8Array(0), note: EOF_NOTE },
        ];
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
    // now and then the session is one request in an encoding the target must tolerate, alone, so
    // that a close can only be due to it (the runner cites its rule; a probe request follows)
    if (rng.chance(0.12)) {
      const t = this.tolerated();
      if (t) return t;
    }
    const steps: FuzzStep[] = [];
    const nValid = rng.int(0, 4);
    const nHostile = actions.length === 0 ? 0 : rng.chance(0.25) ? 0 : rng.chance(0.8) ? 1 : 2;
    const slots: Array<'v' | 'h'> = [...Array<'v'>(nValid).fill('v'), ...Array<'h'>(nHostile).fill('h')];
    for (let i = slots.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [slots[i], slots[j]] = [slots[j]!, slots[i]!];
    }
    for (const s of slots) steps.push(...(s === 'v' ? this.validMessage() : this.hostile(rng.pick(actions))));
    // nothing can be sent after the end of our stream
    const eof = steps.findIndex(isEofStep);
    return eof >= 0 ? steps.slice(0, eof + 1) : steps;
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
