/**
 * The TLS tier: cases that only apply over tcp+tls. Against a router the harness connects with a
 * deliberately wrong client side (no certificate, one from a CA it made up, plaintext, TLS 1.1,
 * a certificate the fingerprint allowlist does not hold); against a worker it listens with a deliberately
 * wrong router certificate and watches whether the worker completes the TLS handshake.
 *
 * @module
 */
import { cbor, type CValue } from '../cbor.js';
import type { CaseContext } from '../context.js';
import { describeMessage, type Message, type ScriptedPeer } from '../peer.js';
import type { CaseDef } from '../registry.js';
import { HarnessError } from '../registry.js';
import type { TlsProbeResult } from '../tls-support.js';
import { describeValue } from '../transcript.js';

/** Router side: after a connection the router should not have admitted, require that no frame comes back. */
async function expectNoFrame(ctx: CaseContext, peer: ScriptedPeer, what: string, requirement: string): Promise<void> {
  // A Hello without the token: whatever happens, the token never travels over a connection we expect the router to refuse.
  let h = ctx.hello({ auth_token: null });
  // The first byte of the length prefix must not look like a TLS record type (0x14-0x18): a
  // router that sniffs for TLS would otherwise take our plaintext Hello for a TLS handshake.
  for (let pad = ''; ; pad += '-') {
    const first = cbor({ type: 'hello', body: h } as unknown as CValue).length & 0xff;
    if (first < 0x14 || first > 0x18) break;
    h = ctx.hello({ auth_token: null, worker_build: `nova-conformance-harness${pad}-` });
  }
  await peer.send({ type: 'hello', body: h }, `hello ${describeValue({ ...h })}`);
  const got: Message[] = await peer.drain(Math.max(ctx.cfg.readTimeoutMs, 1000));
  const frames = got.filter((m) => m.kind !== 'closed');
  ctx.check(
    frames.length === 0,
    `[${requirement}] ${what}: the router must not read or answer any protocol frame`,
    'the connection closed (or silent), no frame',
    frames.map(describeMessage).join('; '),
    requirement,
  );
}

async function refusesClient(ctx: CaseContext, variant: 'no-client-cert' | 'foreign-client-cert', what: string): Promise<void> {
  const r = await ctx.connectTls(variant);
  if (r.peer) {
    // Under TLS 1.3 the server's verdict on our certificate arrives after our side finished: the
    // router then closes; a router that completed the handshake reads our Hello and answers it.
    await expectNoFrame(ctx, r.peer, what, 'TRN-6');
    r.peer.destroy();
  } else ctx.note(`TLS handshake refused (${r.refused ?? 'error'})`);
  // Control: the configured client certificate still gets a Welcome, so the refusal was about the certificate.
  const { peer } = await ctx.session();
  peer.destroy();
}

/**
 * [SEC-8] Connect with a client certificate the router's allowlists admit for `ctx.shard` and
 * require a Welcome; `what` says why it should be admitted.
 */
async function expectAdmitted(ctx: CaseContext, variant: 'global-client-cert' | 'mixed-case-client-cert', what: string): Promise<void> {
  const r = await ctx.connectTls(variant);
  if (!r.peer) return ctx.fail(`[SEC-8] the router refused the TLS handshake with ${what}`, 'TLS handshake completed', r.refused ?? 'error', 'SEC-8');
  try {
    await ctx.handshake(r.peer);
  } catch (err) {
    if (err instanceof Error && err.name === 'CaseFailure') {
      const e = err as Error & { actual?: string };
      ctx.fail(`[SEC-8] ${what} must be admitted for shard ${ctx.shard}`, 'a Welcome', e.actual ?? e.message, 'SEC-8');
    }
    throw err;
  } finally {
    r.peer.destroy();
  }
}

function checkWorkerRefused(ctx: CaseContext, r: TlsProbeResult, offered: string, requirement: string): void {
  if (r.tcpConnections === 0) {
    throw new HarnessError(`the worker never connected to the probe listener (${offered}); cannot tell whether it verifies the router${r.log ? `\n${r.log}` : ''}`);
  }
  ctx.check(
    !r.established,
    `[${requirement}] the worker must refuse ${offered}: it completed the TLS handshake${r.bytesAfterHandshake > 0 ? ` and sent ${r.bytesAfterHandshake} byte(s) (its Hello) over it` : ''}`,
    'TLS handshake aborted by the worker, no Hello',
    `TLS established, ${r.bytesAfterHandshake} byte(s) received`,
    requirement,
  );
  ctx.note(`the worker refused ${offered} (${r.tlsError ?? 'closed'})`);
}

export const tlsCases: CaseDef[] = [
  // ------------------------------------------------------------------ router (the harness plays the worker)
  {
    id: 'router.tls.refuses-client-without-cert',
    role: 'router',
    title: 'a router with a client CA refuses a TLS client that presents no certificate before reading any frame',
    requirements: ['TRN-6'],
    strength: 'MUST',
    needs: ['tls', 'mtls'],
    faults: ['router-tls-accepts-any-client-cert'],
    since: '0.1.0',
    run: (ctx) => refusesClient(ctx, 'no-client-cert', 'a TLS client without a certificate'),
  },
  {
    id: 'router.tls.refuses-client-cert-from-other-ca',
    role: 'router',
    title: 'a router with a client CA refuses a client certificate from another CA before reading any frame',
    requirements: ['TRN-6'],
    strength: 'MUST',
    needs: ['tls', 'mtls'],
    faults: ['router-tls-accepts-any-client-cert'],
    since: '0.1.0',
    run: (ctx) => refusesClient(ctx, 'foreign-client-cert', 'a client certificate from a CA the router does not trust'),
  },
  {
    id: 'router.tls.no-plaintext-fallback',
    role: 'router',
    title: 'the tcp+tls port does not speak plaintext: a plaintext Hello gets no Welcome',
    requirements: ['TRN-7'],
    strength: 'MUST',
    needs: ['tls'],
    faults: ['router-tls-plaintext-fallback'],
    since: '0.1.0',
    async run(ctx) {
      const r = await ctx.connectTls('plaintext');
      if (!r.peer) throw new HarnessError(`cannot open a TCP connection to the router's TLS port (${r.refused ?? 'error'})`);
      await expectNoFrame(ctx, r.peer, 'a plaintext connection to the TLS port', 'TRN-7');
      r.peer.destroy();
    },
  },
  {
    id: 'router.tls.refuses-tls-1-1',
    role: 'router',
    title: 'the router refuses a TLS handshake below version 1.2',
    requirements: ['TRN-7'],
    strength: 'MUST',
    needs: ['tls'],
    faults: ['router-tls-allows-tls-1-1'],
    since: '0.1.0',
    async run(ctx) {
      const r = await ctx.connectTls('tls-1-1');
      if (r.refused === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE') ctx.skip('the harness\'s OpenSSL cannot offer TLS 1.1 on this machine');
      if (r.peer) r.peer.destroy();
      ctx.check(!r.peer, '[TRN-7] the router must refuse a TLS 1.1 handshake', 'TLS handshake refused', `handshake completed (${r.protocol ?? 'unknown version'})`, 'TRN-7');
      ctx.note(`TLS 1.1 refused (${r.refused ?? 'error'})`);
    },
  },
  {
    id: 'router.tls.shard-allowlist-rejects-unlisted-cert',
    role: 'router',
    title: 'a client certificate not allowed for the shard is rejected unauthorized "shard authorization failed"',
    requirements: ['SEC-4'],
    strength: 'SHOULD',
    needs: ['tls', 'mtls'],
    faults: ['router-tls-skips-shard-allowlist'],
    since: '0.1.0',
    async run(ctx) {
      const denied = ctx.cfg.tls?.deniedShard;
      if (denied === undefined) ctx.skip('no shard the client certificate is denied for is configured (tls.deniedShard)');
      const peer = await ctx.connect();
      const h = ctx.hello({ shard_id: denied });
      await peer.send({ type: 'hello', body: h }, `hello ${describeValue({ ...h, auth_token: h.auth_token === null ? null : '<token>' })}`);
      const m = await peer.next(Math.max(ctx.cfg.readTimeoutMs, 1000));
      const ok = m.kind === 'frame' && m.frame.type === 'reject' && m.frame.body.code === 'unauthorized' && m.frame.body.message === 'shard authorization failed';
      peer.destroy();
      ctx.check(ok, `[SEC-4] a certificate not on shard ${denied}'s allowlist must be rejected`, 'reject unauthorized "shard authorization failed"', describeMessage(m), 'SEC-4');
      // Control: the same certificate is admitted for the shard it is allowed for.
      const s = await ctx.session();
      s.peer.destroy();
    },
  },
  {
    id: 'router.tls.global-allowlist-admits-every-shard',
    role: 'router',
    title: 'a client certificate on the global allowlist is admitted for a shard whose own list does not name it',
    requirements: ['SEC-8'],
    strength: 'MUST',
    needs: ['tls', 'mtls'],
    faults: ['router-tls-ignores-global-allowlist'],
    since: '0.1.0',
    async run(ctx) {
      if (!ctx.cfg.tls?.globalClientCert) ctx.skip('no client certificate on the global allowlist is configured (tls.globalCertFile / tls.globalKeyFile)');
      await expectAdmitted(ctx, 'global-client-cert', 'a certificate on the global allowlist');
    },
  },
  {
    id: 'router.tls.fingerprint-case-insensitive',
    role: 'router',
    title: 'an allowlist fingerprint written in mixed letter case admits the certificate it names',
    requirements: ['SEC-8'],
    strength: 'MUST',
    needs: ['tls', 'mtls'],
    faults: ['router-tls-case-sensitive-fingerprints'],
    since: '0.1.0',
    async run(ctx) {
      // The certificate's entry alternates upper- and lowercase hex letters, so it equals the
      // fingerprint only when letter case is ignored. The embedded router mints it; an attached
      // router names it in tls.mixedCaseFingerprintCertFile / ...KeyFile (skips without it).
      await expectAdmitted(ctx, 'mixed-case-client-cert', 'a certificate whose allowlist entry is written in mixed letter case');
    },
  },
  // ------------------------------------------------------------------ worker (the harness plays the router)
  {
    id: 'worker.tls.refuses-unknown-ca',
    role: 'worker',
    title: 'the worker refuses a router certificate that does not chain to its CA, and sends no Hello',
    requirements: ['TRN-4'],
    strength: 'MUST',
    needs: ['tls'],
    faults: ['worker-tls-skips-verification'],
    since: '0.1.0',
    async run(ctx) {
      checkWorkerRefused(ctx, await ctx.probeWorkerTls('unknown-ca'), 'a router certificate from an unknown CA', 'TRN-4');
    },
  },
  {
    id: 'worker.tls.refuses-wrong-server-name',
    role: 'worker',
    title: 'the worker refuses a router certificate (from its CA) that does not name the server it connects to',
    requirements: ['TRN-4', 'TRN-9'],
    strength: 'MUST',
    needs: ['tls'],
    faults: ['worker-tls-ignores-server-name', 'worker-tls-skips-verification'],
    since: '0.1.0',
    async run(ctx) {
      checkWorkerRefused(ctx, await ctx.probeWorkerTls('wrong-name'), 'a router certificate for another name (wrong-name.invalid)', 'TRN-4');
    },
  },
  {
    id: 'worker.tls.no-plaintext-fallback',
    role: 'worker',
    title: 'a worker whose TLS handshake fails does not fall back to plaintext',
    requirements: ['TRN-7'],
    strength: 'MUST',
    needs: ['tls'],
    faults: ['worker-tls-plaintext-fallback'],
    since: '0.1.0',
    async run(ctx) {
      const r = await ctx.probeWorkerTls('plaintext');
      if (r.tcpConnections === 0) throw new HarnessError(`the worker never connected to the probe listener${r.log ? `\n${r.log}` : ''}`);
      ctx.check(
        !r.established,
        '[TRN-7] after a failed TLS handshake the worker must not speak plaintext',
        'only TLS handshake attempts',
        `${r.bytesAfterHandshake} plaintext byte(s) (not a TLS record) received`,
        'TRN-7',
      );
    },
  },
  {
    id: 'worker.tls.refuses-tls-1-1',
    role: 'worker',
    title: 'the worker refuses a router that only speaks TLS 1.0 / 1.1',
    requirements: ['TRN-7'],
    strength: 'MUST',
    needs: ['tls'],
    faults: ['worker-tls-allows-tls-1-1'],
    since: '0.1.0',
    async run(ctx) {
      checkWorkerRefused(ctx, await ctx.probeWorkerTls('tls-1-1'), 'a TLS 1.1 router', 'TRN-7');
    },
  },
];
