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
import { headBytes, writeHead } from './cbor-head.js';
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

/**
 * Write `s` (well-formed, `bytes` = its UTF-8 length) at `at`. UTF-8 length equal to the UTF-16
 * length means every unit is ASCII, where latin1 bytes are the UTF-8 bytes: a plain copy, several
 * times faster than the UTF-8 writer.
 */
function writeText(out: Buffer, s: string, at: number, bytes: number): number {
  return out.write(s, at, bytes, bytes === s.length ? 'latin1' : 'utf8');
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

const wellFormed = (v: unknown): v is string =>
  typeof v === 'string' && (v as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * The encoded RpcPayload for a bulk `load_files` / `index_shard` Request (≥ {@link BULK_PAYLOAD_MIN_TEXT_CHARS}
 * text characters in total), byte-identical to `encodeRpcPayload`; undefined for anything else.
 * Never throws for bad input (the generic encoder reports it).
 */
export function encodeBulkRequestPayload(payload: RpcPayload, opts: { minTextChars?: number } = {}): Uint8Array | undefined {
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

  const n = files.length;
  const pathBytes = new Array<number>(n);
  const textBytes = new Array<number>(n);
  const name = NAME[type];
  let size =
    PAYLOAD_HEAD.length +
    name.length +
    REVISION_KEY.length +
    (typeof revision === 'bigint' ? 9 : headBytes(revision)) +
    FILES_KEY.length +
    headBytes(n);
  for (let i = 0; i < n; i++) {
    const f = files[i] as { path: string; text: string };
    // Rust strings are UTF-8: a lone surrogate is the generic encoder's error to report
    if (!wellFormed(f.path) || !wellFormed(f.text)) return undefined;
    const p = Buffer.byteLength(f.path, 'utf8');
    const t = Buffer.byteLength(f.text, 'utf8');
    pathBytes[i] = p;
    textBytes[i] = t;
    size += FILE_HEAD.length + headBytes(p) + p + TEXT_KEY.length + headBytes(t) + t;
  }

  // Every byte is written below, so no zero-fill; an own ArrayBuffer (not Buffer's shared pool).
  const backing = Buffer.allocUnsafeSlow(size);
  const out = new Uint8Array(backing.buffer, backing.byteOffset, size);
  out.set(PAYLOAD_HEAD, 0);
  let at = PAYLOAD_HEAD.length;
  out.set(name, at);
  at += name.length;
  out.set(REVISION_KEY, at);
  at = writeHead(out, at + REVISION_KEY.length, 0, revision);
  out.set(FILES_KEY, at);
  at = writeHead(out, at + FILES_KEY.length, 4, n);
  for (let i = 0; i < n; i++) {
    const f = files[i] as { path: string; text: string };
    out.set(FILE_HEAD, at);
    at = writeHead(out, at + FILE_HEAD.length, 3, pathBytes[i]!);
    at += writeText(backing, f.path, at, pathBytes[i]!);
    out.set(TEXT_KEY, at);
    at = writeHead(out, at + TEXT_KEY.length, 3, textBytes[i]!);
    at += writeText(backing, f.text, at, textBytes[i]!);
  }
  if (at !== size) throw new Error(`bulk payload writer: wrote ${at} of ${size} bytes`); // a bug, never peer-visible
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/** Below this many bytes the generic decoder is as fast; keep one path for small payloads. */
export const BULK_PAYLOAD_MIN_BYTES = 64 * 1024;

/** BOM kept (ignoreBOM), as the generic decoder keeps it; fatal, so invalid UTF-8 is seen. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function matchAt(b: Uint8Array, at: number, pattern: Uint8Array): boolean {
  if (at + pattern.length > b.length) return false;
  for (let i = 0; i < pattern.length; i++) if (b[at + i] !== pattern[i]) return false;
  return true;
}

/** Definite head of `major` at `at`: [value, next] (value a bigint only above 2^53), or undefined. */
function headAt(b: Uint8Array, at: number, major: number): [number | bigint, number] | undefined {
  const h = b[at];
  if (h === undefined || h >> 5 !== major) return undefined;
  const ai = h & 0x1f;
  if (ai < 24) return [ai, at + 1];
  const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
  if (n === 0 || at + 1 + n > b.length) return undefined;
  if (n < 8) {
    let v = 0;
    for (let i = 1; i <= n; i++) v = v * 256 + b[at + i]!;
    return [v, at + 1 + n];
  }
  let big = 0n;
  for (let i = 1; i <= 8; i++) big = (big << 8n) | BigInt(b[at + i]!);
  return [big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big, at + 9];
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
  const n = bytes.length;
  if (n < BULK_PAYLOAD_MIN_BYTES || n > Math.min(limits.maxMessageBytes ?? HARD_MAX_MESSAGE_BYTES, HARD_MAX_MESSAGE_BYTES)) return undefined;
  if (!matchAt(bytes, 0, PAYLOAD_HEAD)) return undefined;
  let at = PAYLOAD_HEAD.length;
  let type: 'load_files' | 'index_shard';
  if (matchAt(bytes, at, NAME.load_files)) type = 'load_files';
  else if (matchAt(bytes, at, NAME.index_shard)) type = 'index_shard';
  else return undefined;
  at += NAME[type].length;
  if (!matchAt(bytes, at, REVISION_KEY)) return undefined;
  const rev = headAt(bytes, at + REVISION_KEY.length, 0);
  if (!rev) return undefined;
  at = rev[1];
  if (!matchAt(bytes, at, FILES_KEY)) return undefined;
  const count = headAt(bytes, at + FILES_KEY.length, 4);
  if (!count || typeof count[0] !== 'number') return undefined;
  const files = count[0];
  at = count[1];
  // the preflight's caps for `files` [CBOR-8][CBOR-9]
  if (files > MAX_FILES_PER_MESSAGE || files > Math.floor((n - at) / MIN_BYTES_PER_LARGE_ARRAY_ITEM)) return undefined;
  const out: FileText[] = new Array<FileText>(files);
  for (let i = 0; i < files; i++) {
    if (!matchAt(bytes, at, FILE_HEAD)) return undefined;
    const path = textAt(bytes, at + FILE_HEAD.length, MAX_SMALL_STRING_BYTES);
    if (!path) return undefined;
    at = path[1];
    if (!matchAt(bytes, at, TEXT_KEY)) return undefined;
    const text = textAt(bytes, at + TEXT_KEY.length, MAX_TEXT_BYTES);
    if (!text) return undefined;
    at = text[1];
    out[i] = { path: path[0], text: text[0] };
  }
  // [CBOR-6] exactly one item
  if (at !== n) return undefined;
  return { type: 'request', body: { type, revision: BigInt(rev[0]), files: out } };
}
