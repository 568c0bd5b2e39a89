/**
 * Offline fuzz properties with small fixed budgets. The seed is printed in every test name;
 * rerun one with FUZZ_SEED=<seed> npx vitest run fuzz/offline.test.ts.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { offlineProperties } from './properties.js';
import { seedFromEnv } from './rng.js';

const seed = seedFromEnv() | 0;
console.log(`[fuzz] offline properties seed=${seed} (set FUZZ_SEED to reproduce)`);

describe(`offline fuzz properties (FUZZ_SEED=${seed})`, () => {
  for (const p of offlineProperties()) {
    it(`${p.name} [${p.rules.join(' ')}] seed=${seed}`, () => {
      fc.assert(p.build(), { seed, numRuns: p.numRuns, endOnFailure: false });
    });
  }
});
