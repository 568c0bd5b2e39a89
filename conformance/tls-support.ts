/**
 * The TLS tier's plumbing: certificates the harness mints for itself (openssl CLI), connections to a
 * router with a deliberately wrong client side (no certificate, one from an unknown CA, plaintext,
 * TLS 1.1), and a probe listener that offers a worker a deliberately wrong router certificate and
 * records how far the worker gets.
 *
 * Nothing here is trusted by the target unless the user gave the harness that CA's key: the
 * "foreign" CA is made fresh in a temp dir for every run.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { parseAddress } from '../src/transport/index.js';
import { CaseSkip, HarnessError } from './registry.js';

/** Ciphers that let OpenSSL 3 offer TLS 1.0/1.1 at all (security level 0); only for the "old TLS" variants. */
export const OLD_TLS_CIPHERS = 'DEFAULT@SECLEVEL=0';

/** A PEM certificate and its key. */
export interface CertPair {
  certFile: string;
  keyFile: string;
}

/** Certificates the harness minted for one run. */
export interface HarnessTlsMaterial {
  dir: string;
  /** A CA nobody trusts, made for this run. */
  foreignCaFile: string;
  /** Client certificate signed by the foreign CA (TRN-6). */
  foreignClient: CertPair;
  /** Server certificate for localhost / 127.0.0.1 / ::1 signed by the foreign CA (TRN-4). */
  foreignServer: CertPair;
  /** Present when the harness has the trusted CA's key: a server certificate the worker must accept. */
  goodServer?: CertPair;
  /** Present when the harness has the trusted CA's key: a server certificate for `wrong-name.invalid` only (TRN-9). */
  wrongNameServer?: CertPair;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new HarnessError(`openssl failed (${(err as { code?: string }).code ?? 'error'}): the TLS tier needs the openssl CLI`);
  }
}

function makeCa(dir: string, name: string, cn: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

/** A leaf certificate signed by `ca` (PEM files), P-256, valid one day. */
export function mintLeaf(dir: string, name: string, ca: CertPair, cn: string, ext: string): CertPair {
  writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n${ext}\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1',
    '-extfile', `${name}.ext`], dir);
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

export const SERVER_EXT = 'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1';
export const CLIENT_EXT = 'extendedKeyUsage=clientAuth';

/** Mint the harness's own certificates; `trusted` = the CA the target trusts, when its key is known. */
export function mintHarnessTls(trusted?: CertPair): HarnessTlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'nc-tls-'));
  try {
    mkdirSync(dir, { recursive: true });
    makeCa(dir, 'foreign-ca', 'nova-conformance foreign CA (untrusted)');
    const foreignCa = { certFile: join(dir, 'foreign-ca.crt'), keyFile: join(dir, 'foreign-ca.key') };
    const m: HarnessTlsMaterial = {
      dir,
      foreignCaFile: foreignCa.certFile,
      foreignClient: mintLeaf(dir, 'foreign-client', foreignCa, 'nova-worker', CLIENT_EXT),
      foreignServer: mintLeaf(dir, 'foreign-server', foreignCa, 'localhost', SERVER_EXT),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
    if (trusted) {
      m.goodServer = mintLeaf(dir, 'good-server', trusted, 'localhost', SERVER_EXT);
      m.wrongNameServer = mintLeaf(dir, 'wrong-name-server', trusted, 'wrong-name.invalid', 'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:wrong-name.invalid');
    }
    return m;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * [SEC-8] An allowlist entry for `fingerprint` in mixed letter case: its hex letters alternate
 * upper / lower, so a router that compares case-sensitively fails to match it whether it computes
 * fingerprints in lower or in upper case. Throws when the fingerprint has fewer than two hex letters
 * (odds about 1 in 10^11; mint another certificate).
 */
export function mixedCaseFingerprint(fingerprint: string): string {
  let letters = 0;
  const out = fingerprint.toLowerCase().replace(/[a-f]/g, (c) => (letters++ % 2 === 0 ? c.toUpperCase() : c));
  if (letters < 2) throw new HarnessError('this certificate\'s fingerprint has fewer than two hex letters: it cannot be written in mixed case');
  return out;
}

// ---------------------------------------------------------------------------- router targets

/** How the harness, playing the worker, deviates on the TLS side. */
export type TlsClientVariant = 'no-client-cert' | 'foreign-client-cert' | 'global-client-cert' | 'mixed-case-client-cert' | 'plaintext' | 'tls-1-1';

export interface TlsClientSetup {
  /** The router's tcp+tls address. */
  address: string;
  caFile?: string;
  serverName?: string;
  /** The client certificate the router admits (mTLS). */
  client?: CertPair;
  /** A client certificate on the router's global allowlist only [SEC-8]. */
  globalClient?: CertPair;
  /**
   * A client certificate allowed for the accepted shards by an allowlist entry written in mixed
   * letter case, so that it matches neither an all-lowercase nor an all-uppercase fingerprint [SEC-8].
   */
  mixedCaseClient?: CertPair;
  material: () => HarnessTlsMaterial;
}

export interface TlsConnectResult {
  /** The stream, when the connection (and for TLS variants the client side of the handshake) succeeded. */
  socket?: Duplex;
  /** Why the connection or TLS handshake failed on our side (TLS / OS error code). */
  refused?: string;
  /** TLS version negotiated, for TLS variants that got through. */
  protocol?: string;
}

/** Connect to the router with the given variant; never throws for a refusal (that is the target's answer). */
export async function connectTlsVariant(setup: TlsClientSetup, variant: TlsClientVariant, timeoutMs: number, signal: AbortSignal): Promise<TlsConnectResult> {
  const addr = parseAddress(setup.address);
  if (addr.scheme !== 'tcp+tls') throw new HarnessError('the TLS variants need a tcp+tls router address');
  let socket: net.Socket;
  if (variant === 'plaintext') {
    socket = net.connect({ host: addr.host, port: addr.port });
  } else {
    let cert: CertPair | undefined;
    if (variant === 'foreign-client-cert') cert = setup.material().foreignClient;
    else if (variant === 'global-client-cert') {
      if (!setup.globalClient) throw new HarnessError('no global-allowlist client certificate configured');
      cert = setup.globalClient;
    } else if (variant === 'mixed-case-client-cert') {
      // The embedded router mints one; an attached router needs it from the target config.
      if (!setup.mixedCaseClient) {
        throw new CaseSkip('no client certificate whose allowlist entry is written in mixed letter case is configured (tls.mixedCaseFingerprintCertFile / tls.mixedCaseFingerprintKeyFile)');
      }
      cert = setup.mixedCaseClient;
    } else if (variant === 'tls-1-1') cert = setup.client;
    const name = setup.serverName ?? addr.host;
    socket = tls.connect({
      host: addr.host,
      port: addr.port,
      ...(setup.caFile ? { ca: readFileSync(setup.caFile) } : {}),
      ...(cert ? { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) } : {}),
      ...(variant === 'tls-1-1' ? { minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.1' as const, ciphers: OLD_TLS_CIPHERS } : { minVersion: 'TLSv1.2' as const }),
      rejectUnauthorized: true,
      ...(net.isIP(name) === 0 ? { servername: name } : {}),
      checkServerIdentity: (_h: string, c: tls.PeerCertificate) => tls.checkServerIdentity(name, c),
    });
  }
  const ready = variant === 'plaintext' ? 'connect' : 'secureConnect';
  return new Promise<TlsConnectResult>((resolve) => {
    const done = (r: TlsConnectResult): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off(ready, onReady);
      if (!r.socket) socket.destroy();
      resolve(r);
    };
    const onReady = (): void => done({ socket, ...(socket instanceof tls.TLSSocket ? { protocol: socket.getProtocol() ?? 'unknown' } : {}) });
    const onError = (err: NodeJS.ErrnoException): void => done({ refused: err.code ?? 'error' });
    const onAbort = (): void => done({ refused: 'aborted' });
    const timer = setTimeout(() => done({ refused: 'timeout' }), timeoutMs);
    socket.once(ready, onReady);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------- worker targets

/** What the harness, playing the router, offers the worker. */
export type TlsServerVariant = 'unknown-ca' | 'wrong-name' | 'tls-1-1' | 'plaintext';

export interface TlsProbeResult {
  /** TCP connections the worker opened. */
  tcpConnections: number;
  /** A TLS handshake completed: the worker accepted what it was offered. */
  established: boolean;
  /** The TLS error the listener saw when the handshake failed. */
  tlsError?: string;
  /** Bytes the worker sent over an established session within the observation window. */
  bytesAfterHandshake: number;
  /** The worker's log tail, when the adapter sees it. */
  log: string;
}

/** Start the worker against `address` (the probe listener) and return a way to stop it. */
export type ProbeWorkerStarter = (address: string) => Promise<{ stop(): Promise<void>; log(): string }>;

/** The certificate / TLS settings for a server variant. */
export function serverVariantOptions(variant: TlsServerVariant, m: HarnessTlsMaterial): tls.TlsOptions {
  let pair: CertPair | undefined;
  if (variant === 'plaintext') throw new HarnessError('the plaintext variant has no TLS settings');
  if (variant === 'unknown-ca') pair = m.foreignServer;
  else if (variant === 'wrong-name') pair = m.wrongNameServer;
  else pair = m.goodServer;
  if (!pair) throw new HarnessError(`the ${variant} variant needs a certificate signed by the CA the worker trusts (tls.caKeyFile)`);
  return {
    cert: readFileSync(pair.certFile),
    key: readFileSync(pair.keyFile),
    ...(variant === 'tls-1-1' ? { minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.1' as const, ciphers: OLD_TLS_CIPHERS } : { minVersion: 'TLSv1.2' as const }),
  };
}

/**
 * Listen on tcp+tls:127.0.0.1:0 with the variant's settings, start the worker, and watch: the
 * first failed or completed TLS handshake decides; after a completed one, count what the worker
 * sends for `windowMs`. Gives up (tcpConnections 0) after `connectTimeoutMs`.
 */
export async function probeWorkerTls(
  variant: TlsServerVariant,
  material: HarnessTlsMaterial,
  start: ProbeWorkerStarter,
  opts: { connectTimeoutMs: number; windowMs: number; signal: AbortSignal },
): Promise<TlsProbeResult> {
  if (variant === 'plaintext') return probeWorkerPlaintext(start, opts);
  let tcpConnections = 0;
  let settle!: (r: { established: boolean; tlsError?: string; socket?: tls.TLSSocket }) => void;
  const decided = new Promise<{ established: boolean; tlsError?: string; socket?: tls.TLSSocket }>((r) => (settle = r));
  const raws = new Set<net.Socket>();
  const server = tls.createServer(serverVariantOptions(variant, material), (s) => settle({ established: true, socket: s }));
  server.on('connection', (s: net.Socket) => {
    tcpConnections++;
    raws.add(s);
    s.once('close', () => raws.delete(s));
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, s) => {
    s.destroy();
    settle({ established: false, tlsError: err.code ?? 'error' });
  });
  await listenOnLoopback(server);
  const address = `tcp+tls:127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  let worker: Awaited<ReturnType<ProbeWorkerStarter>> | undefined;
  try {
    worker = await start(address);
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => settle({ established: false, tlsError: 'aborted' });
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const first = await Promise.race([decided, new Promise<null>((r) => (timer = setTimeout(() => r(null), opts.connectTimeoutMs)))]);
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
    if (first === null) return { tcpConnections, established: false, bytesAfterHandshake: 0, log: worker.log() };
    let bytes = 0;
    if (first.established && first.socket) {
      const s = first.socket;
      s.on('data', (d: Buffer) => (bytes += d.length));
      s.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, opts.windowMs));
    }
    return { tcpConnections, established: first.established, ...(first.tlsError ? { tlsError: first.tlsError } : {}), bytesAfterHandshake: bytes, log: worker.log() };
  } finally {
    await worker?.stop().catch(() => undefined);
    for (const s of raws) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/**
 * [TRN-7] A plain TCP listener where the worker expects TLS: every connection that opens with a TLS
 * record (0x16) gets a non-TLS answer and is closed, so the worker's TLS handshake fails. A worker
 * that then speaks plaintext (a first byte that is not 0x16) has fallen back: `established` true.
 */
async function probeWorkerPlaintext(start: ProbeWorkerStarter, opts: { connectTimeoutMs: number; windowMs: number; signal: AbortSignal }): Promise<TlsProbeResult> {
  let tcpConnections = 0;
  let tlsAttempts = 0;
  let plaintextBytes = 0;
  let onAttempt: (() => void) | undefined;
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    tcpConnections++;
    socks.add(s);
    s.once('close', () => socks.delete(s));
    s.on('error', () => undefined);
    s.once('data', (d: Buffer) => {
      if (d[0] === 0x16) {
        tlsAttempts++;
        s.end('not TLS\r\n');
      } else {
        plaintextBytes += d.length;
        s.on('data', (more: Buffer) => (plaintextBytes += more.length));
      }
      onAttempt?.();
    });
  });
  await listenOnLoopback(server);
  // The worker is told tcp+tls: it must start a TLS handshake on this plain TCP port.
  const address = `tcp+tls:127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  let worker: Awaited<ReturnType<ProbeWorkerStarter>> | undefined;
  try {
    worker = await start(address);
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      onAttempt = resolve;
      timer = setTimeout(resolve, opts.connectTimeoutMs);
      opts.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearTimeout(timer);
    // After the first attempt, watch for a plaintext retry.
    if (tcpConnections > 0) await new Promise((r) => setTimeout(r, opts.windowMs));
    return {
      tcpConnections,
      established: plaintextBytes > 0,
      ...(tlsAttempts > 0 ? { tlsError: 'the TLS handshake met a plaintext peer' } : {}),
      bytesAfterHandshake: plaintextBytes,
      log: worker.log(),
    };
  } finally {
    await worker?.stop().catch(() => undefined);
    for (const s of socks) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Listen on an ephemeral loopback port; later server errors are the probe's to observe, not to throw. */
async function listenOnLoopback(server: net.Server): Promise<void> {
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
}
