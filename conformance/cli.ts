#!/usr/bin/env node
/**
 * `nova-conformance`: run the conformance suite against a live router or worker (or the embedded
 * reference peers), list cases, and run reference peers (`peer`).
 *
 * Exit codes: 0 conforms (warnings allowed unless --strict), 1 failures, 2 usage or config
 * error, 3 harness or target error (cannot connect / spawn).
 *
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createRequire } from 'node:module';
import pc from 'picocolors';
import { registerPeerCommands } from '../src/peers/cli.js';
import { applyBaseline, baselineFromResults, readBaseline, writeBaseline, type BaselineEntry } from './baseline.js';
import { buildRegistry } from './cases/index.js';
import { ConsoleReporter } from './console.js';
import type { RunConfig } from './context.js';
import { EMBEDDED_HANDSHAKE_TIMEOUT_MS, EMBEDDED_SHARDS, EMBEDDED_UNKNOWN_SHARD, embeddedRouter, embeddedWorker } from './embedded.js';
import { CASE_NEEDS, selectCases, type CaseDef, type TargetRole } from './registry.js';
import { EXIT_FAILURES, EXIT_HARNESS, EXIT_OK, EXIT_USAGE, buildReport, exitCodeFor, toHtml, toJson, toJunit, toMarkdown } from './report.js';
import { requirementText } from './requirements.js';
import { runSuite, type CaseResult, type RunSummary } from './runner.js';
import { EMBEDDED_TOKEN } from './selftest.js';
import { attachRouter, listenForWorkers, shellQuote, spawnWorker, type Target } from './targets.js';
import { Redactor } from './transcript.js';

/** Thrown for usage / configuration problems (exit 2). */
class UsageError extends Error {}

/** Run as the `nova-conformance` bin (not imported by a test or another module). */
const runAsBin = ((): boolean => {
  try {
    return process.argv[1] !== undefined && (resolve(process.argv[1]) === fileURLToPath(import.meta.url) || process.argv[1].endsWith('nova-conformance'));
  } catch {
    return false;
  }
})();

/**
 * The fuzz commands (fuzz/cli.ts) take about a second of CPU to load (their fast-check
 * arbitraries are built at import), which every suite run would pay: as a bin, they are loaded
 * only when the command line may name them.
 */
const FUZZ_ARGS = new Set(['fuzz', 'replay', 'help', '--help', '-h']);
const fuzzCli = runAsBin && !process.argv.slice(2).some((a) => FUZZ_ARGS.has(a)) ? null : await import('../fuzz/cli.js');

export interface TargetConfig {
  role?: TargetRole;
  target?: string;
  spawn?: string;
  listen?: string;
  env?: Record<string, string>;
  auth?: { tokenFile?: string; tokenEnv?: string };
  tls?: {
    caFile?: string;
    certFile?: string;
    keyFile?: string;
    serverName?: string;
    /** TLS tier, spawned workers: the key of caFile (the harness mints router certificates). */
    caKeyFile?: string;
    /** TLS tier, routers: mutual TLS (default: certFile given). */
    mtls?: boolean;
    /** TLS tier, routers: a served shard certFile is not allowed for [SEC-4]. */
    deniedShard?: number;
    /** TLS tier, routers: a client certificate on the global allowlist only [SEC-8]. */
    globalCertFile?: string;
    globalKeyFile?: string;
    /** TLS tier, routers: a client certificate the accepted shards' allowlist names in mixed-case hex [SEC-8]. */
    mixedCaseFingerprintCertFile?: string;
    mixedCaseFingerprintKeyFile?: string;
  };
  /** Opt-in limits tier (LIM-3). */
  limits?: boolean;
  allowInsecureTcp?: boolean;
  shards?: { accepted?: number[]; unknown?: number };
  capabilities?: { zstd?: boolean; cancel?: boolean; chunking?: boolean };
  timeouts?: { readMs?: number; connectMs?: number; caseMs?: number; handshakeMs?: number; responseWaitMs?: number };
  timeScale?: number;
  stimulus?: { command: string; timeoutMs?: number };
  baseline?: string;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'nova-conformance') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return dirname(fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function suiteVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Read and validate a target config file (schema/target-config.schema.json). Paths become absolute. */
export function loadTargetConfig(file: string): TargetConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read config ${file}: ${err instanceof SyntaxError ? 'invalid JSON' : ((err as { code?: string }).code ?? 'error')}`);
  }
  const schema = JSON.parse(readFileSync(join(packageRoot(), 'schema', 'target-config.schema.json'), 'utf8')) as object;
  // Loaded here, not at start-up: ajv costs ~0.1 s of CPU and only a config file needs it.
  const { Ajv2020 } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const validate = ajv.compile(schema);
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map((e) => `  ${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new UsageError(`invalid config ${file}:\n${problems.join('\n')}`);
  }
  const cfg = raw as TargetConfig;
  const base = dirname(resolve(file));
  const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : isAbsolute(p) ? p : join(base, p));
  if (cfg.auth?.tokenFile) cfg.auth.tokenFile = abs(cfg.auth.tokenFile)!;
  if (cfg.tls) for (const k of ['caFile', 'certFile', 'keyFile', 'caKeyFile', 'globalCertFile', 'globalKeyFile', 'mixedCaseFingerprintCertFile', 'mixedCaseFingerprintKeyFile'] as const) if (cfg.tls[k]) cfg.tls[k] = abs(cfg.tls[k])!;
  if (cfg.baseline) cfg.baseline = abs(cfg.baseline)!;
  return cfg;
}

function readToken(src: { tokenFile?: string; tokenEnv?: string }): string | undefined {
  if (src.tokenFile) {
    let t: string;
    try {
      t = readFileSync(src.tokenFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the auth token file (${(err as { code?: string }).code ?? 'error'})`);
    }
    t = t.replace(/\r?\n$/, '');
    if (t.length === 0) throw new UsageError('the auth token file is empty');
    return t;
  }
  if (src.tokenEnv) {
    const t = process.env[src.tokenEnv];
    if (t === undefined || t.length === 0) throw new UsageError(`environment variable ${src.tokenEnv} (auth token) is not set`);
    return t;
  }
  return undefined;
}

/** `--run @file`: one glob per line, `#` comments. */
function expandGlobs(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v.startsWith('@')) {
      let text: string;
      try {
        text = readFileSync(v.slice(1), 'utf8');
      } catch {
        throw new UsageError(`cannot read case list ${v.slice(1)}`);
      }
      out.push(...text.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean));
    } else out.push(...v.split(',').map((s) => s.trim()).filter(Boolean));
  }
  return out;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Default --jobs against a real target (a spawned worker is one process per case in flight). */
export const DEFAULT_JOBS = 4;
/**
 * Default --jobs with no target. The embedded peers run in-process and every case has its own
 * connection (and shard / worker), and most of a case's time is spent waiting, so a dozen in
 * flight per peer keep a 2-core machine busy; the runner holds new cases back while the event
 * loop lags (a loaded machine), so this is an upper bound.
 */
export const DEFAULT_EMBEDDED_JOBS = 12;

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

interface RunFlags {
  target?: string;
  spawn?: string;
  listen?: string;
  role?: TargetRole;
  config?: string;
  tokenFile?: string;
  tokenEnv?: string;
  run: string[];
  skip: string[];
  dryRun?: boolean;
  jobs?: number;
  strict?: boolean;
  baseline?: string;
  updateBaseline?: boolean;
  timeScale?: number;
  caseTimeout?: number;
  report: string[];
  color: boolean;
  verbose?: boolean;
  allowInsecureTcp?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCaKey?: string;
  tlsServerName?: string;
  limits?: boolean;
}

interface Plan {
  role: TargetRole;
  cfg: RunConfig;
  makeTarget: () => Promise<Target>;
  describe: string;
}

function rerunBase(f: RunFlags): string {
  const parts = ['npx nova-conformance'];
  if (f.target) parts.push('--target', shellQuote(f.target));
  if (f.spawn) parts.push('--spawn', shellQuote(f.spawn));
  if (f.listen) parts.push('--listen', shellQuote(f.listen));
  if (f.config) parts.push('--config', shellQuote(f.config));
  if (f.role) parts.push('--role', f.role);
  if (f.tokenFile) parts.push('--token-file', shellQuote(f.tokenFile));
  if (f.tokenEnv) parts.push('--token-env', f.tokenEnv);
  if (f.timeScale !== undefined && f.timeScale !== 1) parts.push('--time-scale', String(f.timeScale));
  if (f.allowInsecureTcp) parts.push('--allow-insecure-tcp');
  for (const [flag, v] of [['--tls-ca', f.tlsCa], ['--tls-cert', f.tlsCert], ['--tls-key', f.tlsKey], ['--tls-ca-key', f.tlsCaKey], ['--tls-server-name', f.tlsServerName]] as const) {
    if (v) parts.push(flag, shellQuote(v));
  }
  if (f.limits) parts.push('--limits');
  return parts.join(' ');
}

/** The embedded router's response wait [LIM-5] under --limits (the reference default is 10 min). */
const EMBEDDED_LIMITS_RESPONSE_WAIT_MS = 2_000;

function buildPlans(f: RunFlags, tc: TargetConfig): Plan[] {
  const target = f.target ?? tc.target;
  const spawnCmd = f.spawn ?? tc.spawn;
  const listen = f.listen ?? tc.listen;
  const modes = [target, spawnCmd, listen].filter((x) => x !== undefined).length;
  if (modes > 1) throw new UsageError('give only one of --target, --spawn, --listen');
  // A token flag replaces the file's whole `auth`: a --token-env never loses to the file's tokenFile.
  const tokenSrc = f.tokenFile !== undefined || f.tokenEnv !== undefined ? { tokenFile: f.tokenFile, tokenEnv: f.tokenEnv } : (tc.auth ?? {});
  const token = readToken(tokenSrc);
  const timeScale = f.timeScale ?? tc.timeScale ?? 1;
  const t = tc.timeouts ?? {};
  const common = {
    timeScale,
    readTimeoutMs: t.readMs ?? 2000,
    connectTimeoutMs: t.connectMs ?? 10_000,
    ...(f.caseTimeout ?? t.caseMs ? { caseTimeoutMs: (f.caseTimeout ?? t.caseMs)! } : {}),
    declared: { ...(tc.capabilities ?? {}) },
    ...((f.limits ?? tc.limits) ? { limits: true } : {}),
  };
  if (modes === 0) {
    // No target: the embedded reference peers, both roles unless --role narrows it.
    const roles: TargetRole[] = f.role ? [f.role] : ['router', 'worker'];
    // With --limits the embedded router gets a short response wait, so the LIM-5 case can watch it end.
    const wait = common.limits ? { responseWaitMs: EMBEDDED_LIMITS_RESPONSE_WAIT_MS } : {};
    return roles.map((role) => ({
      role,
      describe: `embedded reference ${role}`,
      cfg: { role, token: EMBEDDED_TOKEN, shards: role === 'router' ? [...EMBEDDED_SHARDS] : [7], unknownShard: EMBEDDED_UNKNOWN_SHARD, handshakeTimeoutMs: EMBEDDED_HANDSHAKE_TIMEOUT_MS, ...wait, ...common },
      makeTarget: async () =>
        role === 'router' ? embeddedRouter({ token: EMBEDDED_TOKEN, ...(wait.responseWaitMs !== undefined ? { callTimeoutMs: wait.responseWaitMs } : {}) }) : embeddedWorker({ token: EMBEDDED_TOKEN }),
    }));
  }
  const role: TargetRole = f.role ?? tc.role ?? (target ? 'router' : 'worker');
  if (target && role !== 'router') throw new UsageError('--target attaches to a router; use --spawn or --listen for a worker');
  if ((spawnCmd || listen) && role !== 'worker') throw new UsageError('--spawn and --listen test a worker; use --target for a router');
  const shards = tc.shards?.accepted ?? [role === 'router' ? 0 : 1];
  const cfg: RunConfig = {
    role,
    ...(token !== undefined ? { token } : {}),
    shards,
    unknownShard: tc.shards?.unknown ?? 4_000_000_000,
    handshakeTimeoutMs: t.handshakeMs ?? 5000,
    ...(t.responseWaitMs !== undefined ? { responseWaitMs: t.responseWaitMs } : {}),
    ...common,
  };
  const tlsAll = {
    ...(tc.tls ?? {}),
    ...(f.tlsCa ? { caFile: resolve(f.tlsCa) } : {}),
    ...(f.tlsCert ? { certFile: resolve(f.tlsCert) } : {}),
    ...(f.tlsKey ? { keyFile: resolve(f.tlsKey) } : {}),
    ...(f.tlsCaKey ? { caKeyFile: resolve(f.tlsCaKey) } : {}),
    ...(f.tlsServerName ? { serverName: f.tlsServerName } : {}),
  };
  // The transport only takes the four file/name options; the TLS-tier facts go to the run config.
  const { caKeyFile, mtls, deniedShard, globalCertFile, globalKeyFile, mixedCaseFingerprintCertFile, mixedCaseFingerprintKeyFile, ...tls } = tlsAll;
  if ((globalCertFile === undefined) !== (globalKeyFile === undefined)) throw new UsageError('tls.globalCertFile and tls.globalKeyFile go together');
  if ((mixedCaseFingerprintCertFile === undefined) !== (mixedCaseFingerprintKeyFile === undefined)) {
    throw new UsageError('tls.mixedCaseFingerprintCertFile and tls.mixedCaseFingerprintKeyFile go together');
  }
  if (target?.startsWith('tcp+tls:')) {
    cfg.tls = {
      mtls: mtls ?? tls.certFile !== undefined,
      ...(deniedShard !== undefined ? { deniedShard } : {}),
      ...(globalCertFile !== undefined ? { globalClientCert: true } : {}),
      ...(mixedCaseFingerprintCertFile !== undefined ? { mixedCaseClientCert: true } : {}),
    };
  } else if ((spawnCmd && tls.caFile && caKeyFile) || listen?.startsWith('tcp+tls:')) {
    cfg.tls = { mtls: false };
  }
  const allowInsecureTcp = f.allowInsecureTcp ?? tc.allowInsecureTcp ?? false;
  if (target) {
    return [
      {
        role,
        cfg,
        describe: `router at ${target}`,
        makeTarget: async () =>
          attachRouter(target, {
            ...tls,
            ...(globalCertFile && globalKeyFile ? { globalClient: { certFile: globalCertFile, keyFile: globalKeyFile } } : {}),
            ...(mixedCaseFingerprintCertFile && mixedCaseFingerprintKeyFile
              ? { mixedCaseClient: { certFile: mixedCaseFingerprintCertFile, keyFile: mixedCaseFingerprintKeyFile } }
              : {}),
            allowInsecureTcp,
            authTokenConfigured: token !== undefined,
            connectTimeoutMs: Math.round(cfg.connectTimeoutMs * timeScale),
            ...(tc.stimulus ? { stimulusCommand: tc.stimulus.command, stimulusTimeoutMs: Math.round((tc.stimulus.timeoutMs ?? 10_000) * timeScale) } : {}),
          }),
      },
    ];
  }
  if (spawnCmd) {
    const tokenFile = tokenSrc.tokenFile;
    return [
      {
        role,
        cfg,
        describe: `worker spawned by ${spawnCmd}`,
        makeTarget: async () =>
          spawnWorker({
            command: spawnCmd,
            ...(tc.env ? { env: tc.env } : {}),
            values: tokenFile ? { tokenFile } : {},
            // TLS tier: listen on tcp+tls with certificates minted from the worker's CA ({caFile} in the template).
            ...(tls.caFile && caKeyFile ? { tls: { caFile: tls.caFile, caKeyFile } } : {}),
          }),
      },
    ];
  }
  return [{ role, cfg, describe: `worker connecting to ${listen!}`, makeTarget: () => listenForWorkers(listen!, { ...tls, allowInsecureTcp }) }];
}

function parseReports(values: readonly string[]): { kind: 'json' | 'junit' | 'html' | 'md'; file: string }[] {
  return values.map((v) => {
    const m = /^(json|junit|html|md)=(.+)$/.exec(v);
    if (!m) throw new UsageError(`--report expects json=FILE, junit=FILE, html=FILE or md=FILE (got ${v})`);
    return { kind: m[1] as 'json' | 'junit' | 'html' | 'md', file: m[2]! };
  });
}

async function runCommand(f: RunFlags): Promise<number> {
  const tc = f.config ? loadTargetConfig(f.config) : {};
  const reports = parseReports(f.report);
  const plans = buildPlans(f, tc);
  const registry = buildRegistry();
  const runGlobs = expandGlobs(f.run);
  const skipGlobs = expandGlobs(f.skip);
  const selected = selectCases(registry.all(), runGlobs, skipGlobs);
  const planned = plans.map((p) => ({ plan: p, cases: selected.filter((c) => c.role === p.role) }));
  if (planned.every((p) => p.cases.length === 0)) throw new UsageError(`no case matches the selection for the ${plans.map((p) => p.role).join('/')} role`);
  const baselinePath = f.baseline ?? tc.baseline;
  let baseline: BaselineEntry[] = [];
  if (baselinePath && existsSync(baselinePath)) {
    try {
      baseline = readBaseline(baselinePath);
    } catch (err) {
      throw new UsageError(`invalid baseline ${baselinePath}: ${(err as Error).message}`);
    }
  } else if (baselinePath && !f.updateBaseline) throw new UsageError(`baseline file ${baselinePath} does not exist (use --update-baseline to create it)`);

  if (f.dryRun) {
    for (const { plan, cases } of planned) {
      process.stdout.write(`# ${plan.describe}: ${cases.length} case(s)\n`);
      for (const c of cases) process.stdout.write(`${c.id}  [${c.strength}] ${c.requirements.join(',')}${c.needs?.length ? `  needs ${c.needs.join(',')}` : ''}\n`);
    }
    return EXIT_OK;
  }

  const out = new ConsoleReporter({ stream: process.stdout, color: f.color, verbose: f.verbose ?? false, strict: f.strict ?? false });
  const embedded = f.target === undefined && f.spawn === undefined && f.listen === undefined && tc.target === undefined && tc.spawn === undefined && tc.listen === undefined;
  const jobs = f.jobs ?? (embedded ? DEFAULT_EMBEDDED_JOBS : DEFAULT_JOBS);
  const started = new Date();
  const t0 = performance.now();
  const fatal: string[] = [];
  const rerun = rerunBase(f);
  const redactor = new Redactor([plans[0]?.cfg.token]);
  const active = planned.filter((p) => p.cases.length > 0);
  for (const { plan, cases } of active) out.begin(cases.length, redactor.text(`nova-conformance ${suiteVersion()} — ${plan.describe} (${cases.length} cases)`));
  // The plans are independent targets (with no target: the embedded router and worker), so they
  // run at the same time; each gets --jobs cases in parallel. Results keep the plan order.
  const summaries = await Promise.all(
    active.map(async ({ plan, cases }): Promise<RunSummary | null> => {
      let target: Target;
      try {
        target = await plan.makeTarget();
      } catch (err) {
        fatal.push(redactor.text((err as Error).message));
        return null;
      }
      try {
        const s = await runSuite({
          cases,
          target,
          cfg: plan.cfg,
          jobs,
          rerun: (id) => `${rerun}${plans.length > 1 ? ` --role ${plan.role}` : ''} --run '${id}'`,
          onStart: (d) => out.start(d.id),
          onResult: (r) => out.result(r),
        });
        if (s.fatal) fatal.push(`${plan.describe}: ${redactor.text(s.fatal)}`);
        if (s.facts?.problem) process.stderr.write(`warning: ${redactor.text(s.facts.problem)}\n`);
        else if (s.facts) {
          const f = s.facts;
          process.stdout.write(
            `capabilities exercised (${plan.role === 'router' ? 'negotiated' : 'offered'}): compression ${f.compression.join(',')}; cancel ${f.cancel}; chunking ${f.chunking}; max_frame_len ${f.maxFrameBytes}; max_packet_len ${f.maxPacketBytes}\n`,
          );
        }
        return s;
      } finally {
        await target.close().catch(() => {});
      }
    }),
  );
  const results: CaseResult[] = summaries.flatMap((s) => s?.results ?? []);
  const lastFacts: RunSummary['facts'] = [...summaries].reverse().find((s) => s?.facts)?.facts ?? null;
  // Wall time of the whole run (the plans overlap).
  const durationMs = Math.round(performance.now() - t0);
  applyBaseline(results, baseline, f.strict ?? false);
  const summary: RunSummary = { results, facts: lastFacts, durationMs, ...(fatal.length ? { fatal: fatal.join('\n') } : {}) };
  const report = buildReport(summary, {
    suiteVersion: suiteVersion(),
    startedAt: started,
    role: plans[0]!.role,
    describe: plans.map((p) => p.describe).join(' + '),
    strict: f.strict ?? false,
    timeScale: plans[0]!.cfg.timeScale,
    jobs,
    ...(baselinePath ? { baseline: baselinePath } : {}),
  });
  const safe = redactor.deep(report);
  for (const r of reports) {
    const text = r.kind === 'json' ? toJson(safe) : r.kind === 'junit' ? toJunit(safe, f.strict ?? false) : r.kind === 'html' ? toHtml(safe, f.strict ?? false) : toMarkdown(safe, f.strict ?? false);
    writeFileSync(r.file, text);
  }
  if (f.updateBaseline && baselinePath) {
    writeBaseline(baselinePath, baselineFromResults(results, baseline, f.strict ?? false));
    process.stdout.write(`baseline written to ${baselinePath}\n`);
  }
  const code = f.updateBaseline && fatal.length === 0 ? EXIT_OK : exitCodeFor(summary, f.strict ?? false);
  if (fatal.length) process.stderr.write(`\nharness/target error:\n${fatal.join('\n')}\n`);
  out.summary(results, durationMs, code);
  return code;
}

function listCommand(opts: { role?: TargetRole; json?: boolean; run: string[]; skip: string[] }): number {
  let cases: CaseDef[] = selectCases(buildRegistry().all(), expandGlobs(opts.run), expandGlobs(opts.skip));
  if (opts.role) cases = cases.filter((c) => c.role === opts.role);
  if (opts.json) {
    const view = cases.map((c) => ({
      id: c.id,
      role: c.role,
      title: c.title,
      strength: c.strength,
      needs: c.needs ?? [],
      requirements: c.requirements.map((id) => requirementText(id)),
      faults: c.faults,
      since: c.since ?? null,
    }));
    process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    return EXIT_OK;
  }
  for (const c of cases) process.stdout.write(`${c.id.padEnd(64)} ${c.strength.padEnd(6)} ${c.requirements.join(',').padEnd(22)} ${c.title}\n`);
  process.stdout.write(`${cases.length} case(s)\n`);
  return EXIT_OK;
}

export function buildProgram(): Command {
  const program = new Command('nova-conformance');
  program
    .description('Conformance suite for nova remote RPC v3: runs every applicable case against a router or worker and reports case by case and rule by rule.')
    .version(suiteVersion())
    .enablePositionalOptions()
    .addOption(new Option('--target <addr>', 'test a ROUTER: attach to unix:/path, tcp:host:port or tcp+tls:host:port'))
    .addOption(new Option('--spawn <command>', 'test a WORKER: spawn it per case; {address} {shard} {tokenFile} are substituted'))
    .addOption(new Option('--listen <addr>', 'test a WORKER: listen and wait for it to connect (it must reconnect after each case)'))
    .addOption(new Option('--role <role>', 'role of the target (default from the mode; with no target: both embedded peers)').choices(['router', 'worker']))
    .option('--config <file>', 'target config JSON (schema/target-config.schema.json)')
    .option('--token-file <file>', 'auth token file (tokens are never taken on the command line)')
    .option('--token-env <name>', 'environment variable holding the auth token')
    .option('--run <glob>', 'run only matching case ids (repeatable, comma-separated, @file)', collect, [])
    .option('--skip <glob>', 'skip matching case ids (repeatable, comma-separated, @file)', collect, [])
    .option('--dry-run', 'list what would run, do not connect')
    .option('--jobs <n>', `cases in parallel per target, each on its own connection / process (default ${DEFAULT_JOBS}; ${DEFAULT_EMBEDDED_JOBS} per embedded peer with no target; a router is also bounded by its shard count)`, positiveInt('--jobs'))
    .option('--strict', 'SHOULD violations (warnings) fail the run')
    .option('--baseline <file>', 'known-failure baseline: listed failures do not fail the run; listed passes do (stale)')
    .option('--update-baseline', 'write the current failures to the baseline file')
    .option('--time-scale <x>', 'multiply every timeout (slow targets, debuggers)', (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 1000)) throw new InvalidArgumentError('--time-scale must be in (0, 1000]');
      return n;
    })
    .option('--case-timeout <ms>', 'per-case budget in ms (before scaling), overrides every case', positiveInt('--case-timeout'))
    .option('--report <kind=file>', 'write a report: json=FILE, junit=FILE, html=FILE, md=FILE (repeatable)', collect, [])
    .option('--no-color', 'no ANSI colours (also NO_COLOR)')
    .option('--verbose', 'print every case, and details of warnings')
    .option('--allow-insecure-tcp', 'allow plaintext TCP with a token or to a non-loopback host')
    .option('--tls-ca <file>', 'tcp+tls: CA of the router certificate (router target) / CA the spawned worker trusts, {caFile} (worker target)')
    .option('--tls-cert <file>', 'tcp+tls router target: client certificate the router admits (mTLS)')
    .option('--tls-key <file>', 'tcp+tls router target: key of --tls-cert')
    .option('--tls-ca-key <file>', 'TLS tier, spawned worker: key of --tls-ca, to mint the router certificates the harness offers')
    .option('--tls-server-name <name>', 'tcp+tls router target: name to verify the router certificate against')
    .option('--limits', 'also run the opt-in limits tier (LIM-3: 129 concurrent half-open connections; run last, alone)')
    .addHelpText(
      'after',
      `
Exit codes:
  0  all applicable cases passed (warnings allowed unless --strict)
  1  failures, timeouts, strict warnings or stale baseline entries
  2  usage or configuration error
  3  harness or target error (cannot connect, cannot spawn, adapter fault)

Needs a case can have: ${CASE_NEEDS.join(', ')} (skipped with the reason unless negotiated or declared).

Examples:
  nova-conformance                                   # embedded reference router + worker
  nova-conformance --target unix:/run/nova.sock --token-file token.txt --report junit=conformance.xml
  nova-conformance --spawn "my-worker --connect {address} --shard-id {shard}" --run 'worker.handshake.*'`,
    )
    .action(async (flags: RunFlags) => {
      process.exitCode = await runCommand({ ...flags, color: flags.color && pc.isColorSupported && !process.env.NO_COLOR });
    });

  program
    .command('list')
    .description('list the cases (id, strength, requirements, title)')
    .addOption(new Option('--role <role>', 'only cases for this target role').choices(['router', 'worker']))
    .option('--json', 'JSON output, with requirement texts and faults')
    .option('--run <glob>', 'only matching ids', collect, [])
    .option('--skip <glob>', 'minus matching ids', collect, [])
    .action((o: { role?: TargetRole; json?: boolean; run: string[]; skip: string[] }) => {
      process.exitCode = listCommand(o);
    });

  registerPeerCommands(program);
  fuzzCli?.registerFuzzCommands(program);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`nova-conformance: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`nova-conformance: harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT_HARNESS;
  }
}

if (runAsBin) {
  void main().then((code) => {
    process.exitCode = code;
  });
}

export { EXIT_FAILURES, UsageError };
