/**
 * Shrinking a failing network case: delta debugging (ddmin) over the step list, then over the
 * bytes of each remaining step. Every candidate is re-run against the live target; a candidate
 * is kept when it still fails with the same failure kind.
 *
 * @module
 */
import type { FuzzStep } from './model.js';

export interface ShrinkBudget {
  /** Maximum candidate runs. */
  maxRuns: number;
  /** Wall-clock limit, ms. */
  maxMs: number;
}

export const DEFAULT_SHRINK_BUDGET: ShrinkBudget = { maxRuns: 150, maxMs: 60_000 };

/**
 * Classic ddmin (Zeller): find a 1-minimal sub-list for which `fails` holds. `fails` is async
 * (a network run). Elements listed in `keep` (indices) are never removed.
 */
export async function ddmin<T>(items: readonly T[], fails: (candidate: T[]) => Promise<boolean>, budget: { left(): boolean }, keepFirst = false): Promise<T[]> {
  const head = keepFirst ? items.slice(0, 1) : [];
  let current = keepFirst ? items.slice(1) : items.slice();
  let n = 2;
  while (current.length >= 2 && budget.left()) {
    const chunk = Math.ceil(current.length / n);
    let reduced = false;
    // try each complement (drop one chunk)
    for (let i = 0; i < n && budget.left(); i++) {
      const complement = [...current.slice(0, i * chunk), ...current.slice((i + 1) * chunk)];
      if (complement.length === current.length) continue;
      if (await fails([...head, ...complement])) {
        current = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= current.length) break;
      n = Math.min(n * 2, current.length);
    }
  }
  // try removing the last single element too (ddmin stops at length 1)
  if (current.length === 1 && budget.left() && (await fails([...head]))) current = [];
  return [...head, ...current];
}

/** Shrink a failing step list: steps first, then bytes inside each step. */
export async function shrinkSteps(
  steps: readonly FuzzStep[],
  fails: (candidate: FuzzStep[]) => Promise<boolean>,
  budget: ShrinkBudget = DEFAULT_SHRINK_BUDGET,
): Promise<{ steps: FuzzStep[]; runs: number }> {
  let runs = 0;
  const t0 = Date.now();
  const b = { left: () => runs < budget.maxRuns && Date.now() - t0 < budget.maxMs };
  const counted = async (c: FuzzStep[]): Promise<boolean> => {
    runs++;
    return fails(c);
  };
  // Step 0 is the handshake frame: removing it changes everything, keep it.
  let current = await ddmin(steps, counted, b, true);
  // Then bytes: for each step, ddmin over byte ranges (frame steps keep a consistent prefix).
  // The handshake frame is byte-shrunk only when nothing else is left (its failures are handshake ones).
  for (let i = current.length > 1 ? 1 : 0; i < current.length && b.left(); i++) {
    const step = current[i]!;
    const bytes = step.kind === 'frame' ? step.body : step.bytes;
    if (bytes.length < 2) continue;
    // work on blocks so large bodies (oversize frames) shrink in few runs
    const blockSize = Math.max(1, Math.ceil(bytes.length / 64));
    const blocks: Uint8Array[] = [];
    for (let off = 0; off < bytes.length; off += blockSize) blocks.push(bytes.subarray(off, off + blockSize));
    const rebuild = (bs: Uint8Array[]): FuzzStep => {
      const joined = Uint8Array.from(Buffer.concat(bs));
      return step.kind === 'frame' ? { ...step, body: joined } : { ...step, bytes: joined };
    };
    const minimalBlocks = await ddmin(blocks, (cand) => counted([...current.slice(0, i), rebuild(cand), ...current.slice(i + 1)]), b);
    current = [...current.slice(0, i), rebuild(minimalBlocks), ...current.slice(i + 1)];
  }
  return { steps: current, runs };
}
