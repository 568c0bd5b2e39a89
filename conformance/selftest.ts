/**
 * Self-test plumbing: run cases against the embedded reference peers, with or without faults.
 * Used by conformance/selftest.test.ts, the benchmark and `nova-conformance` with no target.
 *
 * @module
 */
import { EMBEDDED_HANDSHAKE_TIMEOUT_MS, EMBEDDED_SHARDS, EMBEDDED_UNKNOWN_SHARD, embeddedRouter, embeddedWorker } from './embedded.js';
import type { RunConfig } from './context.js';
import type { CaseDef, TargetRole } from './registry.js';
import { runSuite, type RunSummary } from './runner.js';
import { isLimitsCase, isSpawnCase, isTlsCase, runWithTiers, spawnTierAvailable } from './selftest-tiers.js';

/** The token the embedded peers are configured with (a test value, never a real secret). */
export const EMBEDDED_TOKEN = 'embedded-selftest-token-5b2e9c';

export function embeddedConfig(role: TargetRole, overrides: Partial<RunConfig> = {}): RunConfig {
  return {
    role,
    token: EMBEDDED_TOKEN,
    shards: role === 'router' ? [...EMBEDDED_SHARDS] : [7],
    unknownShard: EMBEDDED_UNKNOWN_SHARD,
    timeScale: 1,
    readTimeoutMs: 2000,
    handshakeTimeoutMs: EMBEDDED_HANDSHAKE_TIMEOUT_MS,
    connectTimeoutMs: 5000,
    declared: {},
    ...overrides,
  };
}

/** Does the case need a target without an auth token (it is then run by a token-less embedded peer)? */
export function needsNoAuth(c: CaseDef): boolean {
  return c.needs?.includes('no-auth') ?? false;
}

/**
 * Run `cases` of one role against the embedded reference peer (with `faults`). `noAuth`: the peer and the
 * harness have no token (for the cases that need `no-auth`; cases that need `auth` then skip).
 */
export async function runEmbedded(
  role: TargetRole,
  cases: CaseDef[],
  opts: { faults?: string[]; jobs?: number; noAuth?: boolean; cfg?: Partial<RunConfig>; onResult?: Parameters<typeof runSuite>[0]['onResult'] } = {},
): Promise<RunSummary> {
  const cfg = embeddedConfig(role, opts.cfg);
  if (opts.noAuth) delete cfg.token;
  // TLS-tier and limits-tier cases run against embedded peers of their own, spawn-tier cases against
  // a spawned reference worker when dist/ is built (conformance/selftest-tiers.ts).
  const mine = cases.filter((c) => c.role === role);
  if (mine.some((c) => isTlsCase(c) || isLimitsCase(c) || (isSpawnCase(c) && spawnTierAvailable(role)))) {
    const tierOpts = { ...opts, ...(opts.noAuth ? {} : { token: EMBEDDED_TOKEN }) };
    return runWithTiers(role, mine, cfg, tierOpts, (plain) => runEmbedded(role, plain, opts));
  }
  const peerOpts = { faults: opts.faults ?? [], ...(opts.noAuth ? {} : { token: EMBEDDED_TOKEN }) };
  const target = role === 'router' ? await embeddedRouter(peerOpts) : embeddedWorker(peerOpts);
  try {
    return await runSuite({
      cases: cases.filter((c) => c.role === role),
      target,
      cfg,
      jobs: opts.jobs ?? 8,
      rerun: (id) => `nova-conformance --role ${role} --run '${id}'`,
      ...(opts.onResult ? { onResult: opts.onResult } : {}),
    });
  } finally {
    await target.close();
  }
}
