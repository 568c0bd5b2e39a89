/**
 * The TLS tier through the CLI, as a user runs it: a reference router over mTLS with fingerprint
 * allowlists (computed from the PKI generated here; the per-shard entries in openssl's upper-case
 * colon form, the global one bare lowercase) attached with --target tcp+tls (files from the target
 * config), a spawned reference worker over
 * TLS (certificates minted from the CA key), and the skip reasons on a plaintext target.
 * The self-test (selftest.test.ts) proves each TLS case fails under its fault.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startReferenceRouter, type ReferenceRouterHandle } from '../src/peers/router.js';
import { certificateFileFingerprint, generateTestPki, opensslAvailable, type TestPki } from '../src/transport/pki.js';
import { main } from './cli.js';
import { CLIENT_EXT, mintLeaf } from './tls-support.js';

const haveOpenssl = opensslAvailable();
if (!haveOpenssl) console.warn('[tls-tier.test] openssl CLI not found: skipping the TLS tier CLI checks');

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  process.exitCode = undefined;
  try {
    return { code: await main(['node', 'nova-conformance', ...args]), out };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

function outcomes(file: string): Record<string, string> {
  const rep = JSON.parse(readFileSync(file, 'utf8')) as { cases?: { id: string; outcome: string }[]; results?: { id: string; outcome: string }[] };
  const list = rep.cases ?? rep.results ?? [];
  return Object.fromEntries(list.map((c) => [c.id, c.outcome]));
}

describe.skipIf(!haveOpenssl)('TLS tier via the CLI', () => {
  let dir: string;
  let pki: TestPki;
  let router: ReferenceRouterHandle;
  let plain: ReferenceRouterHandle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nc-tlscli-'));
    pki = generateTestPki(join(dir, 'pki'));
    const globalClient = mintLeaf(join(dir, 'pki'), 'global-client', { certFile: pki.caCert, keyFile: pki.caKey }, 'nova-global-worker', CLIENT_EXT);
    // [SEC-8] configured entries in either case and form: openssl's AA:BB:.. for the shard lists.
    const clientColons = new X509Certificate(readFileSync(pki.clientCert)).fingerprint256;
    const unused = certificateFileFingerprint(pki.otherClientCert);
    router = await startReferenceRouter({
      listen: 'tcp+tls:127.0.0.1:0',
      shards: [1, 2, 9],
      certFile: pki.serverCert,
      keyFile: pki.serverKey,
      caFile: pki.caCert,
      requireClientCert: true,
      shardAllowlist: { 1: [clientColons], 2: [clientColons], 9: [unused] },
      globalAllowlist: [certificateFileFingerprint(globalClient.certFile)],
      log: null,
    });
    plain = await startReferenceRouter({ listen: `unix:${join(dir, 'r.sock')}`, shards: [0], log: null });
  });

  afterAll(async () => {
    await router?.close();
    await plain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('router over mTLS: every TLS case runs and passes with the files from the target config', async () => {
    // The target config cannot name a certificate with a mixed-case allowlist entry: that one case
    // skips here (the self-test runs it against the embedded router).
    const cfg = join(dir, 'router.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        target: router.address,
        shards: { accepted: [1, 2] },
        tls: {
          caFile: 'pki/ca.crt',
          certFile: 'pki/client.crt',
          keyFile: 'pki/client.key',
          deniedShard: 9,
          globalCertFile: 'pki/global-client.crt',
          globalKeyFile: 'pki/global-client.key',
        },
      }),
    );
    const rep = join(dir, 'router-report.json');
    const r = await run(['--config', cfg, '--run', 'router.tls.*', '--jobs', '2', '--report', `json=${rep}`, '--no-color']);
    expect(r.code, r.out).toBe(0);
    const got = outcomes(rep);
    expect(Object.keys(got).length).toBe(7);
    expect(got['router.tls.fingerprint-case-insensitive'], r.out).toBe('skip');
    expect(Object.entries(got).filter(([id, o]) => o !== 'pass' && id !== 'router.tls.fingerprint-case-insensitive'), r.out).toEqual([]);
  });

  it('a plaintext router target: the TLS cases skip with a reason', async () => {
    const rep = join(dir, 'plain-report.json');
    const r = await run(['--target', plain.address, '--run', 'router.tls.*,router.limits.*', '--report', `json=${rep}`, '--no-color']);
    expect(r.code, r.out).toBe(0);
    const got = outcomes(rep);
    expect(Object.values(got).every((o) => o === 'skip')).toBe(true);
    expect(Object.keys(got).length).toBe(10);
  });

  it('the limits tier runs only with --limits', async () => {
    const rep = join(dir, 'limits-report.json');
    // (router.limits.reassembly-total-cap, 256 MiB of chunks, is left out to keep this test light.)
    const r = await run(['--target', plain.address, '--run', 'router.limits.handshake-cap,router.limits.response-wait-bounded,router.handshake.welcome', '--limits', '--report', `json=${rep}`, '--no-color']);
    expect(r.code, r.out).toBe(0);
    // response-wait-bounded skips: no stimulus and no timeouts.responseWaitMs for this target.
    expect(outcomes(rep)).toEqual({ 'router.limits.handshake-cap': 'pass', 'router.limits.response-wait-bounded': 'skip', 'router.handshake.welcome': 'pass' });
  });

  it('spawned worker over TLS: the TLS cases run against certificates minted from the CA key', async () => {
    const cli = join(process.cwd(), 'dist', 'conformance', 'cli.js');
    if (!existsSync(cli)) {
      console.warn('[tls-tier.test] dist/ not built: skipping the spawned TLS worker check (npm test builds first)');
      return;
    }
    const rep = join(dir, 'worker-report.json');
    const spawnCmd = `node ${cli} peer worker --connect {address} --shard-id {shard} --tls-ca {caFile} --quiet`;
    const r = await run([
      '--spawn', spawnCmd, '--tls-ca', pki.caCert, '--tls-ca-key', pki.caKey,
      '--run', 'worker.tls.*,worker.handshake.hello-first', '--jobs', '2', '--report', `json=${rep}`, '--no-color',
    ]);
    expect(r.code, r.out).toBe(0);
    const got = outcomes(rep);
    expect(Object.keys(got).length).toBe(5);
    expect(Object.entries(got).filter(([, o]) => o !== 'pass'), r.out).toEqual([]);
  }, 30_000);
});
