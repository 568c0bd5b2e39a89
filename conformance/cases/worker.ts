/**
 * Worker-only cases (the harness plays the router): the Hello, what the worker does before and
 * after the Welcome, Welcome validation, the worker's answers (stats, diagnostics, index,
 * unknown requests, Shutdown), cancellation, chunked and compressed responses, and secrets.
 *
 * @module
 */
import { readFileSync, readdirSync } from 'node:fs';
import { PRE_HANDSHAKE_MAX_FRAME_BYTES, CHUNK_OVERHEAD_GUESS_BYTES, CHUNK_SHRINK_STEP_BYTES } from '../../src/limits.js';
import { encodeRpcPayload, encodeWireFrame } from '../../src/wire/index.js';
import type { RpcResult } from '../../src/wire/model.js';
import { CIndefArray, CMap, CTag, CWideUint, cbor, lengthPrefix, padTo } from '../cbor.js';
import type { CaseContext, WorkerConn } from '../context.js';
import { CANCEL, chunkFrame, encodePayload, packetFrame, rejectFrame, req, requestPayload, sourceFiles } from '../messages.js';
import { describeMessage } from '../peer.js';
import type { CaseDef } from '../registry.js';
import { describeValue } from '../transcript.js';
import { checkProbeResult, probe } from './common.js';

function w(def: Omit<CaseDef, 'role' | 'since'>): CaseDef {
  return { ...def, role: 'worker', since: '0.1.0' };
}

function welcomeValue(ctx: CaseContext, wc: WorkerConn, chosen: Record<string, unknown> = {}, extra: { body?: [string, unknown][]; caps?: [string, unknown][]; version?: unknown } = {}): CMap {
  const c = wc.hello.capabilities;
  const caps = new CMap([
    ['max_frame_len', (chosen.max_frame_len as number) ?? c.max_frame_len],
    ['max_packet_len', (chosen.max_packet_len as number) ?? c.max_packet_len],
    ['supported_compression', (chosen.supported_compression as string[]) ?? ['none']],
    ['supports_cancel', (chosen.supports_cancel as boolean) ?? c.supports_cancel],
    ['supports_chunking', (chosen.supports_chunking as boolean) ?? c.supports_chunking],
    ...((extra.caps ?? []) as [string, never][]),
  ]);
  return new CMap([
    ['type', 'welcome'],
    [
      'body',
      new CMap([
        ['worker_id', 1],
        ['shard_id', wc.hello.shard_id],
        ['revision', 0n],
        ['chosen_version', (extra.version as never) ?? { major: 3, minor: 0 }],
        ['chosen_capabilities', caps],
        ...((extra.body ?? []) as [string, never][]),
      ]),
    ],
  ]);
}

function setSession(wc: WorkerConn, chosen: { max_frame_len?: number; max_packet_len?: number; supported_compression?: string[]; supports_cancel?: boolean; supports_chunking?: boolean } = {}): void {
  const c = wc.hello.capabilities;
  wc.peer.session = {
    maxFrameBytes: chosen.max_frame_len ?? c.max_frame_len,
    maxPacketBytes: chosen.max_packet_len ?? c.max_packet_len,
    compression: chosen.supported_compression ?? ['none'],
    cancel: chosen.supports_cancel ?? c.supports_cancel,
    chunking: chosen.supports_chunking ?? c.supports_chunking,
  };
}

/** A Welcome that breaks the negotiation rules: a correct worker refuses it (closes, no packets). */
function invalidWelcome(id: string, title: string, chosen: (wc: WorkerConn) => { chosen?: Record<string, unknown>; version?: unknown } | null): CaseDef {
  return w({
    id,
    title,
    requirements: ['HS-10'],
    strength: 'SHOULD',
    faults: ['worker-accepts-invalid-welcome'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      const bad = chosen(wc);
      if (!bad) return ctx.skip("the worker offer leaves no way to break this rule");
      await wc.peer.send(welcomeValue(ctx, wc, bad.chosen ?? {}, bad.version ? { version: bad.version } : {}), 'an invalid Welcome');
      const res = await wc.peer.awaitClose(ctx.cfg.readTimeoutMs);
      const sentPackets = res.received.filter((m) => m.kind === 'payload' || (m.kind === 'frame' && (m.frame.type === 'packet' || m.frame.type === 'packet_chunk')));
      ctx.check(res.closed, '[HS-10] the worker should refuse (close after) a Welcome that breaks the negotiation rules', 'connection closed', `still open after ${Math.round(res.afterMs)} ms`, 'HS-10');
      ctx.check(sentPackets.length === 0, '[HS-10] no packets after an invalid Welcome', 'no packets', sentPackets.map(describeMessage).join('; '), 'HS-10');
    },
  });
}

async function statsOk(ctx: CaseContext, wc: WorkerConn, requirement: string): Promise<RpcResult> {
  const id = await wc.peer.request(req.stats());
  const r = await ctx.expectResponse(wc.peer, id, undefined, requirement);
  checkProbeResult(ctx, 'worker', r, requirement);
  return r;
}

const hello: CaseDef[] = [
  w({
    id: 'worker.handshake.hello-first',
    title: "the worker's first frame is a Hello for the shard it was given",
    requirements: ['HS-1', 'MSG-1'],
    strength: 'MUST',
    faults: ['worker-stall-mid-frame'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      ctx.check(wc.hello.shard_id === ctx.shard, '[HS-1] the Hello carries the configured shard', String(ctx.shard), String(wc.hello.shard_id), 'HS-1');
    },
  }),
  w({
    id: 'worker.handshake.hello-offer',
    title: 'the Hello offers version 3.0 and positive limits',
    requirements: ['VER-2', 'LIM-1', 'MSG-1', 'VER-3', 'LIM-6'],
    strength: 'MUST',
    faults: ['worker-offers-zero-limits'],
    async run(ctx) {
      const { hello: h } = await ctx.startWorker();
      const v = h.supported_versions;
      const le = (a: { major: number; minor: number }, b: { major: number; minor: number }): boolean => a.major < b.major || (a.major === b.major && a.minor <= b.minor);
      ctx.check(le(v.min, { major: 3, minor: 0 }) && le({ major: 3, minor: 0 }, v.max), '[VER-2] the offered range contains 3.0', 'min ≤ 3.0 ≤ max', `${v.min.major}.${v.min.minor} … ${v.max.major}.${v.max.minor}`, 'VER-2');
      ctx.check(le(v.min, v.max), '[VER-3] min ≤ max', 'min ≤ max', `${v.min.major}.${v.min.minor} … ${v.max.major}.${v.max.minor}`, 'VER-3');
      ctx.check(h.capabilities.max_frame_len <= 64 * 1024 * 1024 && h.capabilities.max_packet_len <= 64 * 1024 * 1024, '[LIM-6] offers of at most 64 MiB', '≤ 67108864', `${h.capabilities.max_frame_len} / ${h.capabilities.max_packet_len}`, 'LIM-6');
      ctx.check(h.capabilities.max_frame_len > 0 && h.capabilities.max_packet_len > 0, '[LIM-1] own limits are positive', '> 0', `max_frame_len ${h.capabilities.max_frame_len}, max_packet_len ${h.capabilities.max_packet_len}`, 'LIM-1');
    },
  }),
  w({
    id: 'worker.handshake.offer-sanitized',
    title: 'the offered compression list has no unknown entries and includes none',
    requirements: ['NEG-5', 'NEG-6'],
    strength: 'SHOULD',
    faults: ['worker-unsanitized-offer'],
    async run(ctx) {
      const { hello: h } = await ctx.startWorker();
      const list = h.capabilities.supported_compression;
      ctx.check(new Set(list).size === list.length, '[NEG-6] each algorithm at most once', 'no duplicates', JSON.stringify(list), 'NEG-6');
      ctx.check(!list.includes('unknown') && list.includes('none'), '[NEG-5] a sanitized offer: no unknown, none present', 'e.g. ["zstd","none"] or ["none"]', JSON.stringify(list), 'NEG-5');
    },
  }),
  w({
    id: 'worker.handshake.hello-canonical',
    title: 'the Hello is encoded canonically (definite lengths, declaration order, nulls present)',
    requirements: ['CBOR-1', 'CBOR-2', 'CBOR-3'],
    strength: 'MUST',
    faults: ['worker-noncanonical-encoding'],
    async run(ctx) {
      const wc = await ctx.startWorker({ readHello: false });
      const m = await wc.peer.next(ctx.cfg.readTimeoutMs);
      if (m.kind !== 'frame' || m.frame.type !== 'hello') return ctx.fail('[HS-1] expected a Hello', 'Hello', describeMessage(m), 'HS-1');
      const again = encodeWireFrame(m.frame);
      const same = again.length === m.body.length && again.every((b, i) => b === m.body[i]);
      ctx.check(same, '[CBOR-1] the Hello bytes must be the canonical encoding', ctx.transcript.redactor.text(Buffer.from(again).toString('hex')), ctx.transcript.redactor.text(Buffer.from(m.body).toString('hex')), 'CBOR-1');
    },
  }),
  w({
    id: 'worker.handshake.no-packet-before-welcome',
    title: 'the worker sends nothing after its Hello until the Welcome arrives',
    requirements: ['HS-8'],
    strength: 'MUST',
    faults: ['worker-packet-before-welcome'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      // HS-8 is a "stays silent" property: only a window can show it. 300 ms, but ending well
      // before the worker's own handshake timeout [HS-17] (counted from its start) could close it.
      const leftMs = ctx.ms(ctx.cfg.handshakeTimeoutMs) - (performance.now() - wc.startedAtMs);
      await ctx.expectQuiet(wc.peer, '[HS-8] no packet before the Welcome', 'HS-8', Math.min(300, Math.max(50, leftMs / 2) / ctx.cfg.timeScale));
      await ctx.welcome(wc);
      await statsOk(ctx, wc, 'HS-8');
    },
  }),
  w({
    id: 'worker.handshake.no-packet-after-reject',
    title: 'after a Reject the worker sends no packet',
    requirements: ['HS-8', 'HS-13'],
    strength: 'MUST',
    faults: ['worker-packet-before-welcome'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send(rejectFrame('unauthorized', 'authentication failed'), 'Reject unauthorized');
      const got = await wc.peer.drain(400);
      const packets = got.filter((m) => m.kind === 'payload' || (m.kind === 'frame' && m.frame.type !== 'unknown'));
      ctx.check(packets.length === 0, '[HS-8] a rejected worker sends no packets', 'nothing (or a close)', packets.map(describeMessage).join('; '), 'HS-8');
    },
  }),
  w({
    id: 'worker.handshake.welcome-unknown-keys',
    title: 'a Welcome with unknown keys at every level is accepted',
    requirements: ['FWD-1'],
    strength: 'MUST',
    faults: ['worker-rejects-unknown-keys'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send(new CMap([...welcomeValue(ctx, wc, {}, { body: [['future_field', [1, 2]]], caps: [['future_cap', 'x']] }).entries, ['future_envelope', null]]), 'Welcome with unknown keys');
      setSession(wc);
      await statsOk(ctx, wc, 'FWD-1');
    },
  }),
  w({
    id: 'worker.handshake.welcome-lenient-encoding',
    title: 'a Welcome with indefinite lengths, a tag, non-minimal integers and body before type is accepted',
    requirements: ['CBOR-10'],
    strength: 'SHOULD',
    faults: ['worker-strict-decoder'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      const c = wc.hello.capabilities;
      const body = new CMap(
        [
          ['worker_id', new CWideUint(1, 4)],
          ['shard_id', wc.hello.shard_id],
          ['revision', new CWideUint(0, 8)],
          ['chosen_version', { major: 3, minor: 0 }],
          ['chosen_capabilities', new CMap([['max_frame_len', c.max_frame_len], ['max_packet_len', c.max_packet_len], ['supported_compression', new CIndefArray(['none'])], ['supports_cancel', c.supports_cancel], ['supports_chunking', c.supports_chunking]], true)],
        ],
        true,
      );
      await wc.peer.send(new CTag(55799, new CMap([['body', body], ['type', 'welcome']])), 'lenient Welcome');
      setSession(wc);
      await statsOk(ctx, wc, 'CBOR-10');
    },
  }),
  w({
    id: 'worker.framing.welcome-at-pre-handshake-limit',
    title: 'a Welcome frame of exactly 1 MiB is accepted',
    requirements: ['FRM-4', 'FRM-3'],
    strength: 'MUST',
    faults: ['worker-frame-limit-off-by-one'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      const body = padTo(PRE_HANDSHAKE_MAX_FRAME_BYTES, (pad) => cbor(welcomeValue(ctx, wc, {}, { body: [['pad', pad]] })));
      await wc.peer.send(body, `Welcome padded to exactly ${PRE_HANDSHAKE_MAX_FRAME_BYTES} bytes`);
      setSession(wc);
      await statsOk(ctx, wc, 'FRM-4');
    },
  }),
  w({
    id: 'worker.framing.welcome-over-pre-handshake-limit',
    title: 'a Welcome prefix of 1 MiB + 1 makes the worker close without reading the body',
    requirements: ['FRM-4', 'FRM-3'],
    strength: 'MUST',
    faults: ['worker-accepts-oversize-first-frame'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.writeRaw(lengthPrefix(PRE_HANDSHAKE_MAX_FRAME_BYTES + 1), `length prefix ${PRE_HANDSHAKE_MAX_FRAME_BYTES + 1}, no body`);
      // Before the worker's handshake timeout can have fired [HS-17]: the close must come from the length check.
      await ctx.expectClosedBeforeHandshakeTimeout(wc.peer, wc.startedAtMs, 'when the Welcome length prefix exceeds the 1 MiB pre-handshake limit', 'FRM-4');
    },
  }),
  w({
    id: 'worker.handshake.unexpected-first-answer',
    title: 'a Packet instead of a Welcome ends the handshake: the worker closes',
    requirements: ['HS-14', 'HS-8'],
    strength: 'MUST',
    faults: ['worker-accepts-packet-before-welcome'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send(packetFrame(2n, encodePayload(requestPayload(req.stats()))), 'a request instead of a Welcome');
      const got = await ctx.expectClosed(wc.peer, 'when the router answers the Hello with something other than Welcome/Reject', 'HS-8');
      const answered = got.some((m) => m.kind === 'payload');
      ctx.check(!answered, '[HS-8] no packet before a Welcome', 'no response', got.map(describeMessage).join('; '), 'HS-8');
    },
  }),
  invalidWelcome('worker.handshake.refuses-welcome-above-offer', 'a Welcome choosing limits above the worker offer is refused', (wc) => ({
    chosen: { max_frame_len: wc.hello.capabilities.max_frame_len + 1, max_packet_len: wc.hello.capabilities.max_packet_len + 1 },
  })),
  invalidWelcome('worker.handshake.refuses-welcome-unoffered-version', 'a Welcome choosing a version outside the worker range is refused', () => ({ version: { major: 9, minor: 9 } })),
  invalidWelcome('worker.handshake.refuses-welcome-unoffered-compression', 'a Welcome choosing a compression the worker did not offer is refused', (wc) => {
    const offered = wc.hello.capabilities.supported_compression as string[];
    return { chosen: { supported_compression: [offered.includes('zstd') ? 'brotli' : 'zstd'] } };
  }),
  invalidWelcome('worker.handshake.refuses-welcome-unoffered-flags', 'a Welcome enabling cancel/chunking the worker did not offer is refused', (wc) =>
    wc.hello.capabilities.supports_cancel && wc.hello.capabilities.supports_chunking ? null : { chosen: { supports_cancel: true, supports_chunking: true } },
  ),
];

const data: CaseDef[] = [
  w({
    id: 'worker.data.worker-stats',
    title: 'get_worker_stats is answered with worker_stats for the worker shard',
    requirements: ['DATA-1', 'MSG-1'],
    strength: 'MUST',
    faults: ['worker-silent'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const r = await statsOk(ctx, wc, 'DATA-1');
      if (r.status === 'ok' && r.value.type === 'worker_stats') ctx.check(r.value.body.shard_id === ctx.shard, '[MSG-1] worker_stats carries the shard id', String(ctx.shard), String(r.value.body.shard_id), 'MSG-1');
    },
  }),
  w({
    id: 'worker.data.unknown-request',
    title: 'an unknown Request is answered with err invalid_request',
    requirements: ['DATA-7', 'ERR-1', 'FWD-2', 'DATA-11'],
    strength: 'MUST',
    faults: ['worker-unknown-request-not-rejected'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const id = await wc.peer.request({ type: 'future_request_kind' });
      const r = await ctx.expectResponse(wc.peer, id, undefined, 'DATA-7');
      ctx.check(r.status === 'err' && r.error.code === 'invalid_request', '[DATA-7] unknown requests get invalid_request', 'err invalid_request', describeValue(r), 'DATA-7');
      await probe(ctx, { peer: wc.peer, session: wc.session, role: 'worker' }, 'an unknown request', 'DATA-7');
    },
  }),
  w({
    id: 'worker.data.shutdown',
    title: 'Shutdown is answered with Response shutdown, then the worker closes',
    requirements: ['DATA-8'],
    strength: 'MUST',
    faults: ['worker-no-shutdown-response'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const id = await wc.peer.request(req.shutdown());
      const r = await ctx.expectResponse(wc.peer, id, undefined, 'DATA-8');
      ctx.check(r.status === 'ok' && r.value.type === 'shutdown', '[DATA-8] Shutdown is answered with shutdown', 'ok shutdown', describeValue(r), 'DATA-8');
      await ctx.expectClosed(wc.peer, 'after answering Shutdown', 'DATA-8');
    },
  }),
  w({
    id: 'worker.data.diagnostics',
    title: 'a diagnostics request is answered with a diagnostics response',
    requirements: ['MSG-3', 'DATA-1'],
    strength: 'MUST',
    faults: ['worker-silent'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const load = await wc.peer.request(req.loadFiles(1n, [{ path: 'src/A.java', text: 'class A {}\n// ERROR here\n' }]));
      await ctx.expectResponse(wc.peer, load, undefined, 'DATA-1');
      const id = await wc.peer.request(req.diagnostics('src/A.java'));
      const r = await ctx.expectResponse(wc.peer, id, undefined, 'MSG-3');
      ctx.check(r.status === 'err' || (r.status === 'ok' && r.value.type === 'diagnostics'), '[MSG-3] a diagnostics request gets a diagnostics response (or an error)', 'ok diagnostics', describeValue(r), 'MSG-3');
    },
  }),
  w({
    id: 'worker.data.index-shard',
    title: 'load_files + index_shard produce a shard_index for the worker shard; responses are encoded canonically',
    requirements: ['MSG-1', 'MSG-2', 'CBOR-4', 'CBOR-5'],
    strength: 'MUST',
    faults: ['worker-silent'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const id = await wc.peer.request(req.indexShard(7n, [{ path: 'src/B.java', text: 'package p;\nclass B {}\n  class Inner {}\n' }]));
      const m = await wc.peer.awaitResponse(id, ctx.cfg.readTimeoutMs);
      if (m.kind !== 'payload' || m.payload.type !== 'response') return ctx.fail('[DATA-1] expected a response', 'a response', describeMessage(m), 'DATA-1');
      const r = m.payload.body;
      if (r.status === 'ok' && r.value.type === 'shard_index') {
        ctx.check(r.value.body.shard_id === ctx.shard, '[MSG-1] shard_index carries the shard id', String(ctx.shard), String(r.value.body.shard_id), 'MSG-1');
      } else ctx.check(r.status === 'err', '[MSG-1] index_shard is answered with shard_index or an error', 'ok shard_index', describeValue(r), 'MSG-1');
      // Canonical encoding of the payload [CBOR-1..5]: re-encode what we decoded and compare.
      const raw = wc.peer.lastPayloadBytes.get(id);
      if (raw) {
        const again = encodeRpcPayload(m.payload);
        const same = again.length === raw.length && again.every((b, i) => b === raw[i]);
        ctx.check(same, '[CBOR-4] the response payload must be the canonical encoding', Buffer.from(again).toString('hex').slice(0, 400), Buffer.from(raw).toString('hex').slice(0, 400), 'CBOR-4');
      }
    },
  }),
  w({
    id: 'worker.data.response-within-limits',
    title: 'a response larger than max_frame_len is chunked within the limit when chunking was negotiated',
    requirements: ['CHK-1', 'FRM-5', 'NEG-4'],
    strength: 'MUST',
    needs: ['chunking'],
    faults: ['worker-oversize-frame'],
    async run(ctx) {
      const wc = await ctx.workerSession({ router: { max_frame_len: 1024 } });
      const files = sourceFiles(40, 60);
      const id = await wc.peer.request(req.indexShard(3n, files));
      const m = await wc.peer.awaitResponse(id, ctx.cfg.readTimeoutMs);
      if (m.kind !== 'payload') return ctx.fail('[CHK-1] expected the (chunked) response', 'a response', describeMessage(m), 'CHK-1');
      ctx.note(`response arrived in ${m.chunks} frame(s)`);
    },
  }),
  w({
    id: 'worker.chunking.chunk-size',
    title: 'chunk data is max(max_frame_len − 256, 1) bytes, shrunk by 128 until the frame fits',
    requirements: ['CHK-9'],
    strength: 'SHOULD',
    needs: ['chunking'],
    faults: ['worker-chunk-size-not-reference'],
    async run(ctx) {
      const frameLimit = 2048;
      const wc = await ctx.workerSession({ router: { max_frame_len: frameLimit, supported_compression: ['none'] } });
      const id = await wc.peer.request(req.indexShard(3n, sourceFiles(120, 40)));
      const first: { seq: number; len: number; compression: string }[] = [];
      for (;;) {
        const m = await wc.peer.next(ctx.cfg.readTimeoutMs);
        if (m.kind !== 'frame') return ctx.fail('[CHK-9] expected the chunked response', 'chunks', describeMessage(m), 'CHK-9');
        if (m.frame.type === 'packet' && m.frame.body.id === id) ctx.skip('the response fit in one frame; nothing to check');
        if (m.frame.type === 'packet_chunk' && m.frame.body.id === id) {
          first.push({ seq: m.frame.body.seq, len: m.frame.body.data.length, compression: m.frame.body.compression });
          if (m.frame.body.last || first.length >= 2) break;
        }
      }
      let size = Math.max(frameLimit - CHUNK_OVERHEAD_GUESS_BYTES, 1);
      while (size > 1 && cbor(chunkFrame(id, 0, false, new Uint8Array(size), first[0]!.compression)).length > frameLimit) size = Math.max(1, size - CHUNK_SHRINK_STEP_BYTES);
      if (first.length >= 2) ctx.check(first[0]!.len === size, '[CHK-9] first chunk size', `${size} data bytes`, `${first[0]!.len} data bytes`, 'CHK-9');
      else ctx.check(first[0]!.len <= size, '[CHK-9] single chunk size', `≤ ${size}`, String(first[0]!.len), 'CHK-9');
    },
  }),
  w({
    id: 'worker.compression.small-responses-uncompressed',
    title: 'responses under 1024 bytes are sent uncompressed even when zstd was negotiated',
    requirements: ['CMP-5'],
    strength: 'SHOULD',
    needs: ['zstd'],
    faults: ['worker-compresses-small-payloads'],
    async run(ctx) {
      const wc = await ctx.workerSession({ router: { supported_compression: ['zstd', 'none'] } });
      const id = await wc.peer.request(req.stats());
      const m = await wc.peer.awaitResponse(id, ctx.cfg.readTimeoutMs);
      if (m.kind !== 'payload') return ctx.fail('[DATA-1] expected a response', 'a response', describeMessage(m), 'DATA-1');
      ctx.check(m.compression === 'none', '[CMP-5] payloads below 1024 bytes are not compressed', 'compression none', m.compression, 'CMP-5');
    },
  }),
];

const cancel: CaseDef[] = [
  w({
    id: 'worker.cancel.one-terminal-response',
    title: 'a cancelled request still gets exactly one terminal response',
    requirements: ['CAN-3', 'DATA-1'],
    strength: 'MUST',
    needs: ['cancel'],
    faults: ['worker-silent', 'worker-double-response'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const id = wc.peer.nextId();
      wc.peer.outstanding.add(id);
      await wc.peer.sendBatch([packetFrame(id, encodePayload(requestPayload(req.indexShard(1n, [{ path: 'src/S.java', text: 'class S {} // SLOW\n' }])))), packetFrame(id, encodePayload(CANCEL))], `index_shard id=${id} + Cancel`);
      const r = await ctx.expectResponse(wc.peer, id, undefined, 'CAN-3');
      ctx.check(r.status === 'ok' || r.status === 'err', '[CAN-3] a terminal response', 'ok or err', describeValue(r), 'CAN-3');
      // Positive confirmation: a second terminal response would be written before the answer to a
      // later request; then a short window for anything right behind that answer.
      await probe(ctx, { peer: wc.peer, session: wc.session, role: 'worker' }, 'a cancelled request', 'CAN-3');
      await wc.peer.drain(100);
      ctx.check(wc.peer.strayResponses.length === 0, '[CAN-3] exactly one terminal response', 'one response', `extra responses ${wc.peer.strayResponses.join(', ')}`, 'CAN-3');
    },
  }),
  w({
    id: 'worker.cancel.stops-promptly',
    title: 'a cancelled long request is abandoned promptly and answered cancelled, retryable',
    requirements: ['CAN-5', 'CAN-3'],
    strength: 'SHOULD',
    needs: ['cancel'],
    faults: ['worker-ignores-cancel'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      // `SLOW` in a file makes the reference worker take ~2 s; any worker may be slow on big input.
      const id = await wc.peer.request(req.indexShard(1n, [{ path: 'src/S.java', text: 'class S {} // SLOW\n' }, ...sourceFiles(50, 2000)]));
      await ctx.sleep(50);
      await wc.peer.sendPayload(id, CANCEL);
      const sentAt = performance.now();
      const m = await wc.peer.awaitResponse(id, ctx.cfg.readTimeoutMs + 3000);
      if (m.kind !== 'payload' || m.payload.type !== 'response') return ctx.fail('[CAN-3] expected a terminal response', 'a response', describeMessage(m), 'CAN-3');
      const r = m.payload.body;
      const tookMs = performance.now() - sentAt;
      if (r.status === 'err' && r.error.code === 'cancelled') {
        ctx.check(r.error.retryable, '[CAN-5] a cancelled answer is retryable', 'retryable true', 'retryable false', 'CAN-5');
        return;
      }
      ctx.check(tookMs < ctx.ms(300), '[CAN-5] after Cancel the worker should stop and answer cancelled', 'err cancelled (retryable) soon after the Cancel', `${describeValue(r)} after ${Math.round(tookMs)} ms`, 'CAN-5');
      ctx.note(`the work finished ${Math.round(tookMs)} ms after the Cancel, before it could be abandoned`);
    },
  }),
];

const framing: CaseDef[] = [
  w({
    id: 'worker.framing.request-after-welcome-same-write',
    title: 'a Welcome and a request in one write are both handled',
    requirements: ['FRM-1', 'HS-8'],
    strength: 'MUST',
    faults: ['worker-one-frame-per-read'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      const id = wc.peer.nextId();
      wc.peer.outstanding.add(id);
      await wc.peer.sendBatch([welcomeValue(ctx, wc), packetFrame(id, encodePayload(requestPayload(req.stats())))], `Welcome + request id=${id} in one write`);
      setSession(wc);
      const r = await ctx.expectResponse(wc.peer, id, undefined, 'FRM-1');
      checkProbeResult(ctx, 'worker', r, 'FRM-1');
    },
  }),
];

const security: CaseDef[] = [
  w({
    id: 'worker.security.token-not-in-errors',
    title: 'error responses never contain the auth token',
    requirements: ['SEC-2', 'ERR-3'],
    strength: 'MUST',
    needs: ['auth'],
    faults: ['worker-error-echoes-token'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const id = await wc.peer.request({ type: 'future_request_kind' });
      const m = await wc.peer.awaitResponse(id, ctx.cfg.readTimeoutMs);
      if (m.kind !== 'payload' || m.payload.type !== 'response') return ctx.fail('[DATA-1] expected a response', 'a response', describeMessage(m), 'DATA-1');
      const text = JSON.stringify(m.payload.body);
      ctx.check(!text.includes(ctx.token!), '[SEC-2] an RpcError never contains the auth token', 'no token', '(the error contains the auth token)', 'SEC-2');
    },
  }),
  w({
    id: 'worker.security.token-not-in-output',
    title: "the worker's log output never contains the auth token (handshake, reject, errors)",
    requirements: ['SEC-2'],
    strength: 'MUST',
    needs: ['auth'],
    faults: ['worker-logs-token'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const id = await wc.peer.request({ type: 'future_request_kind' });
      await wc.peer.awaitResponse(id, ctx.cfg.readTimeoutMs);
      await wc.peer.sendPayload(0n, CANCEL);
      await wc.peer.awaitClose(1000);
      await ctx.sleep(100);
      const log = wc.instance.fullLog();
      ctx.check(!log.includes(ctx.token!), '[SEC-2] a log line never contains the auth token', 'no token in the output', '(the worker output contains the auth token)', 'SEC-2');
      if (log.length === 0) ctx.note('the worker produced no output to check');
    },
  }),
  w({
    id: 'worker.security.token-not-on-command-line',
    title: 'the auth token is not passed on the worker command line',
    requirements: ['SEC-3'],
    strength: 'SHOULD',
    needs: ['auth', 'spawn'],
    faults: ['worker-token-in-process-title'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      const cmd = wc.instance.commandLine ?? '';
      // The spawned pid is usually the shell running the command template: the worker is one of its
      // descendants, and what `ps` shows for it (its /proc cmdline, which a process title rewrites) counts.
      const procArgs = wc.instance.pid !== undefined ? processTreeCmdlines(wc.instance.pid) : [];
      const where = cmd.includes(ctx.token!) ? 'the command line' : procArgs.some((a) => a.includes(ctx.token!)) ? 'the argv (/proc/PID/cmdline) of the worker process tree' : null;
      // [SEC-3] the token never appears in the process's argv / title.
      ctx.check(where === null, '[SEC-3] tokens come from a file or the environment', 'no token in argv', `(${where ?? ''} contains the token)`, 'SEC-3');
    },
  }),
];

/** The /proc cmdlines of `pid` and all its descendants (Linux; empty elsewhere). Never printed: they may hold the token. */
function processTreeCmdlines(pid: number): string[] {
  const parentOf = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  for (const e of entries) {
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(e), ppid);
    } catch {
      /* gone meanwhile */
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length && tree.length < 1000; i++) for (const [p, pp] of parentOf) if (pp === tree[i] && !tree.includes(p)) tree.push(p);
  const out: string[] = [];
  for (const p of tree) {
    try {
      out.push(readFileSync(`/proc/${p}/cmdline`, 'latin1').replace(/\0/g, ' '));
    } catch {
      /* not on Linux or already gone */
    }
  }
  return out;
}

export const workerCases: CaseDef[] = [...hello, ...framing, ...data, ...cancel, ...security];
