/**
 * Issue #6: "with each reference `--fault` switched on, the fuzzer finds it within its default
 * budget". Every fault of `peer --list-faults` is either in FAULT_COVERAGE (found by the network
 * fuzzer; the failure kind and the rule the oracle cites are listed) or in FAULT_EXEMPTIONS with a
 * reason (fuzz/net/fault-coverage.ts) — checked here, so the lists cannot go stale.
 *
 * Each listed fault is fuzzed with the default case mix and the default budget (60 s, stopping at
 * the first failure) against the in-process reference peer. By default a representative subset
 * runs (`quick: true`, including every fault of the open gap); FUZZ_ALL_FAULTS=1 runs all.
 * Seeds are printed; FUZZ_SEED=<seed> reproduces a run; FUZZ_FAULTS=a,b runs only those faults.
 * Faults marked `strict` are fuzzed with the worker handshake SHOULDs graded as failures.
 */
import { describe, expect, it } from 'vitest';
import { FAULTS } from '../src/peers/faults.js';
import { runNetworkCampaign } from './net/campaign.js';
import { FAULT_COVERAGE, FAULT_EXEMPTIONS, FUZZ_FAULT_TOKEN } from './net/fault-coverage.js';
import { DEFAULT_RUN_OPTIONS } from './net/runner.js';
import { inProcessRouter, inProcessWorker } from './net/targets.js';
import { seedFromEnv } from './rng.js';

const seed = String(seedFromEnv());
const ALL = process.env['FUZZ_ALL_FAULTS'] === '1';
/** FUZZ_FAULTS=name,name: run only these covered faults (with FUZZ_ALL_FAULTS=1 or not). */
const ONLY = (process.env['FUZZ_FAULTS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
console.log(`[fuzz] fault-finding tests seed=${seed}${ALL ? ' (all faults)' : ''} (set FUZZ_SEED to reproduce, FUZZ_ALL_FAULTS=1 for every fault)`);

/** The fuzzer's default budget (`nova-conformance fuzz --duration`, default 60 s). */
const DEFAULT_BUDGET_MS = 60_000;

describe('fault coverage list', () => {
  it('every reference fault is either found by the fuzzer or exempt with a reason, and no entry is stale', () => {
    const names = new Set(FAULTS.map((f) => f.name));
    const covered = Object.keys(FAULT_COVERAGE);
    const exempt = Object.keys(FAULT_EXEMPTIONS);
    expect(covered.filter((n) => !names.has(n)), 'covered faults that no longer exist').toEqual([]);
    expect(exempt.filter((n) => !names.has(n)), 'exempt faults that no longer exist').toEqual([]);
    expect(covered.filter((n) => exempt.includes(n)), 'both covered and exempt').toEqual([]);
    expect([...names].filter((n) => !covered.includes(n) && !exempt.includes(n)), 'faults neither covered by a fuzz test nor exempt (add them to fuzz/net/fault-coverage.ts)').toEqual([]);
    for (const [name, reason] of Object.entries(FAULT_EXEMPTIONS)) expect(reason.length, `exemption reason for ${name}`).toBeGreaterThan(20);
    for (const [name, c] of Object.entries(FAULT_COVERAGE)) {
      expect(c.rules.length, name).toBeGreaterThan(0);
      expect(c.kinds.length, name).toBeGreaterThan(0);
    }
  });
});

// The cases mostly wait (for closes, answers, timeouts): they run a few at a time (vitest's
// maxConcurrency, default 5), each against its own in-process peer.
describe.concurrent('the fuzzer finds each listed reference fault within its default budget', () => {
  const selected = Object.entries(FAULT_COVERAGE).filter(([name, c]) => (ONLY.length ? ONLY.includes(name) : ALL || c.quick));
  for (const [fault, c] of selected) {
    it(`finds ${fault} [${c.rules.join('|')}] (seed ${seed})`, async ({ expect }) => {
      const spec = FAULTS.find((f) => f.name === fault)!;
      const router = spec.role === 'router';
      const token = c.token ? FUZZ_FAULT_TOKEN : undefined;
      const target = router
        ? await inProcessRouter({ faults: [fault], shards: [0, 1, 2, 3, 4, 5, 6, 7], ...(token ? { authToken: token } : {}) })
        : await inProcessWorker({ faults: [fault], ...(token ? { authToken: token } : {}) });
      try {
        const r = await runNetworkCampaign({
          target,
          seed,
          durationMs: DEFAULT_BUDGET_MS,
          run: { ...DEFAULT_RUN_OPTIONS, deadlineMs: 1200, authToken: token ?? null, ...(c.strict ? { strict: true } : {}) },
          lanes: router ? [0, 1, 2, 3, 4, 5, 6, 7] : [0, 1, 2, 3],
          shrink: false,
          log: () => {},
        });
        expect(r.failures.length, `${fault} not found in ${r.cases} cases (${(r.elapsedMs / 1000).toFixed(1)} s)`).toBe(1);
        const f = r.failures[0]!;
        const what = `${f.failure.kind} [${f.failure.rule}] ${f.failure.detail} :: ${f.steps.map((s) => s.note).join(',')}`;
        expect(c.kinds, what).toContain(f.failure.kind);
        expect(c.rules, what).toContain(f.failure.rule);
        console.log(`[fuzz] ${fault}: ${f.failure.kind} [${f.failure.rule}] at case ${f.caseIndex} (${r.cases} cases, ${(r.elapsedMs / 1000).toFixed(1)} s)`);
      } finally {
        await target.close();
      }
    }, DEFAULT_BUDGET_MS + 30_000);
  }
});
