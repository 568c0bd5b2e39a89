import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isProtocolError } from '../errors.js';
import { certificateFingerprint, parseFingerprint, peerCertificateFingerprint, stripFingerprint } from './fingerprint.js';
import { certificateFileFingerprint } from './pki.js';

/**
 * A self-signed P-256 certificate (CN=nova-fingerprint-fixture), DER, base64. Made with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj /CN=nova-fingerprint-fixture
 * and pinned with `openssl x509 -noout -fingerprint -sha256`, which printed FIXTURE_OPENSSL below.
 */
const FIXTURE_DER_BASE64 =
  'MIIBmjCCAUGgAwIBAgIUD98biCdsX3vjNt4+46oS577jPxQwCgYIKoZIzj0EAwIwIzEhMB8GA1UEAwwYbm92YS1maW5nZXJwcmludC1maXh0dXJlMB4XDTI2MTEyMzE1NTgzM1oXDTM2' +
  'MTEyMDE1NTgzM1owIzEhMB8GA1UEAwwYbm92YS1maW5nZXJwcmludC1maXh0dXJlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7X/sbq0oVJeT44n8v35cGi3OxnaQwJAwgEKsz58O' +
  'nfXvd+6irNYjTWQHOgo9LrwJm4v/sO+PIozHSydz8UwRdKNTMFEwHQYDVR0OBBYEFKYFblYp4bZ58+y8++ruquXj20eQMB8GA1UdIwQYMBaAFKYFblYp4bZ58+y8++ruquXj20eQMA8G' +
  'A1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgGWacVHa9sIHqQsapfZogQnBMxsqB81kaS70DfD1tbn0CIFi/Bwg3/WXuE9yHNofYgA6BlwcBYRCgiW75dmftYsqX';
const FIXTURE_OPENSSL = 'sha256 Fingerprint=F9:1A:8D:20:9E:AA:EC:97:7C:F7:11:03:66:86:7F:7D:51:24:C3:A1:5C:7B:6A:38:1E:85:96:D1:FF:4A:41:D8';
const FIXTURE_FP = 'f91a8d209eaaec977cf7110366867f7d5124c3a15c7b6a381e8596d1ff4a41d8';

const der = (): Buffer => Buffer.from(FIXTURE_DER_BASE64, 'base64');

describe('certificate fingerprints [SEC-8]', () => {
  it('SHA-256 over the certificate DER, 64 lowercase hex digits (pinned openssl output)', () => {
    expect(der().length).toBe(414);
    expect(certificateFingerprint(der())).toBe(FIXTURE_FP);
    expect(FIXTURE_OPENSSL.split('=')[1]!.replaceAll(':', '').toLowerCase()).toBe(FIXTURE_FP);
    // One changed byte, another digest: the whole DER is hashed.
    const other = der();
    other[other.length - 1] = other[other.length - 1]! ^ 1;
    expect(certificateFingerprint(other)).not.toBe(FIXTURE_FP);
  });

  it('a PEM file gives the fingerprint of its DER (what Node reports as fingerprint256)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-fp-'));
    try {
      const pem = `-----BEGIN CERTIFICATE-----\n${FIXTURE_DER_BASE64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
      writeFileSync(join(dir, 'c.crt'), pem);
      expect(certificateFileFingerprint(join(dir, 'c.crt'))).toBe(FIXTURE_FP);
      expect(new X509Certificate(pem).fingerprint256).toBe(FIXTURE_OPENSSL.split('=')[1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('configured entries: either letter case, bare or colon-separated, canonicalised to lowercase', () => {
    const colons = FIXTURE_OPENSSL.split('=')[1]!;
    expect(parseFingerprint(FIXTURE_FP)).toBe(FIXTURE_FP);
    expect(parseFingerprint(FIXTURE_FP.toUpperCase())).toBe(FIXTURE_FP);
    expect(parseFingerprint(colons)).toBe(FIXTURE_FP);
    expect(parseFingerprint(colons.toLowerCase())).toBe(FIXTURE_FP);
    // stripFingerprint keeps the letter case (the case-sensitive fault compares these).
    expect(stripFingerprint(colons)).toBe(FIXTURE_FP.toUpperCase());
    expect(stripFingerprint('Ab'.repeat(32))).toBe('Ab'.repeat(32));
  });

  it('anything else is CONFIG_INVALID (rule SEC-8) without echoing the entry', () => {
    const bad = [
      '',
      'nova-worker',
      FIXTURE_FP.slice(1),
      `${FIXTURE_FP}0`,
      `${FIXTURE_FP.slice(0, 63)}g`,
      ` ${FIXTURE_FP}`,
      `sha256:${FIXTURE_FP}`,
      FIXTURE_OPENSSL, // the whole openssl line, prefix included
      FIXTURE_OPENSSL.split('=')[1]!.replaceAll(':', '-'),
      FIXTURE_OPENSSL.split('=')[1]!.slice(3), // 31 pairs
      'f9:1a8d'.padEnd(95, '0'),
    ];
    for (const entry of bad) {
      let err: unknown;
      try {
        parseFingerprint(entry, { list: 'global', index: 3 });
      } catch (e) {
        err = e;
      }
      expect(isProtocolError(err), JSON.stringify(entry)).toBe(true);
      if (!isProtocolError(err)) continue;
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.rule).toBe('SEC-8');
      expect(err.details).toEqual({ list: 'global', index: 3 });
      if (entry.length > 0) expect(err.message).not.toContain(entry);
    }
  });

  it('no TLS socket, no fingerprint', async () => {
    const { PassThrough } = await import('node:stream');
    expect(peerCertificateFingerprint(new PassThrough())).toBeNull();
  });
});
