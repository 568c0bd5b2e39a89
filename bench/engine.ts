/**
 * Engine benchmark over a UNIX socket (node:net directly): calls/s with 1, 64 and 1024 calls in
 * flight, and two 64 MiB chunked transfers (wall and CPU time, MB/s, peak RSS of each process):
 *
 * - `chunked` — an end-to-end RpcConnection call: a load_files Request carrying 8 × ~8 MiB of
 *   text (64 MiB) is CBOR-encoded, chunked into 1 MiB frames, sent, reassembled, CBOR-decoded
 *   (UTF-8 checked, JS strings built) and answered; the clock stops when the answer is back.
 *   Dominated by payload encode/decode of the text, not by the transfer.
 * - `chunkedWire` — the data plane alone, over its own socket: a pre-encoded 64 MiB payload is
 *   split by encodePacketFrameParts and written as [prefix + head, data view] (what RpcConnection
 *   writes), the child runs FrameDecoder -> decodeWireFrame -> Reassembler (what RpcConnection
 *   runs) and writes one ack byte when the payload is complete. No RpcPayload encode/decode, no
 *   RpcConnection.
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
import { decodeRpcPayload, decodeWireFrame, encodePacketFrames, encodeRpcPayload, FrameDecoder, LENGTH_PREFIX_BYTES, Reassembler } from '../src/wire/index.js';
import { encodePacketFrameParts, type PacketOptions } from '../src/wire/packet.js';
import type { Capabilities, Request } from '../src/wire/model.js';

const MiB = 1024 * 1024;
const CHUNK_PAYLOAD_TEXT_BYTES = 8 * MiB - 1024; // per file; 8 files ≈ 64 MiB (texts are capped at 8 MiB each)
const FILES = 8;
const WIRE_PAYLOAD_BYTES = 64 * MiB;
const CHUNKED_RUNS = 3;

const CAPS: Capabilities = {
  max_frame_len: 1 * MiB,
  max_packet_len: 64 * MiB,
  supported_compression: ['none'],
  supports_cancel: true,
  supports_chunking: true,
};

/** One 64 MiB transfer. `ms` is the median wall time of `runs`; CPU is user+system per process. */
export interface ChunkedResult {
  /** What the clock covers, in words (the JSON is read without this file at hand). */
  measures: string;
  payloadBytes: number;
  maxFrameBytes: number;
  runs: number;
  /** Median wall time (ms) and the best run. */
  ms: number;
  bestMs: number;
  /** payload MiB per median wall second. */
  mbPerSecond: number;
  /** Median CPU ms per run in each process. */
  clientCpuMs: number;
  serverCpuMs: number;
  /** payload MiB per CPU second of the busier process: the rate if that process had a core to itself. */
  mbPerCpuSecondOfBusierSide: number;
  /** Peak RSS above a post-GC baseline, first timed run. */
  clientPeakRssDeltaBytes: number;
  serverPeakRssDeltaBytes: number;
  clientPeakRssOverPayload: number;
  serverPeakRssOverPayload: number;
}

export interface EngineBenchResult {
  calls: { inFlight1: CallsResult; inFlight64: CallsResult; inFlight1024: CallsResult };
  /** End-to-end load_files call through RpcConnection (see the module doc). */
  chunked: ChunkedResult & {
    /** The same payload through the codec alone, in this process (ms): where the chunked time goes. */
    codecMs: {
      encodeRpcPayload: number;
      /** Whole frame buffers (copies the payload): the public API, not what the engine writes. */
      encodePacketFrames: number;
      /** [head, data view] parts: what RpcConnection writes. */
      encodePacketFrameParts: number;
      decodeFramesAndReassemble: number;
      decodeRpcPayload: number;
    };
  };
  /** Data plane only: framing, chunking, socket, FrameDecoder, decodeWireFrame, Reassembler (see the module doc). */
  chunkedWire: ChunkedResult;
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
  let lastLoad = { revision: 0n, bytes: 0, files: 0 };
  const server = net.createServer((socket) => {
    void routerHandshake(socket, {
      capabilities: CAPS,
      // Answers follow the pairing table [DATA-20]: load_files -> ack; get_worker_stats -> worker_stats, whose
      // index_generation reports the text bytes of the last load_files (the chunked run checks it).
      requestHandler: (req) => {
        if (req.type === 'load_files') {
          lastLoad = { revision: req.revision, bytes: req.files.reduce((n, f) => n + f.text.length, 0), files: req.files.length };
          return { status: 'ok', value: { type: 'ack' } };
        }
        if (req.type === 'get_worker_stats') {
          return { status: 'ok', value: { type: 'worker_stats', body: { shard_id: 0, revision: lastLoad.revision, index_generation: BigInt(lastLoad.bytes), file_count: lastLoad.files } } };
        }
        return { status: 'err', error: { code: 'invalid_request', message: 'not served by the benchmark', retryable: false, details: null } };
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
  // The data plane alone: frames -> FrameDecoder -> decodeWireFrame -> Reassembler, one ack byte per payload.
  const wire = net.createServer((socket) => {
    const decoder = new FrameDecoder({ maxFrameBytes: CAPS.max_frame_len });
    const reassembler = new Reassembler({ maxPacketBytes: CAPS.max_packet_len, compression: CAPS.supported_compression, chunking: true });
    socket.on('data', (chunk: Uint8Array) => {
      for (const body of decoder.push(chunk)) {
        const frame = decodeWireFrame(body, { maxPacketBytes: CAPS.max_packet_len });
        if (frame.type !== 'packet' && frame.type !== 'packet_chunk') throw new Error('unexpected frame');
        const done = reassembler.accept(frame);
        if (done) {
          const ack = new Uint8Array(4);
          new DataView(ack.buffer).setUint32(0, done.payload.length, true);
          socket.write(ack);
        }
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  await new Promise<void>((resolve) => wire.listen(`${path}.wire`, resolve));
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
  const packetOptions: PacketOptions = {
    maxFrameBytes: CAPS.max_frame_len,
    maxPacketBytes: CAPS.max_packet_len,
    compression: CAPS.supported_compression,
    chunking: true,
  };
  let t0 = t();
  const payload = encodeRpcPayload({ type: 'request', body: { type: 'load_files', revision: 1n, files } });
  const encodeMs = t() - t0;
  t0 = t();
  const frames = encodePacketFrames(1n, payload, packetOptions);
  const framesMs = t() - t0;
  t0 = t();
  encodePacketFrameParts(1n, payload, packetOptions);
  const partsMs = t() - t0;
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
  return { encodeRpcPayload: r1(encodeMs), encodePacketFrames: r1(framesMs), encodePacketFrameParts: r1(partsMs), decodeFramesAndReassemble: r1(reassembleMs), decodeRpcPayload: r1(decodeMs) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Time `transfer` CHUNKED_RUNS times: wall, CPU of both processes, peak RSS of both (first run). */
async function measureRuns(child: ChildProcess, measures: string, payloadBytes: number, transfer: () => Promise<void>): Promise<ChunkedResult> {
  const wall: number[] = [];
  const clientCpu: number[] = [];
  const serverCpu: number[] = [];
  let clientDelta = 0;
  let serverDelta = 0;
  for (let i = 0; i < CHUNKED_RUNS; i++) {
    globalThis.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    await request(child, { cmd: 'rss-start' }, 'rss-started');
    await request(child, { cmd: 'cpu-start' }, 'cpu-started');
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await transfer();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(cpu0);
    clientCpu.push((c.user + c.system) / 1000);
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    serverCpu.push((await request<{ micros: number }>(child, { cmd: 'cpu-stop' }, 'cpu')).micros / 1000);
    const server = await request<{ deltaBytes: number }>(child, { cmd: 'rss-stop' }, 'rss');
    if (i === 0) {
      clientDelta = peak - baseline;
      serverDelta = server.deltaBytes;
    }
  }
  const ms = median(wall);
  const busierCpuMs = Math.max(median(clientCpu), median(serverCpu));
  return {
    measures,
    payloadBytes,
    maxFrameBytes: CAPS.max_frame_len,
    runs: CHUNKED_RUNS,
    ms: Math.round(ms),
    bestMs: Math.round(Math.min(...wall)),
    mbPerSecond: Math.round(payloadBytes / MiB / (ms / 1000)),
    clientCpuMs: Math.round(median(clientCpu)),
    serverCpuMs: Math.round(median(serverCpu)),
    mbPerCpuSecondOfBusierSide: Math.round(payloadBytes / MiB / (busierCpuMs / 1000)),
    clientPeakRssDeltaBytes: clientDelta,
    serverPeakRssDeltaBytes: serverDelta,
    clientPeakRssOverPayload: Number((clientDelta / payloadBytes).toFixed(2)),
    serverPeakRssOverPayload: Number((serverDelta / payloadBytes).toFixed(2)),
  };
}

async function startServer(path: string): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`bench server exited early (${String(code)})`)));
  });
  return child;
}

/** Run the benchmark; returns JSON-able numbers. */
export async function run(opts: { durationMs?: number } = {}): Promise<EngineBenchResult> {
  const durationMs = opts.durationMs ?? 2000;
  const load = Number(loadavg()[0]!.toFixed(2));
  const dir = mkdtempSync(join(tmpdir(), 'nova-engine-bench-'));
  const path = join(dir, 'router.sock');
  const child = await startServer(path);
  // A fresh server process for the data-plane run, so its RSS is not flattered by pages the
  // first run's allocator already holds.
  let wireChild: ChildProcess | undefined;
  try {
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
    const chunked = await measureRuns(
      child,
      'RpcConnection.call(load_files, 8 files x ~8 MiB text) until the answer is back: payload CBOR encode, chunking, socket, reassembly, payload CBOR decode (UTF-8 check, JS strings), handler, answer',
      payloadBytes,
      async () => {
      await conn.call({ type: 'load_files', revision: 1n, files });
      const res = await conn.call({ type: 'get_worker_stats' });
      if (res.type !== 'worker_stats' || res.body.index_generation !== BigInt(payloadBytes)) throw new Error('chunked transfer: wrong answer');
      },
    );
    await conn.close();

    // the data plane alone, on its own socket
    wireChild = await startServer(`${path}2`);
    const wire = net.createConnection(`${path}2.wire`);
    await new Promise<void>((resolve, reject) => wire.once('connect', resolve).once('error', reject));
    const wirePayload = new Uint8Array(WIRE_PAYLOAD_BYTES);
    for (let i = 0; i < wirePayload.length; i += 4096) wirePayload[i] = i & 0xff;
    let wireId = 1n;
    const sendWire = async (payload: Uint8Array): Promise<void> => {
      const acked = new Promise<number>((resolve) => wire.once('data', (b: Buffer) => resolve(b.readUInt32LE(0))));
      const parts = encodePacketFrameParts(wireId, payload, {
        maxFrameBytes: CAPS.max_frame_len,
        maxPacketBytes: CAPS.max_packet_len,
        compression: CAPS.supported_compression,
        chunking: true,
      });
      wireId += 2n;
      for (const p of parts) {
        const head = new Uint8Array(LENGTH_PREFIX_BYTES + p.head.length);
        new DataView(head.buffer).setUint32(0, p.bodyBytes, true);
        head.set(p.head, LENGTH_PREFIX_BYTES);
        wire.cork();
        wire.write(head);
        const ok = wire.write(p.data);
        wire.uncork();
        if (!ok) await new Promise<void>((resolve) => wire.once('drain', resolve));
      }
      if ((await acked) !== payload.length) throw new Error('wire transfer: wrong payload length');
    };
    await sendWire(wirePayload.subarray(0, 4 * MiB)); // warm-up
    const chunkedWire = await measureRuns(
      wireChild,
      'data plane only, own socket and fresh server process: a pre-encoded 64 MiB payload -> encodePacketFrameParts -> [prefix+head, data view] writes -> FrameDecoder -> decodeWireFrame -> Reassembler -> 4-byte ack; no RpcPayload encode/decode, no RpcConnection',
      WIRE_PAYLOAD_BYTES,
      () => sendWire(wirePayload),
    );
    wire.destroy();

    const codecMs = codecBreakdown(files);
    return {
      calls: { inFlight1, inFlight64, inFlight1024 },
      chunked: { ...chunked, codecMs },
      chunkedWire,
      targets: { callsPerSecondAt64: 50_000, chunkedMbPerSecond: 1000, peakRssOverPayload: 2 },
      loadAverage1m: load,
    };
  } finally {
    if (child.connected) child.send({ cmd: 'exit' });
    if (wireChild?.connected) wireChild.send({ cmd: 'exit' });
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
