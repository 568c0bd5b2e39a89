/**
 * The project's one hand-written CBOR writer (RFC 8949), independent of the codec under test and
 * of cbor-x (only the trivial {@link toHex} is shared with the JSON view). The harness, the golden-vector definitions, the fuzzer and the tests all use it.
 *
 * It writes exactly what it is told, including what a canonical encoder never writes (non-minimal
 * heads, indefinite lengths, tags, duplicate keys, reserved items, trailing bytes). Three front
 * ends share one item writer ({@link writeCbor}):
 *
 * - {@link CborItem} trees with every encoding choice spelled out (the fuzzer mutates these);
 *   {@link modelToTree} / {@link neutralEncode} give serde_cbor's layout of a model value, an
 *   oracle for the encoder;
 * - {@link CValue} values for crafting frames: plain JS objects encode as maps in property order
 *   (the model objects are built in Rust declaration order, so `cbor(modelValue)` is the canonical
 *   encoding), with {@link CMap}, {@link CTag}, {@link CWideUint}, … for the odd parts;
 * - byte-literal combinators ({@link head}, {@link uint}, {@link map}, {@link tag}, …) that spell a
 *   vector out item by item, each returning bytes.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// Item trees and the writer

/** Width of a head's argument after the initial byte: 0 = inside the initial byte (< 24). */
export type HeadWidth = 0 | 1 | 2 | 4 | 8;

/** One CBOR data item, with the encoding choices a writer can make spelled out. */
export type CborItem =
  /** Unsigned integer; `width` forces a head of 0 (inline), 1, 2, 4 or 8 extra bytes (non-minimal). */
  | { k: 'uint'; v: bigint; width?: HeadWidth }
  /** Negative integer −1−v. */
  | { k: 'nint'; v: bigint; width?: HeadWidth }
  /** Byte string; `chunks` (lengths) makes it indefinite-length, split at those sizes. */
  | { k: 'bytes'; v: Uint8Array; chunks?: number[] }
  | { k: 'text'; v: string; chunks?: number[] }
  | { k: 'array'; items: CborItem[]; indef?: boolean }
  | { k: 'map'; entries: Array<[CborItem, CborItem]>; indef?: boolean }
  | { k: 'tag'; tag: bigint; item: CborItem }
  /** Simple value (20 false, 21 true, 22 null, 23 undefined, others as given). */
  | { k: 'simple'; v: number }
  | { k: 'float'; v: number; width: 4 | 8 }
  /** Bytes spliced in as they are (used for deliberately malformed items). */
  | { k: 'raw'; bytes: Uint8Array };

const UTF8 = new TextEncoder();
const BREAK_BYTE = 0xff;

function minimalWidth(arg: bigint): HeadWidth {
  if (arg < 24n) return 0;
  if (arg < 0x100n) return 1;
  if (arg < 0x1_0000n) return 2;
  if (arg < 0x1_0000_0000n) return 4;
  return 8;
}

class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A head: major type + argument, minimal unless `width` says otherwise. */
  head(major: number, arg: bigint, width?: HeadWidth): void {
    if (arg < 0n || arg >= 1n << 64n) throw new RangeError('head argument out of range');
    const mt = major << 5;
    const w = width ?? minimalWidth(arg);
    if (w === 0) {
      if (arg > 23n) throw new RangeError('inline head argument must be ≤ 23');
      this.byte(mt | Number(arg));
      return;
    }
    const ai = w === 1 ? 24 : w === 2 ? 25 : w === 4 ? 26 : 27;
    if (arg >= 1n << BigInt(w * 8)) throw new RangeError(`head argument does not fit in ${w} bytes`);
    this.byte(mt | ai);
    for (let i = w - 1; i >= 0; i--) this.byte(Number((arg >> BigInt(i * 8)) & 0xffn));
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeItem(w: Writer, item: CborItem): void {
  switch (item.k) {
    case 'uint':
      w.head(0, item.v, item.width);
      return;
    case 'nint':
      w.head(1, item.v, item.width);
      return;
    case 'bytes':
    case 'text': {
      const major = item.k === 'bytes' ? 2 : 3;
      const data = item.k === 'bytes' ? item.v : UTF8.encode(item.v);
      if (!item.chunks) {
        w.head(major, BigInt(data.length));
        w.bytes(data);
        return;
      }
      w.byte((major << 5) | 31);
      let off = 0;
      for (const size of item.chunks) {
        let end = Math.min(data.length, off + size);
        // Text chunks must each be valid UTF-8: never split inside a code point.
        if (major === 3) while (end < data.length && ((data[end] ?? 0) & 0xc0) === 0x80) end++;
        w.head(major, BigInt(end - off));
        w.bytes(data.subarray(off, end));
        off = end;
      }
      if (off < data.length) {
        w.head(major, BigInt(data.length - off));
        w.bytes(data.subarray(off));
      }
      w.byte(BREAK_BYTE);
      return;
    }
    case 'array':
      if (item.indef) w.byte(0x9f);
      else w.head(4, BigInt(item.items.length));
      for (const it of item.items) writeItem(w, it);
      if (item.indef) w.byte(BREAK_BYTE);
      return;
    case 'map':
      if (item.indef) w.byte(0xbf);
      else w.head(5, BigInt(item.entries.length));
      for (const [key, val] of item.entries) {
        writeItem(w, key);
        writeItem(w, val);
      }
      if (item.indef) w.byte(BREAK_BYTE);
      return;
    case 'tag':
      w.head(6, item.tag);
      writeItem(w, item.item);
      return;
    case 'simple':
      if (item.v < 24) w.byte(0xe0 | item.v);
      else {
        w.byte(0xf8);
        w.byte(item.v & 0xff);
      }
      return;
    case 'float': {
      const dv = new DataView(new ArrayBuffer(item.width));
      if (item.width === 4) {
        dv.setFloat32(0, item.v);
        w.byte(0xfa);
      } else {
        dv.setFloat64(0, item.v);
        w.byte(0xfb);
      }
      w.bytes(new Uint8Array(dv.buffer));
      return;
    }
    case 'raw':
      w.bytes(item.bytes);
      return;
  }
}

/** Write one item tree as CBOR bytes. */
export function writeCbor(item: CborItem): Uint8Array {
  const w = new Writer();
  writeItem(w, item);
  return w.result();
}

/**
 * The item tree of a model value exactly as serde_cbor writes it: maps in the object's own
 * property order (the model declares fields in Rust order), minimal integers, definite lengths,
 * `null` → f6, `Uint8Array` → byte string, u32 numbers and u64 bigints → unsigned integers.
 * Properties whose value is `undefined` are left out (absent optional fields).
 */
export function modelToTree(value: unknown): CborItem {
  if (value === null) return { k: 'simple', v: 22 };
  if (typeof value === 'boolean') return { k: 'simple', v: value ? 21 : 20 };
  if (typeof value === 'bigint') return value >= 0n ? { k: 'uint', v: value } : { k: 'nint', v: -1n - value };
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError('model numbers are integers');
    const b = BigInt(value);
    return b >= 0n ? { k: 'uint', v: b } : { k: 'nint', v: -1n - b };
  }
  if (typeof value === 'string') return { k: 'text', v: value };
  if (value instanceof Uint8Array) return { k: 'bytes', v: value };
  if (Array.isArray(value)) return { k: 'array', items: value.map(modelToTree) };
  if (typeof value === 'object') {
    return {
      k: 'map',
      entries: Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([key, v]): [CborItem, CborItem] => [{ k: 'text', v: key }, modelToTree(v)]),
    };
  }
  throw new TypeError(`cannot write ${typeof value}`);
}

/** Neutral serde-style bytes of a model value. */
export function neutralEncode(value: unknown): Uint8Array {
  return writeCbor(modelToTree(value));
}

// ---------------------------------------------------------------------------------------------
// Byte helpers

export type Bytes = Uint8Array;

/** Concatenate byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** {@link concatBytes} with the parts as arguments. */
export const cat = (...parts: readonly Bytes[]): Bytes => concatBytes(parts);

/** Lowercase hex, no separators: the JSON view's own helper (hex is not under test here). */
export { bytesToHex as toHex } from '../src/wire/json-view.js';

/** Bytes from hex of whole bytes (either case; whitespace is ignored, so literals can be grouped). */
export function fromHex(hex: string): Uint8Array {
  const digits = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new TypeError(`invalid hex string: ${hex}`);
  return new Uint8Array(Buffer.from(digits, 'hex'));
}

/** A hex byte literal (same as {@link fromHex}; the vector definitions read better with it). */
export const raw = fromHex;

// ---------------------------------------------------------------------------------------------
// Byte-literal combinators (each returns the bytes of one item, or of a head)

/** A head: major type and argument, shortest form unless `width` forces a longer one. */
export function head(major: number, arg: number | bigint, width?: HeadWidth): Bytes {
  const w = new Writer();
  w.head(major, BigInt(arg), width);
  return w.result();
}

const rawItem = (bytes: Bytes): CborItem => ({ k: 'raw', bytes });
/** Definite-length strings of `major` (2 or 3), one per chunk, between an indefinite head and a break. */
const indefString = (major: 2 | 3, chunks: readonly Bytes[]): Bytes =>
  cat(new Uint8Array([(major << 5) | 31]), ...chunks.map((c) => cat(head(major, c.length), c)), BREAK);

export const uint = (n: number | bigint, width?: HeadWidth): Bytes => head(0, n, width);
/** Major type 1: the value −1 − n. */
export const negMinus1 = (n: number | bigint, width?: HeadWidth): Bytes => head(1, n, width);
export const bytes = (b: Bytes | readonly number[]): Bytes => writeCbor({ k: 'bytes', v: Uint8Array.from(b) });
export const text = (s: string): Bytes => writeCbor({ k: 'text', v: s });
/** A text string with arbitrary (possibly invalid UTF-8) content bytes. */
export const textRaw = (content: Bytes): Bytes => cat(head(3, content.length), content);
export const array = (items: readonly Bytes[]): Bytes => writeCbor({ k: 'array', items: items.map(rawItem) });
export const arrayIndef = (items: readonly Bytes[]): Bytes => writeCbor({ k: 'array', items: items.map(rawItem), indef: true });
export const bytesIndef = (chunks: readonly Bytes[]): Bytes => indefString(2, chunks);
export const textIndef = (chunks: readonly string[]): Bytes => indefString(3, chunks.map((c) => UTF8.encode(c)));
export const tag = (n: number | bigint, item: Bytes): Bytes => writeCbor({ k: 'tag', tag: BigInt(n), item: rawItem(item) });
export const BREAK = new Uint8Array([BREAK_BYTE]);
export const NULL = new Uint8Array([0xf6]);
export const UNDEFINED = new Uint8Array([0xf7]);
export const TRUE = new Uint8Array([0xf5]);
export const FALSE = new Uint8Array([0xf4]);
export const bool = (b: boolean): Bytes => (b ? TRUE : FALSE);
export const float64 = (x: number): Bytes => writeCbor({ k: 'float', v: x, width: 8 });

/** A map entry: a text key given as a string, or any raw key item. */
export type Entry = readonly [string | Bytes, Bytes];
const entryItems = (entries: readonly Entry[]): Array<[CborItem, CborItem]> =>
  entries.map(([k, v]) => [typeof k === 'string' ? { k: 'text', v: k } : rawItem(k), rawItem(v)]);

/** A definite-length map with the entries exactly as given (order, duplicates and all). */
export const map = (entries: readonly Entry[]): Bytes => writeCbor({ k: 'map', entries: entryItems(entries) });
export const mapIndef = (entries: readonly Entry[]): Bytes => writeCbor({ k: 'map', entries: entryItems(entries), indef: true });
/** Map with a forced (possibly wrong) declared pair count. */
export const mapDeclaring = (count: number, entries: readonly Entry[]): Bytes =>
  cat(head(5, count), ...entryItems(entries).map(([k, v]) => cat(writeCbor(k), writeCbor(v))));

// ---------------------------------------------------------------------------------------------
// Crafted values (CValue)

/** A map with explicit entries (allows duplicate keys and non-text keys). */
export class CMap {
  constructor(
    readonly entries: ReadonlyArray<readonly [CValue, CValue]>,
    readonly indefinite = false,
  ) {}
}
/** An array written with an indefinite-length header. */
export class CIndefArray {
  constructor(readonly items: readonly CValue[]) {}
}
/** A byte or text string written as indefinite-length chunks, exactly as given. */
export class CIndefString {
  constructor(
    readonly chunks: readonly (Uint8Array | string)[],
    readonly text: boolean,
  ) {}
}
/** A tagged item. */
export class CTag {
  constructor(
    readonly tag: number,
    readonly value: CValue,
  ) {}
}
/** An unsigned integer written with a fixed (possibly non-minimal) width: 1, 2, 4 or 8 bytes. */
export class CWideUint {
  constructor(
    readonly value: bigint | number,
    readonly widthBytes: 1 | 2 | 4 | 8,
  ) {}
}
/** Bytes inserted verbatim. */
export class CRaw {
  constructor(readonly bytes: Uint8Array) {}
}
/** A negative integer (-1 - n encoding): only used to craft type errors. */
export class CNeg {
  constructor(readonly value: number) {}
}

export type CValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | CMap
  | CIndefArray
  | CIndefString
  | CTag
  | CWideUint
  | CRaw
  | CNeg
  | readonly CValue[]
  | { readonly [key: string]: CValue };

/** The item tree of a crafted value (unlike {@link modelToTree}, `undefined` is written as f7). */
export function cvalueToTree(v: CValue): CborItem {
  if (v === null) return { k: 'simple', v: 22 };
  if (v === undefined) return { k: 'simple', v: 23 };
  if (typeof v === 'boolean') return { k: 'simple', v: v ? 21 : 20 };
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`cbor: unsupported number ${v}`);
    return { k: 'uint', v: BigInt(v) };
  }
  if (typeof v === 'bigint') {
    if (v < 0n) throw new Error('cbor: negative bigint');
    return { k: 'uint', v };
  }
  if (typeof v === 'string') return { k: 'text', v };
  if (v instanceof Uint8Array) return { k: 'bytes', v };
  if (v instanceof CRaw) return rawItem(v.bytes);
  if (v instanceof CNeg) return { k: 'nint', v: BigInt(v.value) };
  if (v instanceof CWideUint) return { k: 'uint', v: BigInt(v.value), width: v.widthBytes };
  if (v instanceof CTag) return { k: 'tag', tag: BigInt(v.tag), item: cvalueToTree(v.value) };
  if (v instanceof CIndefArray) return { k: 'array', items: v.items.map(cvalueToTree), indef: true };
  if (v instanceof CIndefString) {
    const chunks = v.chunks.map((c) => (typeof c === 'string' ? UTF8.encode(c) : c));
    return rawItem(indefString(v.text ? 3 : 2, chunks));
  }
  if (v instanceof CMap) return { k: 'map', entries: v.entries.map(([k, val]) => [cvalueToTree(k), cvalueToTree(val)]), indef: v.indefinite };
  if (Array.isArray(v)) return { k: 'array', items: (v as readonly CValue[]).map(cvalueToTree) };
  return {
    k: 'map',
    entries: Object.entries(v as Record<string, CValue>).map(([k, val]): [CborItem, CborItem] => [{ k: 'text', v: k }, cvalueToTree(val)]),
  };
}

/** Encode a crafted value. */
export function cbor(value: CValue): Uint8Array {
  return writeCbor(cvalueToTree(value));
}

// ---------------------------------------------------------------------------------------------
// Framing helpers for crafted frames

/** u32-LE length prefix (kept local so crafted prefixes may lie about the length). */
export function lengthPrefix(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length >>> 0, true);
  return out;
}

/** Prefix a body with its true length. */
export function framed(body: Uint8Array): Uint8Array {
  return cat(lengthPrefix(body.length), body);
}

/** Size in bytes of the CBOR head for a text/byte string of `len` bytes. */
export function stringHeadBytes(len: number): number {
  return len < 24 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : len < 0x100000000 ? 5 : 9;
}

/**
 * Build a body of exactly `targetBytes` by adding an unknown text key `pad` (ignored per [FWD-1])
 * to the map produced by `build(pad)`. `build` must place `pad` inside a map; the function
 * searches for the padding length that hits the target exactly.
 */
export function padTo(targetBytes: number, build: (pad: string) => Uint8Array): Uint8Array {
  let padLen = Math.max(0, targetBytes - build('').length);
  for (let attempt = 0; attempt < 8; attempt++) {
    const body = build('x'.repeat(padLen));
    if (body.length === targetBytes) return body;
    padLen += targetBytes - body.length;
    if (padLen < 0) break;
  }
  throw new Error(`cannot pad a body to exactly ${targetBytes} bytes`);
}
