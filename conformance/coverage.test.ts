/**
 * Every MUST and SHOULD requirement of the spec is checked by at least one case, or is listed in
 * the reviewed NOT_TESTABLE list with a reason; every id a case cites exists.
 */
import { describe, expect, it } from 'vitest';
import { buildRegistry } from './cases/index.js';
import { NOT_TESTABLE } from './not-testable.js';
import { allRequirements } from './requirements.js';

const cases = buildRegistry().all();
const reqs = allRequirements();
const cited = new Set(cases.flatMap((c) => c.requirements));

describe('requirement coverage', () => {
  it('the requirement index is loaded', () => {
    expect(reqs.size).toBeGreaterThan(50);
  });

  it('every MUST/SHOULD requirement has a case or a reviewed not-testable reason', () => {
    const missing = [...reqs.values()].filter((r) => (r.strength === 'MUST' || r.strength === 'SHOULD') && !cited.has(r.id) && NOT_TESTABLE[r.id] === undefined);
    expect(missing.map((r) => `${r.id} ${r.strength}: ${r.text}`)).toEqual([]);
  });

  it('no not-testable entry is stale (covered by a case, or unknown)', () => {
    const stale = Object.keys(NOT_TESTABLE).filter((id) => cited.has(id) || !reqs.has(id));
    expect(stale).toEqual([]);
  });

  it('every requirement id a case cites exists in the spec', () => {
    const unknown = cases.flatMap((c) => c.requirements.filter((id) => !reqs.has(id)).map((id) => `${c.id}: ${id}`));
    expect(unknown).toEqual([]);
  });

  it('case strength never exceeds the strength of its primary requirement', () => {
    // A case graded MUST on a SHOULD requirement would fail conforming targets.
    const wrong = cases.filter((c) => c.strength === 'MUST' && reqs.get(c.requirements[0]!)?.strength === 'SHOULD').map((c) => `${c.id} (${c.requirements[0]})`);
    expect(wrong).toEqual([]);
  });
});
