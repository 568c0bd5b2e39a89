/**
 * Router-only cases (the harness plays the worker): handshake order, every negotiation rule,
 * version choice, auth, admission, Reject codes, the pre-handshake frame limit, the handshake
 * timeout, the decoder on the first frame, secret hygiene, and what needs a stimulus.
 *
 * @module
 */
import { PRE_HANDSHAKE_MAX_FRAME_BYTES } from '../../src/limits.js';
import { encodeWireFrame } from '../../src/wire/index.js';
import type { HandshakeReject, RouterWelcome } from '../../src/wire/model.js';
import { CIndefArray, CMap, CTag, CWideUint, cbor, concatBytes, lengthPrefix, padTo } from '../cbor.js';
import type { CaseContext } from '../context.js';
import { packetFrame, encodePayload, requestPayload, req } from '../messages.js';
import { describeMessage, type ScriptedPeer } from '../peer.js';
import type { CaseDef, CaseNeed, CaseStrength } from '../registry.js';
import { describeValue } from '../transcript.js';
import type { HelloInit } from '../messages.js';

function r(def: Omit<CaseDef, 'role' | 'since'>): CaseDef {
  return { ...def, role: 'router', since: '0.1.0' };
}

/** Send a Hello (crafted or built) and return the first answer. */
async function sendHello(ctx: CaseContext, peer: ScriptedPeer, init: Partial<HelloInit>, label?: string): Promise<void> {
  const h = ctx.hello(init);
  await peer.send({ type: 'hello', body: h }, label ?? `hello ${describeValue({ ...h, auth_token: h.auth_token === null ? null : '<token>' })}`);
}

/** Require a Reject with `code`, then a close [HS-5]. */
async function expectReject(ctx: CaseContext, peer: ScriptedPeer, code: string, requirement: string): Promise<HandshakeReject> {
  const m = await peer.next(ctx.cfg.readTimeoutMs);
  if (m.kind !== 'frame' || m.frame.type !== 'reject') {
    return ctx.fail(`[${requirement}] the router must answer with Reject ${code}`, `Reject {code: ${code}}`, describeMessage(m), m.kind === 'closed' ? 'HS-5' : requirement);
  }
  ctx.check(m.frame.body.code === code, `[${requirement}] wrong Reject code`, code, m.frame.body.code, requirement);
  const after = await peer.awaitClose(ctx.cfg.readTimeoutMs);
  ctx.check(after.closed, '[HS-5] after a Reject the router must close the connection', 'connection closed', `still open after ${Math.round(after.afterMs)} ms`, 'HS-5');
  ctx.check(after.received.length === 0, '[HS-2] exactly one answer to a Hello', 'nothing after the Reject', after.received.map(describeMessage).join('; '), 'HS-2');
  return m.frame.body;
}

/** Require a Welcome. */
async function expectWelcome(ctx: CaseContext, peer: ScriptedPeer, requirement: string): Promise<RouterWelcome> {
  const m = await peer.next(ctx.cfg.readTimeoutMs);
  if (m.kind === 'frame' && m.frame.type === 'welcome') return m.frame.body;
  return ctx.fail(`[${requirement}] the router must welcome this Hello`, 'a Welcome', describeMessage(m), requirement);
}

/** A first frame that is not a Hello: the router closes without a Welcome [HS-3]. */
function firstFrameCloses(id: string, title: string, requirements: string[], bytes: () => Uint8Array, label: string, faults: string[] = []): CaseDef {
  return r({
    id,
    title,
    requirements,
    strength: 'MUST',
    faults,
    liveness: true,
    async run(ctx) {
      const since = performance.now();
      const peer = await ctx.connect();
      await peer.writeRaw(bytes(), label);
      // Before the handshake timeout can have fired: the close must come from the first frame, not the timer [HS-6].
      const got = await ctx.expectClosedBeforeHandshakeTimeout(peer, since, 'when the first frame is not a valid Hello', requirements[0]!);
      const welcomed = got.some((m) => m.kind === 'frame' && m.frame.type === 'welcome');
      ctx.check(!welcomed, `[${requirements[0]}] no Welcome for an invalid first frame`, 'no Welcome', got.map(describeMessage).join('; '), requirements[0]);
    },
  });
}

function framedBody(body: Uint8Array): Uint8Array {
  return concatBytes([lengthPrefix(body.length), body]);
}

/** Build Hello bodies with crafted pieces (declaration order, canonical values). */
function helloMap(ctx: CaseContext, extra: { body?: [string, unknown][]; caps?: [string, unknown][] } = {}): CMap {
  const h = ctx.hello();
  const caps = new CMap([
    ['max_frame_len', h.capabilities.max_frame_len],
    ['max_packet_len', h.capabilities.max_packet_len],
    ['supported_compression', h.capabilities.supported_compression],
    ['supports_cancel', h.capabilities.supports_cancel],
    ['supports_chunking', h.capabilities.supports_chunking],
    ...((extra.caps ?? []) as [string, never][]),
  ]);
  return new CMap([
    ['type', 'hello'],
    [
      'body',
      new CMap([
        ['shard_id', h.shard_id],
        ['auth_token', h.auth_token],
        ['supported_versions', { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } }],
        ['capabilities', caps],
        ['cached_index_info', null],
        ['worker_build', h.worker_build],
        ...((extra.body ?? []) as [string, never][]),
      ]),
    ],
  ]);
}

function rejectCase(o: {
  id: string;
  title: string;
  requirements: string[];
  code: string;
  hello: (ctx: CaseContext) => Partial<HelloInit>;
  needs?: CaseNeed[];
  faults: string[];
  strength?: CaseStrength;
}): CaseDef {
  return r({
    id: o.id,
    title: o.title,
    requirements: o.requirements,
    strength: o.strength ?? 'MUST',
    ...(o.needs ? { needs: o.needs } : {}),
    faults: o.faults,
    liveness: true,
    async run(ctx) {
      const peer = await ctx.connect();
      await sendHello(ctx, peer, o.hello(ctx));
      const rej = await expectReject(ctx, peer, o.code, o.requirements[0]!);
      // [SEC-2] a Reject never carries a token, ours or the one configured.
      if (ctx.token) ctx.check(!rej.message.includes(ctx.token), '[SEC-2] the Reject message must not contain the auth token', 'no token in the message', '(the message contains the configured token)', 'SEC-2');
    },
  });
}

const WRONG_TOKEN = 'wrong-token-7c1f3a9e-do-not-echo';

const handshake: CaseDef[] = [
  r({
    id: 'router.handshake.welcome',
    title: 'a valid Hello is answered with one Welcome that echoes the shard and carries every field',
    requirements: ['HS-2', 'HS-9', 'VER-2', 'MSG-1', 'LIM-6'],
    strength: 'MUST',
    faults: ['router-silent-handshake', 'router-stall-mid-frame'],
    async run(ctx) {
      const peer = await ctx.connect();
      await sendHello(ctx, peer, {});
      const w = await expectWelcome(ctx, peer, 'HS-2');
      ctx.check(w.shard_id === ctx.shard, '[HS-9] the Welcome echoes shard_id', String(ctx.shard), String(w.shard_id), 'HS-9');
      ctx.check(w.chosen_capabilities.max_frame_len <= 64 * 1024 * 1024 && w.chosen_capabilities.max_packet_len <= 64 * 1024 * 1024, '[LIM-6] limits of at most 64 MiB', '≤ 67108864', `${w.chosen_capabilities.max_frame_len} / ${w.chosen_capabilities.max_packet_len}`, 'LIM-6');
      ctx.check(w.chosen_version.major === 3 && w.chosen_version.minor === 0, '[VER-1] a 3.0-only offer gets version 3.0', '3.0', `${w.chosen_version.major}.${w.chosen_version.minor}`, 'VER-1');
      peer.session = { maxFrameBytes: w.chosen_capabilities.max_frame_len, maxPacketBytes: w.chosen_capabilities.max_packet_len, compression: [...w.chosen_capabilities.supported_compression], cancel: w.chosen_capabilities.supports_cancel, chunking: w.chosen_capabilities.supports_chunking };
      // Exactly one answer [HS-2], confirmed positively: a request behind the Hello is handled
      // after it, so a second handshake frame (an HS-7 violation, recorded by the peer) or any
      // packet would arrive before the answer to the request.
      await ctx.expectAlive(peer, 'the Welcome', 'HS-2');
      const extra = peer.backlog.map((m) => describeMessage(m));
      ctx.check(extra.length === 0, '[HS-2] exactly one answer to the Hello', 'nothing but the Welcome before the answer to a request', extra.join('; '), 'HS-2');
    },
  }),
  r({
    id: 'router.handshake.welcome-canonical',
    title: 'the Welcome is encoded canonically (definite lengths, declaration order, shortest integers)',
    requirements: ['CBOR-1', 'CBOR-2', 'CBOR-3'],
    strength: 'MUST',
    faults: ['router-noncanonical-encoding'],
    async run(ctx) {
      const peer = await ctx.connect();
      await sendHello(ctx, peer, {});
      const m = await peer.next(ctx.cfg.readTimeoutMs);
      if (m.kind !== 'frame' || m.frame.type !== 'welcome') return ctx.fail('[HS-2] expected a Welcome', 'Welcome', describeMessage(m), 'HS-2');
      const again = encodeWireFrame(m.frame);
      const same = again.length === m.body.length && again.every((b, i) => b === m.body[i]);
      ctx.check(same, '[CBOR-1] the Welcome bytes must be the canonical encoding', Buffer.from(again).toString('hex'), Buffer.from(m.body).toString('hex'), 'CBOR-1');
    },
  }),
  r({
    id: 'router.handshake.nothing-before-hello',
    title: 'the router sends nothing before it has received a Hello',
    requirements: ['HS-2'],
    strength: 'MUST',
    faults: ['router-speaks-before-hello'],
    async run(ctx) {
      const peer = await ctx.connect();
      await ctx.expectQuiet(peer, '[HS-2] the router must not send anything before the Hello', 'HS-2', 300);
      await sendHello(ctx, peer, {});
      await expectWelcome(ctx, peer, 'HS-2');
    },
  }),
  firstFrameCloses('router.handshake.first-frame-packet', 'a Packet as first frame closes the connection without a Welcome', ['HS-3'], () => framedBody(cbor(packetFrame(1n, encodePayload(requestPayload(req.stats()))))), 'a Packet before any Hello', ['router-accepts-non-hello-first-frame']),
  firstFrameCloses('router.handshake.first-frame-welcome', 'a Welcome as first frame closes the connection', ['HS-3', 'MSG-7'], () => framedBody(cbor({ type: 'welcome', body: { worker_id: 1, shard_id: 1, revision: 0n, chosen_version: { major: 3, minor: 0 }, chosen_capabilities: { max_frame_len: 1024, max_packet_len: 1024, supported_compression: ['none'], supports_cancel: false, supports_chunking: false } } })), 'a Welcome before any Hello', ['router-accepts-non-hello-first-frame']),
  firstFrameCloses('router.handshake.first-frame-unknown', 'an unknown frame variant as first frame closes the connection', ['HS-3', 'DATA-6'], () => framedBody(cbor({ type: 'future_frame_kind' })), 'an unknown variant before any Hello', ['router-accepts-non-hello-first-frame']),
  firstFrameCloses('router.handshake.first-frame-garbage', 'a first frame that is not CBOR closes the connection', ['HS-3', 'FRM-1'], () => framedBody(new Uint8Array(32).fill(0xff)), '32 bytes of 0xff', ['router-ignores-undecodable-frame']),
  firstFrameCloses('router.handshake.hello-without-body', 'a Hello without body closes the connection', ['HS-3', 'CBOR-12'], () => framedBody(cbor({ type: 'hello' })), '{type: hello}', ['router-ignores-undecodable-frame']),
  firstFrameCloses('router.handshake.zero-length-first-frame', 'a zero-length first frame closes the connection', ['FRM-2', 'HS-3'], () => lengthPrefix(0), 'zero-length frame', ['router-accepts-zero-length-frame']),
  r({
    id: 'router.handshake.hello-trailing-bytes',
    title: 'a Hello followed by a stray byte inside its frame is refused',
    requirements: ['CBOR-6', 'HS-3'],
    strength: 'MUST',
    faults: ['router-lax-decoder'],
    liveness: true,
    async run(ctx) {
      // The close must come from the bad Hello, not from the handshake timer [HS-6].
      const since = performance.now();
      const peer = await ctx.connect();
      await peer.send(concatBytes([cbor(helloMap(ctx)), new Uint8Array([0])]), 'Hello + 1 trailing byte');
      const got = await ctx.expectClosedBeforeHandshakeTimeout(peer, since, 'after a Hello frame with trailing bytes', 'CBOR-6');
      ctx.check(!got.some((m) => m.kind === 'frame' && m.frame.type === 'welcome'), '[CBOR-6] no Welcome for an invalid frame', 'no Welcome', got.map(describeMessage).join('; '), 'CBOR-6');
    },
  }),
  r({
    id: 'router.handshake.hello-duplicate-key',
    title: 'a Hello with a duplicated key is refused',
    requirements: ['CBOR-7', 'HS-3'],
    strength: 'MUST',
    faults: ['router-lax-decoder'],
    liveness: true,
    async run(ctx) {
      // The close must come from the bad Hello, not from the handshake timer [HS-6].
      const since = performance.now();
      const peer = await ctx.connect();
      await peer.send(helloMap(ctx, { body: [['shard_id', ctx.shard]] }), 'Hello with shard_id twice');
      const got = await ctx.expectClosedBeforeHandshakeTimeout(peer, since, 'after a Hello with a duplicate key', 'CBOR-7');
      ctx.check(!got.some((m) => m.kind === 'frame' && m.frame.type === 'welcome'), '[CBOR-7] no Welcome for an invalid Hello', 'no Welcome', got.map(describeMessage).join('; '), 'CBOR-7');
    },
  }),
  r({
    id: 'router.handshake.hello-oversize-worker-build',
    title: 'a Hello whose worker_build exceeds 16 KiB is refused',
    requirements: ['CBOR-9', 'HS-3'],
    strength: 'MUST',
    faults: ['router-lax-decoder'],
    liveness: true,
    async run(ctx) {
      // The close must come from the bad Hello, not from the handshake timer [HS-6].
      const since = performance.now();
      const peer = await ctx.connect();
      await sendHello(ctx, peer, { worker_build: 'b'.repeat(16 * 1024 + 1) }, 'Hello with a 16 KiB + 1 worker_build');
      const got = await ctx.expectClosedBeforeHandshakeTimeout(peer, since, 'after a Hello with an over-long worker_build', 'CBOR-9');
      ctx.check(!got.some((m) => m.kind === 'frame' && m.frame.type === 'welcome'), '[CBOR-9] no Welcome for an invalid Hello', 'no Welcome', got.map(describeMessage).join('; '), 'CBOR-9');
    },
  }),
  r({
    id: 'router.handshake.hello-lenient-encoding',
    title: 'a Hello with indefinite lengths, a self-describe tag, non-minimal integers and body before type is welcomed',
    requirements: ['CBOR-10'],
    strength: 'SHOULD',
    faults: ['router-strict-decoder'],
    async run(ctx) {
      const peer = await ctx.connect();
      const h = ctx.hello();
      const body = new CMap(
        [
          ['shard_id', new CWideUint(h.shard_id, 4)],
          ['auth_token', h.auth_token],
          ['supported_versions', { min: { major: 3, minor: new CWideUint(0, 2) }, max: { major: 3, minor: 0 } }],
          ['capabilities', new CMap([
            ['max_frame_len', new CWideUint(h.capabilities.max_frame_len, 8)],
            ['max_packet_len', h.capabilities.max_packet_len],
            ['supported_compression', new CIndefArray(h.capabilities.supported_compression)],
            ['supports_cancel', true],
            ['supports_chunking', true],
          ], true)],
          ['cached_index_info', null],
          ['worker_build', null],
        ],
        true,
      );
      await peer.send(new CTag(55799, new CMap([['body', body], ['type', 'hello']])), 'lenient Hello');
      await expectWelcome(ctx, peer, 'CBOR-10');
    },
  }),
  r({
    id: 'router.handshake.hello-unknown-keys',
    title: 'a Hello with unknown keys at every level is welcomed',
    requirements: ['FWD-1'],
    strength: 'MUST',
    faults: ['router-rejects-unknown-keys'],
    async run(ctx) {
      const peer = await ctx.connect();
      await peer.send(new CMap([...helloMap(ctx, { body: [['future_field', { a: 1 }]], caps: [['future_cap', true]] }).entries, ['future_envelope', 1]]), 'Hello with unknown keys');
      await expectWelcome(ctx, peer, 'FWD-1');
    },
  }),
  r({
    id: 'router.handshake.hello-missing-optionals',
    title: 'a Hello without its optional keys (cached_index_info, worker_build) is welcomed',
    requirements: ['CBOR-10', 'MSG-6'],
    strength: 'SHOULD',
    faults: ['router-strict-decoder'],
    async run(ctx) {
      const peer = await ctx.connect();
      const m = helloMap(ctx);
      const body = (m.entries[1]![1] as CMap).entries.filter(([k]) => k !== 'cached_index_info' && k !== 'worker_build' && !(k === 'auth_token' && ctx.token === undefined));
      await peer.send(new CMap([['type', 'hello'], ['body', new CMap(body)]]), 'Hello without optional keys');
      await expectWelcome(ctx, peer, 'CBOR-10');
    },
  }),
  rejectCase({
    id: 'router.handshake.reject-zero-frame-limit',
    title: 'max_frame_len 0 is rejected with invalid_request',
    requirements: ['HS-4', 'HS-5', 'LIM-1'],
    code: 'invalid_request',
    hello: () => ({ capabilities: { max_frame_len: 0 } }),
    faults: ['router-ignores-zero-limits', 'router-no-reject'],
  }),
  rejectCase({
    id: 'router.handshake.reject-zero-packet-limit',
    title: 'max_packet_len 0 is rejected with invalid_request',
    requirements: ['HS-4', 'HS-5', 'LIM-1'],
    code: 'invalid_request',
    hello: () => ({ capabilities: { max_packet_len: 0 } }),
    faults: ['router-ignores-zero-limits', 'router-no-reject'],
  }),
  rejectCase({
    id: 'router.handshake.reject-bad-token',
    title: 'a wrong auth token is rejected with unauthorized',
    requirements: ['SEC-1', 'HS-4', 'HS-5'],
    code: 'unauthorized',
    needs: ['auth'],
    hello: () => ({ auth_token: WRONG_TOKEN }),
    faults: ['router-accepts-bad-token', 'router-no-reject'],
  }),
  rejectCase({
    id: 'router.handshake.reject-missing-token',
    title: 'a Hello without a token is rejected with unauthorized when a token is configured',
    requirements: ['SEC-1', 'HS-4'],
    code: 'unauthorized',
    needs: ['auth'],
    hello: () => ({ auth_token: null }),
    faults: ['router-accepts-bad-token'],
  }),
  rejectCase({
    id: 'router.handshake.reject-token-prefix',
    title: 'a token that is a prefix of the configured one is rejected',
    requirements: ['SEC-1'],
    code: 'unauthorized',
    needs: ['auth'],
    hello: (ctx) => ({ auth_token: (ctx.token ?? 'x').slice(0, -1) }),
    faults: ['router-accepts-bad-token'],
  }),
  rejectCase({
    id: 'router.handshake.reject-unsupported-version',
    title: 'a version range without overlap is rejected with unsupported_version',
    requirements: ['VER-1', 'HS-4', 'HS-5'],
    code: 'unsupported_version',
    hello: () => ({ min: { major: 4, minor: 0 }, max: { major: 4, minor: 2 } }),
    faults: ['router-no-reject'],
  }),
  rejectCase({
    id: 'router.handshake.reject-old-version',
    title: 'a worker that only speaks 2.x is rejected with unsupported_version',
    requirements: ['VER-1'],
    code: 'unsupported_version',
    hello: () => ({ min: { major: 2, minor: 0 }, max: { major: 2, minor: 9 } }),
    faults: ['router-no-reject'],
  }),
  rejectCase({
    id: 'router.handshake.reject-no-common-compression',
    title: 'no common compression is rejected with invalid_request',
    requirements: ['NEG-3', 'HS-4', 'HS-5'],
    code: 'invalid_request',
    hello: () => ({ capabilities: { supported_compression: ['brotli', 'unknown'] } }),
    faults: ['router-no-reject'],
  }),
  rejectCase({
    id: 'router.handshake.check-order-limits-before-auth',
    title: 'zero limits are reported before a bad token',
    requirements: ['HS-4'],
    code: 'invalid_request',
    needs: ['auth'],
    hello: () => ({ auth_token: WRONG_TOKEN, capabilities: { max_frame_len: 0 } }),
    faults: ['router-wrong-check-order'],
  }),
  rejectCase({
    id: 'router.handshake.check-order-auth-before-version',
    title: 'a bad token is reported before a version mismatch',
    requirements: ['HS-4'],
    code: 'unauthorized',
    needs: ['auth'],
    hello: () => ({ auth_token: WRONG_TOKEN, min: { major: 4, minor: 0 }, max: { major: 4, minor: 0 } }),
    faults: ['router-version-before-auth'],
  }),
  rejectCase({
    id: 'router.handshake.check-order-version-before-compression',
    title: 'a version mismatch is reported before a compression mismatch',
    requirements: ['HS-4'],
    code: 'unsupported_version',
    hello: () => ({ min: { major: 4, minor: 0 }, max: { major: 4, minor: 0 }, capabilities: { supported_compression: ['brotli'] } }),
    faults: ['router-wrong-check-order'],
  }),
  rejectCase({
    id: 'router.handshake.check-order-compression-before-admission',
    title: 'a compression mismatch is reported before admission (unknown shard): both invalid_request',
    requirements: ['HS-4', 'HS-11'],
    code: 'invalid_request',
    hello: (ctx) => ({ shard_id: ctx.cfg.unknownShard, capabilities: { supported_compression: ['brotli'] } }),
    faults: ['router-no-reject'],
  }),
  rejectCase({
    id: 'router.admission.unknown-shard',
    title: 'a Hello for a shard the router does not serve is rejected with invalid_request',
    requirements: ['HS-11', 'HS-5'],
    code: 'invalid_request',
    hello: (ctx) => ({ shard_id: ctx.cfg.unknownShard }),
    faults: ['router-skips-admission', 'router-no-reject'],
  }),
  r({
    id: 'router.admission.busy-shard',
    title: 'a second worker for a connected shard is rejected; the first connection is unaffected',
    requirements: ['HS-11', 'HS-5'],
    strength: 'MUST',
    faults: ['router-skips-admission'],
    liveness: true,
    async run(ctx) {
      const first = await ctx.session();
      const second = await ctx.connect();
      await sendHello(ctx, second, {});
      await expectReject(ctx, second, 'invalid_request', 'HS-11');
      const res = await ctx.expectAlive(first.peer, 'a rejected second worker for the same shard', 'HS-11');
      ctx.check(res.status !== 'unknown', '[ERR-1] a response is ok or err', 'ok or err', describeValue(res), 'ERR-1');
    },
  }),
  r({
    id: 'router.security.token-not-in-reject',
    title: 'the unauthorized Reject contains neither the configured nor the offered token',
    requirements: ['SEC-2', 'ERR-3'],
    strength: 'MUST',
    needs: ['auth'],
    faults: ['router-echoes-token-in-reject'],
    async run(ctx) {
      ctx.transcript.redactor.add(WRONG_TOKEN);
      const peer = await ctx.connect();
      await sendHello(ctx, peer, { auth_token: WRONG_TOKEN });
      const m = await peer.next(ctx.cfg.readTimeoutMs);
      if (m.kind !== 'frame' || m.frame.type !== 'reject') return ctx.fail('[SEC-1] expected a Reject', 'Reject unauthorized', describeMessage(m), 'SEC-1');
      const raw = Buffer.from(m.body).toString('latin1');
      const leaks = [ctx.token!, WRONG_TOKEN].filter((t) => raw.includes(t) || m.frame.type === 'reject' && m.frame.body.message.includes(t));
      ctx.check(leaks.length === 0, '[SEC-2] a Reject must never contain an auth token', 'no token in the Reject', `the Reject contains ${leaks.length === 2 ? 'both tokens' : leaks[0] === WRONG_TOKEN ? 'the offered token' : 'the configured token'}`, 'SEC-2');
    },
  }),
  r({
    id: 'router.handshake.timeout',
    title: 'a connection that sends nothing is closed after the handshake timeout',
    requirements: ['HS-6'],
    strength: 'SHOULD',
    faults: ['router-handshake-no-timeout'],
    timeoutMs: 30_000,
    async run(ctx) {
      const peer = await ctx.connect();
      const limit = ctx.cfg.handshakeTimeoutMs;
      const res = await peer.awaitClose(limit + Math.max(1000, limit * 0.5));
      ctx.check(res.closed, '[HS-6] the router should close a connection whose handshake does not complete in time', `closed within ~${ctx.ms(limit)} ms`, `still open after ${Math.round(res.afterMs)} ms`, 'HS-6');
      ctx.check(res.received.length === 0, '[HS-2] nothing is sent to a silent connection', 'nothing', res.received.map(describeMessage).join('; '), 'HS-2');
    },
  }),
  r({
    id: 'router.handshake.timeout-mid-frame',
    title: 'a Hello stalled mid-frame (1 MiB prefix, few bytes) is closed after the handshake timeout without allocating the claim',
    requirements: ['HS-6', 'FRM-6'],
    strength: 'SHOULD',
    faults: ['router-handshake-no-timeout'],
    timeoutMs: 30_000,
    async run(ctx) {
      const peer = await ctx.connect();
      await peer.writeRaw(concatBytes([lengthPrefix(PRE_HANDSHAKE_MAX_FRAME_BYTES), new Uint8Array(16)]), `prefix ${PRE_HANDSHAKE_MAX_FRAME_BYTES} + 16 bytes, then silence`);
      const limit = ctx.cfg.handshakeTimeoutMs;
      const res = await peer.awaitClose(limit + Math.max(1000, limit * 0.5));
      ctx.check(res.closed, '[HS-6] a stalled handshake should be timed out', `closed within ~${ctx.ms(limit)} ms`, `still open after ${Math.round(res.afterMs)} ms`, 'HS-6');
    },
  }),
];

const framing: CaseDef[] = [
  r({
    id: 'router.framing.hello-at-pre-handshake-limit',
    title: 'a Hello frame of exactly 1 MiB (1,048,576 bytes) is accepted',
    requirements: ['FRM-4', 'FRM-3'],
    strength: 'MUST',
    faults: ['router-frame-limit-off-by-one'],
    async run(ctx) {
      const peer = await ctx.connect();
      const body = padTo(PRE_HANDSHAKE_MAX_FRAME_BYTES, (pad) => cbor(helloMap(ctx, { body: [['pad', pad]] })));
      await peer.send(body, `Hello padded to exactly ${PRE_HANDSHAKE_MAX_FRAME_BYTES} bytes (unknown key)`);
      await expectWelcome(ctx, peer, 'FRM-4');
    },
  }),
  r({
    id: 'router.framing.hello-over-pre-handshake-limit',
    title: 'a first frame prefix of 1 MiB + 1 closes the connection at once, without reading the body',
    requirements: ['FRM-4', 'FRM-3'],
    strength: 'MUST',
    faults: ['router-accepts-oversize-first-frame'],
    liveness: true,
    async run(ctx) {
      const since = performance.now();
      const peer = await ctx.connect();
      await peer.writeRaw(lengthPrefix(PRE_HANDSHAKE_MAX_FRAME_BYTES + 1), `length prefix ${PRE_HANDSHAKE_MAX_FRAME_BYTES + 1}, no body`);
      // Before the handshake timeout can have fired: the close must come from the length check.
      const got = await ctx.expectClosedBeforeHandshakeTimeout(peer, since, 'as soon as the length prefix exceeds the 1 MiB pre-handshake limit', 'FRM-4');
      ctx.check(got.length === 0, '[HS-3] no answer to an oversized first frame', 'nothing', got.map(describeMessage).join('; '), 'HS-3');
    },
  }),
  r({
    id: 'router.framing.hello-split-and-batched',
    title: 'a Hello split across writes and a request in the same write as the Hello are handled',
    requirements: ['FRM-1', 'HS-2'],
    strength: 'MUST',
    faults: ['router-one-frame-per-read'],
    async run(ctx) {
      const peer = await ctx.connect();
      const hello = cbor({ type: 'hello', body: ctx.hello() } as never);
      const id = peer.nextId();
      peer.outstanding.add(id);
      const all = concatBytes([lengthPrefix(hello.length), hello, lengthPrefix(0)]).subarray(0, 4 + hello.length);
      await peer.writeRaw(all.subarray(0, 3), 'Hello: first 3 bytes of the prefix');
      await ctx.sleep(30);
      await peer.writeRaw(all.subarray(3, 20), 'Hello: next 17 bytes');
      await ctx.sleep(30);
      const packet = cbor(packetFrame(id, encodePayload(requestPayload(req.stats()))));
      await peer.writeRaw(concatBytes([all.subarray(20), lengthPrefix(packet.length), packet]), `rest of the Hello + request id=${id} in one write`);
      const w = await expectWelcome(ctx, peer, 'FRM-1');
      peer.session = { maxFrameBytes: w.chosen_capabilities.max_frame_len, maxPacketBytes: w.chosen_capabilities.max_packet_len, compression: [...w.chosen_capabilities.supported_compression], cancel: w.chosen_capabilities.supports_cancel, chunking: w.chosen_capabilities.supports_chunking };
      await ctx.expectResponse(peer, id, undefined, 'FRM-1');
    },
  }),
];

const negotiation: CaseDef[] = [
  r({
    id: 'router.negotiation.limits-minimum',
    title: 'chosen max_frame_len / max_packet_len are the minimum of both offers',
    requirements: ['NEG-1'],
    strength: 'MUST',
    faults: ['router-welcome-exceeds-offer'],
    async run(ctx) {
      const offer = { max_frame_len: 70_001, max_packet_len: 50_003 };
      const { peer, welcome } = await ctx.session({ capabilities: offer });
      void peer;
      const want = { f: Math.min(offer.max_frame_len, ctx.facts.maxFrameBytes), p: Math.min(offer.max_packet_len, ctx.facts.maxPacketBytes) };
      const c = welcome.chosen_capabilities;
      ctx.check(c.max_frame_len === want.f && c.max_packet_len === want.p, '[NEG-1] limits are min(router, worker)', `max_frame_len ${want.f}, max_packet_len ${want.p}`, `max_frame_len ${c.max_frame_len}, max_packet_len ${c.max_packet_len}`, 'NEG-1');
    },
  }),
  r({
    id: 'router.negotiation.flags-and',
    title: 'chosen supports_cancel / supports_chunking are the AND of both offers',
    requirements: ['NEG-2'],
    strength: 'MUST',
    faults: ['router-welcome-enables-unoffered'],
    async run(ctx) {
      const { welcome } = await ctx.session({ capabilities: { supports_cancel: false, supports_chunking: false } });
      const c = welcome.chosen_capabilities;
      ctx.check(!c.supports_cancel && !c.supports_chunking, '[NEG-2] a capability the worker did not offer is never chosen', 'supports_cancel false, supports_chunking false', `supports_cancel ${c.supports_cancel}, supports_chunking ${c.supports_chunking}`, 'NEG-2');
    },
  }),
  r({
    id: 'router.negotiation.compression-subset',
    title: 'the chosen compression list holds only algorithms the worker offered, never unknown',
    requirements: ['NEG-3', 'FWD-2'],
    strength: 'MUST',
    faults: ['router-welcome-unoffered-compression'],
    async run(ctx) {
      const { welcome } = await ctx.session({ capabilities: { supported_compression: ['unknown', 'brotli', 'none'] } });
      const c = welcome.chosen_capabilities.supported_compression;
      ctx.check(c.length === 1 && c[0] === 'none', '[NEG-3] chosen = router list filtered to what the worker offered', '[none]', JSON.stringify(c), 'NEG-3');
    },
  }),
  r({
    id: 'router.negotiation.compression-router-order',
    title: 'the chosen compression list keeps the router order, whatever the worker order',
    requirements: ['NEG-3'],
    strength: 'MUST',
    needs: ['zstd'],
    faults: ['router-compression-in-worker-order'],
    async run(ctx) {
      const { welcome } = await ctx.session({ capabilities: { supported_compression: ['none', 'zstd'] } });
      const want = ctx.facts.compression.filter((x) => x === 'none' || x === 'zstd');
      const got = welcome.chosen_capabilities.supported_compression;
      ctx.check(JSON.stringify(got) === JSON.stringify(want), '[NEG-3] router order is kept', JSON.stringify(want), JSON.stringify(got), 'NEG-3');
    },
  }),
  r({
    id: 'router.negotiation.zstd-only-offer',
    title: 'a worker offering only zstd negotiates [zstd]',
    requirements: ['NEG-3'],
    strength: 'MUST',
    needs: ['zstd'],
    faults: ['router-adds-unoffered-none'],
    async run(ctx) {
      const { welcome } = await ctx.session({ capabilities: { supported_compression: ['zstd'] } });
      const got = welcome.chosen_capabilities.supported_compression;
      ctx.check(JSON.stringify(got) === '["zstd"]', '[NEG-3] only offered algorithms are chosen', '["zstd"]', JSON.stringify(got), 'NEG-3');
    },
  }),
  r({
    id: 'router.negotiation.version-highest-common',
    title: 'the chosen version is the highest common one within the worker range',
    requirements: ['VER-1', 'VER-2'],
    strength: 'MUST',
    faults: ['router-welcome-unoffered-version'],
    async run(ctx) {
      const { welcome } = await ctx.session({ min: { major: 2, minor: 0 }, max: { major: 3, minor: 0 } });
      const v = welcome.chosen_version;
      ctx.check(v.major === 3 && v.minor === 0, '[VER-1] [2.0, 3.0] against a 3.0 router gives 3.0', '3.0', `${v.major}.${v.minor}`, 'VER-1');
    },
  }),
  r({
    id: 'router.negotiation.version-future-minor',
    title: 'a worker offering [3.0, 3.9] gets a version inside its range, at least 3.0',
    requirements: ['VER-1', 'FWD-3'],
    strength: 'MUST',
    faults: ['router-welcome-unoffered-version'],
    async run(ctx) {
      const { welcome } = await ctx.session({ min: { major: 3, minor: 0 }, max: { major: 3, minor: 9 } });
      const v = welcome.chosen_version;
      ctx.check(v.major === 3 && v.minor <= 9, '[VER-1] the chosen version lies inside the worker range', '3.0 ≤ v ≤ 3.9', `${v.major}.${v.minor}`, 'VER-1');
    },
  }),
  r({
    id: 'router.negotiation.applies-chosen-limits',
    title: 'after negotiating max_frame_len 4096 the router enforces exactly that limit',
    requirements: ['NEG-4', 'FRM-5'],
    strength: 'MUST',
    faults: ['router-accepts-oversize-frame'],
    liveness: true,
    async run(ctx) {
      const { peer, welcome } = await ctx.session({ capabilities: { max_frame_len: 4096 } });
      ctx.check(welcome.chosen_capabilities.max_frame_len <= 4096, '[NEG-1] chosen ≤ offer', '≤ 4096', String(welcome.chosen_capabilities.max_frame_len), 'NEG-1');
      const id = peer.nextId();
      const big = cbor(packetFrame(id, encodePayload(requestPayload(req.diagnostics('p'.repeat(4200))))));
      await peer.send(big, `request id=${id} in a ${big.length}-byte frame (limit 4096)`);
      await ctx.expectClosed(peer, 'when a frame exceeds the negotiated max_frame_len', 'NEG-4');
    },
  }),
];

const stimulus: CaseDef[] = [
  r({
    id: 'router.data.out-of-order-responses',
    title: 'responses answered in reverse order are matched by id, each to its own call',
    requirements: ['DATA-2', 'DATA-9'],
    strength: 'MUST',
    needs: ['stimulus'],
    faults: ['router-matches-responses-in-order', 'router-swaps-responses'],
    async run(ctx) {
      const { peer } = await ctx.session();
      const count = 3;
      // Each call asks diagnostics for its own path; each answer names the path of the request it answers,
      // so the stimulus can tell whether a call got its own response, not just some response.
      const done = ctx.stimulus({ shard: ctx.shard, request: 'diagnostics', count, pairing: true });
      const seen: { id: bigint; path: string | null }[] = [];
      while (seen.length < count) {
        const m = await peer.nextMessage(ctx.cfg.readTimeoutMs);
        if (m.kind !== 'payload') return ctx.fail(`[DATA-9] the router should send ${count} concurrent requests`, `${count} requests`, describeMessage(m), 'DATA-9');
        if (m.payload.type === 'request') seen.push({ id: m.id, path: m.payload.body.type === 'diagnostics' ? m.payload.body.path : null });
      }
      for (const [k, { id, path }] of [...seen].reverse().entries()) {
        await peer.respond(id, { status: 'ok', value: { type: 'diagnostics', body: { diagnostics: [{ severity: 'info', line: k, column: 0, message: path ?? '' }] } } });
      }
      const res = await done;
      ctx.check(res.ok, '[DATA-2] every call completes with its own response (the one naming its path)', 'stimulus reports success', res.detail, 'DATA-2');
      const paths = seen.map((s) => s.path);
      if (paths.includes(null) || new Set(paths).size < count) {
        ctx.skip('the calls completed, but pairing by content is unverified: the stimulus did not send diagnostics with a distinct path per call (support {pairing})');
      }
    },
  }),
  r({
    id: 'router.cancel.sends-cancel',
    title: 'a cancelled call sends a Cancel packet with the id of the request',
    requirements: ['CAN-1', 'CAN-7'],
    strength: 'MUST',
    needs: ['stimulus', 'cancel'],
    faults: ['router-cancel-without-packet'],
    async run(ctx) {
      const { peer } = await ctx.session();
      const done = ctx.stimulus({ shard: ctx.shard, request: 'get_worker_stats', count: 1, cancel: true });
      let reqId: bigint | undefined;
      for (;;) {
        const m = await peer.nextMessage(ctx.cfg.readTimeoutMs);
        if (m.kind !== 'payload') return ctx.fail('[CAN-1] expected the request and then a Cancel', 'request + Cancel', describeMessage(m), 'CAN-1');
        if (m.payload.type === 'request') reqId = m.id;
        else if (m.payload.type === 'cancel') {
          ctx.check(reqId !== undefined && m.id === reqId, '[CAN-1] the Cancel carries the id of the request', String(reqId), String(m.id), 'CAN-1');
          await peer.respond(m.id, { status: 'err', error: { code: 'cancelled', message: 'request cancelled', retryable: true, details: null } });
          break;
        }
      }
      await done;
    },
  }),
];

export const routerCases: CaseDef[] = [...handshake, ...framing, ...negotiation, ...stimulus];
