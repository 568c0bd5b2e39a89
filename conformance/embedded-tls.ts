/**
 * The embedded reference peers over tcp+tls, for the TLS tier of the self-test and for
 * `nova-conformance --tls` with no target: a throw-away PKI (src/transport/pki.ts plus the
 * harness's own certificates), a router that requires client certificates and has a per-shard and
 * a global fingerprint allowlist (SHA-256 of each certificate's DER, computed from the PKI made for
 * the run) [SEC-4] [SEC-8], and a worker that trusts the test CA.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReferenceRouterOptions } from '../src/peers/router.js';
import { startReferenceWorker, type ReferenceWorkerOptions } from '../src/peers/worker.js';
import type { ConnectOptions, ListenOptions } from '../src/transport/index.js';
import { certificateFileFingerprint, generateTestPki, type TestPki } from '../src/transport/pki.js';
import type { TlsRunInfo } from './context.js';
import { EMBEDDED_HANDSHAKE_TIMEOUT_MS, EMBEDDED_SHARDS, embeddedRouter, embeddedWorker, type EmbeddedOptions } from './embedded.js';
import type { RouterTarget, WorkerTarget } from './targets.js';
import { CLIENT_EXT, connectTlsVariant, mintHarnessTls, mintLeaf, mixedCaseFingerprint, probeWorkerTls, type CertPair, type HarnessTlsMaterial } from './tls-support.js';
import { LogTail } from './targets.js';

/** How embedded.ts runs a peer over TLS. */
export interface EmbeddedTlsSetup {
  /** Merged into the reference router's options (listen address, certificates, allowlists). */
  router: Partial<ReferenceRouterOptions>;
  /** How the harness connects to that router (its CA, the admitted client certificate). */
  routerClient: ConnectOptions;
  /** The harness's listener for the reference worker, and the worker's TLS options. */
  worker: { listen: string; listenOpts: ListenOptions; peer: Partial<ReferenceWorkerOptions> };
}

/** A shard the embedded TLS router serves whose allowlist does not hold the harness's client certificate [SEC-4]. */
export const EMBEDDED_TLS_DENIED_SHARD = 17;
/** Subject CN of the client certificate on the embedded router's global allowlist only [SEC-8]. */
const GLOBAL_CLIENT_CN = 'nova-global-worker';
/** Subject CN of the client certificate whose per-shard allowlist entries are written in mixed case [SEC-8]. */
const MIXED_CASE_CLIENT_CN = 'nova-mixed-case-worker';
/** On the denied shard's list: a fingerprint of no certificate we use (the list must exist and be non-empty). */
const UNUSED_FINGERPRINT = '0'.repeat(64);

export interface EmbeddedTlsFixture {
  pki: TestPki;
  material: HarnessTlsMaterial;
  globalClient: CertPair;
  /** Allowed for the accepted shards by a mixed-case allowlist entry [SEC-8]. */
  mixedCaseClient: CertPair;
  setup: EmbeddedTlsSetup;
  runInfo(role: 'router' | 'worker'): TlsRunInfo;
  cleanup(): void;
}

/** Generate the PKI (openssl, well under a second) and the peer settings. */
export function makeEmbeddedTlsFixture(): EmbeddedTlsFixture {
  const dir = mkdtempSync(join(tmpdir(), 'nc-epki-'));
  try {
    const pki = generateTestPki(dir);
    const ca = { certFile: pki.caCert, keyFile: pki.caKey };
    const globalClient = mintLeaf(dir, 'global-client', ca, GLOBAL_CLIENT_CN, CLIENT_EXT);
    const mixedCaseClient = mintLeaf(dir, 'mixed-case-client', ca, MIXED_CASE_CLIENT_CN, CLIENT_EXT);
    const material = mintHarnessTls(ca);
    // [SEC-4] the harness's client certificate is allowed for the accepted shards, not for the denied one.
    // [SEC-8] the mixed-case entry only matches when the router ignores letter case.
    const shardAllowlist: Record<number, string[]> = { [EMBEDDED_TLS_DENIED_SHARD]: [UNUSED_FINGERPRINT] };
    const perShard = [certificateFileFingerprint(pki.clientCert), mixedCaseFingerprint(certificateFileFingerprint(mixedCaseClient.certFile))];
    for (const s of EMBEDDED_SHARDS) shardAllowlist[s] = perShard;
    const setup: EmbeddedTlsSetup = {
      router: {
        listen: 'tcp+tls:127.0.0.1:0',
        shards: [...EMBEDDED_SHARDS, EMBEDDED_TLS_DENIED_SHARD],
        certFile: pki.serverCert,
        keyFile: pki.serverKey,
        caFile: pki.caCert,
        requireClientCert: true,
        shardAllowlist,
        globalAllowlist: [certificateFileFingerprint(globalClient.certFile)],
      },
      routerClient: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey },
      worker: {
        listen: 'tcp+tls:127.0.0.1:0',
        listenOpts: { certFile: pki.serverCert, keyFile: pki.serverKey },
        peer: { caFile: pki.caCert },
      },
    };
    return {
      pki,
      material,
      globalClient,
      mixedCaseClient,
      setup,
      runInfo: (role) => (role === 'router' ? { mtls: true, deniedShard: EMBEDDED_TLS_DENIED_SHARD, globalClientCert: true } : { mtls: false }),
      cleanup: () => {
        material.cleanup();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The reference router over mTLS, with the TLS variants of the harness. */
export async function embeddedTlsRouter(fx: EmbeddedTlsFixture, opts: EmbeddedOptions = {}): Promise<RouterTarget> {
  const target = await embeddedRouter({ ...opts, tls: fx.setup });
  const setup = {
    address: target.handle.address,
    caFile: fx.pki.caCert,
    client: { certFile: fx.pki.clientCert, keyFile: fx.pki.clientKey },
    globalClient: fx.globalClient,
    mixedCaseClient: fx.mixedCaseClient,
    material: () => fx.material,
  };
  target.tlsVariant = (variant, signal) => connectTlsVariant(setup, variant, 5000, signal);
  return target;
}

/** The reference worker over TLS, plus probes that start a fresh reference worker against a wrong listener. */
export function embeddedTlsWorker(fx: EmbeddedTlsFixture, opts: EmbeddedOptions = {}): WorkerTarget {
  const target = embeddedWorker({ ...opts, tls: fx.setup });
  target.tlsProbe = (variant, { shard, signal, connectTimeoutMs, windowMs }) =>
    probeWorkerTls(
      variant,
      fx.material,
      async (address) => {
        const log = new LogTail();
        const started = startReferenceWorker({
          connect: address,
          shardId: shard,
          faults: opts.faults ?? [],
          ...(opts.token !== undefined ? { authToken: opts.token } : {}),
          handshakeTimeoutMs: EMBEDDED_HANDSHAKE_TIMEOUT_MS,
          log: (line) => log.push(`${line}\n`),
          maxEvents: 200,
          ...fx.setup.worker.peer,
        }).catch((err: unknown) => {
          log.push(`start failed: ${(err as { code?: string }).code ?? 'error'}\n`);
          return undefined;
        });
        return {
          log: () => log.tail(10),
          async stop() {
            // The worker may still be mid-handshake: close it whenever it settles, wait a little here.
            const closed = started.then((h) => h?.close().catch(() => undefined));
            await Promise.race([closed, new Promise<void>((r) => setTimeout(r, 300))]);
          },
        };
      },
      { connectTimeoutMs, windowMs, signal },
    );
  return target;
}
