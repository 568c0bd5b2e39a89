/**
 * The live-target fuzzing loop: generate a case from the seed, run it, check liveness, and on a
 * failure shrink it and save a regression file.
 *
 * @module
 */
import { createRng, seedFromString, type Rng } from '../rng.js';
import { formatRate } from '../util.js';
import type { FuzzStep } from './model.js';
import { expectationToJson, redactBytes, saveRegression, stepsToJson, type RegressionFile } from './regression.js';
import { executeCase, livenessProbe, type CaseResult, type Failure, type FuzzTarget, type RunOptions } from './runner.js';
import { DEFAULT_SHRINK_BUDGET, shrinkSteps, type ShrinkBudget } from './shrink.js';

export interface NetCampaignOptions {
  target: FuzzTarget;
  /** The campaign seed as the user gave it (any text; numbers are used as is). */
  seed: string;
  durationMs: number;
  /** Stop after this many cases (default unlimited). */
  maxCases?: number;
  run: RunOptions;
  /** Directory for regression files (default none: nothing written). */
  outDir?: string;
  /** Shrink failures (default true) within this budget. */
  shrink?: boolean;
  shrinkBudget?: ShrinkBudget;
  /** Stop at the first failure (default true). */
  stopOnFailure?: boolean;
  /** Liveness probe on a fresh connection every N cases. Default 5. */
  livenessEvery?: number;
  /** Shard ids to run concurrent lanes on (default: just run.shardId). The router must admit them all. */
  lanes?: number[];
  log?: (line: string) => void;
}

export interface NetFailureReport {
  caseIndex: number;
  caseSeed: number;
  failure: Failure;
  steps: FuzzStep[];
  originalStepCount: number;
  shrinkRuns: number;
  file?: string;
  result: CaseResult;
}

export interface NetCampaignResult {
  seed: string;
  cases: number;
  elapsedMs: number;
  casesPerSecond: number;
  ends: Record<string, number>;
  handshakeRejects: number;
  failures: NetFailureReport[];
}

/** The PRNG seed of case `index` of a campaign. */
export function caseSeed(campaignSeed: number, index: number): number {
  let z = (campaignSeed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Run a fixed step list and return the failure (liveness included when `withLiveness`). */
export async function runFixed(target: FuzzTarget, run: RunOptions, steps: FuzzStep[], withLiveness: boolean): Promise<{ result: CaseResult; failure: Failure | null }> {
  const result = await executeCase(target, run, { steps });
  let failure = result.failure;
  if (!failure && withLiveness && target.probeFreshConnection) {
    const live = await livenessProbe(target, run);
    if (live) failure = { kind: 'liveness', rule: 'DATA-1', detail: live };
  }
  return { result, failure };
}

export async function runNetworkCampaign(opts: NetCampaignOptions): Promise<NetCampaignResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const seedNum = seedFromString(opts.seed);
  const t0 = performance.now();
  const deadline = t0 + opts.durationMs;
  const ends: Record<string, number> = { open: 0, close: 0, any: 0 };
  const failures: NetFailureReport[] = [];
  let handshakeRejects = 0;
  let cases = 0;
  let lastReport = t0;
  let nextIndex = 0;
  let stopped = false;
  const livenessEvery = opts.livenessEvery ?? 5;
  // Lanes run cases concurrently, each on its own shard (a router admits one worker per shard).
  const lanes = opts.lanes && opts.lanes.length ? opts.lanes : [opts.run.shardId];
  log(`[fuzz] ${opts.target.describe}: role ${opts.target.role}, seed ${opts.seed}, duration ${Math.round(opts.durationMs / 1000)} s, ${lanes.length} lane(s)`);
  const lane = async (shardId: number): Promise<void> => {
    const run: RunOptions = { ...opts.run, shardId };
    while (!stopped && performance.now() < deadline && (opts.maxCases === undefined || nextIndex < opts.maxCases)) {
      const i = nextIndex++;
      const cs = caseSeed(seedNum, i);
      const rng: Rng = createRng(cs);
      let result: CaseResult;
      try {
        result = await executeCase(opts.target, run, { rng });
      } catch (e) {
        if (stopped) return;
        stopped = true;
        if (opts.target.alive()) throw e;
        // the long-lived target died while this case was connecting
        const failure: Failure = { kind: 'crash', rule: 'DATA-5', detail: `the target process exited (case ${i} could not connect)` };
        log(`[fuzz] FAILURE at case ${i}: crash: ${failure.detail}\n${opts.target.logTail()}`);
        const empty: CaseResult = { steps: [], expectation: { end: 'any', mustAnswer: [], mayAnswer: [], reason: 'not run' }, observation: { handshake: 'not-sent', closed: true, responses: {}, targetViolations: [] }, failure, elapsedMs: 0 };
        failures.push(await minimise({ ...opts, run }, i, cs, empty, failure, false, log));
        return;
      }
      cases++;
      ends[result.expectation.end] = (ends[result.expectation.end] ?? 0) + 1;
      if (result.observation.handshake === 'reject') handshakeRejects++;
      let failure = result.failure;
      let withLiveness = false;
      if (!failure && opts.target.probeFreshConnection && (i + 1) % livenessEvery === 0) {
        const live = await livenessProbe(opts.target, run);
        if (live) {
          failure = { kind: 'liveness', rule: 'DATA-1', detail: live };
          withLiveness = true;
        }
      }
      const now = performance.now();
      if (now - lastReport > 5000) {
        lastReport = now;
        log(`[fuzz] ${cases} cases in ${((now - t0) / 1000).toFixed(0)} s (${formatRate((cases * 1000) / (now - t0))} cases/s), ends ${JSON.stringify(ends)}, ${failures.length} failures`);
      }
      if (!failure || stopped) continue;
      if (opts.stopOnFailure !== false) stopped = true;
      if (failure.kind === 'crash') log(`[fuzz] target log tail:\n${opts.target.logTail()}`);
      log(`[fuzz] FAILURE at case ${i} (case seed ${cs}, shard ${shardId}): ${failure.kind} [${failure.rule}] ${failure.detail}`);
      failures.push(await minimise({ ...opts, run }, i, cs, result, failure, withLiveness, log));
    }
  };
  await Promise.all(lanes.map((s) => lane(s)));
  const elapsedMs = performance.now() - t0;
  const result: NetCampaignResult = {
    seed: opts.seed,
    cases,
    elapsedMs,
    casesPerSecond: (cases * 1000) / elapsedMs,
    ends,
    handshakeRejects,
    failures,
  };
  log(
    `[fuzz] done: ${cases} cases in ${(elapsedMs / 1000).toFixed(1)} s (${formatRate(result.casesPerSecond)} cases/s), ends ${JSON.stringify(ends)}, handshake rejects ${handshakeRejects}, ${failures.length} failures`,
  );
  return result;
}

async function minimise(
  opts: NetCampaignOptions,
  index: number,
  cs: number,
  result: CaseResult,
  failure: Failure,
  withLiveness: boolean,
  log: (l: string) => void,
): Promise<NetFailureReport> {
  let steps = result.steps;
  let shrinkRuns = 0;
  // a crash of a long-lived target cannot be re-run against the same process
  if (opts.shrink !== false && failure.kind !== 'crash' && steps.length > 0) {
    const fails = async (cand: FuzzStep[]): Promise<boolean> => {
      try {
        const r = await runFixed(opts.target, opts.run, cand, withLiveness);
        return r.failure?.kind === failure.kind;
      } catch {
        return false;
      }
    };
    if (await fails(steps)) {
      const shrunk = await shrinkSteps(steps, fails, opts.shrinkBudget ?? DEFAULT_SHRINK_BUDGET);
      steps = shrunk.steps;
      shrinkRuns = shrunk.runs + 1;
      log(`[fuzz] shrunk ${result.steps.length} → ${steps.length} steps (${shrinkRuns} runs)`);
    } else {
      log('[fuzz] the failure did not reproduce with the recorded frames (timing-dependent); saving it unshrunk');
    }
  }
  // the final verdict for the minimised steps
  const final = failure.kind === 'crash' ? { result, failure } : await runFixed(opts.target, opts.run, steps, withLiveness).catch(() => ({ result, failure }));
  const finalFailure = final.failure?.kind === failure.kind ? final.failure : failure;
  const finalResult = final.failure?.kind === failure.kind ? final.result : result;
  const report: NetFailureReport = { caseIndex: index, caseSeed: cs, failure: finalFailure, steps, originalStepCount: result.steps.length, shrinkRuns, result: finalResult };
  if (opts.outDir && steps.length > 0) {
    const file: RegressionFile = {
      format: 'nova-conformance/fuzz-regression',
      version: 1,
      role: opts.target.role,
      seed: opts.seed,
      caseIndex: index,
      caseSeed: cs,
      shardId: opts.run.shardId,
      steps: stepsToJson(steps, opts.run.authToken), // [SEC-2] the token and its derived variants are redacted
      expected: expectationToJson(finalResult.expectation),
      failure: finalFailure,
      observed: finalResult.observation,
      originalStepCount: result.steps.length,
      shrinkRuns,
      target: opts.target.describe,
      createdAt: new Date().toISOString(),
      tool: 'nova-conformance fuzz',
    };
    report.file = saveRegression(opts.outDir, file);
    log(`[fuzz] regression file: ${report.file}`);
  }
  for (const [n, s] of steps.entries()) {
    // [SEC-2] never print the token (or a variant derived from it)
    const bytes = redactBytes(s.kind === 'frame' ? s.body : s.bytes, opts.run.authToken).bytes;
    const hex = Buffer.from(bytes.subarray(0, 48)).toString('hex');
    log(`[fuzz]   step ${n} ${s.kind} ${bytes.length} B${s.note ? ` (${s.note})` : ''}: ${hex}${bytes.length > 48 ? '…' : ''}`);
  }
  return report;
}
