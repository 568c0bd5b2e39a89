import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isProtocolError } from '../errors.js';
import { IncomingIdTracker, RequestIdAllocator } from './ids.js';
import { ConnectionStateMachine, LEGAL_TRANSITIONS, CONNECTION_STATES } from './state.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
console.log(`[ids.test] fast-check seed=${SEED} (rerun with FC_SEED=${SEED})`);
const U64_MAX = (1n << 64n) - 1n;

function codeOf(f: () => void): string | null {
  try {
    f();
    return null;
  } catch (e) {
    if (isProtocolError(e)) return `${e.code}/${e.rule ?? ''}`;
    throw e;
  }
}

describe('RequestIdAllocator [ID-1] [ID-2]', () => {
  it('router even from 2, worker odd from 1, step 2', () => {
    const r = new RequestIdAllocator('router');
    const w = new RequestIdAllocator('worker');
    expect([r.next(), r.next(), r.next()]).toEqual([2n, 4n, 6n]);
    expect([w.next(), w.next(), w.next()]).toEqual([1n, 3n, 5n]);
  });
  it('wraps at 2^64 skipping 0', () => {
    const r = new RequestIdAllocator('router', U64_MAX - 1n);
    expect([r.next(), r.next(), r.next()]).toEqual([U64_MAX - 1n, 2n, 4n]);
    const w = new RequestIdAllocator('worker', U64_MAX - 2n);
    expect([w.next(), w.next(), w.next()]).toEqual([U64_MAX - 2n, U64_MAX, 1n]);
  });
  it('refuses a start of the wrong parity, 0 or beyond u64', () => {
    expect(codeOf(() => new RequestIdAllocator('router', 3n))).toBe('CONFIG_INVALID/');
    expect(codeOf(() => new RequestIdAllocator('router', 0n))).toBe('CONFIG_INVALID/');
    expect(codeOf(() => new RequestIdAllocator('worker', U64_MAX + 2n))).toBe('CONFIG_INVALID/');
  });
  it('property: never 0, right parity, no collision within a window, across the wrap', () => {
    fc.assert(
      fc.property(fc.constantFrom<'router' | 'worker'>('router', 'worker'), fc.bigInt({ min: 0n, max: (U64_MAX - 1n) / 2n }), fc.integer({ min: 1, max: 400 }), (role, k, n) => {
        const start = role === 'router' ? (k === 0n ? 2n : 2n * k) : 2n * k + 1n;
        const a = new RequestIdAllocator(role, start);
        const seen = new Set<bigint>();
        for (let i = 0; i < n; i++) {
          const id = a.next();
          expect(id).not.toBe(0n);
          expect(id % 2n).toBe(role === 'router' ? 0n : 1n);
          expect(id <= U64_MAX).toBe(true);
          expect(seen.has(id)).toBe(false);
          seen.add(id);
        }
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe('IncomingIdTracker', () => {
  it('[ID-2] id 0 refused', () => {
    expect(codeOf(() => new IncomingIdTracker('router').checkPacketId(0n))).toBe('REQUEST_ID_ZERO/ID-2');
    expect(codeOf(() => new IncomingIdTracker('router').checkPacketId(1n))).toBeNull();
  });
  it('[ID-3] router requires odd, worker even', () => {
    expect(codeOf(() => new IncomingIdTracker('router').beginRequest(2n))).toBe('REQUEST_ID_PARITY/ID-3');
    expect(codeOf(() => new IncomingIdTracker('router').beginRequest(3n))).toBeNull();
    expect(codeOf(() => new IncomingIdTracker('worker').beginRequest(3n))).toBe('REQUEST_ID_PARITY/ID-3');
    expect(codeOf(() => new IncomingIdTracker('worker').beginRequest(U64_MAX - 1n))).toBeNull();
  });
  it('[ID-4] duplicate in flight refused, reuse after end allowed', () => {
    const t = new IncomingIdTracker('worker');
    t.beginRequest(2n);
    expect(codeOf(() => t.beginRequest(2n))).toBe('REQUEST_ID_DUPLICATE/ID-4');
    t.endRequest(2n);
    expect(codeOf(() => t.beginRequest(2n))).toBeNull();
    expect(t.size).toBe(1);
  });
  it('fault option skips parity and duplicate checks', () => {
    const t = new IncomingIdTracker('worker', { checkParity: false, checkDuplicate: false });
    t.beginRequest(3n);
    expect(codeOf(() => t.beginRequest(3n))).toBeNull();
  });
});

describe('ConnectionStateMachine', () => {
  it('allows exactly the legal edges', () => {
    for (const from of CONNECTION_STATES) {
      for (const to of CONNECTION_STATES) {
        const m = new ConnectionStateMachine(from);
        const legal = LEGAL_TRANSITIONS[from].includes(to);
        expect(codeOf(() => m.transition([from], to)) === null).toBe(legal);
      }
    }
  });
  it('refuses a transition from a state not listed, and reports changes', () => {
    const changes: string[] = [];
    const m = new ConnectionStateMachine('awaiting_hello', (a, b) => changes.push(`${a}>${b}`));
    expect(codeOf(() => m.transition(['open'], 'closing'))).toBe('CONFIG_INVALID/');
    m.transition(['awaiting_hello'], 'open');
    m.transition(['open'], 'closed');
    expect(codeOf(() => m.transition(['closed'], 'open'))).toBe('CONFIG_INVALID/');
    expect(changes).toEqual(['awaiting_hello>open', 'open>closed']);
  });
});
