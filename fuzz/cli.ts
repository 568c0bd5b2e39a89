/**
 * `nova-conformance fuzz` and `nova-conformance replay`.
 *
 *   nova-conformance fuzz (--target ADDR | --spawn CMD) --role router|worker [--seed S] [--duration 60s] [options]
 *   nova-conformance fuzz --offline [--seed S] [--duration 60s]
 *   nova-conformance replay FILE (--target ADDR | --spawn CMD) [options]
 *
 * Router targets: `--target` connects to a running router; `--spawn` starts one (`{address}` is
 * replaced by a fresh unix socket path). Worker targets: `--target` listens at ADDR and waits for
 * the worker to (re)connect for every case; `--spawn` starts a fresh worker per case (`{address}`
 * and `{shard}` substituted).
 *
 * `--config FILE` reads the conformance suite's target config with the suite's own loader
 * (conformance/cli.ts `loadTargetConfig`: schema-checked, paths relative to the file); flags given
 * on the command line override it (fuzz/config.ts maps the keys and states the precedence).
 *
 * Exit status: 0 nothing found / replay passes, 1 a failure was found / replay still fails,
 * 2 usage or harness error.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { TargetConfig } from '../conformance/cli.js';
import { shellQuote } from '../conformance/targets.js';
import { resolveFuzzTarget, type FuzzTargetFlags, type ResolvedFuzzTarget } from './config.js';
import { runOfflineCampaign } from './campaign.js';
import { HOSTILE_ACTIONS, type HostileAction } from './net/generate.js';
import { runFixed, runNetworkCampaign } from './net/campaign.js';
import { loadRegression, stepsFromJson } from './net/regression.js';
import { DEFAULT_RUN_OPTIONS, type FuzzTarget, type RunOptions } from './net/runner.js';
import { listenWorkerTarget, routerAt, spawnRouter, spawnWorkerTarget, type ConnectSettings } from './net/targets.js';
import { randomSeed, seedFromString } from './rng.js';
import { parseDurationMs, safeStringify } from './util.js';

/** The target flags as commander parsed them: the fields of FuzzTargetFlags, with commander's defaults filled in. */
interface TargetFlags extends Omit<FuzzTargetFlags, 'shard' | 'deadlineMs' | 'handshakeDeadlineMs'> {
  config?: string;
  shard: number;
  deadlineMs: number;
  handshakeDeadlineMs: number;
}

function intArg(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^[0-9]{1,10}$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return Number(v);
  };
}

function durationArg(v: string): number {
  try {
    return parseDurationMs(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function addTargetOptions(cmd: Command): Command {
  // [SEC-3] tokens never go on the command line
  cmd.on('option:auth-token', () => {
    process.stderr.write('nova-conformance: tokens are never taken on the command line; use --auth-token-file or --auth-token-env\n');
    process.exit(2);
  });
  return cmd
    .option('--config <file>', 'target config JSON (schema/target-config.schema.json), as for the conformance suite; flags given here override it')
    .option('--target <addr>', 'router: its address; worker: the address to listen on for the worker')
    .option('--spawn <cmd>', 'command starting the target ({address} and, for workers, {shard} are substituted)')
    .option('--shard <n>', 'shard id used in Hello / for spawned workers', intArg('--shard', 0, 0xffffffff), 0)
    .option('--auth-token-file <file>', 'auth token the router expects (router targets) or the worker was given (worker targets: it must never come back [SEC-2])')
    .option('--auth-token-env <var>', 'environment variable holding the auth token')
    .addOption(new Option('--auth-token <value>', 'refused: tokens never go on the command line').hideHelp())
    .option('--tls-ca <file>', 'CA bundle (PEM) to verify a tcp+tls target')
    .option('--tls-cert <file>', 'client certificate (PEM) for mTLS')
    .option('--tls-key <file>', 'client key (PEM) for mTLS')
    .option('--tls-server-name <name>', 'name to verify the target certificate against')
    .option('--allow-insecure-tcp', 'allow plaintext tcp with a token or to a non-loopback host [TRN-2]')
    .option('--deadline-ms <ms>', 'deadline for each expected answer or close', intArg('--deadline-ms', 1, 600_000), DEFAULT_RUN_OPTIONS.deadlineMs)
    .option('--handshake-deadline-ms <ms>', 'deadline for the handshake answer', intArg('--handshake-deadline-ms', 1, 600_000), DEFAULT_RUN_OPTIONS.handshakeDeadlineMs)
    .option('--stimulus-command <cmd>', 'router: command that makes the router send requests (target config stimulus.command: {address} {shard} {request} {count} {cancel} {pairing})')
    .option('--stimulus-timeout-ms <ms>', 'router: how long the stimulus command may run', intArg('--stimulus-timeout-ms', 1, 600_000))
    .option('--router-handshake-timeout-ms <ms>', "router: the router's configured handshake timeout [HS-6] (target config timeouts.handshakeMs; default 5000; 0 = unknown, no silent-handshake cases)", intArg('--router-handshake-timeout-ms', 0, 600_000))
    .option('--time-scale <x>', 'multiply the handshake-timeout wait (slow machines)', (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 1000)) throw new InvalidArgumentError('--time-scale must be in (0, 1000]');
      return n;
    })
    .option('--unknown-shard <n>', 'router: a shard id the router does not admit (target config shards.unknown)', intArg('--unknown-shard', 0, 0xffffffff));
}

/** Read the auth token from its source; messages never contain the token. */
function loadToken(src: ResolvedFuzzTarget['token']): string | null {
  if (src.tokenFile) {
    let t: string;
    try {
      t = readFileSync(src.tokenFile, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the auth token file (${(err as { code?: string }).code ?? 'error'})`);
    }
    t = t.replace(/\r?\n$/, '');
    if (t.length === 0) throw new Error('the auth token file is empty');
    return t;
  }
  if (src.tokenEnv) {
    const v = process.env[src.tokenEnv];
    if (v === undefined || v.length === 0) throw new Error(`environment variable ${src.tokenEnv} (auth token) is not set`);
    return v;
  }
  return null;
}

/**
 * The flags merged over `--config` (when given). `lanes`: the parsed `--lanes`, when given.
 * The config loader is the conformance suite's, imported on demand (conformance/cli.ts loads
 * this module at start-up, so a static import would be circular).
 */
async function resolveTarget(o: TargetFlags, cmd: Command, extra: { lanes?: number[]; role?: 'router' | 'worker' } = {}): Promise<ResolvedFuzzTarget> {
  let tc: TargetConfig = {};
  if (o.config !== undefined) {
    const { loadTargetConfig } = await import('../conformance/cli.js');
    tc = loadTargetConfig(o.config);
  }
  const flags = { ...o, ...(extra.lanes ? { lanes: extra.lanes } : {}), ...(extra.role ? { role: extra.role } : {}) };
  const given = (k: string): boolean => (k === 'lanes' ? extra.lanes !== undefined : k === 'role' && extra.role ? true : cmd.getOptionValueSource(k) === 'cli');
  return resolveFuzzTarget(flags, given, tc, { deadlineMs: DEFAULT_RUN_OPTIONS.deadlineMs, handshakeDeadlineMs: DEFAULT_RUN_OPTIONS.handshakeDeadlineMs, shard: 0 });
}

async function buildTarget(r: ResolvedFuzzTarget, token: string | null): Promise<FuzzTarget> {
  const settings: ConnectSettings = {
    ...r.tls,
    allowInsecureTcp: r.allowInsecureTcp,
    authTokenConfigured: token !== null,
    ...(r.connectTimeoutMs !== undefined ? { connectTimeoutMs: r.connectTimeoutMs } : {}),
    ...(r.stimulusCommand ? { stimulusCommand: r.stimulusCommand } : {}),
    ...(r.stimulusTimeoutMs ? { stimulusTimeoutMs: r.stimulusTimeoutMs } : {}),
  };
  if (r.role === 'router') return r.target ? routerAt(r.target, settings) : spawnRouter(r.spawn!, settings);
  if (r.target) return listenWorkerTarget(r.target, { ...settings, shardId: r.shard });
  return spawnWorkerTarget(r.spawn!, {
    shardId: r.shard,
    ...(r.connectTimeoutMs !== undefined ? { connectTimeoutMs: r.connectTimeoutMs } : {}),
    ...(r.env ? { env: r.env } : {}),
    ...(r.spawnValues ? { values: r.spawnValues } : {}),
    ...(r.workerTls ? { tls: r.workerTls } : {}),
  });
}

function runOptions(r: ResolvedFuzzTarget, token: string | null, actions?: HostileAction[]): RunOptions {
  return {
    ...DEFAULT_RUN_OPTIONS,
    deadlineMs: r.deadlineMs,
    handshakeDeadlineMs: r.handshakeDeadlineMs,
    shardId: r.shard,
    authToken: token,
    ...(actions ? { actions } : {}),
    ...(r.routerHandshakeTimeoutMs !== undefined ? { routerHandshakeTimeoutMs: r.routerHandshakeTimeoutMs } : {}),
    ...(r.timeScale !== undefined ? { timeScale: r.timeScale } : {}),
    ...(r.unknownShard !== undefined ? { unknownShardId: r.unknownShard } : {}),
    ...(r.shardAllowlist ? { shardAllowlist: true } : {}),
  };
}

/** The replay command line for a regression file: the same target flags as this run (paths and names only, never a token). */
function replayLine(file: string, o: TargetFlags, cmd: Command, r: ResolvedFuzzTarget): string {
  const parts = ['nova-conformance replay', shellQuote(file)];
  const given = (k: string): boolean => cmd.getOptionValueSource(k) === 'cli';
  if (o.config !== undefined) parts.push('--config', shellQuote(o.config));
  if (o.config === undefined || given('target') || given('spawn')) {
    if (r.target !== undefined) parts.push('--target', shellQuote(r.target));
    else parts.push('--spawn', shellQuote(r.spawn!));
  }
  if (given('authTokenFile')) parts.push('--auth-token-file', shellQuote(o.authTokenFile!));
  if (given('authTokenEnv')) parts.push('--auth-token-env', o.authTokenEnv!);
  return parts.join(' ');
}

function parseRole(v: string | undefined): 'router' | 'worker' {
  if (v !== 'router' && v !== 'worker') throw new Error('--role must be router or worker');
  return v;
}

/** Register `fuzz` and `replay` on the nova-conformance program. */
export function registerFuzzCommands(program: Command): void {
  addTargetOptions(
    program
      .command('fuzz')
      .description('fuzz a live router or worker (or, with --offline, the codec) from a seed')
      .option('--role <role>', 'role of the target: router | worker')
      .option('--seed <seed>', 'campaign seed (same seed, same frames); random when absent')
      .option('--duration <d>', 'how long to run, e.g. 60s, 10m', durationArg, 60_000)
      .option('--max-cases <n>', 'stop after this many cases', intArg('--max-cases', 1, 1e9))
      .option('--out <dir>', 'directory for regression files', 'fuzz-regressions')
      .option('--lanes <list>', 'run concurrent cases on these shard ids (router must admit them all), e.g. 0,1,2,3')
      .option('--actions <list>', `hostile actions to use (default all): ${HOSTILE_ACTIONS.join(',')}`)
      .option('--no-shrink', 'do not shrink failures')
      .option('--keep-going', 'continue after a failure')
      .option('--offline', 'run the offline codec properties instead of a live target')
      .option('--json', 'print the summary as JSON on stdout')
      .option('--strict', "SHOULDs fail the run: a worker's handshake checks (refuse an invalid or other shard's Welcome [HS-10] [HS-15]) and tolerance of lenient CBOR [CBOR-10] and of unit variants with body null [CBOR-13]; the reject texts [HS-16], a worker's own offer [NEG-5] [NEG-6] and the sender choices chunk size [CHK-9], compression [CMP-5] and zstd header [CMP-9]"),
  ).action(async (o: TargetFlags & { seed?: string; duration: number; maxCases?: number; out: string; lanes?: string; actions?: string; shrink: boolean; keepGoing?: boolean; offline?: boolean; json?: boolean; strict?: boolean }, cmd: Command) => {
    const seed = o.seed ?? String(randomSeed());
    try {
      if (o.offline) {
        const r = runOfflineCampaign({ durationMs: o.duration, seed: seedFromString(seed) });
        if (o.json) console.log(safeStringify(r, 2));
        process.exitCode = r.failures.length ? 1 : 0;
        return;
      }
      const actions = o.actions?.split(',').map((a) => a.trim());
      for (const a of actions ?? []) if (!(HOSTILE_ACTIONS as readonly string[]).includes(a)) throw new Error(`unknown action (see --help): ${a.slice(0, 40)}`);
      const { lanes: lanesText, strict, ...flags } = o;
      const lanesFlag = lanesText?.split(',').map((s) => intArg('--lanes', 0, 0xffffffff)(s.trim()));
      const resolved = await resolveTarget(flags, cmd, lanesFlag ? { lanes: lanesFlag } : {});
      const { role, lanes } = resolved;
      const token = loadToken(resolved.token);
      const target = await buildTarget(resolved, token);
      try {
        const r = await runNetworkCampaign({
          target,
          seed,
          durationMs: o.duration,
          ...(o.maxCases ? { maxCases: o.maxCases } : {}),
          run: { ...runOptions(resolved, token, actions as HostileAction[] | undefined), ...(strict ? { strict: true } : {}) },
          outDir: o.out,
          shrink: o.shrink,
          stopOnFailure: !o.keepGoing,
          ...(lanes ? { lanes } : {}),
          log: (l) => console.error(l),
        });
        for (const f of r.failures) {
          console.error(`[fuzz] ${f.failure.kind} [${f.failure.rule}]: ${f.failure.detail}`);
          if (f.file) console.error(`[fuzz] reproduce: ${replayLine(f.file, o, cmd, resolved)}`);
        }
        if (o.json) {
          console.log(
            safeStringify(
              { seed, role, cases: r.cases, elapsedMs: Math.round(r.elapsedMs), casesPerSecond: r.casesPerSecond, ends: r.ends, failures: r.failures.map((f) => ({ caseIndex: f.caseIndex, failure: f.failure, file: f.file, steps: f.steps.length })) },
              2,
            ),
          );
        }
        process.exitCode = r.failures.length ? 1 : 0;
      } finally {
        await target.close();
      }
    } catch (e) {
      console.error(`nova-conformance fuzz: ${(e as Error).message}`);
      process.exitCode = 2;
    }
  });

  addTargetOptions(
    program
      .command('replay')
      .description('replay a fuzz regression file against a target; exit 1 if it still fails')
      .argument('<file>', 'regression JSON written by nova-conformance fuzz')
      .option('--role <role>', 'override the role recorded in the file')
      .option('--repeat <n>', 'run it n times (timing-dependent failures)', intArg('--repeat', 1, 1000), 1),
  ).action(async (file: string, o: TargetFlags & { repeat: number }, cmd: Command) => {
    try {
      const doc = loadRegression(file);
      const role = o.role ? parseRole(o.role) : doc.role;
      // The recorded shard unless --shard is given (the file's shards.accepted does not apply to a replay).
      const resolved = await resolveTarget(o, cmd, { role });
      if (cmd.getOptionValueSource('shard') !== 'cli') resolved.shard = doc.shardId;
      const token = loadToken(resolved.token);
      const target = await buildTarget(resolved, token);
      try {
        const steps = stepsFromJson(doc.steps, token);
        let failing = 0;
        for (let i = 0; i < o.repeat; i++) {
          const withLiveness = doc.failure.kind === 'liveness';
          const r = await runFixed(target, runOptions(resolved, token), steps, withLiveness);
          console.error(`[replay] run ${i + 1}: expected end ${r.result.expectation.end} (${r.result.expectation.reason}); ${r.failure ? `FAIL ${r.failure.kind} [${r.failure.rule}]: ${r.failure.detail}` : 'pass'}`);
          if (r.failure) failing++;
        }
        console.error(`[replay] ${file}: recorded failure ${doc.failure.kind} [${doc.failure.rule}]; ${failing}/${o.repeat} runs failed`);
        process.exitCode = failing ? 1 : 0;
      } finally {
        await target.close();
      }
    } catch (e) {
      console.error(`nova-conformance replay: ${(e as Error).message}`);
      process.exitCode = 2;
    }
  });
}
