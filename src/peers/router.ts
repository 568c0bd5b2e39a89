/**
 * The reference router: a TypeScript nova-router on the engine's RpcConnection.
 *
 * Protocol behaviour mirrors nova-router (behaviours.md): the engine's handshake checks in the Rust
 * order [HS-4], then admission by shard [HS-11] (configured shard list; unknown shard →
 * invalid_request "unknown shard N"; busy shard → invalid_request "shard N already has a
 * connected worker"), worker_id from a counter starting at 1, the router revision in the Welcome,
 * a 5 s handshake timeout [HS-6], no request handler (worker-initiated requests are answered
 * invalid_request "no request handler installed" after 500 ms by the engine), a notification
 * handler that disconnects a worker whose CachedIndex names another shard, and the same on
 * wrong-shard ShardIndex / WorkerStats responses.
 *
 * A first frame that is a legacy v2 WorkerHello gets the v2 error frame "router only supports v3",
 * then the connection closes [HS-12] (see {@link screenLegacyHello}).
 *
 * Driving it: {@link ReferenceRouterHandle.call} / {@link WorkerSession.call} from code, or the
 * `default` script that runs a fixed session against every worker that connects.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import {
  DEFAULT_SUPPORTED_VERSIONS,
  RpcConnection,
  defaultCapabilities,
  routerHandshake,
  type AdmissionDecision,
  type CallOptions,
  type NotificationHandler,
  type RouterHandshakeOptions,
} from '../engine/connection.js';
import { negotiateHello, sanitizeCapabilities, checkOwnCapabilities, REJECT_MESSAGES } from '../engine/negotiation.js';
import { ErrorCodes, ProtocolError, isProtocolError } from '../errors.js';
import {
  HANDSHAKE_TIMEOUT_MS,
  HARD_MAX_MESSAGE_BYTES,
  LENGTH_PREFIX_BYTES,
  PRE_HANDSHAKE_MAX_FRAME_BYTES,
  ROUTER_CALL_TIMEOUT_MS,
  ROUTER_MAX_CONCURRENT_HANDSHAKES,
  ROUTER_MAX_CONNECTIONS,
  ROUTER_SHUTDOWN_WAIT_MS,
} from '../limits.js';
import { needsShim, wrapWithShim } from './receive-shim.js';
import { listenTransport, type ListenOptions, type Listener, type TlsOptions, type TransportSocket } from '../transport/index.js';
import { parseFingerprint, peerCertificateFingerprint, stripFingerprint } from '../transport/fingerprint.js';
import { decodeWireFrame, encodeWireFrame, zstdAvailable } from '../wire/index.js';
import type { Capabilities, HandshakeReject, Request, Response, RouterWelcome, SupportedVersions, WorkerHello } from '../wire/model.js';
import {
  buildCapabilities,
  buildVersions,
  loadAuthToken,
  prefixFrame,
  readOneFrame,
  type AuthTokenSource,
  type PeerCapabilityOptions,
} from './common.js';
import { adjustOwnCapabilities, engineEventHandler, engineHooksFor, installBehaviourHooks, mutateWelcomeFor, runAfterWelcomeFaults, widenUintAfterKey } from './fault-actions.js';
import { resolveFaults } from './faults.js';
import { hasTlsListenFault, listenWithTlsFault } from './faults-tls.js';
import { boundedEventLog, createLogger, type PeerEvent, type PeerLogger } from './log.js';

export type RouterScript = 'none' | 'default';

export interface ReferenceRouterOptions extends PeerCapabilityOptions, AuthTokenSource, TlsOptions {
  /** Listen address (see parseAddress); `tcp:127.0.0.1:0` picks a free port. */
  listen: string;
  /** Shards that may connect. Default [0]. */
  shards?: readonly number[];
  /**
   * [SEC-4] mTLS only (tcp+tls with requireClientCert): shard id -> fingerprints of the client
   * certificates allowed to serve it. A fingerprint is the SHA-256 of the leaf certificate's DER:
   * 64 hex digits or openssl's colon-separated form, either letter case ([SEC-8]; see
   * src/transport/fingerprint.ts). Checked at start-up (CONFIG_INVALID). When the global list is
   * non-empty or the shard has a list of its own, a worker whose certificate is on neither list is
   * rejected unauthorized "shard authorization failed".
   */
  shardAllowlist?: Readonly<Record<number, readonly string[]>>;
  /** [SEC-8] mTLS only: fingerprints of the client certificates allowed for every shard (the global allowlist). */
  globalAllowlist?: readonly string[];
  /** Router revision sent in every Welcome. Default 0. */
  revision?: bigint;
  allowInsecureTcp?: boolean;
  /** Handshake timeout; default 5000 ms [HS-6]. */
  handshakeTimeoutMs?: number;
  /** Per-call timeout for calls made through the handle. Default 10 min. */
  callTimeoutMs?: number;
  /**
   * How long a worker's request waits for a handler before the engine answers invalid_request
   * "no request handler installed" (the router installs none). Default 500 ms, like nova-remote-rpc;
   * the embedded conformance target shortens it so probe requests answer at once.
   */
  missingHandlerWaitMs?: number;
  /** Session script run against each connecting worker. Default 'none'. */
  script?: RouterScript;
  /**
   * [FWD-5] An unknown frame / payload variant with a body: 'ignore' (default; the reference peers
   * are liberal in what they accept) or 'reject' (close, like the Rust reference).
   */
  unknownVariantBody?: 'reject' | 'ignore';
  faults?: readonly string[];
  log?: ((line: string) => void) | null;
  onEvent?: (e: PeerEvent) => void;
  maxEvents?: number;
}

export interface ScriptStep {
  request: Request['type'];
  ok: boolean;
  /** Our own summary: response type, or the error code. Never peer text. */
  result: string;
}
export interface ScriptResult {
  ok: boolean;
  steps: ScriptStep[];
}

export interface WorkerSession {
  readonly shardId: number;
  readonly workerId: number;
  readonly connection: RpcConnection;
  readonly welcome: RouterWelcome;
  /** Resolves when the session's connection closes (the error, or null). */
  readonly closed: Promise<ProtocolError | null>;
  /** The default script's outcome, when a script runs. */
  script: Promise<ScriptResult> | null;
  call(request: Request, opts?: CallOptions): Promise<Response>;
  /** Shutdown RPC, waited ≤ 2 s, then close (router:1357-1372). */
  shutdown(): Promise<void>;
}

export interface ReferenceRouterHandle {
  readonly address: string;
  readonly events: readonly PeerEvent[];
  sessions(): WorkerSession[];
  /** Resolves with the session of `shardId` once a worker for it completed its handshake. */
  waitForWorker(shardId: number, timeoutMs?: number): Promise<WorkerSession>;
  call(shardId: number, request: Request, opts?: CallOptions): Promise<Response>;
  close(): Promise<void>;
}

/** Faults that need a router handshake the engine helper does not offer. */
const CUSTOM_HANDSHAKE_FAULTS = [
  'router-ignores-zero-limits',
  'router-wrong-check-order',
  'router-no-reject',
  'router-silent-handshake',
  'router-stall-mid-frame',
  'router-noncanonical-encoding',
  'router-accepts-non-hello-first-frame',
  'router-version-before-auth',
  'router-nonstandard-reject-texts',
];

/** router-swaps-responses: how long a response waits for a second one to trade places with. */
const SWAP_HOLD_MS = 1_000;

export const DEFAULT_SCRIPT_FILES = [
  { path: 'src/Main.java', text: 'class Main {\n  // ERROR: not really\n}\n' },
  { path: 'src/Util.java', text: 'class Util {\n  static class Inner {}\n  // WARN: nested\n}\n' },
];

export async function startReferenceRouter(opts: ReferenceRouterOptions): Promise<ReferenceRouterHandle> {
  const faults = resolveFaults(opts.faults ?? [], 'router');
  const token = loadAuthToken(opts);
  const { events, onEvent } = boundedEventLog(opts.maxEvents ?? 10_000, opts.onEvent);
  const logger = createLogger({
    role: 'router',
    sink: opts.log,
    secrets: token ? [token] : [],
    onEvent,
  });
  const shards = new Set(opts.shards ?? [0]);
  const revision = opts.revision ?? 0n;
  const capabilities = adjustOwnCapabilities(buildCapabilities(opts, defaultCapabilities()), faults, 'router');
  const supportedVersions = buildVersions(opts, DEFAULT_SUPPORTED_VERSIONS);
  const callTimeoutMs = opts.callTimeoutMs ?? ROUTER_CALL_TIMEOUT_MS;
  /**
   * [LIM-5] Every call's wait is bounded by the configured response wait (a per-call timeout may
   * shorten it, never extend it); router-waits-forever violates it on purpose.
   */
  const waitFor = (callOpts: CallOptions): number =>
    faults.has('router-waits-forever') ? Number.POSITIVE_INFINITY : Math.min(callTimeoutMs, callOpts.timeoutMs ?? Number.POSITIVE_INFINITY);
  // [LIM-1] refuse our own zero limits at start-up rather than on the first connection.
  checkOwnCapabilities(capabilities);
  // [SEC-4] [SEC-8] fingerprint allowlists, checked and made canonical before we listen.
  const allowlist = buildAllowlist(opts, faults.has('router-tls-case-sensitive-fingerprints'));

  let nextWorkerId = 1;
  /** shard -> session, or 'pending' while a handshake that was admitted finishes. */
  const byShard = new Map<number, WorkerSession | 'pending'>();
  const extraSessions = new Set<WorkerSession>(); // router-skips-admission: duplicates live here
  const waiters = new Map<number, Array<(s: WorkerSession) => void>>();
  let closing = false;
  let handshaking = 0;

  const admit = (hello: WorkerHello, clientFingerprint: () => string | null): AdmissionDecision => {
    if (!faults.has('router-skips-admission')) {
      // [HS-11] unknown shard / shard already served.
      if (!shards.has(hello.shard_id)) return { accept: false, code: 'invalid_request', message: REJECT_MESSAGES.unknownShard(hello.shard_id) };
      if (byShard.has(hello.shard_id)) {
        return { accept: false, code: 'invalid_request', message: REJECT_MESSAGES.shardBusy(hello.shard_id) };
      }
      // [SEC-4] when the global list is non-empty or the shard has its own list, the worker's verified
      // client certificate must be allowed for the shard (router-tls-skips-shard-allowlist: never checked).
      const own = allowlist?.shards.get(hello.shard_id);
      if (allowlist !== null && (allowlist.global.size > 0 || own !== undefined) && !faults.has('router-tls-skips-shard-allowlist')) {
        // [SEC-8] its fingerprint (SHA-256 of the leaf DER, lowercase hex; entries were lowercased at
        // start-up, so the comparison ignores letter case) on the global list or on the shard's list.
        const fp = clientFingerprint();
        const onGlobal = fp !== null && !faults.has('router-tls-ignores-global-allowlist') && allowlist.global.has(fp);
        if (fp === null || !(onGlobal || own?.has(fp) === true)) {
          // The fingerprint is all we log of the certificate: it is what an operator adds to the list.
          logger.log('shard_authorization_failed', { shardId: hello.shard_id, fingerprint: fp ?? 'none' });
          return { accept: false, code: 'unauthorized', message: REJECT_MESSAGES.shardNotAllowed() };
        }
      }
    }
    if (!byShard.has(hello.shard_id)) byShard.set(hello.shard_id, 'pending');
    return { accept: true, workerId: nextWorkerId++, revision };
  };

  const tokenForEngine = faults.has('router-accepts-bad-token') || faults.has('router-echoes-token-in-reject') ? null : token;
  const admitWithFaultyAuth = (hello: WorkerHello, clientFingerprint: () => string | null): AdmissionDecision => {
    if (token !== null && faults.has('router-echoes-token-in-reject') && hello.auth_token !== token) {
      // [SEC-2] violated on purpose: the Reject carries the token the worker sent.
      // Logs stay clean even here: the token the worker sent is redacted from our log lines [SEC-2].
      if (hello.auth_token) logger.addSecret(hello.auth_token);
      logger.log('fault_injected', { fault: 'router-echoes-token-in-reject' });
      return { accept: false, code: 'unauthorized', message: `authentication failed for token ${hello.auth_token ?? ''}` };
    }
    if (token === null && faults.has('router-rejects-token-without-auth') && hello.auth_token !== null) {
      // [SEC-7] violated on purpose: without a configured token, a Hello that carries one is refused.
      logger.log('fault_injected', { fault: 'router-rejects-token-without-auth' });
      return { accept: false, code: 'unauthorized', message: 'authentication failed' };
    }
    if (token !== null && faults.has('router-accepts-bad-token') && hello.auth_token !== token) {
      logger.log('fault_injected', { fault: 'router-accepts-bad-token' });
    }
    return admit(hello, clientFingerprint);
  };

  const notificationHandlerFor = (shardId: number): NotificationHandler => (n, ctx) => {
    if (n.type === 'cached_index' && n.body.shard_id !== shardId && faults.has('router-ignores-wrong-shard-notification')) {
      // [DATA-14] violated on purpose: the worker stays connected.
      logger.log('fault_injected', { fault: 'router-ignores-wrong-shard-notification', shardId });
    } else if (n.type === 'cached_index' && n.body.shard_id !== shardId) {
      // nova-router disconnects a worker whose CachedIndex names another shard (router:2013-2048).
      logger.log('wrong_shard_notification', { shardId, id: ctx.id });
      void ctx.connection.close(new ProtocolError(ErrorCodes.UNEXPECTED_RESPONSE, 'cached index for another shard', { details: { shardId } }));
    } else if (n.type === 'cached_index') {
      logger.log('cached_index', { shardId, symbols: n.body.symbols.length, revision: n.body.revision });
    }
  };

  const makeSession = (connection: RpcConnection, welcome: RouterWelcome, lastRequestId: () => bigint | null = () => null): WorkerSession => {
    const shardId = welcome.shard_id;
    /** router-matches-responses-in-order: calls in the order they were sent, oldest first. */
    const callOrder: object[] = [];
    const callInOrder = async (request: Request, callOpts: CallOptions): Promise<Response> => {
      const slot = {};
      callOrder.push(slot);
      const leave = (): void => void callOrder.splice(callOrder.indexOf(slot), 1);
      let response: Response;
      try {
        response = await connection.call(request, { ...callOpts, timeoutMs: waitFor(callOpts) });
      } catch (e) {
        leave();
        throw e;
      }
      if (callOrder[0] !== slot) {
        // [DATA-2] violated on purpose: a response that overtakes an older call is taken for a stray and dropped.
        logger.log('fault_injected', { fault: 'router-matches-responses-in-order' });
        const timeoutMs = callOpts.timeoutMs ?? callTimeoutMs;
        await new Promise((r) => setTimeout(r, timeoutMs).unref());
        leave();
        throw new ProtocolError(ErrorCodes.TIMEOUT, 'call timed out', { details: { timeoutMs } });
      }
      leave();
      return response;
    };
    /** router-swaps-responses: calls awaiting their response, and a response held for the next one to arrive. */
    let swapInFlight = 0;
    let held: { response: Response; give: (r: Response) => void } | null = null;
    const callSwapping = async (request: Request, callOpts: CallOptions): Promise<Response> => {
      swapInFlight++;
      let own: Response;
      try {
        own = await connection.call(request, { ...callOpts, timeoutMs: waitFor(callOpts) });
      } finally {
        swapInFlight--;
      }
      const other = held;
      if (other !== null) {
        // [DATA-2] violated on purpose: the two responses change places.
        held = null;
        logger.log('fault_injected', { fault: 'router-swaps-responses' });
        other.give(own);
        return other.response;
      }
      if (swapInFlight === 0) return own;
      // Another call is still waiting: hold this response for it (our own back if none arrives soon).
      return new Promise<Response>((resolve) => {
        const entry = { response: own, give: resolve };
        held = entry;
        setTimeout(() => {
          if (held !== entry) return;
          held = null;
          resolve(own);
        }, SWAP_HOLD_MS).unref();
      });
    };
    const session: WorkerSession = {
      shardId,
      workerId: welcome.worker_id,
      connection,
      welcome,
      closed: connection.closed,
      script: null,
      async call(request, callOpts = {}) {
        const pending = faults.has('router-matches-responses-in-order')
          ? callInOrder(request, callOpts)
          : faults.has('router-swaps-responses')
            ? callSwapping(request, callOpts)
            : connection.call(request, { ...callOpts, timeoutMs: waitFor(callOpts) });
        const id = lastRequestId();
        if (faults.has('router-cancel-without-negotiation') && callOpts.signal && id !== null && !connection.negotiated.capabilities.supports_cancel) {
          callOpts.signal.addEventListener(
            'abort',
            () => {
              // [CAN-6] violated on purpose: a Cancel although cancel was not negotiated.
              logger.log('fault_injected', { fault: 'router-cancel-without-negotiation', id: id.toString() });
              void connection.fault.sendPayload(id, { type: 'cancel' }).catch(() => undefined);
            },
            { once: true },
          );
        }
        const response = await pending;
        const rs = response.type === 'shard_index' || response.type === 'worker_stats' ? response.body.shard_id : shardId;
        if (rs !== shardId) {
          // nova-router drops a worker that answers for another shard (router:1122-1128, 1229-1258).
          logger.log('wrong_shard_response', { shardId, responseType: response.type });
          await connection.close(new ProtocolError(ErrorCodes.UNEXPECTED_RESPONSE, 'response for another shard', { details: { shardId } }));
          throw new ProtocolError(ErrorCodes.UNEXPECTED_RESPONSE, 'response for another shard', { details: { shardId } });
        }
        return response;
      },
      async shutdown() {
        try {
          await session.call({ type: 'shutdown' }, { timeoutMs: ROUTER_SHUTDOWN_WAIT_MS });
        } catch {
          // best effort, like nova-router
        }
        await connection.close();
      },
    };
    return session;
  };

  const register = (session: WorkerSession): void => {
    const cur = byShard.get(session.shardId);
    if (cur === 'pending' || cur === undefined) byShard.set(session.shardId, session);
    else extraSessions.add(session);
    void session.closed.then((e) => {
      logger.log('worker_disconnected', { shardId: session.shardId, workerId: session.workerId, code: e?.code ?? null, rule: e?.rule ?? null });
      if (byShard.get(session.shardId) === session) byShard.delete(session.shardId);
      extraSessions.delete(session);
    });
    logger.log('worker_connected', { shardId: session.shardId, workerId: session.workerId });
    for (const w of waiters.get(session.shardId) ?? []) w(session);
    waiters.delete(session.shardId);
    if (opts.script === 'default') session.script = runDefaultScript(session, logger);
  };

  const onSocket = (socket: TransportSocket): void => {
    socket.on('error', () => undefined);
    // [LIM-3] connection and handshake caps (router-no-handshake-cap drops the second on purpose).
    if (closing || listener.connections.size > ROUTER_MAX_CONNECTIONS || (handshaking >= ROUTER_MAX_CONCURRENT_HANDSHAKES && !faults.has('router-no-handshake-cap'))) {
      logger.log('connection_dropped', { connections: listener.connections.size, handshaking });
      socket.destroy();
      return;
    }
    void handleConnection(socket);
  };

  const handleConnection = async (rawSocket: Duplex): Promise<void> => {
    let conn: RpcConnection | null = null;
    let admittedShard: number | null = null;
    const hooks = engineHooksFor(faults, 'router');
    const socket = needsShim(faults, 'router')
      ? wrapWithShim(rawSocket, faults, 'router', hooks, logger, () => conn?.negotiated.capabilities.max_packet_len ?? HARD_MAX_MESSAGE_BYTES)
      : rawSocket;
    installBehaviourHooks(hooks, faults, 'router', logger, () => conn);
    /** The id of the last request this connection allocated (router-cancel-without-negotiation needs it). */
    let lastRequestId: bigint | null = null;
    if (faults.has('router-cancel-without-negotiation')) {
      const prev = hooks.overrideId;
      hooks.overrideId = (id, kind) => {
        const out = prev ? prev(id, kind) : id;
        if (kind === 'request') lastRequestId = out;
        return out;
      };
    }
    const handshakeTimeoutMs = faults.has('router-handshake-no-timeout') ? 0 : (opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
    const hsOpts: RouterHandshakeOptions = {
      authToken: tokenForEngine,
      supportedVersions,
      capabilities,
      handshakeTimeoutMs,
      ...(opts.missingHandlerWaitMs !== undefined ? { missingHandlerWaitMs: opts.missingHandlerWaitMs } : {}),
      // router-closes-on-unknown-variant-with-body: [FWD-5] not followed on purpose (Rust behaviour).
      unknownVariantBody: faults.has('router-closes-on-unknown-variant-with-body') ? 'reject' : (opts.unknownVariantBody ?? 'ignore'),
      // router-no-reassembly-total-cap: [CHK-6] violated on purpose (CHK-5 and CHK-7 still bound each stream).
      ...(faults.has('router-no-reassembly-total-cap') ? { maxReassemblyBytes: Number.MAX_SAFE_INTEGER } : {}),
      admit: (hello) => {
        const d = admitWithFaultyAuth(hello, () => peerCertificateFingerprint(rawSocket));
        if (d.accept) admittedShard = hello.shard_id;
        // The Welcome faults need the worker's offer; install the mutation now.
        const m = mutateWelcomeFor(faults, hello);
        if (m) hooks.mutateWelcome = m;
        return d;
      },
      onEvent: engineEventHandler(logger, faults, 'router', () => conn),
      faultHooks: hooks,
    };
    try {
      if (faults.has('router-speaks-before-hello')) {
        // [HS-2] violated on purpose: a Welcome before any Hello was read.
        logger.log('fault_injected', { fault: 'router-speaks-before-hello' });
        const w: RouterWelcome = {
          worker_id: nextWorkerId,
          shard_id: 0,
          revision,
          chosen_version: supportedVersions.max,
          chosen_capabilities: capabilities,
        };
        socket.write(prefixFrame(encodeWireFrame({ type: 'welcome', body: w })));
      }
      let result: { connection: RpcConnection; welcome: RouterWelcome } | null;
      handshaking++;
      try {
        if (!faults.has('router-no-legacy-v2-error')) {
          // [HS-12] a legacy v2 WorkerHello gets the v2 error frame; anything else goes to the v3 handshake untouched.
          const t0 = Date.now();
          const first = await screenLegacyHello(socket, handshakeTimeoutMs);
          if (first !== 'v3') {
            if (first === 'v2') logger.log('legacy_v2_hello', {});
            else logger.log('handshake_failed', { code: first === 'timeout' ? ErrorCodes.HANDSHAKE_TIMEOUT : ErrorCodes.CONNECTION_CLOSED, rule: first === 'timeout' ? 'HS-6' : null });
            return;
          }
          if (handshakeTimeoutMs > 0) hsOpts.handshakeTimeoutMs = Math.max(1, handshakeTimeoutMs - (Date.now() - t0));
        }
        if (CUSTOM_HANDSHAKE_FAULTS.some((f) => faults.has(f))) {
          result = await faultyRouterHandshake(socket, hsOpts, faults, logger, supportedVersions, capabilities);
        } else {
          const r = await routerHandshake(socket, hsOpts);
          result = r.kind === 'welcome' ? { connection: r.connection, welcome: r.welcome } : null;
          if (r.kind === 'reject') logger.log('worker_rejected', { code: r.reject.code, shardId: r.hello.shard_id });
        }
      } finally {
        handshaking--;
      }
      if (!result) {
        if (admittedShard !== null && byShard.get(admittedShard) === 'pending') byShard.delete(admittedShard);
        return;
      }
      conn = result.connection;
      conn.setNotificationHandler(notificationHandlerFor(result.welcome.shard_id));
      // no request handler, like nova-router: the engine answers after 500 ms.
      if (faults.has('router-unhandled-request-retryable')) {
        // [DATA-11] [ERR-4] violated on purpose: the no-handler answer says retryable.
        conn.setRequestHandler(() => {
          logger.log('fault_injected', { fault: 'router-unhandled-request-retryable' });
          return { status: 'err', error: { code: 'invalid_request', message: 'no request handler installed', retryable: true, details: null } };
        });
      }
      const session = makeSession(conn, result.welcome, () => lastRequestId);
      register(session);
      await runAfterWelcomeFaults(conn, faults, 'router', logger, conn.hello).catch(() => undefined);
    } catch (e) {
      if (admittedShard !== null && byShard.get(admittedShard) === 'pending') byShard.delete(admittedShard);
      const pe = isProtocolError(e) ? e : null;
      logger.log('handshake_failed', { code: pe?.code ?? 'UNKNOWN', rule: pe?.rule ?? null });
      socket.destroy();
    }
  };

  const listener: Listener = await (hasTlsListenFault(faults) ? (a: string, o: ListenOptions, cb: (s: TransportSocket) => void) => listenWithTlsFault(a, o, cb, faults) : listenTransport)(
    opts.listen,
    {
      ...(opts.caFile !== undefined ? { caFile: opts.caFile } : {}),
      ...(opts.certFile !== undefined ? { certFile: opts.certFile } : {}),
      ...(opts.keyFile !== undefined ? { keyFile: opts.keyFile } : {}),
      ...(opts.requireClientCert !== undefined ? { requireClientCert: opts.requireClientCert } : {}),
      allowInsecureTcp: opts.allowInsecureTcp ?? false,
      authTokenConfigured: token !== null,
    },
    onSocket,
  );
  logger.log('listening', { address: listener.address, shards: [...shards].join(','), hasAuthToken: token !== null, faults: [...faults].join(',') });

  const allSessions = (): WorkerSession[] => [
    ...[...byShard.values()].filter((s): s is WorkerSession => s !== 'pending'),
    ...extraSessions,
  ];

  return {
    address: listener.address,
    events,
    sessions: allSessions,
    waitForWorker(shardId, timeoutMs = 20_000) {
      const cur = byShard.get(shardId);
      if (cur && cur !== 'pending') return Promise.resolve(cur);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new ProtocolError(ErrorCodes.TIMEOUT, 'no worker for the shard in time', { details: { shardId, timeoutMs } })), timeoutMs);
        const list = waiters.get(shardId) ?? [];
        list.push((s) => {
          clearTimeout(t);
          resolve(s);
        });
        waiters.set(shardId, list);
      });
    },
    async call(shardId, request, callOpts) {
      const s = byShard.get(shardId);
      if (!s || s === 'pending') throw new ProtocolError(ErrorCodes.CONNECTION_CLOSED, 'no worker connected for the shard', { details: { shardId } });
      return s.call(request, callOpts);
    },
    async close() {
      closing = true;
      await Promise.all(allSessions().map((s) => s.connection.close()));
      await listener.close();
      logger.log('closed', {});
    },
  };
}

/** The legacy v2 error frame [HS-12]: prefix 28, tag 12 (Error), u32-LE length 23, "router only supports v3". */
export const LEGACY_V2_ERROR_FRAME: Uint8Array = (() => {
  const text = new TextEncoder().encode('router only supports v3');
  const body = new Uint8Array(1 + 4 + text.length);
  body[0] = 0x0c;
  new DataView(body.buffer).setUint32(1, text.length, true);
  body.set(text, 5);
  return prefixFrame(body);
})();

/**
 * Is `body` exactly a legacy v2 WorkerHello? `00`, shard u32-LE, auth token (`00`, or `01` +
 * u32-LE length + UTF-8), has_cached_index (`00` / `01`), nothing after (spec 06, "Legacy v2 hello").
 */
export function isLegacyV2Hello(body: Uint8Array): boolean {
  if (body.length < 7 || body[0] !== 0x00) return false;
  let pos = 5;
  if (body[pos] === 0x01) {
    if (body.length < pos + 5) return false;
    const len = new DataView(body.buffer, body.byteOffset + pos + 1, 4).getUint32(0, true);
    pos += 5;
    if (body.length < pos + len) return false;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(pos, pos + len));
    } catch {
      return false;
    }
    pos += len;
  } else if (body[pos] === 0x00) pos += 1;
  else return false;
  return pos === body.length - 1 && (body[pos] === 0x00 || body[pos] === 0x01);
}

/** Linger after the legacy error frame before the socket is destroyed, should the worker not close first. */
const LEGACY_ERROR_LINGER_MS = 1_000;

/**
 * [HS-12] Look at the first frame before the v3 handshake. A v3 Hello is a CBOR map and never
 * starts with `00`, so only a frame whose body starts with `00` (never valid v3, [HS-3]) is read
 * whole and checked against the v2 layout; on a match the legacy error frame is sent and the
 * connection closed (`v2`). Otherwise every byte read is put back, untouched, and the stream is
 * resumed once the handshake has attached (`v3`). `closed` / `timeout`: the socket was destroyed
 * (stream ended, errored or stayed silent past the handshake timeout), nothing sent.
 */
export function screenLegacyHello(stream: Duplex, timeoutMs: number): Promise<'v3' | 'v2' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let timer: NodeJS.Timeout | undefined;
    const detach = (): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onGone);
      stream.off('close', onGone);
      stream.off('error', onGone);
    };
    const finish = (outcome: 'v3' | 'v2' | 'closed' | 'timeout'): void => {
      detach();
      if (outcome === 'v3') {
        stream.pause();
        if (bytes > 0) stream.unshift(Buffer.concat(chunks, bytes));
        // Resume only once the handshake's reader listens, so no byte is emitted to nobody.
        const resumeWhenRead = (): void => {
          if (stream.destroyed) return;
          if (stream.listenerCount('data') > 0) stream.resume();
          else setImmediate(resumeWhenRead);
        };
        setImmediate(resumeWhenRead);
      } else if (outcome === 'v2') {
        stream.pause();
        stream.write(LEGACY_V2_ERROR_FRAME);
        stream.end();
        setTimeout(() => stream.destroy(), LEGACY_ERROR_LINGER_MS).unref();
      } else stream.destroy();
      resolve(outcome);
    };
    const onData = (chunk: Uint8Array): void => {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      bytes += chunk.length;
      if (bytes < LENGTH_PREFIX_BYTES) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
      const len = all.readUInt32LE(0);
      // Bad prefixes are the v3 handshake's to refuse, at once [FRM-2] [FRM-4].
      if (len === 0 || len > PRE_HANDSHAKE_MAX_FRAME_BYTES) return finish('v3');
      if (bytes < LENGTH_PREFIX_BYTES + 1) return;
      if (all[LENGTH_PREFIX_BYTES] !== 0x00) return finish('v3');
      if (bytes < LENGTH_PREFIX_BYTES + len) return;
      finish(isLegacyV2Hello(all.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + len)) ? 'v2' : 'v3');
    };
    const onGone = (): void => finish('closed');
    stream.on('data', onData);
    stream.on('end', onGone);
    stream.on('close', onGone);
    stream.on('error', onGone);
    if (timeoutMs > 0) timer = setTimeout(() => finish('timeout'), timeoutMs);
  });
}

/** The router's fingerprint allowlists in canonical form: 64 lowercase hex digits per entry. */
interface FingerprintAllowlist {
  global: ReadonlySet<string>;
  /** Shards with a list of their own (possibly empty). */
  shards: ReadonlyMap<number, ReadonlySet<string>>;
}

/**
 * [SEC-4] [SEC-8] Check and canonicalise the configured allowlists; null when none is configured.
 * Throws CONFIG_INVALID (never echoing an entry) for a malformed fingerprint, a shard key that is
 * not a u32, or an allowlist on a router that does not require client certificates over tcp+tls.
 * `caseSensitive` (router-tls-case-sensitive-fingerprints) keeps each entry's letter case, so an
 * entry written in upper case never matches the lowercase fingerprint computed for a client.
 */
function buildAllowlist(opts: ReferenceRouterOptions, caseSensitive: boolean): FingerprintAllowlist | null {
  if (opts.globalAllowlist === undefined && opts.shardAllowlist === undefined) return null;
  if (!opts.listen.startsWith('tcp+tls:') || opts.requireClientCert !== true) {
    throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'a fingerprint allowlist needs mTLS: a tcp+tls listen address and requireClientCert', { rule: 'SEC-4' });
  }
  const canonical = (entry: string, where: Record<string, string | number>): string => {
    const fp = parseFingerprint(entry, where);
    // [SEC-8] violated on purpose under router-tls-case-sensitive-fingerprints: the letter case is kept.
    return caseSensitive ? (stripFingerprint(entry) ?? fp) : fp;
  };
  const global = new Set((opts.globalAllowlist ?? []).map((e, index) => canonical(e, { list: 'global', index })));
  const shards = new Map<number, Set<string>>();
  for (const [key, entries] of Object.entries(opts.shardAllowlist ?? {})) {
    if (!/^[0-9]{1,10}$/.test(key) || Number(key) > 0xffffffff) {
      throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'shard allowlist keys must be shard ids (u32)', { rule: 'SEC-4' });
    }
    const shard = Number(key);
    shards.set(shard, new Set(entries.map((e, index) => canonical(e, { list: 'shard', shard, index }))));
  }
  return { global, shards };
}

/** Summarise a response by its type only (no peer text). */
function describe(r: Response): string {
  return r.type;
}

/** The `default` script: load, index, update, diagnostics, stats, shutdown — with sanity checks on the answers. */
export async function runDefaultScript(session: WorkerSession, logger: PeerLogger): Promise<ScriptResult> {
  const steps: ScriptStep[] = [];
  const step = async (request: Request, check: (r: Response) => boolean): Promise<void> => {
    try {
      const r = await session.call(request);
      const ok = check(r);
      steps.push({ request: request.type, ok, result: describe(r) });
      logger.log('script_step', { request: request.type, ok, response: describe(r) });
    } catch (e) {
      const code = isProtocolError(e) ? e.code : 'UNKNOWN';
      steps.push({ request: request.type, ok: false, result: code });
      logger.log('script_step', { request: request.type, ok: false, error: code });
    }
  };
  const rev = session.welcome.revision + 1n;
  await step({ type: 'load_files', revision: rev, files: DEFAULT_SCRIPT_FILES }, (r) => r.type === 'ack');
  await step({ type: 'index_shard', revision: rev, files: DEFAULT_SCRIPT_FILES }, (r) =>
    r.type === 'shard_index' && ['Inner', 'Main', 'Util'].every((n) => r.body.symbols.some((s) => s.name === n)));
  // [MSG-8] update_file is answered with the rebuilt index, which now has New.
  await step({ type: 'update_file', revision: rev + 1n, file: { path: 'src/New.java', text: 'class New {}\n' } }, (r) =>
    r.type === 'shard_index' && r.body.revision === rev + 1n && ['Inner', 'Main', 'New', 'Util'].every((n) => r.body.symbols.some((s) => s.name === n)));
  await step({ type: 'diagnostics', path: 'src/Main.java' }, (r) => r.type === 'diagnostics' && r.body.diagnostics.some((d) => d.severity === 'error'));
  await step({ type: 'get_worker_stats' }, (r) => r.type === 'worker_stats' && r.body.file_count === 3 && r.body.revision === rev + 1n);
  await step({ type: 'shutdown' }, (r) => r.type === 'shutdown');
  // The worker closes after answering; give it the nova-router grace period, then close our side.
  await Promise.race([session.closed, new Promise((r) => setTimeout(r, ROUTER_SHUTDOWN_WAIT_MS).unref())]);
  await session.connection.close();
  const result = { ok: steps.every((s) => s.ok), steps };
  logger.log('script_done', { ok: result.ok, steps: steps.length });
  return result;
}

/**
 * Router handshakes for faults the engine helper does not express: wrong check order, welcoming zero
 * limits, closing instead of rejecting, never answering, and stalling mid-Welcome. The connection is
 * then built on the engine's RpcConnection as usual.
 */
async function faultyRouterHandshake(
  socket: Duplex,
  opts: RouterHandshakeOptions,
  faults: ReadonlySet<string>,
  logger: PeerLogger,
  versions: SupportedVersions,
  ownOffer: Capabilities,
): Promise<{ connection: RpcConnection; welcome: RouterWelcome } | null> {
  const own = sanitizeCapabilities(ownOffer, { zstdAvailable: zstdAvailable() });
  const timeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const { body, leftover } = await Promise.race([
    readOneFrame(socket),
    new Promise<never>((_, reject) => {
      if (timeoutMs > 0) timer = setTimeout(() => reject(new ProtocolError(ErrorCodes.HANDSHAKE_TIMEOUT, 'handshake timed out', { rule: 'HS-6' })), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  const frame = decodeWireFrame(body);
  if (frame.type !== 'hello' && faults.has('router-accepts-non-hello-first-frame')) {
    // [HS-3] violated on purpose: any decodable first frame is welcomed (shard 0, our own offer).
    logger.log('fault_injected', { fault: 'router-accepts-non-hello-first-frame', frameType: frame.type });
    const w: RouterWelcome = { worker_id: 1, shard_id: 0, revision: 0n, chosen_version: versions.max, chosen_capabilities: own };
    socket.write(prefixFrame(encodeWireFrame({ type: 'welcome', body: w })));
    socket.resume();
    await new Promise<void>((r) => socket.once('close', () => r()));
    return null;
  }
  if (frame.type !== 'hello') throw new ProtocolError(ErrorCodes.HANDSHAKE_UNEXPECTED_FRAME, 'expected hello frame', { rule: 'HS-3' });
  let hello = frame.body;
  logger.log('hello_received', { shardId: hello.shard_id, hasAuthToken: hello.auth_token !== null });

  if (faults.has('router-silent-handshake')) {
    logger.log('fault_injected', { fault: 'router-silent-handshake' });
    socket.resume();
    await new Promise<void>((r) => socket.once('close', () => r()));
    return null;
  }

  let outcome: { kind: 'welcome'; welcome: RouterWelcome } | { kind: 'reject'; reject: HandshakeReject } | null = null;
  const expected = opts.authToken ?? null;
  if (faults.has('router-wrong-check-order')) {
    // [HS-4] violated on purpose: auth first, then compression, then limits and version.
    logger.log('fault_injected', { fault: 'router-wrong-check-order' });
    if (expected !== null && hello.auth_token !== expected) outcome = { kind: 'reject', reject: { code: 'unauthorized', message: 'authentication failed' } };
    else if (!own.supported_compression.some((a) => a !== 'unknown' && hello.capabilities.supported_compression.includes(a))) {
      outcome = { kind: 'reject', reject: { code: 'invalid_request', message: 'handshake failed: no common compression algorithm' } };
    }
  }
  if (faults.has('router-version-before-auth') && expected !== null) {
    // [HS-4] violated on purpose: the version is checked before the token.
    const r = negotiateHello(hello, { supportedVersions: versions, capabilities: own, authToken: null });
    if (r.kind === 'reject' && r.reject.code === 'unsupported_version') {
      logger.log('fault_injected', { fault: 'router-version-before-auth' });
      outcome = r;
    }
  }
  if (faults.has('router-ignores-zero-limits') && (hello.capabilities.max_frame_len === 0 || hello.capabilities.max_packet_len === 0)) {
    // [HS-4] violated on purpose: zero limits are taken as "no preference".
    logger.log('fault_injected', { fault: 'router-ignores-zero-limits' });
    hello = {
      ...hello,
      capabilities: {
        ...hello.capabilities,
        max_frame_len: hello.capabilities.max_frame_len || own.max_frame_len,
        max_packet_len: hello.capabilities.max_packet_len || own.max_packet_len,
      },
    };
  }
  if (outcome === null) {
    const r = negotiateHello(hello, { supportedVersions: versions, capabilities: own, authToken: expected });
    if (r.kind === 'reject') outcome = r;
    else {
      const d = await opts.admit!(hello, { version: r.welcome.chosen_version, capabilities: r.welcome.chosen_capabilities });
      outcome = d.accept
        ? { kind: 'welcome', welcome: { ...r.welcome, worker_id: d.workerId, revision: d.revision } }
        : { kind: 'reject', reject: { code: d.code, message: d.message } };
    }
  }
  if (outcome.kind === 'reject') {
    if (faults.has('router-no-reject')) {
      // [HS-5] violated on purpose: close without the Reject.
      logger.log('fault_injected', { fault: 'router-no-reject', code: outcome.reject.code });
      socket.destroy();
      return null;
    }
    let reject = outcome.reject;
    if (faults.has('router-nonstandard-reject-texts')) {
      // [HS-16] violated on purpose: our own wording instead of the reject table.
      logger.log('fault_injected', { fault: 'router-nonstandard-reject-texts', code: reject.code });
      reject = { ...reject, message: `handshake rejected (${reject.code})` };
    }
    socket.write(prefixFrame(encodeWireFrame({ type: 'reject', body: reject })));
    logger.log('reject_sent', { code: outcome.reject.code });
    socket.end();
    return null;
  }
  const welcome = opts.faultHooks?.mutateWelcome ? opts.faultHooks.mutateWelcome(outcome.welcome) : outcome.welcome;
  let wb = encodeWireFrame({ type: 'welcome', body: welcome });
  if (faults.has('router-noncanonical-encoding')) {
    // [CBOR-1] violated on purpose: worker_id as a 4-byte integer.
    logger.log('fault_injected', { fault: 'router-noncanonical-encoding' });
    wb = widenUintAfterKey(wb, 'worker_id');
  }
  if (faults.has('router-stall-mid-frame')) {
    logger.log('fault_injected', { fault: 'router-stall-mid-frame', claimedBytes: wb.length, sentBytes: Math.floor(wb.length / 2) });
    socket.write(prefixFrame(wb).subarray(0, 4 + Math.floor(wb.length / 2)));
    socket.resume();
    await new Promise<void>((r) => socket.once('close', () => r()));
    return null;
  }
  socket.write(prefixFrame(wb));
  logger.log('welcome_sent', { workerId: welcome.worker_id, shardId: welcome.shard_id });
  const connection = new RpcConnection(
    socket,
    {
      role: 'router',
      negotiated: {
        role: 'router',
        version: outcome.welcome.chosen_version,
        capabilities: outcome.welcome.chosen_capabilities,
        workerId: outcome.welcome.worker_id,
        shardId: outcome.welcome.shard_id,
        revision: outcome.welcome.revision,
      },
      leftover,
      hello: { ...hello, auth_token: null },
      welcome: outcome.welcome,
    },
    opts,
  );
  return { connection, welcome: outcome.welcome };
}
