/**
 * Throw-away PKI for tests and local TLS runs, generated with the openssl CLI (no private keys in
 * the repository). Everything is valid for one day and uses P-256 keys, so generation takes well
 * under a second.
 *
 * Layout written to `dir`: ca.{crt,key}, server.{crt,key} (SAN DNS:localhost, IP:127.0.0.1, IP:::1),
 * client.{crt,key} (clientAuth), and a second, unrelated CA other-ca.{crt,key} with a client
 * certificate other-client.{crt,key} signed by it (for "wrong CA" cases).
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCaCert: string;
  otherCaKey: string;
  otherClientCert: string;
  otherClientKey: string;
}

/** Is the openssl CLI on PATH? */
export function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string, cn: string): void {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
      '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
}

function makeLeaf(dir: string, name: string, ca: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1',
      '-extfile', `${name}.ext`],
    dir,
  );
}

/** Generate the PKI into `dir` (created if needed). Throws if openssl fails. */
export function generateTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  makeCa(dir, 'ca', 'nova-conformance test CA');
  makeLeaf(dir, 'server', 'ca', 'localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n');
  makeLeaf(dir, 'client', 'ca', 'nova-worker', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  makeCa(dir, 'other-ca', 'unrelated test CA');
  makeLeaf(dir, 'other-client', 'other-ca', 'nova-worker', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  const f = (n: string): string => join(dir, n);
  return {
    dir,
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCaCert: f('other-ca.crt'),
    otherCaKey: f('other-ca.key'),
    otherClientCert: f('other-client.crt'),
    otherClientKey: f('other-client.key'),
  };
}
