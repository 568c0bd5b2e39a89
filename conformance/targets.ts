/**
 * Target adapters: how the harness reaches the implementation under test.
 *
 * - Router targets (the harness plays the worker): attach to an address, open one connection
 *   per need. An optional stimulus makes the router send requests the harness cannot trigger.
 * - Worker targets (the harness plays the router): spawn a command per case (a fresh process,
 *   so a crash only costs the current case), wait for a worker to connect to `--listen`, or run
 *   the embedded reference worker in-process.
 *
 * Adapters own processes and listeners; they never hang: every wait has a deadline, and
 * processes get SIGTERM then SIGKILL.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { connectTransport, listenTransport, type Listener, type TlsOptions } from '../src/transport/index.js';
import { HarnessError } from './registry.js';
import { connectTlsVariant, mintHarnessTls, probeWorkerTls, type CertPair, type HarnessTlsMaterial, type TlsClientVariant, type TlsConnectResult, type TlsProbeResult, type TlsServerVariant } from './tls-support.js';

export interface StimulusRequest {
  shard: number;
  /** Request type the router should send, e.g. `get_worker_stats`. */
  request: 'get_worker_stats' | 'diagnostics' | 'shutdown';
  /** How many concurrent requests. */
  count: number;
  /** Cancel each request right after sending it. */
  cancel?: boolean;
  /**
   * `diagnostics` only: each call asks for a path of its own (the embedded stimulus: `src/Pair<i>.java`)
   * and counts as completed only when the first diagnostic of its answer has that path as its message
   * (the harness answers so). Proves the router hands each response to its own call [DATA-2].
   */
  pairing?: boolean;
}

export interface StimulusResult {
  /** True when every call completed with a response (the router matched them). */
  ok: boolean;
  detail: string;
}

export interface RouterTarget {
  readonly role: 'router';
  readonly describe: string;
  connect(signal: AbortSignal): Promise<Duplex>;
  /** Present when the harness can make the router send requests. */
  stimulus?: (req: StimulusRequest, signal: AbortSignal) => Promise<StimulusResult>;
  /** Recent log output of the target, when the adapter can see it. */
  logTail?: () => string;
  /** tcp+tls targets: connect with a deliberately wrong client side (TLS tier). */
  tlsVariant?: (variant: TlsClientVariant, signal: AbortSignal) => Promise<TlsConnectResult>;
  close(): Promise<void>;
}

export interface WorkerInstance {
  readonly socket: Duplex;
  /** Last lines of the worker's stderr/log. */
  stderrTail(): string;
  /** Full captured log (bounded) for secret-hygiene checks. */
  fullLog(): string;
  /** The command line the worker was started with, when spawned. */
  readonly commandLine?: string;
  readonly pid?: number;
  /** Exit status if the process has exited. */
  exitStatus(): { code: number | null; signal: string | null } | null;
  stop(): Promise<void>;
}

export interface WorkerStartOptions {
  shard: number;
  signal: AbortSignal;
  /** Nominal connect timeout already scaled by the caller. */
  connectTimeoutMs: number;
}

export interface WorkerTarget {
  readonly role: 'worker';
  readonly describe: string;
  /** Maximum parallel cases (listen mode: 1). */
  readonly maxJobs: number;
  readonly spawned: boolean;
  start(opts: WorkerStartOptions): Promise<WorkerInstance>;
  /** TLS workers the harness starts itself: offer a deliberately wrong router certificate / version (TLS tier). */
  tlsProbe?: (variant: TlsServerVariant, opts: WorkerStartOptions & { windowMs: number }) => Promise<TlsProbeResult>;
  close(): Promise<void>;
}

export type Target = RouterTarget | WorkerTarget;

/** Ring buffer of output lines, bounded in bytes. */
export class LogTail {
  private lines: string[] = [];
  private bytes = 0;
  private partial = '';
  constructor(private readonly maxBytes = 64 * 1024) {}
  push(chunk: string): void {
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    if (this.partial.length > 4096) {
      parts.push(this.partial);
      this.partial = '';
    }
    for (const p of parts) {
      this.lines.push(p);
      this.bytes += p.length + 1;
    }
    while (this.bytes > this.maxBytes && this.lines.length > 1) this.bytes -= this.lines.shift()!.length + 1;
  }
  tail(n = 20): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.slice(-n).join('\n');
  }
  all(): string {
    return this.tail(Number.MAX_SAFE_INTEGER);
  }
}

/** Quote a value for /bin/sh. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Substitute `{name}` placeholders (values shell-quoted). Unknown placeholders are an error. */
export function substitute(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new HarnessError(`unknown placeholder ${m} in command template (known: ${Object.keys(values).map((k) => `{${k}}`).join(', ')})`);
    return shellQuote(v);
  });
}

/** SIGTERM the process group, then SIGKILL after `graceMs`. */
export async function terminate(child: ChildProcess, graceMs = 1000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = (sig: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      try {
        child.kill(sig);
      } catch {
        /* already gone */
      }
    }
  };
  kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) {
    kill('SIGKILL');
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 1000))]);
  }
}

export interface AttachOptions extends TlsOptions {
  /** [SEC-8] a client certificate on the router's global allowlist only (TLS tier). */
  globalClient?: CertPair;
  /** [SEC-8] a client certificate the accepted shards' allowlist lists in mixed-case hex (TLS tier). */
  mixedCaseClient?: CertPair;
  allowInsecureTcp?: boolean;
  authTokenConfigured?: boolean;
  connectTimeoutMs: number;
  stimulusCommand?: string;
  stimulusTimeoutMs?: number;
}

/** Attach to a running router at an address. */
export function attachRouter(address: string, opts: AttachOptions): RouterTarget {
  const tls: TlsOptions = {
    ...(opts.caFile ? { caFile: opts.caFile } : {}),
    ...(opts.certFile ? { certFile: opts.certFile } : {}),
    ...(opts.keyFile ? { keyFile: opts.keyFile } : {}),
    ...(opts.serverName ? { serverName: opts.serverName } : {}),
  };
  const target: RouterTarget = {
    role: 'router',
    describe: `router at ${address}`,
    async connect(signal) {
      try {
        return await connectTransport(address, {
          ...tls,
          allowInsecureTcp: opts.allowInsecureTcp ?? false,
          authTokenConfigured: opts.authTokenConfigured ?? false,
          connectTimeoutMs: opts.connectTimeoutMs,
          signal,
        });
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        const errno = (err as { details?: { errno?: string } }).details?.errno;
        throw new HarnessError(`cannot connect to ${address}: ${code}${errno ? ` (${errno})` : ''}`);
      }
    },
    async close() {
      material?.cleanup();
    },
  };
  let material: HarnessTlsMaterial | undefined;
  if (address.startsWith('tcp+tls:')) {
    const setup = {
      address,
      ...(opts.caFile ? { caFile: opts.caFile } : {}),
      ...(opts.serverName ? { serverName: opts.serverName } : {}),
      ...(opts.certFile && opts.keyFile ? { client: { certFile: opts.certFile, keyFile: opts.keyFile } } : {}),
      ...(opts.globalClient ? { globalClient: opts.globalClient } : {}),
      ...(opts.mixedCaseClient ? { mixedCaseClient: opts.mixedCaseClient } : {}),
      material: () => (material ??= mintHarnessTls()),
    };
    target.tlsVariant = (variant, signal) => connectTlsVariant(setup, variant, opts.connectTimeoutMs, signal);
  }
  if (opts.stimulusCommand) {
    const template = opts.stimulusCommand;
    target.stimulus = (req, signal) => runStimulusCommand(template, address, req, opts.stimulusTimeoutMs ?? 10_000, signal);
  }
  return target;
}

/** Run the user's stimulus command; exit 0 = every call completed with a response. */
async function runStimulusCommand(
  template: string,
  address: string,
  req: StimulusRequest,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<StimulusResult> {
  const cmd = substitute(template, {
    address,
    shard: String(req.shard),
    request: req.request,
    count: String(req.count),
    cancel: req.cancel ? 'true' : 'false',
    pairing: req.pairing ? 'true' : 'false',
  });
  const child = spawn('/bin/sh', ['-c', cmd], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new LogTail(16 * 1024);
  child.stdout?.on('data', (d: Buffer) => out.push(d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => out.push(d.toString('utf8')));
  const abort = (): void => void terminate(child, 200);
  signal.addEventListener('abort', abort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const status = await Promise.race([
      new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
      new Promise<'spawn-error'>((resolve) => child.once('error', () => resolve('spawn-error'))),
    ]);
    if (status === 'spawn-error') throw new HarnessError('cannot run the stimulus command');
    if (status === 'timeout') {
      await terminate(child, 200);
      return { ok: false, detail: `stimulus command did not finish within ${timeoutMs} ms\n${out.tail(10)}` };
    }
    return { ok: status === 0, detail: `stimulus command exited with ${String(status)}\n${out.tail(10)}` };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
}

export interface SpawnOptions {
  /** Command template; `{address}` and `{shard}` are substituted (shell-quoted). */
  command: string;
  /** Listener scheme for the per-case address. */
  listenOn?: 'unix' | 'tcp';
  env?: Record<string, string>;
  /** Extra template values (e.g. tokenFile). */
  values?: Record<string, string>;
  /**
   * Listen on tcp+tls: `caFile` is the CA the worker trusts (template value `{caFile}`), `caKeyFile`
   * its key, with which the harness mints the router certificates it offers (good and deliberately wrong).
   */
  tls?: { caFile: string; caKeyFile: string };
}

/** Spawn a fresh worker process per case and wait for it to connect to a per-case listener. */
export function spawnWorker(opts: SpawnOptions): WorkerTarget {
  let material: HarnessTlsMaterial | undefined;
  const tlsMaterial = (): HarnessTlsMaterial => (material ??= mintHarnessTls({ certFile: opts.tls!.caFile, keyFile: opts.tls!.caKeyFile }));
  const tlsValues = (): Record<string, string> => (opts.tls ? { caFile: opts.tls.caFile } : {});
  const target: WorkerTarget = {
    role: 'worker',
    describe: `worker spawned by: ${opts.command}`,
    maxJobs: Number.POSITIVE_INFINITY,
    spawned: true,
    async start({ shard, signal, connectTimeoutMs }) {
      const dir = mkdtempSync(join(tmpdir(), 'ncw-'));
      const address = opts.tls ? 'tcp+tls:127.0.0.1:0' : opts.listenOn === 'tcp' ? 'tcp:127.0.0.1:0' : `unix:${join(dir, 'w.sock')}`;
      const good = opts.tls ? tlsMaterial().goodServer! : undefined;
      let resolveSock!: (s: Duplex) => void;
      const first = new Promise<Duplex>((r) => (resolveSock = r));
      let accepted: Duplex | undefined;
      let listener: Listener;
      try {
        listener = await listenTransport(address, { allowInsecureTcp: true, ...(good ? { certFile: good.certFile, keyFile: good.keyFile } : {}) }, (sock) => {
          if (accepted) {
            sock.destroy(); // one connection per case
            return;
          }
          accepted = sock;
          resolveSock(sock);
        });
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        throw new HarnessError(`cannot listen for the worker: ${(err as { code?: string }).code ?? 'error'}`);
      }
      const commandLine = substitute(opts.command, { address: listener.address, shard: String(shard), ...tlsValues(), ...(opts.values ?? {}) });
      const log = new LogTail();
      const child = spawn('/bin/sh', ['-c', commandLine], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...(opts.env ?? {}) },
      });
      child.stdout?.on('data', (d: Buffer) => log.push(d.toString('utf8')));
      child.stderr?.on('data', (d: Buffer) => log.push(d.toString('utf8')));
      let spawnError: string | undefined;
      child.once('error', (e: NodeJS.ErrnoException) => (spawnError = e.code ?? 'error'));
      const cleanup = async (): Promise<void> => {
        await terminate(child);
        await listener.close();
        rmSync(dir, { recursive: true, force: true });
      };
      const onAbort = (): void => void cleanup();
      signal.addEventListener('abort', onAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      const got = await Promise.race([
        first,
        new Promise<'exit'>((r) => child.once('exit', () => r('exit'))),
        new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), connectTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (got === 'exit' || got === 'timeout') {
        await cleanup();
        const why =
          spawnError !== undefined
            ? `cannot spawn the worker command (${spawnError})`
            : got === 'exit'
              ? `the worker exited before connecting (code ${String(child.exitCode)}, signal ${String(child.signalCode)})`
              : `the worker did not connect within ${connectTimeoutMs} ms`;
        throw new HarnessError(`${why}\n--- worker output (tail) ---\n${log.tail(20)}`);
      }
      const socket = got;
      return {
        socket,
        commandLine,
        ...(child.pid !== undefined ? { pid: child.pid } : {}),
        stderrTail: () => log.tail(20),
        fullLog: () => log.all(),
        exitStatus: () => (child.exitCode === null && child.signalCode === null ? null : { code: child.exitCode, signal: child.signalCode }),
        async stop() {
          signal.removeEventListener('abort', onAbort);
          socket.destroy();
          await cleanup();
        },
      };
    },
    async close() {
      material?.cleanup();
    },
  };
  if (opts.tls) {
    // [TRN-4] [TRN-7] [TRN-9] a fresh worker process per probe, pointed at a listener with a wrong certificate / version.
    target.tlsProbe = (variant, { shard, signal, connectTimeoutMs, windowMs }) =>
      probeWorkerTls(
        variant,
        tlsMaterial(),
        async (address) => {
          const commandLine = substitute(opts.command, { address, shard: String(shard), ...tlsValues(), ...(opts.values ?? {}) });
          const log = new LogTail();
          const child = spawn('/bin/sh', ['-c', commandLine], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(opts.env ?? {}) } });
          child.stdout?.on('data', (d: Buffer) => log.push(d.toString('utf8')));
          child.stderr?.on('data', (d: Buffer) => log.push(d.toString('utf8')));
          child.once('error', () => undefined);
          return { stop: () => terminate(child, 500), log: () => log.tail(10) };
        },
        { connectTimeoutMs, windowMs, signal },
      );
  }
  return target;
}

/** Listen once and hand each case the next worker connection (the worker must reconnect). */
export async function listenForWorkers(address: string, tls: TlsOptions & { allowInsecureTcp?: boolean }): Promise<WorkerTarget> {
  const waiting: Duplex[] = [];
  let notify: (() => void) | undefined;
  let listener: Listener;
  try {
    listener = await listenTransport(address, tls, (sock) => {
      waiting.push(sock);
      notify?.();
    });
  } catch (err) {
    throw new HarnessError(`cannot listen on ${address}: ${(err as { code?: string }).code ?? 'error'}`);
  }
  return {
    role: 'worker',
    describe: `worker connecting to ${listener.address}`,
    maxJobs: 1,
    spawned: false,
    async start({ signal, connectTimeoutMs }) {
      const deadline = Date.now() + connectTimeoutMs;
      while (waiting.length === 0) {
        if (signal.aborted) throw new HarnessError('aborted');
        const left = deadline - Date.now();
        if (left <= 0) throw new HarnessError(`no worker connected to ${listener.address} within ${connectTimeoutMs} ms`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          notify = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      const socket = waiting.shift()!;
      return {
        socket,
        stderrTail: () => '',
        fullLog: () => '',
        exitStatus: () => null,
        async stop() {
          socket.destroy();
        },
      };
    },
    async close() {
      for (const s of waiting) s.destroy();
      await listener.close();
    },
  };
}
