/**
 * The suite tests itself: every case passes against the correct reference peers, and every case
 * FAILS against the reference peer running each fault it names. A case no fault can make fail
 * cannot fail at all, so it is a defect unless it is listed (with the fault it needs) in
 * PENDING_FAULTS for the peers owner to add.
 */
import { describe, expect, it } from 'vitest';
import { FAULTS } from '../src/peers/faults.js';
import { buildRegistry } from './cases/index.js';
import { PENDING_FAULTS } from './pending-faults.js';
import type { CaseResult } from './runner.js';
import { needsNoAuth, runEmbedded } from './selftest.js';

const registry = buildRegistry();
const all = registry.all();

function line(r: CaseResult): string {
  return `${r.outcome.padEnd(7)} ${r.id}: ${r.message ?? ''}${r.actual ? ` | actual: ${r.actual}` : ''}`;
}

/**
 * Where the correct reference peers knowingly differ from a SHOULD of the spec: these cases must
 * WARN against them (if one starts passing, remove it here). Reported to the peers / engine owners.
 */
export const REFERENCE_DEVIATIONS: Record<string, string> = {
  'router.forward.unknown-variant-with-body': 'FWD-5: the codec refuses unknown variants with a body, like the Rust reference',
  'worker.forward.unknown-variant-with-body': 'FWD-5: the codec refuses unknown variants with a body, like the Rust reference',
};

/** Cases that legitimately cannot run against the embedded peers. */
const EMBEDDED_SKIPS: Record<string, string> = {
  'worker.security.token-not-on-command-line': 'needs a spawned worker',
  'worker.handshake.refuses-welcome-unoffered-flags': 'the reference worker offers both flags',
};

describe('self-test against the correct reference peers', () => {
  for (const role of ['router', 'worker'] as const) {
    it(`every ${role} case passes`, async () => {
      const mine = all.filter((c) => c.role === role);
      // Cases that need a target without a token run against a second, token-less embedded peer.
      const [s, noAuth] = await Promise.all([
        runEmbedded(role, mine.filter((c) => !needsNoAuth(c)), { jobs: 6 }),
        mine.some(needsNoAuth) ? runEmbedded(role, mine.filter(needsNoAuth), { jobs: 2, noAuth: true }) : { results: [], fatal: undefined },
      ]);
      expect(s.fatal).toBeUndefined();
      expect(noAuth.fatal).toBeUndefined();
      const bad = [...s.results, ...noAuth.results].filter(
        (r) =>
          !(
            (r.outcome === 'pass' && REFERENCE_DEVIATIONS[r.id] === undefined) ||
            (r.outcome === 'warn' && REFERENCE_DEVIATIONS[r.id] !== undefined) ||
            (r.outcome === 'skip' && EMBEDDED_SKIPS[r.id] !== undefined)
          ),
      );
      expect(bad.map(line)).toEqual([]);
      expect(s.results.length + noAuth.results.length).toBe(mine.length);
    });
  }
});

describe.concurrent('self-test: each fault makes the cases that name it fail', () => {
  const byFault = new Map<string, string[]>();
  for (const c of all) for (const f of c.faults) byFault.set(f, [...(byFault.get(f) ?? []), c.id]);
  for (const fault of FAULTS) {
    const ids = byFault.get(fault.name);
    if (!ids) continue;
    it(`${fault.name} (${fault.rule})`, async () => {
      const cases = ids.map((id) => registry.get(id)!);
      const passed: CaseResult[] = [];
      for (const noAuth of [false, true]) {
        const group = cases.filter((c) => needsNoAuth(c) === noAuth);
        if (group.length === 0) continue;
        const s = await runEmbedded(fault.role, group, { faults: [fault.name], jobs: 4, noAuth });
        expect(s.fatal ?? '').not.toMatch(/cannot start/);
        // A fault that breaks the handshake may already fail the preflight: then nothing can pass.
        if (s.fatal !== undefined) continue;
        passed.push(...s.results.filter((r) => r.outcome === 'pass' || r.outcome === 'skip'));
      }
      expect(passed.map(line), `cases that did not fail under --fault ${fault.name}`).toEqual([]);
    });
  }
});

describe('fault coverage of the registry', () => {
  it('every fault a case names exists in the catalogue, for the right role', () => {
    const known = new Map(FAULTS.map((f) => [f.name, f.role]));
    const wrong = all.flatMap((c) => c.faults.filter((f) => known.get(f) !== c.role).map((f) => `${c.id}: ${f}`));
    expect(wrong).toEqual([]);
  });

  it('every case has a fault that makes it fail, or is listed in PENDING_FAULTS with the fault it needs', () => {
    const missing = all.filter((c) => c.faults.length === 0 && PENDING_FAULTS[c.id] === undefined).map((c) => c.id);
    expect(missing).toEqual([]);
    const stale = Object.keys(PENDING_FAULTS).filter((id) => registry.get(id)?.faults.length !== 0);
    expect(stale, 'PENDING_FAULTS entries whose case now has a fault (or no longer exists)').toEqual([]);
    const pending = Object.entries(PENDING_FAULTS);
    if (pending.length > 0) console.warn(`[self-test] ${pending.length} case(s) still lack a reference-peer fault that makes them fail (see conformance/pending-faults.ts)`);
  });

  it('every fault in the catalogue is used by at least one case', () => {
    const used = new Set(all.flatMap((c) => c.faults));
    expect(FAULTS.filter((f) => !used.has(f.name)).map((f) => f.name)).toEqual([]);
  });
});
