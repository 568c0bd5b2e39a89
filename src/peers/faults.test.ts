/**
 * Every fault of the catalogue, observed on the wire: sender faults against a correct reference
 * peer (which must close with the matching error), receiver faults paired with the matching
 * sender fault (the faulty receiver must visibly NOT enforce the rule).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProtocolError } from '../errors.js';
import { FrameDecoder, decodeWireFrame, encodeWireFrame, zstdAvailable, zstdCompress, zstdDecompressBounded } from '../wire/index.js';
import type { CompressionAlgo, WireFrame, WorkerHello } from '../wire/model.js';
import { faultId, prefixFrame } from './common.js';
import { stripZstdContentSize, widenUintAfterKey } from './fault-actions.js';
import { BEHAVIOUR_FAULTS } from './faults-behaviour.js';
import { TLS_FAULTS } from './faults-tls.js';
import { RECEIVE_FAULTS } from './faults-receive.js';
import { buildRegistry } from '../../conformance/cases/index.js';
import { FAULTS, formatFaultList, getFault, resolveFaults } from './faults.js';
import { loadRequirements } from '../../scripts/spec-index.js';
import type { PeerEvent } from './log.js';
import { LEGACY_V2_ERROR_FRAME, isLegacyV2Hello, startReferenceRouter, type ReferenceRouterHandle, type ReferenceRouterOptions } from './router.js';
import { startReferenceWorker, type ReferenceWorkerHandle, type ReferenceWorkerOptions } from './worker.js';

let dir: string;
let n = 0;
const sock = (): string => `unix:${join(dir, `f${n++}.sock`)}`;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-faults-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tested = new Set<string>();
const TOKEN = 'tok-a81f0c55e2d94b37';
const ZSTD = zstdAvailable();

async function waitFor<T>(fn: () => T | undefined | null | false, timeoutMs = 3_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
const eventOf = (events: readonly PeerEvent[], name: string): PeerEvent | undefined => events.find((e) => e.event === name);

async function codeOf(p: Promise<unknown>): Promise<{ code: string; error: unknown }> {
  try {
    await p;
  } catch (e) {
    return { code: isProtocolError(e) ? e.code : 'NON_PROTOCOL', error: e };
  }
  return { code: 'RESOLVED', error: null };
}

/** A raw client: sends `bytes`, returns the frames received until the peer closes or `ms` elapse. */
async function rawExchange(address: string, bytes: Uint8Array[], ms: number): Promise<{ frames: WireFrame[]; closed: boolean }> {
  const { received, closed } = await rawBytes(address, bytes, ms);
  const frames = new FrameDecoder({ maxFrameBytes: 1 << 20 }).push(received).map((b) => decodeWireFrame(b));
  return { frames, closed };
}

function hello(over: Partial<WorkerHello['capabilities']> = {}, token: string | null = null, shard = 0): Uint8Array {
  return prefixFrame(
    encodeWireFrame({
      type: 'hello',
      body: {
        shard_id: shard,
        auth_token: token,
        supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
        capabilities: { max_frame_len: 65536, max_packet_len: 65536, supported_compression: ['none'], supports_cancel: true, supports_chunking: true, ...over },
        cached_index_info: null,
        worker_build: null,
      },
    }),
  );
}

const quiet = { log: null } as const;
const SMALL = { maxFrameLen: 4096, maxPacketLen: 2048, compression: (ZSTD ? ['zstd', 'none'] : ['none']) as CompressionAlgo[] };
/** Receiver tests: packets may be larger than frames, so an oversize frame still holds a legal packet. */
const RECV = { ...SMALL, maxPacketLen: 65536 };

describe('catalogue', () => {
  it('names are unique, roles match prefixes, every rule is a requirement of the spec', () => {
    expect(new Set(FAULTS.map((f) => f.name)).size).toBe(FAULTS.length);
    for (const f of FAULTS) expect(f.name.startsWith(`${f.role}-`)).toBe(true);
    const ids = new Set(loadRequirements().map((r) => r.id));
    for (const f of FAULTS) expect(ids.has(f.rule), `${f.name} -> ${f.rule}`).toBe(true);
    expect(formatFaultList().split('\n')).toHaveLength(FAULTS.length + 1);
    expect(() => resolveFaults(['router-id-zero'], 'worker')).toThrow(/belongs to the router/);
    expect(() => resolveFaults(['no-such-fault\u0007'], 'worker')).toThrow(/no-such-fault\?/);
    expect(getFault('worker-silent')?.rule).toBe('DATA-1');
  });
});

// ---------------------------------------------------------------------------------------------
// sender faults after the handshake: the correct peer closes with the matching error
// ---------------------------------------------------------------------------------------------

const AFTER_WELCOME: Array<[suffix: string, code: string | string[]]> = [
  ['second-hello-after-handshake', 'UNEXPECTED_FRAME'],
  ['oversize-frame', 'FRAME_TOO_LARGE'],
  ['oversize-packet', 'PACKET_TOO_LARGE'],
  ['chunk-out-of-sequence', 'CHUNK_SEQ_MISMATCH'],
  ['chunk-without-negotiation', 'CHUNKING_NOT_NEGOTIATED'],
  ['chunk-compression-change', ZSTD ? 'CHUNK_COMPRESSION_CHANGED' : ['CHUNK_COMPRESSION_CHANGED', 'COMPRESSION_UNSUPPORTED']],
  ['zstd-not-negotiated', 'COMPRESSION_UNSUPPORTED'],
  ['unknown-compression', 'COMPRESSION_UNSUPPORTED'],
  ['garbage-after-welcome', 'CBOR_MALFORMED'],
];

describe('sender faults after the handshake', () => {
  const cases: Array<[name: string, code: string | string[]]> = [
    ...AFTER_WELCOME.flatMap(([s, c]) => [[`worker-${s}`, c], [`router-${s}`, c]] as Array<[string, string | string[]]>),
    ['worker-wrong-parity', 'REQUEST_ID_PARITY'],
    ['worker-id-zero', 'REQUEST_ID_ZERO'],
    ['worker-reuse-inflight-id', 'REQUEST_ID_DUPLICATE'],
    ['router-reuse-inflight-id', 'REQUEST_ID_DUPLICATE'],
  ];
  it.each(cases)('%s -> the correct peer closes with %s', async (name, code) => {
    tested.add(name);
    const codes = Array.isArray(code) ? code : [code];
    const worker = name.startsWith('worker-');
    const router = await startReferenceRouter({ listen: sock(), ...SMALL, ...quiet, ...(worker ? {} : { faults: [name] }) });
    const w = await startReferenceWorker({ connect: router.address, shardId: 0, ...SMALL, ...quiet, ...(worker ? { faults: [name] } : {}) });
    if (worker) {
      const ev = await waitFor(() => eventOf(router.events, 'worker_disconnected'));
      expect(codes).toContain(ev['code']);
      // the faulty side logged what it did
      expect(w.events.some((e) => e.event === 'fault_injected' && e['fault'] === name)).toBe(true);
    } else {
      const err = await w.closed;
      expect(codes).toContain(err?.code);
      expect(router.events.some((e) => e.event === 'fault_injected' && e['fault'] === name)).toBe(true);
    }
    await w.close();
    await router.close();
  });

  it.each([
    ['router-wrong-parity', 'REQUEST_ID_PARITY'],
    ['router-id-zero', 'REQUEST_ID_ZERO'],
  ])('%s: the next router call makes the worker close with %s', async (name, code) => {
    tested.add(name);
    const router = await startReferenceRouter({ listen: sock(), faults: [name], ...quiet });
    const w = await startReferenceWorker({ connect: router.address, shardId: 0, ...quiet });
    await router.waitForWorker(0);
    expect((await codeOf(router.call(0, { type: 'get_worker_stats' }))).code).not.toBe('RESOLVED');
    expect((await w.closed)?.code).toBe(code);
    await router.close();
  });
});

// ---------------------------------------------------------------------------------------------
// handshake faults
// ---------------------------------------------------------------------------------------------

describe('handshake faults', () => {
  it.each([
    ['router-welcome-exceeds-offer', {}, 'NEG-1'],
    ['router-welcome-enables-unoffered', { cancel: false, chunking: false }, 'NEG-2'],
    ['router-welcome-unoffered-compression', { compression: ['none'] }, 'NEG-3'],
    ['router-welcome-unoffered-version', {}, 'VER-1'],
  ] as Array<[string, Partial<ReferenceWorkerOptions>, string]>)('%s is refused by our worker [HS-10] naming %s', async (name, wopts, rule) => {
    tested.add(name);
    const router = await startReferenceRouter({ listen: sock(), faults: [name], ...quiet });
    const r = await codeOf(startReferenceWorker({ connect: router.address, shardId: 0, ...wopts, ...quiet }));
    expect(r.code).toBe('HANDSHAKE_INVALID_WELCOME');
    expect((r.error as { details: Record<string, unknown> }).details['brokenRule']).toBe(rule);
    // with the check off (like the Rust worker) the same Welcome is accepted
    const lax = await startReferenceWorker({ connect: router.address, shardId: 0, ...wopts, checkWelcome: false, ...quiet });
    await lax.close();
    await router.close();
  });

  it('router-speaks-before-hello: bytes arrive before any Hello is sent', async () => {
    tested.add('router-speaks-before-hello');
    const good = await startReferenceRouter({ listen: sock(), ...quiet });
    expect((await rawExchange(good.address, [], 150)).frames).toEqual([]);
    await good.close();
    const bad = await startReferenceRouter({ listen: sock(), faults: ['router-speaks-before-hello'], ...quiet });
    const r = await rawExchange(bad.address, [], 150);
    expect(r.frames[0]?.type).toBe('welcome');
    await bad.close();
  });

  it('router-accepts-bad-token / router-echoes-token-in-reject', async () => {
    tested.add('router-accepts-bad-token');
    tested.add('router-echoes-token-in-reject');
    const wrong = 'wrong-secret-4711';
    const lax = await startReferenceRouter({ listen: sock(), authToken: TOKEN, faults: ['router-accepts-bad-token'], ...quiet });
    const w = await startReferenceWorker({ connect: lax.address, shardId: 0, authToken: wrong, ...quiet });
    expect(w.welcome).not.toBeNull();
    await w.close();
    await lax.close();

    const lines: string[] = [];
    const leaky = await startReferenceRouter({ listen: sock(), authToken: TOKEN, faults: ['router-echoes-token-in-reject'], log: (l) => lines.push(l) });
    const r = await codeOf(startReferenceWorker({ connect: leaky.address, shardId: 0, authToken: wrong, ...quiet }));
    expect(r.code).toBe('HANDSHAKE_REJECTED');
    expect((r.error as { reject: { code: string; message: string } }).reject.code).toBe('unauthorized');
    expect((r.error as { reject: { message: string } }).reject.message).toContain(wrong);
    // even the leaky router keeps tokens out of its log lines [SEC-2]
    expect(lines.join('\n')).not.toContain(wrong);
    expect(lines.join('\n')).not.toContain(TOKEN);
    await leaky.close();
  });

  it('router-ignores-zero-limits and router-wrong-check-order (raw Hellos)', async () => {
    tested.add('router-ignores-zero-limits');
    tested.add('router-wrong-check-order');
    const zero = hello({ max_frame_len: 0 }, 'bad-token');
    const good = await startReferenceRouter({ listen: sock(), authToken: TOKEN, ...quiet });
    const g = await rawExchange(good.address, [zero], 1000);
    expect(g.frames[0]).toMatchObject({ type: 'reject', body: { code: 'invalid_request' } });
    await good.close();

    const order = await startReferenceRouter({ listen: sock(), authToken: TOKEN, faults: ['router-wrong-check-order'], ...quiet });
    const o = await rawExchange(order.address, [zero], 1000);
    expect(o.frames[0]).toMatchObject({ type: 'reject', body: { code: 'unauthorized' } });
    await order.close();

    const ign = await startReferenceRouter({ listen: sock(), faults: ['router-ignores-zero-limits'], ...quiet });
    const i = await rawExchange(ign.address, [hello({ max_packet_len: 0 })], 200);
    expect(i.frames[0]?.type).toBe('welcome');
    await ign.close();
  });

  it('router-skips-admission and router-no-reject', async () => {
    tested.add('router-skips-admission');
    tested.add('router-no-reject');
    const skip = await startReferenceRouter({ listen: sock(), faults: ['router-skips-admission'], ...quiet });
    const a = await startReferenceWorker({ connect: skip.address, shardId: 0, ...quiet });
    const b = await startReferenceWorker({ connect: skip.address, shardId: 0, ...quiet }); // duplicate shard
    const c = await startReferenceWorker({ connect: skip.address, shardId: 99, ...quiet }); // unknown shard
    expect([a.welcome?.worker_id, b.welcome?.worker_id, c.welcome?.worker_id]).toEqual([1, 2, 3]);
    await Promise.all([a.close(), b.close(), c.close()]);
    await skip.close();

    const silent = await startReferenceRouter({ listen: sock(), faults: ['router-no-reject'], ...quiet });
    const r = await rawExchange(silent.address, [hello({}, null, 42)], 1000);
    expect(r).toEqual({ frames: [], closed: true });
    expect((await codeOf(startReferenceWorker({ connect: silent.address, shardId: 42, ...quiet }))).code).not.toBe('HANDSHAKE_REJECTED');
    await silent.close();
  });

  it('router-silent-handshake and router-stall-mid-frame: our worker times the handshake out', async () => {
    for (const name of ['router-silent-handshake', 'router-stall-mid-frame']) {
      tested.add(name);
      const router = await startReferenceRouter({ listen: sock(), faults: [name], ...quiet });
      const t0 = Date.now();
      expect((await codeOf(startReferenceWorker({ connect: router.address, shardId: 0, handshakeTimeoutMs: 300, ...quiet }))).code).toBe('HANDSHAKE_TIMEOUT');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
      if (name === 'router-stall-mid-frame') expect(router.events.some((e) => e.event === 'fault_injected' && Number(e['sentBytes']) > 0)).toBe(true);
      await router.close();
    }
  });

  it('router-handshake-no-timeout keeps a silent connection open; the correct router drops it', async () => {
    tested.add('router-handshake-no-timeout');
    const good = await startReferenceRouter({ listen: sock(), handshakeTimeoutMs: 200, ...quiet });
    expect((await rawExchange(good.address, [], 1000)).closed).toBe(true);
    await good.close();
    const bad = await startReferenceRouter({ listen: sock(), handshakeTimeoutMs: 200, faults: ['router-handshake-no-timeout'], ...quiet });
    expect((await rawExchange(bad.address, [], 600)).closed).toBe(false);
    await bad.close();
  });

  it('worker-stall-mid-frame: the correct router times the handshake out [HS-6]', async () => {
    tested.add('worker-stall-mid-frame');
    const router = await startReferenceRouter({ listen: sock(), handshakeTimeoutMs: 300, ...quiet });
    const w = await startReferenceWorker({ connect: router.address, shardId: 0, faults: ['worker-stall-mid-frame'], ...quiet });
    expect(w.connection).toBeNull();
    const ev = await waitFor(() => eventOf(router.events, 'handshake_failed'));
    expect(ev['code']).toBe('HANDSHAKE_TIMEOUT');
    expect(await w.closed).not.toBeNull();
    await router.close();
  });

  it('worker-packet-before-welcome: a packet arrives before the router answered [HS-8]', async () => {
    tested.add('worker-packet-before-welcome');
    const path = join(dir, `raw${n++}.sock`);
    const got: WireFrame[] = [];
    const server = net.createServer((s) => {
      const dec = new FrameDecoder({ maxFrameBytes: 1 << 20 });
      s.on('data', (c: Uint8Array) => {
        for (const b of dec.push(c)) got.push(decodeWireFrame(b));
      });
      s.on('error', () => undefined);
      // Answer only after 150 ms; everything received before that came before the Welcome.
      setTimeout(() => s.destroy(), 150);
    });
    await new Promise<void>((r) => server.listen(path, r));
    await codeOf(startReferenceWorker({ connect: `unix:${path}`, shardId: 0, faults: ['worker-packet-before-welcome'], ...quiet }));
    expect(got.map((f) => f.type)).toEqual(['hello', 'packet']);
    server.close();
  });
});

// ---------------------------------------------------------------------------------------------
// worker data-plane faults
// ---------------------------------------------------------------------------------------------

async function pairWith(wfaults: string[], r: Partial<ReferenceRouterOptions> = {}, w: Partial<ReferenceWorkerOptions> = {}): Promise<{ router: ReferenceRouterHandle; worker: ReferenceWorkerHandle; close(): Promise<void> }> {
  const router = await startReferenceRouter({ listen: sock(), ...quiet, ...r });
  const worker = await startReferenceWorker({ connect: router.address, shardId: 0, faults: wfaults, ...quiet, ...w });
  await router.waitForWorker(0);
  return { router, worker, close: async () => (await worker.close(), await router.close()) };
}

describe('worker data-plane faults', () => {
  it('worker-ignores-cancel answers a cancelled SLOW index with its full result', async () => {
    tested.add('worker-ignores-cancel');
    const p = await pairWith(['worker-ignores-cancel'], {}, { slowWorkMs: 400, slowStepMs: 50 });
    const ac = new AbortController();
    const call = p.router.sessions()[0]!.connection.call(
      { type: 'index_shard', revision: 1n, files: [{ path: 'a', text: 'class A {} SLOW' }] },
      { signal: ac.signal, waitForTerminalResponse: true },
    );
    setTimeout(() => ac.abort(), 50);
    const r = await call;
    expect(r.type).toBe('shard_index');
    await p.close();
  });

  it('worker-double-response: the second response arrives for an id no longer pending', async () => {
    tested.add('worker-double-response');
    const p = await pairWith(['worker-double-response']);
    expect((await p.router.call(0, { type: 'get_worker_stats' })).type).toBe('worker_stats');
    await waitFor(() => p.router.events.find((e) => e.event === 'ignored' && e['reason'] === 'unknown_response_id'));
    await p.close();
  });

  it('worker-silent never answers', async () => {
    tested.add('worker-silent');
    const p = await pairWith(['worker-silent']);
    expect((await codeOf(p.router.call(0, { type: 'get_worker_stats' }, { timeoutMs: 300 }))).code).toBe('TIMEOUT');
    await p.close();
  });

  it('worker-error-echoes-token puts the token in an RpcError; logs stay clean', async () => {
    tested.add('worker-error-echoes-token');
    tested.add('worker-unknown-request-not-rejected');
    const lines: string[] = [];
    const p = await pairWith(['worker-error-echoes-token'], { authToken: TOKEN, log: (l) => lines.push(l) }, { authToken: TOKEN, log: (l) => lines.push(l) });
    const e = await codeOf(p.router.sessions()[0]!.connection.call({ type: 'unknown' }));
    expect(JSON.stringify((e.error as { rpcError: unknown }).rpcError)).toContain(TOKEN);
    expect(lines.join('\n')).not.toContain(TOKEN);
    await p.close();

    const q = await pairWith(['worker-unknown-request-not-rejected']);
    expect((await q.router.sessions()[0]!.connection.call({ type: 'unknown' })).type).toBe('ack');
    await q.close();
  });

  it('worker-no-shutdown-response closes without answering Shutdown', async () => {
    tested.add('worker-no-shutdown-response');
    const p = await pairWith(['worker-no-shutdown-response']);
    const r = await codeOf(p.router.call(0, { type: 'shutdown' }));
    expect(['CONNECTION_CLOSED', 'TRANSPORT_ERROR']).toContain(r.code);
    await p.close();
  });
});

// ---------------------------------------------------------------------------------------------
// receiver faults: paired with the matching sender fault, the connection stays open
// ---------------------------------------------------------------------------------------------

describe('receiver faults', () => {
  const pairs: Array<[accepting: string, sender: string | null]> = [
    ['accepts-oversize-frame', 'oversize-frame'],
    ['accepts-wrong-parity', 'wrong-parity'],
    ['accepts-duplicate-id', 'reuse-inflight-id'],
    ['accepts-id-zero', 'id-zero'],
    ['accepts-unnegotiated-chunks', 'chunk-without-negotiation'],
  ];
  const cases = pairs.flatMap(([a, s]) => [
    [`worker-${a}`, `router-${s}`],
    [`router-${a}`, `worker-${s}`],
  ]).filter(([, s]) => getFault(s!) !== undefined) as Array<[string, string]>;

  it.each(cases)('%s tolerates %s', async (accepting, sender) => {
    tested.add(accepting);
    const workerAccepts = accepting.startsWith('worker-');
    const faultsW = [workerAccepts ? accepting : sender];
    const faultsR = [workerAccepts ? sender : accepting];
    const router = await startReferenceRouter({ listen: sock(), ...RECV, faults: faultsR, ...quiet });
    const worker = await startReferenceWorker({ connect: router.address, shardId: 0, ...RECV, faults: faultsW, ...quiet });
    await router.waitForWorker(0);
    if (accepting === 'worker-accepts-id-zero') {
      // The worker serves the id-0 request and answers with id 0; the (otherwise correct) router
      // then closes on the id-0 response [ID-2], which is the router's rule, not the worker's.
      await codeOf(router.call(0, { type: 'get_worker_stats' }));
      const sent = await waitFor(() => worker.events.find((e) => e.event === 'response_sent'));
      expect(sent['id']).toBe(((1n << 64n) - 2n).toString()); // the alias the shim mapped back to 0 on the wire
      expect(worker.events.some((e) => e.event === 'fault_injected' && e['fault'] === accepting)).toBe(true);
      const routerClose = await waitFor(() => eventOf(router.events, 'worker_disconnected'));
      expect(routerClose['code']).toBe('REQUEST_ID_ZERO');
      await worker.close();
      await router.close();
      return;
    }
    const stats = await router.call(0, { type: 'get_worker_stats' }); // router-id-zero fires here
    expect(stats.type).toBe('worker_stats');
    await new Promise((r) => setTimeout(r, 100));
    expect(worker.connection!.state).toBe('open');
    expect(router.sessions()[0]!.connection.state).toBe('open');
    expect((await router.call(0, { type: 'get_worker_stats' })).type).toBe('worker_stats');
    await worker.close();
    await router.close();
  });

  it.skipIf(!ZSTD).each(['worker-accepts-zstd-bomb', 'router-accepts-zstd-bomb'])('%s does not close on a zstd bomb (the correct peer does)', async (name) => {
    tested.add(name);
    const opts = { maxFrameLen: 65536, maxPacketLen: 65536, compression: ['zstd', 'none'] as Array<'zstd' | 'none'> };
    const bomb = zstdCompress(new Uint8Array(10 * 1024 * 1024));
    for (const faulty of [false, true]) {
      const router = await startReferenceRouter({ listen: sock(), ...opts, ...quiet, faults: faulty && name.startsWith('router') ? [name] : [] });
      const worker = await startReferenceWorker({ connect: router.address, shardId: 0, ...opts, ...quiet, faults: faulty && name.startsWith('worker') ? [name] : [] });
      const session = await router.waitForWorker(0);
      const [sender, receiverClosed] = name.startsWith('worker') ? [session.connection, worker.closed] : [worker.connection!, session.closed];
      await sender.fault.writeFrame({ type: 'packet', body: { id: faultId(sender.role, 9), compression: 'zstd', data: bomb } });
      const outcome = await Promise.race([receiverClosed, new Promise((r) => setTimeout(() => r('open'), 300))]);
      if (faulty) expect(outcome).toBe('open');
      else expect((outcome as { code: string }).code).toBe('PACKET_TOO_LARGE');
      await worker.close();
      await router.close();
    }
  });

  it.each(['worker-crash-on-unknown-variant', 'router-crash-on-unknown-variant'])('%s closes on an unknown frame (the correct peer ignores it)', async (name) => {
    tested.add(name);
    // {"type": "future"}: an unknown WireFrame variant without a body [DATA-6]
    const unknownFrame = new Uint8Array([0xa1, 0x64, 0x74, 0x79, 0x70, 0x65, 0x66, 0x66, 0x75, 0x74, 0x75, 0x72, 0x65]);
    for (const faulty of [false, true]) {
      const router = await startReferenceRouter({ listen: sock(), ...quiet, faults: faulty && name.startsWith('router') ? [name] : [] });
      const worker = await startReferenceWorker({ connect: router.address, shardId: 0, ...quiet, faults: faulty && name.startsWith('worker') ? [name] : [] });
      const session = await router.waitForWorker(0);
      const [sender, receiverClosed] = name.startsWith('worker') ? [session.connection, worker.closed] : [worker.connection!, session.closed];
      await sender.fault.writeRaw(prefixFrame(unknownFrame));
      const outcome = await Promise.race([receiverClosed, new Promise((r) => setTimeout(() => r('open'), 200))]);
      if (faulty) expect((outcome as { code: string; rule: string }).rule).toBe('DATA-6');
      else expect(outcome).toBe('open');
      await worker.close();
      await router.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// role-specific behaviour faults (faults-behaviour.ts): each one makes the conformance cases that
// name it fail — conformance/selftest.test.ts runs them; here: that such cases exist, plus the
// helpers and the HS-12 screen on the wire.
// ---------------------------------------------------------------------------------------------

/** Raw client: writes `bytes`, returns every byte received until the peer closes (or `ms`). */
async function rawBytes(address: string, bytes: Uint8Array[], ms: number): Promise<{ received: Buffer; closed: boolean }> {
  const s = net.connect({ path: address.slice('unix:'.length) });
  const got: Buffer[] = [];
  let closed = false;
  s.on('data', (c: Buffer) => got.push(c));
  s.on('error', () => undefined);
  s.on('close', () => (closed = true));
  await new Promise<void>((r) => s.once('connect', () => r()));
  for (const b of bytes) s.write(b);
  const t0 = Date.now();
  while (!closed && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
  s.destroy();
  return { received: Buffer.concat(got), closed };
}

describe('behaviour faults', () => {
  const cases = buildRegistry().all();
  it.each(BEHAVIOUR_FAULTS.map((f) => [f.name, f.role] as const))('%s is named by a %s conformance case (the self-test makes it fail)', (name, role) => {
    tested.add(name);
    const naming = cases.filter((c) => c.faults.includes(name));
    expect(naming.length).toBeGreaterThan(0);
    for (const c of naming) expect(c.role).toBe(role);
  });

  it.skipIf(!ZSTD)('stripZstdContentSize drops Frame_Content_Size and the frame still decodes', () => {
    for (const size of [5000, 300_000]) {
      const data = new Uint8Array(size).map((_, i) => (i * 7) % 251);
      const z = zstdCompress(data);
      const stripped = stripZstdContentSize(z);
      const fhd = stripped[4]!;
      expect(fhd >> 6, 'FCS flag').toBe(0);
      expect(fhd & 0x20, 'single segment').toBe(0);
      expect(Buffer.from(zstdDecompressBounded(stripped, size))).toEqual(Buffer.from(data));
    }
  });

  it('widenUintAfterKey re-encodes one integer non-canonically, same value', () => {
    const frame: WireFrame = {
      type: 'welcome',
      body: { worker_id: 7, shard_id: 3, revision: 0n, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: { max_frame_len: 4096, max_packet_len: 4096, supported_compression: ['none'], supports_cancel: false, supports_chunking: false } },
    };
    const canonical = encodeWireFrame(frame);
    const wide = widenUintAfterKey(canonical, 'worker_id');
    expect(wide.length).toBe(canonical.length + 4);
    expect(Buffer.from(wide).includes(Buffer.from([0x69, ...Buffer.from('worker_id'), 0x1a, 0, 0, 0, 7]))).toBe(true);
    expect(decodeWireFrame(wide)).toEqual(frame);
  });

  it('[HS-12] a legacy v2 hello gets the v2 error frame (and not under router-no-legacy-v2-error); v3 hellos pass the screen', async () => {
    tested.add('router-no-legacy-v2-error');
    // 00 | shard 0 u32-LE | token present: 01, len 3, "abc" | has_cached_index 00
    const v2 = prefixFrame(new Uint8Array([0x00, 0, 0, 0, 0, 0x01, 3, 0, 0, 0, 0x61, 0x62, 0x63, 0x00]));
    const want = Buffer.from('1c0000000c17000000726f75746572206f6e6c7920737570706f727473207633', 'hex');
    expect(Buffer.from(LEGACY_V2_ERROR_FRAME)).toEqual(want);
    expect(isLegacyV2Hello(v2.subarray(4))).toBe(true);
    expect(isLegacyV2Hello(new Uint8Array([0x00, 0, 0, 0, 0, 0x00, 0x00, 0x00]))).toBe(false); // trailing byte
    expect(isLegacyV2Hello(new Uint8Array([0x00, 0, 0, 0, 0, 0x02, 0x00]))).toBe(false); // bad token tag
    for (const faulty of [false, true]) {
      const router = await startReferenceRouter({ listen: sock(), ...quiet, handshakeTimeoutMs: 1000, faults: faulty ? ['router-no-legacy-v2-error'] : [] });
      const r = await rawBytes(router.address, [v2], 1500);
      expect(r.closed).toBe(true);
      if (faulty) expect(r.received.length).toBe(0);
      else expect(r.received).toEqual(want);
      // A v3 Hello, one byte per write, is still welcomed through the screen.
      const h = hello();
      const split = await rawExchange(router.address, [...h].map((b) => new Uint8Array([b])), 300);
      expect(split.frames.map((f) => f.type)).toEqual(['welcome']);
      await router.close();
    }
  });
});

describe('[FWD-5] unknown variants with a body', () => {
  // {"type": "future_frame", "body": {"x": 1}}
  const UNKNOWN_WITH_BODY = prefixFrame(Buffer.from('a264747970656c6675747572655f6672616d6564626f6479a1617801', 'hex'));
  it('the reference router ignores one after the handshake; router-closes-on-unknown-variant-with-body closes like the Rust reference', async () => {
    for (const faulty of [false, true]) {
      const router = await startReferenceRouter({ listen: sock(), ...quiet, faults: faulty ? ['router-closes-on-unknown-variant-with-body'] : [] });
      try {
        const r = await rawExchange(router.address, [hello(), UNKNOWN_WITH_BODY], 400);
        expect(r.frames.map((f) => f.type)).toEqual(['welcome']);
        expect(r.closed).toBe(faulty);
      } finally {
        await router.close();
      }
    }
  });
});

// Faults whose behaviour is proven by the conformance self-test (and, for TLS, faults-tls.test.ts;
// for the receive shim, faults-receive.test.ts): here each must be named by a case of its role.
for (const [group, faults] of [
  ['TLS faults (faults-tls.ts)', TLS_FAULTS],
  ['receive faults (faults-receive.ts via receive-shim.ts)', RECEIVE_FAULTS],
] as const) {
  describe(group, () => {
    const cases = buildRegistry().all();
    it.each(faults.map((f) => [f.name, f.role] as const))('%s is named by a %s conformance case (the self-test makes it fail)', (name, role) => {
      tested.add(name);
      const naming = cases.filter((c) => c.faults.includes(name));
      expect(naming.length).toBeGreaterThan(0);
      for (const c of naming) expect(c.role).toBe(role);
    });
  });
}

describe('coverage', () => {
  it('every catalogued fault was exercised above', () => {
    const missing = FAULTS.map((f) => f.name).filter((name) => !tested.has(name));
    if (!ZSTD) for (const z of ['worker-accepts-zstd-bomb', 'router-accepts-zstd-bomb']) missing.splice(missing.indexOf(z), 1);
    expect(missing).toEqual([]);
  });
});
