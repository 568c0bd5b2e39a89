/**
 * The oracle of the network fuzzer: a reference model of what a conforming RECEIVER must do with
 * the exact bytes the fuzzer sends. It replays those bytes through the strict codec (frame
 * decoder, preflight + decoder, reassembler with bounded decompression) and the receive rules of
 * the spec, and states the expected behaviour:
 *
 * - which request ids must be answered exactly once (`mustAnswer`) or at most once (`mayAnswer`);
 * - how the connection must end: `open` (still serving: a fresh request on it is answered),
 *   `close` (the target closes within a deadline, with a Reject first for handshake refusals),
 *   or `any` (the spec allows both, or the outcome depends on timing).
 *
 * @module
 */
import { isProtocolError } from '../../src/errors.js';
import { HARD_MAX_MESSAGE_BYTES, PRE_HANDSHAKE_MAX_FRAME_BYTES } from '../../src/limits.js';
import type { Capabilities, WireFrame, WorkerHello } from '../../src/wire/model.js';
import { FrameDecoder, Reassembler, decodeRpcPayload, decodeWireFrame } from '../../src/wire/index.js';
import { checkWelcome } from '../../src/engine/negotiation.js';
import { framed } from '../../conformance/cbor.js';
import { Decoder } from 'cbor-x';

export type TargetRole = 'router' | 'worker';

/** How the connection must end. */
export type EndExpectation = 'open' | 'close' | 'any';

export interface Expectation {
  end: EndExpectation;
  /** Request ids that must get exactly one Response. */
  mustAnswer: bigint[];
  /** Request ids that may get at most one Response (e.g. the connection closes soon after). */
  mayAnswer: bigint[];
  /** Why the model expects this end, with the spec id of the deciding rule. */
  reason: string;
  rule?: string;
  /** Step index (0-based, in the case's step list) of the first frame that decided the end, if any. */
  decidedAt?: number;
  /** The stream ends inside a frame: a probe on the same connection would be swallowed. */
  partialFrame?: boolean;
  /** The target must answer the handshake with a Reject of this code before closing. */
  rejectCode?: string;
  /** The close is due to the router's handshake timeout [HS-6]: wait that long (scaled), not the case deadline. */
  handshakeTimeout?: boolean;
  /** The close must come at once, before the target's handshake timeout could fire (a refused first-frame prefix [FRM-4]). */
  beforeHandshakeTimeout?: boolean;
  /** Request ids that must never be answered, with the rule: inside a frame the stream ended in [FRM-8], inside an other-case variant [FWD-4]. */
  neverAnswer?: Array<{ id: bigint; rule: string }>;
}

/** The note of the (empty) step that ends our side of the stream (a half-close; kept in regression files). */
export const EOF_NOTE = 'eof';

/** The (empty) step after which the fuzzer half-closes the connection (nothing is sent after it). */
export function isEofStep(s: FuzzStep): boolean {
  return s.kind === 'raw' && s.bytes.length === 0 && s.note === EOF_NOTE;
}

/** The packet id inside a step that is a length prefix followed by one complete Packet frame body (a truncated frame), or null. */
function truncatedPacketId(step: FuzzStep | undefined): bigint | null {
  if (!step || step.kind !== 'raw' || step.bytes.length < 5) return null;
  const claimed = Buffer.from(step.bytes.buffer, step.bytes.byteOffset, 4).readUInt32LE(0);
  if (claimed <= step.bytes.length - 4) return null;
  try {
    const f = decodeWireFrame(step.bytes.subarray(4));
    return f.type === 'packet' ? f.body.id : null;
  } catch {
    return null;
  }
}

/** One unit the fuzzer writes: a frame body (prefix added on the wire) or raw bytes. */
export type FuzzStep = { kind: 'frame'; body: Uint8Array; note?: string } | { kind: 'raw'; bytes: Uint8Array; note?: string };

/** The bytes a step puts on the wire. */
export function stepBytes(step: FuzzStep): Uint8Array {
  return step.kind === 'raw' ? step.bytes : framed(step.body);
}

/** The spec id behind a reassembly / decompression error code. */
export function packetRuleFor(code: string, compressed: boolean): string {
  switch (code) {
    case 'CHUNKING_NOT_NEGOTIATED':
      return 'CHK-2';
    case 'CHUNK_SEQ_MISMATCH':
      return 'CHK-3';
    case 'CHUNK_COMPRESSION_CHANGED':
      return 'CHK-4';
    case 'TOO_MANY_CHUNK_STREAMS':
      return 'CHK-5';
    case 'REASSEMBLY_LIMIT_EXCEEDED':
      return 'CHK-6';
    case 'PACKET_TOO_LARGE':
      return compressed ? 'CMP-4' : 'CHK-7';
    case 'COMPRESSION_UNSUPPORTED':
    case 'COMPRESSION_UNAVAILABLE':
      return 'CMP-2';
    case 'DECOMPRESSION_FAILED':
      return 'CMP-6';
    default:
      return 'DATA-5';
  }
}

/** A limit the codec accepts: 1 ≤ n ≤ 64 MiB (the hard cap applies whatever was negotiated [FRM-7]). */
export function clampLimit(n: number): number {
  return Math.max(1, Math.min(n, HARD_MAX_MESSAGE_BYTES));
}

/** True when the concatenated steps stop inside a length prefix or a frame body. */
export function endsMidFrame(steps: readonly FuzzStep[]): boolean {
  const all = Buffer.concat(steps.map(stepBytes));
  let off = 0;
  while (off < all.length) {
    if (all.length - off < 4) return true;
    const len = all.readUInt32LE(off);
    if (all.length - off - 4 < len) return true;
    off += 4 + len;
  }
  return false;
}

const genericCbor = new Decoder({ mapsAsObjects: true, useRecords: false }) // u64 over 2^53 comes back as a bigint;

/**
 * The id of a request carried by a frame whose variant name is a known frame variant in another
 * letter case (`"Packet"`), or null. Such a frame is an unknown variant [FWD-4]: never processed.
 */
export function caseVariantRequestId(body: Uint8Array): bigint | null {
  try {
    const v = genericCbor.decode(body) as { type?: unknown; body?: { id?: unknown; data?: unknown; compression?: unknown } };
    if (typeof v?.type !== 'string' || v.type === 'packet' || v.type.toLowerCase() !== 'packet') return null;
    const b = v.body;
    if (!b || b.compression !== 'none' || !(b.data instanceof Uint8Array) || (typeof b.id !== 'bigint' && typeof b.id !== 'number')) return null;
    const p = decodeRpcPayload(b.data);
    return p.type === 'request' ? BigInt(b.id) : null;
  } catch {
    return null;
  }
}

function codeOf(e: unknown): string {
  if (isProtocolError(e)) return e.code;
  throw e;
}

/** How the worker-side handshake SHOULDs are graded (worker targets). */
export interface HandshakeGrading {
  /**
   * Grade the worker's handshake SHOULDs as MUSTs (the fuzzer's `--strict`, like the conformance
   * suite's): [HS-10] refuse a Welcome that breaks the negotiation rules, [HS-15] refuse another
   * shard's Welcome, [HS-17] close when no answer comes within its handshake timeout. Without it
   * both behaviours are allowed (the Rust worker does none of them).
   */
  strict?: boolean;
  /** The worker's handshake timeout, ms, when known (0 / absent: unknown, silence is judged 'any'). */
  workerHandshakeTimeoutMs?: number;
}

/**
 * Judge the FIRST step against the handshake rules.
 * Router target: step 0 is our Hello. Worker target: step 0 is our Welcome to `workerHello`.
 * Returns `{ proceed }` with the decoded first frame when the handshake can go on, else the expectation.
 */
export function judgeHandshakeStep(
  role: TargetRole,
  step: FuzzStep | undefined,
  workerHello?: WorkerHello,
  grading: HandshakeGrading = {},
): { proceed: true; frame: WireFrame } | { proceed: false; expectation: Expectation } {
  const end = (e: Omit<Expectation, 'mustAnswer' | 'mayAnswer'>): { proceed: false; expectation: Expectation } => ({
    proceed: false,
    expectation: { mustAnswer: [], mayAnswer: [], ...e, decidedAt: 0 },
  });
  if (!step) return end({ end: 'any', reason: 'no handshake frame sent' });
  const dec = new FrameDecoder({ maxFrameBytes: PRE_HANDSHAKE_MAX_FRAME_BYTES });
  let bodies: Uint8Array[];
  try {
    bodies = dec.push(stepBytes(step));
  } catch (e) {
    // [FRM-3] [FRM-4] an over-limit (or empty) handshake frame closes the connection, at the
    // prefix: not after waiting for the body until the handshake timeout ends the connection
    const code = codeOf(e);
    return end({ end: 'close', reason: `handshake frame refused at the prefix (${code})`, rule: code === 'FRAME_EMPTY' ? 'FRM-2' : 'FRM-4', ...(code === 'FRAME_TOO_LARGE' ? { beforeHandshakeTimeout: true } : {}) });
  }
  if (bodies.length === 0) {
    // [HS-6] a router closes a connection whose handshake has not completed within its handshake
    // timeout (silence, or a stall inside the first frame); the runner waits that long (scaled).
    if (role === 'router') return end({ end: 'close', reason: 'handshake frame incomplete: the router must time the handshake out', rule: 'HS-6', partialFrame: true, handshakeTimeout: true });
    // [HS-17] SHOULD: a worker bounds its wait for the answer to its Hello and then closes
    if (grading.strict && (grading.workerHandshakeTimeoutMs ?? 0) > 0) {
      return end({ end: 'close', reason: 'no answer to the hello: the worker must time the handshake out', rule: 'HS-17', partialFrame: true, handshakeTimeout: true });
    }
    return end({ end: 'any', reason: 'handshake frame incomplete', partialFrame: true });
  }
  let frame: WireFrame;
  try {
    frame = decodeWireFrame(bodies[0]!);
  } catch (e) {
    // [HS-3] a first frame that does not decode closes the connection (no Reject needed)
    // [HS-14] (worker) an answer to the Hello that does not decode closes the connection
    return end({ end: 'close', reason: `handshake frame does not decode (${codeOf(e)})`, rule: role === 'router' ? 'HS-3' : 'HS-14' });
  }
  if (bodies.length > 1 || dec.inFrame) {
    // extra bytes after the handshake frame in the same step: the frames after it are judged with unknown timing
    return end({ end: 'any', reason: 'bytes after the handshake frame in the same step' });
  }
  if (role === 'router') {
    if (frame.type !== 'hello') return end({ end: 'close', reason: `first frame is ${frame.type}, not hello`, rule: 'HS-3' });
    const c = frame.body.capabilities;
    // [HS-4] zero limits are refused first, with invalid_request
    if (c.max_frame_len === 0 || c.max_packet_len === 0) {
      return end({ end: 'close', reason: 'hello with a zero limit', rule: 'HS-4', rejectCode: 'invalid_request' });
    }
    return { proceed: true, frame };
  }
  // worker target: what we sent as the router
  // [HS-13] a worker that receives a Reject closes (without sending anything)
  if (frame.type === 'reject') return end({ end: 'close', reason: 'router rejected the worker', rule: 'HS-13' });
  // [HS-14] an answer that is neither Welcome nor Reject closes the connection
  if (frame.type !== 'welcome') return end({ end: 'close', reason: `answer to hello is ${frame.type}`, rule: 'HS-14' });
  if (workerHello) {
    const strictEnd = grading.strict ? 'close' : 'any';
    // [HS-15] SHOULD: a Welcome naming another shard is refused (the Rust worker goes on)
    if (frame.body.shard_id !== workerHello.shard_id) {
      return end({ end: strictEnd, reason: `welcome names another shard (refusal is a SHOULD${grading.strict ? ', graded strictly' : ''})`, rule: 'HS-15' });
    }
    try {
      checkWelcome(workerHello, frame.body);
    } catch (e) {
      // [HS-10] SHOULD refuse a Welcome outside the offer (the Rust worker accepts anything). Only
      // what HS-10 names is graded strictly: a version outside the range, a limit over the offer
      // [NEG-1], a flag not offered [NEG-2], an algorithm not offered other than none [NEG-3].
      const broken = isProtocolError(e) ? String(e.details['brokenRule'] ?? '') : '';
      const algo = isProtocolError(e) ? e.details['algorithm'] : undefined;
      const named = ['VER-1', 'NEG-1', 'NEG-2', 'NEG-3'].includes(broken) && algo !== 'none' && !(broken === 'NEG-3' && algo === undefined);
      return end({ end: named ? strictEnd : 'any', reason: `welcome breaks the negotiation rules (${broken || 'invalid'}; refusal is a SHOULD${named && grading.strict ? ', graded strictly' : ''})`, rule: 'HS-10' });
    }
  }
  return { proceed: true, frame };
}

/**
 * Judge the post-handshake steps (`steps[firstIndex..]`) as the target must receive them.
 * `targetRole` is the role of the implementation under test; `caps` the chosen capabilities.
 */
export function judgeSession(targetRole: TargetRole, caps: Capabilities, steps: readonly FuzzStep[], firstIndex = 1, shardId?: number): Expectation {
  const must = new Set<bigint>();
  const may = new Set<bigint>();
  // ids answered "in flight" according to the model (we never know when the target finishes,
  // so a repeated id is only judged when it arrives in the same step as the first one)
  // a mutated handshake may carry limits outside what the codec can be configured with
  const dec = new FrameDecoder({ maxFrameBytes: clampLimit(caps.max_frame_len) });
  const re = new Reassembler({
    maxPacketBytes: clampLimit(caps.max_packet_len),
    compression: caps.supported_compression,
    chunking: caps.supports_chunking,
  });
  const stop = (i: number, end: EndExpectation, reason: string, rule?: string): Expectation => {
    // after a close (or an ambiguous event) responses to earlier requests may be lost
    const mayAnswer = [...may, ...must];
    return { end, mustAnswer: [], mayAnswer, reason, ...(rule ? { rule } : {}), decidedAt: i };
  };
  const parity = targetRole === 'router' ? 1n : 0n;
  const stepRequestIds = new Map<bigint, number>();
  let shutdownId: bigint | undefined;
  /** Step of the first unknown variant with a body [FWD-5], if any. */
  let fwd5At: number | undefined;
  /** Requests inside unknown variants that differ from a known one only in letter case [FWD-4]. */
  const never: Array<{ id: bigint; rule: string }> = [];
  /** Whether the decoder was between frames before the previous step. */
  let prevStartedAtBoundary = false;
  for (let i = firstIndex; i < steps.length; i++) {
    if (isEofStep(steps[i]!)) {
      const earlier = [...must, ...may];
      // on a frame boundary the end of stream is an ordinary close by the peer: either end is fine
      if (!dec.inFrame) return { end: 'any', mustAnswer: [], mayAnswer: earlier, reason: 'end of stream between frames', decidedAt: i };
      // [FRM-8] the stream ends inside a frame: the partial frame is discarded unprocessed (a request
      // inside it is never answered) and the connection is closed; earlier requests may be answered
      const id = prevStartedAtBoundary ? truncatedPacketId(steps[i - 1]) : null;
      return { end: 'close', mustAnswer: [], mayAnswer: earlier, reason: 'the stream ended inside a frame', rule: 'FRM-8', decidedAt: i, partialFrame: true, ...(id !== null ? { neverAnswer: [...never, { id, rule: 'FRM-8' }] } : never.length ? { neverAnswer: never } : {}) };
    }
    prevStartedAtBoundary = !dec.inFrame;
    let bodies: Uint8Array[];
    try {
      bodies = dec.push(stepBytes(steps[i]!));
    } catch (e) {
      const code = codeOf(e);
      return stop(i, 'close', `frame refused (${code})`, code === 'FRAME_EMPTY' ? 'FRM-2' : 'FRM-3');
    }
    for (const body of bodies) {
      let frame: WireFrame;
      try {
        frame = decodeWireFrame(body);
      } catch (e) {
        const code = codeOf(e);
        // [FWD-5] SHOULD decode an unknown variant with a body as unknown and ignore it; the Rust
        // reference closes: from here on the end is open or closed, later frames are judged as usual
        if (code === 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY') {
          fwd5At ??= i;
          // [FWD-4] "Packet" is not packet: a request inside it must never be answered
          const id = caseVariantRequestId(body);
          if (id !== null) never.push({ id, rule: 'FWD-4' });
          continue;
        }
        return stop(i, 'close', `frame does not decode (${code})`, 'DATA-5');
      }
      if (frame.type === 'hello' || frame.type === 'welcome' || frame.type === 'reject') {
        return stop(i, 'close', `${frame.type} after the handshake`, 'HS-7');
      }
      if (frame.type === 'unknown') continue; // [DATA-6]
      if (frame.body.id === 0n) return stop(i, 'close', 'packet with id 0', 'ID-2');
      if (frame.type === 'packet' && frame.body.data.length > caps.max_packet_len) {
        return stop(i, 'close', 'packet data over max_packet_len', 'DATA-4');
      }
      let done: { id: bigint; payload: Uint8Array } | null;
      try {
        done = re.accept(frame);
      } catch (e) {
        const code = codeOf(e);
        return stop(i, 'close', `packet refused (${code})`, packetRuleFor(code, frame.body.compression === 'zstd'));
      }
      if (!done) continue;
      let payload;
      try {
        payload = decodeRpcPayload(done.payload, { maxPacketBytes: clampLimit(caps.max_packet_len) });
      } catch (e) {
        const code = codeOf(e);
        if (code === 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY') {
          // [FWD-5] as above; decoded as unknown, an unknown Request is answered invalid_request [DATA-7]
          fwd5At ??= i;
          may.add(done.id);
          continue;
        }
        return stop(i, 'close', `payload does not decode (${code})`, 'DATA-5');
      }
      const id = done.id;
      switch (payload.type) {
        case 'request': {
          // [ID-3] parity is checked on requests only
          if (id % 2n !== parity) return stop(i, 'close', 'request with the wrong id parity', 'ID-3');
          if (must.has(id) || may.has(id)) {
            // [ID-4] a duplicate is certain only if the first copy arrived in the same step
            if (stepRequestIds.get(id) === i) return stop(i, 'close', 'duplicate in-flight request id', 'ID-4');
            return stop(i, 'any', 'request id reused (in flight or not, depending on timing)');
          }
          stepRequestIds.set(id, i);
          // requests after a Shutdown may or may not be served before the worker closes; after an
          // unknown variant with a body [FWD-5] the target may already have closed
          if (shutdownId !== undefined || fwd5At !== undefined) {
            may.add(id);
            break;
          }
          if (payload.body.type === 'shutdown') {
            if (targetRole === 'worker' && shutdownId === undefined) {
              // [DATA-8] a worker answers Shutdown and then closes: that answer is owed even though it
              // closes (unless a later invalid frame closes the connection first, see stop())
              shutdownId = id;
              must.add(id);
              continue;
            }
            may.add(id);
            return stop(i, 'any', 'shutdown requested');
          }
          must.add(id);
          break;
        }
        case 'notification':
          // The reference router drops a worker whose cached index names another shard.
          if (targetRole === 'router' && payload.body.type === 'cached_index' && shardId !== undefined && payload.body.body.shard_id !== shardId) {
            return stop(i, 'any', 'cached index for another shard');
          }
          break;
        case 'cancel':
          // [CAN-2] [CAN-3] [CAN-4]: never closes; a cancelled request still gets exactly one response
          break;
        case 'response':
          // [DATA-3] a response for an id the target did not use is ignored
          break;
        case 'unknown':
          break; // [DATA-6]
      }
    }
  }
  if (fwd5At !== undefined) {
    return { end: 'any', mustAnswer: [], mayAnswer: [...must, ...may], reason: 'unknown variant with a body (FWD-5: SHOULD ignore; closing is allowed)', rule: 'FWD-5', decidedAt: fwd5At, ...(never.length ? { neverAnswer: never } : {}) };
  }
  if (shutdownId !== undefined) {
    const others = [...must].filter((x) => x !== shutdownId);
    return { end: 'close', mustAnswer: [shutdownId], mayAnswer: [...may, ...others], reason: 'shutdown requested', rule: 'DATA-8' };
  }
  const partial = endsMidFrame(steps.slice(firstIndex));
  return {
    end: partial ? 'any' : 'open',
    mustAnswer: [...must],
    mayAnswer: [...may],
    reason: partial ? 'the stream ends inside a frame' : 'every frame is valid',
    ...(partial ? { partialFrame: true } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// The router's answer to a Hello (router targets)
// ---------------------------------------------------------------------------------------------

/** What the fuzzer knows for certain about a router target's configuration. */
export interface RouterKnowledge {
  /** The token the router is configured with; null: no token configured (a Hello's token is ignored [SEC-7]). */
  authToken: string | null;
  /** Shard ids the router certainly does not admit. */
  unknownShards: readonly number[];
  /** A shard our holder connection occupies for this case (the shard-busy mutation). */
  busyShard?: number;
  /** The router may limit shards by an mTLS allowlist (unauthorized "shard authorization failed" [SEC-4]). */
  shardAllowlist?: boolean;
}

/** One of the ordered negotiation checks [HS-4]. */
export interface HandshakeCheck {
  check: 'limits' | 'auth' | 'version' | 'compression' | 'admission';
  /** `unknown`: depends on configuration the fuzzer does not know (e.g. a zstd-only offer). */
  verdict: 'pass' | 'fail' | 'unknown';
  /** Reject codes the check gives when it fails. */
  codes: string[];
  rule: string;
  why: string;
}

export interface HandshakeVerdict {
  /** A Welcome is a correct answer. */
  welcome: boolean;
  /** Reject codes that are correct answers (the first failing check's, plus those of undecidable checks before it). */
  rejectCodes: string[];
  /** The first check that certainly fails, if any: its rule is the one a Welcome breaks. */
  decisive?: HandshakeCheck;
  checks: HandshakeCheck[];
}

const V3_0 = { major: 3, minor: 0 };
function cmpVersion(a: { major: number; minor: number }, b: { major: number; minor: number }): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

/**
 * The checks a router runs on a Hello, in the order of [HS-4]: limits → auth → version →
 * compression → admission. Each is judged with what the fuzzer knows; the expected answer is the
 * Reject of the first failing check (a Hello that breaks several rules at once names the first).
 */
export function expectedHandshake(hello: WorkerHello, k: RouterKnowledge): HandshakeVerdict {
  const c = hello.capabilities;
  const checks: HandshakeCheck[] = [];
  // [HS-4] 1. a zero max_frame_len / max_packet_len is an invalid request
  checks.push({ check: 'limits', verdict: c.max_frame_len === 0 || c.max_packet_len === 0 ? 'fail' : 'pass', codes: ['invalid_request'], rule: 'HS-4', why: 'a zero limit' });
  // [SEC-1] 2. with a token configured the Hello's token must equal it; [SEC-7] without one it is ignored
  checks.push({ check: 'auth', verdict: k.authToken !== null && hello.auth_token !== k.authToken ? 'fail' : 'pass', codes: ['unauthorized'], rule: 'SEC-1', why: hello.auth_token === null ? 'no auth token' : 'a wrong auth token' });
  // [VER-1] 3. a v3 router supports 3.0 [VER-2]; a range without it that cannot overlap any 3.x fails
  const v = hello.supported_versions;
  const versionVerdict: HandshakeCheck['verdict'] =
    cmpVersion(v.min, v.max) > 0 || cmpVersion(v.max, V3_0) < 0 || v.min.major >= 4 ? 'fail' : cmpVersion(v.min, V3_0) <= 0 ? 'pass' : 'unknown';
  checks.push({ check: 'version', verdict: versionVerdict, codes: ['unsupported_version'], rule: 'VER-1', why: 'no common version' });
  // [NEG-3] 4. a common compression algorithm; every router offers none [NEG-5]
  const known = c.supported_compression.filter((a) => a !== 'unknown');
  checks.push({ check: 'compression', verdict: known.includes('none') ? 'pass' : known.length === 0 ? 'fail' : 'unknown', codes: ['invalid_request'], rule: 'NEG-3', why: 'no common compression' });
  // [HS-11] 5. admission: an unknown shard, or one that already has a connected worker. The lane's
  // own shard may still be held by the previous case's session (timing), and an mTLS allowlist
  // may refuse it [SEC-4]: undecidable.
  const busy = k.busyShard !== undefined && hello.shard_id === k.busyShard;
  const unknownShard = k.unknownShards.includes(hello.shard_id);
  checks.push({ check: 'admission', verdict: busy || unknownShard ? 'fail' : 'unknown', codes: busy || unknownShard || !k.shardAllowlist ? ['invalid_request'] : ['invalid_request', 'unauthorized'], rule: 'HS-11', why: busy ? 'shard already has a connected worker' : 'unknown shard' });
  const rejectCodes = new Set<string>();
  for (const ch of checks) {
    if (ch.verdict === 'pass') continue;
    for (const code of ch.codes) rejectCodes.add(code);
    if (ch.verdict === 'fail') return { welcome: false, rejectCodes: [...rejectCodes], decisive: ch, checks };
  }
  // admission is never 'pass' here, so "welcome or the undecidable checks' codes"
  return { welcome: true, rejectCodes: [...rejectCodes], checks };
}

/** Decode step 0 as a Hello (router targets), or null. */
export function helloOfStep(step: FuzzStep | undefined): WorkerHello | null {
  if (!step) return null;
  try {
    const bodies = new FrameDecoder({ maxFrameBytes: PRE_HANDSHAKE_MAX_FRAME_BYTES }).push(stepBytes(step));
    if (bodies.length !== 1) return null;
    const f = decodeWireFrame(bodies[0]!);
    return f.type === 'hello' ? f.body : null;
  } catch {
    return null;
  }
}
