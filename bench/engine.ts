/**
 * Engine benchmark over a UNIX socket (node:net directly): calls/s with 1, 64 and 1024 calls in
 * flight (get_worker_stats -> worker_stats, whose payloads have codec fast paths), the same at 64
 * with a payload pair that takes the generic cbor-x path (diagnostics), and three 64 MiB transfers (wall and CPU time per process, MiB/s, peak RSS per process):
 *
 * - `chunked` — an end-to-end RpcConnection call: a load_files Request carrying 8 × ~8 MiB of
 *   text (64 MiB). The client writes each 1 MiB PacketChunk frame straight from the strings
 *   (planBulkRequestPayload + planPacketFrames: no payload-sized buffer); the server copies chunk
 *   data from the socket reads into its reused reassembly buffer, decodes each file as soon as it
 *   has arrived (BulkRequestReader: ASCII / UTF-8 check, JS strings built) and answers; the clock
 *   stops when the answers are back. Dominated by building 64 MiB of JS strings on the server.
 * - `chunkedWire` — the data plane alone, over its own socket: a pre-encoded 64 MiB payload is
 *   split by encodePacketFrameParts and written as [prefix + head, data view]; the child runs
 *   RpcConnection's receive path (FrameDecoder.pushTo -> decodePacketChunkHead ->
 *   Reassembler.beginChunk/chunkData/endChunk, other frames decodeWireFrame -> accept), checks one
 *   byte per page of the payload, answers 4 bytes and releases the payload buffer for reuse, as
 *   the connection does once it has decoded a payload. No RpcPayload encode/decode.
 * - `socketCeiling` — the physical ceiling: the same 64 MiB written as 1 MiB buffers to a process
 *   that only counts bytes. No framing, no JS copies.
 *
 * MiB/s are payload MiB per median wall second of several runs; `mbPerCpuSecondOfBusierSide` is
 * the rate if the busier process had a core to itself (less sensitive to a loaded machine).
 * Peak RSS is sampled every 2 ms during the first run, above a post-GC baseline.
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
import { decodeRpcPayload, decodeWireFrame, encodePacketFrames, encodeRpcPayload, FrameDecoder, LENGTH_PREFIX_BYTES, Reassembler, WRITE_BUFFER_HIGH_WATER_BYTES } from '../src/wire/index.js';
import { encodePacketFrameParts, type PacketOptions } from '../src/wire/packet.js';
import { decodePacketChunkHead } from '../src/wire/chunk-head.js';
import { decodeBulkRequestPayload, encodeBulkRequestPayload } from '../src/wire/bulk-payload.js';
import type { FrameSink } from '../src/wire/frame.js';
import type { Capabilities, Request } from '../src/wire/model.js';

const MiB = 1024 * 1024;
const CHUNK_PAYLOAD_TEXT_BYTES = 8 * MiB - 1024; // per file; 8 files ≈ 64 MiB (texts are capped at 8 MiB each)
const FILES = 8;
const WIRE_PAYLOAD_BYTES = 64 * MiB;
const CHUNKED_RUNS = 5;

/** The data-plane payload: byte i is (i * 31) >>> 7 & 0xff at every 4 KiB page start, zero elsewhere. */
function fillWirePayload(p: Uint8Array): void {
  for (let i = 0; i < p.length; i += 4096) p[i] = ((i * 31) >>> 7) & 0xff;
}
/** Spot-check a received payload (one byte per page), so the benchmark cannot pass on wrong bytes. */
function checkWirePayload(p: Uint8Array): boolean {
  for (let i = 0; i < p.length; i += 4096) if (p[i] !== (((i * 31) >>> 7) & 0xff) || p[i + 1] !== 0) return false;
  return true;
}

const CAPS: Capabilities = {
  max_frame_len: 1 * MiB,
  max_packet_len: 64 * MiB,
  supported_compression: ['none'],
  supports_cancel: true,
  supports_chunking: true,
};

/** One 64 MiB transfer. `ms` is the median wall time of `runs`; CPU is user+system per process (median). */
export interface ChunkedResult {
  /** What the clock covers, in words (the JSON is read without this file at hand). */
  measures: string;
  payloadBytes: number;
  maxFrameBytes: number;
  /** Timed runs, after the cold first run and `warmups` untimed ones. */
  runs: number;
  warmups: number;
  /** Wall time of the cold first transfer (the one whose peak RSS is reported). */
  firstRunMs: number;
  /** Median wall time (ms) of the timed runs, and the best one. */
  ms: number;
  bestMs: number;
  /** payload MiB per median wall second. */
  mbPerSecond: number;
  /** Median CPU ms per run in each process. */
  clientCpuMs: number;
  serverCpuMs: number;
  /** payload MiB per CPU second of the busier process: the rate if that process had a core to itself. */
  mbPerCpuSecondOfBusierSide: number;
  /** Peak RSS above a post-GC baseline during the cold first transfer. */
  clientPeakRssDeltaBytes: number;
  serverPeakRssDeltaBytes: number;
  clientPeakRssOverPayload: number;
  serverPeakRssOverPayload: number;
}

export interface EngineBenchResult {
  /**
   * get_worker_stats -> worker_stats at 1, 64 and 1024 calls in flight (the small-call path: these
   * payloads have codec fast paths), and `inFlight64GenericPayload`: a diagnostics request answered
   * with an empty diagnostics list, whose payloads go through the generic cbor-x encoder, the
   * preflight and the schema decoder.
   */
  calls: { inFlight1: CallsResult; inFlight64: CallsResult; inFlight1024: CallsResult; inFlight64GenericPayload: CallsResult };
  /** End-to-end load_files call through RpcConnection (see the module doc). */
  chunked: ChunkedResult & {
    /** The same payload through the codec alone, in this process (ms): where the chunked time goes. */
    codecMs: {
      /** The generic encoder (cbor-x). */
      encodeRpcPayload: number;
      /** The bulk writer the engine uses for load_files (whole buffer; the engine writes it frame by frame instead). */
      encodeBulkRequestPayload: number;
      /** Whole frame buffers (copies the payload): the public API, not what the engine writes. */
      encodePacketFrames: number;
      /** [head, data view] parts: what RpcConnection writes. */
      encodePacketFrameParts: number;
      decodeFramesAndReassemble: number;
      /** The generic decoder. */
      decodeRpcPayload: number;
      /** The bulk reader the engine uses for load_files. */
      decodeBulkRequestPayload: number;
    };
  };
  /** Data plane only: framing, chunking, socket, FrameDecoder, decodeWireFrame, Reassembler (see the module doc). */
  chunkedWire: ChunkedResult;
  /** Raw unix-socket throughput between the two processes with no protocol work: the physical ceiling. */
  socketCeiling: ChunkedResult;
  socketCeilingMbPerSecond: number;
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
        if (req.type === 'diagnostics') return { status: 'ok', value: { type: 'diagnostics', body: { diagnostics: [] } } };
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
      sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
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
  // The data plane alone, as RpcConnection's receive path runs it: FrameDecoder.pushTo; large
  // canonical PacketChunks go head -> Reassembler.beginChunk -> data copied straight in; other
  // frames decodeWireFrame -> Reassembler.accept. Each payload is checked, answered with its
  // length (4 bytes) and released for reuse, as the connection releases it once decoded.
  const wire = net.createServer((socket) => {
    const decoder = new FrameDecoder({ maxFrameBytes: CAPS.max_frame_len });
    const reassembler = new Reassembler({ maxPacketBytes: CAPS.max_packet_len, compression: CAPS.supported_compression, chunking: true });
    const deliver = (done: { payload: Uint8Array } | null): void => {
      if (!done) return;
      const ack = new Uint8Array(4);
      new DataView(ack.buffer).setUint32(0, checkWirePayload(done.payload) ? done.payload.length : 0, true);
      socket.write(ack);
      reassembler.release(done.payload);
    };
    const sink: FrameSink = {
      frame: (body) => {
        const frame = decodeWireFrame(body, { maxPacketBytes: CAPS.max_packet_len });
        if (frame.type !== 'packet' && frame.type !== 'packet_chunk') throw new Error('unexpected frame');
        deliver(reassembler.accept(frame));
      },
      begin: (head, bodyBytes) => {
        const h = decodePacketChunkHead(head, bodyBytes, { maxPacketBytes: CAPS.max_packet_len });
        if (h === undefined || !reassembler.beginChunk(h)) return false;
        reassembler.chunkData(head.subarray(h.headBytes));
        return true;
      },
      piece: (bytes) => reassembler.chunkData(bytes),
      end: () => deliver(reassembler.endChunk()),
    };
    socket.on('data', (chunk: Uint8Array) => decoder.pushTo(chunk, sink));
    socket.on('error', () => undefined);
  });
  // The physical ceiling: the same bytes through the same kind of socket, only counted.
  const raw = net.createServer((socket) => {
    let got = 0;
    socket.on('data', (chunk: Uint8Array) => {
      got += chunk.length;
      if (got >= WIRE_PAYLOAD_BYTES) {
        got -= WIRE_PAYLOAD_BYTES;
        socket.write(new Uint8Array(4));
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  await new Promise<void>((resolve) => wire.listen(`${path}.wire`, resolve));
  await new Promise<void>((resolve) => raw.listen(`${path}.raw`, resolve));
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
  /** Median of the runs (calls/s of each run in `runs`). */
  callsPerSecond: number;
  runs?: number[];
  /** CPU time per call (client + server processes), µs: less sensitive to a loaded machine than calls/s. */
  cpuMicrosPerCall: number;
  /** 1e6 / cpuMicrosPerCall / 2: the calls/s one core per side would sustain if the CPU were ours. */
  callsPerCpuSecondPerSide: number;
}

async function callsPerSecond(
  conn: RpcConnection,
  inFlight: number,
  durationMs: number,
  child?: ChildProcess,
  req: Request = { type: 'get_worker_stats' },
): Promise<CallsResult> {
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

/** Three runs of durationMs/3 each; the run with the median calls/s (the machine is shared: single runs swing 2x). */
async function callsMedian(conn: RpcConnection, inFlight: number, durationMs: number, child: ChildProcess, req?: Request): Promise<CallsResult> {
  const results: CallsResult[] = [];
  for (let i = 0; i < 3; i++) results.push(await callsPerSecond(conn, inFlight, Math.round(durationMs / 3), child, req));
  const sorted = [...results].sort((a, b) => a.callsPerSecond - b.callsPerSecond);
  return { ...sorted[1]!, runs: results.map((r) => r.callsPerSecond) };
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
  t0 = t();
  encodeBulkRequestPayload({ type: 'request', body: { type: 'load_files', revision: 1n, files } });
  const bulkEncodeMs = t() - t0;
  t0 = t();
  decodeBulkRequestPayload(done!.payload);
  const bulkDecodeMs = t() - t0;
  const r1 = (x: number): number => Math.round(x);
  return {
    encodeRpcPayload: r1(encodeMs),
    encodeBulkRequestPayload: r1(bulkEncodeMs),
    encodePacketFrames: r1(framesMs),
    encodePacketFrameParts: r1(partsMs),
    decodeFramesAndReassemble: r1(reassembleMs),
    decodeRpcPayload: r1(decodeMs),
    decodeBulkRequestPayload: r1(bulkDecodeMs),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * A cold first transfer with peak RSS of both processes sampled every 2 ms (its wall time is
 * `firstRunMs`), `warmups` untimed transfers, then `runs` timed ones: median wall, CPU of both
 * processes. The sampler costs CPU, so the timed runs go without it.
 */
async function measureRuns(
  child: ChildProcess,
  measures: string,
  payloadBytes: number,
  transfer: () => Promise<void>,
  runs = CHUNKED_RUNS,
  warmups = 2,
): Promise<ChunkedResult> {
  const wall: number[] = [];
  const clientCpu: number[] = [];
  const serverCpu: number[] = [];
  let clientDelta = 0;
  let serverDelta = 0;
  let firstRunMs = 0;
  for (let i = -1 - warmups; i < runs; i++) {
    globalThis.gc?.();
    if (i >= -warmups && i < 0) {
      await transfer();
      continue;
    }
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const first = i < 0;
    if (first) await request(child, { cmd: 'rss-start' }, 'rss-started');
    await request(child, { cmd: 'cpu-start' }, 'cpu-started');
    const sampler = first ? setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2) : undefined;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await transfer();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(cpu0);
    if (sampler) clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage.rss());
    const serverMs = (await request<{ micros: number }>(child, { cmd: 'cpu-stop' }, 'cpu')).micros / 1000;
    if (first) {
      const server = await request<{ deltaBytes: number }>(child, { cmd: 'rss-stop' }, 'rss');
      clientDelta = peak - baseline;
      serverDelta = server.deltaBytes;
      firstRunMs = ms;
      continue;
    }
    wall.push(ms);
    clientCpu.push((c.user + c.system) / 1000);
    serverCpu.push(serverMs);
  }
  const ms = median(wall);
  const busierCpuMs = Math.max(median(clientCpu), median(serverCpu));
  return {
    measures,
    payloadBytes,
    maxFrameBytes: CAPS.max_frame_len,
    runs,
    warmups,
    firstRunMs: Math.round(firstRunMs),
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
  const durationMs = opts.durationMs ?? 3000;
  const load = Number(loadavg()[0]!.toFixed(2));
  const dir = mkdtempSync(join(tmpdir(), 'nova-engine-bench-'));
  const path = join(dir, 'router.sock');
  const child = await startServer(path);
  // A fresh server process for the data-plane run, so its RSS is not flattered by pages the
  // first run's allocator already holds.
  let wireChild: ChildProcess | undefined;
  try {
    const conn = await connect(path);
    // Warm-up long enough for the optimizing compiler: a 300 ms warm-up left the first timed
    // second at a third of the steady rate.
    await callsPerSecond(conn, 64, 1000);
    await callsPerSecond(conn, 1024, 300);
    const inFlight1 = await callsMedian(conn, 1, durationMs, child);
    const inFlight64 = await callsMedian(conn, 64, durationMs, child);
    const inFlight1024 = await callsMedian(conn, 1024, durationMs, child);
    const diagnostics: Request = { type: 'diagnostics', path: 'src/lib.rs' };
    await callsPerSecond(conn, 64, 300, undefined, diagnostics); // warm the generic codec path
    const inFlight64GenericPayload = await callsMedian(conn, 64, durationMs, child, diagnostics);

    // 64 MiB chunked request: 8 files of ~8 MiB
    const text = 'a'.repeat(CHUNK_PAYLOAD_TEXT_BYTES);
    const files = Array.from({ length: FILES }, (_, i) => ({ path: `f${i}`, text }));
    const payloadBytes = FILES * CHUNK_PAYLOAD_TEXT_BYTES;
    // warm the path once with a small chunked request
    await conn.call({ type: 'load_files', revision: 0n, files: [{ path: 'w', text: 'w'.repeat(4 * MiB) }] });
    const chunked = await measureRuns(
      child,
      'end to end: RpcConnection.call(load_files, 8 files x ~8 MiB text) then get_worker_stats, until both answers are back: frames written straight from the strings, socket, chunk data copied into the reused reassembly buffer, payload decode (ASCII/UTF-8 check, JS strings), handler, answers',
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
    fillWirePayload(wirePayload);
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
        // wait as RpcConnection does: only above its 1 MiB write high-water mark
        if (!ok && wire.writableLength >= WRITE_BUFFER_HIGH_WATER_BYTES) await new Promise<void>((resolve) => wire.once('drain', resolve));
      }
      if ((await acked) !== payload.length) throw new Error('wire transfer: wrong payload length');
    };
    await sendWire(wirePayload.subarray(0, 4 * MiB)); // warm-up
    const chunkedWire = await measureRuns(
      wireChild,
      'data plane only, own socket and fresh server process: a pre-encoded 64 MiB payload -> encodePacketFrameParts -> [prefix+head, data view] writes -> FrameDecoder.pushTo -> decodePacketChunkHead -> Reassembler.beginChunk/chunkData/endChunk (one copy, reused buffer) -> payload spot-checked -> 4-byte ack -> release; no RpcPayload encode/decode, no RpcConnection',
      WIRE_PAYLOAD_BYTES,
      () => sendWire(wirePayload),
      7,
    );
    wire.destroy();

    // The physical ceiling: the same 64 MiB as 1 MiB writes through a unix socket to a process that only counts them.
    const rawSocket = net.createConnection(`${path}2.raw`);
    await new Promise<void>((resolve, reject) => rawSocket.once('connect', resolve).once('error', reject));
    const sendRaw = async (): Promise<void> => {
      const acked = new Promise<void>((resolve) => rawSocket.once('data', () => resolve()));
      for (let o = 0; o < WIRE_PAYLOAD_BYTES; o += CAPS.max_frame_len) {
        const ok = rawSocket.write(wirePayload.subarray(o, o + CAPS.max_frame_len));
        if (!ok && rawSocket.writableLength >= WRITE_BUFFER_HIGH_WATER_BYTES) await new Promise<void>((resolve) => rawSocket.once('drain', resolve));
      }
      await acked;
    };
    await sendRaw(); // warm-up
    const socketCeiling = await measureRuns(
      wireChild,
      'physical ceiling: the same 64 MiB written as 1 MiB buffers to a unix socket, the other process only counts bytes and answers 4 bytes; no framing, no copies in JS',
      WIRE_PAYLOAD_BYTES,
      sendRaw,
      7,
    );
    rawSocket.destroy();

    const codecMs = codecBreakdown(files);
    return {
      calls: { inFlight1, inFlight64, inFlight1024, inFlight64GenericPayload },
      chunked: { ...chunked, codecMs },
      chunkedWire,
      socketCeiling,
      socketCeilingMbPerSecond: socketCeiling.mbPerSecond,
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
