/**
 * The protocol engine: one multiplexed RPC connection, for either role, over any node `Duplex`
 * (`net.Socket`, `tls.TLSSocket`, or the in-memory pair of `memory-duplex.ts`).
 *
 * - {@link workerHandshake} sends Hello, waits for Welcome (or Reject) and returns an open {@link RpcConnection}.
 * - {@link routerHandshake} reads a Hello, answers Welcome or Reject (Rust order, see negotiation.ts) and returns
 *   the open connection or the Reject it sent.
 * - {@link RpcConnection.call} sends a Request and resolves with the matching Response (answered in any order,
 *   [DATA-2]); incoming Requests go to the request handler, exactly one terminal Response each [DATA-1].
 *
 * Decisions where the Rust reference is silent or odd (documented in the spec's engine notes):
 * - Cancel is only SENT when it was negotiated (Rust sends it regardless). Without it an aborted call fails locally.
 * - An aborted / timed-out call rejects at once with CANCELLED / TIMEOUT (like nova-router, which stops waiting);
 *   its id stays reserved until the peer's terminal Response arrives, which is then consumed silently. With
 *   `waitForTerminalResponse: true` an aborted call instead keeps waiting for that terminal Response [CAN-3].
 * - An incoming Cancel whose id matches one of OUR pending outgoing calls completes that call as CANCELLED
 *   (Rust behaviour, rpc:1418-1424); set `cancelCompletesOwnCall: false` to only cancel incoming requests.
 * - Every per-call timeout is local to the call; the connection stays open (nova-router instead closes it).
 * - Every protocol violation closes the connection at once (queued writes are dropped) with a typed
 *   {@link ProtocolError} whose `rule` is the spec id. A local `close()` is graceful: queued frames are flushed.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import { ErrorCodes, ProtocolError, isProtocolError } from '../errors.js';
import {
  HANDSHAKE_TIMEOUT_MS,
  HARD_MAX_MESSAGE_BYTES,
  LENGTH_PREFIX_BYTES,
  MAX_BUFFERED_NOTIFICATIONS,
  MAX_CONCURRENT_REASSEMBLIES,
  MAX_REASSEMBLY_TOTAL_BYTES,
  MISSING_HANDLER_WAIT_MS,
  PRE_HANDSHAKE_MAX_FRAME_BYTES,
  WRITE_QUEUE_MAX_FRAMES,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_PACKET_BYTES,
  COMPRESSION_THRESHOLD_BYTES,
  GRACEFUL_CLOSE_TIMEOUT_MS,
  WRITE_BUFFER_HIGH_WATER_BYTES,
} from '../limits.js';
import {
  FrameDecoder,
  Reassembler,
  decodeRpcPayload,
  decodeWireFrame,
  encodeWireFrame,
  zstdAvailable,
} from '../wire/index.js';
import { encodePrefixedPacket, encodeRpcPayloadShared, isSharedEncoding } from '../wire/codec.js';
import { Socket } from 'node:net';
import { BulkRequestReader, decodeBulkRequestPayload, planBulkRequestPayload, type BulkPayloadWriter } from '../wire/bulk-payload.js';
import { encodePacketFrameParts, planPacketFrames, type PacketFrameParts } from '../wire/packet.js';
import { decodePacketChunkHead, type PacketChunkHead } from '../wire/chunk-head.js';
import type { FrameSink } from '../wire/frame.js';

/**
 * How long the reassembler keeps a finished payload's buffer for the next chunked payload.
 * Back-to-back transfers reuse it (no fresh page faults); a pause frees it, so idle connections
 * hold no payload-sized memory. A tuning value, not a protocol limit (not in limits.ts).
 */
const SPARE_REASSEMBLY_BUFFER_IDLE_MS = 1_000;

/**
 * Payloads from this size are tried with the bulk request reader first. Both decoders give the same
 * result, so this is only a speed choice: below it the reader's setup costs more than it saves.
 */
const BULK_DECODE_FROM_BYTES = 1024;
import type {
  CachedIndexInfo,
  Capabilities,
  HandshakeReject,
  Notification,
  ProtocolVersion,
  RejectCode,
  Request,
  Response,
  RouterWelcome,
  RpcError,
  RpcErrorCode,
  RpcPayload,
  RpcResult,
  SupportedVersions,
  WireFrame,
  WireFrameType,
  WorkerHello,
} from '../wire/model.js';
import { IncomingIdTracker, RequestIdAllocator, type Role } from './ids.js';
import {
  checkOwnCapabilities,
  checkWelcome,
  negotiateHello,
  sanitizeCapabilities,
  type AdmissionDecision,
} from './negotiation.js';
import { ConnectionStateMachine, type ConnectionState } from './state.js';

export type { Role } from './ids.js';
export type { ConnectionState } from './state.js';
export type { AdmissionDecision } from './negotiation.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** Options of one {@link RpcConnection.call}. */
export interface CallOptions {
  /** Aborting sends a Cancel packet (only when cancel was negotiated) and fails the call with CANCELLED. */
  signal?: AbortSignal;
  /** Per-call timeout in ms (default: the connection's `defaultCallTimeoutMs`, none if unset). Fails with TIMEOUT and sends Cancel if negotiated. */
  timeoutMs?: number;
  /**
   * After an abort, keep waiting for the peer's one terminal Response instead of failing at once [CAN-3]
   * (an `err` with code `cancelled` then fails the call with CANCELLED). Only when cancel was negotiated;
   * otherwise the call fails locally at once. Default false.
   */
  waitForTerminalResponse?: boolean;
}

/** What a request handler gets besides the request. */
export interface RequestContext {
  /** The request id (the peer's parity). */
  readonly id: bigint;
  /** Aborted when the peer cancels this request (cancel negotiated) or the connection closes. */
  readonly signal: AbortSignal;
  readonly connection: RpcConnection;
  /** Close the connection gracefully right after this request's response is queued (e.g. Shutdown, [DATA-8]). */
  closeAfterResponse(): void;
}

/**
 * Answers one incoming Request. Its result is sent as the one terminal Response [DATA-1].
 * A throw is answered with `internal` "request handler failed" (the thrown text is never sent).
 */
export type RequestHandler = (request: Request, ctx: RequestContext) => Promise<RpcResult> | RpcResult;

export interface NotificationContext {
  readonly id: bigint;
  readonly connection: RpcConnection;
}
/** Receives known notifications (unknown ones are ignored [DATA-6]). Throws are caught and reported as events. */
export type NotificationHandler = (notification: Notification, ctx: NotificationContext) => void | Promise<void>;

/** JSON-able summary of capabilities for events (our own enum names only). */
export type CapabilitiesSummary = Capabilities;

/**
 * Structured protocol events for the peers' JSON log lines. Never contains an auth token or peer free text
 * (Reject / RpcError messages from the peer are omitted; only codes).
 */
export type EngineEvent =
  | { type: 'state'; role: Role; from: ConnectionState; to: ConnectionState }
  | {
      type: 'hello_sent' | 'hello_received';
      role: Role;
      shardId: number;
      versions: SupportedVersions;
      capabilities: CapabilitiesSummary;
      /** Whether the Hello carried a token (never the token). */
      hasAuthToken: boolean;
    }
  | {
      type: 'welcome_sent' | 'welcome_received';
      role: Role;
      workerId: number;
      shardId: number;
      revision: bigint;
      version: ProtocolVersion;
      capabilities: CapabilitiesSummary;
    }
  | { type: 'reject_sent'; role: Role; code: RejectCode; message: string }
  | { type: 'reject_received'; role: Role; code: RejectCode }
  | { type: 'frame_sent' | 'frame_received'; role: Role; frameType: WireFrameType | 'raw'; bytes: number; id?: bigint }
  | { type: 'request_sent' | 'request_received'; role: Role; id: bigint; requestType: Request['type'] }
  | {
      type: 'response_sent' | 'response_received';
      role: Role;
      id: bigint;
      status: RpcResult['status'];
      errorCode?: RpcErrorCode;
    }
  | { type: 'notification_sent' | 'notification_received'; role: Role; id: bigint; notificationType: Notification['type'] }
  | { type: 'cancel_sent' | 'cancel_received'; role: Role; id: bigint }
  | {
      type: 'ignored';
      role: Role;
      reason:
        | 'unknown_frame'
        | 'unknown_payload'
        | 'unknown_notification'
        | 'unknown_response_id'
        | 'late_response'
        | 'cancel_not_negotiated'
        | 'cancel_unknown_id'
        | 'notification_dropped'
        | 'notification_handler_failed';
      id?: bigint;
    }
  | { type: 'handler_failed'; role: Role; id: bigint }
  | { type: 'closed'; role: Role; error: ReturnType<ProtocolError['toJSON']> | null };

/**
 * TEST-ONLY fault injection, used by the reference peers (`--fault NAME`) to misbehave on purpose.
 * Never set in production code. Every hook is optional; absent hooks cost nothing.
 */
export interface FaultHooks {
  /** Replace the id of an outgoing request or notification (`allocated` is what the allocator gave). */
  overrideId?: (allocated: bigint, kind: 'request' | 'notification') => bigint;
  /**
   * Called with each outgoing post-handshake WireFrame in decoded form (only decoded when this hook is set).
   * Return the frame (possibly modified), several frames (duplication / insertion), or null to drop it.
   */
  mutateOutgoingFrame?: (frame: WireFrame) => WireFrame | WireFrame[] | null;
  /** Called with each outgoing encoded WireFrame body (no prefix), after `mutateOutgoingFrame`. Same return convention. */
  mutateOutgoingBytes?: (body: Uint8Array) => Uint8Array | Uint8Array[] | null;
  /** Send packets as if max_frame_len were the 64 MiB hard cap (never chunk, exceed the negotiated frame limit). */
  ignoreNegotiatedFrameLimit?: boolean;
  /** Receive with this frame limit instead of the negotiated max_frame_len. */
  receiveFrameLimitBytes?: number;
  /** Skip the parity [ID-3] and duplicate [ID-4] checks on incoming requests. */
  skipIncomingIdChecks?: boolean;
  /** Router: rewrite the Welcome just before it is sent (the router itself keeps using the real choices). */
  mutateWelcome?: (welcome: RouterWelcome) => RouterWelcome;
  /** Worker: rewrite the Hello just before it is sent (after sanitizing). The worker checks Welcome against the mutated offer. */
  mutateHello?: (hello: WorkerHello) => WorkerHello;
  /** Do not sanitize our own capability offer [NEG-5]. */
  skipOwnSanitize?: boolean;
  /** Resolve a call with whatever `ok` variant the peer sent, skipping the pairing check [DATA-20]. */
  skipResponsePairingCheck?: boolean;
}

/** Options shared by both roles once the connection is open. */
export interface ConnectionOptions {
  /** Handler for incoming requests; may also be set later with {@link RpcConnection.setRequestHandler}. */
  requestHandler?: RequestHandler;
  /** Handler for incoming notifications; up to `maxBufferedNotifications` are buffered until one is set. */
  notificationHandler?: NotificationHandler;
  /** How long a request waits for a handler before the `invalid_request` "no request handler installed" answer. Default 500. */
  missingHandlerWaitMs?: number;
  /** Notifications buffered before a handler is set; the oldest is dropped beyond it. Default 16. */
  maxBufferedNotifications?: number;
  /** Frames queued while the stream is applying backpressure before writers wait. Default 256. */
  writeQueueMaxFrames?: number;
  /**
   * Bytes the stream may buffer (its `writableLength`) before the engine stops writing and queues instead.
   * Larger than node's 16 KiB default so that hundreds of small frames leave in one writev. Default 1 MiB.
   */
  writeBufferHighWaterBytes?: number;
  /** Default per-call timeout in ms. Default none. */
  defaultCallTimeoutMs?: number;
  /** Payloads below this are never compressed. Default 1024 [CMP-5]. */
  compressionThresholdBytes?: number;
  /** Concurrent reassemblies before the connection closes. Default 32 [CHK-5]. */
  maxConcurrentReassemblies?: number;
  /** Bytes buffered across reassemblies before the connection closes. Default 256 MiB [CHK-6]. */
  maxReassemblyBytes?: number;
  /** How long a graceful {@link RpcConnection.close} may flush queued frames before destroying the stream. Default 2000. */
  gracefulCloseTimeoutMs?: number;
  /** An incoming Cancel also fails our own pending call with that id (Rust behaviour). Default true. */
  cancelCompletesOwnCall?: boolean;
  /**
   * After the handshake, an unknown WireFrame / RpcPayload / Response / Notification variant with a
   * non-null body: `'reject'` closes like the Rust reference (default), `'ignore'` treats it like a
   * body-less unknown variant [FWD-5] (see the codec's DecodeOptions).
   */
  unknownVariantBody?: 'reject' | 'ignore';
  /** Structured events (see {@link EngineEvent}). Exceptions thrown by it are swallowed. */
  onEvent?: (event: EngineEvent) => void;
  /** TEST-ONLY. See {@link FaultHooks}. */
  faultHooks?: FaultHooks;
}

/**
 * [MSG-8] [DATA-20] The `ok` Response variant that answers each Request variant (nova-worker's answers;
 * nova-router treats any other ok variant as "unexpected worker response"). `update_file` is answered
 * with the rebuilt `shard_index`, not `ack`. A request of unknown type has no pairing.
 */
export const RESPONSE_FOR_REQUEST: Readonly<Record<Exclude<Request['type'], 'unknown'>, Response['type']>> = Object.freeze({
  load_files: 'ack',
  index_shard: 'shard_index',
  update_file: 'shard_index',
  diagnostics: 'diagnostics',
  get_worker_stats: 'worker_stats',
  shutdown: 'shutdown',
});

/** Does an `ok` response of type `response` answer a request of type `request` ([DATA-20])? */
export function responseFitsRequest(request: Request['type'], response: Response['type']): boolean {
  if (response === 'unknown') return false;
  return request === 'unknown' || RESPONSE_FOR_REQUEST[request] === response;
}

/** Default protocol version range offered by both roles: 3.0 only [VER-2]. */
export const DEFAULT_SUPPORTED_VERSIONS: SupportedVersions = Object.freeze({
  min: Object.freeze({ major: 3, minor: 0 }),
  max: Object.freeze({ major: 3, minor: 0 }),
}) as SupportedVersions;

/** Default offer (nova-remote-rpc RouterConfig/WorkerConfig defaults): 64 MiB limits, [zstd, none], cancel, chunking. Sanitized before use. */
export function defaultCapabilities(): Capabilities {
  return {
    max_frame_len: DEFAULT_MAX_FRAME_BYTES,
    max_packet_len: DEFAULT_MAX_PACKET_BYTES,
    supported_compression: ['zstd', 'none'],
    supports_cancel: true,
    supports_chunking: true,
  };
}

export interface HandshakeOptions extends ConnectionOptions {
  /** Whole-handshake timeout in ms; 0 disables it. Default 5000 [HS-6] [LIM-2]. */
  handshakeTimeoutMs?: number;
  /** Protocol version range we offer. Default 3.0..3.0. */
  supportedVersions?: SupportedVersions;
  /** Our capability offer (sanitized before use, [NEG-5]). Default {@link defaultCapabilities}. */
  capabilities?: Capabilities;
}

export interface WorkerHandshakeOptions extends HandshakeOptions {
  shardId: number;
  /** Sent in the Hello; never logged or echoed. */
  authToken?: string | null;
  cachedIndexInfo?: CachedIndexInfo | null;
  workerBuild?: string | null;
  /** Refuse a Welcome that breaks the negotiation rules [HS-10]. Default true (the Rust worker does not check). */
  checkWelcome?: boolean;
}

export interface RouterHandshakeOptions extends HandshakeOptions {
  /** Expected token; unset = the Hello's token is ignored [SEC-1]. */
  authToken?: string | null;
  /**
   * Admission, run after the protocol checks [HS-4] [HS-11]; may be async. Its Reject code/message are sent as is.
   * The hello passed here still carries the token (compare it with a constant-time check if you need it).
   */
  admit?: (hello: WorkerHello, chosen: { version: ProtocolVersion; capabilities: Capabilities }) => AdmissionDecision | Promise<AdmissionDecision>;
  /** worker_id / revision when there is no `admit` hook. Defaults 1 / 0. */
  workerId?: number;
  revision?: bigint;
}

/** The outcome of {@link routerHandshake}. `hello.auth_token` is redacted to null. */
export type RouterHandshakeResult =
  | { kind: 'welcome'; connection: RpcConnection; hello: WorkerHello; welcome: RouterWelcome }
  | { kind: 'reject'; hello: WorkerHello; reject: HandshakeReject };

/** What the handshake fixed for the connection's lifetime. */
export interface NegotiatedParameters {
  role: Role;
  version: ProtocolVersion;
  /** The chosen capabilities in force [NEG-4]. */
  capabilities: Capabilities;
  workerId: number;
  shardId: number;
  revision: bigint;
}

/**
 * A failed call whose peer answered with an RpcError (code REMOTE_ERROR, or CANCELLED for `cancelled`).
 * `rpcError` is the peer's error verbatim — it holds PEER TEXT, so never log its message unfiltered.
 * `details` only carries `rpcCode` and `retryable`.
 */
export class RemoteCallError extends ProtocolError {
  readonly rpcError: RpcError;
  constructor(code: typeof ErrorCodes.REMOTE_ERROR | typeof ErrorCodes.CANCELLED, rpcError: RpcError, id: bigint) {
    super(code, code === ErrorCodes.CANCELLED ? 'call cancelled by the peer' : `remote error: ${rpcError.code}`, {
      rule: 'ERR-1',
      details: { rpcCode: rpcError.code, retryable: rpcError.retryable, id },
    });
    this.rpcError = rpcError;
  }
}

/** The router refused our Hello. `reject` holds the peer's code and message (PEER TEXT: do not log the message unfiltered). */
export class HandshakeRejectedError extends ProtocolError {
  readonly reject: HandshakeReject;
  constructor(reject: HandshakeReject) {
    super(ErrorCodes.HANDSHAKE_REJECTED, `handshake rejected (code=${reject.code})`, {
      rule: 'HS-5',
      details: { rejectCode: reject.code },
    });
    this.reject = reject;
  }
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

interface InflightRequest {
  controller: AbortController | null;
  /** Set when a cancel (or close) arrived before the handler looked at its signal. */
  abortReason: ProtocolError | null;
}

function inflightSignal(r: InflightRequest): AbortSignal {
  if (!r.controller) {
    r.controller = new AbortController();
    if (r.abortReason) r.controller.abort(r.abortReason);
  }
  return r.controller.signal;
}

function abortInflight(r: InflightRequest, reason: ProtocolError): void {
  if (r.controller) r.controller.abort(reason);
  else r.abortReason ??= reason;
}

/** One outgoing call waiting for its Response (a class: no per-call closures on the hot path). */
class PendingCall {
  /** Settled locally (abort / timeout); the entry only waits to swallow the late terminal response. */
  abandoned = false;
  /** Aborted but still waiting for the terminal response. */
  waitingTerminal = false;
  settled = false;
  timer: NodeJS.Timeout | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  readonly #resolve: (r: Response) => void;
  readonly #reject: (e: ProtocolError) => void;
  /** The request's type, for the pairing check [DATA-20]. */
  readonly requestType: Request['type'];

  constructor(resolve: (r: Response) => void, reject: (e: ProtocolError) => void, requestType: Request['type']) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.requestType = requestType;
  }

  resolve(r: Response): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    this.#resolve(r);
  }

  reject(e: ProtocolError): void {
    if (this.settled) return;
    this.settled = true;
    this.cleanup();
    this.#reject(e);
  }

  cleanup(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** The context handed to a request handler (a class: the signal's AbortController is created lazily). */
class HandlerContext implements RequestContext {
  closeAfter = false;
  readonly id: bigint;
  readonly connection: RpcConnection;
  readonly #inflight: InflightRequest;

  constructor(id: bigint, connection: RpcConnection, inflight: InflightRequest) {
    this.id = id;
    this.connection = connection;
    this.#inflight = inflight;
  }

  get signal(): AbortSignal {
    return inflightSignal(this.#inflight);
  }

  closeAfterResponse(): void {
    this.closeAfter = true;
  }
}


function lengthPrefix(n: number): Uint8Array {
  const b = new Uint8Array(LENGTH_PREFIX_BYTES);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** One buffer holding prefix + body for small frames (one write), prefix + head and data apart for big ones (no copy). */
const COALESCE_BELOW_BYTES = 16 * 1024;

const EMPTY_BYTES = new Uint8Array(0);
/** Bytes of frame buffers kept for reuse by a socket connection's bulk sends (see #plannedFrame): a few 1 MiB frames. */
const FRAME_POOL_MAX_BYTES = 8 * 1024 * 1024;

/**
 * A frame to write: encoded parts, or (bulk requests) a planned frame whose data is written from
 * the payload writer when the frame is sent, so no payload-sized buffer is ever built.
 */
interface OutFrame extends PacketFrameParts {
  writer?: BulkPayloadWriter;
  /** The whole frame, prefix included (small Packets): written as is; `head` and `data` are empty. */
  framed?: Uint8Array;
}

/** Payloads below this are sent through the one-buffer small-frame path (see #encodePayload). */
const SMALL_FRAME_MAX_BYTES = 8 * 1024;

/** The buffers of one write unit; `flushed` runs once the stream is done with them. */
type WriteUnit = Uint8Array[] & { flushed?: () => void };

function joinParts(f: PacketFrameParts): Uint8Array {
  if (f.data.length === 0) return f.head;
  const body = new Uint8Array(f.bodyBytes);
  body.set(f.head, 0);
  body.set(f.data, f.head.length);
  return body;
}

/** The frame type of an encoded body as our encoder writes it ({"type": "packet" | "packet_chunk", ...}), for events only. */
function sniffFrameType(body: Uint8Array): WireFrameType {
  // a2 64 't' 'y' 'p' 'e' <text header>: 0x66 = 6-byte "packet", 0x6c = 12-byte "packet_chunk"
  return body[6] === 0x6c ? 'packet_chunk' : 'packet';
}

function closedError(message: string): ProtocolError {
  return new ProtocolError(ErrorCodes.CONNECTION_CLOSED, message);
}

function asProtocolError(e: unknown, fallbackMessage: string): ProtocolError {
  if (isProtocolError(e)) return e;
  return new ProtocolError(ErrorCodes.TRANSPORT_ERROR, fallbackMessage, {
    details: typeof (e as { code?: unknown })?.code === 'string' ? { errno: String((e as { code: string }).code) } : {},
    cause: e,
  });
}

function redactHello(hello: WorkerHello): WorkerHello {
  return { ...hello, auth_token: null };
}

/** Internal construction data for {@link RpcConnection}; use the handshake helpers instead. */
export interface ConnectionInit {
  role: Role;
  negotiated: NegotiatedParameters;
  /** Bytes received after the handshake frame, in order. */
  leftover: Uint8Array[];
  /** The peer's Hello (router side, token redacted) or our own (worker side, token redacted). */
  hello: WorkerHello;
  welcome: RouterWelcome;
}

// ---------------------------------------------------------------------------------------------
// RpcConnection
// ---------------------------------------------------------------------------------------------

/**
 * An open, multiplexed nova remote RPC v3 connection. Obtain one from {@link workerHandshake} or
 * {@link routerHandshake}.
 */
export class RpcConnection {
  readonly role: Role;
  /** The parameters in force after the handshake [NEG-4]. */
  readonly negotiated: NegotiatedParameters;
  /** The Hello of this connection (auth token redacted). */
  readonly hello: WorkerHello;
  /** The Welcome as the router chose it (router side: before any fault mutation). */
  readonly welcome: RouterWelcome;
  /** Resolves (never rejects) once the connection is closed: the first error, or null for a clean local close. */
  readonly closed: Promise<ProtocolError | null>;

  readonly #stream: Duplex;
  readonly #state: ConnectionStateMachine;
  readonly #decoder: FrameDecoder;
  readonly #reassembler: Reassembler;
  /** Drops the reassembler's kept buffer once chunked traffic pauses: an idle connection holds no payload-sized memory. */
  #spareBufferTimer: NodeJS.Timeout | undefined;
  readonly #ids: RequestIdAllocator;
  readonly #incoming: IncomingIdTracker;
  readonly #pending = new Map<bigint, PendingCall>();
  /** Incoming requests being handled; the AbortController is created only when a handler reads `ctx.signal`. */
  readonly #inflight = new Map<bigint, InflightRequest>();
  readonly #opts: ConnectionOptions;
  readonly #faults: FaultHooks;
  readonly #onEvent: ((e: EngineEvent) => void) | undefined;
  readonly #missingHandlerWaitMs: number;
  readonly #maxBufferedNotifications: number;
  readonly #writeQueueMaxFrames: number;
  readonly #writeHighWaterBytes: number;
  /** Decode limits of incoming payloads (one object, so the codec's resolved limits are reused). */
  readonly #payloadLimits: { maxPacketBytes: number };
  readonly #packetOpts: {
    maxFrameBytes: number;
    maxPacketBytes: number;
    compression: readonly Capabilities['supported_compression'][number][];
    chunking: boolean;
    compressionThresholdBytes: number;
  };
  #requestHandler: RequestHandler | null;
  #notificationHandler: NotificationHandler | null;
  #handlerWaiters: Array<() => void> = [];
  #bufferedNotifications: Array<{ id: bigint; notification: Notification }> = [];
  #closeError: ProtocolError | null = null;
  #resolveClosed!: (e: ProtocolError | null) => void;
  // write side
  #writeQueue: Uint8Array[][] = [];
  #needDrain = false;
  #spaceWaiters: Array<() => void> = [];
  #gracefulClose: Promise<void> | null = null;

  /** @internal Use {@link workerHandshake} / {@link routerHandshake}. */
  constructor(stream: Duplex, init: ConnectionInit, opts: ConnectionOptions = {}) {
    this.role = init.role;
    this.negotiated = init.negotiated;
    this.hello = init.hello;
    this.welcome = init.welcome;
    this.#stream = stream;
    this.#opts = opts;
    this.#faults = opts.faultHooks ?? {};
    this.#onEvent = opts.onEvent;
    this.#missingHandlerWaitMs = opts.missingHandlerWaitMs ?? MISSING_HANDLER_WAIT_MS;
    this.#maxBufferedNotifications = opts.maxBufferedNotifications ?? MAX_BUFFERED_NOTIFICATIONS;
    this.#writeQueueMaxFrames = opts.writeQueueMaxFrames ?? WRITE_QUEUE_MAX_FRAMES;
    this.#writeHighWaterBytes = opts.writeBufferHighWaterBytes ?? WRITE_BUFFER_HIGH_WATER_BYTES;
    this.#requestHandler = opts.requestHandler ?? null;
    this.#notificationHandler = opts.notificationHandler ?? null;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    // The handshake helpers did the awaiting_* part; record the step to open for the event log.
    this.#state = new ConnectionStateMachine(init.role === 'router' ? 'awaiting_hello' : 'awaiting_welcome', (from, to) =>
      this.#emit({ type: 'state', role: this.role, from, to }),
    );
    this.#state.transition(['awaiting_hello', 'awaiting_welcome'], 'open');
    const caps = init.negotiated.capabilities;
    // [FRM-5] after the handshake the frame limit is the negotiated max_frame_len (capped at 64 MiB [FRM-7]).
    this.#decoder = new FrameDecoder({
      maxFrameBytes: Math.min(this.#faults.receiveFrameLimitBytes ?? caps.max_frame_len, HARD_MAX_MESSAGE_BYTES),
    });
    this.#reassembler = new Reassembler({
      maxPacketBytes: Math.min(caps.max_packet_len, HARD_MAX_MESSAGE_BYTES),
      compression: caps.supported_compression,
      chunking: caps.supports_chunking,
      maxConcurrentStreams: opts.maxConcurrentReassemblies ?? MAX_CONCURRENT_REASSEMBLIES,
      maxTotalBytes: opts.maxReassemblyBytes ?? MAX_REASSEMBLY_TOTAL_BYTES,
    });
    this.#packetOpts = {
      maxFrameBytes: this.#faults.ignoreNegotiatedFrameLimit ? HARD_MAX_MESSAGE_BYTES : Math.min(caps.max_frame_len, HARD_MAX_MESSAGE_BYTES),
      maxPacketBytes: Math.min(caps.max_packet_len, HARD_MAX_MESSAGE_BYTES),
      compression: caps.supported_compression,
      chunking: caps.supports_chunking,
      compressionThresholdBytes: opts.compressionThresholdBytes ?? COMPRESSION_THRESHOLD_BYTES,
    };
    this.#payloadLimits = { maxPacketBytes: this.#packetOpts.maxPacketBytes };
    this.#ids = new RequestIdAllocator(init.role);
    const skip = this.#faults.skipIncomingIdChecks === true;
    this.#incoming = new IncomingIdTracker(init.role, { checkParity: !skip, checkDuplicate: !skip });

    // Bytes that arrived together with the handshake frame come first, then the live stream.
    for (const chunk of init.leftover) {
      if (this.#closeError) break;
      this.#onData(chunk);
    }
    stream.on('data', this.#onDataListener);
    stream.on('end', this.#onEndListener);
    stream.on('error', this.#onErrorListener);
    stream.on('close', this.#onCloseListener);
    stream.on('drain', this.#onDrainListener);
    if (stream.isPaused()) stream.resume();
  }

  /** Current state ('open', 'closing' or 'closed'). */
  get state(): ConnectionState {
    return this.#state.state;
  }

  /** The first error that closed the connection, or null. */
  get closeError(): ProtocolError | null {
    return this.#closeError;
  }

  /** Counters for tests and metrics. */
  get stats(): { pendingCalls: number; inflightRequests: number; queuedFrames: number; openReassemblies: number } {
    return {
      pendingCalls: this.#pending.size,
      inflightRequests: this.#inflight.size,
      queuedFrames: this.#writeQueue.length,
      openReassemblies: this.#reassembler.openStreams,
    };
  }

  /**
   * Send a Request and wait for its Response [DATA-1] [DATA-2].
   * @throws ProtocolError (as a rejected promise): REMOTE_ERROR ({@link RemoteCallError}, details rpcCode/retryable),
   *   CANCELLED (aborted, or the peer answered `cancelled`), TIMEOUT, UNEXPECTED_RESPONSE (RpcResult unknown [ERR-2],
   *   or an `ok` variant that does not answer this request, see {@link RESPONSE_FOR_REQUEST} [DATA-20]),
   *   PACKET_TOO_LARGE / FRAME_TOO_LARGE (request too big, nothing sent, connection stays open),
   *   or the connection's close error (CONNECTION_CLOSED, or the violation that closed it).
   */
  call(request: Request, opts: CallOptions = {}): Promise<Response> {
    if (!this.#state.is('open')) return Promise.reject(this.#closeError ?? closedError('connection is closing'));
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(new ProtocolError(ErrorCodes.CANCELLED, 'call aborted before it was sent'));
    const id = this.#allocateId('request');
    let frames: PacketFrameParts[];
    try {
      frames = this.#encodePayload(id, { type: 'request', body: request });
    } catch (e) {
      return Promise.reject(asProtocolError(e, 'request could not be encoded'));
    }
    let entry!: PendingCall;
    const promise = new Promise<Response>((resolve, reject) => {
      entry = new PendingCall(resolve, reject, request.type);
    });
    this.#pending.set(id, entry);
    const timeoutMs = opts.timeoutMs ?? this.#opts.defaultCallTimeoutMs;
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      entry.timer = setTimeout(() => this.#abortCall(id, new ProtocolError(ErrorCodes.TIMEOUT, 'call timed out', { details: { timeoutMs } }), false), timeoutMs);
    }
    if (signal) {
      const waitTerminal = opts.waitForTerminalResponse === true;
      entry.signal = signal;
      entry.onAbort = (): void => this.#abortCall(id, new ProtocolError(ErrorCodes.CANCELLED, 'call aborted'), waitTerminal);
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    if (this.#onEvent) this.#emit({ type: 'request_sent', role: this.role, id, requestType: request.type });
    try {
      // (the failure closure is only built when a writer had to wait: none on the small-call path)
      this.#writeFrames(frames)?.catch((e: unknown) => this.#failSend(id, entry, e));
    } catch (e) {
      this.#failSend(id, entry, e);
    }
    return promise;
  }

  #failSend(id: bigint, entry: PendingCall, e: unknown): void {
    // The connection closed while we waited for queue space: the close already failed the entry.
    this.#pending.delete(id);
    entry.reject(asProtocolError(e, 'request could not be sent'));
  }

  /**
   * Send a Notification. It consumes an id from the request counter [ID-6].
   * Resolves once the frames are handed to the stream (or queued within the write-queue bound).
   */
  async notify(notification: Notification): Promise<void> {
    if (!this.#state.is('open')) throw this.#closeError ?? closedError('connection is closing');
    const id = this.#allocateId('notification');
    const frames = this.#encodePayload(id, { type: 'notification', body: notification });
    this.#emit({ type: 'notification_sent', role: this.role, id, notificationType: notification.type });
    await this.#writeFrames(frames);
  }

  /** Install (or remove with null) the request handler. Requests waiting for a handler are released. */
  setRequestHandler(handler: RequestHandler | null): void {
    this.#requestHandler = handler;
    if (handler) {
      const waiters = this.#handlerWaiters;
      this.#handlerWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Install (or remove with null) the notification handler; buffered notifications are delivered first, in order. */
  setNotificationHandler(handler: NotificationHandler | null): void {
    this.#notificationHandler = handler;
    if (handler) {
      const buffered = this.#bufferedNotifications;
      this.#bufferedNotifications = [];
      for (const n of buffered) this.#deliverNotification(n.id, n.notification, handler);
    }
  }

  /**
   * Close the connection. Idempotent; the first error wins.
   * Without `error`: graceful — pending calls fail with CONNECTION_CLOSED, queued frames are flushed, then the stream is ended;
   * resolves once the stream finished. With `error`: immediate — queued frames are dropped and the stream destroyed.
   */
  close(error?: ProtocolError): Promise<void> {
    if (error) {
      this.#fail(error);
      return this.closed.then(() => undefined);
    }
    if (this.#gracefulClose) return this.#gracefulClose;
    if (this.#state.is('closed')) return this.closed.then(() => undefined);
    this.#state.transition(['open'], 'closing');
    const err = closedError('connection closed locally');
    this.#failOutstanding(err);
    const limitMs = this.#opts.gracefulCloseTimeoutMs ?? GRACEFUL_CLOSE_TIMEOUT_MS;
    // A peer that stops reading must not hang close(): after the limit the stream is destroyed.
    const timer = setTimeout(() => this.#stream.destroy(), limitMs);
    this.#gracefulClose = (async () => {
      while (this.#writeQueue.length > 0 && this.#state.is('closing')) {
        await new Promise<void>((r) => this.#spaceWaiters.push(r));
      }
      if (this.#state.is('closing')) {
        await new Promise<void>((resolve) => {
          const done = (): void => resolve();
          this.#stream.once('finish', done);
          this.#stream.once('close', done);
          this.#stream.end();
        });
      }
      clearTimeout(timer);
      this.#finish(null);
      this.#stream.destroy();
    })();
    return this.#gracefulClose;
  }

  /**
   * TEST-ONLY raw writes for fault injection (bypass every check and limit).
   * `writeRaw` writes bytes as is (no prefix); `writeFrame` encodes and prefixes one WireFrame;
   * `sendPayload` sends any RpcPayload for any id through the normal packet path (chunking, compression).
   */
  readonly fault = {
    writeRaw: (bytes: Uint8Array): Promise<void> => this.#writeRawBuffers([bytes]),
    writeFrame: (frame: WireFrame): Promise<void> => {
      const body = encodeWireFrame(frame);
      return this.#writeRawBuffers([lengthPrefix(body.length), body]);
    },
    sendPayload: async (id: bigint, payload: RpcPayload): Promise<void> => this.#writeFrames(this.#encodePayload(id, payload)),
  };

  // ------------------------------------------------------------------------------------------
  // outgoing
  // ------------------------------------------------------------------------------------------

  #allocateId(kind: 'request' | 'notification'): bigint {
    const id = this.#ids.next();
    return this.#faults.overrideId ? this.#faults.overrideId(id, kind) : id;
  }

  /**
   * Encode a payload into WireFrame bodies as [head, data view] parts (no prefix, payload never
   * copied into a frame buffer). Throws local PACKET_TOO_LARGE / FRAME_TOO_LARGE [CHK-1].
   */
  #encodePayload(id: bigint, payload: RpcPayload): OutFrame[] {
    // Bulk load_files / index_shard requests: same bytes, written straight from the strings.
    const plan = planBulkRequestPayload(payload);
    if (plan === undefined) {
      const bytes = encodeRpcPayloadShared(payload); // valid until the next encode: copied below
      const o = this.#packetOpts;
      const n = bytes.length;
      // The small-call path: what encodePacketFrameParts would send as one uncompressed Packet
      // (within max_packet_len, below the compression threshold when zstd is negotiated, the whole
      // frame within max_frame_len) goes out as one prefixed buffer built in one copy. Fault hooks
      // that rewrite frames take the general path, which hands them the parts.
      if (
        n < SMALL_FRAME_MAX_BYTES &&
        n <= o.maxPacketBytes &&
        (n < o.compressionThresholdBytes || !o.compression.includes('zstd')) &&
        this.#faults.mutateOutgoingFrame === undefined &&
        this.#faults.mutateOutgoingBytes === undefined
      ) {
        const framed = encodePrefixedPacket(id, bytes);
        const bodyBytes = framed.length - LENGTH_PREFIX_BYTES;
        // [CHK-1] a frame of exactly maxFrameBytes is not chunked; a larger one takes the general path
        if (bodyBytes <= o.maxFrameBytes) return [{ head: EMPTY_BYTES, data: EMPTY_BYTES, bodyBytes, framed }];
      }
      // A view of the encoder's shared buffer must be copied before the next encode; a large
      // payload already comes as its own buffer (encodeCborShared) and is not copied again.
      return encodePacketFrameParts(id, n > SMALL_FRAME_MAX_BYTES && !isSharedEncoding(bytes) ? bytes : bytes.slice(), o);
    }
    const planned = this.#faults.mutateOutgoingFrame || this.#faults.mutateOutgoingBytes ? undefined : planPacketFrames(id, plan.bytes, this.#packetOpts);
    if (planned === undefined) {
      // compression needs the whole payload (and fault hooks see whole frames): build it once
      const bytes = new Uint8Array(Buffer.allocUnsafeSlow(plan.bytes).buffer, 0, plan.bytes);
      plan.writeNext(bytes);
      return encodePacketFrameParts(id, bytes, this.#packetOpts);
    }
    return planned.map((f) => ({ head: f.head, data: EMPTY_BYTES, bodyBytes: f.head.length + f.dataBytes, writer: plan }));
  }

  #applyOutgoingFaults(frames: PacketFrameParts[]): PacketFrameParts[] {
    const f = this.#faults;
    // Fault hooks see and return whole bodies (test-only path: the copies do not matter).
    let out: Uint8Array[] = frames.map(joinParts);
    if (f.mutateOutgoingFrame) {
      const next: Uint8Array[] = [];
      for (const b of out) {
        const r = f.mutateOutgoingFrame(decodeWireFrame(b));
        if (r === null) continue;
        for (const fr of Array.isArray(r) ? r : [r]) next.push(encodeWireFrame(fr));
      }
      out = next;
    }
    if (f.mutateOutgoingBytes) {
      const next: Uint8Array[] = [];
      for (const b of out) {
        const r = f.mutateOutgoingBytes(b);
        if (r === null) continue;
        for (const x of Array.isArray(r) ? r : [r]) next.push(x);
      }
      out = next;
    }
    return out.map((body) => ({ head: body, data: EMPTY_BYTES, bodyBytes: body.length }));
  }

  /**
   * Write frame bodies (prefixed here). Synchronous while the stream accepts them (returns undefined);
   * once a writer must wait for queue space it returns a promise for the rest. Throws (synchronously)
   * the close error when the connection is closed.
   */
  #writeFrames(frames: OutFrame[]): Promise<void> | undefined {
    if (this.#faults.mutateOutgoingFrame || this.#faults.mutateOutgoingBytes) frames = this.#applyOutgoingFaults(frames);
    for (let i = 0; i < frames.length; i++) {
      // A planned frame is produced only when the stream has room: memory stays at a few frames.
      if (frames[i]!.writer && this.#mustWaitForRoom()) return this.#writeRest(this.#room(), frames, i);
      const w = this.#writeUnit(this.#frameParts(frames[i]!));
      if (w) return this.#writeRest(w, frames, i + 1);
    }
    return undefined;
  }

  async #writeRest(waiting: Promise<void>, frames: OutFrame[], from: number): Promise<void> {
    await waiting;
    for (let i = from; i < frames.length; i++) {
      while (frames[i]!.writer && this.#mustWaitForRoom()) await this.#room();
      const w = this.#writeUnit(this.#frameParts(frames[i]!));
      if (w) await w;
    }
  }

  #mustWaitForRoom(): boolean {
    return (this.#needDrain || this.#writeQueue.length > 0) && !this.#state.is('closed');
  }

  /** Resolves at the next 'drain' (or at close, when the next write throws the close error). */
  #room(): Promise<void> {
    return new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
  }

  /**
   * The buffers of one frame: small frames as one buffer (prefix + head + data, one write), big ones
   * as [prefix + head, data view] so the payload is handed to the socket without a copy.
   */
  #frameParts(f: OutFrame): WriteUnit {
    const n = f.bodyBytes;
    if (f.framed) {
      if (this.#onEvent) this.#emit({ type: 'frame_sent', role: this.role, frameType: 'packet', bytes: n });
      return [f.framed];
    }
    if (this.#onEvent) this.#emit({ type: 'frame_sent', role: this.role, frameType: sniffFrameType(f.head), bytes: n });
    if (f.writer) return this.#plannedFrame(f, f.writer);
    const coalesce = n < COALESCE_BELOW_BYTES;
    const buf = new Uint8Array(LENGTH_PREFIX_BYTES + f.head.length + (coalesce ? f.data.length : 0));
    buf[0] = n & 0xff;
    buf[1] = (n >>> 8) & 0xff;
    buf[2] = (n >>> 16) & 0xff;
    buf[3] = (n >>> 24) & 0xff;
    buf.set(f.head, LENGTH_PREFIX_BYTES);
    if (coalesce) {
      buf.set(f.data, LENGTH_PREFIX_BYTES + f.head.length);
      return [buf];
    }
    return f.data.length > 0 ? [buf, f.data] : [buf];
  }

  /**
   * A planned bulk frame in one buffer: prefix, head, then the next payload bytes written from the
   * strings. On a net.Socket the buffer goes back to a small pool once written (the socket is done
   * with it then; a generic Duplex may still hold the chunk, so there it is never reused).
   */
  #plannedFrame(f: OutFrame, writer: BulkPayloadWriter): WriteUnit {
    const n = f.bodyBytes;
    const size = LENGTH_PREFIX_BYTES + n;
    const pooled = this.#stream instanceof Socket;
    let backing: Uint8Array | undefined;
    if (pooled) {
      const i = this.#framePool.findIndex((b) => b.length >= size);
      if (i >= 0) backing = this.#framePool.splice(i, 1)[0];
    }
    backing ??= new Uint8Array(Buffer.allocUnsafeSlow(size).buffer);
    const buf = backing.subarray(0, size);
    buf[0] = n & 0xff;
    buf[1] = (n >>> 8) & 0xff;
    buf[2] = (n >>> 16) & 0xff;
    buf[3] = (n >>> 24) & 0xff;
    buf.set(f.head, LENGTH_PREFIX_BYTES);
    writer.writeNext(buf.subarray(LENGTH_PREFIX_BYTES + f.head.length));
    const unit: WriteUnit = [buf];
    if (pooled) {
      unit.flushed = (): void => {
        let held = backing.length;
        for (const b of this.#framePool) held += b.length;
        if (held <= FRAME_POOL_MAX_BYTES) this.#framePool.push(backing);
      };
    }
    return unit;
  }

  readonly #framePool: Uint8Array[] = [];

  async #writeRawBuffers(bufs: Uint8Array[]): Promise<void> {
    if (this.#onEvent) this.#emit({ type: 'frame_sent', role: this.role, frameType: 'raw', bytes: bufs.reduce((n, b) => n + b.length, 0) });
    const w = this.#writeUnit(bufs);
    if (w) await w;
  }

  #writeParts(parts: WriteUnit): void {
    // Cork for the rest of this tick: every frame written in the same tick leaves in one writev
    // (one syscall for many small responses). Parts of one unit are written back to back, so a
    // prefix and its body never interleave with another writer's bytes.
    if (!this.#corked) {
      this.#corked = true;
      this.#stream.cork();
      process.nextTick(this.#uncork);
    }
    let ok = true;
    const last = parts.length - 1;
    for (let i = 0; i <= last; i++) ok = i === last && parts.flushed ? this.#stream.write(parts[i], parts.flushed) : this.#stream.write(parts[i]);
    // Below our own high-water mark keep writing (node's 'drain' still fires later, harmlessly);
    // above it, queue until 'drain' (the stream's own flag is set too, since our mark ≥ its mark).
    if (!ok && this.#stream.writableLength >= this.#writeHighWaterBytes) this.#needDrain = true;
  }

  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#stream.uncork();
  };

  /**
   * Hand one frame (its parts written together) to the stream, or queue it while the stream wants a drain;
   * when the bounded queue is full the writer waits for room (backpressure).
   */
  #writeUnit(parts: Uint8Array[]): Promise<void> | void {
    if (this.#state.is('closed')) throw this.#closeError ?? closedError('connection is closed');
    if (!this.#needDrain && this.#writeQueue.length === 0) {
      this.#writeParts(parts);
      return;
    }
    if (this.#writeQueue.length < this.#writeQueueMaxFrames) {
      this.#writeQueue.push(parts);
      return;
    }
    return new Promise<void>((resolve, reject) => {
      this.#spaceWaiters.push(() => {
        if (this.#state.is('closed')) reject(this.#closeError ?? closedError('connection is closed'));
        else {
          try {
            resolve(this.#writeUnit(parts));
          } catch (e) {
            reject(e);
          }
        }
      });
    });
  }

  #onDrain(): void {
    this.#needDrain = false;
    while (this.#writeQueue.length > 0 && !this.#needDrain) this.#writeParts(this.#writeQueue.shift()!);
    // Wake waiting writers while there is room; each writes directly or re-queues.
    while (this.#spaceWaiters.length > 0 && this.#writeQueue.length < this.#writeQueueMaxFrames) this.#spaceWaiters.shift()!();
  }

  #abortCall(id: bigint, error: ProtocolError, waitTerminal: boolean): void {
    const entry = this.#pending.get(id);
    if (!entry || entry.abandoned) return;
    const canCancel = this.negotiated.capabilities.supports_cancel && this.#state.is('open');
    if (canCancel && !entry.waitingTerminal) {
      // [CAN-1] Cancel is a Packet {type: cancel} carrying the id of the call.
      this.#emit({ type: 'cancel_sent', role: this.role, id });
      try {
        this.#writeFrames(this.#encodePayload(id, { type: 'cancel' }))?.catch(() => undefined);
      } catch {
        // best effort, like nova-router
      }
    }
    if (waitTerminal && canCancel) {
      // [CAN-3] the peer still owes one terminal response; the call settles with it.
      entry.waitingTerminal = true;
      return;
    }
    entry.abandoned = true;
    entry.reject(error);
  }

  // ------------------------------------------------------------------------------------------
  // incoming
  // ------------------------------------------------------------------------------------------

  readonly #onDataListener = (chunk: Uint8Array): void => this.#onData(chunk);
  readonly #onEndListener = (): void => {
    if (this.#state.is('closing')) return this.#finish(null);
    try {
      this.#decoder.end();
    } catch (e) {
      this.#fail(asProtocolError(e, 'stream ended inside a frame'));
      return;
    }
    this.#fail(closedError('peer closed the connection'));
  };
  readonly #onErrorListener = (e: unknown): void => this.#fail(asProtocolError(e, 'transport error'));
  readonly #onCloseListener = (): void => {
    if (this.#state.is('closing')) this.#finish(null);
    else this.#fail(closedError('connection closed'));
  };
  readonly #onDrainListener = (): void => this.#onDrain();

  #onData(chunk: Uint8Array): void {
    if (this.#state.is('closed')) return;
    try {
      // Frames are handled as they complete, so those before a bad prefix are processed first, as a
      // sequential reader would. Framing errors are ProtocolErrors; the fallback names handler bugs.
      this.#decoder.pushTo(chunk, this.#frameSink);
    } catch (e) {
      this.#fail(asProtocolError(e, 'frame processing failed'));
    }
  }

  /** The PacketChunk whose data is being copied straight into the reassembly buffer, if any. */
  #streamedChunk: { head: PacketChunkHead; bodyBytes: number } | undefined;

  /**
   * Receive path. Small frames are decoded whole. A large canonical PacketChunk that the
   * reassembler admits from its head alone has its data copied from the socket chunks into the
   * reassembly buffer (one copy, no frame buffer); anything else large is joined and decoded whole,
   * so every refusal happens at the same point with the same error as before.
   */
  readonly #frameSink: FrameSink = {
    frame: (body) => {
      if (!this.#state.is('closed')) this.#onFrame(body);
    },
    begin: (head, bodyBytes) => {
      if (this.#state.is('closed')) return false;
      const h = decodePacketChunkHead(head, bodyBytes);
      if (h === undefined || !this.#reassembler.beginChunk(h)) return false;
      this.#streamedChunk = { head: h, bodyBytes };
      this.#reassembler.chunkData(head.subarray(h.headBytes));
      return true;
    },
    piece: (bytes) => {
      if (!this.#state.is('closed')) this.#reassembler.chunkData(bytes);
    },
    end: () => {
      const c = this.#streamedChunk!;
      this.#streamedChunk = undefined;
      if (this.#state.is('closed')) return;
      if (this.#onEvent) this.#emit({ type: 'frame_received', role: this.role, frameType: 'packet_chunk', bytes: c.bodyBytes, id: c.head.id });
      // [ID-2] (beginChunk admits no id 0; kept so the checks match #onFrame's)
      this.#incoming.checkPacketId(c.head.id);
      const done = this.#reassembler.endChunk();
      if (done) this.#onPayload(done.id, done.payload, true, this.#takeReader(done.id));
      else this.#decodeAhead(c.head.id);
    },
  };

  /** Bulk requests being decoded while their chunks arrive, by stream id (at most one per open stream). */
  readonly #readers = new Map<bigint, BulkRequestReader>();

  /**
   * Decode the files of a large chunked payload that have fully arrived, so building its strings
   * overlaps the rest of the transfer. Payloads that are not bulk requests fail the reader's first
   * check and cost nothing more; the result is what the one-shot decode would give (see
   * BulkRequestReader). Only while a single stream is open: strings built ahead are memory on top
   * of the reassembly buffers, so a peer opening many streams cannot double what it makes us hold.
   */
  #decodeAhead(id: bigint): void {
    if (this.#reassembler.openStreams !== 1) return;
    const open = this.#reassembler.peek(id);
    if (open === undefined || open.compression !== 'none') return;
    let reader = this.#readers.get(id);
    if (reader === undefined) this.#readers.set(id, (reader = new BulkRequestReader()));
    reader.feed(open.data);
  }

  #takeReader(id: bigint): BulkRequestReader | undefined {
    const reader = this.#readers.get(id);
    if (reader) this.#readers.delete(id);
    return reader;
  }

  #onFrame(body: Uint8Array): void {
    // [FWD-5] this.#opts carries the unknownVariantBody decode option (reject unless configured).
    const frame = decodeWireFrame(body, undefined, this.#opts);
    if (this.#onEvent) {
      const id = frame.type === 'packet' || frame.type === 'packet_chunk' ? frame.body.id : undefined;
      this.#emit({ type: 'frame_received', role: this.role, frameType: frame.type, bytes: body.length, ...(id !== undefined ? { id } : {}) });
    }
    switch (frame.type) {
      case 'hello':
      case 'welcome':
      case 'reject':
        // [HS-7] a handshake frame after the handshake is a protocol violation.
        throw new ProtocolError(ErrorCodes.UNEXPECTED_FRAME, `unexpected ${frame.type} frame after the handshake`, {
          rule: 'HS-7',
          details: { frameType: frame.type },
        });
      case 'unknown':
        // [DATA-6] unknown WireFrame variants (body absent or null) are ignored.
        this.#emit({ type: 'ignored', role: this.role, reason: 'unknown_frame' });
        return;
      case 'packet':
      case 'packet_chunk': {
        // [ID-2] id 0 is reserved on Packet and PacketChunk.
        this.#incoming.checkPacketId(frame.body.id);
        // [DATA-4] a Packet whose data exceeds max_packet_len closes the connection.
        if (frame.type === 'packet' && frame.body.data.length > this.#packetOpts.maxPacketBytes) {
          throw new ProtocolError(ErrorCodes.PACKET_TOO_LARGE, `packet too large: ${frame.body.data.length} > ${this.#packetOpts.maxPacketBytes}`, {
            rule: 'DATA-4',
            details: { bytes: frame.body.data.length, maxPacketBytes: this.#packetOpts.maxPacketBytes },
          });
        }
        const done = this.#reassembler.accept(frame);
        // a Packet never completes a chunk stream: a reader for the same id stays with its stream
        if (done) {
          const chunked = frame.type === 'packet_chunk';
          this.#onPayload(done.id, done.payload, chunked, chunked ? this.#takeReader(done.id) : undefined);
        }
        return;
      }
    }
  }

  /** `chunked`: the payload was reassembled from PacketChunks (only those can leave a buffer to reuse). */
  #onPayload(id: bigint, bytes: Uint8Array, chunked: boolean, reader?: BulkRequestReader): void {
    let payload: RpcPayload;
    try {
      // Bulk load_files / index_shard requests in the canonical layout: same result, strings copied
      // straight out (the generic decoder still judges everything else, and every refusal). A
      // reader fed while the chunks arrived has most of the strings built already.
      payload = (reader ? reader.finish(bytes) : bytes.length >= BULK_DECODE_FROM_BYTES ? decodeBulkRequestPayload(bytes) : undefined) ?? decodeRpcPayload(bytes, this.#payloadLimits, this.#opts);
      if (chunked) {
        // A decoded payload holds no views of `bytes` (RpcPayload has no byte fields): its buffer can be reused.
        // (A Packet's data is never a reusable buffer: no release, and no timer per small call.)
        this.#reassembler.release(bytes);
        this.#scheduleSpareBufferDrop();
      }
    } catch (e) {
      // [DATA-5] an inner payload that fails to decode closes the connection (the codec error names the CBOR rule).
      throw asProtocolError(e, 'payload decode failed');
    }
    switch (payload.type) {
      case 'request':
        // [ID-3] [ID-4] parity and duplicates are checked on requests only [ID-5].
        this.#incoming.beginRequest(id);
        if (this.#onEvent) this.#emit({ type: 'request_received', role: this.role, id, requestType: payload.body.type });
        void this.#dispatch(id, payload.body);
        return;
      case 'response':
        this.#onResponse(id, payload.body);
        return;
      case 'notification': {
        const n = payload.body;
        if (n.type === 'unknown') {
          // [DATA-6] unknown notifications are ignored.
          this.#emit({ type: 'ignored', role: this.role, reason: 'unknown_notification', id });
          return;
        }
        this.#emit({ type: 'notification_received', role: this.role, id, notificationType: n.type });
        if (this.#notificationHandler) this.#deliverNotification(id, n, this.#notificationHandler);
        else {
          this.#bufferedNotifications.push({ id, notification: n });
          if (this.#bufferedNotifications.length > this.#maxBufferedNotifications) {
            const dropped = this.#bufferedNotifications.shift()!;
            this.#emit({ type: 'ignored', role: this.role, reason: 'notification_dropped', id: dropped.id });
          }
        }
        return;
      }
      case 'cancel':
        this.#onCancel(id);
        return;
      case 'unknown':
        // [DATA-6] unknown RpcPayload variants are ignored.
        this.#emit({ type: 'ignored', role: this.role, reason: 'unknown_payload', id });
        return;
    }
  }

  #onResponse(id: bigint, result: RpcResult): void {
    const entry = this.#pending.get(id);
    if (!entry) {
      // [DATA-3] a Response for an unknown id is ignored.
      this.#emit({ type: 'ignored', role: this.role, reason: 'unknown_response_id', id });
      return;
    }
    this.#pending.delete(id);
    if (this.#onEvent)
      this.#emit({
        type: 'response_received',
        role: this.role,
        id,
        status: result.status,
        ...(result.status === 'err' ? { errorCode: result.error.code } : {}),
      });
    if (entry.abandoned) {
      this.#emit({ type: 'ignored', role: this.role, reason: 'late_response', id });
      return;
    }
    if (result.status === 'ok') {
      if (this.#faults.skipResponsePairingCheck !== true && !responseFitsRequest(entry.requestType, result.value.type)) {
        // [DATA-20] an ok variant that does not answer this request fails this call only. The connection stays
        // open (the spec's SHOULD; nova-remote-rpc does not check at all, and nova-router drops the worker on
        // its "unexpected worker response": an application may close too, the engine does not).
        entry.reject(
          new ProtocolError(ErrorCodes.UNEXPECTED_RESPONSE, 'response variant does not answer the request', {
            rule: 'DATA-20',
            details: { id, requestType: entry.requestType, responseType: result.value.type },
          }),
        );
      } else entry.resolve(result.value);
    } else if (result.status === 'err') {
      entry.reject(new RemoteCallError(result.error.code === 'cancelled' ? ErrorCodes.CANCELLED : ErrorCodes.REMOTE_ERROR, result.error, id));
    } else {
      // [ERR-2] RpcResult unknown is an unexpected response.
      entry.reject(new ProtocolError(ErrorCodes.UNEXPECTED_RESPONSE, 'response with unknown result status', { rule: 'ERR-2', details: { id } }));
    }
  }

  #onCancel(id: bigint): void {
    if (!this.negotiated.capabilities.supports_cancel) {
      // [CAN-2] cancel not negotiated: ignore silently (no close, no response).
      this.#emit({ type: 'ignored', role: this.role, reason: 'cancel_not_negotiated', id });
      return;
    }
    this.#emit({ type: 'cancel_received', role: this.role, id });
    let known = false;
    const inflight = this.#inflight.get(id);
    if (inflight) {
      known = true;
      abortInflight(inflight, new ProtocolError(ErrorCodes.CANCELLED, 'request cancelled by the peer'));
    }
    if (this.#opts.cancelCompletesOwnCall !== false) {
      const entry = this.#pending.get(id);
      if (entry) {
        // Rust rpc:1418-1424: a Cancel also completes our own pending call with that id as Canceled.
        known = true;
        this.#pending.delete(id);
        entry.reject(new ProtocolError(ErrorCodes.CANCELLED, 'call cancelled by a peer cancel packet', { details: { id } }));
      }
    }
    // [CAN-4] a Cancel for an unknown id is ignored.
    if (!known) this.#emit({ type: 'ignored', role: this.role, reason: 'cancel_unknown_id', id });
  }

  async #waitForHandler(): Promise<RequestHandler | null> {
    if (this.#requestHandler) return this.#requestHandler;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        const i = this.#handlerWaiters.indexOf(wake);
        if (i >= 0) this.#handlerWaiters.splice(i, 1);
        resolve();
      }, this.#missingHandlerWaitMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#handlerWaiters.push(wake);
    });
    return this.#requestHandler;
  }

  async #dispatch(id: bigint, request: Request): Promise<void> {
    const inflight: InflightRequest = { controller: null, abortReason: null };
    this.#inflight.set(id, inflight);
    let result: RpcResult;
    const ctx = new HandlerContext(id, this, inflight);
    try {
      const handler = this.#requestHandler ?? (await this.#waitForHandler());
      if (!handler) {
        result = { status: 'err', error: { code: 'invalid_request', message: 'no request handler installed', retryable: false, details: null } };
      } else {
        const r = handler(request, ctx);
        // a synchronous answer is sent without an extra microtask hop
        result = typeof (r as { then?: unknown }).then === 'function' ? await r : (r as RpcResult);
      }
    } catch {
      this.#emit({ type: 'handler_failed', role: this.role, id });
      result = { status: 'err', error: { code: 'internal', message: 'request handler failed', retryable: false, details: null } };
    }
    this.#inflight.delete(id);
    this.#incoming.endRequest(id);
    if (!this.#state.is('open', 'closing') || this.#gracefulClose) return;
    let frames: PacketFrameParts[];
    try {
      try {
        frames = this.#encodePayload(id, { type: 'response', body: result });
      } catch (e) {
        if (!(isProtocolError(e) && e.code === ErrorCodes.ENCODE_INVALID_VALUE)) throw e;
        // A handler bug (not a valid RpcResult): answer internal instead of closing.
        this.#emit({ type: 'handler_failed', role: this.role, id });
        result = { status: 'err', error: { code: 'internal', message: 'request handler returned an invalid result', retryable: false, details: null } };
        frames = this.#encodePayload(id, { type: 'response', body: result });
      }
    } catch (e) {
      // Rust rpc:1378-1380: a response that cannot be sent (too large) closes the connection.
      this.#fail(asProtocolError(e, 'response could not be encoded'));
      return;
    }
    if (this.#onEvent)
      this.#emit({
        type: 'response_sent',
        role: this.role,
        id,
        status: result.status,
        ...(result.status === 'err' ? { errorCode: result.error.code } : {}),
      });
    try {
      // written synchronously while the stream accepts it (no extra microtask per response)
      const waiting = this.#writeFrames(frames);
      if (waiting) await waiting;
    } catch {
      // closed meanwhile: nothing to do
    }
    if (ctx.closeAfter) void this.close();
  }

  #deliverNotification(id: bigint, n: Notification, handler: NotificationHandler): void {
    try {
      const r = handler(n, { id, connection: this });
      if (r && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).catch(() => this.#emit({ type: 'ignored', role: this.role, reason: 'notification_handler_failed', id }));
      }
    } catch {
      this.#emit({ type: 'ignored', role: this.role, reason: 'notification_handler_failed', id });
    }
  }

  // ------------------------------------------------------------------------------------------
  // closing
  // ------------------------------------------------------------------------------------------

  #failOutstanding(err: ProtocolError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    for (const r of this.#inflight.values()) abortInflight(r, err);
    const waiters = this.#handlerWaiters;
    this.#handlerWaiters = [];
    for (const w of waiters) w();
  }

  /** Close immediately with `err` (first error wins). */
  #fail(err: ProtocolError): void {
    if (this.#state.is('closed')) return;
    this.#closeError ??= err;
    this.#finish(this.#closeError);
    this.#stream.destroy();
  }

  #scheduleSpareBufferDrop(): void {
    clearTimeout(this.#spareBufferTimer);
    this.#spareBufferTimer = setTimeout(() => this.#reassembler.dropSpare(), SPARE_REASSEMBLY_BUFFER_IDLE_MS);
    this.#spareBufferTimer.unref?.();
  }

  #finish(err: ProtocolError | null): void {
    if (this.#state.is('closed')) return;
    this.#state.transition(['open', 'closing'], 'closed');
    clearTimeout(this.#spareBufferTimer);
    this.#reassembler.dropSpare();
    this.#failOutstanding(err ?? closedError('connection closed locally'));
    this.#writeQueue = [];
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const w of waiters) w();
    this.#stream.off('data', this.#onDataListener);
    this.#stream.off('drain', this.#onDrainListener);
    // keep a no-op error listener: a destroyed socket may still emit one
    this.#stream.off('error', this.#onErrorListener);
    this.#stream.on('error', () => undefined);
    this.#emit({ type: 'closed', role: this.role, error: err ? err.toJSON() : null });
    this.#resolveClosed(err);
  }

  #emit(e: EngineEvent): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(e);
    } catch {
      // observers never break the connection
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------------

/**
 * Reads exactly one frame under the pre-handshake limit [FRM-4] and keeps every later byte for the
 * connection, so frames after the handshake are checked against the negotiated limit, not 1 MiB.
 */
class HandshakeReader {
  readonly #stream: Duplex;
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #expected = -1;
  #resolve!: (body: Uint8Array) => void;
  #reject!: (e: ProtocolError) => void;
  readonly result: Promise<Uint8Array>;
  leftover: Uint8Array[] = [];

  constructor(stream: Duplex, maxFrameBytes: number) {
    this.#stream = stream;
    this.#maxFrameBytes = maxFrameBytes;
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
  }

  /**
   * Stop listening (pauses the stream so nothing is lost before the connection attaches). A no-op
   * 'error' listener stays: a late socket error (e.g. ECONNRESET after a Reject) must not crash the
   * process; the connection, if any, sees the failure through its own listeners and 'close'.
   */
  detach(): void {
    this.#stream.pause();
    this.#stream.off('data', this.#onData);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('error', this.#onError);
    this.#stream.off('close', this.#onClose);
    this.#stream.on('error', ignoreError);
  }

  readonly #onData = (chunk: Uint8Array): void => {
    if (this.#expected === -2) {
      this.leftover.push(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#expected === -1 && this.#bytes >= LENGTH_PREFIX_BYTES) {
      const head = this.#concat(LENGTH_PREFIX_BYTES);
      const len = new DataView(head.buffer, head.byteOffset, LENGTH_PREFIX_BYTES).getUint32(0, true);
      if (len === 0) {
        // [FRM-2] a zero-length frame is a decode error.
        return this.#fail(new ProtocolError(ErrorCodes.FRAME_EMPTY, 'zero-length frame', { rule: 'FRM-2' }));
      }
      if (len > this.#maxFrameBytes) {
        // [FRM-3] [FRM-4] checked before reading the body; len == limit is allowed.
        return this.#fail(
          new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `frame too large: ${len} > ${this.#maxFrameBytes}`, {
            rule: 'FRM-4',
            details: { bytes: len, maxFrameBytes: this.#maxFrameBytes },
          }),
        );
      }
      this.#expected = len;
    }
    if (this.#expected >= 0 && this.#bytes >= LENGTH_PREFIX_BYTES + this.#expected) {
      const all = this.#concat(this.#bytes);
      const end = LENGTH_PREFIX_BYTES + this.#expected;
      const body = all.slice(LENGTH_PREFIX_BYTES, end);
      if (all.length > end) this.leftover.push(all.subarray(end));
      this.#chunks = [];
      this.#expected = -2;
      this.#resolve(body);
    }
  };

  readonly #onEnd = (): void => {
    if (this.#expected === -2) return;
    this.#fail(
      this.#bytes > 0
        ? new ProtocolError(ErrorCodes.FRAME_TRUNCATED, 'stream ended inside the handshake frame', { rule: 'FRM-1' })
        : closedError('peer closed the connection during the handshake'),
    );
  };
  readonly #onError = (e: unknown): void => this.#fail(asProtocolError(e, 'transport error during the handshake'));
  readonly #onClose = (): void => {
    if (this.#expected !== -2) this.#fail(closedError('connection closed during the handshake'));
  };

  #fail(e: ProtocolError): void {
    this.#expected = -2;
    this.#reject(e);
  }

  #concat(n: number): Uint8Array {
    if (this.#chunks.length === 1 && this.#chunks[0]!.length >= n) return this.#chunks[0]!;
    const out = new Uint8Array(this.#bytes);
    let off = 0;
    for (const c of this.#chunks) {
      out.set(c, off);
      off += c.length;
    }
    this.#chunks = [out];
    return out;
  }
}

/**
 * Read exactly one frame under `maxFrameBytes` (default the 1 MiB pre-handshake limit [FRM-4]) and return
 * its body plus every byte received after it, untouched, for the connection that follows. Later frames in
 * the same chunk are NOT judged by this limit (a >1 MiB frame right after the Welcome is legal). The stream
 * is left paused; it is not destroyed on failure (the caller decides). For peers with custom handshakes.
 * @throws ProtocolError FRAME_EMPTY [FRM-2], FRAME_TOO_LARGE [FRM-4], FRAME_TRUNCATED, CONNECTION_CLOSED, TRANSPORT_ERROR
 */
export async function readHandshakeFrame(
  stream: Duplex,
  maxFrameBytes: number = PRE_HANDSHAKE_MAX_FRAME_BYTES,
): Promise<{ body: Uint8Array; leftover: Uint8Array[] }> {
  const reader = new HandshakeReader(stream, maxFrameBytes);
  try {
    const body = await reader.result;
    return { body, leftover: reader.leftover };
  } finally {
    reader.detach();
  }
}

function ignoreError(): void {
  // see HandshakeReader.detach
}

function writeAll(stream: Duplex, bufs: Uint8Array[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let i = 0;
    const onError = (e: unknown): void => reject(asProtocolError(e, 'transport error during the handshake'));
    stream.once('error', onError);
    const next = (): void => {
      while (i < bufs.length) {
        const ok = stream.write(bufs[i++]!);
        if (!ok) {
          stream.once('drain', next);
          return;
        }
      }
      stream.off('error', onError);
      resolve();
    };
    next();
  });
}

function prefixed(body: Uint8Array): Uint8Array[] {
  return [lengthPrefix(body.length), body];
}

/** Race `p` against the handshake timeout; on any failure the stream is destroyed (nothing further is sent). */
async function withHandshakeTimeout<T>(stream: Duplex, timeoutMs: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout =
    timeoutMs > 0
      ? new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              // [HS-6] the handshake must complete within the configured time.
              reject(new ProtocolError(ErrorCodes.HANDSHAKE_TIMEOUT, `handshake timed out after ${timeoutMs} ms`, { rule: 'HS-6', details: { timeoutMs } })),
            timeoutMs,
          );
        })
      : null;
  try {
    return await (timeout ? Promise.race([p, timeout]) : p);
  } catch (e) {
    stream.destroy();
    throw asProtocolError(e, 'handshake failed');
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function ownCapabilities(opts: HandshakeOptions): Capabilities {
  const caps = opts.capabilities ?? defaultCapabilities();
  const own = opts.faultHooks?.skipOwnSanitize ? caps : sanitizeCapabilities(caps, { zstdAvailable: zstdAvailable() });
  // [LIM-1] zero own limits fail the handshake before any I/O.
  checkOwnCapabilities(own);
  return own;
}

function emitTo(opts: ConnectionOptions, e: EngineEvent): void {
  try {
    opts.onEvent?.(e);
  } catch {
    // ignore
  }
}

/**
 * Worker side: send Hello, wait for Welcome, return the open connection.
 * The stream is destroyed on any failure.
 * @throws ProtocolError HANDSHAKE_FAILED (own limits zero [LIM-1]), FRAME_TOO_LARGE (Hello > 1 MiB, or the answer's prefix [FRM-4]),
 *   HANDSHAKE_REJECTED ({@link HandshakeRejectedError}), HANDSHAKE_UNEXPECTED_FRAME, HANDSHAKE_INVALID_WELCOME [HS-10],
 *   HANDSHAKE_TIMEOUT [HS-6], CONNECTION_CLOSED, TRANSPORT_ERROR, or a decode error of the answer.
 */
export async function workerHandshake(stream: Duplex, opts: WorkerHandshakeOptions): Promise<RpcConnection> {
  let hello: WorkerHello = {
    shard_id: opts.shardId,
    auth_token: opts.authToken ?? null,
    supported_versions: opts.supportedVersions ?? DEFAULT_SUPPORTED_VERSIONS,
    capabilities: ownCapabilities(opts),
    cached_index_info: opts.cachedIndexInfo ?? null,
    worker_build: opts.workerBuild ?? null,
  };
  if (opts.faultHooks?.mutateHello) hello = opts.faultHooks.mutateHello(hello);
  const helloBody = encodeWireFrame({ type: 'hello', body: hello });
  // [FRM-4] our own Hello is bounded by the pre-handshake limit too.
  if (helloBody.length > PRE_HANDSHAKE_MAX_FRAME_BYTES) {
    stream.destroy();
    throw new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `hello too large: ${helloBody.length} > ${PRE_HANDSHAKE_MAX_FRAME_BYTES}`, {
      rule: 'FRM-4',
      details: { bytes: helloBody.length, maxFrameBytes: PRE_HANDSHAKE_MAX_FRAME_BYTES },
    });
  }
  const reader = new HandshakeReader(stream, PRE_HANDSHAKE_MAX_FRAME_BYTES);
  const welcome = await withHandshakeTimeout(
    stream,
    opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    (async () => {
      // [HS-1] the worker's first frame is Hello.
      await writeAll(stream, prefixed(helloBody));
      emitTo(opts, {
        type: 'hello_sent',
        role: 'worker',
        shardId: hello.shard_id,
        versions: hello.supported_versions,
        capabilities: hello.capabilities,
        hasAuthToken: hello.auth_token !== null,
      });
      const body = await reader.result;
      const frame = decodeWireFrame(body);
      if (frame.type === 'reject') {
        emitTo(opts, { type: 'reject_received', role: 'worker', code: frame.body.code });
        throw new HandshakeRejectedError(frame.body);
      }
      if (frame.type !== 'welcome') {
        throw new ProtocolError(ErrorCodes.HANDSHAKE_UNEXPECTED_FRAME, `unexpected handshake frame: ${frame.type}`, {
          rule: 'HS-2',
          details: { frameType: frame.type },
        });
      }
      const w = frame.body;
      emitTo(opts, {
        type: 'welcome_received',
        role: 'worker',
        workerId: w.worker_id,
        shardId: w.shard_id,
        revision: w.revision,
        version: w.chosen_version,
        capabilities: w.chosen_capabilities,
      });
      // [HS-10] refuse a Welcome that breaks the negotiation rules against our own offer.
      if (opts.checkWelcome !== false) checkWelcome(hello, w);
      return w;
    })(),
  ).finally(() => reader.detach());
  return new RpcConnection(
    stream,
    {
      role: 'worker',
      negotiated: {
        role: 'worker',
        version: welcome.chosen_version,
        capabilities: welcome.chosen_capabilities,
        workerId: welcome.worker_id,
        shardId: welcome.shard_id,
        revision: welcome.revision,
      },
      leftover: reader.leftover,
      hello: redactHello(hello),
      welcome,
    },
    opts,
  );
}

/**
 * Router side: read the Hello (1 MiB limit [FRM-4]), answer Welcome or Reject in the Rust order [HS-4],
 * and return the open connection or the Reject that was sent (the stream is then ended).
 * A first frame that does not decode or is not a Hello closes the stream without a Reject [HS-3] (thrown).
 * @throws ProtocolError HANDSHAKE_FAILED (own limits zero, before reading [LIM-1]), HANDSHAKE_UNEXPECTED_FRAME [HS-3],
 *   a decode error (FRAME_*, CBOR_*, SCHEMA_*), HANDSHAKE_TIMEOUT [HS-6], CONNECTION_CLOSED, TRANSPORT_ERROR.
 */
export async function routerHandshake(stream: Duplex, opts: RouterHandshakeOptions = {}): Promise<RouterHandshakeResult> {
  let own: Capabilities;
  try {
    own = ownCapabilities(opts);
  } catch (e) {
    stream.destroy();
    throw e;
  }
  const versions = opts.supportedVersions ?? DEFAULT_SUPPORTED_VERSIONS;
  const reader = new HandshakeReader(stream, PRE_HANDSHAKE_MAX_FRAME_BYTES);
  const outcome = await withHandshakeTimeout(
    stream,
    opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    (async () => {
      const body = await reader.result;
      const frame = decodeWireFrame(body);
      if (frame.type !== 'hello') {
        // [HS-3] a first frame that is not a Hello closes the connection, no Reject.
        throw new ProtocolError(ErrorCodes.HANDSHAKE_UNEXPECTED_FRAME, `expected hello frame, got ${frame.type}`, {
          rule: 'HS-3',
          details: { frameType: frame.type },
        });
      }
      const hello = frame.body;
      emitTo(opts, {
        type: 'hello_received',
        role: 'router',
        shardId: hello.shard_id,
        versions: hello.supported_versions,
        capabilities: hello.capabilities,
        hasAuthToken: hello.auth_token !== null,
      });
      let result = negotiateHello(hello, {
        supportedVersions: versions,
        capabilities: own,
        authToken: opts.authToken ?? null,
        workerId: opts.workerId ?? 1,
        revision: opts.revision ?? 0n,
      });
      if (result.kind === 'welcome' && opts.admit) {
        // [HS-4] [HS-11] admission runs last.
        const w = result.welcome;
        const decision = await opts.admit(hello, { version: w.chosen_version, capabilities: w.chosen_capabilities });
        result = decision.accept
          ? { kind: 'welcome', welcome: { ...w, worker_id: decision.workerId, revision: decision.revision } }
          : { kind: 'reject', reject: { code: decision.code, message: decision.message } };
      }
      // [HS-2] exactly one Welcome or Reject, written under the pre-handshake limit [FRM-4].
      if (result.kind === 'reject') {
        const rb = encodeWireFrame({ type: 'reject', body: result.reject });
        await writeAll(stream, prefixed(rb));
        emitTo(opts, { type: 'reject_sent', role: 'router', code: result.reject.code, message: result.reject.message });
      } else {
        const sent = opts.faultHooks?.mutateWelcome ? opts.faultHooks.mutateWelcome(result.welcome) : result.welcome;
        const wb = encodeWireFrame({ type: 'welcome', body: sent });
        if (wb.length > PRE_HANDSHAKE_MAX_FRAME_BYTES) {
          throw new ProtocolError(ErrorCodes.FRAME_TOO_LARGE, `welcome too large: ${wb.length} > ${PRE_HANDSHAKE_MAX_FRAME_BYTES}`, {
            rule: 'FRM-4',
          });
        }
        await writeAll(stream, prefixed(wb));
        emitTo(opts, {
          type: 'welcome_sent',
          role: 'router',
          workerId: sent.worker_id,
          shardId: sent.shard_id,
          revision: sent.revision,
          version: sent.chosen_version,
          capabilities: sent.chosen_capabilities,
        });
      }
      return { hello, result };
    })(),
  ).finally(() => reader.detach());
  const hello = redactHello(outcome.hello);
  if (outcome.result.kind === 'reject') {
    // [HS-5] Reject, then close.
    await new Promise<void>((resolve) => {
      stream.once('close', resolve);
      stream.once('error', () => resolve());
      stream.end(() => {
        stream.destroy();
        resolve();
      });
    });
    return { kind: 'reject', hello, reject: outcome.result.reject };
  }
  const welcome = outcome.result.welcome;
  const connection = new RpcConnection(
    stream,
    {
      role: 'router',
      negotiated: {
        role: 'router',
        version: welcome.chosen_version,
        capabilities: welcome.chosen_capabilities,
        workerId: welcome.worker_id,
        shardId: welcome.shard_id,
        revision: welcome.revision,
      },
      leftover: reader.leftover,
      hello,
      welcome,
    },
    opts,
  );
  return { kind: 'welcome', connection, hello, welcome };
}
