/**
 * A direct writer for the one payload shape that carries bulk text: a `load_files` or
 * `index_shard` Request. The generic path (schema objects -> cbor-x) grows its buffer several
 * times for multi-MiB strings and then copies the result; this writer sizes the output exactly
 * (UTF-8 lengths are known up front) and writes every string once, in place.
 *
 * The bytes are identical to {@link encodeRpcPayload} (serde_cbor layout: maps in declaration
 * order, shortest heads). Anything unusual (a value the generic encoder would refuse, or a small
 * payload) returns undefined and the caller uses the generic encoder, which gives the verdict.
 *
 * The reader is the mirror image: it accepts only that exact layout, within every limit the
 * preflight applies to it, with valid UTF-8, and returns what `decodeRpcPayload` returns; for
 * anything else (other key order, tags, indefinite lengths, a limit or UTF-8 failure, trailing
 * bytes...) it returns undefined and the generic decoder gives the verdict and the error.
 *
 * @module
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { HARD_MAX_MESSAGE_BYTES, MAX_FILES_PER_MESSAGE, MAX_SMALL_STRING_BYTES, MAX_TEXT_BYTES, MIN_BYTES_PER_LARGE_ARRAY_ITEM } from '../limits.js';
import { bytesAt, headBytes, readHead, writeHead } from './cbor-head.js';
import type { FileText, RpcPayload } from './model.js';

/** Below this many text characters the generic encoder is as fast; keep one path for small payloads. */
export const BULK_PAYLOAD_MIN_TEXT_CHARS = 64 * 1024;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
// {"type": "request", "body": {"type": <name>, "revision": ... : a2 64 type 67 request 64 body a3 64 type
const PAYLOAD_HEAD = ascii('\xa2\x64type\x67request\x64body\xa3\x64type');
const NAME: Record<'load_files' | 'index_shard', Uint8Array> = {
  load_files: ascii('\x6aload_files'),
  index_shard: ascii('\x6bindex_shard'),
};
const REVISION_KEY = ascii('\x68revision');
const FILES_KEY = ascii('\x65files');
// {"path": ..., "text": ...}: a2 64 path ... 64 text ...
const FILE_HEAD = ascii('\xa2\x64path');
const TEXT_KEY = ascii('\x64text');

/** A u64 as the generic encoder normalises it (number below 2^32, bigint above), or undefined if invalid. */
function u64(v: unknown): number | bigint | undefined {
  if (typeof v === 'bigint') {
    if (v < 0n || v > 0xffffffffffffffffn) return undefined;
    return v < 0x100000000n ? Number(v) : v;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v < 0x100000000 ? v : BigInt(v);
  return undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

const wellFormed = (v: unknown): v is string =>
  typeof v === 'string' && (v as unknown as { isWellFormed(): boolean }).isWellFormed();

/** A piece of the payload: fixed CBOR bytes, or a string written as UTF-8 (`bytes` long). */
type Segment = Uint8Array | { text: string; bytes: number };

const utf8Encoder = new TextEncoder();

/**
 * An encoded bulk Request payload described, not built: its exact length, and a writer that
 * produces its bytes in order into buffers of any size. A sender can fill each frame's data
 * straight from the strings (no payload-sized buffer, and the first frame leaves before the last
 * is encoded). The bytes are exactly {@link encodeBulkRequestPayload}'s.
 */
export class BulkPayloadWriter {
  /** Length of the encoded payload. */
  readonly bytes: number;
  /** Bytes not written yet. */
  remaining: number;
  private readonly segments: Segment[];
  private seg = 0;
  /** Bytes of the current segment written (UTF-16 units read, for a text segment). */
  private segBytes = 0;
  private segChars = 0;
  /** The rest of a character split between two buffers. */
  private carry: Uint8Array | undefined;

  /** @internal use {@link planBulkRequestPayload} */
  constructor(segments: Segment[], bytes: number) {
    this.segments = segments;
    this.bytes = bytes;
    this.remaining = bytes;
  }

  /** Write the next `out.length` payload bytes into `out` (at most {@link remaining}). */
  writeNext(out: Uint8Array): void {
    if (out.length > this.remaining) throw new Error('BulkPayloadWriter: more bytes asked than remain'); // a caller bug
    const buf = Buffer.from(out.buffer, out.byteOffset, out.length);
    let at = 0;
    while (at < out.length) {
      const seg = this.segments[this.seg]!;
      if (seg instanceof Uint8Array) {
        const n = Math.min(seg.length - this.segBytes, out.length - at);
        out.set(seg.subarray(this.segBytes, this.segBytes + n), at);
        at += n;
        this.segBytes += n;
      } else if (seg.bytes === seg.text.length) {
        // ASCII (UTF-8 length = UTF-16 length): latin1 bytes are the UTF-8 bytes, a plain copy
        const n = Math.min(seg.bytes - this.segBytes, out.length - at);
        const start = this.segBytes;
        buf.write(start === 0 && n === seg.bytes ? seg.text : seg.text.substring(start, start + n), at, n, 'latin1');
        at += n;
        this.segBytes += n;
      } else {
        at = this.writeUtf8(seg, out, at);
      }
      if (this.segBytes === (seg instanceof Uint8Array ? seg.length : seg.bytes)) {
        this.seg++;
        this.segBytes = 0;
        this.segChars = 0;
      }
    }
    this.remaining -= out.length;
  }

  /** Write UTF-8 of `seg` from where it stopped; a character that does not fit is split, its rest carried. */
  private writeUtf8(seg: { text: string; bytes: number }, out: Uint8Array, at: number): number {
    if (this.carry) {
      const n = Math.min(this.carry.length, out.length - at);
      out.set(this.carry.subarray(0, n), at);
      this.carry = n === this.carry.length ? undefined : this.carry.subarray(n);
      this.segBytes += n;
      return at + n;
    }
    const text = this.segChars === 0 ? seg.text : seg.text.substring(this.segChars);
    const r = utf8Encoder.encodeInto(text, out.subarray(at));
    this.segChars += r.read;
    this.segBytes += r.written;
    at += r.written;
    if (at < out.length && this.segBytes < seg.bytes) {
      // the next character is longer than the room left: split it across this buffer and the next
      const cp = seg.text.codePointAt(this.segChars)!;
      const ch = utf8Encoder.encode(String.fromCodePoint(cp));
      this.segChars += cp > 0xffff ? 2 : 1;
      const n = out.length - at;
      out.set(ch.subarray(0, n), at);
      this.carry = ch.subarray(n);
      this.segBytes += n;
      at += n;
    }
    return at;
  }
}

/**
 * The plan of the encoded RpcPayload for a bulk `load_files` / `index_shard` Request (≥
 * {@link BULK_PAYLOAD_MIN_TEXT_CHARS} text characters in total), or undefined for anything else.
 * Never throws for bad input (the generic encoder reports it).
 */
export function planBulkRequestPayload(payload: RpcPayload, opts: { minTextChars?: number } = {}): BulkPayloadWriter | undefined {
  if (!isPlainObject(payload) || payload.type !== 'request' || !isPlainObject(payload.body)) return undefined;
  const body = payload.body as Record<string, unknown>;
  const type = body.type;
  if (type !== 'load_files' && type !== 'index_shard') return undefined;
  const revision = u64(body.revision);
  const files = body.files;
  if (revision === undefined || !Array.isArray(files)) return undefined;
  let chars = 0;
  for (const f of files as unknown[]) {
    if (!isPlainObject(f) || typeof f.path !== 'string' || typeof f.text !== 'string') return undefined;
    chars += f.path.length + f.text.length;
  }
  if (chars < (opts.minTextChars ?? BULK_PAYLOAD_MIN_TEXT_CHARS)) return undefined;

  const segments: Segment[] = [];
  // Small CBOR heads between the strings: one buffer per run of fixed bytes.
  let fixed: number[] = [];
  const put = (bytes: Uint8Array): void => {
    for (const b of bytes) fixed.push(b);
  };
  const head = (major: number, n: number | bigint): void => {
    const h = new Uint8Array(headBytes(n));
    writeHead(h, 0, major, n);
    put(h);
  };
  const text = (s: string, bytes: number): void => {
    head(3, bytes);
    segments.push(Uint8Array.from(fixed));
    fixed = [];
    if (bytes > 0) segments.push({ text: s, bytes });
  };
  put(PAYLOAD_HEAD);
  put(NAME[type]);
  put(REVISION_KEY);
  head(0, revision);
  put(FILES_KEY);
  head(4, files.length);
  for (const f of files as Array<{ path: string; text: string }>) {
    // Rust strings are UTF-8: a lone surrogate is the generic encoder's error to report
    if (!wellFormed(f.path) || !wellFormed(f.text)) return undefined;
    put(FILE_HEAD);
    text(f.path, Buffer.byteLength(f.path, 'utf8'));
    put(TEXT_KEY);
    text(f.text, Buffer.byteLength(f.text, 'utf8'));
  }
  if (fixed.length > 0) segments.push(Uint8Array.from(fixed));
  let size = 0;
  for (const seg of segments) size += seg instanceof Uint8Array ? seg.length : seg.bytes;
  return new BulkPayloadWriter(segments, size);
}

/**
 * The encoded RpcPayload for a bulk `load_files` / `index_shard` Request (≥ {@link BULK_PAYLOAD_MIN_TEXT_CHARS}
 * text characters in total), byte-identical to `encodeRpcPayload`; undefined for anything else.
 * Never throws for bad input (the generic encoder reports it).
 */
export function encodeBulkRequestPayload(payload: RpcPayload, opts: { minTextChars?: number } = {}): Uint8Array | undefined {
  const plan = planBulkRequestPayload(payload, opts);
  if (plan === undefined) return undefined;
  // Every byte is written, so no zero-fill; an own ArrayBuffer (not Buffer's shared pool).
  const out = new Uint8Array(Buffer.allocUnsafeSlow(plan.bytes).buffer, 0, plan.bytes);
  plan.writeNext(out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/** Below this many bytes the generic decoder is as fast; keep one path for small payloads. */
export const BULK_PAYLOAD_MIN_BYTES = 64 * 1024;

/** BOM kept (ignoreBOM), as the generic decoder keeps it; fatal, so invalid UTF-8 is seen. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Definite head of `major` at `at`: [value, next] (value a bigint only above 2^53), or undefined. */
function headAt(b: Uint8Array, at: number, major: number): [number | bigint, number] | undefined {
  const r = readHead(b, at, major);
  if (r !== undefined && typeof r[0] === 'bigint' && r[0] <= BigInt(Number.MAX_SAFE_INTEGER)) return [Number(r[0]), r[1]];
  return r;
}

/** A definite text string of at most `maxBytes` at `at`: [string, next], or undefined (invalid UTF-8 included). */
function textAt(b: Uint8Array, at: number, maxBytes: number): [string, number] | undefined {
  const head = headAt(b, at, 3);
  if (!head || typeof head[0] !== 'number') return undefined;
  const [len, start] = head;
  if (len > maxBytes || start + len > b.length) return undefined;
  const end = start + len;
  if (len < 64) {
    let i = start;
    while (i < end && b[i]! < 0x80) i++;
    if (i === end) return [String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]), end];
    try {
      return [utf8.decode(b.subarray(start, end)), end];
    } catch {
      return undefined;
    }
  }
  const view = Buffer.from(b.buffer, b.byteOffset + start, len);
  // ASCII bytes are their own latin1 decoding: a straight copy into a one-byte string.
  if (isAscii(view)) return [view.toString('latin1'), end];
  if (!isUtf8(view)) return undefined;
  return [view.toString('utf8'), end];
}

/**
 * Decode a bulk `load_files` / `index_shard` Request payload (≥ {@link BULK_PAYLOAD_MIN_BYTES})
 * laid out exactly as serde_cbor writes it; the result equals `decodeRpcPayload(bytes, limits)`.
 * Returns undefined for anything else, including every input the generic decoder would refuse.
 * Never throws.
 */
export function decodeBulkRequestPayload(bytes: Uint8Array, limits: { maxMessageBytes?: number } = {}): RpcPayload | undefined {
  return new BulkRequestReader().finish(bytes, limits);
}

/** Longest possible head before the first file: every field at its widest. */
const HEADER_MAX_BYTES = PAYLOAD_HEAD.length + NAME.index_shard.length + REVISION_KEY.length + 9 + FILES_KEY.length + 9;

/**
 * {@link decodeBulkRequestPayload} in steps, while the payload is still arriving: {@link feed} it
 * the bytes received so far (each call sees the same bytes extended, never changed) and it builds
 * the strings of every file already complete, so that work overlaps the transfer; {@link finish}
 * with the whole payload returns exactly what decodeBulkRequestPayload returns for it. Allocation
 * follows the bytes received (no array sized by a claimed count). Never throws.
 */
export class BulkRequestReader {
  private failed = false;
  /** The fields before the files, once read. */
  private head: { type: 'load_files' | 'index_shard'; revision: number | bigint; count: number; filesAt: number } | undefined;
  private readonly files: FileText[] = [];
  private at = 0;

  /** Decode what the bytes received so far allow. */
  feed(bytes: Uint8Array): void {
    this.parse(bytes, false);
  }

  /** The decoded payload for the complete `bytes`, or undefined (the generic decoder then judges). */
  finish(bytes: Uint8Array, limits: { maxMessageBytes?: number } = {}): RpcPayload | undefined {
    const n = bytes.length;
    if (n < BULK_PAYLOAD_MIN_BYTES || n > Math.min(limits.maxMessageBytes ?? HARD_MAX_MESSAGE_BYTES, HARD_MAX_MESSAGE_BYTES)) return undefined;
    this.parse(bytes, true);
    const h = this.head;
    if (this.failed || h === undefined) return undefined;
    // the preflight's caps for `files` [CBOR-8][CBOR-9], judged on the whole payload
    if (h.count > Math.floor((n - h.filesAt) / MIN_BYTES_PER_LARGE_ARRAY_ITEM)) return undefined;
    // [CBOR-6] exactly one item
    if (this.files.length !== h.count || this.at !== n) return undefined;
    return { type: 'request', body: { type: h.type, revision: BigInt(h.revision), files: this.files } };
  }

  /** `final`: `bytes` is the whole payload, so a field running past its end is a failure, not a wait. */
  private parse(b: Uint8Array, final: boolean): void {
    if (this.failed) return;
    if (this.head === undefined) {
      if (!final && b.length < HEADER_MAX_BYTES) return;
      if (!this.parseHead(b)) {
        this.failed = true;
        return;
      }
    }
    const count = this.head!.count;
    while (this.files.length < count) {
      const r = this.parseFile(b, final);
      if (r === 'wait') return;
      if (r === 'fail') {
        this.failed = true;
        return;
      }
    }
  }

  private parseHead(b: Uint8Array): boolean {
    if (!bytesAt(b, 0, PAYLOAD_HEAD)) return false;
    let at = PAYLOAD_HEAD.length;
    let type: 'load_files' | 'index_shard';
    if (bytesAt(b, at, NAME.load_files)) type = 'load_files';
    else if (bytesAt(b, at, NAME.index_shard)) type = 'index_shard';
    else return false;
    at += NAME[type].length;
    if (!bytesAt(b, at, REVISION_KEY)) return false;
    const rev = headAt(b, at + REVISION_KEY.length, 0);
    if (!rev) return false;
    at = rev[1];
    if (!bytesAt(b, at, FILES_KEY)) return false;
    const count = headAt(b, at + FILES_KEY.length, 4);
    // [CBOR-8] the count cap needs no payload length; [CBOR-9] is checked in finish
    if (!count || typeof count[0] !== 'number' || count[0] > MAX_FILES_PER_MESSAGE) return false;
    this.head = { type, revision: rev[0], count: count[0], filesAt: count[1] };
    this.at = count[1];
    return true;
  }

  /** One {"path", "text"} map at `this.at`, if all of it has arrived. */
  private parseFile(b: Uint8Array, final: boolean): 'ok' | 'wait' | 'fail' {
    const n = b.length;
    const at = this.at;
    const pathAt = at + FILE_HEAD.length;
    const pathEnd = stringEnd(b, pathAt, MAX_SMALL_STRING_BYTES);
    if (pathEnd === undefined) return final ? 'fail' : 'wait';
    if (pathEnd < 0) return 'fail';
    const textAtOffset = pathEnd + TEXT_KEY.length;
    const textEnd = stringEnd(b, textAtOffset, MAX_TEXT_BYTES);
    if (textEnd === undefined) return final ? 'fail' : 'wait';
    if (textEnd < 0) return 'fail';
    if (textEnd > n) return final ? 'fail' : 'wait';
    // everything is here: decode exactly as the one-shot reader did
    if (!bytesAt(b, at, FILE_HEAD)) return 'fail';
    const path = textAt(b, pathAt, MAX_SMALL_STRING_BYTES);
    if (!path) return 'fail';
    if (!bytesAt(b, path[1], TEXT_KEY)) return 'fail';
    const text = textAt(b, textAtOffset, MAX_TEXT_BYTES);
    if (!text) return 'fail';
    this.files.push({ path: path[0], text: text[0] });
    this.at = text[1];
    return 'ok';
  }
}

/**
 * End offset of the definite text string whose head is at `at` (its bytes may not all be there
 * yet), undefined when the head itself has not fully arrived, -1 when it is not a text head of
 * at most `maxBytes` bytes.
 */
function stringEnd(b: Uint8Array, at: number, maxBytes: number): number | undefined {
  const h = b[at];
  if (h === undefined) return undefined;
  if (h >> 5 !== 3) return -1;
  const ai = h & 0x1f;
  const extra = ai < 24 ? 0 : ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : -1;
  if (extra < 0) return -1;
  if (at + 1 + extra > b.length) return undefined;
  const head = headAt(b, at, 3);
  if (!head || typeof head[0] !== 'number' || head[0] > maxBytes) return -1;
  return head[1] + head[0];
}
