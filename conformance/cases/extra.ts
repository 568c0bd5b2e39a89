/**
 * Cases for the requirements the spec chapters added beyond the seed: truncated frames, UTF-8,
 * well-formedness, integer ranges and types, required fields, the legacy v2 hello, reject texts,
 * worker handshake edge cases, response pairing, oversize responses, notifications, empty chunks,
 * zstd checksums and windows, exact token comparison, exact variant names.
 *
 * @module
 */
import { REJECT_MESSAGES } from '../../src/engine/negotiation.js';
import { zstdCompress } from '../../src/wire/index.js';
import { CMap, CRaw, cbor, concatBytes, lengthPrefix, type CValue } from '../cbor.js';
import type { CaseContext, WorkerConn } from '../context.js';
import { CANCEL, chunkFrame, encodePayload, packetFrame, req, requestPayload, sourceFiles } from '../messages.js';
import { describeMessage, type ScriptedPeer } from '../peer.js';
import type { CaseDef } from '../registry.js';
import { describeValue } from '../transcript.js';
import { both, checkProbeResult, closes, fault, open, probe, probeRequest, tolerates, type Link } from './common.js';

const U64_MAX = (1n << 64n) - 1n;

function r(def: Omit<CaseDef, 'role' | 'since'>): CaseDef {
  return { ...def, role: 'router', since: '0.1.0' };
}
function w(def: Omit<CaseDef, 'role' | 'since'>): CaseDef {
  return { ...def, role: 'worker', since: '0.1.0' };
}

function probeData(): Uint8Array {
  return encodePayload(requestPayload(probeRequest()));
}

async function expectNoWelcome(ctx: CaseContext, peer: ScriptedPeer, because: string, requirement: string): Promise<void> {
  const got = await ctx.expectClosed(peer, because, requirement);
  ctx.check(!got.some((m) => m.kind === 'frame' && m.frame.type === 'welcome'), `[${requirement}] no Welcome`, 'no Welcome', got.map(describeMessage).join('; '), requirement);
}

/** A Welcome map for the worker's offer with fields overridden. */
function welcomeWith(wc: WorkerConn, body: Partial<Record<'worker_id' | 'shard_id' | 'revision', CValue>>): CMap {
  const c = wc.hello.capabilities;
  return new CMap([
    ['type', 'welcome'],
    [
      'body',
      new CMap([
        ['worker_id', body.worker_id ?? 1],
        ['shard_id', body.shard_id ?? wc.hello.shard_id],
        ['revision', body.revision ?? 0n],
        ['chosen_version', { major: 3, minor: 0 }],
        ['chosen_capabilities', { max_frame_len: c.max_frame_len, max_packet_len: c.max_packet_len, supported_compression: ['none'], supports_cancel: c.supports_cancel, supports_chunking: c.supports_chunking }],
      ]),
    ],
  ]);
}

function setPlainSession(wc: WorkerConn): void {
  const c = wc.hello.capabilities;
  wc.peer.session = { maxFrameBytes: c.max_frame_len, maxPacketBytes: c.max_packet_len, compression: ['none'], cancel: c.supports_cancel, chunking: c.supports_chunking };
}

// ---------------------------------------------------------------------------- both roles

const shared: CaseDef[] = [
  ...both({
    id: 'framing.truncated-frame-discarded',
    title: 'a frame cut off by the end of the stream is discarded unprocessed, and the connection is closed',
    requirements: ['FRM-8'],
    strength: 'MUST',
    faults: { router: ['router-processes-truncated-frame', 'router-stays-open-after-truncated-frame'], worker: ['worker-processes-truncated-frame', 'worker-stays-open-after-truncated-frame'] },
    async run(ctx) {
      const link = await open(ctx);
      const id = link.peer.nextId();
      // A complete, valid request (routers answer it too: invalid_request without a handler [DATA-11]),
      // under a prefix that claims 8 bytes more: the partial frame holds a decodable item, so a
      // receiver that flushes its parser at end of stream would serve it.
      const bytes = cbor(packetFrame(id, encodePayload(requestPayload(probeRequest()))));
      await link.peer.writeRaw(concatBytes([lengthPrefix(bytes.length + 8), bytes]), `length prefix ${bytes.length + 8} + the ${bytes.length} bytes of a get_worker_stats request id=${id}, then FIN`);
      // End our side (FIN) and keep reading: the target must neither answer nor keep the connection open.
      link.peer.socket.end();
      // [FRM-8] the connection is closed after a truncated stream.
      const got = await ctx.expectClosed(link.peer, 'after the stream ended inside a frame', 'FRM-8');
      const answered = got.filter((m) => m.kind === 'payload' && m.id === id);
      // [FRM-8] the partial frame is never processed.
      ctx.check(answered.length === 0, '[FRM-8] a partial frame is never processed', `no response for id ${id}`, answered.map(describeMessage).join('; '), 'FRM-8');
    },
  }),
  ...closes({
    id: 'cbor.invalid-utf8',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a text string that is not valid UTF-8 closes the connection',
    requirements: ['CBOR-14'],
    strength: 'MUST',
    because: 'after a diagnostics request whose path is not UTF-8',
    async provoke(_ctx, link) {
      const data = cbor(new CMap([['type', 'request'], ['body', new CMap([['type', 'diagnostics'], ['path', new CRaw(new Uint8Array([0x63, 0x61, 0xff, 0xfe]))]])]]));
      await link.peer.sendPayload(link.peer.nextId(), {}, { data });
    },
  }),
  ...closes({
    id: 'cbor.not-well-formed',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'reserved additional information (0x1c) closes the connection',
    requirements: ['CBOR-16', 'CBOR-15'],
    strength: 'MUST',
    because: 'after a frame containing the reserved initial byte 0x1c',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      await link.peer.send(new CMap([['type', 'packet'], ['body', new CMap([['id', id], ['compression', 'none'], ['data', probeData()], ['x', new CRaw(new Uint8Array([0x1c]))]])]]), `packet id=${id} with a reserved 0x1c item`);
    },
  }),
  ...tolerates({
    id: 'cbor.unit-variant-null-body',
    faults: { router: ['router-strict-decoder'], worker: ['worker-strict-decoder'] },
    title: 'a unit variant with "body": null is accepted like one without body',
    requirements: ['CBOR-13', 'CAN-4'],
    strength: 'SHOULD',
    what: 'a Cancel written as {type: cancel, body: null} for an unknown id',
    async send(_ctx, link) {
      await link.peer.sendPayload(link.peer.plays === 'worker' ? 7001n : 7002n, { type: 'cancel', body: null });
    },
  }),
  ...tolerates({
    id: 'schema.u64-max',
    faults: { router: ['router-truncates-u64'], worker: ['worker-truncates-u64'] },
    title: 'a u64 field carries 2^64 − 1 exactly',
    requirements: ['MSG-4'],
    strength: 'MUST',
    what: 'a load_files request with revision 2^64 − 1',
    async send(ctx, link) {
      const id = await link.peer.request(req.loadFiles(U64_MAX, [{ path: 'src/Max.java', text: 'class Max {}\n' }]));
      const res = await ctx.expectResponse(link.peer, id, undefined, 'MSG-4');
      if (link.role === 'worker') ctx.check(res.status === 'ok', '[MSG-4] load_files with revision 2^64-1 is accepted', 'ok ack', describeValue(res), 'MSG-4');
    },
  }),
  ...closes({
    id: 'schema.wrong-type',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a field of the wrong CBOR type closes the connection',
    requirements: ['MSG-5'],
    strength: 'MUST',
    because: 'after a Packet whose id is a text string',
    async provoke(_ctx, link) {
      await link.peer.send({ type: 'packet', body: { id: '5', compression: 'none', data: probeData() } }, 'packet with id "5" (text)');
    },
  }),
  ...closes({
    id: 'schema.missing-required-field',
    faults: { router: ['router-lax-decoder'], worker: ['worker-lax-decoder'] },
    title: 'a message missing a required field closes the connection',
    requirements: ['MSG-6'],
    strength: 'MUST',
    because: 'after a Packet without compression',
    async provoke(_ctx, link) {
      const id = link.peer.nextId();
      await link.peer.send({ type: 'packet', body: { id, data: probeData() } }, `packet id=${id} without compression`);
    },
  }),
  ...both({
    id: 'data.notification-not-answered',
    title: 'a notification gets no response',
    requirements: ['DATA-17'],
    strength: 'MUST',
    faults: { router: ['router-answers-notifications'], worker: ['worker-answers-notifications'] },
    async run(ctx) {
      const link = await open(ctx);
      const id = link.peer.nextId();
      await link.peer.sendPayload(id, { type: 'notification', body: { type: 'cached_index', body: { shard_id: ctx.shard, revision: 0n, index_generation: 0n, symbols: [] } } });
      const got = await link.peer.drain(300);
      const answered = got.filter((m) => m.kind === 'payload' && m.id === id && m.payload.type === 'response');
      ctx.check(answered.length === 0, '[DATA-17] a notification is never answered', `no response for id ${id}`, answered.map(describeMessage).join('; '), 'DATA-17');
      if (!link.peer.isClosed) await probe(ctx, link, 'a notification');
    },
  }),
  ...tolerates({
    id: 'chunking.empty-chunks',
    faults: { router: ['router-rejects-empty-chunks'], worker: ['worker-rejects-empty-chunks'] },
    title: 'chunks with empty data are accepted',
    requirements: ['CHK-11', 'CHK-12'],
    strength: 'MUST',
    needs: ['chunking'],
    what: 'a chunked request with empty chunks',
    async send(ctx, link) {
      const id = link.peer.nextId();
      link.peer.outstanding.add(id);
      const d = probeData();
      await link.peer.sendBatch(
        [chunkFrame(id, 0, false, new Uint8Array(0)), chunkFrame(id, 1, false, d.subarray(0, 5)), chunkFrame(id, 2, false, new Uint8Array(0)), chunkFrame(id, 3, true, d.subarray(5))],
        `chunks id=${id}: empty, 5 bytes, empty, rest (last)`,
      );
      checkProbeResult(ctx, link.role, await ctx.expectResponse(link.peer, id, undefined, 'CHK-11'), 'CHK-11');
    },
  }),
  ...closes({
    id: 'compression.bad-checksum',
    faults: { router: ['router-ignores-zstd-checksum'], worker: ['worker-ignores-zstd-checksum'] },
    title: 'a zstd frame whose content checksum does not match closes the connection',
    requirements: ['CMP-7'],
    strength: 'MUST',
    needs: ['zstd'],
    link: { compression: ['zstd', 'none'] },
    because: 'after a zstd frame with a wrong content checksum',
    async provoke(_ctx, link) {
      const z = zstdCompress(probeData());
      // Set Content_Checksum_flag (bit 2 of the frame header descriptor) and append a wrong checksum.
      const bad = concatBytes([z, new Uint8Array([0xde, 0xad, 0xbe, 0xef])]);
      bad[4] = (bad[4]! | 0x04) & 0xff;
      if ((z[4]! & 0x04) !== 0) bad.set([0xde, 0xad, 0xbe, 0xef], z.length - 4);
      await link.peer.sendPayload(link.peer.nextId(), {}, { compression: 'zstd', data: bad.subarray(0, (z[4]! & 0x04) !== 0 ? z.length : bad.length) });
    },
  }),
  ...closes({
    id: 'compression.huge-window',
    title: 'a zstd frame declaring a window above 128 MiB is refused before allocating',
    requirements: ['CMP-8'],
    strength: 'SHOULD',
    needs: ['zstd'],
    link: { compression: ['zstd', 'none'] },
    faults: fault('accepts-huge-zstd-window'),
    because: 'after a zstd frame whose window descriptor asks for 2^41 bytes',
    async provoke(_ctx, link) {
      // The frame carries a valid request, so only the window can be the reason to close: a peer that
      // allocates the window would serve it.
      const data = probeData();
      const blockHeader = (data.length << 3) | 1; // last block, raw (type 0), size
      // magic, FHD 0x00 (window descriptor present, no FCS, no checksum), window descriptor 0xf8 (exponent 31), one raw last block.
      const frame = concatBytes([
        new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, blockHeader & 0xff, (blockHeader >> 8) & 0xff, (blockHeader >> 16) & 0xff]),
        data,
      ]);
      await link.peer.sendPayload(link.peer.nextId(), {}, { compression: 'zstd', data: frame });
    },
  }),
  ...both({
    id: 'forward.exact-variant-names',
    title: 'variant names are case-sensitive: "Packet" is not a packet',
    requirements: ['FWD-4'],
    strength: 'MUST',
    faults: { router: ['router-case-insensitive-variants'], worker: ['worker-case-insensitive-variants'] },
    async run(ctx) {
      const link = await open(ctx);
      const id = link.peer.nextId();
      await link.peer.send({ type: 'Packet', body: { id, compression: 'none', data: probeData() } }, `{type: "Packet"} carrying a request id=${id}`);
      // Positive confirmation instead of a fixed window: the same request, correctly framed, right
      // behind it on the same connection. Frames are handled in order, so by the time the probe is
      // answered an answer to "Packet" would have been sent too (closing instead is allowed [FWD-5]).
      const probeId = await link.peer.request(probeRequest());
      const m = await link.peer.awaitResponse(probeId, ctx.cfg.readTimeoutMs);
      const later = m.kind === 'payload' ? await link.peer.drain(100) : [];
      const answered = [...link.peer.backlog, ...later].filter((x) => x.kind === 'payload' && x.id === id);
      ctx.check(answered.length === 0, '[FWD-4] "Packet" must not be processed as a packet', `no response for id ${id}`, answered.map(describeMessage).join('; '), 'FWD-4');
    },
  }),
  ...tolerates({
    id: 'forward.unknown-variant-with-body',
    title: 'an unknown frame / payload variant with a non-null body is ignored',
    requirements: ['FWD-5', 'DATA-6'],
    strength: 'SHOULD',
    faults: fault('closes-on-unknown-variant-with-body'),
    warmup: true,
    what: 'unknown variants carrying a body',
    async send(_ctx, link) {
      // [FWD-5] an unknown WireFrame, RpcPayload and Notification variant, each with a non-null body.
      await link.peer.send({ type: 'future_frame_kind', body: { x: 1 } });
      await link.peer.sendPayload(link.peer.nextId(), { type: 'future_payload_kind', body: [1, 2, 3] });
      await link.peer.sendPayload(link.peer.nextId(), { type: 'notification', body: { type: 'future_notification_kind', body: { x: 1 } } });
    },
  }),
];

// ---------------------------------------------------------------------------- router only

// [HS-16] the reject table (one copy, src/engine/negotiation.ts), filled in with the Hellos sent below
const REJECT_TEXT: Record<string, (ctx: CaseContext) => string> = {
  limits: () => REJECT_MESSAGES.limits(0, 67108864),
  auth: () => REJECT_MESSAGES.auth(),
  version: () => REJECT_MESSAGES.version(),
  compression: () => REJECT_MESSAGES.compression(),
  unknown: (ctx) => REJECT_MESSAGES.unknownShard(ctx.cfg.unknownShard),
};

const router: CaseDef[] = [
  r({
    id: 'router.handshake.u32-overflow',
    title: 'a Hello whose shard_id exceeds u32 is refused',
    requirements: ['MSG-4', 'HS-3'],
    strength: 'MUST',
    faults: ['router-lax-decoder'],
    liveness: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const h = ctx.hello();
      // 2^32 + this case's (accepted) shard: a decoder that wraps to u32 would welcome it.
      const shardId = 0x1_0000_0000 + ctx.shard;
      await peer.send({ type: 'hello', body: { ...h, shard_id: shardId } }, `Hello with shard_id 2^32 + ${ctx.shard}`);
      await expectNoWelcome(ctx, peer, 'after a Hello whose shard_id does not fit a u32', 'MSG-4');
    },
  }),
  r({
    id: 'router.handshake.hello-wrong-type',
    title: 'a Hello with a boolean given as an integer is refused',
    requirements: ['MSG-5', 'HS-3'],
    strength: 'MUST',
    faults: ['router-lax-decoder'],
    liveness: true,
    async run(ctx) {
      const peer = await ctx.connect();
      const h = ctx.hello();
      await peer.send({ type: 'hello', body: { ...h, capabilities: { ...h.capabilities, supports_cancel: 1 } } }, 'Hello with supports_cancel: 1');
      await expectNoWelcome(ctx, peer, 'after a Hello with a mistyped field', 'MSG-5');
    },
  }),
  r({
    id: 'router.handshake.legacy-v2-hello',
    title: 'a legacy v2 hello gets the v2 error frame "router only supports v3", then the connection closes',
    requirements: ['HS-12'],
    strength: 'SHOULD',
    faults: ['router-no-legacy-v2-error'],
    liveness: true,
    async run(ctx) {
      const peer = await ctx.connect();
      peer.tolerateInvalidFrames = true;
      await peer.send(new Uint8Array([0x00, ctx.shard & 0xff, (ctx.shard >> 8) & 0xff, 0, 0, 0x00, 0x00]), 'legacy v2 WorkerHello (tag 0, shard, no token, no cache)');
      const m = await peer.next(ctx.cfg.readTimeoutMs);
      const want = '0c17000000726f75746572206f6e6c7920737570706f727473207633';
      const got = m.kind === 'invalid' && m.body ? Buffer.from(m.body).toString('hex') : describeMessage(m);
      ctx.check(got === want, '[HS-12] the legacy error frame', want, got, 'HS-12');
      await ctx.expectClosed(peer, 'after the legacy error frame', 'HS-12');
    },
  }),
  r({
    id: 'router.handshake.reject-messages',
    title: 'Reject messages are the texts of the reject table',
    requirements: ['HS-16'],
    strength: 'SHOULD',
    faults: ['router-nonstandard-reject-texts'],
    async run(ctx) {
      const tries: [string, Parameters<CaseContext['hello']>[0]][] = [
        ['limits', { capabilities: { max_frame_len: 0 } }],
        ['version', { min: { major: 4, minor: 0 }, max: { major: 4, minor: 0 } }],
        ['compression', { capabilities: { supported_compression: ['brotli'] } }],
        ['unknown', { shard_id: ctx.cfg.unknownShard }],
        ...(ctx.token ? ([['auth', { auth_token: 'not-the-token' }]] as [string, Parameters<CaseContext['hello']>[0]][]) : []),
      ];
      const wrong: string[] = [];
      for (const [what, init] of tries) {
        const peer = await ctx.connect();
        const h = ctx.hello(init);
        await peer.send({ type: 'hello', body: h }, `hello (${what} check fails)`);
        const m = await peer.next(ctx.cfg.readTimeoutMs);
        if (m.kind !== 'frame' || m.frame.type !== 'reject') return ctx.fail('[HS-5] expected a Reject', 'Reject', describeMessage(m), 'HS-5');
        const want = REJECT_TEXT[what]!(ctx);
        if (m.frame.body.message !== want) wrong.push(`${what}: "${m.frame.body.message}" (table: "${want}")`);
        peer.destroy();
      }
      ctx.check(wrong.length === 0, '[HS-16] Reject messages follow the reject table', 'the table texts', wrong.join('; '), 'HS-16');
    },
  }),
  r({
    id: 'router.security.token-exact-comparison',
    title: 'tokens differing only by case, surrounding space or a trailing newline are rejected; an empty token is not an absent one',
    requirements: ['SEC-5', 'SEC-1'],
    strength: 'MUST',
    needs: ['auth'],
    faults: ['router-accepts-bad-token'],
    liveness: true,
    async run(ctx) {
      const t = ctx.token!;
      const variants = [
        ['trailing space', `${t} `],
        ['leading space', ` ${t}`],
        ['trailing newline', `${t}\n`],
        ['case changed', t.toUpperCase() === t ? t.toLowerCase() : t.toUpperCase()],
        ['empty', ''],
      ].filter(([, v]) => v !== t) as [string, string][];
      for (const [what, v] of variants) {
        ctx.transcript.redactor.add(v.trim());
        const peer = await ctx.connect();
        await peer.send({ type: 'hello', body: ctx.hello({ auth_token: v }) }, `hello with the token (${what})`);
        const m = await peer.next(ctx.cfg.readTimeoutMs);
        const ok = m.kind === 'frame' && m.frame.type === 'reject' && m.frame.body.code === 'unauthorized';
        ctx.check(ok, `[SEC-5] a token with ${what} must be rejected unauthorized`, 'Reject unauthorized', describeMessage(m), 'SEC-5');
        peer.destroy();
      }
    },
  }),
  r({
    id: 'router.security.token-ignored-without-auth',
    title: 'a router with no token configured welcomes a Hello that carries one',
    requirements: ['SEC-7'],
    strength: 'MUST',
    needs: ['no-auth'],
    faults: ['router-rejects-token-without-auth'],
    async run(ctx) {
      const peer = await ctx.connect();
      await peer.send({ type: 'hello', body: ctx.hello({ auth_token: 'some-token-the-router-does-not-expect' }) });
      const m = await peer.next(ctx.cfg.readTimeoutMs);
      ctx.check(m.kind === 'frame' && m.frame.type === 'welcome', '[SEC-7] the token is ignored without auth', 'Welcome', describeMessage(m), 'SEC-7');
    },
  }),
  r({
    id: 'router.data.wrong-shard-notification',
    title: 'a cached_index notification for another shard disconnects the worker',
    requirements: ['DATA-14'],
    strength: 'SHOULD',
    faults: ['router-ignores-wrong-shard-notification'],
    liveness: true,
    async run(ctx) {
      const { peer } = await ctx.session();
      await peer.sendPayload(peer.nextId(), { type: 'notification', body: { type: 'cached_index', body: { shard_id: ctx.shard + 1000, revision: 0n, index_generation: 0n, symbols: [] } } });
      await ctx.expectClosed(peer, 'after a cached_index notification for another shard', 'DATA-14');
    },
  }),
  r({
    id: 'router.data.unhandled-request',
    title: 'a request the router does not handle is answered invalid_request, not retryable',
    requirements: ['DATA-11', 'ERR-4'],
    strength: 'SHOULD',
    faults: ['router-unhandled-request-retryable'],
    async run(ctx) {
      const { peer } = await ctx.session();
      const id = await peer.request(req.indexShard(1n, []));
      const res = await ctx.expectResponse(peer, id, Math.max(ctx.cfg.readTimeoutMs, 1500), 'DATA-11');
      if (res.status === 'ok') return ctx.note('the router handles index_shard requests; nothing to check');
      ctx.check(res.status === 'err' && res.error.code === 'invalid_request' && !res.error.retryable, '[DATA-11] no handler → invalid_request, retryable false', 'err invalid_request retryable=false', describeValue(res), 'DATA-11');
    },
  }),
  r({
    id: 'router.data.mismatched-response',
    title: 'a response of the wrong variant (ack to get_worker_stats) fails that call',
    requirements: ['DATA-20'],
    strength: 'SHOULD',
    needs: ['stimulus'],
    faults: ['router-accepts-mismatched-response'],
    async run(ctx) {
      const { peer } = await ctx.session();
      const done = ctx.stimulus({ shard: ctx.shard, request: 'get_worker_stats', count: 1 });
      const m = await peer.nextMessage(ctx.cfg.readTimeoutMs);
      if (m.kind !== 'payload' || m.payload.type !== 'request') return ctx.fail('expected the stimulated request', 'a request', describeMessage(m), 'DATA-20');
      await peer.respond(m.id, { status: 'ok', value: { type: 'ack' } });
      const res = await done;
      ctx.check(!res.ok, '[DATA-20] an ack to get_worker_stats must fail the call', 'the call fails', res.detail, 'DATA-20');
    },
  }),
  r({
    id: 'router.cancel.none-unless-negotiated',
    title: 'a router does not send Cancel when cancel was not negotiated',
    requirements: ['CAN-6'],
    strength: 'SHOULD',
    needs: ['stimulus'],
    faults: ['router-cancel-without-negotiation'],
    async run(ctx) {
      const { peer } = await ctx.session({ capabilities: { supports_cancel: false } });
      const done = ctx.stimulus({ shard: ctx.shard, request: 'get_worker_stats', count: 1, cancel: true });
      const got = await peer.drain(400);
      for (const m of got) if (m.kind === 'payload' && m.payload.type === 'request') await peer.respond(m.id, { status: 'ok', value: { type: 'worker_stats', body: { shard_id: ctx.shard, revision: 0n, index_generation: 0n, file_count: 0 } } });
      await done;
    },
  }),
];

// ---------------------------------------------------------------------------- worker only

const worker: CaseDef[] = [
  w({
    id: 'worker.handshake.u32-overflow',
    title: 'a Welcome whose worker_id exceeds u32 is refused',
    requirements: ['MSG-4', 'HS-14'],
    strength: 'MUST',
    faults: ['worker-lax-decoder'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send(welcomeWith(wc, { worker_id: 0x1_0000_0000 }), 'Welcome with worker_id 2^32');
      await ctx.expectClosed(wc.peer, 'after a Welcome that does not decode', 'HS-14');
    },
  }),
  w({
    id: 'worker.handshake.u64-max-revision',
    title: 'a Welcome with revision 2^64 − 1 is accepted',
    requirements: ['MSG-4'],
    strength: 'MUST',
    faults: ['worker-truncates-u64'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send(welcomeWith(wc, { revision: U64_MAX }), 'Welcome with revision 2^64-1');
      setPlainSession(wc);
      const id = await wc.peer.request(req.stats());
      checkProbeResult(ctx, 'worker', await ctx.expectResponse(wc.peer, id, undefined, 'MSG-4'), 'MSG-4');
    },
  }),
  w({
    id: 'worker.handshake.garbage-answer',
    title: 'an answer to the Hello that does not decode closes the connection',
    requirements: ['HS-14'],
    strength: 'MUST',
    faults: ['worker-ignores-undecodable-frame'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send(new Uint8Array(12).fill(0xff), '12 bytes of 0xff instead of a Welcome');
      // Before the worker's handshake timeout can have fired [HS-17]: the close must come from the bad answer.
      await ctx.expectClosedBeforeHandshakeTimeout(wc.peer, wc.startedAtMs, 'after an undecodable answer to the Hello', 'HS-14');
    },
  }),
  w({
    id: 'worker.handshake.hello-instead-of-welcome',
    title: 'a Hello sent back to the worker closes the connection',
    requirements: ['HS-14', 'MSG-7'],
    strength: 'MUST',
    faults: ['worker-accepts-packet-before-welcome'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send({ type: 'hello', body: wc.hello }, 'the worker\'s own Hello echoed back');
      await ctx.expectClosed(wc.peer, 'when the answer to its Hello is a Hello', 'HS-14');
    },
  }),
  w({
    id: 'worker.handshake.rejected-closes',
    title: 'after a Reject the worker closes the connection',
    requirements: ['HS-13'],
    strength: 'MUST',
    faults: ['worker-stays-open-after-reject'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send({ type: 'reject', body: { code: 'unsupported_version', message: 'unsupported protocol version' } }, 'Reject unsupported_version');
      const got = await ctx.expectClosed(wc.peer, 'after a Reject', 'HS-13');
      ctx.check(got.every((m) => m.kind !== 'payload'), '[HS-13] no packets after a Reject', 'nothing', got.map(describeMessage).join('; '), 'HS-13');
    },
  }),
  w({
    id: 'worker.handshake.wrong-shard-welcome',
    title: 'a Welcome for another shard makes the worker close',
    requirements: ['HS-15'],
    strength: 'SHOULD',
    faults: ['worker-accepts-wrong-shard-welcome'],
    async run(ctx) {
      const wc = await ctx.startWorker();
      await wc.peer.send(welcomeWith(wc, { shard_id: wc.hello.shard_id + 1 }), 'Welcome for shard + 1');
      await ctx.expectClosed(wc.peer, 'after a Welcome for another shard', 'HS-15');
    },
  }),
  w({
    id: 'worker.handshake.welcome-timeout',
    title: 'a worker gives up waiting for the Welcome after its handshake timeout',
    requirements: ['HS-17'],
    strength: 'SHOULD',
    faults: ['worker-no-handshake-timeout'],
    timeoutMs: 30_000,
    async run(ctx) {
      const wc = await ctx.startWorker();
      const limit = ctx.cfg.handshakeTimeoutMs;
      const res = await wc.peer.awaitClose(limit + Math.max(1000, limit * 0.5));
      ctx.check(res.closed, '[HS-17] the worker should close when no Welcome arrives', `closed within ~${ctx.ms(limit)} ms`, `still open after ${Math.round(res.afterMs)} ms`, 'HS-17');
    },
  }),
  w({
    id: 'worker.data.response-pairing',
    title: 'each request variant is answered with its paired ok variant (or an error)',
    requirements: ['MSG-8', 'MSG-3'],
    strength: 'SHOULD',
    faults: ['worker-unknown-request-not-rejected'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const pairs: [CValue, string][] = [
        [req.loadFiles(2n, [{ path: 'src/P.java', text: 'class P {}\n' }]) as CValue, 'ack'],
        [req.updateFile(3n, { path: 'src/P.java', text: 'class P2 {}\n' }) as CValue, 'shard_index'],
        [req.indexShard(4n, [{ path: 'src/Q.java', text: 'class Q {}\n' }]) as CValue, 'shard_index'],
        [req.diagnostics('src/P.java') as CValue, 'diagnostics'],
        [req.stats() as CValue, 'worker_stats'],
        [{ type: 'future_request_kind' }, 'err'],
      ];
      const wrong: string[] = [];
      for (const [request, want] of pairs) {
        const id = await wc.peer.request(request);
        const res = await ctx.expectResponse(wc.peer, id, undefined, 'MSG-8');
        if (want === 'err' ? res.status !== 'err' : res.status === 'ok' && res.value.type !== want) wrong.push(`${(request as { type: string }).type} → ${describeValue(res, 120)}`);
      }
      ctx.check(wrong.length === 0, '[MSG-8] responses follow the pairing table', 'paired ok variants', wrong.join('; '), 'MSG-8');
    },
  }),
  w({
    id: 'worker.data.response-too-large',
    title: 'a response that cannot fit the limits is answered too_large or the connection is closed, never oversized',
    requirements: ['DATA-12', 'CHK-1', 'DATA-18'],
    strength: 'MUST',
    faults: ['worker-silent'],
    async run(ctx) {
      const wc = await ctx.workerSession({ router: { max_frame_len: 300, max_packet_len: 300, supports_chunking: false, supported_compression: ['none'] } });
      const id = await wc.peer.request(req.indexShard(5n, [{ path: 'src/x.java', text: 'class A1 {}\nclass A2 {}\nclass A3 {}\nclass A4 {}\nclass A5 {}\nclass A6 {}\nclass A7 {}\nclass A8 {}\nclass A9 {}\nclass B1 {}\nclass B2 {}\nclass B3 {}\nclass B4 {}\nclass B5 {}\n' }]));
      const m = await wc.peer.awaitResponse(id, ctx.cfg.readTimeoutMs);
      if (m.kind === 'closed') return ctx.note('the worker closed the connection (allowed by DATA-12)');
      if (m.kind !== 'payload' || m.payload.type !== 'response') return ctx.fail('[DATA-12] answer too_large or close; never leave the request unanswered', 'err too_large or a close', describeMessage(m), 'DATA-12');
      const res = m.payload.body;
      ctx.check(res.status === 'err', '[DATA-12] an answer that fits the limits', 'err (too_large)', describeValue(res), 'DATA-12');
    },
  }),
  w({
    id: 'worker.data.error-fields',
    title: 'errors use a fitting code, retryable false for invalid_request, details JSON ≤ 16 KiB or null',
    requirements: ['ERR-4', 'ERR-5', 'ERR-6', 'DATA-11'],
    strength: 'SHOULD',
    faults: ['worker-unknown-request-not-rejected'],
    async run(ctx) {
      const wc = await ctx.workerSession();
      const id = await wc.peer.request({ type: 'future_request_kind' });
      const res = await ctx.expectResponse(wc.peer, id, undefined, 'ERR-6');
      if (res.status !== 'err') return ctx.fail('[ERR-6] an unknown request is an error', 'err invalid_request', describeValue(res), 'ERR-6');
      ctx.check(res.error.code === 'invalid_request', '[ERR-6] the fitting code', 'invalid_request', res.error.code, 'ERR-6');
      ctx.check(!res.error.retryable, '[ERR-4] invalid_request is not retryable', 'retryable false', 'retryable true', 'ERR-4');
      const d = res.error.details;
      let detailsOk = d === null;
      if (d !== null) {
        try {
          JSON.parse(d);
          detailsOk = Buffer.byteLength(d) <= 16 * 1024;
        } catch {
          detailsOk = false;
        }
      }
      ctx.check(detailsOk, '[ERR-5] details is null or JSON text ≤ 16 KiB', 'null or JSON', String(d).slice(0, 200), 'ERR-5');
    },
  }),
  w({
    id: 'worker.compression.frame-format',
    title: 'compressed responses are one zstd frame that declares its content size and uses no dictionary',
    requirements: ['CMP-9', 'CMP-5'],
    strength: 'SHOULD',
    needs: ['zstd'],
    faults: ['worker-zstd-without-content-size'],
    async run(ctx) {
      const wc = await ctx.workerSession({ router: { supported_compression: ['zstd', 'none'] } });
      const id = await wc.peer.request(req.indexShard(6n, sourceFiles(200, 40)));
      for (;;) {
        const m = await wc.peer.next(ctx.cfg.readTimeoutMs);
        if (m.kind !== 'frame') return ctx.fail('expected the response', 'a response', describeMessage(m), 'CMP-9');
        if ((m.frame.type === 'packet' || m.frame.type === 'packet_chunk') && m.frame.body.id === id) {
          if (m.frame.body.compression !== 'zstd') return ctx.skip('the worker did not compress this response; nothing to check');
          const d = m.frame.body.data;
          const magic = d.length >= 6 && d[0] === 0x28 && d[1] === 0xb5 && d[2] === 0x2f && d[3] === 0xfd;
          const fhd = d[4] ?? 0;
          const fcsFlag = fhd >> 6;
          const singleSegment = (fhd & 0x20) !== 0;
          const dictFlag = fhd & 0x03;
          ctx.check(magic && (fcsFlag !== 0 || singleSegment) && dictFlag === 0, '[CMP-9] one zstd frame with content size, no dictionary', 'magic 28b52ffd, FCS present, no dictionary id', `header ${Buffer.from(d.subarray(0, 8)).toString('hex')}`, 'CMP-9');
          return;
        }
      }
    },
  }),
  w({
    id: 'worker.chunking.compressed-then-split',
    title: 'a large compressed response is compressed first, then split; every chunk carries zstd',
    requirements: ['CHK-10', 'CHK-14'],
    strength: 'MUST',
    needs: ['zstd', 'chunking'],
    faults: ['worker-chunk-compression-change', 'worker-chunk-out-of-sequence'],
    async run(ctx) {
      const wc = await ctx.workerSession({ router: { supported_compression: ['zstd', 'none'], max_frame_len: 512 } });
      const id = await wc.peer.request(req.indexShard(8n, sourceFiles(300, 40)));
      const m = await wc.peer.awaitResponse(id, ctx.cfg.readTimeoutMs);
      if (m.kind !== 'payload') return ctx.fail('[CHK-10] expected the reassembled response', 'a response', describeMessage(m), 'CHK-10');
      ctx.note(`response: ${m.chunks} frame(s), compression ${m.compression}`);
    },
  }),
];

export const extraCases: CaseDef[] = [...shared, ...router, ...worker];
export type { Link };
