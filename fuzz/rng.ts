/**
 * A small seeded PRNG (xoshiro128**) so that every fuzzing decision is reproducible from a seed.
 *
 * @module
 */

/** The random source every generator and mutator in fuzz/ takes. */
export interface Rng {
  /** Uniform u32. */
  u32(): number;
  /** Uniform integer in [0, n) (n ≥ 1). */
  below(n: number): number;
  /** Uniform integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number;
  /** true with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element (the array must not be empty). */
  pick<T>(items: readonly T[]): T;
  /** A uniform u64 as a bigint. */
  u64(): bigint;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
  /** A child generator whose stream does not depend on how much the parent is used later. */
  fork(): Rng;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

class Xoshiro128 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    const sm = splitmix32(seed);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    return result;
  }

  below(n: number): number {
    if (!(n >= 1)) throw new RangeError('below(n) needs n ≥ 1');
    if (n <= 0x1_0000_0000) return Math.floor((this.u32() / 0x1_0000_0000) * n);
    return Math.floor((this.u32() * 0x1_0000_0000 + this.u32()) / 2 ** 64 * n);
  }

  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.below(items.length)] as T;
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v & 0xff;
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }

  fork(): Rng {
    return new Xoshiro128(this.u32() ^ 0x5bd1e995);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A generator for a numeric seed (taken modulo 2^32). */
export function createRng(seed: number): Rng {
  return new Xoshiro128(seed >>> 0);
}

/**
 * Parse a user seed: a decimal or 0x-hex integer (any size, folded to 32 bits), or any other
 * string (hashed). The same text always gives the same generator.
 */
export function seedFromString(text: string): number {
  const t = text.trim();
  // a signed 32-bit value (fast-check prints seeds like -2041688535) maps to the same bits
  if (/^-\d+$/.test(t) && Number(t) >= -0x8000_0000) return Number(t) >>> 0;
  if (/^(?:0x[0-9a-f]+|\d+)$/i.test(t)) {
    let v = BigInt(t);
    let folded = 0n;
    while (v > 0n) {
      folded ^= v & 0xffff_ffffn;
      v >>= 32n;
    }
    return Number(folded);
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A fresh random seed (for runs without --seed / FUZZ_SEED). */
export function randomSeed(): number {
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

/** The seed for test runs: FUZZ_SEED from the environment, else random. */
export function seedFromEnv(): number {
  const env = process.env['FUZZ_SEED'];
  return env !== undefined && env !== '' ? seedFromString(env) : randomSeed();
}
