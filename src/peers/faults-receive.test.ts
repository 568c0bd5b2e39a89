/**
 * Unit tests of the receive shim (receive-shim.ts) with the receive faults of faults-receive.ts:
 * literal frames go in on the socket side; we check what reaches the engine side, what is written
 * back, and whether the socket is closed. Without the fault, the same input must pass unchanged.
 */
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { FaultHooks } from '../engine/connection.js';
import { decodeRpcPayload, decodeWireFrame, encodeRpcPayload, encodeWireFrame } from '../wire/index.js';
import type { Capabilities, RpcPayload, WireFrame } from '../wire/model.js';
import { prefixFrame } from './common.js';
import { RECEIVE_FAULTS, RECEIVE_FAULT_DEFS } from './faults-receive.js';
import { createLogger, type PeerEvent } from './log.js';
import { needsShim, wrapWithShim } from './receive-shim.js';

const CAPS: Capabilities = { max_frame_len: 4096, max_packet_len: 4096, supported_compression: ['none'], supports_cancel: false, supports_chunking: true };
const WELCOME: WireFrame = { type: 'welcome', body: { worker_id: 1, shard_id: 7, revision: 0n, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: CAPS } };
const STATS: RpcPayload = { type: 'request', body: { type: 'get_worker_stats' } };

interface Rig {
  /** Frames the engine side received (decoded bodies; undecodable ones as raw bytes). */
  received: Uint8Array[];
  written: Uint8Array[];
  events: PeerEvent[];
  inner: Duplex;
  hooks: FaultHooks;
  feed(bytes: Uint8Array): Promise<void>;
}

/** A worker-side shim: the first incoming frame is the Welcome with CAPS. */
async function rig(fault: string | null): Promise<Rig> {
  const written: Uint8Array[] = [];
  const inner = new Duplex({
    read() {},
    write(chunk: Uint8Array, _enc, cb) {
      written.push(new Uint8Array(chunk));
      cb();
    },
  });
  const events: PeerEvent[] = [];
  const log = createLogger({ role: 'worker', sink: null, onEvent: (e) => events.push(e) });
  const hooks: FaultHooks = {};
  const faults = new Set(fault ? [fault] : ['worker-accepts-id-zero']); // a no-op shim fault for the control run
  const shim = wrapWithShim(inner, faults, 'worker', hooks, log, () => CAPS.max_packet_len);
  const received: Uint8Array[] = [];
  let buf = Buffer.alloc(0);
  shim.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
      const n = buf.readUInt32LE(0);
      received.push(new Uint8Array(buf.subarray(4, 4 + n)));
      buf = buf.subarray(4 + n);
    }
  });
  shim.on('error', () => undefined);
  const r: Rig = {
    received,
    written,
    events,
    inner,
    hooks,
    async feed(bytes) {
      inner.push(bytes);
      await new Promise((res) => setImmediate(res));
    },
  };
  await r.feed(prefixFrame(encodeWireFrame(WELCOME)));
  received.length = 0;
  return r;
}

const packet = (id: bigint, payload: RpcPayload | Uint8Array): Uint8Array =>
  encodeWireFrame({ type: 'packet', body: { id, compression: 'none', data: payload instanceof Uint8Array ? payload : encodeRpcPayload(payload) } });
const chunk = (id: bigint, seq: number, last: boolean, data: Uint8Array): Uint8Array => encodeWireFrame({ type: 'packet_chunk', body: { id, compression: 'none', seq, last, data } });

describe('receive fault catalogue', () => {
  it('every suffix exists for its roles and needs the shim', () => {
    expect(RECEIVE_FAULTS).toHaveLength(RECEIVE_FAULT_DEFS.reduce((n, d) => n + (d.roles?.length ?? 2), 0));
    for (const f of RECEIVE_FAULTS) expect(needsShim(new Set([f.name]), f.role)).toBe(true);
    expect(needsShim(new Set(['worker-lax-decoder']), 'router')).toBe(false);
  });
});

describe('receive shim', () => {
  it('without a receive fault, frames pass unchanged and a zero-length frame reaches the engine', async () => {
    const r = await rig(null);
    const p = packet(2n, STATS);
    await r.feed(Buffer.concat([prefixFrame(p), prefixFrame(p)]));
    expect(r.received.map((b) => Buffer.from(b).toString('hex'))).toEqual([Buffer.from(p).toString('hex'), Buffer.from(p).toString('hex')]);
    await r.feed(new Uint8Array([0, 0, 0, 0]));
    expect(r.received).toHaveLength(3);
    expect(r.received[2]).toHaveLength(0);
  });

  it('worker-accepts-zero-length-frame skips it', async () => {
    const r = await rig('worker-accepts-zero-length-frame');
    await r.feed(Buffer.concat([new Uint8Array([0, 0, 0, 0]), prefixFrame(packet(2n, STATS))]));
    expect(r.received).toHaveLength(1);
    expect(decodeWireFrame(r.received[0]!).type).toBe('packet');
  });

  it('worker-frame-limit-off-by-one closes on a frame of exactly max_frame_len', async () => {
    const r = await rig('worker-frame-limit-off-by-one');
    const atLimit = new Uint8Array(4 + CAPS.max_frame_len);
    new DataView(atLimit.buffer).setUint32(0, CAPS.max_frame_len, true);
    await r.feed(atLimit.subarray(0, 4));
    expect(r.inner.destroyed).toBe(true);
  });

  it('worker-one-frame-per-read drops the second frame of a read', async () => {
    const r = await rig('worker-one-frame-per-read');
    await r.feed(Buffer.concat([prefixFrame(packet(2n, STATS)), prefixFrame(packet(4n, STATS))]));
    expect(r.received.map((b) => (decodeWireFrame(b) as Extract<WireFrame, { type: 'packet' }>).body.id)).toEqual([2n]);
  });

  it('worker-accepts-chunk-seq-gap renumbers seq 0, 2 as 0, 1', async () => {
    const r = await rig('worker-accepts-chunk-seq-gap');
    const d = encodeRpcPayload(STATS);
    await r.feed(Buffer.concat([prefixFrame(chunk(2n, 0, false, d.subarray(0, 4))), prefixFrame(chunk(2n, 2, true, d.subarray(4)))]));
    expect(r.received.map((b) => (decodeWireFrame(b) as Extract<WireFrame, { type: 'packet_chunk' }>).body.seq)).toEqual([0, 1]);
  });

  it('worker-lax-decoder forwards a packet with a trailing byte as the canonical frame', async () => {
    const r = await rig('worker-lax-decoder');
    const p = packet(2n, STATS);
    await r.feed(prefixFrame(Buffer.concat([p, new Uint8Array([0])])));
    expect(Buffer.from(r.received[0]!).toString('hex')).toBe(Buffer.from(p).toString('hex'));
  });

  it('worker-truncates-u64 closes on 2^64-1 and rounds 2^60+1 to 2^60', async () => {
    const r = await rig('worker-truncates-u64');
    await r.feed(prefixFrame(packet(2n, { type: 'request', body: { type: 'load_files', revision: (1n << 60n) + 1n, files: [] } })));
    const got = decodeWireFrame(r.received[0]!) as Extract<WireFrame, { type: 'packet' }>;
    expect(decodeRpcPayload(got.body.data)).toMatchObject({ body: { revision: 1n << 60n } });
    await r.feed(prefixFrame(packet(4n, { type: 'request', body: { type: 'load_files', revision: (1n << 64n) - 1n, files: [] } })));
    expect(r.inner.destroyed).toBe(true);
  });

  it('worker-strict-decoder closes on a self-describe tag, passes canonical frames', async () => {
    const r = await rig('worker-strict-decoder');
    const p = packet(2n, STATS);
    await r.feed(prefixFrame(p));
    expect(r.received).toHaveLength(1);
    await r.feed(prefixFrame(Buffer.concat([new Uint8Array([0xd9, 0xd9, 0xf7]), p])));
    expect(r.inner.destroyed).toBe(true);
  });

  it('worker-answers-notifications writes an ack for the notification id', async () => {
    const r = await rig('worker-answers-notifications');
    await r.feed(prefixFrame(packet(9n, { type: 'notification', body: { type: 'cached_index', body: { shard_id: 7, revision: 0n, index_generation: 0n, symbols: [] } } })));
    const answer = decodeWireFrame(r.written[0]!.subarray(4)) as Extract<WireFrame, { type: 'packet' }>;
    expect(answer.body.id).toBe(9n);
    expect(decodeRpcPayload(answer.body.data)).toEqual({ type: 'response', body: { status: 'ok', value: { type: 'ack' } } });
  });

  it('worker-honours-unnegotiated-cancel drops the response to the cancelled id (cancel not negotiated)', async () => {
    const r = await rig('worker-honours-unnegotiated-cancel');
    await r.feed(Buffer.concat([prefixFrame(packet(2n, STATS)), prefixFrame(packet(2n, { type: 'cancel' }))]));
    const response: WireFrame = { type: 'packet', body: { id: 2n, compression: 'none', data: encodeRpcPayload({ type: 'response', body: { status: 'ok', value: { type: 'ack' } } }) } };
    expect(r.hooks.mutateOutgoingFrame!(response)).toBeNull();
    expect(r.hooks.mutateOutgoingFrame!({ ...response, body: { ...response.body, id: 4n } })).toEqual([{ ...response, body: { ...response.body, id: 4n } }]);
  });
});
