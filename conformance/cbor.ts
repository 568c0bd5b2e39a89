/**
 * A tiny CBOR writer for crafting frames, including deliberately odd ones.
 *
 * The conformance harness must be able to send anything: canonical messages, but also
 * indefinite lengths, tags, non-minimal integers, duplicate keys, trailing bytes. The codec's
 * encoder only writes canonical serde_cbor bytes, so crafted frames are built here.
 *
 * Plain JS objects encode as maps in property order (the model objects are built in Rust
 * declaration order, so `cbor(modelValue)` is the canonical encoding). Numbers must be
 * non-negative safe integers; bigints encode in shortest form.
 *
 * @module
 */

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
/** A byte or text string written as indefinite-length chunks. */
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

class Writer {
  private buf = new Uint8Array(256);
  private len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
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
  head(major: number, value: bigint | number): void {
    const v = BigInt(value);
    const m = major << 5;
    if (v < 24n) this.byte(m | Number(v));
    else if (v < 0x100n) this.fixed(m, v, 1);
    else if (v < 0x10000n) this.fixed(m, v, 2);
    else if (v < 0x100000000n) this.fixed(m, v, 4);
    else this.fixed(m, v, 8);
  }
  fixed(m: number, v: bigint, width: 1 | 2 | 4 | 8): void {
    this.byte(m | { 1: 24, 2: 25, 4: 26, 8: 27 }[width]);
    for (let i = width - 1; i >= 0; i--) this.byte(Number((v >> BigInt(8 * i)) & 0xffn));
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const utf8 = new TextEncoder();

function write(w: Writer, v: CValue): void {
  if (v === null) return w.byte(0xf6);
  if (v === undefined) return w.byte(0xf7);
  if (v === true) return w.byte(0xf5);
  if (v === false) return w.byte(0xf4);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`cbor: unsupported number ${v}`);
    return w.head(0, v);
  }
  if (typeof v === 'bigint') {
    if (v < 0n) throw new Error('cbor: negative bigint');
    return w.head(0, v);
  }
  if (typeof v === 'string') {
    const b = utf8.encode(v);
    w.head(3, b.length);
    return w.bytes(b);
  }
  if (v instanceof Uint8Array) {
    w.head(2, v.length);
    return w.bytes(v);
  }
  if (v instanceof CRaw) return w.bytes(v.bytes);
  if (v instanceof CNeg) return w.head(1, v.value);
  if (v instanceof CWideUint) return w.fixed(0, BigInt(v.value), v.widthBytes);
  if (v instanceof CTag) {
    w.head(6, v.tag);
    return write(w, v.value);
  }
  if (v instanceof CIndefArray) {
    w.byte(0x9f);
    for (const item of v.items) write(w, item);
    return w.byte(0xff);
  }
  if (v instanceof CIndefString) {
    w.byte(v.text ? 0x7f : 0x5f);
    for (const c of v.chunks) {
      const b = typeof c === 'string' ? utf8.encode(c) : c;
      w.head(v.text ? 3 : 2, b.length);
      w.bytes(b);
    }
    return w.byte(0xff);
  }
  if (v instanceof CMap) {
    if (v.indefinite) w.byte(0xbf);
    else w.head(5, v.entries.length);
    for (const [k, val] of v.entries) {
      write(w, k);
      write(w, val);
    }
    if (v.indefinite) w.byte(0xff);
    return;
  }
  if (Array.isArray(v)) {
    w.head(4, v.length);
    for (const item of v) write(w, item as CValue);
    return;
  }
  const entries = Object.entries(v as Record<string, CValue>);
  w.head(5, entries.length);
  for (const [k, val] of entries) {
    write(w, k);
    write(w, val);
  }
}

/** Encode a crafted value. */
export function cbor(value: CValue): Uint8Array {
  const w = new Writer();
  write(w, value);
  return w.result();
}

/** u32-LE length prefix + body (kept local so crafted prefixes may lie about the length). */
export function lengthPrefix(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length >>> 0, true);
  return out;
}

/** Prefix a body with its true length. */
export function framed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  out.set(lengthPrefix(body.length));
  out.set(body, 4);
  return out;
}

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
