/**
 * Codec throughput and hostile-input refusal costs.
 * Targets: 4 MiB Packet decode ≥ 1 GB/s; control frames ≥ 300k encode+decode per second.
 */
import * as os from 'node:os';
import { isProtocolError } from '../src/errors.js';
import {
  FrameDecoder,
  Reassembler,
  decodeRpcPayload,
  decodeWireFrame,
  encodePacketFrames,
  encodeRpcPayload,
  encodeWireFrame,
  zstdAvailable,
  zstdCompress,
  zstdDecompressBounded,
  type WireFrame,
} from '../src/wire/index.js';
import { encodePacketFrameParts } from '../src/wire/packet.js';
import { fromHex as h } from '../conformance/cbor.js';

const MiB = 1024 * 1024;

/**
 * Run fn repeatedly for at least minMs of this process's CPU time; returns operations per
 * CPU-second. CPU time (user + system, all threads) rather than wall time, because the bench
 * machine is shared: wall-clock rates swing several-fold with other processes' load.
 */
function rate(fn: () => void, minMs = 400): number {
  for (let i = 0; i < 3; i++) fn(); // warm up
  let ops = 0;
  const start = process.cpuUsage();
  let elapsedUs = 0;
  while (elapsedUs < minMs * 1000) {
    for (let i = 0; i < 16; i++) fn();
    ops += 16;
    const d = process.cpuUsage(start);
    elapsedUs = d.user + d.system;
  }
  return (ops * 1e6) / elapsedUs;
}

/** Median CPU time (this process, all threads) of fn in milliseconds. */
function timeMs(fn: () => void, runs = 7): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t);
    times.push((d.user + d.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return round(times[Math.floor(times.length / 2)]!);
}

const round = (x: number, digits = 3) => Number(x.toPrecision(digits));

function throughput(frame: WireFrame) {
  const bytes = encodeWireFrame(frame);
  const enc = rate(() => encodeWireFrame(frame));
  const dec = rate(() => decodeWireFrame(bytes));
  return {
    frameBytes: bytes.length,
    encodeFramesPerSec: round(enc),
    encodeMBPerSec: round((enc * bytes.length) / 1e6),
    decodeFramesPerSec: round(dec),
    decodeMBPerSec: round((dec * bytes.length) / 1e6),
  };
}

function refuseMs(fn: () => unknown): { refused: string; medianMs: number } {
  let code = 'ACCEPTED';
  const medianMs = timeMs(() => {
    try {
      fn();
    } catch (e) {
      code = isProtocolError(e) ? e.code : `NOT_PROTOCOL_ERROR`;
    }
  });
  return { refused: code, medianMs };
}

export async function run(): Promise<Record<string, unknown>> {
  const hello: WireFrame = {
    type: 'hello',
    body: {
      shard_id: 7,
      auth_token: 'token-token-token',
      supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
      capabilities: { max_frame_len: 64 * MiB, max_packet_len: 64 * MiB, supported_compression: ['zstd', 'none'], supports_cancel: true, supports_chunking: true },
      cached_index_info: { revision: 12n, index_generation: 3n, symbol_count: 1000 },
      worker_build: 'nova-worker 1.2.3',
    },
  };
  const cancel = encodeRpcPayload({ type: 'cancel' });
  const small: WireFrame = { type: 'packet', body: { id: 42n, compression: 'none', data: cancel } };
  const big = (n: number): WireFrame => ({ type: 'packet', body: { id: 9n, compression: 'none', data: new Uint8Array(n).fill(7) } });

  // control frames: one op = encode then decode one frame (a small Packet, e.g. a Cancel)
  const control = rate(() => decodeWireFrame(encodeWireFrame(small)));
  const helloRoundTrip = rate(() => decodeWireFrame(encodeWireFrame(hello)));
  const payloadRoundTrip = rate(() => decodeRpcPayload(encodeRpcPayload({ type: 'request', body: { type: 'get_worker_stats' } })));

  // chunked reassembly of a 64 MiB payload through 1 MiB frames
  const payload64 = new Uint8Array(64 * MiB);
  for (let i = 0; i < payload64.length; i += 4096) payload64[i] = i & 0xff;
  let chunkFrames = 0;
  const chunkedMs = timeMs(() => {
    const frames = encodePacketFrames(2n, payload64, { maxFrameBytes: MiB, maxPacketBytes: 64 * MiB, compression: ['none'], chunking: true });
    chunkFrames = frames.length;
    const r = new Reassembler({ maxPacketBytes: 64 * MiB, compression: ['none'], chunking: true });
    let done: { payload: Uint8Array } | null = null;
    for (const f of frames) done = r.accept(decodeWireFrame(f) as Extract<WireFrame, { type: 'packet_chunk' }>) ?? done;
    if (done?.payload.length !== payload64.length) throw new Error('reassembly failed');
  }, 3);

  const result: Record<string, unknown> = {
    hello: throughput(hello),
    smallPacket: throughput(small),
    packet64KiB: throughput(big(64 * 1024)),
    packet4MiB: throughput(big(4 * MiB)),
    note: 'rates per CPU-second and times in CPU-ms of this process (shared machine; see loadAverage1m)',
    loadAverage1m: round(os.loadavg()[0]!),
    cpus: os.cpus().length,
    controlFrameEncodePlusDecodePerSec: round(control),
    helloEncodePlusDecodePerSec: round(helloRoundTrip),
    rpcPayloadRoundTripsPerSec: round(payloadRoundTrip),
    chunked64MiB: { frames: chunkFrames, medianMs: chunkedMs, MBPerSec: round((64 * MiB) / 1e3 / chunkedMs) },
    // the sender side alone: whole frame buffers (copies the payload) vs [head, data view] parts (what the engine writes)
    chunkEncode64MiB: {
      framesMedianMs: timeMs(() => encodePacketFrames(2n, payload64, { maxFrameBytes: MiB, maxPacketBytes: 64 * MiB, compression: ['none'], chunking: true }), 3),
      partsMedianMs: timeMs(() => encodePacketFrameParts(2n, payload64, { maxFrameBytes: MiB, maxPacketBytes: 64 * MiB, compression: ['none'], chunking: true }), 3),
    },
    frameDecoder1MiBFramesIn64KiBPieces: (() => {
      const stream = new Uint8Array(8 * (MiB + 4));
      for (let i = 0; i < 8; i++) stream.set([0, 0, 16, 0], i * (MiB + 4));
      const ms = timeMs(() => {
        const d = new FrameDecoder({ maxFrameBytes: 64 * MiB });
        for (let p = 0; p < stream.length; p += 65536) d.push(stream.subarray(p, p + 65536));
      });
      return { medianMs: ms, MBPerSec: round(stream.length / 1e3 / ms) };
    })(),
  };

  if (zstdAvailable()) {
    const text = new TextEncoder().encode(
      Array.from({ length: 20000 }, (_, i) => `line ${i}: symbol_${i % 97} path/to/file_${i % 13}.java\n`).join(''),
    ).subarray(0, MiB);
    const packed = zstdCompress(text);
    const c = rate(() => zstdCompress(text), 300);
    const d = rate(() => zstdDecompressBounded(packed, 2 * MiB), 300);
    result.zstd1MiBText = {
      ratio: round(text.length / packed.length),
      compressMBPerSec: round((c * text.length) / 1e6),
      decompressMBPerSec: round((d * text.length) / 1e6),
    };
  }

  // hostile input: time to refuse
  const bombs: Record<string, unknown> = {
    arrayLengthBomb6Bytes: refuseMs(() => decodeWireFrame(h('9a05f5e10000'))),
    dataArrayLengthBomb: refuseMs(() => decodeWireFrame(h('a164646174619a05f5e100'))),
    byteStringLengthBomb: refuseMs(() => decodeWireFrame(h('a26474797065667061636b657464626f6479a3626964026b636f6d7072657373696f6e646e6f6e6564646174615affffffff'))),
    nesting65Deep: refuseMs(() => decodeWireFrame(h('81'.repeat(65) + '00'))),
    lengthPrefix4GiB: refuseMs(() => new FrameDecoder({ maxFrameBytes: 64 * MiB }).push(h('ffffffff'))),
  };
  if (zstdAvailable()) {
    const bomb = zstdCompress(new Uint8Array(10_000_000));
    bombs.zstdBomb10MBZerosAt64KiB = { compressedBytes: bomb.length, ...refuseMs(() => zstdDecompressBounded(bomb, 65536)) };
    // under a 64 MiB cap the same 10 MB is legal: this is the cost of fully inflating it
    bombs.zstdInflate10MBZerosUnder64MiBCap = refuseMs(() => zstdDecompressBounded(bomb, 64 * MiB));
    bombs.zstdHeaderClaiming1TiB = refuseMs(() => zstdDecompressBounded(h('28b52ffde00000000000010000'), 65536));
  }
  bombs.rssMiB = round(process.memoryUsage().rss / MiB);
  result.refusals = bombs;
  return result;
}
