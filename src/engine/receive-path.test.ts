/**
 * The connection's receive path for large PacketChunks: their data goes from the socket chunks
 * straight into the reassembly buffer (FrameDecoder.pushTo -> decodePacketChunkHead ->
 * Reassembler.beginChunk). These tests pin that the result, the events and every refusal are the
 * same as for whole frames, however the bytes are split. And the send side of bulk requests:
 * frames written straight from the strings, through pooled frame buffers on a real socket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProtocolError } from '../errors.js';
import { encodeWireFrame, encodeRpcPayload } from '../wire/index.js';
import type { FileText, RpcResult } from '../wire/model.js';
import { routerHandshake, workerHandshake, type EngineEvent } from './connection.js';
import { connectedPair, testCaps } from './test-helpers.js';

const KiB = 1024;
const ack: RpcResult = { status: 'ok', value: { type: 'ack' } };
// 64 KiB frames, 1 MiB packets: a ~300 KiB payload is five chunks, each streamed
const caps = testCaps({ max_frame_len: 64 * KiB, max_packet_len: 1024 * KiB });

function prefixed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}

/** Text with multi-byte UTF-8 (2, 3 and 4 bytes) so chunk borders fall inside characters. */
const text = (seed: number, chars: number): string => {
  const alphabet = ['a', 'é', '漢', '😀', '\n', 'Z'];
  let s = '';
  for (let i = 0; s.length < chars; i++) s += alphabet[(i * 7 + seed) % alphabet.length]!;
  return s;
};

describe('receive path: large PacketChunks copied straight into the reassembly buffer', () => {
  for (const [name, chop] of [
    ['whole writes', undefined],
    ['every read 1 byte, then 7, 4093, 64 KiB, 3', [1, 7, 4093, 64 * KiB, 3]],
    ['reads of 100 bytes (heads split across reads)', [100]],
    ['reads of 129 bytes', [129]],
  ] as const) {
    it(`delivers identical payloads, twice in a row (buffer reuse), with ${name}`, async () => {
      const got: FileText[][] = [];
      const events: EngineEvent[] = [];
      const { worker, router } = await connectedPair({
        ...(chop ? { duplex: { chopPattern: chop } } : {}),
        worker: { capabilities: caps },
        router: {
          capabilities: caps,
          onEvent: (e) => events.push(e),
          requestHandler: (r) => {
            if (r.type === 'load_files') got.push(r.files);
            return ack;
          },
        },
      });
      const first = [{ path: 'a', text: text(1, 150 * KiB) }, { path: 'b', text: text(2, 20 * KiB) }];
      const second = [{ path: 'c', text: text(3, 160 * KiB) }];
      expect(await worker.call({ type: 'load_files', revision: 1n, files: first })).toEqual({ type: 'ack' });
      expect(await worker.call({ type: 'load_files', revision: 2n, files: second })).toEqual({ type: 'ack' });
      // the first call's strings are intact after the second payload reused its buffer
      expect(got).toEqual([first, second]);
      const chunks = events.filter((e) => e.type === 'frame_received' && e.frameType === 'packet_chunk');
      const payloadBytes = encodeRpcPayload({ type: 'request', body: { type: 'load_files', revision: 1n, files: first } }).length;
      expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(payloadBytes / (64 * KiB)));
      expect(new Set(chunks.map((e) => (e as { id?: bigint }).id))).toEqual(new Set([1n, 3n]));
      expect(chunks.every((e) => e.type === 'frame_received' && e.bytes <= 64 * KiB)).toBe(true);
      expect(router.stats.openReassemblies).toBe(0);
      await worker.close();
    });
  }

  const chunkFrame = (id: bigint, seq: number, last: boolean, dataBytes: number) =>
    prefixed(encodeWireFrame({ type: 'packet_chunk', body: { id, compression: 'none', seq, last, data: new Uint8Array(dataBytes) } }));

  it('refuses a large chunk with a seq gap at the same point, with the same error [CHK-3]', async () => {
    const pair = await connectedPair({ duplex: { chopPattern: [1000] }, worker: { capabilities: caps }, router: { capabilities: caps } });
    await pair.worker.fault.writeRaw(chunkFrame(1n, 0, false, 60 * KiB));
    await pair.worker.fault.writeRaw(chunkFrame(1n, 2, true, 60 * KiB));
    const e = await pair.router.closed;
    expect(`${e?.code}/${e?.rule}`).toBe('CHUNK_SEQ_MISMATCH/CHK-3');
  });

  it('refuses the 33rd concurrent large stream [CHK-5] and a stream over max_packet_len [CHK-7]', async () => {
    const small = testCaps({ max_frame_len: 64 * KiB, max_packet_len: 100 * KiB });
    const a = await connectedPair({ duplex: { chopPattern: [4096] }, worker: { capabilities: small }, router: { capabilities: small } });
    await a.worker.fault.writeRaw(chunkFrame(1n, 0, false, 60 * KiB));
    await a.worker.fault.writeRaw(chunkFrame(1n, 1, false, 60 * KiB));
    expect(`${(await a.router.closed)?.code}/${(await a.router.closed)?.rule}`).toBe('PACKET_TOO_LARGE/CHK-7');
    const b = await connectedPair({ duplex: { chopPattern: [4096] }, worker: { capabilities: caps }, router: { capabilities: caps } });
    for (let i = 0; i < 33; i++) b.worker.fault.writeRaw(chunkFrame(BigInt(2 * i + 1), 0, false, 1 * KiB)).catch(() => undefined);
    expect((await b.router.closed)?.code).toBe('TOO_MANY_CHUNK_STREAMS');
  });

  it('a stream that ends inside a streamed chunk is FRAME_TRUNCATED [FRM-1]', async () => {
    const pair = await connectedPair({ duplex: { chopPattern: [1000] }, worker: { capabilities: caps }, router: { capabilities: caps } });
    const f = chunkFrame(1n, 0, true, 60 * KiB);
    await pair.worker.fault.writeRaw(f.subarray(0, 30 * KiB));
    pair.workerStream.end();
    const e: ProtocolError | null = await pair.router.closed;
    expect(e?.code).toBe('FRAME_TRUNCATED');
  });
});

describe('send path: bulk requests written frame by frame from the strings', () => {
  it('over a unix socket (pooled frame buffers), several large calls in a row arrive intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nova-receive-path-'));
    const path = join(dir, 's');
    const got: FileText[][] = [];
    const server = net.createServer((socket) => {
      void routerHandshake(socket, {
        capabilities: caps,
        requestHandler: (r) => {
          if (r.type === 'load_files') got.push(r.files);
          return ack;
        },
      }).catch(() => undefined);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const socket = net.createConnection(path);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const worker = await workerHandshake(socket, { shardId: 1, capabilities: caps });
      // each call is ~15 frames of 64 KiB: later frames reuse the buffers of earlier ones
      const calls = [1, 2, 3].map((i) => [{ path: `p${i}`, text: text(i, 300 * KiB) }, { path: 'ascii', text: 'q'.repeat(200 * KiB + i) }]);
      for (const [i, files] of calls.entries()) expect(await worker.call({ type: 'load_files', revision: BigInt(i), files })).toEqual({ type: 'ack' });
      // and concurrently: frames of different calls interleave, each call's bytes stay in order
      await Promise.all(calls.map((files, i) => worker.call({ type: 'load_files', revision: BigInt(10 + i), files })));
      expect(got.slice(0, 3)).toEqual(calls);
      expect(new Set(got.slice(3).map((f) => f[0]!.path))).toEqual(new Set(['p1', 'p2', 'p3']));
      for (const files of got.slice(3)) expect(files).toEqual(calls.find((c) => c[0]!.path === files[0]!.path));
      await worker.close();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
