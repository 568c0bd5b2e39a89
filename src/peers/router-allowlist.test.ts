/**
 * The reference router's fingerprint allowlists [SEC-4] [SEC-8]: start-up validation, admission by
 * the SHA-256 of the client certificate's DER (global list or the shard's list, any letter case),
 * what is logged, the faults that break it, and the router CLI flags.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isProtocolError } from '../errors.js';
import { certificateFileFingerprint, generateTestPki, opensslAvailable, type TestPki } from '../transport/pki.js';
import { registerPeerCommands } from './cli.js';
import { startReferenceRouter, type ReferenceRouterOptions } from './router.js';
import { startReferenceWorker } from './worker.js';

const haveOpenssl = opensslAvailable();
if (!haveOpenssl) console.warn('[router-allowlist.test] openssl CLI not found: skipping the allowlist tests');

afterEach(() => vi.restoreAllMocks());

describe.skipIf(!haveOpenssl)('router fingerprint allowlist', () => {
  let dir: string;
  let pki: TestPki;
  let clientFp: string;
  let otherFp: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nc-allow-'));
    pki = generateTestPki(dir);
    clientFp = certificateFileFingerprint(pki.clientCert);
    // A certificate from another CA: a valid fingerprint of a certificate that never connects here.
    otherFp = certificateFileFingerprint(pki.otherClientCert);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const base = (): ReferenceRouterOptions => ({
    listen: 'tcp+tls:127.0.0.1:0',
    certFile: pki.serverCert,
    keyFile: pki.serverKey,
    caFile: pki.caCert,
    requireClientCert: true,
    shards: [0, 1, 2],
    log: null,
  });
  const worker = (address: string, shardId: number): Promise<unknown> =>
    startReferenceWorker({ connect: address, shardId, caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey, log: null }).then(
      async (w) => {
        await w.close();
        return 'welcome';
      },
      (e: unknown) => (e as { reject?: unknown }).reject ?? (isProtocolError(e) ? e.code : e),
    );
  const DENIED = { code: 'unauthorized', message: 'shard authorization failed' };

  it('the fingerprint helper agrees with openssl / Node on the generated client certificate', () => {
    expect(clientFp).toMatch(/^[0-9a-f]{64}$/);
    expect(clientFp).toBe(new X509Certificate(readFileSync(pki.clientCert)).fingerprint256.replaceAll(':', '').toLowerCase());
  });

  it('[SEC-8] malformed entries, bad shard keys and allowlists without mTLS are CONFIG_INVALID at start-up, entry not echoed', async () => {
    const secretish = 'nova-worker-CN-not-a-fingerprint';
    const cases: [Partial<ReferenceRouterOptions>, string, Record<string, unknown>][] = [
      [{ globalAllowlist: [clientFp, secretish] }, 'SEC-8', { list: 'global', index: 1 }],
      [{ shardAllowlist: { 2: [clientFp.slice(2)] } }, 'SEC-8', { list: 'shard', shard: 2, index: 0 }],
      [{ shardAllowlist: { [-1]: [clientFp] } as Record<number, string[]> }, 'SEC-4', {}],
      [{ globalAllowlist: [clientFp], requireClientCert: false }, 'SEC-4', {}],
      [{ globalAllowlist: [clientFp], listen: `unix:${join(dir, 'x.sock')}`, requireClientCert: true }, 'SEC-4', {}],
    ];
    for (const [extra, rule, details] of cases) {
      const e = await startReferenceRouter({ ...base(), ...extra }).then(
        async (r) => {
          await r.close();
          return 'started';
        },
        (x: unknown) => x,
      );
      expect(isProtocolError(e), JSON.stringify(extra)).toBe(true);
      if (!isProtocolError(e)) continue;
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.rule).toBe(rule);
      expect(e.details).toEqual(details);
      expect(e.message).not.toContain(secretish);
    }
  });

  it('[SEC-4] [SEC-8] admits by global list or shard list, in any letter case and in openssl colon form; rejects others', async () => {
    const colonUpper = new X509Certificate(readFileSync(pki.clientCert)).fingerprint256; // AA:BB:..
    const events: { event: string; [k: string]: unknown }[] = [];
    const lines: string[] = [];
    const router = await startReferenceRouter({
      ...base(),
      shards: [0, 1, 2, 3],
      // shard 0: upper-case colon form; shard 1: someone else only; shard 2: no own list (global decides).
      shardAllowlist: { 0: [colonUpper], 1: [otherFp] },
      globalAllowlist: [otherFp.toUpperCase()],
      log: (l) => lines.push(l),
      onEvent: (e) => events.push(e),
    });
    try {
      expect(await worker(router.address, 0)).toBe('welcome');
      expect(await worker(router.address, 1)).toEqual(DENIED);
      // Global list non-empty: a shard without its own list is checked against the global list only.
      expect(await worker(router.address, 2)).toEqual(DENIED);
      // The fingerprint is all that is logged of the certificate.
      const denied = events.filter((e) => e.event === 'shard_authorization_failed');
      expect(denied.map((e) => [e['shardId'], e['fingerprint']])).toEqual([[1, clientFp], [2, clientFp]]);
      const all = lines.join('\n');
      expect(all).not.toContain('nova-worker');
      expect(all).not.toContain('BEGIN CERTIFICATE');
    } finally {
      await router.close();
    }
  });

  it('[SEC-8] the global list admits a certificate to a shard whose own list lacks it; a mixed-case global entry works', async () => {
    const mixed = clientFp.replace(/[a-f]/g, (c, i: number) => (i % 2 === 0 ? c.toUpperCase() : c));
    const router = await startReferenceRouter({ ...base(), shardAllowlist: { 1: [otherFp] }, globalAllowlist: [mixed] });
    try {
      expect(await worker(router.address, 1)).toBe('welcome');
      expect(await worker(router.address, 0)).toBe('welcome');
    } finally {
      await router.close();
    }
  });

  it('without any allowlist every authenticated certificate is admitted; a shard-only list leaves other shards open', async () => {
    const router = await startReferenceRouter({ ...base(), shardAllowlist: { 1: [otherFp] } });
    try {
      expect(await worker(router.address, 0)).toBe('welcome');
      expect(await worker(router.address, 1)).toEqual(DENIED);
    } finally {
      await router.close();
    }
  });

  it('faults: case-sensitive comparison, skipped shard list, ignored global list', async () => {
    const upper = clientFp.toUpperCase();
    const cs = await startReferenceRouter({ ...base(), shardAllowlist: { 0: [upper], 1: [clientFp] }, faults: ['router-tls-case-sensitive-fingerprints'] });
    try {
      expect(await worker(cs.address, 0)).toEqual(DENIED); // [SEC-8] broken on purpose
      expect(await worker(cs.address, 1)).toBe('welcome'); // the same certificate, lowercase entry
    } finally {
      await cs.close();
    }
    const skip = await startReferenceRouter({ ...base(), shardAllowlist: { 0: [otherFp] }, faults: ['router-tls-skips-shard-allowlist'] });
    try {
      expect(await worker(skip.address, 0)).toBe('welcome');
    } finally {
      await skip.close();
    }
    const noGlobal = await startReferenceRouter({ ...base(), shardAllowlist: { 0: [otherFp] }, globalAllowlist: [clientFp], faults: ['router-tls-ignores-global-allowlist'] });
    try {
      expect(await worker(noGlobal.address, 0)).toEqual(DENIED);
    } finally {
      await noGlobal.close();
    }
  });

  describe('router CLI flags', () => {
    async function runCli(args: string[]): Promise<{ err: string; exit: unknown }> {
      const err: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
        throw new Error(`exit ${code}`);
      }) as never);
      const p = new Command('nova-conformance').exitOverride();
      registerPeerCommands(p);
      const tls = ['--listen', 'tcp+tls:127.0.0.1:0', '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-ca', pki.caCert];
      const exit = await p.parseAsync(['peer', 'router', ...tls, ...args], { from: 'user' }).then(
        () => 'no exit',
        (e: unknown) => (e as Error).message,
      );
      return { err: err.join(''), exit };
    }

    it('--allow-fingerprint and --shard-allow refuse malformed fingerprints before listening, without echoing them', async () => {
      const bad = 'nova-worker-cn';
      for (const args of [
        ['--tls-require-client-cert', '--allow-fingerprint', bad],
        ['--tls-require-client-cert', '--shard-allow', `0=${bad}`],
        ['--tls-require-client-cert', '--shard-allow', clientFp],
        ['--tls-require-client-cert', '--shard-allow', `99999999999=${clientFp}`],
      ]) {
        const r = await runCli(args);
        expect(r.exit, args.join(' ')).toBe('exit 2');
        expect(r.err).toMatch(/--(allow-fingerprint|shard-allow)/);
        expect(r.err).not.toContain(bad);
      }
    });

    it('an allowlist without --tls-require-client-cert is refused (CONFIG_INVALID); the old name flags are gone', async () => {
      const r = await runCli(['--allow-fingerprint', clientFp]);
      expect(r.exit).toBe('exit 2');
      expect(r.err).toContain('CONFIG_INVALID');
      const old = await runCli(['--tls-require-client-cert', '--tls-global-allow', 'nova-worker']);
      expect(old.exit).toMatch(/unknown option/);
    });
  });
});
