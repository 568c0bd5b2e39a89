/**
 * Shortest-form CBOR heads written straight into a caller-sized buffer: the fast encode paths
 * (codec packet frames, bulk request payloads) size the output exactly, then fill it.
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
