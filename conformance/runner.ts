/**
 * Runs selected cases against one target: applicability, per-case budget, isolation
 * (one or more fresh connections per case, shard leases for routers), liveness after a
 * violation, violation bookkeeping, and grading by strength.
 *
 * The runner never hangs on a target: every case has a budget after which its sockets and
 * processes are torn down and the outcome is `timeout`.
 *
 * @module
 */
import { setMaxListeners } from 'node:events';
import { ROUTER_MAX_CONCURRENT_HANDSHAKES } from '../src/limits.js';
import { zstdAvailable, type Capabilities } from '../src/wire/index.js';
import { CaseContext, DEFAULT_READ_MS, harnessWorkerCaps, type RunConfig, type TargetFacts } from './context.js';
import { hello as buildHello } from './messages.js';
import { describeMessage, ScriptedPeer } from './peer.js';
import { CaseFailure, CaseSkip, DEFAULT_CASE_TIMEOUT_MS, HarnessError, type CaseDef, type CaseStrength, type Outcome } from './registry.js';
import type { RouterTarget, Target, WorkerTarget } from './targets.js';
import { Redactor, Transcript, describeValue, type TranscriptEntry } from './transcript.js';
import { requirementText } from './requirements.js';

export interface RequirementRef {
  id: string;
  strength: string;
  text: string;
}

export interface CaseResult {
  id: string;
  role: 'router' | 'worker';
  title: string;
  strength: CaseStrength;
  requirements: RequirementRef[];
  outcome: Outcome;
  /** Failure message, skip reason or error text. */
  message?: string;
  expected?: string;
  actual?: string;
  /** The requirement the failing check belongs to. */
  failedRequirement?: string;
  notes: string[];
  transcript: TranscriptEntry[];
  stderrTail?: string;
  durationMs: number;
  rerun: string;
  /** Set by the baseline: a listed known failure, or a listed case that now passes. */
  baseline?: 'known-failure' | 'stale';
}

export interface RunOptions {
  cases: CaseDef[];
  target: Target;
  cfg: RunConfig;
  jobs: number;
  /** Builds the one-line rerun command for a case id. */
  rerun: (id: string) => string;
  onStart?: (def: CaseDef) => void;
  onResult?: (r: CaseResult) => void;
  /** Only list what would run. */
  dryRun?: boolean;
}

export interface RunSummary {
  results: CaseResult[];
  facts: TargetFacts | null;
  /** Set when the target could not be reached at all. */
  fatal?: string;
  durationMs: number;
}

/** Facts when the preflight handshake failed: nothing optional is assumed. */
function unknownFacts(problem: string): TargetFacts {
  return { zstd: false, cancel: false, chunking: false, compression: ['none'], maxFrameBytes: 0, maxPacketBytes: 0, problem };
}

/** Facts from the capabilities a router chose (Welcome) or a worker offered (Hello). */
function factsFrom(c: Capabilities): TargetFacts {
  return {
    zstd: c.supported_compression.includes('zstd'),
    cancel: c.supports_cancel,
    chunking: c.supports_chunking,
    compression: [...c.supported_compression],
    maxFrameBytes: c.max_frame_len,
    maxPacketBytes: c.max_packet_len,
  };
}

/** Probe the target once: reachability and what it negotiates / offers. */
export async function preflight(target: Target, cfg: RunConfig): Promise<TargetFacts> {
  const controller = new AbortController();
  const redactor = new Redactor([cfg.token]);
  const transcript = new Transcript(redactor);
  const timer = setTimeout(() => controller.abort(), Math.round((cfg.connectTimeoutMs + 5000) * cfg.timeScale));
  try {
    if (target.role === 'router') {
      const socket = await target.connect(controller.signal);
      const peer = new ScriptedPeer(socket, { conn: 1, transcript, plays: 'worker', scale: cfg.timeScale, onViolation: () => {}, signal: controller.signal });
      const h = buildHello({ shard_id: cfg.shards[0] ?? 0, auth_token: cfg.token ?? null, capabilities: harnessWorkerCaps() });
      await peer.send({ type: 'hello', body: h });
      const m = await peer.next(Math.max(cfg.readTimeoutMs, DEFAULT_READ_MS));
      peer.destroy();
      if (m.kind !== 'frame' || m.frame.type !== 'welcome') {
        return unknownFacts(`preflight: the router did not welcome a valid Hello for shard ${cfg.shards[0] ?? 0} (got ${redactor.text(describeMessage(m))}); check the token and the accepted shards in the target config`);
      }
      return factsFrom(m.frame.body.chosen_capabilities);
    }
    const inst = await target.start({ shard: cfg.shards[0] ?? 1, signal: controller.signal, connectTimeoutMs: Math.round(cfg.connectTimeoutMs * cfg.timeScale) });
    const peer = new ScriptedPeer(inst.socket, { conn: 1, transcript, plays: 'router', scale: cfg.timeScale, onViolation: () => {}, signal: controller.signal });
    const m = await peer.next(Math.max(cfg.readTimeoutMs, DEFAULT_READ_MS));
    peer.destroy();
    await inst.stop();
    if (m.kind !== 'frame' || m.frame.type !== 'hello') {
      return unknownFacts(`preflight: the worker did not send a Hello (got ${redactor.text(describeMessage(m))})`);
    }
    return factsFrom(m.frame.body.capabilities);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** Why a case does not apply, or undefined. */
export function notApplicable(def: CaseDef, target: Target, cfg: RunConfig, facts: TargetFacts): string | undefined {
  if (def.role !== target.role) return `case is for a ${def.role} target`;
  for (const need of def.needs ?? []) {
    switch (need) {
      case 'zstd':
        if (!zstdAvailable()) return 'the harness has no zstd backend on this machine';
        if (cfg.declared.zstd === false) return 'zstd declared unsupported in the target config';
        if (cfg.declared.zstd !== true && !facts.zstd) return `zstd was not ${target.role === 'router' ? 'negotiated' : 'offered'} by the target`;
        break;
      case 'cancel':
      case 'chunking':
        if (cfg.declared[need] === false) return `${need} declared unsupported in the target config`;
        if (cfg.declared[need] !== true && !facts[need]) return `${need} was not ${target.role === 'router' ? 'negotiated' : 'offered'} by the target`;
        break;
      case 'auth':
        if (cfg.token === undefined) return 'no auth token configured (auth.tokenFile / auth.tokenEnv)';
        break;
      case 'no-auth':
        if (cfg.token !== undefined) return 'an auth token is configured; this case needs a target without one';
        break;
      case 'stimulus':
        if (target.role !== 'router' || !(target as RouterTarget).stimulus) return 'no stimulus configured: the harness cannot make this router send requests';
        break;
      case 'spawn':
        if (target.role !== 'worker' || !(target as WorkerTarget).spawned) return 'the worker is not spawned by the harness';
        break;
      case 'tls':
        if (cfg.tls === undefined) return 'the target is not reached over tcp+tls (TLS tier: give a tcp+tls address and the tls files)';
        if (target.role === 'router' ? !(target as RouterTarget).tlsVariant : !(target as WorkerTarget).tlsProbe)
          return target.role === 'router' ? 'the router target cannot vary the TLS client side' : 'the harness cannot vary the TLS listener for this worker (needs --spawn with tls.caFile and tls.caKeyFile)';
        break;
      case 'mtls':
        if (!cfg.tls?.mtls) return 'the router is not configured for mutual TLS (tls.mtls / a client certificate)';
        break;
      case 'limits':
        if (!cfg.limits) return 'limits tier not enabled (--limits)';
        break;
    }
  }
  return undefined;
}

/**
 * Back-pressure for parallel cases. Every case runs on the harness's one event loop (with the
 * embedded peers, the target does too), and every case has read windows. When the loop lags
 * (a loaded machine, or the cases in flight keep it busy), more cases in flight only add latency
 * to everyone's windows; so a new case starts only while the lag is low or few cases run. Shared
 * by every suite running in this process (the CLI runs the embedded router and worker at once).
 */
class LoadGovernor {
  /** Sampling period of the lag probe. */
  static readonly TICK_MS = 10;
  /** Smoothed lag (how late the probe's timer fires) above which no new case starts... */
  static readonly HIGH_LAG_MS = 15;
  /** ...unless fewer than this many cases run in the whole process. */
  static readonly MIN_RUNNING = 3;
  /** Cases that may start per tick beyond MIN_RUNNING (a ramp: the lag of a burst shows only later). */
  static readonly STARTS_PER_TICK = 3;
  private lagMs = 0;
  private running = 0;
  private starts = 0;
  /** Exclusive cases waiting or running: no other case starts meanwhile. */
  private exclusive = 0;
  private probe: NodeJS.Timeout | undefined;
  private last = 0;

  private sample = (): void => {
    const now = performance.now();
    const late = Math.max(0, now - this.last - LoadGovernor.TICK_MS);
    this.last = now;
    this.lagMs = this.lagMs * 0.6 + late * 0.4;
    this.starts = 0;
  };

  async admit(): Promise<void> {
    if (this.probe === undefined) {
      this.last = performance.now();
      this.lagMs = 0;
      this.starts = 0;
      this.probe = setInterval(this.sample, LoadGovernor.TICK_MS);
      this.probe.unref();
    }
    while (this.exclusive > 0 || (this.running >= LoadGovernor.MIN_RUNNING && (this.lagMs > LoadGovernor.HIGH_LAG_MS || this.starts >= LoadGovernor.STARTS_PER_TICK))) {
      await new Promise((r) => setTimeout(r, LoadGovernor.TICK_MS));
    }
    this.running++;
    this.starts++;
  }

  /**
   * For cases that load the target on purpose (the limits tier: 129 connections at once): wait
   * until no other case runs in this process, and keep new ones from starting until release, so
   * the measurement is not skewed by other cases competing for the same event loop.
   */
  async admitExclusive(): Promise<void> {
    this.exclusive++;
    while (this.running > 0) await new Promise((r) => setTimeout(r, LoadGovernor.TICK_MS));
    this.running++;
  }

  releaseExclusive(): void {
    this.exclusive--;
    this.release();
  }

  release(): void {
    this.running--;
    if (this.running === 0 && this.probe !== undefined) {
      clearInterval(this.probe);
      this.probe = undefined;
    }
  }
}

const governor = new LoadGovernor();

/** Listeners a case's signal may hold: one per open connection; the handshake-cap case opens the router's cap + 1 [LIM-3], plus slack for helpers. */
const CASE_SIGNAL_MAX_LISTENERS = ROUTER_MAX_CONCURRENT_HANDSHAKES + 64;

/** A fair pool of shard ids: least recently released first, so the router has time to free them. */
class ShardPool {
  private free: number[];
  private waiters: ((s: number) => void)[] = [];
  constructor(shards: readonly number[]) {
    this.free = [...shards];
  }
  get size(): number {
    return this.free.length;
  }
  acquire(): Promise<number> {
    const s = this.free.shift();
    if (s !== undefined) return Promise.resolve(s);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release(s: number): void {
    const w = this.waiters.shift();
    if (w) setTimeout(() => w(s), 20);
    else this.free.push(s);
  }
}

function gradeFailure(strength: CaseStrength): Outcome {
  return strength === 'MUST' ? 'fail' : strength === 'SHOULD' ? 'warn' : 'pass';
}

/** Run one case with its budget; never throws. */
export async function runCase(def: CaseDef, target: Target, cfg: RunConfig, facts: TargetFacts, shard: number, rerun: string): Promise<CaseResult> {
  const redactor = new Redactor([cfg.token]);
  const transcript = new Transcript(redactor);
  const started = performance.now();
  const base = {
    id: def.id,
    role: def.role,
    title: def.title,
    strength: def.strength,
    requirements: def.requirements.map((id) => requirementText(id)),
    rerun: redactor.text(rerun),
  };
  const finish = (r: Omit<CaseResult, keyof typeof base | 'durationMs' | 'transcript' | 'notes'> & { notes?: string[] }, ctx?: CaseContext): CaseResult => ({
    ...base,
    ...r,
    notes: r.notes ?? ctx?.notes ?? [],
    transcript: transcript.entries.slice(),
    durationMs: Math.round(performance.now() - started),
    ...(r.message !== undefined ? { message: redactor.text(r.message) } : {}),
    ...(r.expected !== undefined ? { expected: redactor.text(r.expected) } : {}),
    ...(r.actual !== undefined ? { actual: redactor.text(r.actual) } : {}),
    ...(r.stderrTail !== undefined ? { stderrTail: redactor.text(r.stderrTail) } : {}),
  });

  const why = notApplicable(def, target, cfg, facts);
  if (why) return finish({ outcome: 'skip', message: why });

  const controller = new AbortController();
  // Every connection a case opens listens on its signal until it closes, and a limits case holds
  // 129 at once [LIM-3]: not a leak, so no MaxListenersExceededWarning (Node warns above 10).
  setMaxListeners(CASE_SIGNAL_MAX_LISTENERS, controller.signal);
  const ctx = new CaseContext({
    def,
    cfg,
    facts,
    transcript,
    signal: controller.signal,
    shard,
    ...(target.role === 'router' ? { router: target } : { worker: target }),
  });
  const budgetMs = Math.round((cfg.caseTimeoutMs ?? def.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS) * cfg.timeScale);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), budgetMs)));
  let outcome: Outcome = 'pass';
  let message: string | undefined;
  let expected: string | undefined;
  let actual: string | undefined;
  let failedRequirement: string | undefined;
  try {
    const r = await Promise.race([def.run(ctx).then(() => 'done' as const), timedOut]);
    if (r === 'timeout') {
      outcome = 'timeout';
      message = `the case did not finish within its budget of ${budgetMs} ms`;
    }
  } catch (err) {
    if (err instanceof CaseFailure) {
      outcome = gradeFailure(def.strength);
      message = err.message;
      expected = err.expected;
      actual = err.actual;
      failedRequirement = err.requirement;
      if (def.strength === 'INFO') ctx.notes.push(`informational: ${err.message}`);
    } else if (err instanceof CaseSkip) {
      outcome = 'skip';
      message = err.message;
    } else if (err instanceof HarnessError) {
      outcome = 'error';
      message = err.message;
    } else {
      outcome = 'error';
      message = `harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    }
  } finally {
    clearTimeout(timer);
  }

  // Violations seen on the wire fail the case even if its own checks passed.
  if (ctx.violations.length > 0 && (outcome === 'pass' || outcome === 'warn')) {
    outcome = 'fail';
    const v = ctx.violations[0]!;
    message = `[${v.requirement}] the target violated the protocol: ${v.message}${ctx.violations.length > 1 ? ` (+${ctx.violations.length - 1} more)` : ''}`;
    expected = 'no protocol violation by the target';
    actual = ctx.violations.map((x) => `[${x.requirement}] ${x.message}`).join('; ');
    failedRequirement = v.requirement;
  }

  // Liveness: after a case that provoked a violation, the router must still serve a fresh connection.
  const wantsLiveness = def.role === 'router' && (def.liveness ?? false) && (outcome === 'pass' || outcome === 'warn');
  if (wantsLiveness && !controller.signal.aborted) {
    for (const p of ctx.peers) p.destroy();
    let livenessTimer: NodeJS.Timeout | undefined;
    try {
      const { peer } = await Promise.race([
        ctx.session(),
        new Promise<never>((_, rej) => (livenessTimer = setTimeout(() => rej(new CaseFailure('liveness check timed out')), Math.round(5000 * cfg.timeScale)))),
      ]);
      peer.destroy();
    } catch (err) {
      outcome = 'fail';
      message = `[liveness] after the violation the router must still serve a fresh connection: ${err instanceof Error ? err.message : String(err)}`;
      expected = 'a fresh connection completes the handshake';
      actual = err instanceof CaseFailure && err.actual ? err.actual : String(err);
    } finally {
      // A pending timer would keep the process alive for seconds after the last case.
      clearTimeout(livenessTimer);
    }
  }

  controller.abort();
  for (const p of ctx.peers) p.destroy();
  const exit = ctx.workers.map((w) => w.exitStatus()).find((s) => s && (s.signal !== null || (s.code !== null && s.code > 128)));
  const tail =
    ctx.workers.length > 0
      ? ctx.workers.map((w) => w.stderrTail()).filter((s) => s.length > 0).join('\n---\n')
      : target.role === 'router'
        ? (target.logTail?.() ?? '')
        : '';
  await Promise.all(ctx.workers.map((w) => w.stop().catch(() => {})));
  if (exit && outcome === 'fail') ctx.notes.push(`the worker process crashed (code ${String(exit.code)}, signal ${String(exit.signal)})`);
  return finish(
    {
      outcome,
      ...(message !== undefined ? { message } : {}),
      ...(expected !== undefined ? { expected } : {}),
      ...(actual !== undefined ? { actual } : {}),
      ...(failedRequirement !== undefined ? { failedRequirement } : {}),
      ...(tail && outcome !== 'pass' && outcome !== 'skip' ? { stderrTail: tail } : {}),
    },
    ctx,
  );
}

/** Run cases in parallel (bounded by `jobs`, the shard pool and the target's own limit). */
export async function runSuite(opts: RunOptions): Promise<RunSummary> {
  const started = performance.now();
  const { target, cfg } = opts;
  const cases = opts.cases.filter((c) => c.role === target.role);
  let facts: TargetFacts;
  try {
    facts = await preflight(target, cfg);
  } catch (err) {
    return { results: [], facts: null, fatal: err instanceof Error ? err.message : String(err), durationMs: Math.round(performance.now() - started) };
  }
  const pool = new ShardPool(target.role === 'router' ? cfg.shards : [cfg.shards[0] ?? 1]);
  const perTargetMax = target.role === 'worker' ? target.maxJobs : Math.max(1, cfg.shards.length);
  const jobs = Math.max(1, Math.min(opts.jobs, perTargetMax));
  const results: CaseResult[] = new Array(cases.length);
  // Limits-tier cases need the target to themselves: they run one at a time after all the others.
  const exclusive = (c: CaseDef): boolean => c.needs?.includes('limits') ?? false;
  // Cases with a larger budget (those that wait for a target's timeout) start first, so the
  // longest waits overlap everything else instead of trailing at the end of the run.
  const budget = (c: CaseDef): number => c.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS;
  const order = [...cases.keys()].filter((i) => !exclusive(cases[i]!)).sort((a, b) => budget(cases[b]!) - budget(cases[a]!) || a - b);
  const after = [...cases.keys()].filter((i) => exclusive(cases[i]!));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (next >= order.length) return;
      const i = order[next++]!;
      const def = cases[i]!;
      const shard = target.role === 'router' ? await pool.acquire() : (cfg.shards[0] ?? 1);
      const alone = exclusive(def);
      await (alone ? governor.admitExclusive() : governor.admit());
      opts.onStart?.(def);
      try {
        results[i] = await runCase(def, target, cfg, facts, shard, opts.rerun(def.id));
      } finally {
        if (alone) governor.releaseExclusive();
        else governor.release();
        if (target.role === 'router') pool.release(shard);
      }
      opts.onResult?.(results[i]!);
    }
  };
  await Promise.all(Array.from({ length: jobs }, () => worker()));
  order.push(...after);
  await worker();
  return { results, facts, durationMs: Math.round(performance.now() - started) };
}

export { describeValue };
