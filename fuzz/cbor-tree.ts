/**
 * A small, neutral CBOR writer (RFC 8949) that shares no code with the codec or cbor-x.
 *
 * It serves as an independent oracle (a model value written here in its declaration order must
 * give exactly the codec's bytes) and as the substrate of structure-aware mutation: a message is
 * turned into an item tree, the tree is mutated (types swapped, keys duplicated, integers pushed
 * to boundaries, encodings made non-minimal or indefinite), then written out.
 *
 * @module
 */

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

export type HeadWidth = 0 | 1 | 2 | 4 | 8;

const UTF8 = new TextEncoder();

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

function minimalWidth(arg: bigint): HeadWidth {
  if (arg < 24n) return 0;
  if (arg < 0x100n) return 1;
  if (arg < 0x1_0000n) return 2;
  if (arg < 0x1_0000_0000n) return 4;
  return 8;
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
      w.byte(0xff);
      return;
    }
    case 'array':
      if (item.indef) w.byte(0x9f);
      else w.head(4, BigInt(item.items.length));
      for (const it of item.items) writeItem(w, it);
      if (item.indef) w.byte(0xff);
      return;
    case 'map':
      if (item.indef) w.byte(0xbf);
      else w.head(5, BigInt(item.entries.length));
      for (const [key, val] of item.entries) {
        writeItem(w, key);
        writeItem(w, val);
      }
      if (item.indef) w.byte(0xff);
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

/** Convenience: neutral serde-style bytes of a model value. */
export function neutralEncode(value: unknown): Uint8Array {
  return writeCbor(modelToTree(value));
}

/** Hex helpers (lowercase, no separators). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new TypeError('invalid hex string');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
