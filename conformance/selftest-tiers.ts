/**
 * Self-test plumbing for the opt-in tiers: TLS-tier cases run against the embedded reference peers
 * over tcp+tls (a PKI generated into a temp dir per run), limits-tier cases against a router of
 * their own, one case at a time. Everything else runs as before.
 *
 * @module
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunConfig } from './context.js';
import { embeddedRouter, embeddedWorker } from './embedded.js';
import { embeddedTlsRouter, embeddedTlsWorker, makeEmbeddedTlsFixture } from './embedded-tls.js';
import type { CaseDef, TargetRole } from './registry.js';
import { runSuite, type RunSummary } from './runner.js';
import { shellQuote, spawnWorker } from './targets.js';

export function isTlsCase(c: CaseDef): boolean {
  return c.needs?.some((n) => n === 'tls' || n === 'mtls') ?? false;
}

export function isLimitsCase(c: CaseDef): boolean {
  return c.needs?.includes('limits') ?? false;
}

export function isSpawnCase(c: CaseDef): boolean {
  return c.needs?.includes('spawn') ?? false;
}

/**
 * The built command-line tool (dist/conformance/cli.js), which spawn-tier cases run as
 * `peer worker`; undefined when dist/ is not built (those cases then skip against the embedded worker).
 */
export function builtCli(): string | undefined {
  // From the sources (conformance/) the build is ../dist/conformance; from dist/conformance it is this directory.
  for (const rel of ['./cli.js', '../dist/conformance/cli.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (p.includes(`${sep}dist${sep}`) && existsSync(p)) return p;
  }
  return undefined;
}

/** Are the spawn-tier cases run against a spawned reference worker? */
export function spawnTierAvailable(role: TargetRole): boolean {
  return role === 'worker' && builtCli() !== undefined;
}

export interface TierRunOptions {
  faults?: string[];
  jobs?: number;
  /** The harness's token (undefined: no token on either side). */
  token?: string;
  onResult?: Parameters<typeof runSuite>[0]['onResult'];
}


/** Handshake timeout of the embedded router in the limits tier. */
const LIMITS_TIER_HANDSHAKE_TIMEOUT_MS = 6_000;
/** Response wait of the embedded router in the limits tier [LIM-5] (the reference default is 10 min). */
const LIMITS_TIER_RESPONSE_WAIT_MS = 1_000;
/**
 * Run `cases` (one role): plain cases through `plain`, TLS and limits cases against their own
 * embedded peers, concurrently; the summaries are merged.
 */
export async function runWithTiers(
  role: TargetRole,
  cases: CaseDef[],
  cfg: RunConfig,
  opts: TierRunOptions,
  plain: (cases: CaseDef[]) => Promise<RunSummary>,
): Promise<RunSummary> {
  const tlsCases = cases.filter(isTlsCase);
  const limitsCases = cases.filter((c) => isLimitsCase(c) && !isTlsCase(c));
  const cli = spawnTierAvailable(role) ? builtCli() : undefined;
  const spawnCases = cli !== undefined ? cases.filter((c) => isSpawnCase(c) && !isTlsCase(c) && !isLimitsCase(c)) : [];
  const rest = cases.filter((c) => !isTlsCase(c) && !isLimitsCase(c) && !spawnCases.includes(c));
  const peerOpts = { faults: opts.faults ?? [], ...(opts.token !== undefined ? { token: opts.token } : {}) };
  const common = {
    rerun: (id: string) => `nova-conformance --role ${role} --run '${id}'`,
    ...(opts.onResult ? { onResult: opts.onResult } : {}),
  };
  const runs: Promise<RunSummary>[] = [];
  if (rest.length > 0) runs.push(plain(rest));
  if (tlsCases.length > 0) {
    runs.push(
      (async () => {
        const fx = makeEmbeddedTlsFixture();
        try {
          const target = role === 'router' ? await embeddedTlsRouter(fx, peerOpts) : embeddedTlsWorker(fx, peerOpts);
          try {
            return await runSuite({ cases: tlsCases, target, cfg: { ...cfg, tls: fx.runInfo(role) }, jobs: opts.jobs ?? 4, ...common });
          } finally {
            await target.close();
          }
        } finally {
          fx.cleanup();
        }
      })(),
    );
  }
  if (limitsCases.length > 0 && role === 'router') {
    runs.push(
      (async () => {
        // A longer handshake timeout than the plain tier's, so the half-open connections outlive
        // the case's watch window even on a loaded machine (a router without the cap keeps the
        // extra connection open until this timeout). A short response wait, so the LIM-5 case
        // can watch it end.
        const target = await embeddedRouter({ ...peerOpts, handshakeTimeoutMs: LIMITS_TIER_HANDSHAKE_TIMEOUT_MS, callTimeoutMs: LIMITS_TIER_RESPONSE_WAIT_MS });
        try {
          // One at a time: a limits case needs the router to itself.
          return await runSuite({
            cases: limitsCases,
            target,
            cfg: { ...cfg, limits: true, handshakeTimeoutMs: LIMITS_TIER_HANDSHAKE_TIMEOUT_MS, responseWaitMs: LIMITS_TIER_RESPONSE_WAIT_MS },
            jobs: 1,
            ...common,
          });
        } finally {
          await target.close();
        }
      })(),
    );
  }
  if (limitsCases.length > 0 && role === 'worker') {
    runs.push(
      (async () => {
        const target = embeddedWorker(peerOpts);
        try {
          return await runSuite({ cases: limitsCases, target, cfg: { ...cfg, limits: true }, jobs: 1, ...common });
        } finally {
          await target.close();
        }
      })(),
    );
  }
  if (spawnCases.length > 0 && cli !== undefined) {
    runs.push(
      (async () => {
        // A reference worker process per case, run by the built CLI; the token goes in a 0600 file.
        const dir = mkdtempSync(join(tmpdir(), 'nc-selftest-spawn-'));
        const tokenFile = join(dir, 'token');
        if (opts.token !== undefined) writeFileSync(tokenFile, opts.token, { mode: 0o600 });
        const command = [
          shellQuote(process.execPath),
          shellQuote(cli),
          'peer worker --connect {address} --shard-id {shard} --quiet',
          ...(opts.token !== undefined ? ['--auth-token-file {tokenFile}'] : []),
          ...(opts.faults ?? []).map((f) => `--fault ${shellQuote(f)}`),
        ].join(' ');
        const target = spawnWorker({ command, values: { tokenFile } });
        try {
          return await runSuite({ cases: spawnCases, target, cfg, jobs: opts.jobs ?? 4, ...common });
        } finally {
          await target.close();
          rmSync(dir, { recursive: true, force: true });
        }
      })(),
    );
  }
  const all = await Promise.all(runs);
  const fatal = all.find((s) => s.fatal !== undefined)?.fatal;
  return {
    results: all.flatMap((s) => s.results),
    facts: all[0]?.facts ?? null,
    ...(fatal !== undefined ? { fatal } : {}),
    durationMs: Math.max(0, ...all.map((s) => s.durationMs)),
  };
}
