/**
 * CBOR heads for the fast paths. Writing: shortest-form heads straight into a caller-sized buffer
 * (codec packet frames, bulk request payloads size the output exactly, then fill it). Reading:
 * definite heads and literal byte runs at an offset, for the fast decoders that recognise the
 * canonical layout and hand anything else to the generic path.
 *
 * @module
 */

/** Size of a shortest-form CBOR head with argument `n`. */
export function headBytes(n: number | bigint): number {
  if (typeof n === 'number') return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
  const v = n;
  return v < 24n ? 1 : v < 0x100n ? 2 : v < 0x10000n ? 3 : v < 0x100000000n ? 5 : 9;
}

/**
 * Write a shortest-form CBOR head at `out[at]`; returns the offset after it. `out` must have
 * room ({@link headBytes}).
 */
export function writeHead(out: Uint8Array, at: number, major: number, n: number | bigint): number {
  const mt = major << 5;
  if (typeof n === 'number' && n < 0x100000000) {
    // the common case (ids, seqs and lengths below 2^32) without BigInt or DataView allocations
    if (n < 24) {
      out[at] = mt | n;
      return at + 1;
    }
    if (n < 0x100) {
      out[at] = mt | 24;
      out[at + 1] = n;
      return at + 2;
    }
    if (n < 0x10000) {
      out[at] = mt | 25;
      out[at + 1] = n >>> 8;
      out[at + 2] = n & 0xff;
      return at + 3;
    }
    out[at] = mt | 26;
    out[at + 1] = n >>> 24;
    out[at + 2] = (n >>> 16) & 0xff;
    out[at + 3] = (n >>> 8) & 0xff;
    out[at + 4] = n & 0xff;
    return at + 5;
  }
  const v = BigInt(n);
  if (v < 0x100n) {
    out[at] = mt | 24;
    out[at + 1] = Number(v);
    return at + 2;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (v < 0x10000n) {
    out[at] = mt | 25;
    view.setUint16(at + 1, Number(v));
    return at + 3;
  }
  if (v < 0x100000000n) {
    out[at] = mt | 26;
    view.setUint32(at + 1, Number(v));
    return at + 5;
  }
  out[at] = mt | 27;
  view.setBigUint64(at + 1, v);
  return at + 9;
}

/**
 * Argument of a definite head of major type `major` at `at`: [value, next offset], or undefined
 * when the byte there is another major type, indefinite, reserved, or cut off. An 8-byte argument
 * is always a bigint (whatever its size), shorter ones are numbers.
 */
export function readHead(bytes: Uint8Array, at: number, major: number): [number | bigint, number] | undefined {
  const b = bytes[at];
  if (b === undefined || b >> 5 !== major) return undefined;
  const ai = b & 0x1f;
  if (ai < 24) return [ai, at + 1];
  const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
  if (n === 0 || at + 1 + n > bytes.length) return undefined;
  if (n < 8) {
    let v = 0;
    for (let i = 1; i <= n; i++) v = v * 256 + bytes[at + i]!;
    return [v, at + 1 + n];
  }
  let big = 0n;
  for (let i = 1; i <= 8; i++) big = (big << 8n) | BigInt(bytes[at + i]!);
  return [big, at + 9];
}

/** Whether `pattern` stands at `bytes[at]`. */
export function bytesAt(bytes: Uint8Array, at: number, pattern: Uint8Array): boolean {
  if (at + pattern.length > bytes.length) return false;
  for (let i = 0; i < pattern.length; i++) if (bytes[at + i] !== pattern[i]) return false;
  return true;
}
