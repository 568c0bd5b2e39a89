/**
 * Byte-stream transports for nova remote RPC: unix domain sockets, plaintext TCP, TCP + TLS
 * (optionally mutual) and named pipes, over node:net / node:tls.
 *
 * The transport knows nothing about frames; it only opens, accepts and closes streams and applies
 * the deployment rules that the Rust nova-router / nova-worker apply before any byte is sent:
 *
 * - [TRN-2] plaintext TCP carrying an auth token, or to / on a non-loopback host, is refused with
 *   INSECURE_TRANSPORT_REFUSED unless `allowInsecureTcp` is set.
 * - [TRN-4] `tcp+tls` verifies the peer certificate against `caFile` (or the system store) and the
 *   server name; `certFile`/`keyFile` present a client certificate (mTLS); a listener with
 *   `requireClientCert` refuses clients without a certificate signed by `caFile`.
 * - [TRN-3] Node.js cannot read SO_PEERCRED / getpeereid, so a unix-socket listener CANNOT check
 *   the connecting peer's uid as the Rust router does. What we do instead: the socket file is
 *   chmod'ed to 0600 right after bind (connecting to a unix socket needs write permission on it,
 *   so only our uid and root can connect). Gap: between bind() and chmod() there is a window of a
 *   few microseconds in which the file has the umask's mode; put the socket in a directory only
 *   you can enter (e.g. a 0700 runtime dir) if that matters, or configure an auth token.
 *   Named pipes on Windows get node's default ACL; no uid check there either.
 *
 * @module
 */
import { chmodSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ErrorCodes, ProtocolError } from '../errors.js';
import { TRANSPORT_CONNECT_TIMEOUT_MS } from '../limits.js';
import { type Address, formatAddress, isLoopbackHost, localSocketPath, parseAddress } from './address.js';

export * from './address.js';

/** TLS settings for `tcp+tls` addresses. Files are PEM. */
export interface TlsOptions {
  /** CA bundle to verify the peer against. Client: the server's CA (system store if absent). Listener: the client CA for mTLS. */
  caFile?: string;
  /** Our certificate chain. Required on a TLS listener; on a client it enables mTLS. */
  certFile?: string;
  /** Private key for `certFile`. */
  keyFile?: string;
  /** Client only: the name to verify the server certificate against (and send as SNI). Defaults to the address host. */
  serverName?: string;
  /** Listener only: require and verify a client certificate signed by `caFile` (mTLS). */
  requireClientCert?: boolean;
}

export interface TransportOptions extends TlsOptions {
  /** [TRN-2] Allow plaintext TCP with a token or to/on a non-loopback host. Default false. */
  allowInsecureTcp?: boolean;
  /** Whether an auth token will travel over this transport (worker: sends one; router: expects one). Never the token itself. */
  authTokenConfigured?: boolean;
}

export interface ConnectOptions extends TransportOptions {
  /** Give up connecting (including the TLS handshake) after this long. Default TRANSPORT_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface ListenOptions extends TransportOptions {
  /** Unix sockets: file mode applied right after bind. Default 0o600 (see the TRN-3 note above). */
  unixSocketMode?: number;
  /** Listen backlog. */
  backlog?: number;
}

export type TransportSocket = net.Socket | tls.TLSSocket;

export interface Listener {
  /** The bound address in canonical form; for `tcp:host:0` the real port. */
  readonly address: string;
  /** Open accepted sockets (for tests and shutdown). */
  readonly connections: ReadonlySet<TransportSocket>;
  /** Stop accepting, destroy accepted sockets that are still open, remove the unix socket file. Idempotent. */
  close(): Promise<void>;
}

function transportError(message: string, cause?: unknown, details?: Record<string, number | string | boolean>): ProtocolError {
  return new ProtocolError(ErrorCodes.TRANSPORT_ERROR, message, { ...(cause === undefined ? {} : { cause }), ...(details ? { details } : {}) });
}

/** Node error codes are our-own-safe identifiers (ECONNREFUSED …); messages may carry paths, so only the code is kept. */
function errnoCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : 'UNKNOWN';
}

function toAddress(addr: string | Address): Address {
  return typeof addr === 'string' ? parseAddress(addr) : parseAddress(formatAddress(addr));
}

/** [TRN-2] The plaintext-TCP policy, shared by connect and listen. */
export function checkInsecureTcp(addr: Address, opts: TransportOptions, direction: 'connect' | 'listen'): void {
  if (addr.scheme !== 'tcp' || opts.allowInsecureTcp === true) return;
  if (opts.authTokenConfigured === true) {
    throw new ProtocolError(
      ErrorCodes.INSECURE_TRANSPORT_REFUSED,
      `refusing to ${direction} over plaintext tcp with an auth token configured; use tcp+tls or unix, or allow insecure tcp explicitly`,
      { rule: 'TRN-2', details: { reason: 'auth_token' } },
    );
  }
  if (!isLoopbackHost(addr.host)) {
    throw new ProtocolError(
      ErrorCodes.INSECURE_TRANSPORT_REFUSED,
      `refusing to ${direction} over plaintext tcp on a non-loopback host; use tcp+tls or unix, or allow insecure tcp explicitly`,
      { rule: 'TRN-2', details: { reason: 'non_loopback' } },
    );
  }
}

function readPem(file: string | undefined, what: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ProtocolError(ErrorCodes.CONFIG_INVALID, `cannot read TLS ${what} file (${errnoCode(err)})`, {
      details: { file: what, errno: errnoCode(err) },
    });
  }
}

function assertTlsFields(addr: Address, opts: TlsOptions): void {
  const any = opts.caFile ?? opts.certFile ?? opts.keyFile ?? opts.serverName ?? opts.requireClientCert;
  if (addr.scheme !== 'tcp+tls' && any !== undefined && any !== false) {
    throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'TLS options given for an address that is not tcp+tls');
  }
  if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
    throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'TLS certFile and keyFile must be given together');
  }
}

/**
 * Open a stream to `addr`. Resolves once the stream is usable (for TLS: after the handshake and
 * certificate verification). Rejects with ProtocolError: ADDRESS_INVALID, CONFIG_INVALID,
 * INSECURE_TRANSPORT_REFUSED or TRANSPORT_ERROR (details.errno holds the OS / TLS error code).
 *
 * Under TLS 1.3 a server that refuses our (missing) client certificate does so after the client
 * considers the handshake complete; that failure shows up as an 'error'/'close' on the socket.
 */
export async function connectTransport(address: string | Address, opts: ConnectOptions = {}): Promise<TransportSocket> {
  const addr = toAddress(address);
  checkInsecureTcp(addr, opts, 'connect');
  assertTlsFields(addr, opts);
  if (opts.requireClientCert !== undefined) {
    throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'requireClientCert is a listener option');
  }
  if ((addr.scheme === 'tcp' || addr.scheme === 'tcp+tls') && addr.port === 0) {
    throw new ProtocolError(ErrorCodes.ADDRESS_INVALID, 'invalid address: cannot connect to port 0', { rule: 'TRN-1' });
  }
  const timeoutMs = opts.connectTimeoutMs ?? TRANSPORT_CONNECT_TIMEOUT_MS;
  opts.signal?.throwIfAborted();

  return new Promise<TransportSocket>((resolve, reject) => {
    let socket: TransportSocket;
    const readyEvent = addr.scheme === 'tcp+tls' ? 'secureConnect' : 'connect';
    if (addr.scheme === 'unix' || addr.scheme === 'pipe') {
      socket = net.connect({ path: localSocketPath(addr) });
    } else if (addr.scheme === 'tcp') {
      socket = net.connect({ host: addr.host, port: addr.port });
    } else {
      const ca = readPem(opts.caFile, 'ca');
      const cert = readPem(opts.certFile, 'cert');
      const key = readPem(opts.keyFile, 'key');
      const verifyName = opts.serverName ?? addr.host;
      socket = tls.connect({
        host: addr.host,
        port: addr.port,
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        // [TRN-4] never skip verification: chain against `ca`, identity against the server name.
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        // SNI cannot carry an IP address; the identity check below still uses it.
        ...(net.isIP(verifyName) === 0 ? { servername: verifyName } : {}),
        checkServerIdentity: (_host: string, c: tls.PeerCertificate) => tls.checkServerIdentity(verifyName, c),
      });
    }
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off(readyEvent, onReady);
      socket.off('error', onError);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: ProtocolError): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onReady = (): void => {
      cleanup();
      if (socket instanceof net.Socket && addr.scheme !== 'unix' && addr.scheme !== 'pipe') socket.setNoDelay(true);
      resolve(socket);
    };
    const onError = (err: unknown): void => {
      const code = errnoCode(err);
      fail(transportError(`cannot connect to ${addr.scheme} address (${code})`, err, { errno: code }));
    };
    const onAbort = (): void => fail(new ProtocolError(ErrorCodes.CANCELLED, 'connect aborted'));
    const timer = setTimeout(
      () => fail(new ProtocolError(ErrorCodes.TIMEOUT, `connect timed out after ${timeoutMs} ms`, { details: { timeoutMs } })),
      timeoutMs,
    );
    socket.once(readyEvent, onReady);
    socket.once('error', onError);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Is something listening on this unix socket path? Resolves false on ECONNREFUSED / ENOENT. */
function probeUnixSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Remove a stale unix socket file left by a crashed process. Refuses to touch anything that is not
 * a socket, and refuses (TRANSPORT_ERROR EADDRINUSE) when a live process still accepts on it.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) {
    throw transportError('unix socket path exists and is not a socket; refusing to remove it', undefined, { errno: 'EEXIST' });
  }
  if (await probeUnixSocket(path)) {
    throw transportError('unix socket path is in use by a live listener', undefined, { errno: 'EADDRINUSE' });
  }
  try {
    unlinkSync(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw transportError(`cannot remove stale unix socket (${errnoCode(err)})`, err);
  }
}

/**
 * Listen on `addr` and call `onSocket` for every accepted stream (for TLS: after the handshake,
 * and under `requireClientCert` only for clients with a verified certificate).
 *
 * `tcp:host:0` binds an ephemeral port; the returned `address` carries the real one.
 */
export async function listenTransport(
  address: string | Address,
  opts: ListenOptions,
  onSocket: (socket: TransportSocket) => void,
): Promise<Listener> {
  const addr = toAddress(address);
  checkInsecureTcp(addr, opts, 'listen');
  assertTlsFields(addr, opts);
  if (opts.serverName !== undefined) throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'serverName is a client option');

  const connections = new Set<TransportSocket>();
  const track = (socket: TransportSocket): void => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    onSocket(socket);
  };

  let server: net.Server;
  if (addr.scheme === 'tcp+tls') {
    if (opts.certFile === undefined) throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'a TLS listener needs certFile and keyFile');
    if (opts.requireClientCert === true && opts.caFile === undefined) {
      throw new ProtocolError(ErrorCodes.CONFIG_INVALID, 'requireClientCert needs caFile (the client CA)');
    }
    const ca = readPem(opts.caFile, 'ca');
    const requireCert = opts.requireClientCert === true;
    server = tls.createServer(
      {
        cert: readPem(opts.certFile, 'cert'),
        key: readPem(opts.keyFile, 'key'),
        ...(ca ? { ca } : {}),
        minVersion: 'TLSv1.2',
        // [TRN-4] mTLS: request a certificate and refuse the handshake without a verified one.
        requestCert: requireCert,
        rejectUnauthorized: requireCert,
      },
      (socket) => {
        socket.setNoDelay(true);
        track(socket);
      },
    );
    // A failed TLS handshake is the client's problem; it must not crash the listener.
    server.on('tlsClientError', (_err, socket) => socket.destroy());
  } else {
    server = net.createServer((socket) => {
      if (addr.scheme === 'tcp') socket.setNoDelay(true);
      track(socket);
    });
  }

  let socketPath: string | undefined;
  const listenArgs: net.ListenOptions = {};
  if (addr.scheme === 'unix' || addr.scheme === 'pipe') {
    socketPath = localSocketPath(addr);
    if (process.platform !== 'win32' || addr.scheme === 'unix') await removeStaleSocket(socketPath);
    listenArgs.path = socketPath;
  } else {
    listenArgs.host = addr.host;
    listenArgs.port = addr.port;
  }
  if (opts.backlog !== undefined) listenArgs.backlog = opts.backlog;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: unknown): void => {
      const code = errnoCode(err);
      reject(transportError(`cannot listen on ${addr.scheme} address (${code})`, err, { errno: code }));
    };
    server.once('error', onError);
    server.listen(listenArgs, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Accept errors after listening (EMFILE …) must not crash the process.
  server.on('error', () => undefined);
  // Every raw socket, including TLS clients still in (or stuck in) their handshake, so close() never hangs.
  const rawSockets = new Set<net.Socket>();
  server.on('connection', (raw: net.Socket) => {
    rawSockets.add(raw);
    raw.once('close', () => rawSockets.delete(raw));
  });

  if (socketPath !== undefined && process.platform !== 'win32') {
    try {
      chmodSync(socketPath, opts.unixSocketMode ?? 0o600); // [TRN-3] substitute for the uid check, see module doc
    } catch (err) {
      server.close();
      throw transportError(`cannot set unix socket mode (${errnoCode(err)})`, err);
    }
  }

  let bound: string;
  if (addr.scheme === 'tcp' || addr.scheme === 'tcp+tls') {
    const info = server.address() as net.AddressInfo;
    bound = formatAddress({ scheme: addr.scheme, host: addr.host, port: info.port });
  } else {
    bound = formatAddress(addr);
  }

  let closing: Promise<void> | undefined;
  return {
    address: bound,
    connections,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of connections) s.destroy();
        for (const s of rawSockets) s.destroy();
      }).then(() => {
        if (socketPath !== undefined && process.platform !== 'win32') {
          try {
            if (lstatSync(socketPath).isSocket()) unlinkSync(socketPath);
          } catch {
            /* already gone */
          }
        }
      });
      return closing;
    },
  };
}

