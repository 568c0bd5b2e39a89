/**
 * The TLS faults of the reference peers, each against its correct counterpart, at the transport
 * level: the faulty listener / connector does what the fault says and the correct one does not.
 * (The conformance self-test proves the TLS-tier cases catch each of them end to end.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenTransport, type Listener } from '../transport/index.js';
import { generateTestPki, opensslAvailable, type TestPki } from '../transport/pki.js';
import { connectWithTlsFault, hasTlsConnectFault, hasTlsListenFault, listenWithTlsFault, TLS_FAULTS } from './faults-tls.js';

const haveOpenssl = opensslAvailable();
if (!haveOpenssl) console.warn('[faults-tls.test] openssl CLI not found: skipping');

/** Try a TLS client handshake; resolves 'ok' or the error code. */
function tryConnect(port: number, o: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...o });
    const t = setTimeout(() => (s.destroy(), resolve('timeout')), 3000);
    s.once('secureConnect', () => {
      // TLS 1.3: the server's verdict on our certificate comes after our side is done; wait for it.
      s.once('close', () => (clearTimeout(t), resolve('closed')));
      s.once('data', () => undefined);
      setTimeout(() => (clearTimeout(t), s.destroy(), resolve('ok')), 150);
    });
    s.once('error', (e: NodeJS.ErrnoException) => (clearTimeout(t), s.destroy(), resolve(e.code ?? 'error')));
  });
}

describe.skipIf(!haveOpenssl)('TLS faults (faults-tls.ts)', () => {
  let dir: string;
  let pki: TestPki;
  const pem = (f: string): Buffer => readFileSync(f);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nc-ftls-'));
    pki = generateTestPki(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // router-tls-skips-shard-allowlist, router-tls-ignores-global-allowlist, router-tls-case-sensitive-fingerprints and router-no-handshake-cap live in the
  // router's admission / accept path: the TLS and limits tiers of conformance/selftest.test.ts exercise them.
  it('catalogue: every TLS fault is carried out by the listener, the connector or the router admission', () => {
    expect(TLS_FAULTS.map((f) => f.name).sort()).toEqual(
      [
        'router-no-handshake-cap', 'router-tls-accepts-any-client-cert', 'router-tls-allows-tls-1-1', 'router-tls-case-sensitive-fingerprints', 'router-tls-ignores-global-allowlist',
        'router-tls-plaintext-fallback', 'router-tls-skips-shard-allowlist', 'worker-tls-allows-tls-1-1', 'worker-tls-ignores-server-name',
        'worker-tls-skips-verification', 'worker-tls-plaintext-fallback',
      ].sort(),
    );
    expect(hasTlsListenFault(new Set(['router-tls-plaintext-fallback']))).toBe(true);
    expect(hasTlsListenFault(new Set(['router-tls-skips-shard-allowlist']))).toBe(false);
    expect(hasTlsConnectFault(new Set(['worker-tls-ignores-server-name']))).toBe(true);
  });

  async function listenBoth(faults: string[], requireClientCert: boolean): Promise<{ good: Listener; bad: Listener; close(): Promise<void> }> {
    const o = { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert, requireClientCert };
    const good = await listenTransport('tcp+tls:127.0.0.1:0', o, (s) => s.on('error', () => undefined));
    const bad = await listenWithTlsFault('tcp+tls:127.0.0.1:0', o, (s) => s.on('error', () => undefined), new Set(faults));
    return { good, bad, close: async () => void (await Promise.all([good.close(), bad.close()])) };
  }
  const portOf = (l: Listener): number => Number(l.address.split(':').pop());

  it('router-tls-accepts-any-client-cert: no certificate and a foreign one get through', async () => {
    const l = await listenBoth(['router-tls-accepts-any-client-cert'], true);
    const foreign = { cert: pem(pki.otherClientCert), key: pem(pki.otherClientKey) };
    const base = { ca: pem(pki.caCert), servername: 'localhost' };
    expect(await tryConnect(portOf(l.good), base)).not.toBe('ok');
    expect(await tryConnect(portOf(l.good), { ...base, ...foreign })).not.toBe('ok');
    expect(await tryConnect(portOf(l.bad), base)).toBe('ok');
    expect(await tryConnect(portOf(l.bad), { ...base, ...foreign })).toBe('ok');
    await l.close();
  });

  it('router-tls-allows-tls-1-1: a TLS 1.1 client gets through', async () => {
    const l = await listenBoth(['router-tls-allows-tls-1-1'], false);
    const old = { ca: pem(pki.caCert), servername: 'localhost', minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.1' as const, ciphers: 'DEFAULT@SECLEVEL=0' };
    expect(await tryConnect(portOf(l.good), old)).not.toBe('ok');
    expect(await tryConnect(portOf(l.bad), old)).toBe('ok');
    await l.close();
  });

  it('router-tls-plaintext-fallback: plaintext bytes reach the application, TLS still works', async () => {
    let plainBytes = 0;
    const bad = await listenWithTlsFault('tcp+tls:127.0.0.1:0', { certFile: pki.serverCert, keyFile: pki.serverKey }, (s) => {
      s.on('data', (d: Buffer) => (plainBytes += d.length));
      s.on('error', () => undefined);
    }, new Set(['router-tls-plaintext-fallback']));
    const c = net.connect({ host: '127.0.0.1', port: portOf(bad) });
    await new Promise((r) => c.once('connect', r));
    c.write(Buffer.from([0x05, 0, 0, 0, 1, 2, 3, 4, 5]));
    await new Promise((r) => setTimeout(r, 150));
    c.destroy();
    expect(plainBytes).toBe(9);
    expect(await tryConnect(portOf(bad), { ca: pem(pki.caCert), servername: 'localhost' })).toBe('ok');
    await bad.close();
  });

  it('worker faults: skip verification / ignore the name / allow TLS 1.1 / plaintext fallback; correct otherwise', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'nc-ftls2-'));
    const other = generateTestPki(dir2); // an unrelated CA: its server certificate does not chain to ours
    const serve = async (cert: string, key: string, old = false): Promise<net.Server> => {
      const srv = tls.createServer({ cert: pem(cert), key: pem(key), ...(old ? { minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.1' as const, ciphers: 'DEFAULT@SECLEVEL=0' } : {}) }, (s) => void setTimeout(() => s.destroy(), 100));
      srv.on('tlsClientError', () => undefined);
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      return srv;
    };
    const attempt = async (srv: net.Server, faults: string[], serverName?: string): Promise<boolean> => {
      const addr = `tcp+tls:127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
      try {
        const s = await connectWithTlsFault(addr, { caFile: pki.caCert, connectTimeoutMs: 2000, ...(serverName ? { serverName } : {}) }, new Set(faults));
        s.destroy();
        return true;
      } catch {
        return false;
      }
    };
    const foreign = await serve(other.serverCert, other.serverKey);
    const good = await serve(pki.serverCert, pki.serverKey);
    const old = await serve(pki.serverCert, pki.serverKey, true);
    try {
      expect(await attempt(good, ['worker-tls-allows-tls-1-1'])).toBe(true); // the faulty connector still works with a correct router
      expect(await attempt(foreign, ['worker-tls-ignores-server-name'])).toBe(false); // the chain is still checked
      expect(await attempt(foreign, ['worker-tls-skips-verification'])).toBe(true);
      expect(await attempt(good, ['worker-tls-allows-tls-1-1'], 'wrong-name.invalid')).toBe(false);
      expect(await attempt(good, ['worker-tls-ignores-server-name'], 'wrong-name.invalid')).toBe(true);
      expect(await attempt(old, ['worker-tls-ignores-server-name'])).toBe(false);
      expect(await attempt(old, ['worker-tls-allows-tls-1-1'])).toBe(true);
      // A plain TCP port where TLS is expected: only the fallback fault gets a (plaintext) stream.
      const plain = net.createServer((s) => s.once('data', () => s.end('not TLS\r\n')));
      await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
      expect(await attempt(plain, ['worker-tls-allows-tls-1-1'])).toBe(false);
      expect(await attempt(plain, ['worker-tls-plaintext-fallback'])).toBe(true);
      plain.close();
    } finally {
      for (const s of [foreign, good, old]) s.close();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
