import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProtocolError } from '../errors.js';
import { certificateFileFingerprint, generateTestPki, opensslAvailable, type TestPki } from '../transport/pki.js';
import { zstdAvailable } from '../wire/index.js';
import type { Request } from '../wire/model.js';
import { startReferenceRouter, type ReferenceRouterHandle, type ReferenceRouterOptions } from './router.js';
import { startReferenceWorker, type ReferenceWorkerHandle, type ReferenceWorkerOptions } from './worker.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-peers-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'tok-3f9a1c7e5b2d8046';

interface Pair {
  router: ReferenceRouterHandle;
  worker: ReferenceWorkerHandle;
  lines: string[];
  close(): Promise<void>;
}

async function pair(listen: string, r: Partial<ReferenceRouterOptions> = {}, w: Partial<ReferenceWorkerOptions> = {}): Promise<Pair> {
  const lines: string[] = [];
  const router = await startReferenceRouter({ listen, log: (l) => lines.push(l), ...r });
  const worker = await startReferenceWorker({ connect: router.address, shardId: 0, log: (l) => lines.push(l), ...w });
  await router.waitForWorker(0, 5_000);
  return {
    router,
    worker,
    lines,
    async close() {
      await worker.close();
      await router.close();
    },
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isProtocolError(e) ? e.code : `non-protocol: ${String(e)}`;
  }
  return 'resolved';
}

describe('reference router <-> reference worker', () => {
  it('runs the default script over a unix socket, with a token from a file, and never logs the token', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    process.env['NOVA_TEST_TOKEN'] = TOKEN;
    const lines: string[] = [];
    const router = await startReferenceRouter({ listen: `unix:${join(dir, 'r.sock')}`, authTokenFile: tokenFile, script: 'default', log: (l) => lines.push(l) });
    const worker = await startReferenceWorker({ connect: router.address, shardId: 0, authTokenEnv: 'NOVA_TEST_TOKEN', log: (l) => lines.push(l) });
    const session = await router.waitForWorker(0);
    expect(session.workerId).toBe(1);
    const result = await session.script!;
    expect(result.steps.map((s) => `${s.request}:${s.ok}`)).toEqual([
      'load_files:true',
      'index_shard:true',
      'update_file:true',
      'diagnostics:true',
      'get_worker_stats:true',
      'shutdown:true',
    ]);
    // [MSG-8] the pairing table: update_file is answered with the rebuilt shard_index.
    expect(result.steps.map((s) => `${s.request}->${s.result}`)).toEqual([
      'load_files->ack',
      'index_shard->shard_index',
      'update_file->shard_index',
      'diagnostics->diagnostics',
      'get_worker_stats->worker_stats',
      'shutdown->shutdown',
    ]);
    expect(await worker.closed).toBeNull();
    await router.close();
    expect(lines.length).toBeGreaterThan(20);
    for (const l of lines) {
      expect(l).not.toContain(TOKEN);
      const obj = JSON.parse(l) as Record<string, unknown>;
      expect(typeof obj['ts']).toBe('string');
      expect(['router', 'worker']).toContain(obj['role']);
    }
    expect(lines.some((l) => l.includes('"hasAuthToken":true'))).toBe(true);
  });

  it('admission: unknown shard, busy shard, bad token -> Reject with the Rust messages, token never echoed', async () => {
    const router = await startReferenceRouter({ listen: `unix:${join(dir, 'adm.sock')}`, shards: [0, 1], authToken: TOKEN, log: null });
    const w1 = await startReferenceWorker({ connect: router.address, shardId: 1, authToken: TOKEN, log: null });
    expect(w1.welcome?.worker_id).toBe(1);
    const rejectOf = async (o: Partial<ReferenceWorkerOptions>): Promise<{ code: string; message: string }> => {
      try {
        await startReferenceWorker({ connect: router.address, shardId: 0, authToken: TOKEN, log: null, ...o });
      } catch (e) {
        const r = (e as { reject?: { code: string; message: string } }).reject;
        if (r) return r;
        throw e;
      }
      throw new Error('not rejected');
    };
    expect(await rejectOf({ shardId: 7 })).toEqual({ code: 'invalid_request', message: 'unknown shard 7' });
    expect(await rejectOf({ shardId: 1 })).toEqual({ code: 'invalid_request', message: 'shard 1 already has a connected worker' });
    const bad = await rejectOf({ authToken: 'wrong-token-value' });
    expect(bad).toEqual({ code: 'unauthorized', message: 'authentication failed' });
    // the failed attempts did not consume the shard; worker ids keep counting from the admitted ones
    const w0 = await startReferenceWorker({ connect: router.address, shardId: 0, authToken: TOKEN, log: null });
    expect(w0.welcome?.worker_id).toBe(2);
    await w0.close();
    await w1.close();
    await router.close();
  });

  it('tcp: refuses a token over plaintext unless allowed; 1,000 concurrent calls; zstd; unknown request', async () => {
    await expect(startReferenceRouter({ listen: 'tcp:127.0.0.1:0', authToken: TOKEN, log: null })).rejects.toMatchObject({
      code: 'INSECURE_TRANSPORT_REFUSED',
    });
    const p = await pair('tcp:127.0.0.1:0', { compression: ['zstd', 'none'] }, { compression: ['zstd', 'none'] });
    const expectZstd = zstdAvailable();
    expect(p.worker.connection!.negotiated.capabilities.supported_compression).toEqual(expectZstd ? ['zstd', 'none'] : ['none']);
    const files = Array.from({ length: 20 }, (_, i) => ({ path: `f${i}.java`, text: `class C${i} {}\n`.repeat(200) }));
    const idx = await p.router.call(0, { type: 'index_shard', revision: 5n, files });
    expect(idx.type === 'shard_index' && idx.body.symbols.length).toBe(20 * 200);
    // The request is ~60 KB of CBOR; with zstd negotiated it travels as a much smaller frame [CMP-5].
    const sent = p.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['role'] === 'router' && e['event'] === 'frame_sent');
    const largest = Math.max(...sent.map((e) => Number(e['bytes'])));
    if (expectZstd) expect(largest).toBeLessThan(10_000);
    else expect(largest).toBeGreaterThan(50_000);
    const calls = Array.from({ length: 1000 }, () => p.router.call(0, { type: 'get_worker_stats' }));
    const results = await Promise.all(calls);
    expect(results.every((r) => r.type === 'worker_stats' && r.body.file_count === 20)).toBe(true);
    // Request::Unknown -> invalid_request "unknown request" [DATA-7]
    const unknown = await p.router.sessions()[0]!.connection.call({ type: 'unknown' } as Request).catch((e: unknown) => e);
    expect((unknown as { rpcError?: { code: string; message: string } }).rpcError).toMatchObject({ code: 'invalid_request', message: 'unknown request' });
    await p.close();
  });

  it('cancellation: a SLOW index aborted by the router is answered cancelled, retryable', async () => {
    const p = await pair(`unix:${join(dir, 'c.sock')}`);
    const ac = new AbortController();
    const started = Date.now();
    const call = p.router.sessions()[0]!.connection.call(
      { type: 'index_shard', revision: 1n, files: [{ path: 'a', text: 'class A {} // SLOW' }] },
      { signal: ac.signal, waitForTerminalResponse: true },
    );
    setTimeout(() => ac.abort(), 150);
    const e = await call.catch((x: unknown) => x);
    expect(isProtocolError(e) && e.code).toBe('CANCELLED');
    expect((e as { rpcError?: unknown }).rpcError).toEqual({ code: 'cancelled', message: 'request cancelled', retryable: true, details: null });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(p.lines.some((l) => l.includes('"event":"slow_work_cancelled"'))).toBe(true);
    await p.close();
  });

  it('a worker-initiated request gets "no request handler installed" after ~500 ms', async () => {
    const p = await pair(`unix:${join(dir, 'nh.sock')}`);
    const t0 = Date.now();
    const e = await p.worker.connection!.call({ type: 'get_worker_stats' }).catch((x: unknown) => x);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect((e as { rpcError?: unknown }).rpcError).toMatchObject({ code: 'invalid_request', message: 'no request handler installed' });
    await p.close();
  });

  it('disconnects a worker whose CachedIndex names another shard', async () => {
    const p = await pair(`unix:${join(dir, 'ci.sock')}`);
    await p.worker.connection!.notify({ type: 'cached_index', body: { shard_id: 9, revision: 0n, index_generation: 0n, symbols: [] } });
    const err = await p.router.sessions()[0]!.closed;
    expect(err?.code).toBe('UNEXPECTED_RESPONSE');
    expect(await p.worker.closed).not.toBeNull();
    await p.close();
  });

  describe.skipIf(!opensslAvailable())('TLS', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = generateTestPki(join(dir, 'pki'));
    });

    it('mTLS round trip with a 64 MiB chunked payload', async () => {
      const p = await pair(
        'tcp+tls:127.0.0.1:0',
        { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert, requireClientCert: true, authToken: TOKEN, maxFrameLen: 1024 * 1024, compression: ['none'] },
        { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey, authToken: TOKEN, compression: ['none'] },
      );
      expect(p.worker.connection!.negotiated.capabilities.max_frame_len).toBe(1024 * 1024);
      // Texts are capped at 8 MiB each [CBOR-9]: eight of just under 8 MiB make a ~64 MiB request.
      const text = 'y'.repeat(8 * 1024 * 1024 - 1024);
      const files = Array.from({ length: 8 }, (_, i) => ({ path: `big${i}.txt`, text }));
      const r = await p.router.call(0, { type: 'load_files', revision: 2n, files });
      expect(r.type).toBe('ack');
      expect(p.worker.workspace.files.get('big7.txt')?.length).toBe(text.length);
      const chunkFrames = p.lines.filter((l) => l.includes('"event":"frame_received"') && l.includes('"frameType":"packet_chunk"')).length;
      expect(chunkFrames).toBeGreaterThanOrEqual(64);
      await p.close();
    });

    it('[SEC-4] a shard allowlist admits only the listed client certificate fingerprints', async () => {
      const router = await startReferenceRouter({
        listen: 'tcp+tls:127.0.0.1:0',
        certFile: pki.serverCert,
        keyFile: pki.serverKey,
        caFile: pki.caCert,
        requireClientCert: true,
        shards: [0, 1],
        shardAllowlist: { 0: [certificateFileFingerprint(pki.clientCert)], 1: [certificateFileFingerprint(pki.otherClientCert)] },
        log: null,
      });
      const tls = { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey, log: null };
      const ok = await startReferenceWorker({ connect: router.address, shardId: 0, ...tls });
      expect(ok.welcome?.shard_id).toBe(0);
      const denied = await startReferenceWorker({ connect: router.address, shardId: 1, ...tls }).catch((e: unknown) => e);
      expect((denied as { reject?: unknown }).reject).toEqual({ code: 'unauthorized', message: 'shard authorization failed' });
      await ok.close();
      await router.close();
    });

    it('a worker with the wrong CA cannot connect', async () => {
      const router = await startReferenceRouter({ listen: 'tcp+tls:127.0.0.1:0', certFile: pki.serverCert, keyFile: pki.serverKey, log: null });
      expect(await codeOf(startReferenceWorker({ connect: router.address, shardId: 0, caFile: pki.otherCaCert, log: null }))).toBe('TRANSPORT_ERROR');
      await router.close();
    });
  });
});
