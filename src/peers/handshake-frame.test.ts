/**
 * The peers' custom (fault-mode) handshakes read the first frame with `readOneFrame` and hand every
 * later byte to the connection. Bytes after the handshake frame must arrive untouched, whatever the
 * chunking, and must not be judged by the 1 MiB pre-handshake limit [FRM-4][FRM-5].
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SUPPORTED_VERSIONS, defaultCapabilities } from '../engine/connection.js';
import { createMemoryDuplexPair } from '../engine/memory-duplex.js';
import { negotiateHello } from '../engine/negotiation.js';
import { FrameDecoder, decodeRpcPayload, decodeWireFrame, encodeRpcPayload, encodeWireFrame } from '../wire/index.js';
import type { WireFrame } from '../wire/model.js';
import { prefixFrame, readOneFrame } from './common.js';
import { startReferenceWorker } from './worker.js';

const hex = (parts: Uint8Array[]): string => Buffer.concat(parts).toString('hex');

describe('readOneFrame leftover bytes', () => {
  it('keeps the next frame prefix when the handshake frame ends inside a chunk that also holds the next prefix', async () => {
    const [a, b] = createMemoryDuplexPair({ async: false });
    const p = readOneFrame(b);
    // frame 1 (3-byte body) split over two writes; the second also carries frame 2's prefix and 1 body byte
    a.write(new Uint8Array([3, 0, 0, 0, 0xa1]));
    a.write(new Uint8Array([0xa2, 0xa3, 2, 0, 0, 0, 0xb1]));
    const r = await p;
    expect([...r.body]).toEqual([0xa1, 0xa2, 0xa3]);
    expect(hex(r.leftover)).toBe('02000000b1');
  });

  it('keeps a lone next-frame prefix that ends the chunk', async () => {
    const [a, b] = createMemoryDuplexPair({ async: false });
    const p = readOneFrame(b);
    a.write(new Uint8Array([1, 0, 0, 0, 0xa1, 2, 0, 0, 0]));
    const r = await p;
    expect([...r.body]).toEqual([0xa1]);
    expect(hex(r.leftover)).toBe('02000000');
  });

  it('does not judge a later frame in the same chunk by the pre-handshake limit', async () => {
    const [a, b] = createMemoryDuplexPair({ async: false });
    const p = readOneFrame(b, 16);
    a.write(new Uint8Array([1, 0, 0, 0, 0xa1, 17, 0, 0, 0, 0xb1]));
    const r = await p;
    expect([...r.body]).toEqual([0xa1]);
    expect(hex(r.leftover)).toBe('11000000b1');
  });
});

describe('reference worker custom handshake (worker-packet-before-welcome) over a unix socket', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nova-hsframe-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * A scripted router: answers the Hello with a Welcome followed in the SAME write by `afterWelcome`
   * (a request packet, or its first bytes), then writes `later` after a pause. Resolves with the
   * worker's response to request id 2.
   */
  async function scriptedRouter(
    path: string,
    request: Uint8Array,
    splitAt: number,
  ): Promise<{ server: Server; answer: Promise<WireFrame | { error: string }> }> {
    let resolveAnswer!: (f: WireFrame | { error: string }) => void;
    const answer = new Promise<WireFrame | { error: string }>((r) => (resolveAnswer = r));
    const server = createServer((sock: Socket) => {
      const dec = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
      let welcomed = false;
      sock.on('error', () => undefined);
      sock.on('close', () => resolveAnswer({ error: 'worker closed the connection' }));
      sock.on('data', (chunk: Uint8Array) => {
        for (const body of dec.push(chunk)) {
          const f = decodeWireFrame(body);
          if (f.type === 'hello' && !welcomed) {
            welcomed = true;
            const out = negotiateHello(f.body, { supportedVersions: DEFAULT_SUPPORTED_VERSIONS, capabilities: { ...defaultCapabilities(), supported_compression: ['none'] } });
            if (out.kind !== 'welcome') throw new Error('test router rejected the hello');
            const welcome = prefixFrame(encodeWireFrame({ type: 'welcome', body: out.welcome }));
            const req = prefixFrame(encodeWireFrame({ type: 'packet', body: { id: 2n, compression: 'none', data: request } }));
            sock.write(Buffer.concat([welcome, req.subarray(0, splitAt)]));
            setTimeout(() => sock.write(req.subarray(splitAt)), 50);
          } else if (f.type === 'packet' && f.body.id === 2n) {
            resolveAnswer(f);
          }
        }
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    return { server, answer };
  }

  async function run(name: string, request: Uint8Array, splitAt: (reqFrameBytes: number) => number): Promise<string> {
    const path = join(dir, `${name}.sock`);
    const reqFrameBytes = 4 + encodeWireFrame({ type: 'packet', body: { id: 2n, compression: 'none', data: request } }).length;
    const { server, answer } = await scriptedRouter(path, request, splitAt(reqFrameBytes));
    const worker = await startReferenceWorker({ connect: `unix:${path}`, shardId: 0, faults: ['worker-packet-before-welcome'], log: null, compression: ['none'] });
    try {
      const f = await Promise.race([answer, new Promise<{ error: string }>((r) => setTimeout(() => r({ error: 'timeout' }), 4_000))]);
      if ('error' in f) return f.error;
      if (f.type !== 'packet') return `unexpected ${f.type}`;
      const payload = decodeRpcPayload(f.body.data);
      return payload.type === 'response' ? `response:${payload.body.status}` : payload.type;
    } finally {
      await worker.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  it('answers a request whose first bytes (prefix + part of the body) share the chunk with the Welcome', async () => {
    const req = encodeRpcPayload({ type: 'request', body: { type: 'get_worker_stats' } });
    expect(await run('split', req, () => 4 + 3)).toBe('response:ok');
  });

  it('answers a 2 MiB request (above the 1 MiB pre-handshake limit) written right behind the Welcome', async () => {
    const req = encodeRpcPayload({
      type: 'request',
      body: { type: 'load_files', revision: 1n, files: [{ path: 'big.txt', text: 'y'.repeat(2 * 1024 * 1024) }] },
    });
    expect(await run('big', req, (n) => n - 10)).toBe('response:ok');
  });
});
