/**
 * TLS faults of the reference peers (part of {@link FAULTS}) and the transport variants that carry
 * them out. The correct transports live in src/transport; these replace them only when a fault
 * is active, so a correct peer never runs this code.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { formatAddress, listenTransport, parseAddress, type ConnectOptions, type ListenOptions, type Listener, type TransportSocket } from '../transport/index.js';
import { connectTransport } from '../transport/index.js';
import type { FaultSpec } from './faults.js';

export const TLS_FAULTS: readonly FaultSpec[] = Object.freeze([
  { name: 'router-tls-accepts-any-client-cert', role: 'router', rule: 'TRN-6', trigger: 'handshake', description: 'with a client CA configured, completes the TLS handshake with clients that present no certificate or one from another CA' },
  { name: 'router-tls-plaintext-fallback', role: 'router', rule: 'TRN-7', trigger: 'handshake', description: 'its tcp+tls port also speaks plaintext: a connection whose first byte is not a TLS record is served without TLS' },
  { name: 'router-tls-allows-tls-1-1', role: 'router', rule: 'TRN-7', trigger: 'handshake', description: 'its TLS listener accepts TLS 1.0 and 1.1 clients' },
  { name: 'router-tls-skips-shard-allowlist', role: 'router', rule: 'SEC-4', trigger: 'handshake', description: 'admits any verified client certificate to any shard, ignoring the per-shard allowlist' },
  { name: 'router-tls-ignores-global-allowlist', role: 'router', rule: 'SEC-8', trigger: 'handshake', description: 'admits a certificate only through the per-shard lists: one on the global allowlist alone is rejected' },
  { name: 'router-tls-case-sensitive-fingerprints', role: 'router', rule: 'SEC-8', trigger: 'handshake', description: 'compares allowlist fingerprints case-sensitively: an entry written with upper-case hex digits never matches the lowercase fingerprint of the client certificate' },
  { name: 'router-no-handshake-cap', role: 'router', rule: 'LIM-3', trigger: 'handshake', description: 'accepts any number of connections in their handshake (no cap of 128)' },
  { name: 'worker-tls-skips-verification', role: 'worker', rule: 'TRN-4', trigger: 'handshake', description: 'connects over tcp+tls without verifying the router certificate (rejectUnauthorized false)' },
  { name: 'worker-tls-ignores-server-name', role: 'worker', rule: 'TRN-9', trigger: 'handshake', description: 'verifies the router certificate chain but not that it names the server (host or configured server name)' },
  { name: 'worker-tls-allows-tls-1-1', role: 'worker', rule: 'TRN-7', trigger: 'handshake', description: 'connects to a router that only speaks TLS 1.0 / 1.1' },
  { name: 'worker-tls-plaintext-fallback', role: 'worker', rule: 'TRN-7', trigger: 'handshake', description: 'when the TLS handshake fails, connects again without TLS and speaks plaintext' },
] satisfies FaultSpec[]);

/** Ciphers that let OpenSSL 3 speak TLS 1.0/1.1 at all (security level 0): only ever used by faults. */
const OLD_TLS_CIPHERS = 'DEFAULT@SECLEVEL=0';

const ROUTER_LISTEN_FAULTS = ['router-tls-accepts-any-client-cert', 'router-tls-plaintext-fallback', 'router-tls-allows-tls-1-1'] as const;
const WORKER_CONNECT_FAULTS = ['worker-tls-skips-verification', 'worker-tls-ignores-server-name', 'worker-tls-allows-tls-1-1', 'worker-tls-plaintext-fallback'] as const;

/** Does a TLS listener fault replace the correct listener? */
export function hasTlsListenFault(faults: ReadonlySet<string>): boolean {
  return ROUTER_LISTEN_FAULTS.some((f) => faults.has(f));
}

/** Does a TLS connect fault replace the correct connector? */
export function hasTlsConnectFault(faults: ReadonlySet<string>): boolean {
  return WORKER_CONNECT_FAULTS.some((f) => faults.has(f));
}

/**
 * The router's listener under a TLS fault: listenTransport for anything that is not tcp+tls,
 * else a tls.Server configured wrongly on purpose (and, for the plaintext fallback, a net.Server
 * that sniffs the first byte).
 */
export async function listenWithTlsFault(
  address: string,
  opts: ListenOptions,
  onSocket: (socket: TransportSocket) => void,
  faults: ReadonlySet<string>,
): Promise<Listener> {
  const addr = parseAddress(address);
  if (addr.scheme !== 'tcp+tls') return listenTransport(address, opts, onSocket);
  const connections = new Set<TransportSocket>();
  const raw = new Set<net.Socket>();
  const track = (s: TransportSocket): void => {
    connections.add(s);
    s.once('close', () => connections.delete(s));
    onSocket(s);
  };
  const anyCert = faults.has('router-tls-accepts-any-client-cert');
  const requireCert = opts.requireClientCert === true && !anyCert;
  const ctxOpts: tls.SecureContextOptions & tls.TlsOptions = {
    cert: readFileSync(opts.certFile!),
    key: readFileSync(opts.keyFile!),
    ...(opts.caFile !== undefined ? { ca: readFileSync(opts.caFile) } : {}),
    // [TRN-7] violated on purpose under router-tls-allows-tls-1-1.
    ...(faults.has('router-tls-allows-tls-1-1') ? { minVersion: 'TLSv1' as const, ciphers: OLD_TLS_CIPHERS } : { minVersion: 'TLSv1.2' as const }),
    // [TRN-6] violated on purpose under router-tls-accepts-any-client-cert: a certificate is asked for, never required.
    requestCert: opts.requireClientCert === true,
    rejectUnauthorized: requireCert,
  };
  const tlsServer = tls.createServer(ctxOpts, (s) => track(s));
  tlsServer.on('tlsClientError', (_e, s) => s.destroy());
  let server: net.Server = tlsServer;
  if (faults.has('router-tls-plaintext-fallback')) {
    const secureContext = tls.createSecureContext(ctxOpts);
    server = net.createServer((sock) => {
      sock.once('readable', () => {
        const first = sock.read(1) as Buffer | null;
        if (first === null) return void sock.destroy();
        sock.unshift(first);
        if (first[0] === 0x16) {
          // A TLS handshake record: serve TLS as usual.
          const t = new tls.TLSSocket(sock, { isServer: true, secureContext, requestCert: ctxOpts.requestCert ?? false, rejectUnauthorized: requireCert });
          t.once('secure', () => track(t));
          t.on('error', () => t.destroy());
        } else {
          // [TRN-7] violated on purpose: plaintext on the TLS port.
          track(sock);
        }
      });
    });
  }
  server.on('connection', (s: net.Socket) => {
    raw.add(s);
    s.once('close', () => raw.delete(s));
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port }, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    address: formatAddress({ scheme: 'tcp+tls', host: addr.host, port }),
    connections,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of connections) s.destroy();
        for (const s of raw) s.destroy();
      });
      return closing;
    },
  };
}

/** The worker's connector under a TLS fault (connectTransport for anything that is not tcp+tls). */
export async function connectWithTlsFault(address: string, opts: ConnectOptions, faults: ReadonlySet<string>): Promise<TransportSocket> {
  const addr = parseAddress(address);
  if (addr.scheme !== 'tcp+tls') return connectTransport(address, opts);
  const verifyName = opts.serverName ?? addr.host;
  const attempt = tlsAttempt(addr.host, addr.port, verifyName, opts, faults);
  if (!faults.has('worker-tls-plaintext-fallback')) return attempt;
  // [TRN-7] violated on purpose: a failed TLS handshake is followed by a plaintext connection.
  return attempt.catch(
    () =>
      new Promise<TransportSocket>((resolve, reject) => {
        const plain = net.connect({ host: addr.host, port: addr.port });
        plain.once('connect', () => resolve(plain));
        plain.once('error', reject);
      }),
  );
}

function tlsAttempt(host: string, port: number, verifyName: string, opts: ConnectOptions, faults: ReadonlySet<string>): Promise<TransportSocket> {
  const addr = { host, port };
  return new Promise<TransportSocket>((resolve, reject) => {
    const socket = tls.connect({
      host: addr.host,
      port: addr.port,
      ...(opts.caFile !== undefined ? { ca: readFileSync(opts.caFile) } : {}),
      ...(opts.certFile !== undefined ? { cert: readFileSync(opts.certFile) } : {}),
      ...(opts.keyFile !== undefined ? { key: readFileSync(opts.keyFile) } : {}),
      // [TRN-4] violated on purpose under worker-tls-skips-verification.
      rejectUnauthorized: !faults.has('worker-tls-skips-verification'),
      // [TRN-7] violated on purpose under worker-tls-allows-tls-1-1.
      ...(faults.has('worker-tls-allows-tls-1-1') ? { minVersion: 'TLSv1' as const, ciphers: OLD_TLS_CIPHERS } : { minVersion: 'TLSv1.2' as const }),
      ...(net.isIP(verifyName) === 0 ? { servername: verifyName } : {}),
      // [TRN-9] violated on purpose under worker-tls-ignores-server-name: the chain is checked, the name is not.
      checkServerIdentity: (_h: string, c: tls.PeerCertificate) =>
        faults.has('worker-tls-ignores-server-name') ? undefined : tls.checkServerIdentity(verifyName, c),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timed out'));
    }, opts.connectTimeoutMs ?? 10_000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}
