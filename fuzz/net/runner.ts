/**
 * Executes one network fuzz case against a live target and compares what it does with the
 * model's {@link Expectation}.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import { isProtocolError } from '../../src/errors.js';
import { PRE_HANDSHAKE_MAX_FRAME_BYTES } from '../../src/limits.js';
import type { Capabilities, CompressionAlgo, RouterWelcome, WireFrame, WorkerHello } from '../../src/wire/model.js';
import { FrameDecoder, Reassembler, decodeRpcPayload, decodeWireFrame, encodePacketFrames, encodeRpcPayload, encodeWireFrame } from '../../src/wire/index.js';
import { checkWelcome } from '../../src/engine/negotiation.js';
import { framed } from '../../conformance/cbor.js';
import type { Rng } from '../rng.js';
import { createRng } from '../rng.js';
import { chunkSizeViolation, compressionChoiceViolation, frameEncodingViolation, offerViolation, offeredCompressionNames, payloadEncodingViolation, rejectTextViolation, zstdHeaderViolation } from './target-checks.js';
import { SessionGenerator, helloStep, targetParity, welcomeStep, type HandshakeMutation, type HostileAction } from './generate.js';
import {
  clampLimit,
  expectedHandshake,
  helloOfStep,
  isEofStep,
  packetRuleFor,
  judgeHandshakeStep,
  judgeSession,
  stepBytes,
  type Expectation,
  type FuzzStep,
  type RouterKnowledge,
  type TargetRole,
} from './model.js';

/** One connection to the target, as a case sees it. */
export interface TargetConnection {
  socket: Duplex;
  /** Exit status of a per-connection process (spawned worker), null while running or when unknown. */
  exitStatus(): { code: number | null; signal: string | null } | null;
  /** Tail of the target's log output, when visible. */
  logTail(): string;
  /** Release the connection (and a per-connection process). */
  release(): Promise<void>;
}

/** A live implementation under test. */
export interface FuzzTarget {
  readonly role: TargetRole;
  readonly describe: string;
  /** Router: connect. Worker: wait for a (possibly freshly spawned) worker to connect. */
  open(signal: AbortSignal): Promise<TargetConnection>;
  /** False once a long-lived target process has died (router spawn mode). */
  alive(): boolean;
  /**
   * Router targets: make the router send `count` requests to the worker connected for `shardId`
   * (embedded: a direct call on the reference router; external: the target config's stimulus
   * command). Resolves once the requests were issued (or could not be); `signal` ends them.
   */
  stimulus?(shardId: number, count: number, signal: AbortSignal): Promise<void>;
  /** Whether a liveness probe on a fresh connection is meaningful (not for per-case worker processes). */
  readonly probeFreshConnection: boolean;
  /** Router targets: the router's handshake timeout when the target knows it (embedded settings), ms. */
  readonly handshakeTimeoutMs?: number;
  /** Worker targets: the worker's handshake timeout [HS-17] when the target knows it (in-process settings), ms. */
  readonly workerHandshakeTimeoutMs?: number;
  logTail(): string;
  close(): Promise<void>;
}

export interface RunOptions {
  /** Deadline for each expected answer or close, ms. Default 3000. */
  deadlineMs: number;
  /** Deadline for the handshake answer, ms. Default 3000. */
  handshakeDeadlineMs: number;
  /** Wait after the last expected event for stray duplicates, ms. Default 50. */
  graceMs: number;
  shardId: number;
  authToken: string | null;
  /** Hostile actions in use (default all). */
  actions?: readonly HostileAction[];
  /**
   * Pause between our Welcome and the first post-handshake frame (worker targets), ms. A conforming
   * worker must cope with 0; a small pause keeps cases comparable with peers that set up their
   * session state just after the handshake. Default 15.
   */
  postHandshakeDelayMs?: number;
  /** Worker targets: pause after the worker's Hello before answering, to catch early packets [HS-8], ms. Default 10. */
  preWelcomeDelayMs?: number;
  /**
   * Router targets: the router's configured handshake timeout, ms [HS-6]. Silent / stalled
   * handshakes expect the close within it (times `timeScale`, plus a margin). 0: unknown (no such cases).
   */
  routerHandshakeTimeoutMs?: number;
  /** Multiplies the handshake-timeout wait (slow machines). Default 1. */
  timeScale?: number;
  /** Router targets: a shard id the router does not admit (default 4000000000, the target config's `shards.unknown`). */
  unknownShardId?: number;
  /** Router targets: the router may refuse shards by an mTLS allowlist [SEC-4]. */
  shardAllowlist?: boolean;
  /** Router targets: restrict the Hello mutations (default all). */
  handshakeMutations?: readonly HandshakeMutation[];
  /** Router targets with a stimulus: probability that a case makes the router send requests. Default 0.3. */
  stimulusProbability?: number;
  /**
   * Grade SHOULDs as failures (`--strict`, as in the conformance suite): the worker handshake checks
   * [HS-10] [HS-15] [HS-17] and tolerance of lenient CBOR [CBOR-10] and of unit variants with body
   * null [CBOR-13]; the reject texts [HS-16], the worker's offer [NEG-5] [NEG-6] and the sender choices
   * [CHK-9] [CMP-5] [CMP-9] of what the target sends. Default false: both behaviours are allowed (the Rust worker follows none of the three handshake checks).
   */
  strict?: boolean;
  /** Worker targets: the worker's handshake timeout, ms [HS-17] (default: what the target knows; 0 = unknown, no silent cases). */
  workerHandshakeTimeoutMs?: number;
  /** Worker targets: probability of a handshake-stage mutation of our answer (packet, reject, wrong shard, invalid welcome, silence). Default 0.1. */
  workerHandshakeMutationProbability?: number;
}

/** The target config's default unknown shard (docs/target-config.md `shards.unknown`). */
export const DEFAULT_UNKNOWN_SHARD = 4_000_000_000;
/** The note of the (empty) step that makes the router send requests (kept in regression files). */
export const STIMULUS_NOTE = 'stimulus';

export const DEFAULT_RUN_OPTIONS: RunOptions = { deadlineMs: 3000, handshakeDeadlineMs: 3000, graceMs: 50, shardId: 0, authToken: null, postHandshakeDelayMs: 15, preWelcomeDelayMs: 10 };

/** The kinds of failure the oracle reports (stable names, used to keep shrinking on target). */
export type FailureKind =
  | 'crash'
  | 'no-close'
  | 'no-reject'
  | 'unexpected-close'
  | 'missing-response'
  | 'duplicate-response'
  | 'unsolicited-response'
  | 'handshake-unanswered'
  | 'bad-welcome'
  | 'admitted'
  | 'wrong-reject'
  | 'target-violation'
  | 'liveness';

export interface Failure {
  kind: FailureKind;
  rule: string;
  detail: string;
}

export interface Observation {
  handshake: 'welcome' | 'reject' | 'closed' | 'timeout' | 'other' | 'not-sent' | 'hello-received';
  rejectCode?: string;
  closed: boolean;
  closedAfterMs?: number;
  /** Response count per request id (decimal strings). */
  responses: Record<string, number>;
  probe?: 'answered' | 'closed' | 'timeout' | 'skipped';
  targetViolations: string[];
  exit?: { code: number | null; signal: string | null } | null;
  liveness?: 'ok' | string;
}

export interface CaseResult {
  steps: FuzzStep[];
  expectation: Expectation;
  observation: Observation;
  failure: Failure | null;
  /** The target role's chosen capabilities, when the handshake got that far. */
  caps?: Capabilities;
  elapsedMs: number;
}

// ---------------------------------------------------------------------------------------------
// Reading what the target sends
// ---------------------------------------------------------------------------------------------

class TargetReader {
  readonly frames: WireFrame[] = [];
  /** Body length of each frame in `frames` (frames read before the session began were decoded under the 1 MiB pre-handshake limit). */
  private readonly frameBytes: number[] = [];
  readonly responses = new Map<bigint, number>();
  readonly violations: string[] = [];
  /** Ids of the requests the target sent; the fuzzer never answers them, so all stay in flight. */
  readonly targetRequestIds = new Set<bigint>();
  targetRequests = 0;
  closed = false;
  closedAt = 0;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: PRE_HANDSHAKE_MAX_FRAME_BYTES });
  private reassembler: Reassembler | null = null;
  private caps: Capabilities | null = null;
  /** What the target sent per packet id until it is complete, for the sender checks [CHK-9] [CMP-5] [CMP-9]. */
  private readonly sentPackets = new Map<bigint, { compression: CompressionAlgo; chunkBytes: number[]; head: Uint8Array }>();
  /** Grade the sender SHOULDs [CHK-9] [CMP-5] [CMP-9] (RunOptions.strict). */
  strict = false;
  /** The body of the first frame the target sent (its Hello, for the worker offer check [NEG-5]). */
  firstBody: Uint8Array | null = null;
  private waiters: Array<() => void> = [];

  private readonly targetRole: TargetRole;

  constructor(
    private readonly socket: Duplex,
    targetRole: TargetRole,
  ) {
    this.targetRole = targetRole;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const onClose = (): void => {
      if (!this.closed) {
        this.closed = true;
        this.closedAt = performance.now();
        this.wake();
      }
    };
    socket.on('end', onClose);
    socket.on('close', onClose);
    socket.on('error', onClose);
  }

  /** Switch to the negotiated limits once the handshake is done. */
  enterSession(caps: Capabilities): void {
    this.caps = caps;
    this.decoder.maxFrameBytes = clampLimit(caps.max_frame_len);
    this.reassembler = new Reassembler({ maxPacketBytes: clampLimit(caps.max_packet_len), compression: caps.supported_compression, chunking: caps.supports_chunking });
    // frames that came in the same read as the handshake answer belong to the session
    for (const [i, f] of this.frames.entries()) {
      if (i === 0) continue;
      // [FRM-5] they were read under the pre-handshake limit: hold them to the negotiated one
      if (this.frameBytes[i]! > caps.max_frame_len) {
        this.violations.push('target sent a bad frame (FRAME_TOO_LARGE) [FRM-5]');
        return;
      }
      this.onSessionFrame(f);
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    if (this.violations.length) return; // stop interpreting after the first broken frame
    let bodies: Uint8Array[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (e) {
      const code = isProtocolError(e) ? e.code : 'error';
      // [FRM-5] a sender never writes a frame above the limit in force
      this.violations.push(`target sent a bad frame (${code}) [${code === 'FRAME_TOO_LARGE' ? (this.caps ? 'FRM-5' : 'FRM-4') : code === 'FRAME_EMPTY' ? 'FRM-2' : 'FRM-1'}]`);
      this.wake();
      return;
    }
    for (const body of bodies) {
      if (this.secrets.some((sec) => sec.length >= 4 && Buffer.from(body).includes(sec))) {
        this.violations.push('target echoed an auth token in a frame [SEC-2]');
        break;
      }
      let frame: WireFrame;
      try {
        frame = decodeWireFrame(body);
      } catch (e) {
        this.violations.push(`target sent an undecodable frame (${isProtocolError(e) ? e.code : 'error'}) [FRM-1]`);
        break;
      }
      this.frames.push(frame);
      this.frameBytes.push(body.length);
      this.firstBody ??= body;
      // [CBOR-1] an encoder emits one form only: re-encoding what decoded gives the same bytes
      const encoding = frameEncodingViolation(body, frame);
      if (encoding) {
        this.violations.push(encoding);
        break;
      }
      if (this.caps) this.onSessionFrame(frame);
    }
    this.wake();
  }

  /** [SEC-2] tokens the target must never send back (the worker's own; the router's expected one and every token our Hello carried). */
  secrets: Buffer[] = [];

  private onSessionFrame(frame: WireFrame): void {
    if (frame.type === 'packet' || frame.type === 'packet_chunk') this.onPacket(frame);
    else if (frame.type !== 'unknown') this.violations.push(`target sent ${frame.type} after the handshake [HS-7]`);
  }

  /** Frames that arrived before the session began, after the target's first handshake frame. */
  get earlyFrames(): WireFrame[] {
    return this.frames.slice(1);
  }

  private onPacket(frame: Extract<WireFrame, { type: 'packet' | 'packet_chunk' }>): void {
    if (frame.body.id === 0n) {
      this.violations.push('target used request id 0 [ID-2]');
      return;
    }
    const id = frame.body.id;
    let sent = frame.type === 'packet' ? undefined : this.sentPackets.get(id);
    if (!sent) {
      sent = { compression: frame.body.compression, chunkBytes: [], head: new Uint8Array(0) };
      if (frame.type === 'packet_chunk') this.sentPackets.set(id, sent);
    }
    sent.chunkBytes.push(frame.body.data.length);
    if (sent.head.length < 32) sent.head = Buffer.concat([sent.head, frame.body.data.subarray(0, 32 - sent.head.length)]);
    let done: { id: bigint; payload: Uint8Array } | null;
    try {
      done = this.reassembler!.accept(frame);
    } catch (e) {
      const code = isProtocolError(e) ? e.code : 'error';
      this.violations.push(`target sent a bad packet (${code}) [${packetRuleFor(code, frame.body.compression === 'zstd')}]`);
      return;
    }
    if (!done) return;
    this.sentPackets.delete(id);
    const senderIssue = this.senderViolation(frame.type === 'packet_chunk', id, sent, done.payload);
    if (senderIssue) {
      this.violations.push(senderIssue);
      return;
    }
    try {
      const p = decodeRpcPayload(done.payload, { maxPacketBytes: clampLimit(this.caps!.max_packet_len) });
      // [CBOR-1] [CBOR-4] the payload too is in the one canonical encoding
      const encoding = payloadEncodingViolation(done.payload, p);
      if (encoding) {
        this.violations.push(encoding);
        return;
      }
      if (p.type === 'response') this.responses.set(done.id, (this.responses.get(done.id) ?? 0) + 1);
      else if (p.type === 'request') {
        this.targetRequests++;
        // [ID-1] the target's own requests carry its own parity (router even, worker odd)
        const own = this.targetRole === 'router' ? 0n : 1n;
        if (done.id % 2n !== own) this.violations.push('target request with the wrong id parity [ID-1]');
        // [ID-4] we never answer, so every request it sent is still in flight: a repeated id is a duplicate in flight
        else if (this.targetRequestIds.has(done.id)) this.violations.push(`target reused the id of a request still in flight [ID-4]`);
        this.targetRequestIds.add(done.id);
      }
    } catch (e) {
      this.violations.push(`target sent an undecodable payload (${isProtocolError(e) ? e.code : 'error'}) [DATA-5]`);
    }
  }

  /**
   * A complete packet the target sent: a token hidden from the frame check by compression or a chunk
   * boundary [SEC-2], and (strict) the sender SHOULDs: chunk sizes [CHK-9], compression only for
   * payloads of 1024 bytes and up and only when shorter [CMP-5], a zstd frame header with the
   * content size and no dictionary [CMP-9].
   */
  private senderViolation(chunked: boolean, id: bigint, sent: { compression: CompressionAlgo; chunkBytes: number[]; head: Uint8Array }, payload: Uint8Array): string | null {
    if ((chunked || sent.compression !== 'none') && this.secrets.some((sec) => sec.length >= 4 && Buffer.from(payload.buffer, payload.byteOffset, payload.length).includes(sec))) {
      return `target echoed an auth token in a ${sent.compression === 'none' ? 'chunked' : 'compressed'} packet [SEC-2]`;
    }
    if (!this.strict) return null;
    if (chunked) {
      const v = chunkSizeViolation(id, sent.compression, sent.chunkBytes, clampLimit(this.caps!.max_frame_len));
      if (v) return v;
    }
    if (sent.compression === 'zstd') {
      const dataBytes = sent.chunkBytes.reduce((a, b) => a + b, 0);
      return compressionChoiceViolation(payload.length, dataBytes) ?? zstdHeaderViolation(sent.head, payload.length);
    }
    return null;
  }

  /** Wait until `pred()` holds, the connection closes, (by default) the target misbehaves, or `ms` pass. Returns pred(). */
  async waitFor(pred: () => boolean, ms: number, stopOnViolation = true): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!pred()) {
      if (this.closed || (stopOnViolation && this.violations.length)) return pred();
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /** The next handshake frame the target sent (index-th), or why there is none. */
  async handshakeFrame(index: number, ms: number): Promise<WireFrame | 'closed' | 'timeout'> {
    const got = await this.waitFor(() => this.frames.length > index, ms);
    if (got) return this.frames[index]!;
    return this.closed ? 'closed' : 'timeout';
  }

  /** A close is owed whatever the target sent meanwhile (its later frames are a consequence of not closing). */
  async waitClosed(ms: number): Promise<boolean> {
    return this.waitFor(() => this.closed, ms, false);
  }
}

/** Put a step on the wire: its bytes, or for the end-of-stream step a half-close [FRM-8]. */
function send(socket: Duplex, step: FuzzStep): void {
  if (isEofStep(step)) {
    if (!socket.destroyed && !socket.writableEnded) socket.end();
    return;
  }
  write(socket, stepBytes(step));
}

function write(socket: Duplex, bytes: Uint8Array): void {
  if (socket.destroyed || socket.writableEnded) return;
  try {
    socket.write(bytes);
  } catch {
    /* the target may already have closed */
  }
}

async function closeQuietly(socket: Duplex): Promise<void> {
  if (socket.destroyed) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      socket.destroy();
      resolve();
    }, 300);
    socket.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    socket.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A request every conforming target answers (worker: its stats; router: at least an error). */
function probeFrames(id: bigint, caps: Capabilities): Uint8Array[] | null {
  const payload = encodeRpcPayload({ type: 'request', body: { type: 'get_worker_stats' } });
  try {
    return encodePacketFrames(id, payload, {
    maxFrameBytes: caps.max_frame_len,
    maxPacketBytes: caps.max_packet_len,
    compression: caps.supported_compression,
    chunking: caps.supports_chunking,
    });
  } catch {
    return null; // limits too small to carry any request (a mutated handshake was accepted)
  }
}

function probeId(role: TargetRole, steps: readonly FuzzStep[]): bigint {
  // far from any id the generator uses, with the parity the target accepts
  return 0x7000_0000_0000_0000n + BigInt(steps.length) * 2n + targetParity(role);
}

/**
 * A close after a lenient CBOR form [CBOR-10] or a unit variant with body null [CBOR-13], sent
 * alone, refuses a SHOULD: a failure only with `strict` (as the conformance suite grades SHOULDs).
 */
function closeAllowedUnlessStrict(steps: readonly FuzzStep[], strict: boolean): boolean {
  const sent = withoutStimulus(steps);
  if (strict || sent.length !== 2) return false;
  const note = sent[1]?.note ?? '';
  return note.startsWith('tolerated lenient') || note.startsWith('tolerated unit-null-body');
}

/** The steps that put bytes on the wire (a stimulus step only asks the router to send requests). */
function withoutStimulus(steps: readonly FuzzStep[]): readonly FuzzStep[] {
  return steps.filter((s) => s.note !== STIMULUS_NOTE);
}

function ruleForUnexpectedClose(steps: readonly FuzzStep[]): string {
  // A tolerated encoding is sent alone (after the handshake; a stimulus may follow): a close refused
  // it: [FWD-1] unknown keys, [CBOR-13] a unit variant with body null, [CBOR-10] lenient CBOR.
  const sent = withoutStimulus(steps);
  const note = sent[1]?.note ?? '';
  if (sent.length === 2 && note.startsWith('tolerated ') && !note.includes('case-variant')) {
    return note.includes('unknown-key') ? 'FWD-1' : note.includes('unit-null-body') ? 'CBOR-13' : 'CBOR-10';
  }
  return steps.some((s) => !(s.note ?? '').startsWith('tolerated ') && (s.note ?? '').includes('unknown')) ? 'DATA-6' : 'DATA-1';
}

// ---------------------------------------------------------------------------------------------
// One case
// ---------------------------------------------------------------------------------------------

/**
 * Run one case. With `steps` given (replay / shrinking) they are sent as they are; otherwise
 * they are generated from `rng` (the post-handshake part after seeing the handshake answer).
 */
export async function executeCase(
  target: FuzzTarget,
  opts: RunOptions,
  source: { steps: FuzzStep[] } | { rng: Rng },
): Promise<CaseResult> {
  const t0 = performance.now();
  const role = target.role;
  const fixed = 'steps' in source ? source.steps : null;
  const rng = 'rng' in source ? source.rng : createRng(0);
  const ac = new AbortController();
  const conn = await target.open(ac.signal);
  const reader = new TargetReader(conn.socket, role);
  reader.strict = opts.strict === true;
  if (role === 'router' && opts.authToken) reader.secrets.push(Buffer.from(opts.authToken, 'utf8'));
  let holder: Holder | null = null;
  const obs: Observation = { handshake: 'not-sent', closed: false, responses: {}, targetViolations: [] };
  const steps: FuzzStep[] = [];
  let expectation: Expectation = { end: 'any', mustAnswer: [], mayAnswer: [], reason: 'not judged' };
  let failure: Failure | null = null;
  let caps: Capabilities | undefined;
  const fail = (kind: FailureKind, rule: string, detail: string): void => {
    failure ??= { kind, rule, detail };
  };

  try {
    let workerHello: WorkerHello | undefined;
    if (role === 'worker') {
      // [HS-1] the worker speaks first, with a Hello
      const first = await reader.handshakeFrame(0, opts.handshakeDeadlineMs);
      if (first === 'closed' || first === 'timeout' || first.type !== 'hello') {
        fail('target-violation', 'HS-1', `worker's first frame: ${typeof first === 'string' ? first : first.type}`);
        throw new CaseAbort();
      }
      obs.handshake = 'hello-received';
      workerHello = first.body;
      // [SEC-2] the worker's own token must never come back in a later frame (its Hello is frame 0)
      if (workerHello.auth_token) reader.secrets.push(Buffer.from(workerHello.auth_token, 'utf8'));
      // and the token the worker was given (--auth-token-file / --auth-token-env), should its Hello not carry it
      if (opts.authToken) reader.secrets.push(Buffer.from(opts.authToken, 'utf8'));
      // [NEG-5] [NEG-6] (SHOULDs, strict) the worker sanitized its own offer
      const offered = opts.strict ? offeredCompressionNames(reader.firstBody!) : null;
      const offerIssue = offered ? offerViolation(offered) : null;
      if (offerIssue) {
        fail('target-violation', offerIssue.match(/\[([A-Z]+-\d+)\]$/)![1]!, offerIssue);
        throw new CaseAbort();
      }
      // [HS-8] nothing may follow the Hello before our Welcome: wait a moment and look
      if (opts.preWelcomeDelayMs) await sleep(opts.preWelcomeDelayMs);
      if (reader.earlyFrames.length) {
        fail('target-violation', 'HS-8', `the worker sent ${reader.earlyFrames[0]!.type} before receiving a Welcome`);
        throw new CaseAbort();
      }
    }
    const workerHsTimeoutMs = opts.workerHandshakeTimeoutMs ?? target.workerHandshakeTimeoutMs ?? 0;
    const hsTimeoutMs = role === 'router' ? routerHandshakeTimeout(target, opts) : workerHsTimeoutMs;
    const step0: FuzzStep =
      fixed?.[0] ??
      (role === 'router'
        ? helloStep(rng, opts.shardId, opts.authToken, 0.15, {
            unknownShardId: opts.unknownShardId ?? DEFAULT_UNKNOWN_SHARD,
            routerHandshakeTimeoutMs: hsTimeoutMs,
            ...(opts.handshakeMutations ? { mutations: opts.handshakeMutations } : {}),
          }).step
        : welcomeStep(rng, workerHello!, 0.1, {
            mutationProbability: opts.workerHandshakeMutationProbability ?? 0.1,
            workerHandshakeTimeoutMs: workerHsTimeoutMs,
          }).step);
    steps.push(step0);
    let judged = judgeHandshakeStep(role, step0, workerHello, { strict: opts.strict === true, workerHandshakeTimeoutMs: workerHsTimeoutMs });
    const sentHello = role === 'router' ? helloOfStep(step0) : null;
    // [SEC-2] whatever token our Hello carried (the real one or one derived from it) must never come back
    if (sentHello?.auth_token) reader.secrets.push(Buffer.from(sentHello.auth_token, 'utf8'));
    // a zero-limit Hello is judged with the other checks: the order decides the Reject [HS-4]
    if (sentHello && !judged.proceed && judged.expectation.rejectCode) judged = { proceed: true, frame: { type: 'hello', body: sentHello } };
    if (!judged.proceed && judged.expectation.handshakeTimeout && hsTimeoutMs <= 0) {
      judged = { proceed: false, expectation: { ...judged.expectation, end: 'any', reason: `${judged.expectation.reason} (its timeout is unknown)` } };
    }
    let busyShard: number | undefined;
    if (sentHello && (step0.note ?? '').includes('shard-busy')) {
      // [HS-11] a holder connection takes the shard first; our Hello for it must then be refused
      holder = await openHolder(target, opts, sentHello.shard_id, ac.signal);
      if (holder.welcomed) busyShard = sentHello.shard_id;
    }
    const knowledge: RouterKnowledge = {
      authToken: opts.authToken,
      unknownShards: [opts.unknownShardId ?? DEFAULT_UNKNOWN_SHARD],
      ...(busyShard !== undefined ? { busyShard } : {}),
      ...(opts.shardAllowlist ? { shardAllowlist: true } : {}),
    };
    write(conn.socket, stepBytes(step0));
    if (!judged.proceed) {
      expectation = judged.expectation;
    } else if (role === 'router') {
      const hello = (judged.frame as Extract<WireFrame, { type: 'hello' }>).body;
      const verdict = expectedHandshake(hello, knowledge);
      const answer = await reader.handshakeFrame(0, opts.handshakeDeadlineMs);
      if (answer === 'closed' || answer === 'timeout') {
        obs.handshake = answer;
        if (answer === 'closed' && !verdict.welcome) {
          // [HS-5] a failed check sends its Reject before closing
          fail('no-reject', 'HS-5', `expected Reject ${verdict.rejectCodes.join(' or ')} (${verdict.decisive!.why}); the connection closed without it`);
        } else {
          // [HS-2] a Hello is answered with exactly one Welcome or Reject
          fail('handshake-unanswered', 'HS-2', `hello: connection ${answer === 'closed' ? 'closed' : 'silent'} without Welcome or Reject`);
        }
        throw new CaseAbort();
      }
      if (answer.type === 'reject') {
        obs.handshake = 'reject';
        obs.rejectCode = answer.body.code;
        expectation = { end: 'close', mustAnswer: [], mayAnswer: [], reason: 'router rejected the hello', rule: 'HS-5', decidedAt: 0 };
        if (!verdict.rejectCodes.includes(answer.body.code)) {
          const failing = verdict.checks.filter((c) => c.verdict === 'fail');
          // [SEC-7] without a configured token the Hello's token is ignored (never unauthorized);
          // [HS-4] several broken rules: the first check in order decides; one broken rule: its own
          // code ([SEC-1], [HS-11], [VER-1], [NEG-3])
          const rule =
            answer.body.code === 'unauthorized' && opts.authToken === null && hello.auth_token !== null ? 'SEC-7' : failing.length > 1 ? 'HS-4' : failing.length === 1 ? failing[0]!.rule : 'HS-4';
          const want = [...(verdict.welcome ? ['a Welcome'] : []), ...verdict.rejectCodes.map((c) => `Reject ${c}`)].join(' or ');
          const hint = answer.body.code === 'unauthorized' && opts.authToken === null ? ' (if the router has a token configured, give it to the fuzzer with --auth-token-file)' : '';
          fail('wrong-reject', rule, `hello answered with Reject ${answer.body.code}; expected ${want}${verdict.decisive ? ` (first failing check: ${verdict.decisive.check}, ${verdict.decisive.why})` : ''}${hint}`);
        }
        // [HS-16] (a SHOULD, strict) the message is the reject table's text (after the code: a MUST)
        const textIssue = opts.strict ? rejectTextViolation(answer.body, hello) : null;
        if (textIssue) fail('wrong-reject', 'HS-16', textIssue);
      } else if (answer.type === 'welcome' && !verdict.welcome) {
        obs.handshake = 'welcome';
        const d = verdict.decisive!;
        fail('admitted', d.rule, `the router welcomed a Hello it must refuse with Reject ${d.codes.join(' or ')} (${d.why})`);
        throw new CaseAbort();
      } else if (answer.type !== 'welcome') {
        obs.handshake = 'other';
        fail('handshake-unanswered', 'HS-2', `hello answered with ${answer.type}`);
        throw new CaseAbort();
      } else {
        obs.handshake = 'welcome';
        const welcome: RouterWelcome = answer.body;
        try {
          // negotiation never chooses more than the worker offered [NEG-1] [NEG-2] [NEG-3] [VER-1]
          checkWelcome(hello, welcome);
        } catch (e) {
          const broken = isProtocolError(e) ? String(e.details['brokenRule'] ?? 'HS-10') : 'HS-10';
          fail('bad-welcome', broken, isProtocolError(e) ? e.message : 'invalid welcome');
          throw new CaseAbort();
        }
        caps = welcome.chosen_capabilities;
        reader.enterSession(caps);
        const rest = fixed ? fixed.slice(1) : new SessionGenerator({ role, caps, shardId: hello.shard_id, rng, ...(opts.actions ? { actions: opts.actions } : {}) }).session();
        // now and then the router is made to send requests (their ids, frames and packets are checked [ID-1] [ID-2] [ID-4])
        if (!fixed && target.stimulus && rng.chance(opts.stimulusProbability ?? 0.3)) rest.push({ kind: 'raw', bytes: new Uint8Array(0), note: STIMULUS_NOTE });
        steps.push(...rest);
        for (const s of rest) send(conn.socket, s);
        expectation = judgeSession(role, caps, steps, 1, hello.shard_id);
        if (target.stimulus && rest.some(isStimulusStep)) {
          await target.stimulus(hello.shard_id, 2, ac.signal).catch(() => undefined);
          await reader.waitFor(() => reader.targetRequests >= 2, Math.min(opts.deadlineMs, 1000));
        }
      }
    } else {
      const welcome = (judged.frame as Extract<WireFrame, { type: 'welcome' }>).body;
      caps = welcome.chosen_capabilities;
      reader.enterSession(caps);
      if (opts.postHandshakeDelayMs) await sleep(opts.postHandshakeDelayMs);
      const rest = fixed ? fixed.slice(1) : new SessionGenerator({ role, caps, shardId: workerHello!.shard_id, rng, ...(opts.actions ? { actions: opts.actions } : {}) }).session();
      steps.push(...rest);
      for (const s of rest) send(conn.socket, s);
      expectation = judgeSession(role, caps, steps, 1, workerHello!.shard_id);
    }
    if (fixed && !judged.proceed) steps.push(...fixed.slice(1)); // kept in the record, not sent

    // ---- compare with the expectation ----
    const answered = (id: bigint): boolean => (reader.responses.get(id) ?? 0) > 0;
    const softClose = closeAllowedUnlessStrict(steps, opts.strict === true);
    await reader.waitFor(() => expectation.mustAnswer.every(answered) || (softClose && reader.closed), opts.deadlineMs);
    if (expectation.end === 'close') {
      // [HS-6] a handshake timeout is waited for as configured (scaled), with a margin
      const scale = opts.timeScale ?? 1;
      // [FRM-4] a refused first-frame prefix closes at once: within 3/4 of the handshake timeout (when
      // known), so a target that waits for the body and is closed by its timer is not mistaken for one
      const waitMs = expectation.handshakeTimeout
        ? Math.round((hsTimeoutMs + Math.max(1000, hsTimeoutMs / 2)) * scale)
        : expectation.beforeHandshakeTimeout && hsTimeoutMs > 0
          ? Math.min(opts.deadlineMs, Math.round(hsTimeoutMs * 0.75))
          : opts.deadlineMs;
      const closed = await reader.waitClosed(waitMs);
      if (!closed) {
        fail('no-close', expectation.rule ?? 'FRM-1', `expected the target to close (${expectation.reason}); still open after ${waitMs} ms`);
      }
      // [HS-13] a worker that receives a Reject closes without sending anything (its Hello is frame 0)
      if (role === 'worker' && expectation.rule === 'HS-13' && reader.frames.length > 1) {
        fail('target-violation', 'HS-13', `the worker sent ${reader.frames[1]!.type} after receiving a Reject`);
      }
      if (expectation.rejectCode && role === 'router') {
        const rej = reader.frames.find((f) => f.type === 'reject') as Extract<WireFrame, { type: 'reject' }> | undefined;
        const wel = reader.frames.find((f) => f.type === 'welcome');
        if (wel) fail('no-close', expectation.rule ?? 'HS-4', `expected Reject ${expectation.rejectCode} (${expectation.reason}), got Welcome`);
        else if (!rej) fail('no-reject', 'HS-5', `expected Reject ${expectation.rejectCode} (${expectation.reason}), connection closed without it`);
        else if (rej.body.code !== expectation.rejectCode) fail('no-reject', 'HS-4', `expected Reject ${expectation.rejectCode}, got ${rej.body.code}`);
      }
    } else if (expectation.end === 'open') {
      if (reader.closed && softClose) {
        obs.probe = 'skipped';
      } else if (reader.closed) {
        fail('unexpected-close', ruleForUnexpectedClose(steps), `the target closed although every frame was valid (${expectation.reason})`);
      } else if (caps && !expectation.partialFrame) {
        const id = probeId(role, steps);
        const frames = probeFrames(id, caps);
        if (frames) {
          for (const b of frames) write(conn.socket, framed(b));
          const ok = await reader.waitFor(() => answered(id), opts.deadlineMs);
          obs.probe = ok ? 'answered' : reader.closed ? 'closed' : 'timeout';
          if (!ok && reader.closed && softClose) obs.probe = 'closed';
          else if (!ok && reader.closed) fail('unexpected-close', ruleForUnexpectedClose(steps), 'the target closed although every frame was valid');
          else if (!ok) fail('missing-response', 'DATA-1', `a valid request on the same connection was not answered within ${opts.deadlineMs} ms`);
          expectation = { ...expectation, mustAnswer: [...expectation.mustAnswer, id] };
        } else obs.probe = 'skipped';
      }
    }
    await sleep(opts.graceMs);
    // a request that must never be answered [FWD-4]: positive confirmation instead of a fixed window,
    // a valid request right behind it on the same connection; frames are handled in order, so once
    // that one is answered an answer to the forbidden one would have been sent too
    const never = expectation.neverAnswer ?? [];
    if (never.length && !reader.closed && caps && expectation.end === 'any' && !expectation.partialFrame) {
      const id = probeId(role, steps);
      const frames = probeFrames(id, caps);
      if (frames) {
        for (const b of frames) write(conn.socket, framed(b));
        expectation = { ...expectation, mayAnswer: [...expectation.mayAnswer, id] };
        await reader.waitFor(() => answered(id) || never.some((n) => answered(n.id)), opts.deadlineMs);
        await reader.waitFor(() => never.some((n) => answered(n.id)), 100);
      }
    }
    // [FRM-8] a request inside a frame the stream ended in is never processed; [FWD-4] nor one inside an other-case variant
    for (const { id, rule } of expectation.neverAnswer ?? []) {
      if (reader.responses.has(id)) {
        fail('unsolicited-response', rule, `request id ${id} was answered although ${rule === 'FRM-8' ? 'its frame was cut off by the end of the stream' : 'it came in an unknown (other-case) variant'}`);
      }
    }
    // exactly one response per request [DATA-1]
    const allowed = new Set([...expectation.mustAnswer, ...expectation.mayAnswer]);
    for (const [id, n] of reader.responses) {
      if (n > 1) fail('duplicate-response', 'DATA-1', `request id ${id} answered ${n} times`);
      if (!allowed.has(id)) fail('unsolicited-response', 'DATA-1', `response for id ${id}, which was never a request`);
    }
    for (const id of expectation.mustAnswer) {
      if (answered(id)) continue;
      if (reader.closed && softClose) continue;
      if (!reader.closed) fail('missing-response', 'DATA-1', `request id ${id} not answered within ${opts.deadlineMs} ms`);
      else if (expectation.end === 'open') fail('unexpected-close', ruleForUnexpectedClose(steps), `closed before answering request id ${id}`);
      // an answer owed before a required close (Shutdown) [DATA-8]
      else fail('missing-response', expectation.rule ?? 'DATA-1', `closed without answering request id ${id} (${expectation.reason})`);
    }
  } catch (e) {
    if (!(e instanceof CaseAbort)) throw e;
  } finally {
    obs.closed = reader.closed;
    if (reader.closed) obs.closedAfterMs = Math.round(reader.closedAt - t0);
    obs.responses = Object.fromEntries([...reader.responses].map(([k, v]) => [k.toString(), v]));
    obs.targetViolations = [...reader.violations];
    await closeQuietly(conn.socket);
    if (holder) await holder.release();
    obs.exit = conn.exitStatus();
    await conn.release();
    ac.abort();
  }
  // The target's own broken output explains everything after it (also a handshake it cut short):
  // it takes precedence, except over a close it owed for our input first (what it sent instead is a consequence).
  if (reader.violations.length && (failure as Failure | null)?.kind !== 'no-close') {
    failure = { kind: 'target-violation', rule: reader.violations[0]!.match(/\[([A-Z]+-\d+)\]/)?.[1] ?? 'FRM-1', detail: reader.violations[0]! };
  }
  // a crash of a per-connection process (killed by a signal) or of the long-lived target
  const exit = obs.exit;
  if (exit && exit.signal && exit.signal !== 'SIGTERM' && exit.signal !== 'SIGKILL') {
    failure = { kind: 'crash', rule: expectation.rule ?? 'DATA-5', detail: `the target process died with ${exit.signal}` };
  }
  // give a dying long-lived process a moment to be reaped before asking whether it is alive
  if (obs.closed && target.alive()) await sleep(30);
  if (!target.alive()) failure = { kind: 'crash', rule: expectation.rule ?? 'DATA-5', detail: 'the target process exited' };
  return { steps, expectation, observation: obs, failure, ...(caps ? { caps } : {}), elapsedMs: performance.now() - t0 };
}

class CaseAbort extends Error {}

/** The (empty) step that makes the router send requests. */
export function isStimulusStep(s: FuzzStep): boolean {
  return s.kind === 'raw' && s.bytes.length === 0 && s.note === STIMULUS_NOTE;
}

/** The router's handshake timeout the fuzzer relies on [HS-6]: given, known to the target, or the spec's 5 s. */
function routerHandshakeTimeout(target: FuzzTarget, opts: RunOptions): number {
  return opts.routerHandshakeTimeoutMs ?? target.handshakeTimeoutMs ?? 5000;
}

interface Holder {
  welcomed: boolean;
  release(): Promise<void>;
}

/** A second connection with a valid Hello for `shardId` (the shard-busy mutation [HS-11]). */
async function openHolder(target: FuzzTarget, opts: RunOptions, shardId: number, signal: AbortSignal): Promise<Holder> {
  const conn = await target.open(signal);
  const reader = new TargetReader(conn.socket, 'router');
  const hello: WorkerHello = {
    shard_id: shardId,
    auth_token: opts.authToken,
    supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
    capabilities: { max_frame_len: 65_536, max_packet_len: 1 << 20, supported_compression: ['none'], supports_cancel: true, supports_chunking: true },
    cached_index_info: null,
    worker_build: null,
  };
  write(conn.socket, framed(encodeWireFrame({ type: 'hello', body: hello })));
  const answer = await reader.handshakeFrame(0, opts.handshakeDeadlineMs);
  return {
    welcomed: typeof answer !== 'string' && answer.type === 'welcome' && !reader.closed,
    async release() {
      await closeQuietly(conn.socket);
      await conn.release();
    },
  };
}

/**
 * Liveness: a fresh connection with a valid handshake and one request must be served.
 * Returns null when the target is alive, else a description.
 */
export async function livenessProbe(target: FuzzTarget, opts: RunOptions): Promise<string | null> {
  const ac = new AbortController();
  let conn: TargetConnection;
  try {
    conn = await target.open(ac.signal);
  } catch (e) {
    return `cannot open a fresh connection: ${(e as Error).message.split('\n')[0]}`;
  }
  const reader = new TargetReader(conn.socket, target.role);
  try {
    const rng = createRng(0x11fe);
    let caps: Capabilities;
    if (target.role === 'router') {
      const hello: WorkerHello = {
        shard_id: opts.shardId,
        auth_token: opts.authToken,
        supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
        capabilities: { max_frame_len: 65_536, max_packet_len: 1 << 20, supported_compression: ['none'], supports_cancel: true, supports_chunking: true },
        cached_index_info: null,
        worker_build: null,
      };
      const body = encodeWireFrame({ type: 'hello', body: hello });
      write(conn.socket, framed(body));
      const answer = await reader.handshakeFrame(0, opts.handshakeDeadlineMs);
      if (typeof answer === 'string') return `fresh connection: hello ${answer === 'closed' ? 'answered by a close' : 'not answered'}`;
      if (answer.type !== 'welcome') return `fresh connection: hello answered with ${answer.type}${answer.type === 'reject' ? ` ${answer.body.code}` : ''}`;
      caps = answer.body.chosen_capabilities;
    } else {
      const first = await reader.handshakeFrame(0, opts.handshakeDeadlineMs);
      if (typeof first === 'string' || first.type !== 'hello') return 'fresh connection: no hello from the worker';
      const { welcome, step } = welcomeStep(rng, first.body, 0);
      if (!welcome) return 'fresh connection: cannot negotiate with the worker hello';
      write(conn.socket, stepBytes(step));
      caps = welcome.chosen_capabilities;
    }
    reader.enterSession(caps);
    const id = targetParity(target.role) === 1n ? 1n : 2n;
    for (const b of probeFrames(id, caps) ?? []) write(conn.socket, framed(b));
    const ok = await reader.waitFor(() => (reader.responses.get(id) ?? 0) > 0, opts.deadlineMs);
    if (!ok) return `fresh connection: request ${reader.closed ? 'answered by a close' : `not answered within ${opts.deadlineMs} ms`}`;
    return null;
  } finally {
    await closeQuietly(conn.socket);
    await conn.release();
    ac.abort();
  }
}
