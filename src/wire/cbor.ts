/**
 * Bytes <-> generic CBOR values. The only module that touches cbor-x.
 *
 * Decoding always runs the non-allocating {@link preflight} first. Inputs that use only plain
 * features (definite strings, no tags, no floats, no repeated field names) go to a per-instance
 * cbor-x Decoder; anything else goes to a small careful decoder below that strips tags, joins
 * indefinite strings, marks floats and records repeated keys, so cbor-x never sees a tag (it would
 * build RegExp/Set/Date/records from them) and the schema layer can mirror serde exactly.
 *
 * Maps decode as `Map<string, CborValue>`, never as plain objects: a peer key such as
 * `__proto__` or `constructor` is then just an entry, with no prototype to pollute.
 *
 * Byte strings decode as views into the input (no copy): see {@link decodeCbor}.
 *
 * @module
 */
import { Decoder, Encoder } from 'cbor-x';
import { ErrorCodes, ProtocolError, isProtocolError } from '../errors.js';
import type { DecodeLimits } from '../limits.js';
import { preflight, SLOW_PATH_FLAGS } from './preflight.js';

/** A float seen in the input. The protocol has no float fields, so any use of one is refused. */
export class CborFloat {
  constructor(readonly value: number) {}
}

/**
 * A text string that arrived as an indefinite-length string. serde's borrowed-`&str` fields refuse
 * these while owned `String` fields accept them, so the schema layer needs to know.
 */
export class IndefiniteText {
  constructor(readonly value: string) {}
}

/**
 * A null preceded by a tag. serde_cbor decides Option fields by peeking for the byte 0xf6, so a
 * tagged null there is "Some(unit)" (an error) while everywhere else the tag is simply skipped.
 */
export const TAGGED_NULL: unique symbol = Symbol('tagged null');

export type CborMap = Map<string, CborValue>;
export type CborValue =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | CborValue[]
  | CborMap
  | CborFloat
  | IndefiniteText
  | typeof TAGGED_NULL;

/**
 * A decoded map in which some keys occurred more than once (first value kept). Only the careful
 * decoder produces these; the preflight sends any input with a repeated protocol field name there.
 */
export class RepeatedKeyMap extends Map<string, CborValue> {
  constructor(
    entries: Map<string, CborValue>,
    readonly repeated: ReadonlySet<string>,
  ) {
    super(entries);
  }
}

/** Keys that occurred more than once in `map` (empty for plain maps). */
export function repeatedKeys(map: CborMap): ReadonlySet<string> | undefined {
  return map instanceof RepeatedKeyMap ? map.repeated : undefined;
}

// serde_cbor-identical output (see docs in shared/design/dependencies.md): no records, no tags on
// byte strings, shortest map headers. `useTag259ForMaps` is missing from the typings.
const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  tagUint8Array: false,
  useTag259ForMaps: false,
} as ConstructorParameters<typeof Encoder>[0]);

const LARGE_ENCODER_BUFFER_BYTES = 1024 * 1024;
const INITIAL_ENCODER_BUFFER_BYTES = 8192;

// Per-instance options only; never the process-wide setSizeLimits / addExtension.
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false, copyBuffers: false } as ConstructorParameters<typeof Decoder>[0]);

/**
 * Encode a value built by the schema layer (plain objects in declaration order, numbers < 2^32,
 * bigints ≥ 2^32, Uint8Array, strings, booleans, null). Returns a fresh, non-shared region.
 */
export function encodeCbor(value: unknown): Uint8Array {
  try {
    const out = encoder.encode(value) as Uint8Array;
    // cbor-x returns a view into a shared buffer that it sizes up to 4x the largest item seen:
    // hand out an exact copy, and drop a large encoder buffer so it is not pinned forever.
    const copy = new Uint8Array(out);
    if (out.buffer.byteLength > LARGE_ENCODER_BUFFER_BYTES) (encoder as unknown as { useBuffer(b: Uint8Array): void }).useBuffer(Buffer.allocUnsafeSlow(INITIAL_ENCODER_BUFFER_BYTES));
    return copy;
  } catch (cause) {
    throw new ProtocolError(ErrorCodes.ENCODE_INVALID_VALUE, 'value cannot be encoded as CBOR', { cause });
  }
}

/**
 * {@link encodeCbor} without the copy: a view of the encoder's shared buffer, valid only until the
 * next call of any encode function of this module (copy it out at once). Same bytes, same errors.
 * A large result is handed out as a fresh copy instead, so a big encoder buffer is never kept
 * ({@link isSharedEncoding} tells the two apart, so a caller copies only a shared view).
 */
export function encodeCborShared(value: unknown): Uint8Array {
  try {
    const out = encoder.encode(value) as Uint8Array;
    if (out.buffer.byteLength <= LARGE_ENCODER_BUFFER_BYTES) {
      lastSharedBuffer = out.buffer;
      return out;
    }
    const copy = new Uint8Array(out);
    (encoder as unknown as { useBuffer(b: Uint8Array): void }).useBuffer(Buffer.allocUnsafeSlow(INITIAL_ENCODER_BUFFER_BYTES));
    return copy;
  } catch (cause) {
    throw new ProtocolError(ErrorCodes.ENCODE_INVALID_VALUE, 'value cannot be encoded as CBOR', { cause });
  }
}

let lastSharedBuffer: ArrayBufferLike | undefined;

/** Whether `bytes` is a view of the encoder's shared buffer (from {@link encodeCborShared}): copy it before the next encode. */
export function isSharedEncoding(bytes: Uint8Array): boolean {
  return bytes.buffer === lastSharedBuffer;
}

/**
 * Preflight then decode one CBOR item.
 *
 * Aliasing: byte strings in the result are `subarray` views of `bytes` (no copy, so a 4 MiB
 * `data` costs nothing). The caller must own `bytes` and not overwrite it while the result is in
 * use; copy `data` (`slice()`) before handing it to code that outlives the buffer.
 */
export function decodeCbor(bytes: Uint8Array, limits: DecodeLimits): CborValue {
  const flags = preflight(bytes, limits);
  if ((flags & SLOW_PATH_FLAGS) !== 0) return new CarefulDecoder(bytes).decode();
  try {
    return decoder.decode(bytes) as CborValue;
  } catch (cause) {
    if (isProtocolError(cause)) throw cause;
    // The preflight accepted it, so this is a bug or a cbor-x limit, not a peer-visible condition.
    throw new ProtocolError(ErrorCodes.CBOR_MALFORMED, 'CBOR item could not be decoded', { cause });
  }
}

/**
 * Decode with the fast-path cbor-x decoder alone: no preflight, no careful path, cbor-x's own
 * errors unwrapped. For tests only (the fuzzer checks that whatever the preflight routes to the
 * fast path, this decoder accepts); protocol code must call {@link decodeCbor}.
 */
export function decodeFastPathUnchecked(bytes: Uint8Array): unknown {
  return decoder.decode(bytes) as unknown;
}

/**
 * FAULT INJECTION ONLY: a general-purpose cbor-x decoder with no preflight (first item wins,
 * trailing bytes ignored, last duplicate key wins). The reference peers' `*-lax-decoder` faults use
 * it to play a receiver that skips the pre-decode checks; it is unsafe on hostile input by design
 * and protocol code must never call it. Returns undefined when cbor-x cannot decode the bytes.
 */
export function decodeLenientUnchecked(bytes: Uint8Array): unknown {
  try {
    let first: unknown;
    let got = false;
    lenientDecoder.decodeMultiple(bytes, (v: unknown) => {
      first = v;
      got = true;
      return false;
    });
    return got ? first : undefined;
  } catch {
    return undefined;
  }
}

/** FAULT INJECTION ONLY: encode a plain JS value with cbor-x's general settings; undefined on failure. */
export function encodeLenientUnchecked(value: unknown): Uint8Array | undefined {
  try {
    return new Uint8Array(lenientEncoder.encode(value) as Uint8Array);
  } catch {
    return undefined;
  }
}

const lenientDecoder = new Decoder({ useRecords: false, mapsAsObjects: true } as ConstructorParameters<typeof Decoder>[0]);
const lenientEncoder = new Encoder({ useRecords: false, mapsAsObjects: true } as ConstructorParameters<typeof Encoder>[0]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decoder for inputs the preflight already proved well formed and bounded. Only called for the
 * uncommon features, so it favours clarity over speed.
 */
class CarefulDecoder {
  private pos = 0;
  private readonly view: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  decode(): CborValue {
    return this.item();
  }

  private arg(ai: number): number | bigint {
    if (ai < 24) return ai;
    const p = this.pos;
    switch (ai) {
      case 24:
        this.pos += 1;
        return this.buf[p]!;
      case 25:
        this.pos += 2;
        return this.view.getUint16(p);
      case 26:
        this.pos += 4;
        return this.view.getUint32(p);
      default:
        this.pos += 8;
        return this.view.getBigUint64(p);
    }
  }

  private len(ai: number): number {
    return Number(this.arg(ai));
  }

  private chunks(major: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    while (this.buf[this.pos] !== 0xff) {
      const ai = this.buf[this.pos++]! & 0x1f;
      const n = this.len(ai);
      parts.push(this.buf.subarray(this.pos, this.pos + n));
      this.pos += n;
      total += n;
    }
    this.pos++;
    void major;
    const out = new Uint8Array(total);
    let o = 0;
    for (const part of parts) {
      out.set(part, o);
      o += part.length;
    }
    return out;
  }

  private item(): CborValue {
    const head = this.buf[this.pos++]!;
    const major = head >> 5;
    const ai = head & 0x1f;
    switch (major) {
      case 0: {
        const v = this.arg(ai);
        return v;
      }
      case 1: {
        const v = this.arg(ai);
        return typeof v === 'bigint' ? -1n - v : -1 - v;
      }
      case 2: {
        if (ai === 31) return this.chunks(2);
        const n = this.len(ai);
        const v = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        return v;
      }
      case 3: {
        if (ai === 31) {
          const joined = this.chunks(3);
          try {
            return new IndefiniteText(utf8.decode(joined));
          } catch {
            // serde_cbor checks UTF-8 on the joined chunks
            throw new ProtocolError(ErrorCodes.CBOR_INVALID_UTF8, 'text string is not valid UTF-8', { rule: 'CBOR-1' });
          }
        }
        const n = this.len(ai);
        const v = utf8.decode(this.buf.subarray(this.pos, this.pos + n));
        this.pos += n;
        return v;
      }
      case 4: {
        const out: CborValue[] = [];
        if (ai === 31) {
          while (this.buf[this.pos] !== 0xff) out.push(this.item());
          this.pos++;
        } else {
          const n = this.len(ai);
          for (let i = 0; i < n; i++) out.push(this.item());
        }
        return out;
      }
      case 5: {
        const map: CborMap = new Map();
        let repeated: Set<string> | undefined;
        const entry = (): void => {
          const k = this.item() as string; // the preflight guarantees definite text keys
          const v = this.item();
          if (map.has(k)) (repeated ??= new Set()).add(k);
          else map.set(k, v);
        };
        if (ai === 31) {
          while (this.buf[this.pos] !== 0xff) entry();
          this.pos++;
        } else {
          const n = this.len(ai);
          for (let i = 0; i < n; i++) entry();
        }
        return repeated ? new RepeatedKeyMap(map, repeated) : map;
      }
      case 6: {
        // [CBOR-10] tags are ignored, as serde_cbor does
        this.arg(ai);
        const inner = this.item();
        return inner === null ? TAGGED_NULL : inner;
      }
      default: {
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 23) return undefined;
        const p = this.pos;
        if (ai === 25) {
          this.pos += 2;
          return new CborFloat(halfToNumber(this.view.getUint16(p)));
        }
        if (ai === 26) {
          this.pos += 4;
          return new CborFloat(this.view.getFloat32(p));
        }
        this.pos += 8;
        return new CborFloat(this.view.getFloat64(p));
      }
    }
  }
}

function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
