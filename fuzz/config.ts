/**
 * `nova-conformance fuzz|replay --config FILE`: map the conformance suite's target config
 * (schema/target-config.schema.json, read by the conformance loader `loadTargetConfig`) to the
 * fuzzer's target settings, with explicit flags overriding the file.
 *
 * Precedence (the conformance CLI's rule: a flag given on the command line beats the file, the
 * file beats the built-in default), per setting:
 * - the target: `--target` / `--spawn` replace the file's `target` / `spawn` / `listen` altogether;
 * - the token source: `--auth-token-file` / `--auth-token-env` replace the file's `auth` altogether
 *   (a flag never merges with the other key of the file);
 * - every other flag replaces its own key only (`--tls-cert` replaces `tls.certFile` and keeps
 *   `tls.caFile`, `--shard` / `--lanes` replace `shards.accepted` ...).
 *
 * This module is pure (no I/O): the token is read later, from the resolved source.
 *
 * @module
 */
import { resolve } from 'node:path';
import type { TargetConfig } from '../conformance/cli.js';

/** The fuzzer's target flags (fuzz/cli.ts), as commander parsed them. */
export interface FuzzTargetFlags {
  target?: string;
  spawn?: string;
  role?: string;
  shard?: number;
  lanes?: number[];
  authTokenFile?: string;
  authTokenEnv?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  allowInsecureTcp?: boolean;
  deadlineMs?: number;
  handshakeDeadlineMs?: number;
  stimulusCommand?: string;
  stimulusTimeoutMs?: number;
  routerHandshakeTimeoutMs?: number;
  timeScale?: number;
  unknownShard?: number;
}

/** Everything the fuzzer needs to build its target and run options. */
export interface ResolvedFuzzTarget {
  role: 'router' | 'worker';
  /** Router: the address to connect to. Worker: the address to listen on. */
  target?: string;
  /** Router: a command starting a router (flag only). Worker: the worker command per case. */
  spawn?: string;
  shard: number;
  /** Router: concurrent lanes (shard ids). */
  lanes?: number[];
  unknownShard?: number;
  /** Where the token comes from (never the token itself). */
  token: { tokenFile?: string; tokenEnv?: string };
  tls: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string };
  /** Spawned worker over TLS: the CA the worker trusts and its key (the harness mints the router certificate). */
  workerTls?: { caFile: string; caKeyFile: string };
  allowInsecureTcp: boolean;
  deadlineMs: number;
  handshakeDeadlineMs: number;
  connectTimeoutMs?: number;
  routerHandshakeTimeoutMs?: number;
  timeScale?: number;
  stimulusCommand?: string;
  stimulusTimeoutMs?: number;
  /** Router targets: the router refuses shards by an mTLS allowlist [SEC-4]. */
  shardAllowlist?: boolean;
  /** Spawned workers: extra environment and template values (`{tokenFile}`). */
  env?: Record<string, string>;
  spawnValues?: Record<string, string>;
}

/** Thrown when the flags and the file do not fit together (exit 2). */
export class FuzzConfigError extends Error {}

/** The built-in defaults of the flags that have one (also shown by `--help`). */
export interface FuzzDefaults {
  deadlineMs: number;
  handshakeDeadlineMs: number;
  shard: number;
}

/**
 * Merge `flags` (only those given on the command line: `given(name)` is true) over the target
 * config `tc` (already validated, paths absolute) and the defaults.
 */
export function resolveFuzzTarget(flags: FuzzTargetFlags, given: (name: keyof FuzzTargetFlags) => boolean, tc: TargetConfig, defaults: FuzzDefaults): ResolvedFuzzTarget {
  const flag = <K extends keyof FuzzTargetFlags>(k: K): FuzzTargetFlags[K] | undefined => (given(k) ? flags[k] : undefined);
  const flagMode = flag('target') !== undefined || flag('spawn') !== undefined;
  if (flag('target') !== undefined && flag('spawn') !== undefined) throw new FuzzConfigError('give exactly one of --target ADDR or --spawn CMD');
  const modes = [tc.target, tc.spawn, tc.listen].filter((x) => x !== undefined).length;
  if (!flagMode && modes > 1) throw new FuzzConfigError('the target config gives more than one of target, spawn, listen');

  // The file's mode implies the role, as in the conformance CLI: target -> router, spawn / listen -> worker.
  const implied = tc.target !== undefined ? 'router' : tc.spawn !== undefined || tc.listen !== undefined ? 'worker' : undefined;
  const roleText = flag('role') ?? tc.role ?? implied;
  if (roleText !== 'router' && roleText !== 'worker') throw new FuzzConfigError('--role must be router or worker');
  const role = roleText;

  let target: string | undefined;
  let spawn: string | undefined;
  if (flagMode) {
    target = flag('target');
    spawn = flag('spawn');
  } else if (role === 'router') {
    if (tc.spawn !== undefined || tc.listen !== undefined) throw new FuzzConfigError('the target config\'s spawn and listen test a worker; use target (or --target / --spawn) for a router');
    target = tc.target;
  } else {
    if (tc.target !== undefined) throw new FuzzConfigError('the target config\'s target attaches to a router; use spawn or listen (or --target / --spawn) for a worker');
    target = tc.listen;
    spawn = tc.spawn;
  }
  if ((target === undefined) === (spawn === undefined)) throw new FuzzConfigError('give exactly one of --target ADDR or --spawn CMD (or target / spawn / listen in the target config)');

  const timeScale = flag('timeScale') ?? tc.timeScale;
  const scale = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : Math.round(ms * (timeScale ?? 1)));
  const t = tc.timeouts ?? {};

  // Shards: --shard and --lanes beat shards.accepted (a router fuzzes every accepted shard as a lane).
  const accepted = tc.shards?.accepted;
  const shard = flag('shard') ?? accepted?.[0] ?? defaults.shard;
  const lanes = flag('lanes') ?? (role === 'router' && flag('shard') === undefined && accepted && accepted.length > 1 ? [...accepted] : undefined);

  const tokenFlags = flag('authTokenFile') !== undefined || flag('authTokenEnv') !== undefined;
  const token = tokenFlags
    ? { ...(flag('authTokenFile') !== undefined ? { tokenFile: flag('authTokenFile')! } : {}), ...(flag('authTokenEnv') !== undefined ? { tokenEnv: flag('authTokenEnv')! } : {}) }
    : { ...(tc.auth?.tokenFile !== undefined ? { tokenFile: tc.auth.tokenFile } : {}), ...(tc.auth?.tokenEnv !== undefined ? { tokenEnv: tc.auth.tokenEnv } : {}) };

  const ctls = tc.tls ?? {};
  const tls = {
    ...(ctls.caFile !== undefined ? { caFile: ctls.caFile } : {}),
    ...(ctls.certFile !== undefined ? { certFile: ctls.certFile } : {}),
    ...(ctls.keyFile !== undefined ? { keyFile: ctls.keyFile } : {}),
    ...(ctls.serverName !== undefined ? { serverName: ctls.serverName } : {}),
    // Flag paths are relative to the current directory, the file's to the file (the loader made them absolute).
    ...(flag('tlsCa') !== undefined ? { caFile: resolve(flag('tlsCa')!) } : {}),
    ...(flag('tlsCert') !== undefined ? { certFile: resolve(flag('tlsCert')!) } : {}),
    ...(flag('tlsKey') !== undefined ? { keyFile: resolve(flag('tlsKey')!) } : {}),
    ...(flag('tlsServerName') !== undefined ? { serverName: flag('tlsServerName')! } : {}),
  };

  const stimulusCommand = flag('stimulusCommand') ?? tc.stimulus?.command;
  const stimulusTimeoutMs = flag('stimulusTimeoutMs') ?? scale(tc.stimulus?.timeoutMs);
  const routerHandshakeTimeoutMs = flag('routerHandshakeTimeoutMs') ?? (role === 'router' ? t.handshakeMs : undefined);
  const unknownShard = flag('unknownShard') ?? tc.shards?.unknown;
  const connectTimeoutMs = scale(t.connectMs);
  const workerSpawn = role === 'worker' && spawn !== undefined;
  const tokenFile = token.tokenFile;

  return {
    role,
    ...(target !== undefined ? { target } : {}),
    ...(spawn !== undefined ? { spawn } : {}),
    shard,
    ...(lanes ? { lanes } : {}),
    ...(unknownShard !== undefined ? { unknownShard } : {}),
    token,
    tls,
    ...(workerSpawn && tls.caFile !== undefined && ctls.caKeyFile !== undefined ? { workerTls: { caFile: tls.caFile, caKeyFile: ctls.caKeyFile } } : {}),
    allowInsecureTcp: flag('allowInsecureTcp') ?? tc.allowInsecureTcp ?? false,
    // timeouts.readMs (an answer the target owes) is the fuzzer's deadline for an answer or a close.
    deadlineMs: flag('deadlineMs') ?? scale(t.readMs) ?? defaults.deadlineMs,
    handshakeDeadlineMs: flag('handshakeDeadlineMs') ?? scale(t.readMs) ?? defaults.handshakeDeadlineMs,
    ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    ...(routerHandshakeTimeoutMs !== undefined ? { routerHandshakeTimeoutMs } : {}),
    ...(timeScale !== undefined ? { timeScale } : {}),
    ...(role === 'router' && stimulusCommand !== undefined ? { stimulusCommand } : {}),
    ...(role === 'router' && stimulusTimeoutMs !== undefined ? { stimulusTimeoutMs } : {}),
    ...(role === 'router' && ctls.deniedShard !== undefined ? { shardAllowlist: true } : {}),
    ...(workerSpawn && tc.env ? { env: tc.env } : {}),
    ...(workerSpawn && tokenFile !== undefined ? { spawnValues: { tokenFile } } : {}),
  };
}
