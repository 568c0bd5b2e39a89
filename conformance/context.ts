/**
 * What a case gets to work with: connections to the target, handshake helpers for both roles,
 * deadlines scaled by the time-scale factor, and assertion helpers that produce
 * expected-vs-actual failures.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import { zstdAvailable } from '../src/wire/index.js';
import type { Capabilities, RouterWelcome, RpcResult, WorkerHello } from '../src/wire/model.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_PACKET_BYTES } from '../src/limits.js';
import { hello as buildHello, welcomeFrame, req, type CapsInit, type HelloInit } from './messages.js';
import { describeMessage, ScriptedPeer, type Message, type Session, type Violation } from './peer.js';
import { CaseFailure, CaseSkip, HarnessError, type CaseDef } from './registry.js';
import type { RouterTarget, StimulusRequest, StimulusResult, WorkerInstance, WorkerTarget } from './targets.js';
import type { TlsClientVariant, TlsProbeResult, TlsServerVariant } from './tls-support.js';
import { describeValue, type Transcript } from './transcript.js';

/** Nominal default deadline for a read that should succeed. */
export const DEFAULT_READ_MS = 2_000;
/** Nominal window during which "nothing must arrive" is checked. */
export const QUIET_MS = 250;

/** What the preflight learned about the target (router: negotiated; worker: offered in its Hello). */
export interface TargetFacts {
  zstd: boolean;
  cancel: boolean;
  chunking: boolean;
  compression: string[];
  maxFrameBytes: number;
  maxPacketBytes: number;
  /** Set when the preflight handshake did not complete: the cases still run (and fail) on their own. */
  problem?: string;
}

export interface RunConfig {
  role: 'router' | 'worker';
  /** The auth token (never printed). */
  token?: string;
  /** Router: shards it accepts. Worker: shard ids handed to spawned workers. */
  shards: number[];
  /** Router: a shard id it does NOT accept. */
  unknownShard: number;
  timeScale: number;
  /** Nominal read deadline. */
  readTimeoutMs: number;
  /** The target's handshake timeout, nominal: router HS-6 (Hello wait), worker HS-17 (Welcome wait). */
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  /** Per-case budget override (nominal). */
  caseTimeoutMs?: number;
  /** Declared capabilities: override what the preflight found. */
  declared: Partial<Record<'zstd' | 'cancel' | 'chunking', boolean>>;
  /** Set when the target is reached over tcp+tls (TLS tier, cases that need `tls` / `mtls`). */
  tls?: TlsRunInfo;
  /** The opt-in limits tier (`--limits`): cases that need `limits` run. */
  limits?: boolean;
  /** Router targets: how long the router waits for a worker's response before it cancels or closes [LIM-5], nominal. */
  responseWaitMs?: number;
}

/** What the harness knows about the target's TLS configuration. */
export interface TlsRunInfo {
  /** Router targets: the router requires client certificates chaining to its client CA [TRN-6]. */
  mtls: boolean;
  /** Router targets: a shard the router serves but the configured client certificate is not allowed for [SEC-4]. */
  deniedShard?: number;
  /** Router targets: a client certificate on the router's global allowlist only is configured [SEC-8]. */
  globalClientCert?: boolean;
  /** Router targets: a client certificate the accepted shards' allowlist lists in mixed-case hex is configured [SEC-8]. */
  mixedCaseClientCert?: boolean;
}

/** The harness's own offer when it plays the worker. */
export function harnessWorkerCaps(): CapsInit {
  return {
    max_frame_len: DEFAULT_MAX_FRAME_BYTES,
    max_packet_len: DEFAULT_MAX_PACKET_BYTES,
    supported_compression: zstdAvailable() ? ['zstd', 'none'] : ['none'],
    supports_cancel: true,
    supports_chunking: true,
  };
}

/** A worker connection as seen by the harness playing the router. */
export interface WorkerConn {
  peer: ScriptedPeer;
  hello: WorkerHello;
  instance: WorkerInstance;
  /** performance.now() just before the worker was started: its handshake timer cannot have started earlier. */
  startedAtMs: number;
}

/** Overrides for the Welcome the harness sends (defaults: negotiated by the spec rules). */
export interface WelcomeInit {
  router?: CapsInit;
  /** Replace the chosen capabilities outright (to craft invalid Welcomes). */
  chosen?: Partial<Capabilities>;
  version?: { major: number; minor: number };
  shard_id?: number;
}

/** Negotiate as a correct router would [NEG-1..3] [VER-1]. */
export function negotiate(router: CapsInit, offer: Capabilities): Capabilities {
  const r = { ...harnessWorkerCaps(), ...router };
  return {
    max_frame_len: Math.min(r.max_frame_len!, offer.max_frame_len),
    max_packet_len: Math.min(r.max_packet_len!, offer.max_packet_len),
    supported_compression: r.supported_compression!.filter((c) => c !== 'unknown' && (offer.supported_compression as string[]).includes(c)) as Capabilities['supported_compression'],
    supports_cancel: r.supports_cancel! && offer.supports_cancel,
    supports_chunking: r.supports_chunking! && offer.supports_chunking,
  };
}

export function sessionFrom(c: Capabilities): Session {
  return {
    maxFrameBytes: c.max_frame_len,
    maxPacketBytes: c.max_packet_len,
    compression: [...c.supported_compression],
    cancel: c.supports_cancel,
    chunking: c.supports_chunking,
  };
}

export interface ContextDeps {
  def: CaseDef;
  cfg: RunConfig;
  facts: TargetFacts;
  transcript: Transcript;
  signal: AbortSignal;
  router?: RouterTarget;
  worker?: WorkerTarget;
  /** Router: the shard leased for this case. */
  shard: number;
}

export class CaseContext {
  readonly def: CaseDef;
  readonly cfg: RunConfig;
  readonly facts: TargetFacts;
  readonly transcript: Transcript;
  readonly signal: AbortSignal;
  readonly shard: number;
  readonly notes: string[] = [];
  readonly violations: Violation[] = [];
  readonly peers: ScriptedPeer[] = [];
  readonly workers: WorkerInstance[] = [];
  private readonly router: RouterTarget | undefined;
  private readonly worker: WorkerTarget | undefined;
  private connCount = 0;

  constructor(d: ContextDeps) {
    this.def = d.def;
    this.cfg = d.cfg;
    this.facts = d.facts;
    this.transcript = d.transcript;
    this.signal = d.signal;
    this.shard = d.shard;
    this.router = d.router;
    this.worker = d.worker;
  }

  get token(): string | undefined {
    return this.cfg.token;
  }

  /** Nominal → real ms. */
  ms(nominal: number): number {
    return Math.max(1, Math.round(nominal * this.cfg.timeScale));
  }

  sleep(nominalMs: number): Promise<void> {
    return new Promise((resolve) => {
      // Remove the abort listener when the timer fires: a case may sleep many times on one signal.
      const onAbort = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      }, this.ms(nominalMs));
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  note(text: string): void {
    this.notes.push(this.transcript.redactor.text(text));
    this.transcript.note(0, `note: ${text}`);
  }

  fail(message: string, expected?: string, actual?: string, requirement?: string): never {
    throw new CaseFailure(message, expected, actual, requirement);
  }

  check(cond: boolean, message: string, expected?: string, actual?: string, requirement?: string): void {
    if (!cond) this.fail(message, expected, actual, requirement);
  }

  skip(reason: string): never {
    throw new CaseSkip(reason);
  }

  private wrap(socket: Duplex, plays: 'worker' | 'router'): ScriptedPeer {
    const peer = new ScriptedPeer(socket, {
      conn: ++this.connCount,
      transcript: this.transcript,
      plays,
      scale: this.cfg.timeScale,
      signal: this.signal,
      onViolation: (v) => this.violations.push(v),
    });
    this.peers.push(peer);
    return peer;
  }

  // ------------------------------------------------------------ router targets (we play the worker)

  private needRouter(): RouterTarget {
    if (!this.router) throw new HarnessError(`case ${this.def.id} needs a router target`);
    return this.router;
  }

  /** A fresh raw connection to the router. */
  async connect(): Promise<ScriptedPeer> {
    const socket = await this.needRouter().connect(this.signal);
    const peer = this.wrap(socket, 'worker');
    this.transcript.note(peer.conn, 'connected to the router');
    return peer;
  }

  /** The Hello a correct worker would send for this case's shard. */
  hello(init: Partial<HelloInit> = {}): WorkerHello {
    // Tokens derived from the real one (prefixes, case or space variants) are secrets too [SEC-2].
    if (typeof init.auth_token === 'string' && init.auth_token.trim().length > 0) this.transcript.redactor.add(init.auth_token.trim());
    return buildHello({
      shard_id: this.shard,
      auth_token: this.token ?? null,
      ...init,
      capabilities: { ...harnessWorkerCaps(), ...(init.capabilities ?? {}) },
    });
  }

  /**
   * Send a Hello and require a Welcome. Retries a few times when the router still believes the
   * shard is taken by the previous case's connection (admission is racy across cases).
   */
  async handshake(peer: ScriptedPeer, init: Partial<HelloInit> = {}): Promise<RouterWelcome> {
    const h = this.hello(init);
    await peer.send({ type: 'hello', body: h }, `hello ${describeValue({ ...h, auth_token: h.auth_token === null ? null : '<token>' })}`);
    const m = await peer.next(Math.max(this.cfg.readTimeoutMs, 1000));
    if (m.kind === 'frame' && m.frame.type === 'welcome') {
      peer.session = sessionFrom(m.frame.body.chosen_capabilities);
      return m.frame.body;
    }
    return this.fail(
      'the router did not answer a valid Hello with a Welcome',
      'a Welcome frame',
      m.kind === 'frame' ? describeMessage(m) : describeMessage(m),
      'HS-2',
    );
  }

  /** Connect and handshake, retrying briefly while the router frees the shard from an earlier case. */
  async session(init: Partial<HelloInit> = {}): Promise<{ peer: ScriptedPeer; welcome: RouterWelcome }> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      const peer = await this.connect();
      try {
        const welcome = await this.handshake(peer, init);
        return { peer, welcome };
      } catch (err) {
        lastErr = err;
        const busy = peer.isClosed && this.transcript.entries.some((e) => e.conn === peer.conn && e.dir === 'in' && e.text.includes('"reject"') && e.text.includes('invalid_request'));
        peer.destroy();
        if (!busy || init.shard_id !== undefined) throw err;
        this.transcript.note(peer.conn, 'shard still busy from a previous connection: retrying');
        await this.sleep(100 * (attempt + 1));
      }
    }
    throw lastErr;
  }

  /**
   * TLS tier: connect to the router with a deliberately wrong client side. `peer` is set when the
   * connection (and our side of the TLS handshake) succeeded; `refused` holds the error otherwise.
   */
  async connectTls(variant: TlsClientVariant): Promise<{ peer?: ScriptedPeer; refused?: string; protocol?: string }> {
    const r = this.needRouter();
    if (!r.tlsVariant) this.skip('the router target is not reached over tcp+tls');
    const res = await r.tlsVariant(variant, this.signal);
    if (!res.socket) {
      this.transcript.note(0, `${variant}: connection refused (${res.refused ?? 'error'})`);
      return { refused: res.refused ?? 'error' };
    }
    const peer = this.wrap(res.socket, 'worker');
    this.transcript.note(peer.conn, `${variant}: connected${res.protocol ? ` (${res.protocol})` : ''}`);
    return { peer, ...(res.protocol ? { protocol: res.protocol } : {}) };
  }

  async stimulus(req: StimulusRequest): Promise<StimulusResult> {
    const r = this.needRouter();
    if (!r.stimulus) this.skip('no stimulus configured: the harness cannot make this router send requests');
    this.transcript.note(0, `stimulus: ${req.count}× ${req.request} to shard ${req.shard}${req.cancel ? ' (cancelled)' : ''}`);
    return r.stimulus(req, this.signal);
  }

  get hasStimulus(): boolean {
    return this.router?.stimulus !== undefined;
  }

  // ------------------------------------------------------------ worker targets (we play the router)

  private needWorker(): WorkerTarget {
    if (!this.worker) throw new HarnessError(`case ${this.def.id} needs a worker target`);
    return this.worker;
  }

  get workerSpawned(): boolean {
    return this.worker?.spawned ?? false;
  }

  /** TLS tier: start a worker against a listener that offers a deliberately wrong certificate / TLS version. */
  async probeWorkerTls(variant: TlsServerVariant, windowNominalMs = 500): Promise<TlsProbeResult> {
    const w = this.needWorker();
    if (!w.tlsProbe) this.skip('the harness cannot vary the TLS listener for this worker target (needs a spawned or embedded tcp+tls worker)');
    const r = await w.tlsProbe(variant, { shard: this.shard, signal: this.signal, connectTimeoutMs: this.ms(this.cfg.connectTimeoutMs), windowMs: this.ms(windowNominalMs) });
    this.transcript.note(
      0,
      `${variant}: ${r.tcpConnections} tcp connection(s); ${r.established ? `TLS established, ${r.bytesAfterHandshake} byte(s) received` : `TLS ${r.tlsError ? `failed (${r.tlsError})` : 'not attempted'}`}`,
    );
    return r;
  }

  /** Start (or accept) a worker and read its Hello. */
  async startWorker(opts: { readHello?: boolean } = {}): Promise<WorkerConn> {
    const startedAtMs = performance.now();
    const instance = await this.needWorker().start({
      shard: this.shard,
      signal: this.signal,
      connectTimeoutMs: this.ms(this.cfg.connectTimeoutMs),
    });
    this.workers.push(instance);
    const peer = this.wrap(instance.socket, 'router');
    this.transcript.note(peer.conn, 'worker connected');
    if (opts.readHello === false) return { peer, hello: undefined as unknown as WorkerHello, instance, startedAtMs };
    const m = await peer.next(Math.max(this.cfg.readTimeoutMs, 1000));
    if (m.kind === 'frame' && m.frame.type === 'hello') return { peer, hello: m.frame.body, instance, startedAtMs };
    return this.fail('[HS-1] the worker\'s first frame must be a Hello', 'a Hello frame', describeMessage(m), 'HS-1');
  }

  /** Answer the Hello with a Welcome negotiated by the spec rules (or crafted via `init`). */
  async welcome(w: WorkerConn, init: WelcomeInit = {}): Promise<Session> {
    const chosen: Capabilities = { ...negotiate(init.router ?? {}, w.hello.capabilities), ...(init.chosen ?? {}) };
    const frame = welcomeFrame({
      worker_id: 1,
      shard_id: init.shard_id ?? w.hello.shard_id,
      revision: 0n,
      chosen_version: init.version ?? { major: 3, minor: 0 },
      chosen_capabilities: chosen,
    });
    await w.peer.send(frame, `welcome ${describeValue(frame.body)}`);
    w.peer.session = sessionFrom(chosen);
    return w.peer.session;
  }

  /** startWorker + welcome. */
  async workerSession(init: WelcomeInit = {}): Promise<WorkerConn & { session: Session }> {
    const w = await this.startWorker();
    const session = await this.welcome(w, init);
    return { ...w, session };
  }

  // ------------------------------------------------------------ shared expectations

  /** Require the response for `id`; returns its RpcResult. */
  async expectResponse(peer: ScriptedPeer, id: bigint, nominalMs = this.cfg.readTimeoutMs, requirement = 'DATA-1'): Promise<RpcResult> {
    const m = await peer.awaitResponse(id, nominalMs);
    if (m.kind === 'payload' && m.payload.type === 'response') return m.payload.body;
    return this.fail(`[${requirement}] expected a Response with id ${id}`, `a Response packet with id ${id}`, describeMessage(m), requirement);
  }

  /** Require the connection to be closed by the target within `nominalMs`. */
  async expectClosed(peer: ScriptedPeer, because: string, requirement: string, nominalMs = this.cfg.readTimeoutMs): Promise<Message[]> {
    const r = await peer.awaitClose(nominalMs);
    if (!r.closed) {
      const last = r.received.length > 0 ? `; it sent: ${r.received.map(describeMessage).join(', ')}` : '';
      this.fail(
        `[${requirement}] the target must close the connection ${because}`,
        `connection closed within ${this.ms(nominalMs)} ms`,
        `connection still open after ${Math.round(r.afterMs)} ms${last}`,
        requirement,
      );
    }
    return r.received;
  }

  /**
   * Require a close caused by the input under test, not by the target's own handshake timeout
   * [HS-6] [HS-17]: the close must be seen before that timeout can have fired, counting from
   * `sinceMs` (performance.now() taken before the connection existed, so the target's timer cannot
   * have started earlier). Also bounded by the read timeout. A close seen later is ambiguous and
   * fails like no close.
   */
  async expectClosedBeforeHandshakeTimeout(peer: ScriptedPeer, sinceMs: number, because: string, requirement: string): Promise<Message[]> {
    // 5% below the timeout: the target's timer granularity, never a stretch of the window.
    const limitMs = this.ms(this.cfg.handshakeTimeoutMs) * 0.95;
    const now = performance.now();
    const waitMs = Math.min(sinceMs + limitMs - now, this.ms(this.cfg.readTimeoutMs));
    const r = await peer.awaitClose(Math.max(0, waitMs) / this.cfg.timeScale);
    const seenAtMs = now + r.afterMs - sinceMs;
    if (!r.closed || seenAtMs >= limitMs) {
      const last = r.received.length > 0 ? `; it sent: ${r.received.map(describeMessage).join(', ')}` : '';
      this.fail(
        `[${requirement}] the target must close the connection ${because}`,
        `connection closed within ${Math.round(Math.min(limitMs, now + Math.max(0, waitMs) - sinceMs))} ms of connecting (before its ${this.ms(this.cfg.handshakeTimeoutMs)} ms handshake timeout)`,
        `${r.closed ? 'closed only' : 'connection still open'} after ${Math.round(seenAtMs)} ms${last}`,
        requirement,
      );
    }
    return r.received;
  }

  /** Require that nothing arrives and the connection stays open for `nominalMs`. */
  async expectQuiet(peer: ScriptedPeer, what: string, requirement: string, nominalMs = QUIET_MS): Promise<void> {
    const got = await peer.drain(nominalMs);
    const bad = got.filter((m) => m.kind !== 'frame' || m.frame.type !== 'unknown');
    if (bad.length > 0) this.fail(`[${requirement}] ${what}`, `nothing for ${this.ms(nominalMs)} ms`, bad.map(describeMessage).join('; '), requirement);
  }

  /**
   * The connection still serves requests: send one and require a response.
   * (Routers without a request handler still answer, with an error [DATA-1].)
   */
  async expectAlive(peer: ScriptedPeer, after: string, requirement: string): Promise<RpcResult> {
    const id = await peer.request(req.stats() as never);
    const m = await peer.awaitResponse(id, Math.max(this.cfg.readTimeoutMs, 1500));
    if (m.kind === 'payload' && m.payload.type === 'response') return m.payload.body;
    return this.fail(
      `[${requirement}] after ${after}, the connection must stay usable`,
      `a Response to a fresh request (id ${id})`,
      describeMessage(m),
      requirement,
    );
  }
}
