/**
 * The TLS tier through the CLI, as a user runs it: a reference router over mTLS with fingerprint
 * allowlists (computed from the PKI generated here; the per-shard entries in openssl's upper-case
 * colon form, the global one bare lowercase) attached with --target tcp+tls (files from the target
 * config), a spawned reference worker over
 * TLS (certificates minted from the CA key), and the skip reasons on a plaintext target.
 * The self-test (selftest.test.ts) proves each TLS case fails under its fault.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startReferenceRouter, type ReferenceRouterHandle } from '../src/peers/router.js';
import { certificateFileFingerprint, generateTestPki, opensslAvailable, type TestPki } from '../src/transport/pki.js';
import { main } from './cli.js';
import { terminate } from './targets.js';
import { CLIENT_EXT, mintLeaf, mixedCaseFingerprint } from './tls-support.js';

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
    // This config names no certificate with a mixed-case allowlist entry
    // (tls.mixedCaseFingerprintCertFile): that one case skips here; the next describe runs it.
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

/**
 * [SEC-8] router.tls.fingerprint-case-insensitive against an external router process (`peer
 * router`), set up as docs/testing-a-router.md tells a user: the fingerprint from
 * `openssl x509 -fingerprint -sha256`, written in mixed letter case into the router's per-shard
 * allowlist, and the certificate named by tls.mixedCaseFingerprintCertFile / ...KeyFile.
 */
describe.skipIf(!haveOpenssl)('TLS tier: mixed-case allowlist fingerprint against an external router process', () => {
  const cli = join(process.cwd(), 'dist', 'conformance', 'cli.js');
  const haveDist = existsSync(cli);
  if (!haveDist) console.warn('[tls-tier.test] dist/ not built: skipping the external-router mixed-case fingerprint checks (npm test builds first)');
  let dir: string;
  let pki: TestPki;
  let mixedEntry: string;
  let clientEntry: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    if (!haveDist) return;
    dir = mkdtempSync(join(tmpdir(), 'nc-tlsmixed-'));
    pki = generateTestPki(join(dir, 'pki'));
    const mixed = mintLeaf(join(dir, 'pki'), 'mixed-client', { certFile: pki.caCert, keyFile: pki.caKey }, 'nova-mixed-case-worker', CLIENT_EXT);
    // As the guide does it: openssl prints "sha256 Fingerprint=AB:CD:..." (upper case).
    const printed = execFileSync('openssl', ['x509', '-in', mixed.certFile, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
    const fp = printed.trim().replace(/^.*=/, '');
    mixedEntry = mixedCaseFingerprint(fp);
    // The entry really is mixed: it differs from both the lower- and the upper-case form.
    expect(mixedEntry).not.toBe(mixedEntry.toLowerCase());
    expect(mixedEntry).not.toBe(mixedEntry.toUpperCase());
    expect(mixedEntry.toLowerCase().replace(/:/g, '')).toBe(certificateFileFingerprint(mixed.certFile));
    clientEntry = certificateFileFingerprint(pki.clientCert);
  });

  afterAll(async () => {
    for (const c of children) await terminate(c, 500);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Start `peer router` over mTLS; resolves with its address (first stdout line). */
  async function startRouter(faults: string[]): Promise<string> {
    const args = [
      cli, 'peer', 'router', '--listen', 'tcp+tls:127.0.0.1:0', '--shards', '1,2',
      '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-ca', pki.caCert, '--tls-require-client-cert',
      ...[1, 2].flatMap((s) => ['--shard-allow', `${s}=${clientEntry}`, '--shard-allow', `${s}=${mixedEntry}`]),
      ...faults.flatMap((f) => ['--fault', f]),
      '--quiet',
    ];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer router did not start: ${err}`)), 15_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) {
          clearTimeout(timer);
          resolve(line.trim());
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`peer router exited (${String(code)}): ${err}`));
      });
    });
  }

  async function runTier(address: string, name: string): Promise<{ code: number; out: string; got: Record<string, string> }> {
    const cfg = join(dir, `${name}.json`);
    writeFileSync(
      cfg,
      JSON.stringify({
        target: address,
        shards: { accepted: [1, 2] },
        tls: {
          caFile: 'pki/ca.crt',
          certFile: 'pki/client.crt',
          keyFile: 'pki/client.key',
          mixedCaseFingerprintCertFile: 'pki/mixed-client.crt',
          mixedCaseFingerprintKeyFile: 'pki/mixed-client.key',
        },
      }),
    );
    const rep = join(dir, `${name}-report.json`);
    const r = await run(['--config', cfg, '--run', 'router.tls.*', '--jobs', '2', '--report', `json=${rep}`, '--no-color']);
    return { ...r, got: outcomes(rep) };
  }

  it.skipIf(!haveDist)('a clean router admits the certificate whose allowlist entry is mixed case: the case passes', async () => {
    const r = await runTier(await startRouter([]), 'clean');
    expect(r.code, r.out).toBe(0);
    expect(r.got['router.tls.fingerprint-case-insensitive'], r.out).toBe('pass');
    // No deniedShard / global certificate in this config: those two skip, the rest pass.
    expect(r.got['router.tls.shard-allowlist-rejects-unlisted-cert'], r.out).toBe('skip');
    expect(r.got['router.tls.global-allowlist-admits-every-shard'], r.out).toBe('skip');
    expect(Object.entries(r.got).filter(([, o]) => o !== 'pass' && o !== 'skip'), r.out).toEqual([]);
  }, 30_000);

  it.skipIf(!haveDist)('--fault router-tls-case-sensitive-fingerprints: the case fails [SEC-8]', async () => {
    const r = await runTier(await startRouter(['router-tls-case-sensitive-fingerprints']), 'faulty');
    expect(r.code, r.out).toBe(1);
    expect(r.got['router.tls.fingerprint-case-insensitive'], r.out).toBe('fail');
    expect(r.out).toContain('SEC-8');
  }, 30_000);
});
