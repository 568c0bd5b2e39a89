import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isProtocolError, type ProtocolError } from '../errors.js';
import { encodeWireFrame, encodeRpcPayload, zstdAvailable } from '../wire/index.js';
import type { Request, Response, RpcResult, WireFrame } from '../wire/model.js';
import {
  HandshakeRejectedError,
  RemoteCallError,
  readHandshakeFrame,
  routerHandshake,
  workerHandshake,
  type EngineEvent,
  type RequestHandler,
} from './connection.js';
import { createMemoryDuplexPair } from './memory-duplex.js';
import { connectedPair, testCaps } from './test-helpers.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
console.log(`[connection.test] fast-check seed=${SEED} (rerun with FC_SEED=${SEED})`);

const ack: RpcResult = { status: 'ok', value: { type: 'ack' } };
const diagReq = (path: string): Request => ({ type: 'diagnostics', path });
const echoHandler: RequestHandler = (req) =>
  req.type === 'diagnostics'
    ? { status: 'ok', value: { type: 'diagnostics', body: { diagnostics: [{ severity: 'info', line: 0, column: 0, message: req.path }] } } }
    : ack;
const diagMessage = (r: Response): string => (r.type === 'diagnostics' ? r.body.diagnostics[0]!.message : `<${r.type}>`);

function prefixed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}
function frameBytes(frame: WireFrame): Uint8Array {
  return prefixed(encodeWireFrame(frame));
}
/** Poll until `cond()` holds (bounded): timing-independent waits on a loaded machine. */
async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((s) => setTimeout(s, 2));
  }
}
async function closeReason(p: Promise<ProtocolError | null>): Promise<string> {
  const e = await p;
  return e ? `${e.code}/${e.rule ?? ''}` : 'clean';
}

describe('handshake and a call, chopped at every byte boundary', () => {
  for (const chopBytes of [1, 2, 3, 5, 7]) {
    it(`chopBytes=${chopBytes}`, async () => {
      const { worker, router } = await connectedPair({
        duplex: { chopBytes },
        router: { capabilities: testCaps(), requestHandler: echoHandler },
        worker: { requestHandler: echoHandler },
      });
      expect(worker.negotiated.capabilities).toEqual(testCaps());
      expect(await worker.call(diagReq('w→r'))).toEqual({
        type: 'diagnostics',
        body: { diagnostics: [{ severity: 'info', line: 0, column: 0, message: 'w→r' }] },
      });
      expect(diagMessage(await router.call(diagReq('r→w')))).toBe('r→w');
      await worker.close();
      expect(await router.closed).toMatchObject({ code: 'CONNECTION_CLOSED' });
      expect(await worker.closed).toBeNull();
    });
  }
  it('Rust vector bytes: a byte-at-a-time Rust Hello is answered with the Rust Welcome bytes, and the worker accepts them', async () => {
    // interop vectors hello_auth_empty_string and welcome_no_cancel_no_chunking (framed, produced by the Rust encoder)
    const rustHello =
      'f8000000a264747970656568656c6c6f64626f6479a66873686172645f6964016a617574685f746f6b656e6072737570706f727465645f76657273696f6e73a2636d696ea2656d616a6f7203656d696e6f7200636d6178a2656d616a6f7203656d696e6f72006c6361706162696c6974696573a56d6d61785f6672616d655f6c656e1a040000006e6d61785f7061636b65745f6c656e1a0400000075737570706f727465645f636f6d7072657373696f6e81646e6f6e656f737570706f7274735f63616e63656cf471737570706f7274735f6368756e6b696e67f4716361636865645f696e6465785f696e666ff66c776f726b65725f6275696c64f6';
    const rustWelcome =
      'c9000000a264747970656777656c636f6d6564626f6479a569776f726b65725f6964036873686172645f696401687265766973696f6e016e63686f73656e5f76657273696f6ea2656d616a6f7203656d696e6f72007363686f73656e5f6361706162696c6974696573a56d6d61785f6672616d655f6c656e1904006e6d61785f7061636b65745f6c656e19040075737570706f727465645f636f6d7072657373696f6e81646e6f6e656f737570706f7274735f63616e63656cf471737570706f7274735f6368756e6b696e67f4';
    const [peer, rs] = createMemoryDuplexPair({ chopBytes: 1 });
    const got: Buffer[] = [];
    peer.on('data', (c: Buffer) => got.push(c));
    const res = routerHandshake(rs, {
      capabilities: testCaps({ max_frame_len: 1024, max_packet_len: 1024, supports_cancel: false, supports_chunking: false }),
      authToken: '',
      workerId: 3,
      revision: 1n,
    });
    peer.write(Buffer.from(rustHello, 'hex'));
    const r = await res;
    expect(r.kind).toBe('welcome');
    await until(() => Buffer.concat(got).length >= rustWelcome.length / 2);
    expect(Buffer.concat(got).toString('hex')).toBe(rustWelcome);
    peer.destroy();

    // and a worker offering the same Hello accepts the Rust Welcome fed to it a byte at a time
    const [ws, fakeRouter] = createMemoryDuplexPair({ chopBytes: 1 });
    const sent: Buffer[] = [];
    fakeRouter.on('data', (c: Buffer) => sent.push(c));
    const pw = workerHandshake(ws, {
      shardId: 1,
      authToken: '',
      capabilities: testCaps({ max_frame_len: 64 * 1024 * 1024, max_packet_len: 64 * 1024 * 1024, supports_cancel: false, supports_chunking: false }),
    });
    await until(() => Buffer.concat(sent).length >= rustHello.length / 2);
    expect(Buffer.concat(sent).toString('hex')).toBe(rustHello);
    fakeRouter.write(Buffer.from(rustWelcome, 'hex'));
    const w = await pw;
    expect(w.negotiated).toMatchObject({ workerId: 3, shardId: 1, revision: 1n, capabilities: { max_frame_len: 1024, supports_cancel: false } });
    await w.close();
  });
  it('literal handshake bytes: router answers a byte-at-a-time Hello with the exact Welcome bytes', async () => {
    const [peer, rs] = createMemoryDuplexPair({ chopBytes: 1 });
    const hello: WireFrame = {
      type: 'hello',
      body: {
        shard_id: 3,
        auth_token: null,
        supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
        capabilities: testCaps(),
        cached_index_info: null,
        worker_build: null,
      },
    };
    const got: Buffer[] = [];
    peer.on('data', (c: Buffer) => got.push(c));
    const res = routerHandshake(rs, { capabilities: testCaps({ max_frame_len: 4096 }), workerId: 9, revision: 5n });
    peer.write(frameBytes(hello));
    const r = await res;
    expect(r.kind).toBe('welcome');
    await until(() => got.length >= 4 && Buffer.concat(got).readUInt32LE(0) + 4 === Buffer.concat(got).length);
    const welcome = Buffer.concat(got);
    const expected = frameBytes({
      type: 'welcome',
      body: {
        worker_id: 9,
        shard_id: 3,
        revision: 5n,
        chosen_version: { major: 3, minor: 0 },
        chosen_capabilities: testCaps({ max_frame_len: 4096 }),
      },
    });
    expect(welcome.toString('hex')).toBe(Buffer.from(expected).toString('hex'));
    // the length prefix is u32 LE of the body length
    expect(welcome.readUInt32LE(0)).toBe(welcome.length - 4);
    peer.destroy();
  });
});

describe('handshake failures', () => {
  it('Reject is sent in the Rust order and surfaces as HANDSHAKE_REJECTED (no token echoed)', async () => {
    const [ws, rs] = createMemoryDuplexPair();
    const events: EngineEvent[] = [];
    const [w, r] = await Promise.allSettled([
      workerHandshake(ws, { shardId: 1, authToken: 'hunter2', capabilities: testCaps(), onEvent: (e) => events.push(e) }),
      routerHandshake(rs, { authToken: 'other', capabilities: testCaps(), onEvent: (e) => events.push(e) }),
    ]);
    expect(r.status === 'fulfilled' && r.value).toMatchObject({ kind: 'reject', reject: { code: 'unauthorized', message: 'authentication failed' } });
    expect(w.status).toBe('rejected');
    const err = (w as PromiseRejectedResult).reason as HandshakeRejectedError;
    expect(err).toBeInstanceOf(HandshakeRejectedError);
    expect(err.code).toBe('HANDSHAKE_REJECTED');
    expect(err.reject).toEqual({ code: 'unauthorized', message: 'authentication failed' });
    expect(JSON.stringify(events, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain('hunter2');
    expect(JSON.stringify(err.toJSON())).not.toContain('hunter2');
  });
  it('admission hook rejects with its code/message', async () => {
    const [ws, rs] = createMemoryDuplexPair();
    const [w, r] = await Promise.allSettled([
      workerHandshake(ws, { shardId: 5, capabilities: testCaps() }),
      routerHandshake(rs, { capabilities: testCaps(), admit: async (h) => ({ accept: false, code: 'invalid_request', message: `unknown shard ${h.shard_id}` }) }),
    ]);
    expect(r.status === 'fulfilled' && r.value).toMatchObject({ kind: 'reject', reject: { code: 'invalid_request', message: 'unknown shard 5' } });
    expect((w as PromiseRejectedResult).reason).toMatchObject({ code: 'HANDSHAKE_REJECTED', details: { rejectCode: 'invalid_request' } });
  });
  it('[HS-10] worker refuses a Welcome that enables cancel it did not offer', async () => {
    const [ws, rs] = createMemoryDuplexPair();
    const [w, r] = await Promise.allSettled([
      workerHandshake(ws, { shardId: 1, capabilities: testCaps({ supports_cancel: false }) }),
      routerHandshake(rs, {
        capabilities: testCaps(),
        faultHooks: { mutateWelcome: (wel) => ({ ...wel, chosen_capabilities: { ...wel.chosen_capabilities, supports_cancel: true } }) },
      }),
    ]);
    expect(r.status).toBe('fulfilled');
    expect((w as PromiseRejectedResult).reason).toMatchObject({ code: 'HANDSHAKE_INVALID_WELCOME', rule: 'HS-10', details: { brokenRule: 'NEG-2' } });
    // with the check off (Rust behaviour) the same Welcome is accepted
    const [ws2, rs2] = createMemoryDuplexPair();
    const [w2] = await Promise.all([
      workerHandshake(ws2, { shardId: 1, capabilities: testCaps({ supports_cancel: false }), checkWelcome: false }),
      routerHandshake(rs2, {
        capabilities: testCaps(),
        faultHooks: { mutateWelcome: (wel) => ({ ...wel, chosen_version: { major: 9, minor: 9 } }) },
      }),
    ]);
    expect(w2.negotiated.version).toEqual({ major: 9, minor: 9 });
    await w2.close();
  });
  it('[HS-3] a first frame that is not a Hello closes without a Reject', async () => {
    const [peer, rs] = createMemoryDuplexPair();
    const got: Buffer[] = [];
    peer.on('data', (c: Buffer) => got.push(c));
    const res = routerHandshake(rs, { capabilities: testCaps() }).catch((e: unknown) => e);
    peer.write(frameBytes({ type: 'packet', body: { id: 1n, compression: 'none', data: new Uint8Array([1]) } }));
    expect(await res).toMatchObject({ code: 'HANDSHAKE_UNEXPECTED_FRAME', rule: 'HS-3' });
    await new Promise((s) => setTimeout(s, 10));
    expect(got.length).toBe(0);
  });
  it('[FRM-4] a pre-handshake prefix of 1 MiB + 1 is refused before the body; exactly 1 MiB is read', async () => {
    const [peer, rs] = createMemoryDuplexPair();
    const res = routerHandshake(rs, { capabilities: testCaps() }).catch((e: unknown) => e);
    peer.write(new Uint8Array([0x01, 0x00, 0x10, 0x00])); // 0x00100001 = 1 MiB + 1
    expect(await res).toMatchObject({ code: 'FRAME_TOO_LARGE', rule: 'FRM-4' });
    const [peer2, rs2] = createMemoryDuplexPair();
    const res2 = routerHandshake(rs2, { capabilities: testCaps() }).catch((e: unknown) => e);
    const big = new Uint8Array(4 + 1024 * 1024);
    big.set([0x00, 0x00, 0x10, 0x00]); // exactly 1 MiB of zero bytes: read, then fails to decode
    peer2.write(big);
    const e2 = (await res2) as ProtocolError;
    expect(isProtocolError(e2)).toBe(true);
    expect(e2.code).not.toBe('FRAME_TOO_LARGE');
  });
  it('[FRM-2] a zero-length first frame is refused', async () => {
    const [peer, rs] = createMemoryDuplexPair();
    const res = routerHandshake(rs, { capabilities: testCaps() }).catch((e: unknown) => e);
    peer.write(new Uint8Array([0, 0, 0, 0]));
    expect(await res).toMatchObject({ code: 'FRAME_EMPTY', rule: 'FRM-2' });
  });
  it('[HS-6] handshake timeout (configurable) destroys the stream', async () => {
    const [peer, rs] = createMemoryDuplexPair();
    const t0 = Date.now();
    const res = routerHandshake(rs, { capabilities: testCaps(), handshakeTimeoutMs: 80 }).catch((e: unknown) => e);
    peer.write(new Uint8Array([0x10, 0x00, 0x00])); // a partial prefix, then a stall
    expect(await res).toMatchObject({ code: 'HANDSHAKE_TIMEOUT', rule: 'HS-6' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(75);
    expect(rs.destroyed).toBe(true);
    const [ws] = createMemoryDuplexPair();
    expect(await workerHandshake(ws, { shardId: 1, handshakeTimeoutMs: 50 }).catch((e: unknown) => e)).toMatchObject({ code: 'HANDSHAKE_TIMEOUT' });
  });
  it('[LIM-1] zero own limits fail before any I/O', async () => {
    const [ws] = createMemoryDuplexPair();
    expect(await workerHandshake(ws, { shardId: 1, capabilities: testCaps({ max_frame_len: 0 }) }).catch((e: unknown) => e)).toMatchObject({
      code: 'HANDSHAKE_FAILED',
      rule: 'LIM-1',
    });
  });
  it('frames after the Welcome in the same write are judged by the negotiated limit, not 1 MiB', async () => {
    // a router that writes Welcome and a 2 MiB Packet in one go (sync delivery, one chunk)
    const [ws, peer] = createMemoryDuplexPair({ async: false });
    const received: string[] = [];
    const pw = workerHandshake(ws, {
      shardId: 1,
      capabilities: testCaps({ max_frame_len: 4 * 1024 * 1024, max_packet_len: 4 * 1024 * 1024 }),
      requestHandler: (r) => {
        received.push(r.type === 'load_files' ? `${r.files[0]!.text.length}` : r.type);
        return ack;
      },
    });
    const welcome = frameBytes({
      type: 'welcome',
      body: {
        worker_id: 1,
        shard_id: 1,
        revision: 0n,
        chosen_version: { major: 3, minor: 0 },
        chosen_capabilities: testCaps({ max_frame_len: 4 * 1024 * 1024, max_packet_len: 4 * 1024 * 1024 }),
      },
    });
    const payload = encodeRpcPayload({ type: 'request', body: { type: 'load_files', revision: 1n, files: [{ path: 'p', text: 'x'.repeat(2 * 1024 * 1024) }] } });
    const req = frameBytes({ type: 'packet', body: { id: 2n, compression: 'none', data: payload } });
    const both = new Uint8Array(welcome.length + req.length);
    both.set(welcome, 0);
    both.set(req, welcome.length);
    peer.write(both);
    expect(req.length).toBeGreaterThan(2 * 1024 * 1024); // well above the 1 MiB pre-handshake limit
    const w = await pw;
    await until(() => received.length === 1);
    expect(received).toEqual([String(2 * 1024 * 1024)]);
    expect(w.state).toBe('open');
    await w.close();
  });
});

describe('calls', () => {
  it('[DATA-2] [DATA-9] 1,000 concurrent calls answered out of order, each matched by id', async () => {
    const { worker, router } = await connectedPair({
      router: {
        capabilities: testCaps(),
        requestHandler: async (req, ctx) => {
          // reverse-ish completion order
          await new Promise((s) => setTimeout(s, Number(ctx.id % 7n)));
          return echoHandler(req, ctx);
        },
      },
    });
    const N = 1000;
    const results = await Promise.all(Array.from({ length: N }, (_, i) => worker.call(diagReq(`p${i}`))));
    results.forEach((r, i) => expect(diagMessage(r)).toBe(`p${i}`));
    expect(worker.stats.pendingCalls).toBe(0);
    await worker.close();
  });
  it('remote errors: REMOTE_ERROR with rpcCode/retryable, cancelled → CANCELLED, unknown → UNEXPECTED_RESPONSE [ERR-1] [ERR-2]', async () => {
    const results: Record<string, RpcResult> = {
      a: { status: 'err', error: { code: 'internal', message: 'boom', retryable: true, details: null } },
      b: { status: 'err', error: { code: 'cancelled', message: 'x', retryable: true, details: null } },
      c: { status: 'unknown' },
    };
    const { worker } = await connectedPair({ router: { capabilities: testCaps(), requestHandler: (r) => results[(r as { path: string }).path]! } });
    const a = (await worker.call(diagReq('a')).catch((e: unknown) => e)) as RemoteCallError;
    expect(a).toBeInstanceOf(RemoteCallError);
    expect(a).toMatchObject({ code: 'REMOTE_ERROR', details: { rpcCode: 'internal', retryable: true } });
    expect(a.message).not.toContain('boom');
    expect(a.rpcError.message).toBe('boom');
    expect(await worker.call(diagReq('b')).catch((e: unknown) => e)).toMatchObject({ code: 'CANCELLED', details: { rpcCode: 'cancelled' } });
    expect(await worker.call(diagReq('c')).catch((e: unknown) => e)).toMatchObject({ code: 'UNEXPECTED_RESPONSE', rule: 'ERR-2' });
    expect(worker.state).toBe('open');
    await worker.close();
  });
  it('[DATA-20] an ok variant that does not answer the request fails that call only (UNEXPECTED_RESPONSE); the connection stays open', async () => {
    // Answers keyed by request type: get_worker_stats gets an ack, update_file its rebuilt shard_index,
    // diagnostics an ok Response of unknown type (no body).
    const shardIndex: Response = { type: 'shard_index', body: { shard_id: 0, revision: 2n, index_generation: 1n, symbols: [] } };
    const answers: Partial<Record<Request['type'], RpcResult>> = {
      get_worker_stats: ack,
      update_file: { status: 'ok', value: shardIndex },
      load_files: ack,
      diagnostics: { status: 'ok', value: { type: 'unknown' } },
      index_shard: { status: 'ok', value: { type: 'worker_stats', body: { shard_id: 0, revision: 0n, index_generation: 0n, file_count: 0 } } },
    };
    const handler: RequestHandler = (r) => answers[r.type]!;
    const { worker } = await connectedPair({ router: { capabilities: testCaps(), requestHandler: handler } });
    expect(await worker.call({ type: 'get_worker_stats' }).catch((e: unknown) => e)).toMatchObject({
      code: 'UNEXPECTED_RESPONSE',
      rule: 'DATA-20',
      details: { requestType: 'get_worker_stats', responseType: 'ack' },
    });
    expect(await worker.call({ type: 'index_shard', revision: 1n, files: [] }).catch((e: unknown) => e)).toMatchObject({ code: 'UNEXPECTED_RESPONSE', rule: 'DATA-20' });
    expect(await worker.call(diagReq('x')).catch((e: unknown) => e)).toMatchObject({ code: 'UNEXPECTED_RESPONSE', rule: 'DATA-20' });
    expect(worker.state).toBe('open');
    expect(await worker.call({ type: 'update_file', revision: 2n, file: { path: 'a', text: 'b' } })).toEqual(shardIndex);
    expect(await worker.call({ type: 'load_files', revision: 2n, files: [] })).toEqual({ type: 'ack' });
    expect(worker.stats.pendingCalls).toBe(0);
    await worker.close();
  });
  it('faultHooks.skipResponsePairingCheck resolves with any ok variant (test-only, for router-accepts-mismatched-response)', async () => {
    const { worker } = await connectedPair({ router: { capabilities: testCaps(), requestHandler: () => ack }, worker: { faultHooks: { skipResponsePairingCheck: true } } });
    expect(await worker.call({ type: 'get_worker_stats' })).toEqual({ type: 'ack' });
    await worker.close();
  });
  it('missing handler → invalid_request "no request handler installed" after the configured wait', async () => {
    const { worker } = await connectedPair({ router: { capabilities: testCaps(), missingHandlerWaitMs: 30 } });
    const t0 = Date.now();
    const e = (await worker.call(diagReq('x')).catch((x: unknown) => x)) as RemoteCallError;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(e.rpcError).toEqual({ code: 'invalid_request', message: 'no request handler installed', retryable: false, details: null });
    await worker.close();
  });
  it('a handler installed during the wait answers the request', async () => {
    const { worker, router } = await connectedPair({ router: { capabilities: testCaps(), missingHandlerWaitMs: 2000 } });
    const p = worker.call(diagReq('late'));
    await until(() => router.stats.inflightRequests === 1);
    router.setRequestHandler(echoHandler);
    expect(diagMessage(await p)).toBe('late');
    await worker.close();
  });
  it('[ID-6] notifications consume ids; buffered (max 16, oldest dropped) until a handler is set', async () => {
    const events: EngineEvent[] = [];
    const { worker, router } = await connectedPair({ router: { capabilities: testCaps(), requestHandler: echoHandler, onEvent: (e) => events.push(e) } });
    const shard = { shard_id: 1, revision: 0n, index_generation: 0n, symbols: [] };
    for (let i = 0; i < 18; i++) await worker.notify({ type: 'cached_index', body: { ...shard, revision: BigInt(i) } });
    await worker.call(diagReq('sync'));
    const seen: Array<[bigint, bigint]> = [];
    router.setNotificationHandler((n, ctx) => {
      if (n.type === 'cached_index') seen.push([ctx.id, n.body.revision]);
    });
    expect(seen.length).toBe(16);
    expect(seen[0]).toEqual([5n, 2n]); // ids 1, 3 (revisions 0, 1) were dropped
    expect(seen[15]).toEqual([35n, 17n]);
    expect(events.filter((e) => e.type === 'ignored' && e.reason === 'notification_dropped').length).toBe(2);
    // the call after 18 notifications got id 37
    expect(events.some((e) => e.type === 'request_received' && e.id === 37n)).toBe(true);
    await worker.close();
  });
  it('a request too large without chunking fails locally, connection stays open [CHK-1]', async () => {
    const { worker } = await connectedPair({
      worker: { capabilities: testCaps({ supports_chunking: false, max_frame_len: 1024 }) },
      router: { capabilities: testCaps(), requestHandler: echoHandler },
    });
    expect(await worker.call(diagReq('y'.repeat(4000))).catch((e: unknown) => (e as ProtocolError).code)).toBe('FRAME_TOO_LARGE');
    expect(diagMessage(await worker.call(diagReq('ok')))).toBe('ok');
    await worker.close();
  });
  it('per-call timeout → TIMEOUT, sends Cancel, the late response is swallowed', async () => {
    const events: EngineEvent[] = [];
    let cancelled = false;
    const { worker } = await connectedPair({
      worker: { onEvent: (e) => events.push(e) },
      router: {
        capabilities: testCaps(),
        requestHandler: async (_r, ctx) => {
          await new Promise((s) => ctx.signal.addEventListener('abort', s));
          cancelled = true;
          return { status: 'err', error: { code: 'cancelled', message: 'request cancelled', retryable: true, details: null } };
        },
      },
    });
    expect(await worker.call(diagReq('slow'), { timeoutMs: 30 }).catch((e: unknown) => (e as ProtocolError).code)).toBe('TIMEOUT');
    await until(() => events.some((e) => e.type === 'ignored' && e.reason === 'late_response'));
    expect(cancelled).toBe(true);
    expect(events.some((e) => e.type === 'ignored' && e.reason === 'late_response')).toBe(true);
    expect(worker.stats.pendingCalls).toBe(0);
    await worker.close();
  });
  it('[CAN-2] without negotiated cancel: abort fails locally, no Cancel is sent, an incoming Cancel is ignored', async () => {
    const events: EngineEvent[] = [];
    let release: (() => void) | undefined;
    const { worker, router } = await connectedPair({
      worker: { capabilities: testCaps({ supports_cancel: false }), onEvent: (e) => events.push(e) },
      router: {
        capabilities: testCaps(),
        onEvent: (e) => events.push(e),
        requestHandler: async (r, ctx) => {
          await new Promise<void>((s) => (release = s));
          return ctx.signal.aborted ? { status: 'err', error: { code: 'cancelled', message: '', retryable: true, details: null } } : echoHandler(r, ctx);
        },
      },
    });
    const ac = new AbortController();
    const p = worker.call(diagReq('x'), { signal: ac.signal, waitForTerminalResponse: true });
    await until(() => release !== undefined);
    ac.abort();
    expect(await p.catch((e: unknown) => (e as ProtocolError).code)).toBe('CANCELLED');
    // the router still answers (not cancelled), and a Cancel the worker receives is ignored
    await router.fault.sendPayload(2n, { type: 'cancel' });
    release!();
    await until(() => events.some((e) => e.type === 'ignored' && e.reason === 'late_response'));
    expect(events.filter((e) => e.type === 'cancel_sent').length).toBe(0);
    expect(events.some((e) => e.type === 'ignored' && e.reason === 'cancel_not_negotiated')).toBe(true);
    expect(events.some((e) => e.type === 'response_sent' && e.status === 'ok')).toBe(true);
    expect(worker.state).toBe('open');
    await worker.close();
  });
  it('an incoming Cancel also completes our own pending call with that id (Rust behaviour)', async () => {
    const { worker, router } = await connectedPair({ router: { capabilities: testCaps(), requestHandler: () => new Promise(() => undefined) } });
    const p = worker.call(diagReq('x'));
    await until(() => router.stats.inflightRequests === 1);
    await router.fault.sendPayload(1n, { type: 'cancel' });
    expect(await p.catch((e: unknown) => (e as ProtocolError).code)).toBe('CANCELLED');
    await worker.close();
  });
  it('[DATA-8] closeAfterResponse: Shutdown answered, then the connection closes', async () => {
    const { worker, router } = await connectedPair({
      worker: {
        requestHandler: (r, ctx) => {
          ctx.closeAfterResponse();
          return { status: 'ok', value: { type: r.type === 'shutdown' ? 'shutdown' : 'ack' } };
        },
      },
    });
    expect(await router.call({ type: 'shutdown' })).toEqual({ type: 'shutdown' });
    expect(await closeReason(router.closed)).toBe('CONNECTION_CLOSED/');
    expect(await worker.closed).toBeNull();
  });
});

describe('cancel versus response race (fc.scheduler): exactly one terminal outcome per call', () => {
  it('property', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.record({ abort: fc.boolean(), waitTerminal: fc.boolean(), honour: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        async (s, calls) => {
          const routerEvents: EngineEvent[] = [];
          const { worker, router } = await connectedPair({
            duplex: { async: false },
            router: {
              capabilities: testCaps(),
              onEvent: (e) => routerEvents.push(e),
              requestHandler: async (req, ctx) => {
                const i = Number((req as { path: string }).path);
                await s.schedule(Promise.resolve(), `work ${i}`);
                return calls[i]!.honour && ctx.signal.aborted
                  ? { status: 'err', error: { code: 'cancelled', message: 'request cancelled', retryable: true, details: null } }
                  : echoHandler(req, ctx);
              },
            },
          });
          const outcomes = calls.map((c, i) => {
            const ac = new AbortController();
            if (c.abort) s.schedule(Promise.resolve(), `abort ${i}`).then(() => ac.abort()).catch(() => undefined);
            return worker.call(diagReq(String(i)), { signal: ac.signal, waitForTerminalResponse: c.waitTerminal }).then(
              (r) => `ok:${diagMessage(r)}`,
              (e: ProtocolError) => e.code,
            );
          });
          const settled = await s.waitFor(Promise.all(outcomes));
          // drain: writes leave on the next tick (corked), then the scheduler releases the handlers
          for (let i = 0; i < 50 && (worker.stats.pendingCalls > 0 || router.stats.inflightRequests > 0); i++) {
            await new Promise((r) => setImmediate(r));
            await s.waitAll();
          }
          settled.forEach((o, i) => {
            if (o.startsWith('ok:')) expect(o).toBe(`ok:${i}`);
            else {
              expect(o).toBe('CANCELLED');
              expect(calls[i]!.abort).toBe(true);
            }
          });
          // the router sent exactly one terminal response per request [DATA-1] [CAN-3]
          const sent = routerEvents.filter((e) => e.type === 'response_sent').map((e) => (e as { id: bigint }).id);
          expect(new Set(sent).size).toBe(calls.length);
          expect(sent.length).toBe(calls.length);
          // every terminal response was consumed: nothing pending, connection healthy
          expect(worker.stats.pendingCalls).toBe(0);
          expect(worker.state).toBe('open');
          await worker.close();
          await router.closed;
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });
});

describe('protocol violations close with the right code and rule', () => {
  type Case = {
    name: string;
    act: (p: Awaited<ReturnType<typeof connectedPair>>) => Promise<unknown>;
    expect: string;
    victim?: 'worker' | 'router';
    worker?: Parameters<typeof connectedPair>[0] extends infer O ? (O extends { worker?: infer W } ? W : never) : never;
  };
  const shard = { shard_id: 1, revision: 0n, index_generation: 0n, symbols: [] };
  const cases: Case[] = [
    { name: 'Packet id 0 [ID-2]', act: (p) => p.worker.fault.sendPayload(0n, { type: 'notification', body: { type: 'cached_index', body: shard } }), expect: 'REQUEST_ID_ZERO/ID-2' },
    {
      name: 'PacketChunk id 0 [ID-2]',
      act: (p) => p.worker.fault.writeFrame({ type: 'packet_chunk', body: { id: 0n, compression: 'none', seq: 0, last: false, data: new Uint8Array(1) } }),
      expect: 'REQUEST_ID_ZERO/ID-2',
    },
    { name: 'request with even id to the router [ID-3]', act: (p) => p.worker.fault.sendPayload(4n, { type: 'request', body: diagReq('x') }), expect: 'REQUEST_ID_PARITY/ID-3' },
    {
      name: 'request with odd id to the worker [ID-3]',
      victim: 'worker',
      act: (p) => p.router.fault.sendPayload(3n, { type: 'request', body: diagReq('x') }),
      expect: 'REQUEST_ID_PARITY/ID-3',
    },
    {
      name: 'duplicate in-flight request id [ID-4]',
      act: async (p) => {
        await p.worker.fault.sendPayload(5n, { type: 'request', body: diagReq('x') });
        await p.worker.fault.sendPayload(5n, { type: 'request', body: diagReq('x') });
      },
      expect: 'REQUEST_ID_DUPLICATE/ID-4',
    },
    {
      name: 'second Hello after the handshake [HS-7]',
      act: (p) => p.worker.fault.writeFrame({ type: 'hello', body: { ...p.worker.hello } }),
      expect: 'UNEXPECTED_FRAME/HS-7',
    },
    { name: 'Welcome after the handshake [HS-7]', act: (p) => p.worker.fault.writeFrame({ type: 'welcome', body: p.worker.welcome }), expect: 'UNEXPECTED_FRAME/HS-7' },
    {
      name: 'Reject after the handshake [HS-7]',
      victim: 'worker',
      act: (p) => p.router.fault.writeFrame({ type: 'reject', body: { code: 'internal', message: 'x' } }),
      expect: 'UNEXPECTED_FRAME/HS-7',
    },
    {
      name: 'Packet data > max_packet_len [DATA-4]',
      act: (p) => p.worker.fault.writeFrame({ type: 'packet', body: { id: 1n, compression: 'none', data: new Uint8Array(1024 * 1024 + 1) } }),
      worker: { capabilities: testCaps({ max_frame_len: 4 * 1024 * 1024 }) },
      expect: 'PACKET_TOO_LARGE/DATA-4',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const pair = await connectedPair({ router: { capabilities: testCaps({ max_frame_len: 4 * 1024 * 1024 }) }, ...(c.worker ? { worker: c.worker } : {}) });
      const victim = c.victim === 'worker' ? pair.worker : pair.router;
      const pending = victim.call(diagReq('pending')).catch((e: ProtocolError) => e);
      await c.act(pair).catch(() => undefined);
      const reason = await closeReason(victim.closed);
      expect(reason).toBe(c.expect);
      // close is idempotent and the first error wins; pending calls fail with it
      await victim.close();
      expect(victim.closeError && `${victim.closeError.code}/${victim.closeError.rule ?? ''}`).toBe(c.expect);
      expect(((await pending) as ProtocolError).code).toBe(c.expect.split('/')[0]);
      await pair.worker.closed;
      await pair.router.closed;
    });
  }
  it('frame larger than the negotiated max_frame_len [FRM-3] [FRM-5]', async () => {
    const pair = await connectedPair({ router: { capabilities: testCaps({ max_frame_len: 4096 }) } });
    await pair.worker.fault.writeRaw(new Uint8Array([0x01, 0x10, 0x00, 0x00])); // 4097
    const e = await pair.router.closed;
    expect(e?.code).toBe('FRAME_TOO_LARGE');
  });
  it('payload that does not decode [DATA-5]', async () => {
    const pair = await connectedPair();
    await pair.worker.fault.writeFrame({ type: 'packet', body: { id: 1n, compression: 'none', data: new Uint8Array([0xff]) } });
    const e = await pair.router.closed;
    expect(e && isProtocolError(e)).toBe(true);
    expect(e?.code).toMatch(/^(CBOR_|SCHEMA_)/);
  });
  it('chunk when chunking was not negotiated [CHK-2]', async () => {
    const pair = await connectedPair({ worker: { capabilities: testCaps({ supports_chunking: false }) } });
    await pair.worker.fault.writeFrame({ type: 'packet_chunk', body: { id: 1n, compression: 'none', seq: 0, last: true, data: new Uint8Array(1) } });
    expect((await pair.router.closed)?.code).toBe('CHUNKING_NOT_NEGOTIATED');
  });
  it('compression unknown [CMP-2]', async () => {
    const pair = await connectedPair();
    await pair.worker.fault.writeFrame({ type: 'packet', body: { id: 1n, compression: 'unknown', data: new Uint8Array(1) } });
    expect((await pair.router.closed)?.code).toBe('COMPRESSION_UNSUPPORTED');
  });
  it('stream ends inside a frame → FRAME_TRUNCATED', async () => {
    const pair = await connectedPair();
    await pair.worker.fault.writeRaw(new Uint8Array([0x10, 0, 0, 0, 1, 2]));
    pair.workerStream.end();
    expect((await pair.router.closed)?.code).toBe('FRAME_TRUNCATED');
  });
  it('ignored, connection stays usable: unknown frame, unknown payload, unknown notification, response for unknown id, cancel for unknown id [DATA-3] [DATA-6] [CAN-4]', async () => {
    const events: EngineEvent[] = [];
    const pair = await connectedPair({ router: { capabilities: testCaps(), requestHandler: echoHandler, onEvent: (e) => events.push(e) } });
    await pair.worker.fault.writeFrame({ type: 'unknown' });
    await pair.worker.fault.sendPayload(99n, { type: 'unknown' });
    await pair.worker.fault.sendPayload(101n, { type: 'notification', body: { type: 'unknown' } });
    await pair.worker.fault.sendPayload(103n, { type: 'response', body: ack });
    await pair.worker.fault.sendPayload(105n, { type: 'cancel' });
    expect(diagMessage(await pair.worker.call(diagReq('still fine')))).toBe('still fine');
    const reasons = events.filter((e) => e.type === 'ignored').map((e) => (e as { reason: string }).reason);
    expect(reasons).toEqual(['unknown_frame', 'unknown_payload', 'unknown_notification', 'unknown_response_id', 'cancel_unknown_id']);
    await pair.worker.close();
  });
  it('even-id notification and cancel from the worker are accepted [ID-5]', async () => {
    const pair = await connectedPair({ router: { capabilities: testCaps(), requestHandler: echoHandler } });
    await pair.worker.fault.sendPayload(8n, { type: 'notification', body: { type: 'cached_index', body: shard } });
    await pair.worker.fault.sendPayload(10n, { type: 'cancel' });
    expect(diagMessage(await pair.worker.call(diagReq('ok')))).toBe('ok');
    await pair.worker.close();
  });
  it('fault hooks: overrideId and skipIncomingIdChecks', async () => {
    const pair = await connectedPair({
      worker: { faultHooks: { overrideId: () => 6n } },
      router: { capabilities: testCaps(), requestHandler: echoHandler, faultHooks: { skipIncomingIdChecks: true } },
    });
    expect(diagMessage(await pair.worker.call(diagReq('even')))).toBe('even');
    await pair.worker.close();
  });
});

describe('chunking and compression', () => {
  it('64 MiB chunked request in memory', async () => {
    const MiB = 1024 * 1024;
    const caps = testCaps({ max_frame_len: 1 * MiB, max_packet_len: 64 * MiB });
    let got = 0;
    const { worker } = await connectedPair({
      worker: { capabilities: caps },
      router: {
        capabilities: caps,
        requestHandler: (r) => {
          if (r.type === 'load_files') got = r.files.reduce((n, f) => n + f.text.length, 0);
          return ack;
        },
      },
    });
    const text = 'a'.repeat(8 * MiB - 1024);
    const files = Array.from({ length: 8 }, (_, i) => ({ path: `f${i}`, text }));
    const t0 = Date.now();
    expect(await worker.call({ type: 'load_files', revision: 1n, files })).toEqual({ type: 'ack' });
    console.log(`[connection.test] 64 MiB chunked call in ${Date.now() - t0} ms`);
    expect(got).toBe(8 * (8 * MiB - 1024));
    await worker.close();
  });
  it.skipIf(!zstdAvailable())('zstd both ways when negotiated [CMP-1] [CMP-5]', async () => {
    const seen: string[] = [];
    const observe = (who: string) => ({
      mutateOutgoingFrame: (f: WireFrame) => {
        if (f.type === 'packet' || f.type === 'packet_chunk') seen.push(`${who}:${f.body.compression}`);
        return f;
      },
    });
    const caps = testCaps({ supported_compression: ['zstd', 'none'] });
    const { worker } = await connectedPair({
      worker: { capabilities: caps, faultHooks: observe('w') },
      router: { capabilities: caps, requestHandler: echoHandler, faultHooks: observe('r') },
    });
    expect(worker.negotiated.capabilities.supported_compression).toEqual(['zstd', 'none']);
    const big = 'compressible '.repeat(1000);
    expect(diagMessage(await worker.call(diagReq(big)))).toBe(big);
    expect(diagMessage(await worker.call(diagReq('tiny')))).toBe('tiny');
    expect(seen).toEqual(['w:zstd', 'r:zstd', 'w:none', 'r:none']);
    await worker.close();
  });
  it('zstd not offered by the worker: never used', async () => {
    const seen: string[] = [];
    const { worker } = await connectedPair({
      worker: {
        capabilities: testCaps({ supported_compression: ['none'] }),
        faultHooks: { mutateOutgoingFrame: (f) => (f.type === 'packet' && seen.push(f.body.compression), f) },
      },
      router: { capabilities: testCaps({ supported_compression: ['zstd', 'none'] }), requestHandler: echoHandler },
    });
    await worker.call(diagReq('compressible '.repeat(1000)));
    expect(seen).toEqual(['none']);
    await worker.close();
  });
});
if (!zstdAvailable()) console.warn('[connection.test] zstd backend unavailable: the zstd round-trip test is skipped');

describe('backpressure and outgoing fault hooks', () => {
  it('a reader that stops reading bounds the write queue; writers wait, then everything arrives in order', async () => {
    const got: bigint[] = [];
    const { worker, router, routerStream } = await connectedPair({
      duplex: { highWaterMarkBytes: 1024 },
      worker: { writeQueueMaxFrames: 4, writeBufferHighWaterBytes: 1024 },
      router: { capabilities: testCaps(), notificationHandler: (n) => void (n.type === 'cached_index' && got.push(n.body.revision)) },
    });
    routerStream.pause();
    const shard = { shard_id: 1, revision: 0n, index_generation: 0n, symbols: [{ name: 'x'.repeat(200), path: 'p', line: 0, column: 0 }] };
    let resolved = 0;
    const sends = Array.from({ length: 200 }, (_, i) => worker.notify({ type: 'cached_index', body: { ...shard, revision: BigInt(i) } }).then(() => resolved++));
    await new Promise((s) => setTimeout(s, 50));
    expect(worker.stats.queuedFrames).toBeLessThanOrEqual(4);
    expect(resolved).toBeLessThan(200);
    routerStream.resume();
    await Promise.all(sends);
    await until(() => got.length === 200);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => BigInt(i)));
    await worker.close();
    await router.closed;
  });
  it('ignoreNegotiatedFrameLimit: the peer sends an oversized frame and the receiver closes [FRM-5]', async () => {
    const pair = await connectedPair({
      worker: { faultHooks: { ignoreNegotiatedFrameLimit: true } },
      router: { capabilities: testCaps({ max_frame_len: 4096 }), requestHandler: echoHandler },
    });
    const p = pair.worker.call(diagReq('z'.repeat(8000))).catch((e: ProtocolError) => e.code);
    expect((await pair.router.closed)?.code).toBe('FRAME_TOO_LARGE');
    expect(await p).toBe('CONNECTION_CLOSED');
  });
  it('mutateOutgoingBytes duplicating a request frame → the receiver closes with REQUEST_ID_DUPLICATE [ID-4]', async () => {
    const pair = await connectedPair({
      worker: { faultHooks: { mutateOutgoingBytes: (b) => [b, b] } },
      router: { capabilities: testCaps(), requestHandler: () => new Promise(() => undefined) },
    });
    void pair.worker.call(diagReq('twice')).catch(() => undefined);
    expect(await closeReason(pair.router.closed)).toBe('REQUEST_ID_DUPLICATE/ID-4');
  });
  it('mutateOutgoingFrame returning null drops frames (the call then times out locally)', async () => {
    const pair = await connectedPair({
      worker: { faultHooks: { mutateOutgoingFrame: () => null } },
      router: { capabilities: testCaps(), requestHandler: echoHandler },
    });
    expect(await pair.worker.call(diagReq('lost'), { timeoutMs: 30 }).catch((e: ProtocolError) => e.code)).toBe('TIMEOUT');
    await pair.worker.close();
  });
});

describe('handler failures and close', () => {
  it('a throwing handler is answered internal "request handler failed" (thrown text never sent)', async () => {
    const { worker } = await connectedPair({
      router: {
        capabilities: testCaps(),
        requestHandler: () => {
          throw new Error('secret detail');
        },
      },
    });
    const e = (await worker.call(diagReq('x')).catch((x: unknown) => x)) as RemoteCallError;
    expect(e.rpcError).toEqual({ code: 'internal', message: 'request handler failed', retryable: false, details: null });
    await worker.close();
  });
  it('an invalid handler result is answered internal; a response too large for the negotiated limits closes (Rust rpc:1378)', async () => {
    const { worker, router } = await connectedPair({
      worker: { capabilities: testCaps({ max_packet_len: 2048 }) },
      router: {
        capabilities: testCaps(),
        requestHandler: (r) =>
          (r as { path: string }).path === 'bad'
            ? ({ status: 'ok', value: { type: 'diagnostics', body: { diagnostics: [{ severity: 'info', line: -1, column: 0, message: '' }] } } } as RpcResult)
            : echoHandler(diagReq('q'.repeat(4096)), undefined as never),
      },
    });
    const e = (await worker.call(diagReq('bad')).catch((x: unknown) => x)) as RemoteCallError;
    expect(e.rpcError.code).toBe('internal');
    const p = worker.call(diagReq('big')).catch((x: ProtocolError) => x.code);
    expect((await router.closed)?.code).toBe('PACKET_TOO_LARGE');
    expect(await p).toBe('CONNECTION_CLOSED');
  });
  it('graceful close with a peer that stopped reading finishes after gracefulCloseTimeoutMs', async () => {
    const { worker, routerStream } = await connectedPair({ duplex: { highWaterMarkBytes: 256 }, worker: { gracefulCloseTimeoutMs: 100, writeQueueMaxFrames: 1000, writeBufferHighWaterBytes: 256 } });
    routerStream.pause();
    const shard = { shard_id: 1, revision: 0n, index_generation: 0n, symbols: [{ name: 'x'.repeat(500), path: 'p', line: 0, column: 0 }] };
    for (let i = 0; i < 50; i++) void worker.notify({ type: 'cached_index', body: shard }).catch(() => undefined);
    const t0 = Date.now();
    await worker.close();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(worker.state).toBe('closed');
  });
  it('state events: awaiting_* → open → closing → closed', async () => {
    const events: EngineEvent[] = [];
    const { worker } = await connectedPair({ worker: { onEvent: (e) => events.push(e) } });
    await worker.close();
    expect(events.filter((e) => e.type === 'state').map((e) => `${(e as { from: string }).from}>${(e as { to: string }).to}`)).toEqual([
      'awaiting_welcome>open',
      'open>closing',
      'closing>closed',
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'closed', error: null });
  });
});

describe('readHandshakeFrame', () => {
  it('returns the first frame and keeps later bytes untouched, even a frame above the limit', async () => {
    const [a, b] = createMemoryDuplexPair({ async: false });
    const first = new Uint8Array([5, 0, 0, 0, 1, 2, 3, 4, 5]);
    const bigPrefix = new Uint8Array([0, 0, 0x20, 0]); // 2 MiB claimed, above the 1 MiB limit
    const all = new Uint8Array([...first, ...bigPrefix, 9, 9]);
    const p = readHandshakeFrame(b);
    a.write(all);
    const r = await p;
    expect([...r.body]).toEqual([1, 2, 3, 4, 5]);
    expect(Buffer.concat(r.leftover).toString('hex')).toBe('000020000909');
  });
  it('refuses a prefix above the limit before the body', async () => {
    const [a, b] = createMemoryDuplexPair({ async: false });
    const p = readHandshakeFrame(b, 16).catch((e: ProtocolError) => `${e.code}/${e.rule ?? ''}`);
    a.write(new Uint8Array([17, 0, 0, 0]));
    expect(await p).toBe('FRAME_TOO_LARGE/FRM-4');
  });
});

describe('property: any chopping of the byte stream gives the same conversation (seed printed above)', () => {
  it('handshake + calls both ways + a notification under random piece sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.string({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
        async (pattern, paths) => {
          const got: bigint[] = [];
          const { worker, router } = await connectedPair({
            duplex: { chopPattern: pattern },
            worker: { requestHandler: echoHandler },
            router: {
              capabilities: testCaps(),
              requestHandler: echoHandler,
              notificationHandler: (n) => void (n.type === 'cached_index' && got.push(n.body.revision)),
            },
          });
          const a = await Promise.all(paths.map((p) => worker.call(diagReq(p))));
          const b = await Promise.all(paths.map((p) => router.call(diagReq(p))));
          await worker.notify({ type: 'cached_index', body: { shard_id: 1, revision: 77n, index_generation: 0n, symbols: [] } });
          expect(a.map(diagMessage)).toEqual(paths);
          expect(b.map(diagMessage)).toEqual(paths);
          await until(() => got.length === 1);
          expect(got).toEqual([77n]);
          await worker.close();
          await router.closed;
        },
      ),
      { seed: SEED, numRuns: 25 },
    );
  });
});
