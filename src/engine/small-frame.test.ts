/**
 * The send side's small-call path (one prefixed buffer per small Packet, see #encodePayload) writes
 * exactly the bytes of the general path: encodePacketFrames of the encoded payload, each frame
 * length-prefixed. Pinned around the frame limit (where the general path chunks or refuses) and
 * the compression threshold (where it compresses).
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, encodePacketFrames, encodeRpcPayload, zstdAvailable } from '../wire/index.js';
import type { Request, RpcPayload, RpcResult } from '../wire/model.js';
import type { RpcConnection } from './connection.js';
import { connectedPair, testCaps } from './test-helpers.js';
import { toHex as hex } from '../../test/helpers.js';

/** What the general path sends for `payload` on `conn`: every frame, prefixed, concatenated. */
function expectedBytes(conn: RpcConnection, id: bigint, payload: RpcPayload): string {
  const c = conn.negotiated.capabilities;
  const frames = encodePacketFrames(id, encodeRpcPayload(payload), {
    maxFrameBytes: c.max_frame_len,
    maxPacketBytes: c.max_packet_len,
    compression: c.supported_compression,
    chunking: c.supports_chunking,
  });
  return frames.map((f) => hex(encodeFrame(f))).join('');
}

const stats: RpcResult = { status: 'ok', value: { type: 'worker_stats', body: { shard_id: 9, revision: 1n << 40n, index_generation: 77n, file_count: 3 } } };

describe('small-call send path', () => {
  it('writes the general path bytes for a request and its response', async () => {
    const { worker, router, workerStream, routerStream } = await connectedPair({ router: { requestHandler: () => stats } });
    const toRouter: Buffer[] = [];
    const toWorker: Buffer[] = [];
    routerStream.on('data', (b: Buffer) => toRouter.push(Buffer.from(b)));
    workerStream.on('data', (b: Buffer) => toWorker.push(Buffer.from(b)));
    const req: Request = { type: 'get_worker_stats' };
    await expect(worker.call(req)).resolves.toEqual(stats.value);
    expect(hex(Buffer.concat(toRouter))).toBe(expectedBytes(worker, 1n, { type: 'request', body: req }));
    expect(hex(Buffer.concat(toWorker))).toBe(expectedBytes(router, 1n, { type: 'response', body: stats }));
    await worker.close();
    await router.closed;
  });

  it('matches the general path around max_frame_len (single Packet, then chunks)', async () => {
    const caps = testCaps({ max_frame_len: 160, max_packet_len: 4096 });
    const { worker, router, routerStream } = await connectedPair({
      worker: { capabilities: caps },
      router: { capabilities: caps, requestHandler: () => ({ status: 'ok', value: { type: 'diagnostics', body: { diagnostics: [] } } }) },
    });
    let got: Buffer[] = [];
    routerStream.on('data', (b: Buffer) => got.push(Buffer.from(b)));
    let id = 1n;
    let chunked = 0;
    for (let len = 40; len <= 120; len++) {
      got = [];
      const req: Request = { type: 'diagnostics', path: 'p'.repeat(len) };
      await worker.call(req);
      const expected = expectedBytes(worker, id, { type: 'request', body: req });
      expect(hex(Buffer.concat(got)), `path length ${len}`).toBe(expected);
      if (expected.includes(hex(Buffer.from('packet_chunk')))) chunked++;
      id += 2n;
    }
    // the sweep crossed the limit: both single Packets and chunk streams were compared
    expect(chunked).toBeGreaterThan(0);
    expect(chunked).toBeLessThan(81);
    await worker.close();
    await router.closed;
  });

  it.skipIf(!zstdAvailable())('matches the general path around the compression threshold when zstd is negotiated', async () => {
    const caps = testCaps({ supported_compression: ['zstd', 'none'] });
    const { worker, router, routerStream } = await connectedPair({
      worker: { capabilities: caps },
      router: { capabilities: caps, requestHandler: () => ({ status: 'ok', value: { type: 'diagnostics', body: { diagnostics: [] } } }) },
    });
    expect(worker.negotiated.capabilities.supported_compression).toContain('zstd');
    let got: Buffer[] = [];
    routerStream.on('data', (b: Buffer) => got.push(Buffer.from(b)));
    let id = 1n;
    let compressed = 0;
    for (const len of [900, 990, 995, 1000, 1005, 1010, 1020, 2000, 8000, 9000]) {
      got = [];
      const req: Request = { type: 'diagnostics', path: 'z'.repeat(len) };
      await worker.call(req);
      const expected = expectedBytes(worker, id, { type: 'request', body: req });
      expect(hex(Buffer.concat(got)), `path length ${len}`).toBe(expected);
      if (expected.includes(hex(Buffer.from('\x64zstd')))) compressed++;
      id += 2n;
    }
    expect(compressed).toBeGreaterThan(0);
    expect(compressed).toBeLessThan(10);
    await worker.close();
    await router.closed;
  });

  it('generic payloads of 9 KB to 3 MiB sent in one tick arrive intact (large ones skip the extra copy)', async () => {
    const texts: string[] = [];
    const { worker, router } = await connectedPair({
      worker: { capabilities: testCaps({ max_frame_len: 1 << 20, max_packet_len: 8 << 20 }) },
      router: {
        capabilities: testCaps({ max_frame_len: 1 << 20, max_packet_len: 8 << 20 }),
        requestHandler: (r) => {
          if (r.type === 'update_file') texts.push(r.file.text);
          return { status: 'err', error: { code: 'invalid_request', message: 'not indexed here', retryable: false, details: null } };
        },
      },
    });
    // Sent in one tick: a later encode must not overwrite an earlier payload's bytes.
    const sizes = [3 << 20, 20_000, 2 << 20, 9_000];
    const sent = sizes.map((n, i) => String.fromCharCode(97 + i).repeat(n));
    await Promise.allSettled(sent.map((text, i) => worker.call({ type: 'update_file', revision: BigInt(i), file: { path: `f${i}`, text } })));
    expect(texts.map((t) => `${t[0]}x${t.length}`).sort()).toEqual(sent.map((t) => `${t[0]}x${t.length}`).sort());
    for (const t of texts) expect(t === t[0]!.repeat(t.length), `payload ${t[0]} intact`).toBe(true);
    await worker.close();
    await router.closed;
  });
});
