/**
 * Engine benchmark over a UNIX socket (node:net directly): calls/s with 1, 64 and 1024 calls in
 * flight, and one 64 MiB chunked request (MB/s and peak RSS of each process).
 *
 * The router side runs in a forked child process so the two ends do not share one event loop and
 * each RSS is measured on its own. Run it with `npm run bench` (compiled), or directly:
 * `node dist/bench/engine.js`.
 *
 * Targets (TEAM-BRIEF): ≥ 50k calls/s at 64 in flight; ≥ 1 GB/s chunked with peak RSS ≤ 2× payload.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { routerHandshake, workerHandshake, type RpcConnection } from '../src/engine/connection.js';
import { decodeRpcPayload, decodeWireFrame, encodePacketFrames, encodeRpcPayload, Reassembler } from '../src/wire/index.js';
import type { Capabilities, Request } from '../src/wire/model.js';

const MiB = 1024 * 1024;
const CHUNK_PAYLOAD_TEXT_BYTES = 8 * MiB - 1024; // per file; 8 files ≈ 64 MiB (texts are capped at 8 MiB each)
const FILES = 8;

const CAPS: Capabilities = {
  max_frame_len: 1 * MiB,
  max_packet_len: 64 * MiB,
  supported_compression: ['none'],
  supports_cancel: true,
  supports_chunking: true,
};

export interface EngineBenchResult {
  calls: { inFlight1: CallsResult; inFlight64: CallsResult; inFlight1024: CallsResult };
  chunked: {
    payloadBytes: number;
    maxFrameBytes: number;
    ms: number;
    mbPerSecond: number;
    clientPeakRssDeltaBytes: number;
    serverPeakRssDeltaBytes: number;
    clientPeakRssOverPayload: number;
    serverPeakRssOverPayload: number;
    /** The same payload through the codec alone, in this process (ms): where the chunked time goes. */
    codecMs: { encodeRpcPayload: number; encodePacketFrames: number; decodeFramesAndReassemble: number; decodeRpcPayload: number };
  };
  targets: { callsPerSecondAt64: number; chunkedMbPerSecond: number; peakRssOverPayload: number };
  /** 1-minute load average at the start (the machine is shared; numbers scale with it). */
  loadAverage1m: number;
}

// ------------------------------------------------------------------ server (child process)

async function serve(path: string): Promise<void> {
  let baseline = process.memoryUsage().rss;
  let peak = baseline;
  let sampler: NodeJS.Timeout | undefined;
  let cpu0 = process.cpuUsage();
  const server = net.createServer((socket) => {
    void routerHandshake(socket, {
      capabilities: CAPS,
      requestHandler: (req) => {
        if (req.type === 'load_files') {
          const bytes = req.files.reduce((n, f) => n + f.text.length, 0);
          return { status: 'ok', value: { type: 'worker_stats', body: { shard_id: 0, revision: req.revision, index_generation: BigInt(bytes), file_count: req.files.length } } };
        }
        return { status: 'ok', value: { type: 'ack' } };
      },
    }).catch(() => undefined);
  });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'cpu-start') {
      cpu0 = process.cpuUsage();
      process.send!({ cmd: 'cpu-started' });
    } else if (m.cmd === 'cpu-stop') {
      const d = process.cpuUsage(cpu0);
      process.send!({ cmd: 'cpu', micros: d.user + d.system });
    } else if (m.cmd === 'rss-start') {
      globalThis.gc?.();
      baseline = process.memoryUsage().rss;
      peak = baseline;
      sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
      process.send!({ cmd: 'rss-started' });
    } else if (m.cmd === 'rss-stop') {
      if (sampler) clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      process.send!({ cmd: 'rss', deltaBytes: peak - baseline });
    } else if (m.cmd === 'exit') {
      server.close();
      process.exit(0);
    }
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  process.send!({ cmd: 'ready' });
}

// ------------------------------------------------------------------ client

function request<T>(child: ChildProcess, msg: object, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { cmd: string }): void => {
      if (m.cmd === reply) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
    child.send(msg);
  });
}

async function connect(path: string): Promise<RpcConnection> {
  const socket = net.createConnection(path);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.setNoDelay?.(true);
  return workerHandshake(socket, { shardId: 0, capabilities: CAPS });
}

interface CallsResult {
  callsPerSecond: number;
  /** CPU time per call (client + server processes), µs: less sensitive to a loaded machine than calls/s. */
  cpuMicrosPerCall: number;
  /** 1e6 / cpuMicrosPerCall / 2: the calls/s one core per side would sustain if the CPU were ours. */
  callsPerCpuSecondPerSide: number;
}

async function callsPerSecond(conn: RpcConnection, inFlight: number, durationMs: number, child?: ChildProcess): Promise<CallsResult> {
  const req: Request = { type: 'get_worker_stats' };
  let done = 0;
  let stop = false;
  if (child) await request(child, { cmd: 'cpu-start' }, 'cpu-started');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (!stop) {
      await conn.call(req);
      done++;
    }
  };
  const timer = setTimeout(() => (stop = true), durationMs);
  await Promise.all(Array.from({ length: inFlight }, lane));
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const serverMicros = child ? (await request<{ micros: number }>(child, { cmd: 'cpu-stop' }, 'cpu')).micros : 0;
  const perCall = (c.user + c.system + serverMicros) / Math.max(done, 1);
  return {
    callsPerSecond: Math.round(done / seconds),
    cpuMicrosPerCall: Number(perCall.toFixed(2)),
    callsPerCpuSecondPerSide: Math.round(1e6 / perCall * 2),
  };
}

function codecBreakdown(files: Array<{ path: string; text: string }>): EngineBenchResult['chunked']['codecMs'] {
  const t = (): number => performance.now();
  let t0 = t();
  const payload = encodeRpcPayload({ type: 'request', body: { type: 'load_files', revision: 1n, files } });
  const encodeMs = t() - t0;
  t0 = t();
  const frames = encodePacketFrames(1n, payload, {
    maxFrameBytes: CAPS.max_frame_len,
    maxPacketBytes: CAPS.max_packet_len,
    compression: CAPS.supported_compression,
    chunking: true,
  });
  const framesMs = t() - t0;
  t0 = t();
  const r = new Reassembler({ maxPacketBytes: CAPS.max_packet_len, compression: CAPS.supported_compression, chunking: true });
  let done: { payload: Uint8Array } | null = null;
  for (const f of frames) {
    const frame = decodeWireFrame(f);
    if (frame.type === 'packet' || frame.type === 'packet_chunk') done = r.accept(frame) ?? done;
  }
  const reassembleMs = t() - t0;
  t0 = t();
  decodeRpcPayload(done!.payload);
  const decodeMs = t() - t0;
  const r1 = (x: number): number => Math.round(x);
  return { encodeRpcPayload: r1(encodeMs), encodePacketFrames: r1(framesMs), decodeFramesAndReassemble: r1(reassembleMs), decodeRpcPayload: r1(decodeMs) };
}

/** Run the benchmark; returns JSON-able numbers. */
export async function run(opts: { durationMs?: number } = {}): Promise<EngineBenchResult> {
  const durationMs = opts.durationMs ?? 2000;
  const load = Number(loadavg()[0]!.toFixed(2));
  const dir = mkdtempSync(join(tmpdir(), 'nova-engine-bench-'));
  const path = join(dir, 'router.sock');
  const child = fork(fileURLToPath(import.meta.url), ['--serve', path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`bench server exited early (${String(code)})`)));
    });
    const conn = await connect(path);
    // warm-up
    await callsPerSecond(conn, 64, 300);
    const inFlight1 = await callsPerSecond(conn, 1, durationMs, child);
    const inFlight64 = await callsPerSecond(conn, 64, durationMs, child);
    const inFlight1024 = await callsPerSecond(conn, 1024, durationMs, child);

    // 64 MiB chunked request: 8 files of ~8 MiB
    const text = 'a'.repeat(CHUNK_PAYLOAD_TEXT_BYTES);
    const files = Array.from({ length: FILES }, (_, i) => ({ path: `f${i}`, text }));
    const payloadBytes = FILES * CHUNK_PAYLOAD_TEXT_BYTES;
    // warm the path once with a small chunked request
    await conn.call({ type: 'load_files', revision: 0n, files: [{ path: 'w', text: 'w'.repeat(4 * MiB) }] });
    globalThis.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    await request(child, { cmd: 'rss-start' }, 'rss-started');
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    const t0 = performance.now();
    const res = await conn.call({ type: 'load_files', revision: 1n, files });
    const ms = performance.now() - t0;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const server = await request<{ deltaBytes: number }>(child, { cmd: 'rss-stop' }, 'rss');
    if (res.type !== 'worker_stats' || res.body.index_generation !== BigInt(payloadBytes)) throw new Error('chunked transfer: wrong answer');
    await conn.close();
    const clientDelta = peak - baseline;
    const codecMs = codecBreakdown(files);
    return {
      calls: { inFlight1, inFlight64, inFlight1024 },
      chunked: {
        payloadBytes,
        maxFrameBytes: CAPS.max_frame_len,
        ms: Math.round(ms),
        mbPerSecond: Math.round(payloadBytes / MiB / (ms / 1000)),
        clientPeakRssDeltaBytes: clientDelta,
        serverPeakRssDeltaBytes: server.deltaBytes,
        clientPeakRssOverPayload: Number((clientDelta / payloadBytes).toFixed(2)),
        serverPeakRssOverPayload: Number((server.deltaBytes / payloadBytes).toFixed(2)),
        codecMs,
      },
      targets: { callsPerSecondAt64: 50_000, chunkedMbPerSecond: 1000, peakRssOverPayload: 2 },
      loadAverage1m: load,
    };
  } finally {
    if (child.connected) child.send({ cmd: 'exit' });
    rmSync(dir, { recursive: true, force: true });
  }
}

const serveIdx = process.argv.indexOf('--serve');
if (serveIdx >= 0) {
  void serve(process.argv[serveIdx + 1]!);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
