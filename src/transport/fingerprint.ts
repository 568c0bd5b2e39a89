/**
 * Certificate fingerprints for the router's shard allowlist ([SEC-4], [SEC-8]).
 *
 * A fingerprint is the SHA-256 digest of the DER encoding of a leaf certificate, written as 64 hex
 * digits. This module computes it (lowercase, no separators) and parses configured entries, which
 * may be written in either letter case and either as 64 bare hex digits or in the colon-separated
 * form openssl prints (`openssl x509 -noout -fingerprint -sha256`: `AB:CD:…`, 32 pairs).
 *
 * The digest comes from node:crypto rather than @noble/hashes: the only caller sits in the node:tls
 * path (Node-only anyway), and it is the same OpenSSL that computes `openssl x509 -fingerprint` and
 * `X509Certificate.fingerprint256`, with nothing added to the module graph.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { ErrorCodes, ProtocolError, type ErrorDetailValue } from '../errors.js';

/** Hex digits in a SHA-256 fingerprint. */
export const FINGERPRINT_HEX_DIGITS = 64;

const BARE = /^[0-9a-fA-F]{64}$/;
const COLONS = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){31}$/;

/** SHA-256 of a certificate's DER encoding, as 64 lowercase hex digits. */
export function certificateFingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/**
 * A configured fingerprint with the separators removed and the letter case kept, or null when it is
 * neither 64 hex digits nor 32 colon-separated hex pairs.
 */
export function stripFingerprint(entry: string): string | null {
  if (BARE.test(entry)) return entry;
  if (COLONS.test(entry)) return entry.replaceAll(':', '');
  return null;
}

/**
 * [SEC-8] Parse a configured allowlist entry to the canonical form (64 lowercase hex digits), so that
 * comparing canonical forms ignores letter case. Throws CONFIG_INVALID without echoing the entry
 * (`where` names the list and position instead).
 */
export function parseFingerprint(entry: string, where: Record<string, ErrorDetailValue> = {}): string {
  const stripped = typeof entry === 'string' ? stripFingerprint(entry) : null;
  if (stripped === null) {
    throw new ProtocolError(
      ErrorCodes.CONFIG_INVALID,
      'an allowlist fingerprint must be the SHA-256 of the certificate DER: 64 hex digits, or 32 hex pairs separated by colons',
      { rule: 'SEC-8', details: where },
    );
  }
  return stripped.toLowerCase();
}

/**
 * The fingerprint of the leaf certificate a TLS client presented and the TLS layer verified
 * (`getPeerCertificate().raw`); null on a socket that is not TLS, not authorized, or has no certificate.
 */
export function peerCertificateFingerprint(socket: Duplex): string | null {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  // Node returns {} when the peer sent no certificate.
  if (!cert || !(cert.raw instanceof Uint8Array) || cert.raw.length === 0) return null;
  return certificateFingerprint(cert.raw);
}
