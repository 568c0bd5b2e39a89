import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, statSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProtocolError } from '../errors.js';
import { connectTransport, listenTransport, type Listener, type TransportSocket } from './index.js';
import { generateTestPki, opensslAvailable, type TestPki } from './pki.js';

/** Echo server: every accepted socket writes back what it reads. */
async function echoListener(address: string, opts: Parameters<typeof listenTransport>[1] = {}): Promise<Listener & { accepted: number }> {
  let accepted = 0;
  const l = await listenTransport(address, opts, (s) => {
    accepted++;
    s.on('error', () => undefined);
    s.pipe(s);
  });
  return {
    address: l.address,
    connections: l.connections,
    close: () => l.close(),
    get accepted() {
      return accepted;
    },
  };
}

async function roundTrip(socket: TransportSocket, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= data.length) resolve(Buffer.concat(chunks));
    });
    socket.once('error', reject);
    socket.write(data);
  });
}

/** Resolves with the error code (or 'close') once the socket fails or closes without data. */
function outcome(socket: TransportSocket, probe: Buffer): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    socket.once('close', () => resolve('close'));
    socket.once('data', () => resolve('data'));
    socket.write(probe, () => undefined);
  });
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(isProtocolError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-trn-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('unix sockets', () => {
  it('round-trips bytes and creates the socket with mode 0600, removing it on close', async () => {
    const path = join(dir, 'a.sock');
    const l = await echoListener(`unix:${path}`);
    expect(l.address).toBe(`unix:${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const s = await connectTransport(`unix:${path}`);
    const payload = Buffer.from([1, 2, 3, 0, 255]);
    expect(await roundTrip(s, payload)).toEqual(payload);
    s.destroy();
    await l.close();
    await l.close(); // idempotent
    expect(existsSync(path)).toBe(false);
  });

  it('removes a stale socket file but refuses a live one and a non-socket file', async () => {
    const path = join(dir, 'stale.sock');
    const raw = net.createServer();
    await new Promise<void>((r) => raw.listen(path, r));
    await expectCode(listenTransport(`unix:${path}`, {}, () => undefined), 'TRANSPORT_ERROR');
    await new Promise<void>((r) => raw.close(() => r()));
    // A process that exits without closing its server leaves a stale socket file behind.
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    expect(existsSync(path)).toBe(true);
    const l = await echoListener(`unix:${path}`);
    const s = await connectTransport(`unix:${path}`);
    expect(await roundTrip(s, Buffer.from('hi'))).toEqual(Buffer.from('hi'));
    s.destroy();
    await l.close();

    const file = join(dir, 'regular');
    writeFileSync(file, 'keep me');
    await expectCode(listenTransport(`unix:${file}`, {}, () => undefined), 'TRANSPORT_ERROR');
    expect(existsSync(file)).toBe(true);
  });

  it('connect to a missing socket is TRANSPORT_ERROR with the errno only', async () => {
    try {
      await connectTransport(`unix:${join(dir, 'missing.sock')}`);
      throw new Error('unreachable');
    } catch (e) {
      expect(isProtocolError(e) && e.code).toBe('TRANSPORT_ERROR');
      expect((e as { details: Record<string, unknown> }).details['errno']).toBe('ENOENT');
      expect((e as Error).message).not.toContain('missing.sock');
    }
  });

  it.skipIf(process.platform === 'win32')('pipe:name maps to a unix socket under tmpdir', async () => {
    const name = `nova-test-${process.pid}`;
    const l = await echoListener(`pipe:${name}`);
    expect(l.address).toBe(`pipe:${name}`);
    expect(existsSync(join(tmpdir(), `nova-pipe-${name}.sock`))).toBe(true);
    const s = await connectTransport(`pipe:${name}`);
    expect(await roundTrip(s, Buffer.from('pipe'))).toEqual(Buffer.from('pipe'));
    s.destroy();
    await l.close();
    expect(existsSync(join(tmpdir(), `nova-pipe-${name}.sock`))).toBe(false);
  });
});

describe('plaintext tcp', () => {
  it('round-trips on loopback with an ephemeral port (IPv4 and IPv6)', async () => {
    const l = await echoListener('tcp:127.0.0.1:0');
    expect(l.address).toMatch(/^tcp:127\.0\.0\.1:[1-9][0-9]*$/);
    const s = await connectTransport(l.address);
    const payload = Buffer.alloc(256 * 1024, 7);
    expect((await roundTrip(s, payload)).equals(payload)).toBe(true);
    s.destroy();
    await l.close();

    let l6: Listener | undefined;
    try {
      l6 = await echoListener('tcp:[::1]:0');
    } catch {
      return; // no IPv6 loopback on this machine
    }
    expect(l6.address).toMatch(/^tcp:\[::1\]:[0-9]+$/);
    const s6 = await connectTransport(l6.address);
    expect(await roundTrip(s6, Buffer.from('six'))).toEqual(Buffer.from('six'));
    s6.destroy();
    await l6.close();
  });

  it('[TRN-2] refuses a token over plaintext tcp and non-loopback hosts unless allowed', async () => {
    await expectCode(connectTransport('tcp:127.0.0.1:9', { authTokenConfigured: true }), 'INSECURE_TRANSPORT_REFUSED');
    await expectCode(listenTransport('tcp:127.0.0.1:0', { authTokenConfigured: true }, () => undefined), 'INSECURE_TRANSPORT_REFUSED');
    await expectCode(listenTransport('tcp:0.0.0.0:0', {}, () => undefined), 'INSECURE_TRANSPORT_REFUSED');
    await expectCode(connectTransport('tcp:example.com:7000'), 'INSECURE_TRANSPORT_REFUSED');
    await expectCode(connectTransport('tcp:10.1.2.3:7000'), 'INSECURE_TRANSPORT_REFUSED');
    // Allowed explicitly: the policy lets it through (the listener really binds).
    const l = await listenTransport('tcp:127.0.0.1:0', { authTokenConfigured: true, allowInsecureTcp: true }, (s) => s.destroy());
    await l.close();
    // unix with a token is fine
    const l2 = await listenTransport(`unix:${join(dir, 'tok.sock')}`, { authTokenConfigured: true }, (s) => s.destroy());
    await l2.close();
  });

  it('connection refused and port 0 are reported without echoing the address', async () => {
    const probe = await echoListener('tcp:127.0.0.1:0');
    const port = Number(probe.address.split(':').pop());
    await probe.close();
    await expectCode(connectTransport(`tcp:127.0.0.1:${port}`), 'TRANSPORT_ERROR');
    await expectCode(connectTransport('tcp:127.0.0.1:0'), 'ADDRESS_INVALID');
  });

  it('TLS options on a non-TLS address are a configuration error', async () => {
    await expectCode(connectTransport('tcp:127.0.0.1:9', { caFile: '/x' }), 'CONFIG_INVALID');
  });
});

describe.skipIf(!opensslAvailable())('tcp+tls', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = generateTestPki(join(dir, 'pki'));
  });

  it('round-trips with server verification against the CA', async () => {
    const l = await echoListener('tcp+tls:127.0.0.1:0', { certFile: pki.serverCert, keyFile: pki.serverKey });
    const port = l.address.split(':').pop()!;
    const s = await connectTransport(`tcp+tls:127.0.0.1:${port}`, { caFile: pki.caCert });
    expect(await roundTrip(s, Buffer.from('tls'))).toEqual(Buffer.from('tls'));
    s.destroy();
    // by host name, SAN DNS:localhost
    const s2 = await connectTransport(`tcp+tls:localhost:${port}`, { caFile: pki.caCert });
    expect(await roundTrip(s2, Buffer.from('dns'))).toEqual(Buffer.from('dns'));
    s2.destroy();
    await l.close();
  });

  it('[TRN-4] refuses a server certificate from the wrong CA or for the wrong name', async () => {
    const l = await echoListener('tcp+tls:127.0.0.1:0', { certFile: pki.serverCert, keyFile: pki.serverKey });
    const port = l.address.split(':').pop()!;
    await expectCode(connectTransport(`tcp+tls:127.0.0.1:${port}`, { caFile: pki.otherCaCert }), 'TRANSPORT_ERROR');
    await expectCode(connectTransport(`tcp+tls:127.0.0.1:${port}`, { caFile: pki.caCert, serverName: 'router.example' }), 'TRANSPORT_ERROR');
    // no CA: the system store does not know our test CA
    await expectCode(connectTransport(`tcp+tls:127.0.0.1:${port}`), 'TRANSPORT_ERROR');
    expect(l.accepted).toBe(0);
    await l.close();
  });

  it('[TRN-4] mTLS: a client certificate from the CA is accepted; missing or foreign ones are refused', async () => {
    const l = await echoListener('tcp+tls:127.0.0.1:0', {
      certFile: pki.serverCert,
      keyFile: pki.serverKey,
      caFile: pki.caCert,
      requireClientCert: true,
    });
    const port = l.address.split(':').pop()!;
    const ok = await connectTransport(`tcp+tls:127.0.0.1:${port}`, { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey });
    expect(await roundTrip(ok, Buffer.from('mtls'))).toEqual(Buffer.from('mtls'));
    ok.destroy();
    expect(l.accepted).toBe(1);

    // Without a client certificate: TLS 1.3 lets the client finish first, then the server aborts.
    for (const extra of [{}, { certFile: pki.otherClientCert, keyFile: pki.otherClientKey }]) {
      let result: string;
      try {
        const s = await connectTransport(`tcp+tls:127.0.0.1:${port}`, { caFile: pki.caCert, ...extra });
        result = await outcome(s, Buffer.from('x'));
        s.destroy();
      } catch (e) {
        result = (e as { code: string }).code;
      }
      expect(result === 'close' || result === 'ECONNRESET' || result.startsWith('ERR_SSL'), result).toBe(true);
    }
    expect(l.accepted).toBe(1);
    await l.close();
  });

  it('a TLS handshake that never completes times out; an abort signal cancels', async () => {
    const mute = net.createServer((s) => s.on('error', () => undefined).resume()); // reads and ignores the ClientHello
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as net.AddressInfo).port;
    const t0 = Date.now();
    await expectCode(connectTransport(`tcp+tls:127.0.0.1:${port}`, { caFile: pki.caCert, connectTimeoutMs: 200 }), 'TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expectCode(connectTransport(`tcp+tls:127.0.0.1:${port}`, { caFile: pki.caCert, signal: ac.signal }), 'CANCELLED');
    await new Promise<void>((r) => mute.close(() => r()));
  });

  it('close() does not wait for a client stuck before its TLS handshake', async () => {
    const l = await echoListener('tcp+tls:127.0.0.1:0', { certFile: pki.serverCert, keyFile: pki.serverKey });
    const port = Number(l.address.split(':').pop());
    const raw = net.connect({ host: '127.0.0.1', port });
    raw.on('error', () => undefined);
    await new Promise<void>((r) => raw.once('connect', () => r()));
    const t0 = Date.now();
    await l.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    raw.destroy();
  });

  it('a TLS listener without a certificate is a configuration error', async () => {
    await expectCode(listenTransport('tcp+tls:127.0.0.1:0', {}, () => undefined), 'CONFIG_INVALID');
    await expectCode(
      listenTransport('tcp+tls:127.0.0.1:0', { certFile: pki.serverCert, keyFile: pki.serverKey, requireClientCert: true }, () => undefined),
      'CONFIG_INVALID',
    );
    await expectCode(listenTransport('tcp+tls:127.0.0.1:0', { certFile: '/nonexistent', keyFile: '/nonexistent' }, () => undefined), 'CONFIG_INVALID');
  });
});
