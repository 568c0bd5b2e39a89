/**
 * A tiny CBOR writer for hand-built test inputs, independent of the codec under test.
 *
 * It writes exactly what it is told — including what a canonical encoder never writes
 * (non-minimal heads, indefinite lengths, tags, duplicate keys, reserved additional info) — so
 * tolerance and rejection vectors can be spelled out item by item.
 *
 * @module
 */

export type Bytes = Uint8Array;

export function cat(...parts: readonly Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function raw(hex: string): Bytes {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error(`bad hex literal: ${hex}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Width of the argument after the initial byte: 0 = inside the initial byte (< 24). */
export type HeadWidth = 0 | 1 | 2 | 4 | 8;

function minimalWidth(n: bigint): HeadWidth {
  if (n < 24n) return 0;
  if (n < 0x100n) return 1;
  if (n < 0x10000n) return 2;
  if (n < 0x1_0000_0000n) return 4;
  return 8;
}

/** A head: major type and argument, shortest form unless `width` forces a longer one. */
export function head(major: number, arg: number | bigint, width?: HeadWidth): Bytes {
  const n = BigInt(arg);
  if (n < 0n || n >= 1n << 64n) throw new Error('head argument out of range');
  const w = width ?? minimalWidth(n);
  if (w === 0) {
    if (n >= 24n) throw new Error('argument does not fit in the initial byte');
    return new Uint8Array([(major << 5) | Number(n)]);
  }
  const ai = { 1: 24, 2: 25, 4: 26, 8: 27 }[w];
  const out = new Uint8Array(1 + w);
  out[0] = (major << 5) | ai;
  let v = n;
  for (let i = w; i >= 1; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new Error('argument does not fit the forced width');
  return out;
}

export const uint = (n: number | bigint, width?: HeadWidth): Bytes => head(0, n, width);
/** Major type 1: the value −1 − n. */
export const negMinus1 = (n: number | bigint, width?: HeadWidth): Bytes => head(1, n, width);
export const bytes = (b: Bytes | readonly number[]): Bytes => cat(head(2, b.length), Uint8Array.from(b));
export function text(s: string): Bytes {
  const utf8 = new TextEncoder().encode(s);
  return cat(head(3, utf8.length), utf8);
}
/** A text string with arbitrary (possibly invalid UTF-8) content bytes. */
export const textRaw = (content: Bytes): Bytes => cat(head(3, content.length), content);
export const array = (items: readonly Bytes[]): Bytes => cat(head(4, items.length), ...items);
export const arrayIndef = (items: readonly Bytes[]): Bytes => cat(new Uint8Array([0x9f]), ...items, BREAK);
export const bytesIndef = (chunks: readonly Bytes[]): Bytes => cat(new Uint8Array([0x5f]), ...chunks.map(bytes), BREAK);
export const textIndef = (chunks: readonly string[]): Bytes => cat(new Uint8Array([0x7f]), ...chunks.map(text), BREAK);
export const tag = (n: number | bigint, item: Bytes): Bytes => cat(head(6, n), item);
export const BREAK = new Uint8Array([0xff]);
export const NULL = new Uint8Array([0xf6]);
export const UNDEFINED = new Uint8Array([0xf7]);
export const TRUE = new Uint8Array([0xf5]);
export const FALSE = new Uint8Array([0xf4]);
export const bool = (b: boolean): Bytes => (b ? TRUE : FALSE);
export function float64(x: number): Bytes {
  const out = new Uint8Array(9);
  out[0] = 0xfb;
  new DataView(out.buffer).setFloat64(1, x);
  return out;
}

/** A map entry: a text key given as a string, or any raw key item. */
export type Entry = readonly [string | Bytes, Bytes];
const key = (k: string | Bytes): Bytes => (typeof k === 'string' ? text(k) : k);

/** A definite-length map with the entries exactly as given (order, duplicates and all). */
export const map = (entries: readonly Entry[]): Bytes => cat(head(5, entries.length), ...entries.flatMap(([k, v]) => [key(k), v]));
export const mapIndef = (entries: readonly Entry[]): Bytes =>
  cat(new Uint8Array([0xbf]), ...entries.flatMap(([k, v]) => [key(k), v]), BREAK);
/** Map with a forced (possibly wrong) declared pair count. */
export const mapDeclaring = (count: number, entries: readonly Entry[]): Bytes =>
  cat(head(5, count), ...entries.flatMap(([k, v]) => [key(k), v]));

export const toHex = (b: Bytes): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
