/**
 * Non-allocating CBOR preflight: one pass over peer bytes BEFORE any decoder builds values.
 *
 * It mirrors the Rust reference validator (nova-remote-proto validate_cbor.rs): well-formedness,
 * nesting ≤ 64, every declared length checked against the bytes left and against a per-key cap,
 * text map keys ≤ 64 bytes. On top of that it refuses what serde_cbor itself refuses later on any
 * path (unassigned simple values, invalid UTF-8 in any text string) so that the fast decoder never
 * meets them, and it reports features the fast decoder must not see (tags, indefinite-length
 * strings, floats, repeated protocol field names) so the caller can take the careful slow path.
 *
 * The walk keeps its state in module variables and numbers only: no per-call allocation, except a
 * small view object when a long text string is handed to the native UTF-8 check.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { ErrorCodes, ProtocolError, type ErrorCode } from '../errors.js';
import {
  HARD_MAX_MESSAGE_BYTES,
  MAX_ARRAY_ITEMS,
  MAX_CBOR_MAP_KEY_BYTES,
  MAX_CBOR_MAP_PAIRS,
  MAX_CBOR_NESTING_DEPTH,
  MAX_DIAGNOSTICS_PER_MESSAGE,
  MAX_FILES_PER_MESSAGE,
  MAX_LEGACY_SEARCH_ITEMS,
  MAX_SMALL_STRING_BYTES,
  MAX_SUPPORTED_COMPRESSION_ITEMS,
  MAX_TAG_STRING_BYTES,
  MAX_TEXT_BYTES,
  MIN_BYTES_PER_LARGE_ARRAY_ITEM,
  type DecodeLimits,
} from '../limits.js';

/** Result bits of {@link preflight}. */
export const PreflightFlags = {
  /** A CBOR tag head was seen (tags are ignored, but the fast decoder would interpret them). */
  TAGS: 1,
  /** An indefinite-length byte or text string was seen. */
  INDEFINITE_STRING: 2,
  /** A float was seen (never valid in a protocol field, but fine inside ignored unknown keys). */
  FLOAT: 4,
  /** A protocol field name appears twice in one map (the decoder must see both to refuse it). */
  REPEATED_FIELD_NAME: 8,
} as const;

/** Bits that force the careful decoder instead of cbor-x. */
export const SLOW_PATH_FLAGS =
  PreflightFlags.TAGS | PreflightFlags.INDEFINITE_STRING | PreflightFlags.FLOAT | PreflightFlags.REPEATED_FIELD_NAME;

/**
 * Every field name of the protocol, in a fixed order (index = bit in the per-map "seen" mask).
 * Names after FIELD_NAME_COUNT only select limits (legacy keys the reference still caps).
 */
const KEY_NAMES = [
  'type', 'body', 'status', 'value', 'error',
  'shard_id', 'auth_token', 'supported_versions', 'capabilities', 'cached_index_info', 'worker_build',
  'min', 'max', 'major', 'minor',
  'max_frame_len', 'max_packet_len', 'supported_compression', 'supports_cancel', 'supports_chunking',
  'revision', 'index_generation', 'symbol_count',
  'worker_id', 'chosen_version', 'chosen_capabilities',
  'code', 'message',
  'id', 'compression', 'data', 'seq', 'last',
  'files', 'file', 'path', 'text', 'name', 'line', 'column', 'symbols', 'file_count',
  'diagnostics', 'severity', 'retryable', 'details',
  // limit-only keys
  'items', 'query',
] as const;
const FIELD_NAME_COUNT = 46;

/** Every field and tag key name the protocol defines (no limit-only legacy keys). */
export const PROTOCOL_FIELD_NAMES: ReadonlySet<string> = new Set(KEY_NAMES.slice(0, FIELD_NAME_COUNT));

// Limit classes (validate_cbor.rs limits_for_map_value).
const LIM_INHERIT = 0;
const LIM_FILES = 1;
const LIM_ITEMS = 2;
const LIM_DIAGNOSTICS = 3;
const LIM_SYMBOLS = 4;
const LIM_DATA = 5;
const LIM_SUPPORTED_COMPRESSION = 6;
const LIM_SMALL_STRING = 7;
const LIM_TAG_STRING = 8;

function limitClassOf(name: string): number {
  switch (name) {
    case 'files': return LIM_FILES;
    case 'items': return LIM_ITEMS;
    case 'diagnostics': return LIM_DIAGNOSTICS;
    case 'symbols': return LIM_SYMBOLS;
    case 'data': return LIM_DATA;
    case 'supported_compression': return LIM_SUPPORTED_COMPRESSION;
    case 'path': case 'name': case 'auth_token': case 'message': case 'details': case 'worker_build': case 'query':
      return LIM_SMALL_STRING;
    case 'type': case 'compression': return LIM_TAG_STRING;
    default: return LIM_INHERIT;
  }
}

// Open-addressing table: hash of key bytes -> key index + 1. Built once at load.
const TABLE_SIZE = 256;
const KEY_TABLE = new Int32Array(TABLE_SIZE);
const KEY_BYTES: Uint8Array[] = [];
const KEY_LIMIT_CLASS = new Int32Array(KEY_NAMES.length);
const MAX_KNOWN_KEY_BYTES = 21;

function hashBytes(b: Uint8Array, start: number, len: number): number {
  // Length and three sampled bytes: cheap, and the table resolves the few collisions.
  const h = Math.imul(len, 97) + Math.imul(b[start]!, 31) + Math.imul(b[start + len - 1]!, 7) + b[start + (len >> 1)]!;
  return (h ^ (h >>> 8)) & (TABLE_SIZE - 1);
}

{
  const enc = new TextEncoder();
  KEY_NAMES.forEach((name, index) => {
    const bytes = enc.encode(name);
    KEY_BYTES.push(bytes);
    KEY_LIMIT_CLASS[index] = limitClassOf(name);
    let slot = hashBytes(bytes, 0, bytes.length);
    while (KEY_TABLE[slot] !== 0) slot = (slot + 1) & (TABLE_SIZE - 1);
    KEY_TABLE[slot] = index + 1;
  });
}

/** Index of a known key stored at buf[start, start+len), or -1. */
function lookupKey(b: Uint8Array, start: number, len: number): number {
  if (len === 0 || len > MAX_KNOWN_KEY_BYTES) return -1;
  let slot = hashBytes(b, start, len);
  for (;;) {
    const entry = KEY_TABLE[slot]!;
    if (entry === 0) return -1;
    const kb = KEY_BYTES[entry - 1]!;
    if (kb.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (kb[i] !== b[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return entry - 1;
    }
    slot = (slot + 1) & (TABLE_SIZE - 1);
  }
}

// ---- walk state (module-level so the recursive walk allocates nothing) ----
let buf: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
let flags = 0;
let maxBytesCap = HARD_MAX_MESSAGE_BYTES;
let bytesCapCode: ErrorCode = ErrorCodes.CBOR_LIMIT_EXCEEDED;

function fail(code: ErrorCode, message: string, rule: string, details?: Record<string, number>): never {
  // Messages carry our own words and numbers only: never key text or string contents [ERR-3].
  throw new ProtocolError(code, message, { rule, details: { offset: pos, ...(details ?? {}) } });
}

function need(n: number): void {
  if (end - pos < n) fail(ErrorCodes.CBOR_MALFORMED, 'unexpected end of CBOR input', 'CBOR-8', { needBytes: n });
}

/** Argument of a head with additional info `ai` (0..27); lengths ≥ 2^53 lose precision but stay huge. */
function readArg(ai: number): number {
  if (ai < 24) return ai;
  switch (ai) {
    case 24:
      need(1);
      return buf[pos++]!;
    case 25: {
      need(2);
      const v = (buf[pos]! << 8) | buf[pos + 1]!;
      pos += 2;
      return v;
    }
    case 26: {
      need(4);
      const v = ((buf[pos]! << 24) >>> 0) + ((buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!);
      pos += 4;
      return v;
    }
    case 27: {
      need(8);
      const hi = ((buf[pos]! << 24) >>> 0) + ((buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!);
      const lo = ((buf[pos + 4]! << 24) >>> 0) + ((buf[pos + 5]! << 16) | (buf[pos + 6]! << 8) | buf[pos + 7]!);
      pos += 8;
      return hi * 4294967296 + lo;
    }
    case 31:
      return fail(ErrorCodes.CBOR_MALFORMED, 'indefinite length is not valid for this item', 'CBOR-1');
    default:
      return fail(ErrorCodes.CBOR_MALFORMED, `reserved CBOR additional info ${ai}`, 'CBOR-1', { additionalInfo: ai });
  }
}

/** UTF-8 validity of buf[start, start+len) (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF). */
function utf8Ok(start: number, len: number): boolean {
  const stop = start + len;
  // Long strings: node's SIMD validator (ASCII included) is ~10x faster than the JS loop below.
  if (len >= 64) return isUtf8(buf.subarray(start, stop));
  let i = start;
  while (i < stop && buf[i]! < 0x80) i++;
  if (i === stop) return true;
  while (i < stop) {
    const b0 = buf[i]!;
    if (b0 < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (b0 >= 0xc2 && b0 <= 0xdf) { n = 1; min = 0x80; }
    else if (b0 >= 0xe0 && b0 <= 0xef) { n = 2; min = 0x800; }
    else if (b0 >= 0xf0 && b0 <= 0xf4) { n = 3; min = 0x10000; }
    else return false;
    if (i + n >= stop) return false; // truncated sequence
    let cp = b0 & (n === 1 ? 0x1f : n === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= n; k++) {
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

function checkString(major: number, len: number, maxText: number, maxBytes: number): void {
  if (major === 3) {
    if (len > maxText) {
      fail(ErrorCodes.CBOR_LIMIT_EXCEEDED, `text string too large: ${len} bytes (max ${maxText})`, 'CBOR-9', { lengthBytes: len, maxBytes: maxText });
    }
  } else if (len > maxBytes) {
    const hard = len > HARD_MAX_MESSAGE_BYTES;
    fail(hard ? ErrorCodes.CBOR_LIMIT_EXCEEDED : bytesCapCode, `byte string too large: ${len} bytes (max ${maxBytes})`, hard ? 'FRM-7' : 'DATA-4', {
      lengthBytes: len,
      maxBytes,
    });
  }
  if (len > end - pos) {
    fail(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT, `string length ${len} exceeds remaining bytes (${end - pos})`, 'CBOR-8', {
      lengthBytes: len,
      remainingBytes: end - pos,
    });
  }
}

function walkIndefiniteString(major: number, depth: number, maxTotal: number): void {
  flags |= PreflightFlags.INDEFINITE_STRING;
  let total = 0;
  for (;;) {
    need(1);
    const head = buf[pos]!;
    if (head === 0xff) {
      pos++;
      return;
    }
    if (depth > MAX_CBOR_NESTING_DEPTH) fail(ErrorCodes.CBOR_TOO_DEEP, 'CBOR nesting too deep', 'CBOR-7', { maxDepth: MAX_CBOR_NESTING_DEPTH });
    pos++;
    if (head >> 5 !== major) fail(ErrorCodes.CBOR_MALFORMED, 'indefinite string chunk has the wrong major type', 'CBOR-1');
    const ai = head & 0x1f;
    if (ai === 31) fail(ErrorCodes.CBOR_MALFORMED, 'nested indefinite strings are not allowed', 'CBOR-1');
    const len = readArg(ai);
    if (len > maxTotal) {
      const code = major === 2 && len <= HARD_MAX_MESSAGE_BYTES ? bytesCapCode : ErrorCodes.CBOR_LIMIT_EXCEEDED;
      fail(code, `indefinite string chunk too large: ${len} bytes (max ${maxTotal})`, 'CBOR-9', { lengthBytes: len, maxBytes: maxTotal });
    }
    if (len > end - pos) {
      fail(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT, `chunk length ${len} exceeds remaining bytes (${end - pos})`, 'CBOR-8', {
        lengthBytes: len,
        remainingBytes: end - pos,
      });
    }
    total += len;
    if (total > maxTotal) {
      const code = major === 2 && total <= HARD_MAX_MESSAGE_BYTES ? bytesCapCode : ErrorCodes.CBOR_LIMIT_EXCEEDED;
      fail(code, `indefinite string total length exceeds ${maxTotal} bytes`, 'CBOR-9', { lengthBytes: total, maxBytes: maxTotal });
    }
    // UTF-8 of an indefinite text string is checked on the concatenation by the slow decoder.
    pos += len;
  }
}

/**
 * Walk one map key and its value. Returns the known-key index (or -1) so the caller can track
 * repeated protocol field names.
 */
function walkMapEntry(depth: number, maxText: number, maxBytes: number, maxArray: number, minItem: number): number {
  need(1);
  const head = buf[pos++]!;
  // [CBOR-7] map keys are definite text strings of at most 64 bytes
  if (head >> 5 !== 3) fail(ErrorCodes.CBOR_MAP_KEY_NOT_TEXT, 'map key must be a text string', 'CBOR-7');
  const ai = head & 0x1f;
  if (ai === 31) fail(ErrorCodes.CBOR_MAP_KEY_NOT_TEXT, 'indefinite-length map keys are not supported', 'CBOR-7');
  const len = readArg(ai);
  if (len > MAX_CBOR_MAP_KEY_BYTES) {
    fail(ErrorCodes.CBOR_LIMIT_EXCEEDED, `map key too long: ${len} bytes (max ${MAX_CBOR_MAP_KEY_BYTES})`, 'CBOR-7', {
      lengthBytes: len,
      maxBytes: MAX_CBOR_MAP_KEY_BYTES,
    });
  }
  if (len > end - pos) {
    fail(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT, `map key length ${len} exceeds remaining bytes (${end - pos})`, 'CBOR-8');
  }
  const keyIndex = lookupKey(buf, pos, len);
  // known keys are ASCII, so only unknown ones need the UTF-8 check
  if (keyIndex < 0 && !utf8Ok(pos, len)) fail(ErrorCodes.CBOR_INVALID_UTF8, 'map key is not valid UTF-8', 'CBOR-7');
  pos += len;
  // [CBOR-9] per-key caps, inherited by everything nested under the key
  switch (keyIndex < 0 ? LIM_INHERIT : KEY_LIMIT_CLASS[keyIndex]) {
    case LIM_FILES:
      maxArray = MAX_FILES_PER_MESSAGE;
      minItem = MIN_BYTES_PER_LARGE_ARRAY_ITEM;
      break;
    case LIM_ITEMS:
      maxArray = MAX_LEGACY_SEARCH_ITEMS;
      minItem = MIN_BYTES_PER_LARGE_ARRAY_ITEM;
      break;
    case LIM_DIAGNOSTICS:
      maxArray = MAX_DIAGNOSTICS_PER_MESSAGE;
      minItem = MIN_BYTES_PER_LARGE_ARRAY_ITEM;
      break;
    case LIM_SYMBOLS:
      maxArray = MAX_ARRAY_ITEMS;
      minItem = MIN_BYTES_PER_LARGE_ARRAY_ITEM;
      break;
    case LIM_DATA:
      maxBytes = maxBytesCap;
      maxArray = HARD_MAX_MESSAGE_BYTES; // an array of u8 needs ≥ 1 byte per item
      minItem = 1;
      break;
    case LIM_SUPPORTED_COMPRESSION:
      maxArray = MAX_SUPPORTED_COMPRESSION_ITEMS;
      maxText = MAX_SMALL_STRING_BYTES;
      break;
    case LIM_SMALL_STRING:
      maxText = MAX_SMALL_STRING_BYTES;
      break;
    case LIM_TAG_STRING:
      maxText = MAX_TAG_STRING_BYTES;
      break;
    default:
      break;
  }
  walkItem(depth, maxText, maxBytes, maxArray, minItem);
  return keyIndex;
}

function walkItem(depth: number, maxText: number, maxBytes: number, maxArray: number, minItem: number): void {
  // [CBOR-7] nesting ≤ 64 (the root is depth 0)
  if (depth > MAX_CBOR_NESTING_DEPTH) fail(ErrorCodes.CBOR_TOO_DEEP, 'CBOR nesting too deep', 'CBOR-7', { maxDepth: MAX_CBOR_NESTING_DEPTH });
  need(1);
  const head = buf[pos++]!;
  const major = head >> 5;
  const ai = head & 0x1f;
  switch (major) {
    case 0:
    case 1:
      readArg(ai);
      return;
    case 2:
    case 3: {
      if (ai === 31) {
        walkIndefiniteString(major, depth + 1, major === 3 ? maxText : maxBytes);
        return;
      }
      const len = readArg(ai);
      checkString(major, len, maxText, maxBytes);
      if (major === 3 && !utf8Ok(pos, len)) fail(ErrorCodes.CBOR_INVALID_UTF8, 'text string is not valid UTF-8', 'CBOR-1');
      pos += len;
      return;
    }
    case 4: {
      if (ai === 31) {
        let items = 0;
        for (;;) {
          need(1);
          if (buf[pos] === 0xff) {
            pos++;
            return;
          }
          if (items >= maxArray) fail(ErrorCodes.CBOR_LIMIT_EXCEEDED, `array longer than ${maxArray} items`, 'CBOR-9', { maxItems: maxArray });
          walkItem(depth + 1, maxText, maxBytes, maxArray, minItem);
          items++;
        }
      }
      const len = readArg(ai);
      if (len > maxArray) fail(ErrorCodes.CBOR_LIMIT_EXCEEDED, `array too long: ${len} items (max ${maxArray})`, 'CBOR-9', { items: len, maxItems: maxArray });
      // [CBOR-8] a declared count can never exceed what the remaining bytes could hold
      if (len > Math.floor((end - pos) / minItem)) {
        fail(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT, `array length ${len} exceeds remaining bytes (${end - pos}) for min item size ${minItem}`, 'CBOR-8', {
          items: len,
          remainingBytes: end - pos,
          minItemBytes: minItem,
        });
      }
      for (let i = 0; i < len; i++) walkItem(depth + 1, maxText, maxBytes, maxArray, minItem);
      return;
    }
    case 5: {
      let seenLo = 0;
      let seenHi = 0;
      const indefinite = ai === 31;
      let len = 0;
      if (!indefinite) {
        len = readArg(ai);
        if (len > MAX_CBOR_MAP_PAIRS) fail(ErrorCodes.CBOR_LIMIT_EXCEEDED, `map too long: ${len} pairs (max ${MAX_CBOR_MAP_PAIRS})`, 'CBOR-7', { pairs: len, maxPairs: MAX_CBOR_MAP_PAIRS });
        if (len * 2 > end - pos) fail(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT, `map length ${len} exceeds remaining bytes (${end - pos})`, 'CBOR-8', { pairs: len, remainingBytes: end - pos });
      }
      for (let i = 0; indefinite || i < len; i++) {
        if (indefinite) {
          need(1);
          if (buf[pos] === 0xff) {
            pos++;
            return;
          }
          if (i >= MAX_CBOR_MAP_PAIRS) fail(ErrorCodes.CBOR_LIMIT_EXCEEDED, `map longer than ${MAX_CBOR_MAP_PAIRS} pairs`, 'CBOR-7', { maxPairs: MAX_CBOR_MAP_PAIRS });
        }
        const k = walkMapEntry(depth + 1, maxText, maxBytes, maxArray, minItem);
        if (k >= 0 && k < FIELD_NAME_COUNT) {
          if (k < 32) {
            const bit = 1 << k;
            if (seenLo & bit) flags |= PreflightFlags.REPEATED_FIELD_NAME;
            seenLo |= bit;
          } else {
            const bit = 1 << (k - 32);
            if (seenHi & bit) flags |= PreflightFlags.REPEATED_FIELD_NAME;
            seenHi |= bit;
          }
        }
      }
      return;
    }
    case 6:
      // Tags are ignored by the reference; the tagged item counts one level deeper.
      readArg(ai);
      flags |= PreflightFlags.TAGS;
      walkItem(depth + 1, maxText, maxBytes, maxArray, minItem);
      return;
    default:
      // major 7
      if (ai >= 20 && ai <= 23) return; // false, true, null, undefined
      if (ai >= 25 && ai <= 27) {
        const n = ai === 25 ? 2 : ai === 26 ? 4 : 8;
        need(n);
        pos += n;
        flags |= PreflightFlags.FLOAT;
        return;
      }
      if (ai === 31) fail(ErrorCodes.CBOR_MALFORMED, 'unexpected CBOR break', 'CBOR-1');
      // serde_cbor refuses unassigned simple values wherever they appear (even in ignored keys)
      return fail(ErrorCodes.CBOR_MALFORMED, `unassigned CBOR simple value (additional info ${ai})`, 'CBOR-1', { additionalInfo: ai });
  }
}

/**
 * Check one complete CBOR item (a frame body or an RPC payload) without building any value.
 * Throws {@link ProtocolError}; returns {@link PreflightFlags} bits describing what it saw.
 *
 * @param limits maxMessageBytes bounds the whole input [FRM-7]; maxPacketBytes bounds every
 *   byte string (a `data` longer than the negotiated max_packet_len is refused here, PACKET_TOO_LARGE).
 */
export function preflight(bytes: Uint8Array, limits: DecodeLimits): number {
  if (bytes.length > limits.maxMessageBytes) {
    throw new ProtocolError(ErrorCodes.MESSAGE_TOO_LARGE, `CBOR item too large: ${bytes.length} bytes (max ${limits.maxMessageBytes})`, {
      rule: 'FRM-7',
      details: { lengthBytes: bytes.length, maxBytes: limits.maxMessageBytes },
    });
  }
  buf = bytes;
  pos = 0;
  end = bytes.length;
  flags = 0;
  maxBytesCap = Math.min(limits.maxPacketBytes, HARD_MAX_MESSAGE_BYTES);
  bytesCapCode = maxBytesCap < HARD_MAX_MESSAGE_BYTES ? ErrorCodes.PACKET_TOO_LARGE : ErrorCodes.CBOR_LIMIT_EXCEEDED;
  try {
    walkItem(0, MAX_TEXT_BYTES, maxBytesCap, MAX_ARRAY_ITEMS, 1);
    // [CBOR-6] exactly one item
    if (pos !== end) {
      throw new ProtocolError(ErrorCodes.CBOR_TRAILING_BYTES, `trailing ${end - pos} bytes after CBOR item`, {
        rule: 'CBOR-6',
        details: { trailingBytes: end - pos },
      });
    }
    return flags;
  } finally {
    buf = EMPTY; // do not keep peer bytes alive
  }
}
const EMPTY = new Uint8Array(0);
