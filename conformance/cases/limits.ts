/**
 * The limits tier (opt-in, `--limits`): cases that open many connections at once. They need the
 * router to themselves (the runner runs them after every other case, one at a time), and they are
 * heavy, so they never run by default.
 *
 * @module
 */
import { MAX_CONCURRENT_REASSEMBLIES, MAX_REASSEMBLY_TOTAL_BYTES, ROUTER_MAX_CONCURRENT_HANDSHAKES } from '../../src/limits.js';
import { CRaw, cbor, head, lengthPrefix } from '../cbor.js';
import type { CaseContext } from '../context.js';
import { describeMessage, type ScriptedPeer } from '../peer.js';
import type { CaseDef } from '../registry.js';
import { HarnessError } from '../registry.js';
import { both, fault, open } from './common.js';

const MiB = 1024 * 1024;
/** The chunk frames the CHK-6 case writes: at most this big (fewer frames, bounded buffering on both sides). */
const CHK6_FRAME_BYTES = 4 * MiB;
/** Slack for the chunk head (map keys, id, seq, data length) inside a frame. */
const CHUNK_HEAD_SLACK_BYTES = 96;

/** Prefix + PacketChunk body up to its data (the data bytes follow): built by the harness's own CBOR writer. */
function chunkHead(id: bigint, seq: number, dataBytes: number): Uint8Array {
  const bodyHead = cbor({ type: 'packet_chunk', body: { id, compression: 'none', seq, last: false, data: new CRaw(head(2, dataBytes)) } });
  const prefix = lengthPrefix(bodyHead.length + dataBytes);
  const out = new Uint8Array(prefix.length + bodyHead.length);
  out.set(prefix, 0);
  out.set(bodyHead, prefix.length);
  return out;
}

/**
 * Write `frames` (head + a view of one shared data buffer each) straight to the socket, waiting
 * for 'drain' under backpressure. Resolves with the bytes written, or stops early when the socket
 * closes (`closedEarly`).
 */
async function writeChunks(peer: ScriptedPeer, frames: Iterable<{ head: Uint8Array; data: Uint8Array }>): Promise<{ bytes: number; closedEarly: boolean }> {
  const s = peer.socket;
  let bytes = 0;
  for (const f of frames) {
    if (s.destroyed || s.writableEnded || peer.isClosed) return { bytes, closedEarly: true };
    s.cork();
    s.write(f.head);
    const more = s.write(f.data);
    s.uncork();
    bytes += f.head.length + f.data.length;
    if (!more) {
      const closed = await new Promise<boolean>((resolve) => {
        const done = (c: boolean) => (): void => {
          s.off('drain', onDrain);
          s.off('close', onClose);
          resolve(c);
        };
        const onDrain = done(false);
        const onClose = done(true);
        s.once('drain', onDrain);
        s.once('close', onClose);
      });
      if (closed) return { bytes, closedEarly: true };
    }
  }
  return { bytes, closedEarly: false };
}

/**
 * [CHK-6] The plan: streams of max_packet_len bytes each (never completed) until exactly 256 MiB are
 * buffered, then one more chunk that crosses the total. Every chunk is within max_frame_len, every
 * stream within max_packet_len [CHK-7], at most 32 streams [CHK-5]; null when that is impossible.
 */
function chk6Plan(maxPacketBytes: number, maxFrameBytes: number): { streams: number[]; chunkBytes: number } | null {
  const chunkBytes = Math.min(CHK6_FRAME_BYTES, maxFrameBytes) - CHUNK_HEAD_SLACK_BYTES;
  if (chunkBytes < 1) return null;
  const streams: number[] = [];
  for (let left = MAX_REASSEMBLY_TOTAL_BYTES; left > 0; left -= Math.min(left, maxPacketBytes)) streams.push(Math.min(left, maxPacketBytes));
  // The crossing chunk: into the last stream if it has room, else into a new stream.
  const lastRoom = maxPacketBytes - streams[streams.length - 1]!;
  if (lastRoom > 0) streams[streams.length - 1]! += 1;
  else streams.push(1);
  return streams.length <= MAX_CONCURRENT_REASSEMBLIES ? { streams, chunkBytes } : null;
}

async function reassemblyTotalCap(ctx: CaseContext): Promise<void> {
  const link = await open(ctx, { chunking: true, frame: CHK6_FRAME_BYTES, packet: 64 * MiB });
  const s = link.session;
  if (!s.chunking) ctx.skip('chunking was not negotiated');
  const plan = chk6Plan(s.maxPacketBytes, s.maxFrameBytes);
  if (plan === null) ctx.skip(`with max_packet_len ${s.maxPacketBytes} and max_frame_len ${s.maxFrameBytes}, 256 MiB cannot be buffered in ${MAX_CONCURRENT_REASSEMBLIES} streams`);
  const { streams, chunkBytes } = plan;
  // One data buffer, reused by every chunk (views of it): the harness never holds 256 MiB.
  const data = new Uint8Array(chunkBytes).fill(0x2e);
  const ids = streams.map(() => link.peer.nextId());
  let crossing = '';
  function* frames(): Generator<{ head: Uint8Array; data: Uint8Array }> {
    let total = 0;
    for (const [k, size] of streams.entries()) {
      for (let seq = 0, sent = 0; sent < size; seq++) {
        const n = Math.min(chunkBytes, size - sent);
        // The chunk that crosses 256 MiB is exactly 1 byte past it, so nothing after it is sent.
        const capped = total < MAX_REASSEMBLY_TOTAL_BYTES && total + n > MAX_REASSEMBLY_TOTAL_BYTES ? MAX_REASSEMBLY_TOTAL_BYTES - total : n;
        if (total + capped > MAX_REASSEMBLY_TOTAL_BYTES) crossing = `chunk seq ${seq} of stream id ${ids[k]} (${capped} bytes)`;
        yield { head: chunkHead(ids[k]!, seq, capped), data: data.subarray(0, capped) };
        sent += capped;
        total += capped;
      }
    }
  }
  ctx.transcript.note(
    link.peer.conn,
    `→ ${streams.length} chunk streams (${streams.map((b) => `${(b / MiB).toFixed(2)} MiB`).join(', ')}), never completed: ${MAX_REASSEMBLY_TOTAL_BYTES / MiB} MiB + 1 byte in chunks of up to ${chunkBytes} bytes (not recorded one by one)`,
  );
  const t0 = performance.now();
  const w = await writeChunks(link.peer, frames());
  ctx.transcript.note(link.peer.conn, `wrote ${w.bytes} bytes in ${Math.round(performance.now() - t0)} ms${w.closedEarly ? ' (the target closed first)' : ''}; the last chunk was ${crossing}`);
  // [CHK-6] up to 256 MiB buffered across reassemblies is allowed: a close before the crossing chunk is too early.
  ctx.check(!w.closedEarly, '[CHK-6] 256 MiB buffered across open reassemblies is within the limit', 'the connection stays open until the chunk that crosses 256 MiB', `closed after ${w.bytes} bytes`, 'CHK-6');
  // [CHK-6] the chunk that brings the total above 256 MiB closes the connection.
  const got = await ctx.expectClosed(link.peer, `after ${crossing}, which brings the bytes buffered across reassemblies above 256 MiB`, 'CHK-6');
  const answered = got.filter((m) => m.kind === 'payload');
  ctx.check(answered.length === 0, '[CHK-6] the open reassemblies are never processed', 'no packet before the close', answered.map(describeMessage).join('; '), 'CHK-6');
}

/**
 * Heavy cases (256 MiB through an in-process peer per run, four runs: about 2 s each against the
 * correct peers and 3.5 s against the fault on a 2-core machine). The self-test runs them unless
 * NC_SELFTEST_SKIP_HEAVY=1.
 */
export const HEAVY_CASE_IDS: ReadonlySet<string> = new Set(['router.limits.reassembly-total-cap', 'worker.limits.reassembly-total-cap']);

export const limitsCases: CaseDef[] = [
  ...both({
    id: 'limits.reassembly-total-cap',
    title: 'a chunk that brings the bytes buffered across open reassemblies above 256 MiB closes the connection',
    requirements: ['CHK-6'],
    strength: 'MUST',
    needs: ['chunking', 'limits'],
    faults: fault('no-reassembly-total-cap'),
    liveness: true,
    timeoutMs: 60_000,
    run: reassemblyTotalCap,
  }),
  {
    id: 'router.limits.response-wait-bounded',
    role: 'router',
    title: "the router bounds its wait for a worker's response: when its configured wait expires it cancels the call (or closes)",
    requirements: ['LIM-5'],
    strength: 'SHOULD',
    needs: ['stimulus', 'limits'],
    faults: ['router-waits-forever'],
    liveness: true,
    timeoutMs: 30_000,
    since: '0.1.0',
    async run(ctx) {
      const waitMs = ctx.cfg.responseWaitMs ?? ctx.skip("the router's response wait is not configured (timeouts.responseWaitMs in the target config; the reference router's is 10 min)");
      if (waitMs > 60_000) ctx.skip(`the router's response wait (${waitMs} ms) is too long to watch; configure the router with a shorter one for this run`);
      // Offer cancellation, so the expected end of the wait is a Cancel (a close is accepted too).
      const link = await open(ctx, { cancel: true });
      const done = ctx.stimulus({ shard: ctx.shard, request: 'get_worker_stats', count: 1 });
      done.catch(() => undefined);
      const first = await link.peer.nextMessage(ctx.cfg.readTimeoutMs);
      if (first.kind !== 'payload' || first.payload.type !== 'request') return ctx.fail('[LIM-5] the stimulus should make the router send a request', 'a request', describeMessage(first), 'LIM-5');
      const id = first.id;
      const t0 = performance.now();
      ctx.transcript.note(link.peer.conn, `request id=${id} is never answered; the router's response wait is ${waitMs} ms`);
      // [LIM-5] within its response wait (plus a margin) the router cancels the call, or closes the connection.
      const windowMs = waitMs + Math.max(1_000, waitMs / 5);
      const deadline = t0 + ctx.ms(windowMs);
      for (;;) {
        const left = deadline - performance.now();
        const m = left > 0 ? await link.peer.nextMessage(left / ctx.cfg.timeScale) : ({ kind: 'timeout' } as const);
        if (m.kind === 'closed') return;
        if (m.kind === 'payload' && m.payload.type === 'cancel' && m.id === id) {
          ctx.check(link.session.cancel, '[CAN-6] a Cancel only where cancellation was negotiated', 'no Cancel without negotiation', `Cancel for id ${id}`, 'CAN-6');
          ctx.note(`Cancel after ${Math.round(performance.now() - t0)} ms`);
          return;
        }
        if (m.kind === 'timeout') {
          return ctx.fail(
            `[LIM-5] the router must stop waiting for the response to id ${id} after its response wait (${waitMs} ms)`,
            `a Cancel for id ${id} or a close within ${ctx.ms(windowMs)} ms`,
            `neither after ${Math.round(performance.now() - t0)} ms`,
            'LIM-5',
          );
        }
      }
    },
  },
  {
    id: 'router.limits.handshake-cap',
    role: 'router',
    title: `with ${ROUTER_MAX_CONCURRENT_HANDSHAKES} handshakes in progress, the router closes a further connection at once`,
    requirements: ['LIM-3'],
    strength: 'SHOULD',
    needs: ['limits'],
    faults: ['router-no-handshake-cap'],
    liveness: true,
    timeoutMs: 20_000,
    since: '0.1.0',
    async run(ctx) {
      // The 128 half-open connections must all still be open when the 129th arrives, so the
      // window we watch is a fraction of the router's handshake timeout [HS-6].
      const watchMs = Math.min(2_000, Math.floor(ctx.cfg.handshakeTimeoutMs / 3));
      const held: ScriptedPeer[] = [];
      try {
        const t0 = performance.now();
        held.push(...(await Promise.all(Array.from({ length: ROUTER_MAX_CONCURRENT_HANDSHAKES }, () => ctx.connect()))));
        // No settle pause: all 128 connects completed, and a listener accepts in arrival order, so
        // the router meets the 129th only after it has accepted (and counted) the 128 before it.
        const extra = await ctx.connect();
        const r = await extra.awaitClose(watchMs);
        const elapsedMs = performance.now() - t0;
        const early = held.filter((p) => p.isClosed).length;
        if (early > 0 && r.closed) {
          throw new HarnessError(
            `${early} of the ${ROUTER_MAX_CONCURRENT_HANDSHAKES} half-open connections were closed before the check (${Math.round(elapsedMs)} ms in; handshake timeout ${ctx.cfg.handshakeTimeoutMs} ms): inconclusive`,
          );
        }
        ctx.check(
          r.closed && r.received.length === 0,
          `[LIM-3] with ${ROUTER_MAX_CONCURRENT_HANDSHAKES} handshakes in progress, connection ${ROUTER_MAX_CONCURRENT_HANDSHAKES + 1} must be closed at once without a frame`,
          `closed within ${ctx.ms(watchMs)} ms, nothing sent`,
          r.closed ? `closed after sending ${r.received.length} message(s)` : `still open after ${Math.round(r.afterMs)} ms`,
          'LIM-3',
        );
        extra.destroy();
      } finally {
        for (const p of held) p.destroy();
      }
      // The cap is on handshakes in progress: once they are gone, connections are served again
      // (the liveness check after the case proves it).
    },
  },
];
