/**
 * Long offline fuzzing campaign: `npm run fuzz -- --duration 10m [--seed S] [--only TEXT]`.
 *
 * Runs every offline property (fuzz/properties.ts) in rounds, each round with a fresh seed drawn
 * from the master seed, until the duration is spent. Prints execs/s per property and, for any
 * failure, the round seed, the fast-check path and the shrunk counterexample; exits 1 then.
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { offlineProperties, type OfflineProperty } from './properties.js';
import { createRng, randomSeed, seedFromString } from './rng.js';
import { formatRate, parseDurationMs, safeStringify } from './util.js';

export interface CampaignOptions {
  durationMs: number;
  seed: number;
  /** Only properties whose name contains this text. */
  only?: string;
  /** Stop at the first failure (default true). */
  stopOnFailure?: boolean;
  log?: (line: string) => void;
}

export interface CampaignFailure {
  property: string;
  seed: number;
  path: string | undefined;
  counterexample: string;
  error: string;
}

export interface CampaignResult {
  seed: number;
  elapsedMs: number;
  execs: number;
  perProperty: Array<{ name: string; execs: number; ms: number }>;
  failures: CampaignFailure[];
}

/** Run the offline properties in a loop for `durationMs`. */
export function runOfflineCampaign(opts: CampaignOptions): CampaignResult {
  const log = opts.log ?? ((l: string) => console.log(l));
  const props: OfflineProperty[] = offlineProperties().filter((p) => !opts.only || p.name.includes(opts.only));
  if (props.length === 0) throw new Error('no property matches --only');
  const master = createRng(opts.seed);
  const stats = props.map((p) => ({ name: p.name, execs: 0, ms: 0 }));
  const failures: CampaignFailure[] = [];
  const t0 = performance.now();
  const deadline = t0 + opts.durationMs;
  let round = 0;
  log(`[fuzz] offline campaign: ${props.length} properties, master seed ${opts.seed}, duration ${opts.durationMs} ms`);
  outer: while (performance.now() < deadline) {
    round++;
    for (let i = 0; i < props.length; i++) {
      if (performance.now() >= deadline) break outer;
      const p = props[i]!;
      const seed = master.u32() | 0;
      const start = performance.now();
      const details = fc.check(p.build(), { seed, numRuns: p.numRuns });
      const ms = performance.now() - start;
      stats[i]!.execs += details.numRuns;
      stats[i]!.ms += ms;
      if (details.failed) {
        const failure: CampaignFailure = {
          property: p.name,
          seed,
          path: details.counterexamplePath ?? undefined,
          counterexample: safeStringify(details.counterexample),
          error: details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance),
        };
        failures.push(failure);
        log(`[fuzz] FAILURE in "${p.name}"`);
        log(`       reproduce: fc.assert(prop, { seed: ${seed}, path: "${failure.path ?? ''}" })`);
        log(`       error: ${failure.error}`);
        log(`       shrunk counterexample: ${failure.counterexample.slice(0, 4000)}`);
        if (opts.stopOnFailure !== false) break outer;
      }
    }
    const elapsed = performance.now() - t0;
    const execs = stats.reduce((a, s) => a + s.execs, 0);
    log(`[fuzz] round ${round}: ${execs} execs in ${(elapsed / 1000).toFixed(1)} s (${formatRate((execs * 1000) / elapsed)} execs/s), ${failures.length} failures`);
  }
  const elapsedMs = performance.now() - t0;
  for (const s of stats) log(`[fuzz]   ${formatRate(s.ms ? (s.execs * 1000) / s.ms : 0).padStart(7)} execs/s  ${String(s.execs).padStart(8)}  ${s.name}`);
  return { seed: opts.seed, elapsedMs, execs: stats.reduce((a, s) => a + s.execs, 0), perProperty: stats, failures };
}

function parseArgs(argv: string[]): CampaignOptions {
  let durationMs = 60_000;
  let seed = process.env['FUZZ_SEED'] ? seedFromString(process.env['FUZZ_SEED']) : randomSeed();
  let only: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--duration') durationMs = parseDurationMs(next());
    else if (a.startsWith('--duration=')) durationMs = parseDurationMs(a.slice(11));
    else if (a === '--seed') seed = seedFromString(next());
    else if (a.startsWith('--seed=')) seed = seedFromString(a.slice(7));
    else if (a === '--only') only = next();
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run fuzz -- [--duration 10m] [--seed S] [--only TEXT]');
      process.exit(0);
    } else throw new Error(`unknown argument: ${a.slice(0, 40)}`);
  }
  return { durationMs, seed, ...(only ? { only } : {}) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const result = runOfflineCampaign(parseArgs(process.argv.slice(2)));
    console.log(`[fuzz] done: ${result.execs} execs in ${(result.elapsedMs / 1000).toFixed(1)} s, ${result.failures.length} failures (seed ${result.seed})`);
    process.exitCode = result.failures.length ? 1 : 0;
  } catch (e) {
    console.error(`[fuzz] ${(e as Error).message}`);
    process.exitCode = 2;
  }
}
