/**
 * Rules that bind both roles the same way once the handshake is done: framing, the CBOR
 * decoder, request ids, the data plane, chunking, compression, cancellation, and what the
 * target itself sends. Each rule yields a router case and a worker case.
 *
 * @module
 */
import { zstdCompress } from '../../src/wire/index.js';
import { HARD_MAX_MESSAGE_BYTES, MAX_CONCURRENT_REASSEMBLIES } from '../../src/limits.js';
import { CIndefArray, CIndefString, CMap, CTag, CWideUint, cbor, concatBytes, framed, lengthPrefix, padTo, type CValue } from '../cbor.js';
import { CANCEL, chunkFrame, encodePayload, noiseBytes, packetFrame, req, requestPayload, sourceFiles } from '../messages.js';
import type { CaseDef } from '../registry.js';
import { describeValue } from '../transcript.js';
import { both, checkProbeResult, closes, fault, open, probe, probeRequest, tolerates, wrongParityId, type Link } from './common.js';
import type { CaseContext } from '../context.js';
import { describeMessage } from '../peer.js';

const SMALL_FRAME = 4096;

/** Our next id, registered as outstanding, without sending anything yet. */
function allocate(link: Link): bigint {
  const id = link.peer.nextId();
  link.peer.outstanding.add(id);
  return id;
}

/** Request payload bytes of the probe request. */
function probeData(): Uint8Array {
  return encodePayload(requestPayload(probeRequest()));
}

/**
 * Positive confirmation that the target is done with everything it was sent so far: a probe
 * request behind it on the same connection, and its answer (frames are handled in order, so
 * anything the target sends in reaction to earlier input, such as a second response, is written
 * before this answer). Then a short window for whatever is written right behind the answer.
 */
async function confirmProcessed(ctx: CaseContext, link: Link, after: string, requirement: string): Promise<void> {
  await probe(ctx, link, after, requirement);
  await link.peer.drain(100);
}

/**
 * What a target sends on its own after the handshake has no order relative to our input, so
 * "it never sends X" needs a window [FRM-5, DATA-4, CHK-2 …]. The window runs from the end of the
 * handshake (`sinceMs`, performance.now()) for `windowNominalMs`; a probe request goes out at once
 * (the target must answer it meanwhile) and the window lasts at least `afterAnswerNominalMs` past
 * its answer. Every frame that arrives is checked by the peer; violations fail the case.
 */
async function watchAfterHandshake(ctx: CaseContext, link: Link, sinceMs: number, windowNominalMs: number, afterAnswerNominalMs = 150): Promise<void> {
  const id = await link.peer.request(probeRequest());
  const m = await link.peer.awaitResponse(id, ctx.cfg.readTimeoutMs);
  if (m.kind === 'payload' && m.payload.type === 'response') checkProbeResult(ctx, link.role, m.payload.body);
  if (link.peer.isClosed) return;
  const leftMs = sinceMs + ctx.ms(windowNominalMs) - performance.now();
  await link.peer.drain(Math.max(afterAnswerNominalMs, leftMs / ctx.cfg.timeScale));
}

/** Send a probe request as chunks of `chunkBytes` and require its response. */
async function chunkedProbe(ctx: CaseContext, link: Link, chunkBytes: number, what: string, requirement: string): Promise<void> {
  const id = allocate(link);
  await link.peer.sendPayload(id, requestPayload(probeRequest()), { chunkDataBytes: chunkBytes });
  const r = await ctx.expectResponse(link.peer, id, undefined, requirement);
  checkProbeResult(ctx, link.role, r, requirement);
  ctx.note(what);
}

// ---------------------------------------------------------------------------- framing

const framing: CaseDef[] = [
  ...closes({
    id: 'framing.oversize-frame',
    title: 'a length prefix one byte over the negotiated max_frame_len closes the connection without reading the body',
    requirements: ['FRM-3', 'FRM-5'],
    strength: 'MUST',
    faults: fault('accepts-oversize-frame'),
    link: { frame: SMALL_FRAME },
    because: 'when a length prefix exceeds the negotiated max_frame_len (the body is never sent)',
    async provoke(_ctx, link) {
      // Only the prefix: a receiver that waits for the body instead of closing fails the deadline.
      await link.peer.writeRaw(lengthPrefix(link.session.maxFrameBytes + 1), `length prefix ${link.session.maxFrameBytes + 1} (limit ${link.session.maxFrameBytes}), no body`);
    },
  }),
  ...both({
    id: 'framing.frame-at-limit',
    faults: { router: ['router-frame-limit-off-by-one'], worker: ['worker-frame-limit-off-by-one'] },
    title: 'a frame of exactly the negotiated max_frame_len is accepted',
    requirements: ['FRM-3'],
    strength: 'MUST',
    async run(ctx) {
      const link = await open(ctx, { frame: SMALL_FRAME });
      const limit = link.session.maxFrameBytes;
      const id = allocate(link);
      const data = probeData();
      // Unknown key `pad` in the Packet body [FWD-1] brings the body to exactly the limit.
      const body = padTo(limit, (pad) => cbor({ type: 'packet', body: { id, compression: 'none', data, pad } }));
      await link.peer.send(body, `packet id=${id} padded to exactly ${limit} bytes`);
      const r = await ctx.expectResponse(link.peer, id, undefined, 'FRM-3');
      checkProbeResult(ctx, link.role, r, 'FRM-3');
    },
  }),
  ...closes({
    id: 'framing.zero-length-frame',
    faults: { router: ['router-accepts-zero-length-frame'], worker: ['worker-accepts-zero-length-frame'] },
    title: 'a zero-length frame closes the connection',
    requirements: ['FRM-2'],
    strength: 'MUST',
    because: 'after a zero-length frame',
    async provoke(_ctx, link) {
      await link.peer.writeRaw(lengthPrefix(0), 'zero-length frame');
    },
  }),
  ...closes({
    id: 'framing.hard-cap',
    faults: { router: ['router-no-hard-cap'], worker: ['worker-no-hard-cap'] },
    title: 'a length prefix above 64 MiB closes the connection whatever was negotiated',
    requirements: ['FRM-7', 'FRM-6'],
    strength: 'MUST',
    because: 'when a length prefix exceeds the 64 MiB hard cap',
    async provoke(_ctx, link) {
      await link.peer.writeRaw(lengthPrefix(HARD_MAX_MESSAGE_BYTES + 1), `length prefix ${HARD_MAX_MESSAGE_BYTES + 1}, no body`);
    },
  }),
  ...closes({
    id: 'framing.undecodable-frame',
    faults: { router: ['router-ignores-undecodable-frame'], worker: ['worker-ignores-undecodable-frame'] },
    silent: true,
    title: 'a frame that is not CBOR closes the connection',
    requirements: ['FRM-1', 'DATA-5', 'DATA-13'],
    strength: 'MUST',
    because: 'after a frame whose body is not CBOR',
    async provoke(_ctx, link) {
      await link.peer.send(new Uint8Array(16).fill(0xff), '16 bytes of 0xff');
    },
  }),
  ...tolerates({
    id: 'framing.byte-by-byte',
    faults: fault('one-frame-per-read'),
    title: 'a frame delivered one byte per write is reassembled',
    requirements: ['FRM-1', 'TRN-8'],
    strength: 'MUST',
    // ~60 writes 2 ms apart, each waiting for its completion: one of the longest cases on a loaded
    // machine, so a larger budget (the runner also starts the cases with larger budgets first).
    timeoutMs: 20_000,
    what: 'a request delivered one byte at a time',
    async send(ctx, link) {
      const id = allocate(link);
      const bytes = framed(cbor(packetFrame(id, probeData())));
      link.peer.outstanding.delete(id);
      for (let i = 0; i < bytes.length; i++) {
        // Not waiting for each write's completion callback (writes stay in order on the socket):
        // the 2 ms gap alone spaces them, one event-loop turn per byte instead of two.
        void link.peer.writeRaw(bytes.subarray(i, i + 1), i === 0 ? `packet id=${id} in ${bytes.length} one-byte writes, 2 ms apart` : '…');
        // Space the writes so the target's reads cannot coalesce them (as a slow link would deliver them).
        if (i + 1 < bytes.length) await ctx.sleep(2);
      }
      const r = await ctx.expectResponse(link.peer, id, undefined, 'FRM-1');
      checkProbeResult(ctx, link.role, r, 'FRM-1');
    },
  }),
];

// ---------------------------------------------------------------------------- CBOR decoder

function packetWith(link: Link, fields: (id: bigint, data: Uint8Array) => CValue): { id: bigint; body: Uint8Array } {
  const id = link.peer.nextId();
  return { id, body: cbor(fields(id, probeData())) };
}

const cborCases: CaseDef[] = [
  ...closes({
    id: 'cbor.trailing-bytes',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'bytes after the top-level item close the connection',
    requirements: ['CBOR-6'],
    strength: 'MUST',
    because: 'after a frame with a byte after its CBOR item',
    async provoke(_ctx, link) {
      const { id, body } = packetWith(link, (i, d) => packetFrame(i, d));
      await link.peer.send(concatBytes([body, new Uint8Array([0x00])]), `packet id=${id} + 1 trailing byte`);
    },
  }),
  ...closes({
    id: 'cbor.duplicate-key',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a map with the same key twice closes the connection',
    requirements: ['CBOR-7'],
    strength: 'MUST',
    because: 'after a Packet whose body map repeats the key `id`',
    async provoke(_ctx, link) {
      const { id, body } = packetWith(link, (i, d) => new CMap([['type', 'packet'], ['body', new CMap([['id', i], ['id', i], ['compression', 'none'], ['data', d]])]]));
      await link.peer.send(body, `packet id=${id} with a duplicate key`);
    },
  }),
  ...closes({
    id: 'cbor.too-deep',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'nesting deeper than 64 closes the connection',
    requirements: ['CBOR-7'],
    strength: 'MUST',
    because: 'after a frame nested 70 levels deep',
    async provoke(_ctx, link) {
      let deep: CValue = 0;
      for (let i = 0; i < 70; i++) deep = [deep];
      const { id, body } = packetWith(link, (i, d) => ({ type: 'packet', body: { id: i, compression: 'none', data: d, x_deep: deep } }));
      await link.peer.send(body, `packet id=${id} with an unknown key nested 70 deep`);
    },
  }),
  ...closes({
    id: 'cbor.long-map-key',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a map key longer than 64 bytes closes the connection',
    requirements: ['CBOR-7'],
    strength: 'MUST',
    because: 'after a map key of 65 bytes',
    async provoke(_ctx, link) {
      const { id, body } = packetWith(link, (i, d) => new CMap([['type', 'packet'], ['body', new CMap([['id', i], ['compression', 'none'], ['data', d], ['k'.repeat(65), 1]])]]));
      await link.peer.send(body, `packet id=${id} with a 65-byte key`);
    },
  }),
  ...closes({
    id: 'cbor.non-text-key',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a map key that is not a text string closes the connection',
    requirements: ['CBOR-7'],
    strength: 'MUST',
    because: 'after a map with an integer key',
    async provoke(_ctx, link) {
      const { id, body } = packetWith(link, (i, d) => new CMap([['type', 'packet'], ['body', new CMap([['id', i], ['compression', 'none'], ['data', d], [7, 1]])]]));
      await link.peer.send(body, `packet id=${id} with an integer map key`);
    },
  }),
  ...closes({
    id: 'cbor.too-many-map-pairs',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a map of more than 1024 pairs closes the connection',
    requirements: ['CBOR-7'],
    strength: 'MUST',
    because: 'after a map with 1025 pairs',
    async provoke(_ctx, link) {
      const entries: [CValue, CValue][] = [['id', 0n], ['compression', 'none'], ['data', probeData()]];
      const { id, body } = packetWith(link, (i) => {
        entries[0] = ['id', i];
        for (let k = 0; entries.length < 1025; k++) entries.push([`u${k}`, 0]);
        return new CMap([['type', 'packet'], ['body', new CMap(entries)]]);
      });
      await link.peer.send(body, `packet id=${id} whose body map has 1025 pairs`);
    },
  }),
  ...closes({
    id: 'cbor.length-exceeds-input',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a declared length larger than the remaining bytes closes the connection',
    requirements: ['CBOR-8', 'FRM-6', 'CBOR-15'],
    strength: 'MUST',
    because: 'after a byte string header claiming 1,000,000,000 bytes inside a small frame',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      // {type: packet, body: {id, compression, data: <bytes header 0x5a 1e9>}} with no payload bytes.
      const head = cbor(new CMap([['type', 'packet'], ['body', new CMap([['id', id], ['compression', 'none'], ['data', new CWideUint(0, 1)]])]]));
      const lie = concatBytes([head.subarray(0, head.length - 2), new Uint8Array([0x5a, 0x3b, 0x9a, 0xca, 0x00])]);
      await link.peer.send(lie, `packet id=${id} whose data header claims 1e9 bytes`);
    },
  }),
  ...closes({
    id: 'cbor.tag-string-cap',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a `type` string longer than 64 bytes closes the connection',
    requirements: ['CBOR-9'],
    strength: 'MUST',
    because: 'after a frame whose `type` is 65 bytes long',
    async provoke(_ctx, link) {
      await link.peer.send({ type: 'x'.repeat(65) }, 'frame with a 65-byte type');
    },
  }),
  ...closes({
    id: 'cbor.small-string-cap',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a `path` longer than 16 KiB closes the connection',
    requirements: ['CBOR-9'],
    strength: 'MUST',
    because: 'after a diagnostics request whose path is 16 KiB + 1 bytes',
    async provoke(_ctx, link) {
      await link.peer.request(req.diagnostics('p'.repeat(16 * 1024 + 1)));
    },
  }),
  ...closes({
    id: 'cbor.unit-variant-with-body',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a unit variant with a non-null body closes the connection',
    requirements: ['CBOR-12', 'DATA-5'],
    strength: 'MUST',
    because: 'after a payload {type: cancel, body: {}}',
    async provoke(_ctx, link) {
      await link.peer.sendPayload(link.peer.nextId(), { type: 'cancel', body: {} });
    },
  }),
  ...closes({
    id: 'cbor.struct-variant-without-body',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a struct variant without a body closes the connection',
    requirements: ['CBOR-12'],
    strength: 'MUST',
    because: 'after a frame {type: packet} with no body',
    async provoke(_ctx, link) {
      await link.peer.send({ type: 'packet' }, '{type: packet} without body');
    },
  }),
  ...tolerates({
    id: 'cbor.unknown-keys',
    faults: { router: ['router-rejects-unknown-keys'], worker: ['worker-rejects-unknown-keys'] },
    title: 'unknown map keys are ignored at every level',
    requirements: ['FWD-1'],
    strength: 'MUST',
    what: 'unknown keys in the frame, packet and request maps',
    async send(ctx, link) {
      const id = allocate(link);
      const data = cbor({ type: 'request', body: { type: 'get_worker_stats', future_field: 1 }, future_envelope: [1, 2] });
      await link.peer.send({ type: 'packet', body: { id, compression: 'none', data, future_packet_field: 'x' }, future_frame_field: true }, `packet id=${id} with unknown keys at three levels`);
      const r = await ctx.expectResponse(link.peer, id, undefined, 'FWD-1');
      checkProbeResult(ctx, link.role, r, 'FWD-1');
    },
  }),
  ...tolerates({
    id: 'cbor.lenient-encodings',
    faults: { router: ['router-strict-decoder'], worker: ['worker-strict-decoder'] },
    title: 'indefinite lengths, non-minimal integers, tags, body-before-type and bytes-as-array are accepted',
    requirements: ['CBOR-10'],
    strength: 'SHOULD',
    what: 'a request with lenient encodings',
    async send(ctx, link) {
      const id = allocate(link);
      const inner = cbor(new CMap([['body', new CMap([['type', new CIndefString(['get_', 'worker_stats'], true)]], true)], ['type', 'request']], true));
      const frame = new CTag(
        55799,
        new CMap([
          ['body', new CMap([['id', new CWideUint(id, 8)], ['compression', 'none'], ['data', new CIndefArray([...inner].map((b) => b))]], true)],
          ['type', 'packet'],
        ]),
      );
      await link.peer.send(frame, `packet id=${id}: self-describe tag, indefinite maps, 8-byte id, data as an array of u8, body before type`);
      const r = await ctx.expectResponse(link.peer, id, undefined, 'CBOR-10');
      checkProbeResult(ctx, link.role, r, 'CBOR-10');
    },
  }),
];

// ---------------------------------------------------------------------------- request ids

const ids: CaseDef[] = [
  ...closes({
    id: 'ids.wrong-parity',
    silent: true,
    title: 'an incoming Request with the wrong id parity closes the connection',
    requirements: ['ID-3', 'DATA-13'],
    strength: 'MUST',
    faults: fault('accepts-wrong-parity'),
    because: "after a Request carrying the target's own id parity",
    async provoke(_ctx, link) {
      await link.peer.sendPayload(wrongParityId(link.peer), requestPayload(probeRequest()));
    },
  }),
  ...closes({
    id: 'ids.zero-packet',
    silent: true,
    title: 'a Packet with id 0 closes the connection',
    requirements: ['ID-2', 'DATA-13'],
    strength: 'MUST',
    faults: fault('accepts-id-zero'),
    because: 'after a Packet with id 0',
    async provoke(_ctx, link) {
      await link.peer.sendPayload(0n, requestPayload(probeRequest()));
    },
  }),
  ...closes({
    id: 'ids.zero-chunk',
    title: 'a PacketChunk with id 0 closes the connection',
    requirements: ['ID-2'],
    strength: 'MUST',
    needs: ['chunking'],
    faults: fault('accepts-id-zero'),
    because: 'after a PacketChunk with id 0',
    async provoke(_ctx, link) {
      await link.peer.sendPayload(0n, requestPayload(probeRequest()), { chunkDataBytes: 8 });
    },
  }),
  ...closes({
    id: 'ids.duplicate-in-flight',
    title: 'a Request whose id is already in flight closes the connection',
    requirements: ['ID-4'],
    strength: 'MUST',
    faults: fault('accepts-duplicate-id'),
    because: 'after two Requests with the same id back to back',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      // A slow request first (so it is surely still in flight), then the duplicate, in one write.
      const slow = requestPayload(req.indexShard(1n, sourceFiles(200, 200)));
      await link.peer.sendBatch([packetFrame(id, encodePayload(slow)), packetFrame(id, probeData())], `two Requests with id ${id} in one write`);
    },
  }),
  ...both({
    id: 'ids.own-parity',
    title: 'requests and notifications the target sends use its own parity, never 0, never an id in flight',
    requirements: ['ID-1', 'ID-2', 'ID-6', 'ID-8'],
    strength: 'MUST',
    faults: { router: ['router-wrong-parity', 'router-id-zero', 'router-reuse-inflight-id'], worker: ['worker-wrong-parity', 'worker-id-zero', 'worker-reuse-inflight-id'] },
    async run(ctx) {
      const link = await open(ctx);
      const since = performance.now();
      if (link.role === 'router' && ctx.hasStimulus) {
        const done = ctx.stimulus({ shard: ctx.shard, request: 'get_worker_stats', count: 3 });
        const seen: bigint[] = [];
        while (seen.length < 3) {
          const m = await link.peer.nextMessage(ctx.cfg.readTimeoutMs);
          if (m.kind !== 'payload') return ctx.fail('[ID-1] the router did not send the stimulated requests', '3 requests', describeMessage(m), 'ID-1');
          if (m.payload.type === 'request') seen.push(m.id);
        }
        for (const id of seen) await link.peer.respond(id, { status: 'ok', value: { type: 'worker_stats', body: { shard_id: ctx.shard, revision: 0n, index_generation: 0n, file_count: 0 } } });
        await done;
        ctx.check(new Set(seen).size === seen.length, '[ID-4] concurrent requests must use distinct ids', 'distinct ids', seen.join(', '), 'ID-1');
        return;
      }
      // Without a stimulus: watch what the target sends on its own for 500 ms after the handshake
      // (checked by the peer's id rules), answering a request meanwhile.
      await watchAfterHandshake(ctx, link, since, 500);
    },
  }),
];

// ---------------------------------------------------------------------------- data plane

const data: CaseDef[] = [
  ...both({
    id: 'data.one-response-per-request',
    title: 'each Request gets exactly one Response with the same id',
    requirements: ['DATA-1', 'ERR-1'],
    strength: 'MUST',
    faults: { router: ['router-double-response'], worker: ['worker-silent', 'worker-double-response'] },
    async run(ctx) {
      const link = await open(ctx);
      const id = await link.peer.request(probeRequest());
      const r = await ctx.expectResponse(link.peer, id);
      checkProbeResult(ctx, link.role, r);
      // A second response to `id` would be written before the answer to a later request.
      await confirmProcessed(ctx, link, 'a first request', 'DATA-1');
      ctx.check(
        link.peer.strayResponses.length === 0,
        '[DATA-1] a request must get exactly one terminal response',
        `one response for id ${id}`,
        `extra responses for ids ${link.peer.strayResponses.join(', ')}`,
      );
    },
  }),
  ...both({
    id: 'data.multiplexed',
    title: 'eight requests in flight at once each get their own response',
    requirements: ['DATA-9', 'DATA-1'],
    strength: 'MUST',
    faults: { router: ['router-double-response'], worker: ['worker-silent', 'worker-double-response'] },
    async run(ctx) {
      const link = await open(ctx);
      const frames: Uint8Array[] = [];
      const idsSent: bigint[] = [];
      for (let i = 0; i < 8; i++) {
        const id = allocate(link);
        idsSent.push(id);
        frames.push(cbor(packetFrame(id, probeData())));
      }
      await link.peer.sendBatch(frames, `8 requests ids ${idsSent.join(',')} in one write`);
      for (const id of idsSent) checkProbeResult(ctx, link.role, await ctx.expectResponse(link.peer, id, undefined, 'DATA-9'), 'DATA-9');
      await confirmProcessed(ctx, link, 'eight concurrent requests', 'DATA-1');
      ctx.check(link.peer.strayResponses.length === 0, '[DATA-1] exactly one response per request', 'no extra responses', `extra responses for ${link.peer.strayResponses.join(', ')}`);
    },
  }),
  ...closes({
    id: 'data.packet-too-large',
    faults: { router: ['router-accepts-oversize-packet'], worker: ['worker-accepts-oversize-packet'] },
    title: 'a Packet whose data exceeds max_packet_len closes the connection',
    requirements: ['DATA-4'],
    strength: 'MUST',
    link: { packet: 1024 },
    because: 'after a Packet with data of max_packet_len + 1 bytes',
    async provoke(_ctx, link) {
      const n = link.session.maxPacketBytes + 1;
      const data = concatBytes([probeData(), new Uint8Array(n - probeData().length)]);
      await link.peer.sendPayload(link.peer.nextId(), {}, { data });
    },
  }),
  ...closes({
    id: 'data.undecodable-payload',
    faults: { router: ['router-ignores-undecodable-frame'], worker: ['worker-ignores-undecodable-frame'] },
    title: 'a Packet whose inner payload does not decode closes the connection',
    requirements: ['DATA-5'],
    strength: 'MUST',
    because: 'after a Packet whose data is not an RpcPayload',
    async provoke(_ctx, link) {
      await link.peer.sendPayload(link.peer.nextId(), {}, { data: cbor({ type: 'request', body: { type: 'load_files', revision: 'not-a-number' } }) });
    },
  }),
  ...tolerates({
    id: 'data.unknown-frame-ignored',
    warmup: true,
    title: 'an unknown WireFrame variant (no body) is ignored after the handshake',
    requirements: ['DATA-6', 'FWD-2'],
    strength: 'SHOULD',
    faults: fault('crash-on-unknown-variant'),
    what: 'an unknown WireFrame variant',
    async send(_ctx, link) {
      await link.peer.send({ type: 'future_frame_kind' });
      await link.peer.send({ type: 'another_future_kind', body: null });
    },
  }),
  ...tolerates({
    id: 'data.unknown-payload-ignored',
    warmup: true,
    title: 'an unknown RpcPayload variant (no body) is ignored',
    requirements: ['DATA-6'],
    strength: 'SHOULD',
    faults: fault('crash-on-unknown-variant'),
    what: 'an unknown RpcPayload variant',
    async send(_ctx, link) {
      await link.peer.sendPayload(link.peer.nextId(), { type: 'future_payload_kind' });
    },
  }),
  ...tolerates({
    id: 'data.unknown-notification-ignored',
    warmup: true,
    title: 'an unknown Notification variant (no body) is ignored',
    requirements: ['DATA-6'],
    strength: 'SHOULD',
    faults: fault('crash-on-unknown-variant'),
    what: 'an unknown Notification variant',
    async send(_ctx, link) {
      await link.peer.sendPayload(link.peer.nextId(), { type: 'notification', body: { type: 'future_notification_kind' } });
    },
  }),
  ...tolerates({
    id: 'data.response-for-unknown-id-ignored',
    faults: { router: ['router-closes-on-unknown-response'], worker: ['worker-closes-on-unknown-response'] },
    title: 'a Response for an id that is not in flight is ignored',
    requirements: ['DATA-3'],
    strength: 'SHOULD',
    what: 'a Response for an unknown id',
    async send(_ctx, link) {
      await link.peer.sendPayload(link.peer.plays === 'worker' ? 4002n : 4001n, { type: 'response', body: { status: 'ok', value: { type: 'ack' } } });
    },
  }),
  ...closes({
    id: 'data.handshake-frame-after-handshake',
    faults: { router: ['router-accepts-second-hello'], worker: ['worker-accepts-second-hello'] },
    title: 'a Hello, Welcome or Reject after the handshake closes the connection',
    requirements: ['HS-7'],
    strength: 'MUST',
    because: 'after a second handshake frame',
    async provoke(ctx, link) {
      if (link.role === 'router') await link.peer.send({ type: 'hello', body: ctx.hello() }, 'second Hello');
      else
        await link.peer.send(
          { type: 'welcome', body: { worker_id: 1, shard_id: ctx.shard, revision: 0n, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: { max_frame_len: link.session.maxFrameBytes, max_packet_len: link.session.maxPacketBytes, supported_compression: link.session.compression, supports_cancel: link.session.cancel, supports_chunking: link.session.chunking } } },
          'second Welcome',
        );
    },
  }),
];

// ---------------------------------------------------------------------------- chunking

const chunking: CaseDef[] = [
  ...tolerates({
    id: 'chunking.reassembles',
    faults: { router: ['router-rejects-chunks'], worker: ['worker-rejects-chunks'] },
    title: 'a request sent as PacketChunks is reassembled and answered',
    requirements: ['CHK-8', 'CHK-3', 'CHK-12'],
    strength: 'MUST',
    needs: ['chunking'],
    what: 'a chunked request',
    async send(ctx, link) {
      await chunkedProbe(ctx, link, 7, 'request sent in 7-byte chunks', 'CHK-8');
    },
  }),
  ...tolerates({
    id: 'chunking.interleaved',
    faults: { router: ['router-rejects-chunks'], worker: ['worker-rejects-chunks'] },
    title: 'chunks of different ids may interleave',
    requirements: ['CHK-8'],
    strength: 'MUST',
    needs: ['chunking'],
    what: 'two interleaved chunk streams',
    async send(ctx, link) {
      const a = allocate(link);
      const b = allocate(link);
      const fa = link.peer.packetFrames(a, requestPayload(probeRequest()), { chunkDataBytes: 6 });
      const fb = link.peer.packetFrames(b, requestPayload(probeRequest()), { chunkDataBytes: 6 });
      const mixed: Uint8Array[] = [];
      for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
        if (fa[i]) mixed.push(fa[i]!);
        if (fb[i]) mixed.push(fb[i]!);
      }
      await link.peer.sendBatch(mixed, `chunks of ids ${a} and ${b} interleaved (${mixed.length} frames)`);
      checkProbeResult(ctx, link.role, await ctx.expectResponse(link.peer, a, undefined, 'CHK-8'), 'CHK-8');
      checkProbeResult(ctx, link.role, await ctx.expectResponse(link.peer, b, undefined, 'CHK-8'), 'CHK-8');
    },
  }),
  ...closes({
    id: 'chunking.not-negotiated',
    title: 'a PacketChunk when chunking was not negotiated closes the connection',
    requirements: ['CHK-2'],
    strength: 'MUST',
    faults: fault('accepts-unnegotiated-chunks'),
    link: { chunking: false },
    because: 'after a PacketChunk on a connection without chunking',
    async provoke(_ctx, link) {
      await link.peer.sendPayload(link.peer.nextId(), requestPayload(probeRequest()), { chunkDataBytes: 8 });
    },
  }),
  ...closes({
    id: 'chunking.seq-gap',
    faults: { router: ['router-accepts-chunk-seq-gap'], worker: ['worker-accepts-chunk-seq-gap'] },
    title: 'chunks with seq 0 then 2 close the connection',
    requirements: ['CHK-3'],
    strength: 'MUST',
    needs: ['chunking'],
    because: 'after a chunk sequence gap',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      const d = probeData();
      await link.peer.sendBatch([chunkFrame(id, 0, false, d.subarray(0, 4)), chunkFrame(id, 2, true, d.subarray(4))], `chunks id=${id} seq 0, 2`);
    },
  }),
  ...closes({
    id: 'chunking.seq-starts-at-one',
    faults: { router: ['router-accepts-chunk-seq-gap'], worker: ['worker-accepts-chunk-seq-gap'] },
    title: 'a chunk stream starting at seq 1 closes the connection',
    requirements: ['CHK-3'],
    strength: 'MUST',
    needs: ['chunking'],
    because: 'after a chunk stream that starts at seq 1',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      await link.peer.send(chunkFrame(id, 1, true, probeData()), `chunk id=${id} seq 1 last`);
    },
  }),
  ...closes({
    id: 'chunking.seq-repeated',
    faults: { router: ['router-accepts-chunk-seq-gap'], worker: ['worker-accepts-chunk-seq-gap'] },
    title: 'a repeated chunk seq closes the connection',
    requirements: ['CHK-3'],
    strength: 'MUST',
    needs: ['chunking'],
    because: 'after chunks with seq 0, 0',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      const d = probeData();
      await link.peer.sendBatch([chunkFrame(id, 0, false, d.subarray(0, 4)), chunkFrame(id, 0, true, d.subarray(4))], `chunks id=${id} seq 0, 0`);
    },
  }),
  ...closes({
    id: 'chunking.compression-changed',
    faults: { router: ['router-accepts-chunk-compression-change'], worker: ['worker-accepts-chunk-compression-change'] },
    title: 'a change of compression inside one chunk stream closes the connection',
    requirements: ['CHK-4'],
    strength: 'MUST',
    needs: ['chunking', 'zstd'],
    link: { compression: ['zstd', 'none'] },
    because: 'after chunks of one id with compression none then zstd',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      const d = probeData();
      await link.peer.sendBatch([chunkFrame(id, 0, false, d.subarray(0, 4), 'none'), chunkFrame(id, 1, true, d.subarray(4), 'zstd')], `chunks id=${id}: none then zstd`);
    },
  }),
  ...both({
    id: 'chunking.32-streams',
    faults: { router: ['router-max-31-streams'], worker: ['worker-max-31-streams'] },
    title: '32 concurrent chunk streams are accepted',
    requirements: ['CHK-5', 'CHK-8'],
    strength: 'MUST',
    needs: ['chunking'],
    timeoutMs: 15_000,
    async run(ctx) {
      const link = await open(ctx);
      const streams = Array.from({ length: MAX_CONCURRENT_REASSEMBLIES }, () => {
        const id = allocate(link);
        return { id, frames: link.peer.packetFrames(id, requestPayload(probeRequest()), { chunkDataBytes: Math.ceil(probeData().length / 2) }) };
      });
      await link.peer.sendBatch(streams.map((s) => s.frames[0]!), '32 first chunks (32 open streams)');
      await link.peer.sendBatch(streams.flatMap((s) => s.frames.slice(1)), 'the remaining chunks of all 32 streams');
      for (const s of streams) checkProbeResult(ctx, link.role, await ctx.expectResponse(link.peer, s.id, undefined, 'CHK-5'), 'CHK-5');
    },
  }),
  ...closes({
    id: 'chunking.33-streams',
    faults: { router: ['router-accepts-33-streams'], worker: ['worker-accepts-33-streams'] },
    title: 'a 33rd concurrent chunk stream closes the connection',
    requirements: ['CHK-5'],
    strength: 'MUST',
    needs: ['chunking'],
    because: 'when a 33rd chunk stream opens',
    async provoke(_ctx, link) {
      const firsts: Uint8Array[] = [];
      for (let i = 0; i <= MAX_CONCURRENT_REASSEMBLIES; i++) firsts.push(cbor(chunkFrame(link.peer.nextId(), 0, false, probeData().subarray(0, 4))));
      await link.peer.sendBatch(firsts, '33 first chunks, none finished');
    },
  }),
  ...closes({
    id: 'chunking.reassembled-too-large',
    faults: { router: ['router-accepts-oversize-reassembly'], worker: ['worker-accepts-oversize-reassembly'] },
    title: 'a reassembled packet larger than max_packet_len closes the connection',
    requirements: ['CHK-7'],
    strength: 'MUST',
    needs: ['chunking'],
    link: { packet: 1024 },
    because: 'when chunks of one id add up to more than max_packet_len',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      const n = link.session.maxPacketBytes;
      const frames = [chunkFrame(id, 0, false, new Uint8Array(600)), chunkFrame(id, 1, false, new Uint8Array(600)), chunkFrame(id, 2, true, new Uint8Array(Math.max(0, n - 1200 + 1)))];
      await link.peer.sendBatch(frames, `chunks id=${id} totalling more than ${n} bytes`);
    },
  }),
];

// ---------------------------------------------------------------------------- compression

const compression: CaseDef[] = [
  ...tolerates({
    id: 'compression.zstd-accepted',
    faults: { router: ['router-rejects-zstd'], worker: ['worker-rejects-zstd'] },
    title: 'a zstd-compressed request is decompressed and answered when zstd was negotiated',
    requirements: ['NEG-4', 'CMP-1'],
    strength: 'MUST',
    needs: ['zstd'],
    link: { compression: ['zstd', 'none'] },
    what: 'a zstd request',
    async send(ctx, link) {
      const id = allocate(link);
      const payload = requestPayload(req.diagnostics(`src/${'a'.repeat(2000)}.java`));
      await link.peer.sendPayload(id, payload, { compression: 'zstd', data: zstdCompress(encodePayload(payload)) });
      const r = await ctx.expectResponse(link.peer, id, undefined, 'NEG-4');
      ctx.check(r.status !== 'unknown', '[ERR-1] a response is ok or err', 'ok or err', describeValue(r), 'ERR-1');
    },
  }),
  ...tolerates({
    id: 'compression.none-always-accepted',
    faults: { router: ['router-rejects-unnegotiated-none'], worker: ['worker-rejects-unnegotiated-none'] },
    title: 'compression none is accepted even when only zstd was negotiated',
    requirements: ['CMP-3'],
    strength: 'MUST',
    needs: ['zstd'],
    link: { compression: ['zstd'] },
    what: 'an uncompressed packet on a zstd-only connection',
    async send(ctx, link) {
      if (link.session.compression.includes('none')) ctx.note(`the chosen compression list includes none (${link.session.compression.join(',')}); the check is weaker`);
    },
  }),
  ...closes({
    id: 'compression.unknown-name',
    faults: { router: ['router-accepts-unnegotiated-compression'], worker: ['worker-accepts-unnegotiated-compression'] },
    title: 'a Packet with an unknown compression name closes the connection',
    requirements: ['CMP-2', 'FWD-2'],
    strength: 'MUST',
    because: 'after a Packet with compression "brotli"',
    async provoke(_ctx, link) {
      await link.peer.sendPayload(link.peer.nextId(), requestPayload(probeRequest()), { compression: 'brotli' });
    },
  }),
  ...closes({
    id: 'compression.literal-unknown',
    faults: { router: ['router-accepts-unnegotiated-compression'], worker: ['worker-accepts-unnegotiated-compression'] },
    title: 'a Packet with compression "unknown" closes the connection',
    requirements: ['CMP-2'],
    strength: 'MUST',
    because: 'after a Packet with compression "unknown"',
    async provoke(_ctx, link) {
      await link.peer.sendPayload(link.peer.nextId(), requestPayload(probeRequest()), { compression: 'unknown' });
    },
  }),
  ...closes({
    id: 'compression.not-negotiated',
    faults: { router: ['router-accepts-unnegotiated-compression'], worker: ['worker-accepts-unnegotiated-compression'] },
    title: 'a zstd Packet when zstd was not negotiated closes the connection',
    requirements: ['CMP-2'],
    strength: 'MUST',
    needs: [],
    link: { compression: ['none'] },
    because: 'after a zstd Packet on a connection that negotiated only none',
    async provoke(_ctx, link) {
      const payload = requestPayload(probeRequest());
      // Valid zstd bytes if we have a backend; the receiver must refuse before decompressing anyway.
      let data: Uint8Array;
      try {
        data = zstdCompress(encodePayload(payload));
      } catch {
        data = encodePayload(payload);
      }
      await link.peer.sendPayload(link.peer.nextId(), payload, { compression: 'zstd', data });
    },
  }),
  ...closes({
    id: 'compression.bomb',
    warmup: true,
    title: 'decompression stops and closes as soon as output exceeds max_packet_len',
    requirements: ['CMP-4'],
    strength: 'MUST',
    needs: ['zstd'],
    faults: fault('accepts-zstd-bomb'),
    link: { compression: ['zstd', 'none'], packet: 65536 },
    because: 'after a zstd packet that inflates to 10 MiB on a connection with max_packet_len 65536',
    async provoke(_ctx, link) {
      // ~10 KB on the wire, 10 MiB inflated: a capped decoder stops after 64 KiB + one step and closes.
      const data = zstdCompress(new Uint8Array(10 * 1024 * 1024));
      await link.peer.sendPayload(link.peer.nextId(), {}, { compression: 'zstd', data });
    },
  }),
  ...closes({
    id: 'compression.malformed-zstd',
    faults: { router: ['router-ignores-malformed-zstd'], worker: ['worker-ignores-malformed-zstd'] },
    title: 'malformed zstd data closes the connection',
    requirements: ['CMP-6'],
    strength: 'MUST',
    needs: ['zstd'],
    link: { compression: ['zstd', 'none'] },
    because: 'after a zstd Packet whose data is not a zstd frame',
    async provoke(_ctx, link) {
      await link.peer.sendPayload(link.peer.nextId(), {}, { compression: 'zstd', data: noiseBytes(64) });
    },
  }),
];

// ---------------------------------------------------------------------------- cancellation

const cancel: CaseDef[] = [
  ...tolerates({
    id: 'cancel.unknown-id-ignored',
    faults: { router: ['router-closes-on-unknown-cancel'], worker: ['worker-closes-on-unknown-cancel'] },
    title: 'a Cancel for an unknown id is ignored',
    requirements: ['CAN-4', 'CAN-9'],
    strength: 'SHOULD',
    needs: ['cancel'],
    what: 'a Cancel for an id that was never used',
    async send(ctx, link) {
      const id = link.peer.plays === 'worker' ? 9999n : 9998n;
      await link.peer.sendPayload(id, CANCEL);
      // The probe behind the Cancel is handled after it: an answer to the Cancel would come first.
      await probe(ctx, link, 'a Cancel for an unknown id', 'CAN-4');
      const answered = link.peer.backlog.filter((m) => m.id === id);
      ctx.check(answered.length === 0, '[CAN-9] a Cancel is never answered', `nothing for id ${id}`, answered.map(describeMessage).join('; '), 'CAN-9');
    },
  }),
  ...tolerates({
    id: 'cancel.not-negotiated-ignored',
    faults: { router: ['router-honours-unnegotiated-cancel'], worker: ['worker-honours-unnegotiated-cancel'] },
    title: 'a Cancel when cancel was not negotiated is ignored (no close, no response)',
    requirements: ['CAN-2'],
    strength: 'MUST',
    link: { cancel: false },
    what: 'a Cancel on a connection without cancel',
    async send(ctx, link) {
      const id = allocate(link);
      await link.peer.sendBatch([packetFrame(id, probeData()), packetFrame(id, encodePayload(CANCEL))], `request id=${id} and a Cancel for it`);
      const r = await ctx.expectResponse(link.peer, id, undefined, 'CAN-2');
      checkProbeResult(ctx, link.role, r, 'CAN-2');
      await confirmProcessed(ctx, link, 'a request and a Cancel for it', 'CAN-2');
      ctx.check(link.peer.strayResponses.length === 0, '[CAN-2] an unnegotiated Cancel gets no response', 'no extra response', `extra responses ${link.peer.strayResponses.join(', ')}`, 'CAN-2');
    },
  }),
];

// ---------------------------------------------------------------------------- what the target sends

/** Observe everything the target sends after the handshake (and on a request) under the given settings. */
function observe(spec: { id: string; title: string; requirements: string[]; suffix: string[]; link: Parameters<typeof open>[1] }): CaseDef[] {
  return both({
    id: spec.id,
    title: spec.title,
    requirements: spec.requirements,
    strength: 'MUST',
    faults: { router: spec.suffix.map((s) => `router-${s}`), worker: spec.suffix.map((s) => `worker-${s}`) },
    async run(ctx) {
      const link = await open(ctx, spec.link);
      // 450 ms after the handshake, a request answered meanwhile (the answer is written under the
      // same settings), and at least 150 ms after that answer.
      await watchAfterHandshake(ctx, link, performance.now(), 450);
    },
  });
}

const sender: CaseDef[] = [
  ...observe({ id: 'sender.frame-limit', title: 'the target never writes a frame above the negotiated max_frame_len', requirements: ['FRM-5'], suffix: ['oversize-frame'], link: { frame: SMALL_FRAME } }),
  ...observe({ id: 'sender.packet-limit', title: 'the target never sends packet data above max_packet_len', requirements: ['DATA-4', 'DATA-18'], suffix: ['oversize-packet'], link: { packet: 2048 } }),
  ...observe({ id: 'sender.valid-frames', title: 'every frame the target sends is one valid message, written contiguously', requirements: ['FRM-1', 'FRM-10', 'DATA-10', 'FWD-6'], suffix: ['garbage-after-welcome'], link: {} }),
  ...observe({ id: 'sender.chunk-sequence', title: 'chunks the target sends are numbered 0, 1, 2 … with one compression', requirements: ['CHK-3', 'CHK-4', 'CHK-14'], suffix: ['chunk-out-of-sequence', 'chunk-compression-change'], link: {} }),
  ...observe({ id: 'sender.no-unnegotiated-chunks', title: 'the target never sends PacketChunks when chunking was not negotiated', requirements: ['CHK-1', 'CHK-2'], suffix: ['chunk-without-negotiation'], link: { chunking: false } }),
  ...observe({ id: 'sender.no-unnegotiated-compression', title: 'the target uses only none or a negotiated compression', requirements: ['CMP-1', 'CMP-2'], suffix: ['zstd-not-negotiated', 'unknown-compression'], link: { compression: ['none'] } }),
  ...observe({ id: 'sender.no-second-handshake', title: 'the target sends no Hello/Welcome/Reject after the handshake', requirements: ['HS-7'], suffix: ['second-hello-after-handshake'], link: {} }),
];

export const sharedCases: CaseDef[] = [...framing, ...cborCases, ...ids, ...data, ...chunking, ...compression, ...cancel, ...sender];
