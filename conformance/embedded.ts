/**
 * Embedded targets: the TypeScript reference router and worker, in-process, optionally with
 * injected faults. Used when no target is given, by the self-test, and by the benchmark.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { startReferenceRouter, type ReferenceRouterHandle } from '../src/peers/router.js';
import { startReferenceWorker, type ReferenceWorkerHandle } from '../src/peers/worker.js';
import { connectTransport, listenTransport } from '../src/transport/index.js';
import type { Request } from '../src/wire/model.js';
import type { EmbeddedTlsSetup } from './embedded-tls.js';
import { HarnessError } from './registry.js';
import { LogTail, type RouterTarget, type StimulusResult, type WorkerTarget } from './targets.js';

/** Shards the embedded router accepts (enough for --jobs up to this many). */
export const EMBEDDED_SHARDS: readonly number[] = Array.from({ length: 16 }, (_, i) => i + 1);
/** A shard id the embedded router does not accept. */
export const EMBEDDED_UNKNOWN_SHARD = 4242;
/** The embedded router's handshake timeout (short, so HS-6 cases run fast). */
export const EMBEDDED_HANDSHAKE_TIMEOUT_MS = 1200;
/**
 * How long the embedded router lets a worker's request wait for a handler before answering
 * invalid_request (nova-remote-rpc waits 500 ms). Probe requests against a router are answered this
 * way [DATA-11], so the default would put half a second into every router case that proves
 * liveness with a probe. Short, but not zero: a request stays in flight until the rest of the
 * write that carried it has been read (ids.duplicate-in-flight, cancel.not-negotiated-ignored).
 */
export const EMBEDDED_MISSING_HANDLER_WAIT_MS = 20;

export interface EmbeddedOptions {
  /** TLS tier: run the peer over tcp+tls (built by conformance/embedded-tls.ts). */
  tls?: EmbeddedTlsSetup;
  faults?: string[];
  /** Configure an auth token on the embedded peer (and the harness). */
  token?: string;
  /** The embedded router's handshake timeout (default EMBEDDED_HANDSHAKE_TIMEOUT_MS). */
  handshakeTimeoutMs?: number;
  /** The embedded router's response wait [LIM-5] (default the reference router's, 10 min). */
  callTimeoutMs?: number;
}

function tempSocket(name: string): { address: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ncr-'));
  return { address: `unix:${join(dir, name)}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Start the reference router and wrap it as a router target. */
export async function embeddedRouter(opts: EmbeddedOptions = {}): Promise<RouterTarget & { handle: ReferenceRouterHandle }> {
  const sock = tempSocket('router.sock');
  const log = new LogTail();
  let handle: ReferenceRouterHandle;
  try {
    handle = await startReferenceRouter({
      listen: sock.address,
      shards: [...EMBEDDED_SHARDS],
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? EMBEDDED_HANDSHAKE_TIMEOUT_MS,
      ...(opts.callTimeoutMs !== undefined ? { callTimeoutMs: opts.callTimeoutMs } : {}),
      missingHandlerWaitMs: EMBEDDED_MISSING_HANDLER_WAIT_MS,
      faults: opts.faults ?? [],
      ...(opts.token !== undefined ? { authToken: opts.token } : {}),
      log: (line) => log.push(`${line}\n`),
      maxEvents: 2000,
      ...opts.tls?.router,
    });
  } catch (err) {
    sock.cleanup();
    throw new HarnessError(`cannot start the embedded reference router: ${err instanceof Error ? err.message : String(err)}`);
  }
  const address = handle.address;
  return {
    role: 'router',
    describe: `embedded reference router${opts.faults?.length ? ` (faults: ${opts.faults.join(',')})` : ''}`,
    handle,
    async connect(signal): Promise<Duplex> {
      try {
        return await connectTransport(address, { connectTimeoutMs: 5000, signal, ...opts.tls?.routerClient });
      } catch (err) {
        throw new HarnessError(`cannot connect to the embedded router: ${(err as { code?: string }).code ?? 'error'}`);
      }
    },
    async stimulus(req, signal): Promise<StimulusResult> {
      const requestFor = (i: number): Request =>
        req.request === 'diagnostics' ? { type: 'diagnostics', path: req.pairing ? `src/Pair${i}.java` : 'src/Main.java' } : { type: req.request };
      let session;
      try {
        session = await handle.waitForWorker(req.shard, 2000);
      } catch {
        return { ok: false, detail: `no worker session for shard ${req.shard}` };
      }
      const calls = Array.from({ length: req.count }, async (_, i) => {
        const request = requestFor(i);
        const ac = new AbortController();
        const onAbort = (): void => ac.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          const p = session.call(request, { signal: ac.signal, timeoutMs: 3_000, ...(req.cancel ? { waitForTerminalResponse: true } : {}) });
          if (req.cancel) setTimeout(() => ac.abort(), 20);
          const res = await p;
          if (req.pairing && request.type === 'diagnostics') {
            // [DATA-2] the answer must be the one to this call: its first diagnostic names our path.
            const got = res.type === 'diagnostics' ? res.body.diagnostics[0]?.message : undefined;
            if (got !== request.path) {
              throw Object.assign(new Error(`call ${i} (${request.path}) got the answer for ${got === undefined ? 'no path' : JSON.stringify(got.slice(0, 40))}`), { mispaired: true });
            }
            return `ok ${res.type} ${request.path}`;
          }
          return `ok ${res.type}`;
        } catch (err) {
          if ((err as { mispaired?: boolean }).mispaired) throw err;
          const code = (err as { code?: string }).code ?? 'error';
          if (req.cancel && code === 'CANCELLED') return 'cancelled';
          throw new Error(code);
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
      });
      const settled = await Promise.allSettled(calls);
      const failed = settled.filter((s) => s.status === 'rejected');
      return {
        ok: failed.length === 0,
        detail: settled.map((s) => (s.status === 'fulfilled' ? s.value : `failed: ${(s.reason as Error).message}`)).join('; '),
      };
    },
    logTail: () => log.tail(15),
    async close() {
      await handle.close();
      sock.cleanup();
    },
  };
}

/** Run the reference worker in-process per case; it connects to a per-case listener. */
export function embeddedWorker(opts: EmbeddedOptions = {}): WorkerTarget {
  // One directory for every per-case listener socket of this target (created on first use,
  // removed by close()): a directory per case cost a few ms of synchronous file-system calls each.
  let dir: string | undefined;
  let sockets = 0;
  const listenAddress = (): string => {
    dir ??= mkdtempSync(join(tmpdir(), 'ncw-'));
    return `unix:${join(dir, `w${++sockets}.sock`)}`;
  };
  return {
    role: 'worker',
    describe: `embedded reference worker${opts.faults?.length ? ` (faults: ${opts.faults.join(',')})` : ''}`,
    maxJobs: Number.POSITIVE_INFINITY,
    spawned: false,
    async start({ shard, signal, connectTimeoutMs }) {
      let resolveSock!: (s: Duplex) => void;
      const first = new Promise<Duplex>((r) => (resolveSock = r));
      let accepted: Duplex | undefined;
      const listener = await listenTransport(opts.tls?.worker.listen ?? listenAddress(), opts.tls?.worker.listenOpts ?? {}, (s) => {
        if (accepted) return void s.destroy();
        accepted = s;
        resolveSock(s);
      });
      const log = new LogTail();
      let handle: ReferenceWorkerHandle | undefined;
      let startError: string | undefined;
      const started = startReferenceWorker({
        connect: listener.address,
        shardId: shard,
        faults: opts.faults ?? [],
        ...(opts.token !== undefined ? { authToken: opts.token } : {}),
        handshakeTimeoutMs: EMBEDDED_HANDSHAKE_TIMEOUT_MS,
        slowWorkMs: 2000,
        log: (line) => log.push(`${line}\n`),
        maxEvents: 500,
        ...opts.tls?.worker.peer,
      }).then(
        (h) => (handle = h),
        (err: unknown) => {
          startError = (err as { code?: string }).code ?? 'error';
          return undefined;
        },
      );
      let cleaned: Promise<void> | undefined;
      // Idempotent (the case's abort and stop() both call it). Closing the listener removes its socket file.
      const cleanup = (): Promise<void> =>
        (cleaned ??= (async () => {
          accepted?.destroy();
          let grace: NodeJS.Timeout | undefined;
          await Promise.race([started, new Promise((r) => (grace = setTimeout(r, 200)))]);
          clearTimeout(grace);
          await handle?.close().catch(() => {});
          await listener.close();
        })());
      signal.addEventListener('abort', () => void cleanup(), { once: true });
      let timer: NodeJS.Timeout | undefined;
      const got = await Promise.race([first, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), connectTimeoutMs)))]);
      clearTimeout(timer);
      if (got === 'timeout') {
        await cleanup();
        throw new HarnessError(`the embedded worker did not connect (${startError ?? 'timeout'})`);
      }
      return {
        socket: got,
        stderrTail: () => log.tail(15),
        fullLog: () => log.all(),
        exitStatus: () => null,
        async stop() {
          await cleanup();
        },
      };
    },
    async close() {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
  };
}
