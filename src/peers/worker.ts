/**
 * The reference worker: a TypeScript nova-worker on the engine's RpcConnection.
 *
 * Protocol behaviour mirrors nova-worker (behaviours.md): Hello with shard id and capabilities,
 * Welcome checked against our offer (we refuse invalid ones [HS-10]; the Rust worker does not),
 * a Welcome for another shard closes the connection (worker:183-189), requests answered from a
 * small in-memory {@link Workspace}, Shutdown answered and the connection closed after 50 ms
 * [DATA-8], unknown requests refused with invalid_request "unknown request" [DATA-7], cancelled
 * work answered cancelled "request cancelled" retryable true [CAN-5].
 *
 * Test hooks: a file whose text contains `SLOW` makes index_shard take ~2 s in 100 ms steps,
 * abandoning the work as soon as the request is cancelled.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import {
  DEFAULT_SUPPORTED_VERSIONS,
  RpcConnection,
  defaultCapabilities,
  workerHandshake,
  HandshakeRejectedError,
  type RequestContext,
  type WorkerHandshakeOptions,
} from '../engine/connection.js';
import { sanitizeCapabilities, checkWelcome, checkOwnCapabilities } from '../engine/negotiation.js';
import { ErrorCodes, ProtocolError, isProtocolError } from '../errors.js';
import { HANDSHAKE_TIMEOUT_MS, HARD_MAX_MESSAGE_BYTES, WORKER_SHUTDOWN_LINGER_MS } from '../limits.js';
import { connectTransport, type TlsOptions } from '../transport/index.js';
import { connectWithTlsFault, hasTlsConnectFault } from './faults-tls.js';
import { decodeWireFrame, encodeRpcPayload, encodeWireFrame, zstdAvailable } from '../wire/index.js';
import type { Request, RouterWelcome, RpcResult, WorkerHello } from '../wire/model.js';
import {
  buildCapabilities,
  buildVersions,
  faultId,
  loadAuthToken,
  prefixFrame,
  readOneFrame,
  type AuthTokenSource,
  type PeerCapabilityOptions,
} from './common.js';
import { adjustOwnCapabilities, engineEventHandler, engineHooksFor, installBehaviourHooks, runAfterWelcomeFaults, widenUintAfterKey } from './fault-actions.js';
import { resolveFaults } from './faults.js';
import { boundedEventLog, createLogger, type PeerEvent, type PeerLogger } from './log.js';
import { needsShim, wrapWithShim } from './receive-shim.js';
import { Workspace } from './workspace.js';

export interface ReferenceWorkerOptions extends PeerCapabilityOptions, AuthTokenSource, TlsOptions {
  /** Router address (see parseAddress). */
  connect: string;
  shardId: number;
  /** [TRN-2] allow plaintext TCP with a token / to a non-loopback host. */
  allowInsecureTcp?: boolean;
  /** Whole-handshake timeout; 0 = wait forever like nova-worker. Default 5000 ms. */
  handshakeTimeoutMs?: number;
  /** Refuse a Welcome that breaks negotiation [HS-10]. Default true. */
  checkWelcome?: boolean;
  /** Fault names (see faults.ts), role worker. */
  faults?: readonly string[];
  /** Total time of SLOW index work and its step. Defaults 2000 / 100 ms. */
  slowWorkMs?: number;
  slowStepMs?: number;
  /** Linger after answering Shutdown before closing. Default 50 ms (nova-worker). */
  shutdownLingerMs?: number;
  /** Log line sink; default stderr, null = silent. */
  log?: ((line: string) => void) | null;
  onEvent?: (e: PeerEvent) => void;
  /**
   * [FWD-5] An unknown frame / payload variant with a body: 'ignore' (default; the reference peers
   * are liberal in what they accept) or 'reject' (close, like the Rust reference).
   */
  unknownVariantBody?: 'reject' | 'ignore';
  /** Max events kept in the handle's `events` list (oldest dropped). Default 10,000. */
  maxEvents?: number;
  workerBuild?: string;
}

export interface ReferenceWorkerHandle {
  /** The address we connected to. */
  readonly address: string;
  /** The open connection, or null when a handshake fault keeps the handshake from completing. */
  readonly connection: RpcConnection | null;
  readonly welcome: RouterWelcome | null;
  readonly workspace: Workspace;
  readonly events: readonly PeerEvent[];
  /** Resolves once the connection / socket is closed: the error that closed it, or null. */
  readonly closed: Promise<ProtocolError | null>;
  /** Resolves when a Shutdown request was answered. */
  readonly shutdownRequested: Promise<void>;
  close(): Promise<void>;
}

const HANDSHAKE_FAULTS = new Set([
  'worker-stall-mid-frame',
  'worker-packet-before-welcome',
  'worker-noncanonical-encoding',
  'worker-accepts-packet-before-welcome',
  'worker-stays-open-after-reject',
  'worker-accepts-wrong-shard-welcome',
]);

function ok(value: Extract<RpcResult, { status: 'ok' }>['value']): RpcResult {
  return { status: 'ok', value };
}
function err(code: 'invalid_request' | 'cancelled' | 'internal', message: string, retryable = false): RpcResult {
  return { status: 'err', error: { code, message, retryable, details: null } };
}
const CANCELLED: RpcResult = err('cancelled', 'request cancelled', true);

function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Connect, handshake and serve. Resolves once the handshake is done (or, under a handshake fault, once the fault fired). */
export async function startReferenceWorker(opts: ReferenceWorkerOptions): Promise<ReferenceWorkerHandle> {
  const faults = resolveFaults(opts.faults ?? [], 'worker');
  const token = loadAuthToken(opts);
  const { events, onEvent } = boundedEventLog(opts.maxEvents ?? 10_000, opts.onEvent);
  const logger = createLogger({
    role: 'worker',
    sink: opts.log,
    // worker-logs-token: no redaction either, or the line below would not leak.
    secrets: token && !faults.has('worker-logs-token') ? [token] : [],
    onEvent,
  });
  const workspace = new Workspace(opts.shardId);
  const capabilities = adjustOwnCapabilities(buildCapabilities(opts, defaultCapabilities()), faults, 'worker');
  const supportedVersions = buildVersions(opts, DEFAULT_SUPPORTED_VERSIONS);
  const tls: TlsOptions = {
    ...(opts.caFile !== undefined ? { caFile: opts.caFile } : {}),
    ...(opts.certFile !== undefined ? { certFile: opts.certFile } : {}),
    ...(opts.keyFile !== undefined ? { keyFile: opts.keyFile } : {}),
    ...(opts.serverName !== undefined ? { serverName: opts.serverName } : {}),
  };

  logger.log('connecting', { shardId: opts.shardId, hasAuthToken: token !== null, faults: [...faults].join(',') });
  if (faults.has('worker-token-in-process-title') && token !== null) {
    // [SEC-3] violated on purpose: the token in the process title (argv memory, /proc/PID/cmdline).
    process.title = `nova-worker token=${token} shard=${opts.shardId}`;
    logger.log('fault_injected', { fault: 'worker-token-in-process-title' });
  }
  if (faults.has('worker-logs-token') && token !== null) {
    // [SEC-2] violated on purpose: the token in the log output.
    logger.log('fault_injected', { fault: 'worker-logs-token', authToken: token });
  }
  const connectOpts = { ...tls, allowInsecureTcp: opts.allowInsecureTcp ?? false, authTokenConfigured: token !== null };
  const socket = await (hasTlsConnectFault(faults) ? connectWithTlsFault(opts.connect, connectOpts, faults) : connectTransport(opts.connect, connectOpts));
  logger.log('connected', { address: opts.connect });

  let resolveShutdown!: () => void;
  const shutdownRequested = new Promise<void>((r) => (resolveShutdown = r));
  const slowWorkMs = opts.slowWorkMs ?? 2_000;
  const slowStepMs = opts.slowStepMs ?? 100;
  const linger = opts.shutdownLingerMs ?? WORKER_SHUTDOWN_LINGER_MS;

  const handler = async (req: Request, ctx: RequestContext): Promise<RpcResult> => {
    const conn = ctx.connection;
    const answer = await (async (): Promise<RpcResult | null> => {
      if (faults.has('worker-silent')) return null;
      const slowAware = async (files: readonly string[]): Promise<boolean> => {
        if (!files.some((t) => t.includes('SLOW'))) return true;
        const signal = faults.has('worker-ignores-cancel') ? undefined : ctx.signal;
        logger.log('slow_work_started', { id: ctx.id, totalMs: slowWorkMs });
        for (let done = 0; done < slowWorkMs; done += slowStepMs) {
          if (!(await sleep(Math.min(slowStepMs, slowWorkMs - done), signal))) {
            logger.log('slow_work_cancelled', { id: ctx.id, afterMs: done });
            return false;
          }
        }
        return true;
      };
      switch (req.type) {
        case 'load_files':
          workspace.load(req.revision, req.files);
          return ok({ type: 'ack' });
        case 'index_shard': {
          workspace.load(req.revision, req.files);
          if (!(await slowAware([...workspace.files.values()]))) return CANCELLED;
          return ok({ type: 'shard_index', body: workspace.index() });
        }
        case 'update_file':
          // [MSG-8] like nova-worker: apply the update, rebuild the index and return it (not ack).
          workspace.update(req.revision, req.file);
          return ok({ type: 'shard_index', body: workspace.index() });
        case 'diagnostics':
          return ok({ type: 'diagnostics', body: { diagnostics: workspace.diagnostics(req.path) ?? [] } });
        case 'get_worker_stats':
          return ok({ type: 'worker_stats', body: workspace.stats() });
        case 'shutdown':
          resolveShutdown();
          if (faults.has('worker-no-shutdown-response')) {
            logger.log('fault_injected', { fault: 'worker-no-shutdown-response' });
            void conn.close(new ProtocolError(ErrorCodes.CONNECTION_CLOSED, 'fault: closed on shutdown without answering'));
            return null;
          }
          // [DATA-8] answer, then close after a short linger (nova-worker sleeps 50 ms).
          setTimeout(() => void conn.close(), linger).unref();
          return ok({ type: 'shutdown' });
        default:
          if (faults.has('worker-unknown-request-not-rejected')) return ok({ type: 'ack' });
          // [DATA-7] unknown requests are refused.
          return err('invalid_request', faults.has('worker-error-echoes-token') && token ? `unknown request (token ${token})` : 'unknown request');
      }
    })();
    if (answer === null) return new Promise<RpcResult>(() => undefined); // never answers
    if (faults.has('worker-error-echoes-token') && token && answer.status === 'err' && !answer.error.message.includes(token)) {
      answer.error = { ...answer.error, details: `token=${token}` };
    }
    if (faults.has('worker-double-response')) {
      // [DATA-1] a second response for the same id, right after the real one.
      setImmediate(() => void conn.fault.sendPayload(ctx.id, { type: 'response', body: answer }).catch(() => undefined));
    }
    return answer;
  };

  let connection: RpcConnection | null = null;
  let welcome: RouterWelcome | null = null;
  let closed: Promise<ProtocolError | null>;
  const hooks = engineHooksFor(faults, 'worker');
  installBehaviourHooks(hooks, faults, 'worker', logger, () => connection);
  const handshakeOpts: WorkerHandshakeOptions = {
    shardId: opts.shardId,
    authToken: token,
    supportedVersions,
    capabilities,
    cachedIndexInfo: null,
    workerBuild: opts.workerBuild ?? 'nova-conformance reference worker',
    // worker-accepts-invalid-welcome: [HS-10] violated on purpose.
    checkWelcome: faults.has('worker-accepts-invalid-welcome') ? false : (opts.checkWelcome ?? true),
    // worker-no-handshake-timeout: [HS-17] violated on purpose.
    handshakeTimeoutMs: faults.has('worker-no-handshake-timeout') ? 0 : (opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS),
    requestHandler: handler,
    // worker-closes-on-unknown-variant-with-body: [FWD-5] not followed on purpose (Rust behaviour).
    unknownVariantBody: faults.has('worker-closes-on-unknown-variant-with-body') ? 'reject' : (opts.unknownVariantBody ?? 'ignore'),
    // worker-no-reassembly-total-cap: [CHK-6] violated on purpose (CHK-5 and CHK-7 still bound each stream).
    ...(faults.has('worker-no-reassembly-total-cap') ? { maxReassemblyBytes: Number.MAX_SAFE_INTEGER } : {}),
    onEvent: engineEventHandler(logger, faults, 'worker', () => connection),
    faultHooks: hooks,
  };

  try {
    const stream = needsShim(faults, 'worker')
      ? wrapWithShim(socket, faults, 'worker', hooks, logger, () => connection?.negotiated.capabilities.max_packet_len ?? HARD_MAX_MESSAGE_BYTES)
      : socket;
    if ([...faults].some((f) => HANDSHAKE_FAULTS.has(f))) {
      const r = await faultyWorkerHandshake(stream, handshakeOpts, faults, logger);
      connection = r.connection;
      welcome = r.welcome;
    } else {
      connection = await workerHandshake(stream, handshakeOpts);
      welcome = connection.welcome;
    }
  } catch (e) {
    const pe = isProtocolError(e) ? e : new ProtocolError(ErrorCodes.TRANSPORT_ERROR, 'handshake failed', { cause: e });
    logger.log('handshake_failed', { code: pe.code, rule: pe.rule ?? null });
    socket.destroy();
    throw pe;
  }

  if (connection) {
    const conn = connection;
    // nova-worker exits when the Welcome names another shard (worker:183-189); our checkWelcome covers it, this covers checkWelcome=false.
    if (conn.welcome.shard_id !== opts.shardId && faults.has('worker-accepts-wrong-shard-welcome')) {
      // [HS-15] violated on purpose: serve on.
      logger.log('fault_injected', { fault: 'worker-accepts-wrong-shard-welcome', shardId: conn.welcome.shard_id });
    } else if (conn.welcome.shard_id !== opts.shardId) {
      await conn.close(new ProtocolError(ErrorCodes.HANDSHAKE_INVALID_WELCOME, 'welcome for another shard', { rule: 'HS-9' }));
    }
    logger.log('ready', { workerId: conn.welcome.worker_id, shardId: conn.welcome.shard_id, revision: conn.welcome.revision });
    closed = conn.closed.then((e) => {
      logger.log('disconnected', { code: e?.code ?? null, rule: e?.rule ?? null });
      return e;
    });
    await runAfterWelcomeFaults(conn, faults, 'worker', logger, conn.hello).catch(() => undefined);
  } else {
    closed = new Promise((resolve) => {
      socket.once('close', () => resolve(new ProtocolError(ErrorCodes.CONNECTION_CLOSED, 'peer closed the connection')));
    });
  }

  return {
    address: opts.connect,
    connection,
    welcome,
    workspace,
    events,
    closed,
    shutdownRequested,
    async close() {
      if (connection) await connection.close();
      else socket.destroy();
      await closed;
    },
  };
}

/**
 * Handshakes the engine helper cannot express: stall mid-Hello, a packet right behind the Hello, a
 * non-canonical Hello, and the faulty ways of treating the router's answer (ignoring a frame that
 * is neither Welcome nor Reject, staying open after a Reject, taking a Welcome for another shard).
 */
async function faultyWorkerHandshake(
  socket: Duplex,
  opts: WorkerHandshakeOptions,
  faults: ReadonlySet<string>,
  logger: PeerLogger,
): Promise<{ connection: RpcConnection | null; welcome: RouterWelcome | null }> {
  const own = sanitizeCapabilities(opts.capabilities ?? defaultCapabilities(), { zstdAvailable: zstdAvailable() });
  checkOwnCapabilities(own);
  const hello: WorkerHello = {
    shard_id: opts.shardId,
    auth_token: opts.authToken ?? null,
    supported_versions: opts.supportedVersions ?? DEFAULT_SUPPORTED_VERSIONS,
    capabilities: own,
    cached_index_info: null,
    worker_build: opts.workerBuild ?? null,
  };
  let helloBody = encodeWireFrame({ type: 'hello', body: hello });
  if (faults.has('worker-noncanonical-encoding')) {
    // [CBOR-1] violated on purpose: shard_id as a 4-byte integer.
    logger.log('fault_injected', { fault: 'worker-noncanonical-encoding' });
    helloBody = widenUintAfterKey(helloBody, 'shard_id');
  }
  if (faults.has('worker-stall-mid-frame')) {
    // A prefix claiming 1 MiB (allowed pre-handshake) and 16 body bytes, then nothing [HS-6].
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, 1024 * 1024, true);
    logger.log('fault_injected', { fault: 'worker-stall-mid-frame', claimedBytes: 1024 * 1024, sentBytes: 16 });
    socket.write(prefix);
    socket.write(helloBody.subarray(0, 16));
    socket.on('error', () => undefined);
    return { connection: null, welcome: null };
  }
  if (faults.has('worker-packet-before-welcome')) {
    // [HS-8] violated on purpose: Hello and a request packet in one write, before any answer.
    const req = encodeRpcPayload({ type: 'request', body: { type: 'get_worker_stats' } });
    const pkt = encodeWireFrame({ type: 'packet', body: { id: faultId('worker', 0), compression: 'none', data: req } });
    logger.log('fault_injected', { fault: 'worker-packet-before-welcome' });
    socket.write(Buffer.concat([prefixFrame(helloBody), prefixFrame(pkt)]));
  } else socket.write(prefixFrame(helloBody));
  const timeoutMs = opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    if (timeoutMs > 0) timer = setTimeout(() => reject(new ProtocolError(ErrorCodes.HANDSHAKE_TIMEOUT, 'handshake timed out', { rule: 'HS-6' })), timeoutMs);
  });
  deadline.catch(() => undefined);
  let w: RouterWelcome;
  let leftover: Uint8Array[];
  try {
    for (let first = true; ; first = false) {
      const read = readOneFrame(socket);
      // The previous read paused the stream (its leftover was put back first).
      if (!first) socket.resume();
      const r = await (timer !== undefined ? Promise.race([read, deadline]) : read);
      const frame = decodeWireFrame(r.body);
      if (frame.type === 'welcome') {
        w = frame.body;
        leftover = r.leftover;
        break;
      }
      if (frame.type === 'reject') {
        if (faults.has('worker-stays-open-after-reject')) {
          // [HS-13] violated on purpose: the connection stays open (whatever arrives is read and dropped).
          logger.log('fault_injected', { fault: 'worker-stays-open-after-reject', code: frame.body.code });
          socket.on('error', () => undefined);
          socket.resume();
          return { connection: null, welcome: null };
        }
        throw new HandshakeRejectedError(frame.body);
      }
      if (!faults.has('worker-accepts-packet-before-welcome')) {
        throw new ProtocolError(ErrorCodes.HANDSHAKE_UNEXPECTED_FRAME, `unexpected handshake frame: ${frame.type}`, { details: { frameType: frame.type } });
      }
      // [HS-14] violated on purpose: the frame is ignored, and an answer "arrived", so the timer stops.
      logger.log('fault_injected', { fault: 'worker-accepts-packet-before-welcome', frameType: frame.type });
      clearTimeout(timer);
      timer = undefined;
      if (r.leftover.length > 0) socket.unshift(Buffer.concat(r.leftover));
    }
  } finally {
    clearTimeout(timer);
  }
  if (opts.checkWelcome !== false) {
    // worker-accepts-wrong-shard-welcome: [HS-15] violated on purpose, every other check kept.
    checkWelcome(hello, faults.has('worker-accepts-wrong-shard-welcome') ? { ...w, shard_id: hello.shard_id } : w);
  }
  const connection = new RpcConnection(
    socket,
    {
      role: 'worker',
      negotiated: {
        role: 'worker',
        version: w.chosen_version,
        capabilities: w.chosen_capabilities,
        workerId: w.worker_id,
        shardId: w.shard_id,
        revision: w.revision,
      },
      leftover,
      hello: { ...hello, auth_token: null },
      welcome: w,
    },
    opts,
  );
  return { connection, welcome: w };
}
