/**
 * `nova-conformance peer …`: run the reference router / worker from the command line.
 *
 *   nova-conformance peer router --listen ADDR [--shards 0,1] [--auth-token-file F | --auth-token-env VAR] [options]
 *   nova-conformance peer worker --connect ADDR --shard-id N [--auth-token-file F | --auth-token-env VAR] [options]
 *   nova-conformance peer --list-faults [--json]
 *
 * Auth tokens are read from a file or an environment variable only [SEC-3]; `--auth-token` is
 * refused without echoing its value. One JSON log line per protocol event goes to stderr.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { isProtocolError } from '../errors.js';
import { parseFingerprint } from '../transport/fingerprint.js';
import { parseCompressionList, parseVersion, type PeerCapabilityOptions } from './common.js';
import { FAULTS, formatFaultList } from './faults.js';
import { startReferenceRouter, type ReferenceRouterOptions } from './router.js';
import { startReferenceWorker, type ReferenceWorkerOptions } from './worker.js';

function intArg(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^[0-9]{1,10}$/.test(v)) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function addCommonOptions(cmd: Command): Command {
  // [SEC-3] a token on the command line is refused before commander could echo it in an error.
  cmd.on('option:auth-token', () => {
    process.stderr.write('nova-conformance peer: tokens are never taken on the command line; use --auth-token-file or --auth-token-env\n');
    process.exit(2);
  });
  return cmd
    .option('--auth-token-file <file>', 'read the auth token from this file (trailing newline removed)')
    .option('--auth-token-env <var>', 'read the auth token from this environment variable')
    .addOption(new Option('--auth-token <value>', 'refused: tokens never go on the command line').hideHelp())
    .option('--max-frame-len <bytes>', 'offered max_frame_len', intArg('--max-frame-len', 0, 0xffffffff))
    .option('--max-packet-len <bytes>', 'offered max_packet_len', intArg('--max-packet-len', 0, 0xffffffff))
    .option('--compression <list>', 'offered compression, best first (e.g. zstd,none)', (v) => {
      try {
        return parseCompressionList(v);
      } catch {
        throw new InvalidArgumentError('compression entries must be none or zstd');
      }
    })
    .option('--no-cancel', 'do not offer cancellation')
    .option('--no-chunking', 'do not offer chunking')
    .option('--min-version <M.m>', 'lowest protocol version offered', wrapVersion)
    .option('--max-version <M.m>', 'highest protocol version offered', wrapVersion)
    .option('--handshake-timeout-ms <ms>', 'handshake timeout (0 = none)', intArg('--handshake-timeout-ms', 0, 3_600_000))
    .option('--tls-ca <file>', 'CA bundle (PEM) to verify the peer')
    .option('--tls-cert <file>', 'certificate chain (PEM)')
    .option('--tls-key <file>', 'private key (PEM)')
    .option('--allow-insecure-tcp', 'allow plaintext tcp with a token or on a non-loopback host [TRN-2]')
    .option('--fault <name>', 'inject a fault (repeatable; see peer --list-faults)', collect, [])
    .option('--quiet', 'no log lines on stderr');
}

function wrapVersion(v: string): { major: number; minor: number } {
  try {
    return parseVersion(v);
  } catch {
    throw new InvalidArgumentError('a version must look like MAJOR.MINOR (e.g. 3.0)');
  }
}

interface CommonFlags {
  authTokenFile?: string;
  authTokenEnv?: string;
  maxFrameLen?: number;
  maxPacketLen?: number;
  compression?: PeerCapabilityOptions['compression'];
  cancel: boolean;
  chunking: boolean;
  minVersion?: { major: number; minor: number };
  maxVersion?: { major: number; minor: number };
  handshakeTimeoutMs?: number;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowInsecureTcp?: boolean;
  fault: string[];
  quiet?: boolean;
}

function commonOptions(f: CommonFlags): Partial<ReferenceRouterOptions & ReferenceWorkerOptions> {
  const o: Partial<ReferenceRouterOptions & ReferenceWorkerOptions> = { cancel: f.cancel, chunking: f.chunking, faults: f.fault };
  if (f.authTokenFile !== undefined) o.authTokenFile = f.authTokenFile;
  if (f.authTokenEnv !== undefined) o.authTokenEnv = f.authTokenEnv;
  if (f.maxFrameLen !== undefined) o.maxFrameLen = f.maxFrameLen;
  if (f.maxPacketLen !== undefined) o.maxPacketLen = f.maxPacketLen;
  if (f.compression !== undefined) o.compression = f.compression;
  if (f.minVersion !== undefined) o.minVersion = f.minVersion;
  if (f.maxVersion !== undefined) o.maxVersion = f.maxVersion;
  if (f.handshakeTimeoutMs !== undefined) o.handshakeTimeoutMs = f.handshakeTimeoutMs;
  if (f.tlsCa !== undefined) o.caFile = f.tlsCa;
  if (f.tlsCert !== undefined) o.certFile = f.tlsCert;
  if (f.tlsKey !== undefined) o.keyFile = f.tlsKey;
  if (f.allowInsecureTcp) o.allowInsecureTcp = true;
  if (f.quiet) o.log = null;
  return o;
}

/** Print a start-up failure without any peer text or token (ProtocolError messages are our own words). */
function fail(e: unknown): never {
  const msg = isProtocolError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : 'failed';
  process.stderr.write(`nova-conformance peer: ${msg}\n`);
  process.exit(2);
}

/** Register `peer router`, `peer worker` and `peer --list-faults` on a commander program. */
export function registerPeerCommands(program: Command): Command {
  const peer = program
    .command('peer')
    .description('run a reference router or worker (optionally with injected faults)')
    .option('--list-faults', 'list the injectable faults and the rule each breaks')
    .option('--json', 'with --list-faults: JSON output')
    .action((flags: { listFaults?: boolean; json?: boolean }) => {
      if (!flags.listFaults) {
        peer.help({ error: true });
      }
      process.stdout.write(flags.json ? `${JSON.stringify(FAULTS, null, 2)}\n` : `${formatFaultList()}\n`);
    });

  addCommonOptions(
    peer
      .command('router')
      .description('listen for workers and serve them like nova-router')
      .requiredOption('--listen <addr>', 'unix:/path, tcp:host:port, tcp+tls:host:port or pipe:name')
      .option('--shards <list>', 'comma-separated shard ids that may connect', (v) => v.split(',').map((s) => intArg('--shards', 0, 0xffffffff)(s.trim())), [0])
      .option('--revision <n>', 'router revision in every Welcome', (v) => {
        if (!/^[0-9]{1,20}$/.test(v) || BigInt(v) >= 1n << 64n) throw new InvalidArgumentError('--revision must be a u64');
        return BigInt(v);
      })
      .option('--tls-require-client-cert', 'mTLS: require a client certificate signed by --tls-ca')
      .option('--allow-fingerprint <sha256>', 'mTLS: allow the client certificate with this SHA-256 fingerprint (of its DER; 64 hex digits or AA:BB:.. as openssl prints it, any case) to serve every shard (repeatable) [SEC-8]', collect, [])
      .option('--shard-allow <shard=sha256>', 'mTLS: allow the client certificate with this SHA-256 fingerprint to serve the shard (repeatable) [SEC-4]', collect, [])
      .option('--script <name>', 'session script run against each worker: none | default', 'none')
      .option('--exit-after-script', 'exit after the first script finishes (0 = all steps ok)'),
  ).action(async (f: CommonFlags & { listen: string; shards: number[]; revision?: bigint; tlsRequireClientCert?: boolean; shardAllow: string[]; allowFingerprint: string[]; script: string; exitAfterScript?: boolean }) => {
    if (f.script !== 'none' && f.script !== 'default') fail(new Error('--script must be none or default'));
    // [SEC-8] fingerprints are checked here too so that the error names the flag; the router checks them again.
    let shardAllowlist: Record<number, string[]> | undefined;
    for (const entry of f.shardAllow) {
      const m = /^([0-9]{1,10})=(.*)$/s.exec(entry);
      if (!m || Number(m[1]) > 0xffffffff) fail(new Error('--shard-allow must look like SHARD=SHA256 (a u32 shard id, then the fingerprint)'));
      try {
        parseFingerprint(m[2]!);
      } catch (e) {
        fail(isProtocolError(e) ? new Error(`--shard-allow: ${e.message}`) : e);
      }
      shardAllowlist ??= {};
      (shardAllowlist[Number(m[1])] ??= []).push(m[2]!);
    }
    for (const entry of f.allowFingerprint) {
      try {
        parseFingerprint(entry);
      } catch (e) {
        fail(isProtocolError(e) ? new Error(`--allow-fingerprint: ${e.message}`) : e);
      }
    }
    const opts: ReferenceRouterOptions = {
      ...commonOptions(f),
      listen: f.listen,
      shards: f.shards,
      script: f.script as 'none' | 'default',
      ...(f.revision !== undefined ? { revision: f.revision } : {}),
      ...(f.tlsRequireClientCert ? { requireClientCert: true } : {}),
      ...(shardAllowlist ? { shardAllowlist } : {}),
      ...(f.allowFingerprint.length > 0 ? { globalAllowlist: f.allowFingerprint } : {}),
    };
    let exitAfter: ((code: number) => void) | undefined;
    if (f.exitAfterScript) {
      exitAfter = (code) => {
        void router.close().finally(() => process.exit(code));
      };
    }
    const router = await startReferenceRouter({
      ...opts,
      onEvent: (e) => {
        if (exitAfter && e.event === 'script_done') exitAfter(e['ok'] === true ? 0 : 1);
      },
    }).catch(fail);
    // The bound address on stdout (one line) so scripts can pick up an ephemeral port.
    process.stdout.write(`${router.address}\n`);
    const stop = (): void => void router.close().finally(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

  addCommonOptions(
    peer
      .command('worker')
      .description('connect to a router and serve one shard like nova-worker')
      .requiredOption('--connect <addr>', 'router address')
      .requiredOption('--shard-id <n>', 'shard served', intArg('--shard-id', 0, 0xffffffff))
      .option('--tls-server-name <name>', 'name to verify the router certificate against')
      .option('--no-check-welcome', 'accept any Welcome, like the Rust worker (HS-10 off)'),
  ).action(async (f: CommonFlags & { connect: string; shardId: number; tlsServerName?: string; checkWelcome: boolean }) => {
    const worker = await startReferenceWorker({
      ...commonOptions(f),
      connect: f.connect,
      shardId: f.shardId,
      checkWelcome: f.checkWelcome,
      ...(f.tlsServerName !== undefined ? { serverName: f.tlsServerName } : {}),
    }).catch(fail);
    let shutdown = false;
    void worker.shutdownRequested.then(() => (shutdown = true));
    const err = await worker.closed;
    // nova-worker exits 0 after Shutdown; any other close is an error exit.
    process.exit(shutdown || err === null ? 0 : 1);
  });

  return peer;
}
