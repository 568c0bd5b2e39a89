/**
 * Transport addresses: `unix:/abs/path`, `tcp:host:port`, `tcp+tls:host:port`, `pipe:name` [TRN-1].
 *
 * Parsing never echoes the input back: addresses come from command lines and configuration that
 * may carry secrets by mistake (a token pasted in the wrong flag), so every error message is our
 * own words plus the input length.
 *
 * `pipe:name` is a Windows named pipe (`\\.\pipe\name`). On every other platform it maps to a
 * unix domain socket `<os.tmpdir()>/nova-pipe-<name>.sock`, so a configuration written for Windows
 * still runs on a developer's Linux or macOS machine; the mapping is deterministic, so a router
 * and a worker on the same machine that use the same `pipe:name` meet at the same socket.
 *
 * @module
 */
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, ProtocolError } from '../errors.js';

export type Address =
  | { readonly scheme: 'unix'; readonly path: string }
  | { readonly scheme: 'tcp' | 'tcp+tls'; readonly host: string; readonly port: number }
  | { readonly scheme: 'pipe'; readonly name: string };

/** Longest address string we look at at all (a unix path plus the scheme fits easily). */
export const MAX_ADDRESS_CHARS = 1024;
/** Named-pipe names: a conservative portable character set and length. */
export const MAX_PIPE_NAME_CHARS = 200;
/** RFC 1035 limit on a host name. */
export const MAX_HOSTNAME_CHARS = 253;
/**
 * sun_path capacity minus the terminating NUL: 108 − 1 on Linux, 104 − 1 on macOS and the BSDs.
 * A longer path cannot be bound or connected to, so it is refused at parse time.
 */
export const MAX_UNIX_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

const HOSTNAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const PIPE_NAME = /^[A-Za-z0-9._-]+$/;

function invalid(reason: string, input: string): ProtocolError {
  // [TRN-1] refuse with ADDRESS_INVALID; the input itself is never part of the message.
  return new ProtocolError(
    ErrorCodes.ADDRESS_INVALID,
    `invalid address: ${reason} (expected unix:/abs/path, tcp:host:port, tcp+tls:host:port or pipe:name)`,
    { rule: 'TRN-1', details: { inputChars: input.length } },
  );
}

function parsePort(text: string, input: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw invalid('port must be a decimal number 0..65535', input);
  const port = Number(text);
  if (port > 65535) throw invalid('port must be a decimal number 0..65535', input);
  return port;
}

function parseHostPort(rest: string, input: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw invalid('IPv6 host must be written [addr]:port', input);
    host = rest.slice(1, close);
    portText = rest.slice(close + 2);
    if (isIP(host) !== 6) throw invalid('bracketed host is not an IPv6 address', input);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon <= 0) throw invalid('missing host or port', input);
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':')) throw invalid('IPv6 hosts must be bracketed', input);
    if (isIP(host) !== 4) {
      if (host.length > MAX_HOSTNAME_CHARS) throw invalid('host name too long', input);
      // A dotted all-numeric string that is not a valid IPv4 address (e.g. 300.1.1.1) is refused
      // rather than handed to DNS.
      if (/^[0-9.]+$/.test(host)) throw invalid('malformed IPv4 address', input);
      const labels = host.endsWith('.') ? host.slice(0, -1).split('.') : host.split('.');
      if (!labels.every((l) => HOSTNAME_LABEL.test(l))) throw invalid('malformed host name', input);
    }
  }
  return { host, port: parsePort(portText, input) };
}

/**
 * Parse an address string. Throws ProtocolError ADDRESS_INVALID (rule TRN-1) on anything else.
 *
 * @example
 * parseAddress('tcp:[::1]:7000')  // { scheme: 'tcp', host: '::1', port: 7000 }
 */
export function parseAddress(input: string): Address {
  if (typeof input !== 'string') throw invalid('not a string', '');
  if (input.length === 0 || input.length > MAX_ADDRESS_CHARS) throw invalid('empty or too long', input);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(input)) throw invalid('control characters', input);
  const colon = input.indexOf(':');
  if (colon < 0) throw invalid('missing scheme', input);
  const scheme = input.slice(0, colon);
  const rest = input.slice(colon + 1);
  switch (scheme) {
    case 'unix': {
      if (!rest.startsWith('/')) throw invalid('unix socket path must be absolute', input);
      if (Buffer.byteLength(rest, 'utf8') > MAX_UNIX_PATH_BYTES) {
        throw invalid(`unix socket path longer than ${MAX_UNIX_PATH_BYTES} bytes`, input);
      }
      return { scheme: 'unix', path: rest };
    }
    case 'tcp':
    case 'tcp+tls':
      return { scheme, ...parseHostPort(rest, input) };
    case 'pipe': {
      if (rest.length === 0 || rest.length > MAX_PIPE_NAME_CHARS || !PIPE_NAME.test(rest) || rest === '.' || rest === '..') {
        throw invalid(`pipe name must be 1..${MAX_PIPE_NAME_CHARS} characters of A-Z a-z 0-9 . _ -`, input);
      }
      return { scheme: 'pipe', name: rest };
    }
    default:
      throw invalid('unknown scheme', input);
  }
}

/** The canonical string form (round-trips through parseAddress). */
export function formatAddress(addr: Address): string {
  switch (addr.scheme) {
    case 'unix':
      return `unix:${addr.path}`;
    case 'pipe':
      return `pipe:${addr.name}`;
    default:
      return `${addr.scheme}:${isIP(addr.host) === 6 ? `[${addr.host}]` : addr.host}:${addr.port}`;
  }
}

/**
 * The filesystem / pipe path node:net uses for a unix or pipe address.
 * Windows: `\\.\pipe\<name>`; elsewhere `<tmpdir>/nova-pipe-<name>.sock` (see the module doc).
 */
export function localSocketPath(addr: Extract<Address, { scheme: 'unix' | 'pipe' }>): string {
  if (addr.scheme === 'unix') return addr.path;
  if (process.platform === 'win32') return `\\\\.\\pipe\\${addr.name}`;
  const path = join(tmpdir(), `nova-pipe-${addr.name}.sock`);
  if (Buffer.byteLength(path, 'utf8') > MAX_UNIX_PATH_BYTES) {
    throw new ProtocolError(
      ErrorCodes.ADDRESS_INVALID,
      `invalid address: pipe name maps to a unix socket path longer than ${MAX_UNIX_PATH_BYTES} bytes; use a shorter name`,
      { rule: 'TRN-1', details: { pathBytes: Buffer.byteLength(path, 'utf8') } },
    );
  }
  return path;
}

/**
 * True for hosts that can only reach this machine: 127.0.0.0/8, ::1, IPv4-mapped loopback and
 * the name `localhost`. Any other host name counts as remote (we do not trust DNS for this) [TRN-2].
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(h)) return true;
    const mapped = /^::ffff:([0-9.]+)$/.exec(h);
    return mapped !== null && isIP(mapped[1]!) === 4 && mapped[1]!.startsWith('127.');
  }
  return false;
}
