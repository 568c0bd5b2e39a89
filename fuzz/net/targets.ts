/**
 * Fuzz targets: attach to a router, spawn a router, wait for workers, spawn a worker per case,
 * or (tests and benchmarks) run a reference peer in-process.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { connectTransport, listenTransport, type TlsOptions } from '../../src/transport/index.js';
import { LogTail, attachRouter, listenForWorkers, spawnWorker, substitute, terminate, type WorkerTarget } from '../../conformance/targets.js';
import type { FuzzTarget, TargetConnection } from './runner.js';

export interface ConnectSettings extends TlsOptions {
  allowInsecureTcp?: boolean;
  authTokenConfigured?: boolean;
  connectTimeoutMs?: number;
  /** Router targets: the target config's stimulus command (see docs/target-config.md, "Router stimulus"). */
  stimulusCommand?: string;
  stimulusTimeoutMs?: number;
}

/** A router that is already running at `address`. */
export function routerAt(address: string, settings: ConnectSettings = {}): FuzzTarget {
  const t = attachRouter(address, { ...settings, connectTimeoutMs: settings.connectTimeoutMs ?? 5000 });
  const stimulus = t.stimulus;
  return {
    role: 'router',
    describe: t.describe,
    probeFreshConnection: true,
    async open(signal) {
      const socket = await t.connect(signal);
      return plainConnection(socket);
    },
    // The command is started and left running: the fuzzer never answers the router's requests, so
    // it would only finish at its own timeout; the case's end stops it (signal).
    ...(stimulus
      ? {
          async stimulus(shardId: number, count: number, signal: AbortSignal) {
            void stimulus({ shard: shardId, request: 'get_worker_stats', count }, signal).catch(() => undefined);
          },
        }
      : {}),
    alive: () => true,
    logTail: () => '',
    close: () => t.close(),
  };
}

function plainConnection(socket: Duplex, onRelease?: () => Promise<void>): TargetConnection {
  return {
    socket,
    exitStatus: () => null,
    logTail: () => '',
    async release() {
      socket.destroy();
      await onRelease?.();
    },
  };
}

/**
 * Spawn a long-lived router with `command` (`{address}` is replaced by a fresh unix socket
 * path, shell-quoted) and wait until it accepts connections.
 */
export async function spawnRouter(command: string, settings: ConnectSettings & { readyTimeoutMs?: number; env?: Record<string, string> } = {}): Promise<FuzzTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'ncfz-'));
  const address = `unix:${join(dir, 'router.sock')}`;
  const commandLine = substitute(command, { address });
  const log = new LogTail();
  const child: ChildProcess = spawn('/bin/sh', ['-c', commandLine], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(settings.env ?? {}) } });
  child.stdout?.on('data', (d: Buffer) => log.push(d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString('utf8')));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const deadline = Date.now() + (settings.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (exited()) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`the router command exited before accepting connections (code ${String(child.exitCode)})\n${log.tail(20)}`);
    }
    try {
      const s = await connectTransport(address, { connectTimeoutMs: 500 });
      s.destroy();
      break;
    } catch {
      if (Date.now() > deadline) {
        await terminate(child);
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`the router did not accept connections on ${address}\n${log.tail(20)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const inner = routerAt(address, settings);
  return {
    ...inner,
    describe: `router spawned by: ${command}`,
    alive: () => !exited(),
    logTail: () => log.tail(20),
    async close() {
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function fromWorkerTarget(t: WorkerTarget, shardId: number, connectTimeoutMs: number): FuzzTarget {
  return {
    role: 'worker',
    describe: t.describe,
    probeFreshConnection: !t.spawned,
    async open(signal) {
      const inst = await t.start({ shard: shardId, signal, connectTimeoutMs });
      return {
        socket: inst.socket,
        exitStatus: () => inst.exitStatus(),
        logTail: () => inst.stderrTail(),
        release: () => inst.stop(),
      };
    },
    alive: () => true,
    logTail: () => '',
    close: () => t.close(),
  };
}

/**
 * Spawn a fresh worker per case with `command` (`{address}` and `{shard}` substituted, plus
 * `values` such as `{tokenFile}`; with `tls`, listen on tcp+tls as the conformance suite does: `{caFile}`).
 */
export function spawnWorkerTarget(
  command: string,
  opts: { shardId: number; connectTimeoutMs?: number; env?: Record<string, string>; values?: Record<string, string>; tls?: { caFile: string; caKeyFile: string } },
): FuzzTarget {
  return fromWorkerTarget(
    spawnWorker({ command, ...(opts.env ? { env: opts.env } : {}), ...(opts.values ? { values: opts.values } : {}), ...(opts.tls ? { tls: opts.tls } : {}) }),
    opts.shardId,
    opts.connectTimeoutMs ?? 10_000,
  );
}

/** Listen at `address`; the worker under test must (re)connect for every case. */
export async function listenWorkerTarget(address: string, opts: ConnectSettings & { shardId: number; connectTimeoutMs?: number }): Promise<FuzzTarget> {
  const t = await listenForWorkers(address, opts);
  return fromWorkerTarget(t, opts.shardId, opts.connectTimeoutMs ?? 30_000);
}

/**
 * The reference worker in this process, one fresh worker per connection (tests, benchmarks).
 * `faults` are reference fault names (src/peers/faults.ts).
 */
export async function inProcessWorker(
  opts: { shardId?: number; faults?: readonly string[]; authToken?: string; capabilities?: Record<string, unknown>; handshakeTimeoutMs?: number } = {},
): Promise<FuzzTarget> {
  const { startReferenceWorker } = await import('../../src/peers/worker.js');
  const dir = mkdtempSync(join(tmpdir(), 'ncfw-'));
  const shardId = opts.shardId ?? 0;
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? IN_PROCESS_WORKER_HANDSHAKE_TIMEOUT_MS;
  let serial = 0;
  return {
    role: 'worker',
    workerHandshakeTimeoutMs: handshakeTimeoutMs,
    describe: `in-process reference worker${opts.faults?.length ? ` (faults: ${opts.faults.join(', ')})` : ''}`,
    probeFreshConnection: true,
    async open() {
      // one listener per connection, so concurrent lanes never swap workers
      let resolveSock!: (s: Duplex) => void;
      const sockP = new Promise<Duplex>((r) => (resolveSock = r));
      const listener = await listenTransport(`unix:${join(dir, `w${serial++}.sock`)}`, {}, (sock) => resolveSock(sock));
      // The handshake only completes once the fuzzer answers, so the start is not awaited here.
      const started = startReferenceWorker({
        connect: listener.address,
        shardId,
        faults: opts.faults ?? [],
        log: null,
        handshakeTimeoutMs,
        ...(opts.authToken !== undefined ? { authToken: opts.authToken } : {}),
        ...(opts.capabilities ?? {}),
      });
      started.catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      const socket = await Promise.race([
        sockP,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the in-process worker did not connect')), 5000))),
      ]).finally(() => clearTimeout(timer));
      return plainConnection(socket, async () => {
        try {
          const h = await Promise.race([started, new Promise<null>((r) => setTimeout(() => r(null), 200))]);
          if (h) await h.close();
        } catch {
          /* the worker failed its handshake: fine */
        }
        await listener.close();
      });
    },
    alive: () => true,
    logTail: () => '',
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The in-process worker's handshake timeout [HS-17] (short, so silent-answer cases stay cheap; long enough for a loaded machine). */
export const IN_PROCESS_WORKER_HANDSHAKE_TIMEOUT_MS = 1500;

/** The in-process router's handshake timeout (short, so silent-handshake cases [HS-6] stay cheap). */
export const IN_PROCESS_ROUTER_HANDSHAKE_TIMEOUT_MS = 1000;

/**
 * The reference router in this process (tests, benchmarks). Its stimulus calls the router
 * directly, like the embedded conformance target: `count` concurrent get_worker_stats calls on
 * the session of the shard, ended by the case's signal.
 */
export async function inProcessRouter(
  opts: { shards?: number[]; faults?: readonly string[]; authToken?: string; handshakeTimeoutMs?: number; options?: Record<string, unknown> } = {},
): Promise<FuzzTarget> {
  const { startReferenceRouter } = await import('../../src/peers/router.js');
  const dir = mkdtempSync(join(tmpdir(), 'ncfr-'));
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? IN_PROCESS_ROUTER_HANDSHAKE_TIMEOUT_MS;
  const handle = await startReferenceRouter({
    listen: `unix:${join(dir, 'r.sock')}`,
    shards: opts.shards ?? [0],
    faults: opts.faults ?? [],
    log: null,
    handshakeTimeoutMs,
    ...(opts.authToken !== undefined ? { authToken: opts.authToken } : {}),
    ...(opts.options ?? {}),
  });
  const inner = routerAt(handle.address);
  return {
    ...inner,
    handshakeTimeoutMs,
    async stimulus(shardId, count, signal) {
      let session;
      try {
        session = await handle.waitForWorker(shardId, 1000);
      } catch {
        return; // no session (the case's connection already closed)
      }
      for (let i = 0; i < count; i++) {
        session.call({ type: 'get_worker_stats' }, { signal, timeoutMs: 10_000 }).catch(() => undefined);
      }
      await new Promise((r) => setImmediate(r));
    },
    describe: `in-process reference router${opts.faults?.length ? ` (faults: ${opts.faults.join(', ')})` : ''}`,
    async close() {
      await handle.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
