/**
 * Checks of what the target itself sends, beyond "it decodes": the encoder rules (the canonical
 * CBOR form [CBOR-1], the canonical layout [CBOR-2..5]), the Reject texts of the reject table
 * [HS-16], the worker's own compression offer [NEG-5] [NEG-6] and the sender's choices for
 * chunk sizes [CHK-9], compression [CMP-5] and the zstd frame header [CMP-9].
 *
 * Each returns a violation text ending in `[RULE]`, or null. Texts never quote what the target
 * sent (it may carry a token [SEC-2]): only offsets, lengths, codes and our own values.
 *
 * @module
 */
import { REJECT_MESSAGES } from '../../src/engine/negotiation.js';
import { COMPRESSION_THRESHOLD_BYTES } from '../../src/limits.js';
import type { CompressionAlgo, HandshakeReject, RpcPayload, WireFrame, WorkerHello } from '../../src/wire/model.js';
import { encodeRpcPayload, encodeWireFrame } from '../../src/wire/index.js';
import { frameLayout } from '../../src/wire/packet.js';
import { PROTOCOL_FIELD_NAMES } from '../../src/wire/preflight.js';

// ---------------------------------------------------------------------------------------------
// Canonical encoding [CBOR-1] [CBOR-2..5]
// ---------------------------------------------------------------------------------------------

/** A CBOR value as {@link readEncoderForm} builds it: maps keep their (text) keys in order. */
export type PlainCbor = bigint | string | boolean | null | undefined | number | Uint8Array | PlainCbor[] | Map<string, PlainCbor>;

export interface EncoderForm {
  /** The value (only when the item is in the encoder's form: problem null). */
  value: PlainCbor;
  /** [CBOR-1] the first construct a canonical encoder never emits, with its byte offset. */
  problem: string | null;
  /** A map key that is not a field name of the protocol (a later version's field, or junk). */
  unknownKeys: boolean;
}

const UTF8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Walk one (already well-formed: it decoded) CBOR item and report the first construct CBOR-1
 * forbids an encoder: an indefinite length, a head longer than its argument needs, a negative
 * integer, a tag, a float, `undefined` or another simple value, a map key that is not a text string.
 * Schema-free, so it judges unknown variants and unknown keys as well.
 */
export function readEncoderForm(bytes: Uint8Array): EncoderForm {
  let pos = 0;
  let problem: string | null = null;
  let unknownKeys = false;
  const bad = (what: string, at: number): never => {
    problem = `${what} at byte ${at}`;
    throw new NotCanonical();
  };
  const need = (n: number, at: number): void => {
    if (pos + n > bytes.length) bad('an item cut short', at);
  };
  const head = (): { major: number; arg: number; at: number } => {
    const at = pos;
    need(1, at);
    const ib = bytes[pos++]!;
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai < 24) return { major, arg: ai, at };
    if (ai === 31) return bad('an indefinite length', at);
    if (ai > 27) return bad(`reserved additional information ${ai}`, at);
    if (major === 7) return { major, arg: ai, at }; // simple / float: judged by the caller
    const width = 1 << (ai - 24);
    need(width, at);
    let arg = 0;
    for (let i = 0; i < width; i++) arg = arg * 256 + bytes[pos++]!;
    const min = [24, 0x100, 0x1_0000, 0x1_0000_0000][ai - 24]!;
    if (arg < min) bad('an integer or length not in its shortest form', at);
    return { major, arg, at };
  };
  const item = (depth: number): PlainCbor => {
    const { major, arg, at } = head();
    switch (major) {
      case 0: {
        // the value of a 64-bit argument above 2^53 is not exact as a number: re-read it as a bigint
        if (arg <= Number.MAX_SAFE_INTEGER) return BigInt(arg);
        let v = 0n;
        for (let i = pos - 8; i < pos; i++) v = (v << 8n) | BigInt(bytes[i]!);
        return v;
      }
      case 1:
        return bad('a negative integer', at);
      case 2:
      case 3: {
        need(arg, at);
        const s = bytes.subarray(pos, pos + arg);
        pos += arg;
        return major === 2 ? s : UTF8.decode(s);
      }
      case 4: {
        const out: PlainCbor[] = [];
        for (let i = 0; i < arg; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const out = new Map<string, PlainCbor>();
        for (let i = 0; i < arg; i++) {
          const keyAt = pos;
          const key = item(depth + 1);
          if (typeof key !== 'string') bad('a map key that is not a text string', keyAt);
          if (!PROTOCOL_FIELD_NAMES.has(key as string)) unknownKeys = true;
          out.set(key as string, item(depth + 1));
        }
        return out;
      }
      case 6:
        return bad('a tag', at);
      default:
        if (arg === 20) return false;
        if (arg === 21) return true;
        if (arg === 22) return null;
        if (arg === 23) return bad('undefined', at);
        if (arg >= 25) return bad('a float', at);
        return bad('a simple value', at);
    }
  };
  try {
    const value = item(0);
    if (pos !== bytes.length) bad('bytes after the item', pos);
    return { value, problem: null, unknownKeys };
  } catch (e) {
    if (!(e instanceof NotCanonical)) throw e;
    return { value: undefined, problem, unknownKeys };
  }
}

class NotCanonical extends Error {}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** Whether a decoded model value holds the name `unknown` anywhere (an unknown variant or plain name: it does not re-encode as sent). */
function mentionsUnknown(v: unknown): boolean {
  if (v === 'unknown') return true;
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return false;
  if (Array.isArray(v)) return v.some(mentionsUnknown);
  return Object.values(v as Record<string, unknown>).some(mentionsUnknown);
}

/**
 * [CBOR-1] the form of the bytes, then [CBOR-2] [CBOR-3] (frames) / [CBOR-4] [CBOR-5] (payloads)
 * the layout: our canonical (serde_cbor-identical) encoding of what decoded must give the same
 * bytes. The layout comparison runs only where the re-encoding is defined to be the same bytes:
 * not for unknown variants or unknown names (they decode to `unknown`), nor for maps with keys
 * outside the protocol (a later version's fields are dropped by the decoder).
 */
function encodingViolation(what: string, bytes: Uint8Array, decoded: WireFrame | RpcPayload, reencode: () => Uint8Array, layoutRule: string): string | null {
  const form = readEncoderForm(bytes);
  if (form.problem) return `target sent ${what} not in the canonical CBOR form (${form.problem}) [CBOR-1]`;
  if (form.unknownKeys || mentionsUnknown(decoded)) return null;
  if (!sameBytes(reencode(), bytes)) return `target sent ${what} that is not the canonical encoding of its value (field order, null fields, variant layout) [${layoutRule}]`;
  return null;
}

/** A frame body the target sent, as decoded. */
export function frameEncodingViolation(body: Uint8Array, frame: WireFrame): string | null {
  return encodingViolation(`a ${frame.type} frame`, body, frame, () => encodeWireFrame(frame), 'CBOR-3');
}

/** A (reassembled, decompressed) payload the target sent, as decoded. */
export function payloadEncodingViolation(bytes: Uint8Array, payload: RpcPayload): string | null {
  return encodingViolation(`a ${payload.type} payload`, bytes, payload, () => encodeRpcPayload(payload), 'CBOR-4');
}

// ---------------------------------------------------------------------------------------------
// Reject texts [HS-16]
// ---------------------------------------------------------------------------------------------

/**
 * [HS-16] a Reject's message is the reject table's text for the failed check. The fuzzer does not
 * always know which check failed (a held shard, an allowlist), so any table text for the Reject's
 * code, filled in with this Hello's values, passes; `internal` (implementation-defined) and codes
 * we do not know pass with any text.
 */
export function rejectTextViolation(reject: HandshakeReject, hello: WorkerHello): string | null {
  const texts = rejectTexts(reject.code, hello);
  if (texts === null || texts.includes(reject.message)) return null;
  return `Reject ${reject.code} carries a message (${Buffer.byteLength(reject.message)} bytes) that is not the reject table's text for it (expected one of: ${texts.map((t) => JSON.stringify(t)).join(', ')}) [HS-16]`;
}

function rejectTexts(code: HandshakeReject['code'], hello: WorkerHello): string[] | null {
  const c = hello.capabilities;
  switch (code) {
    case 'invalid_request':
      return [REJECT_MESSAGES.limits(c.max_frame_len, c.max_packet_len), REJECT_MESSAGES.compression(), REJECT_MESSAGES.unknownShard(hello.shard_id), REJECT_MESSAGES.shardBusy(hello.shard_id)];
    case 'unauthorized':
      return [REJECT_MESSAGES.auth(), REJECT_MESSAGES.shardNotAllowed()];
    case 'unsupported_version':
      return [REJECT_MESSAGES.version()];
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The worker's own offer [NEG-5] [NEG-6]
// ---------------------------------------------------------------------------------------------

/**
 * The compression names of a Hello's offer as sent (the decoder maps every name it does not know
 * to `unknown`, so a later algorithm could not be told from a literal "unknown" after decoding).
 */
export function offeredCompressionNames(helloBody: Uint8Array): string[] | null {
  const { value } = readEncoderForm(helloBody);
  const list = get(get(get(value, 'body'), 'capabilities'), 'supported_compression');
  return Array.isArray(list) && list.every((x) => typeof x === 'string') ? (list as string[]) : null;
}

function get(v: PlainCbor | undefined, key: string): PlainCbor | undefined {
  return v instanceof Map ? v.get(key) : undefined;
}

/**
 * [NEG-5] a sanitized offer: no `unknown`, and `none` present (appended when sanitizing removed
 * it or it was absent); [NEG-6] each algorithm at most once. Names we do not know are another
 * build's algorithms: allowed.
 */
export function offerViolation(names: readonly string[]): string | null {
  if (names.includes('unknown')) return `the worker's compression offer lists "unknown" (a sanitized offer removes it) [NEG-5]`;
  if (!names.includes('none')) return `the worker's compression offer lacks "none" (a sanitized offer appends it) [NEG-5]`;
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  // only names we know are quoted: the rest is the target's text
  if (dup !== undefined) return `the worker's compression offer lists an algorithm twice${dup === 'none' || dup === 'zstd' ? ` (${dup})` : ''} [NEG-6]`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Sender choices: compression [CMP-5] [CMP-9], chunk sizes [CHK-9]
// ---------------------------------------------------------------------------------------------

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/**
 * [CMP-5] zstd only for payloads of at least 1024 bytes, and only when the compressed form is
 * strictly shorter. `dataBytes`: the compressed data (all chunks), `payloadBytes`: decompressed.
 */
export function compressionChoiceViolation(payloadBytes: number, dataBytes: number): string | null {
  if (payloadBytes < COMPRESSION_THRESHOLD_BYTES) return `target zstd-compressed a ${payloadBytes}-byte payload (below ${COMPRESSION_THRESHOLD_BYTES} bytes) [CMP-5]`;
  if (dataBytes >= payloadBytes) return `target sent zstd data of ${dataBytes} bytes for a ${payloadBytes}-byte payload (not shorter) [CMP-5]`;
  return null;
}

/**
 * [CMP-9] one zstd frame that declares its content size (the whole payload) and uses no
 * dictionary: the frame header (RFC 8878 3.1.1.1) of the data's first bytes.
 */
export function zstdHeaderViolation(data: Uint8Array, payloadBytes: number): string | null {
  if (data.length < 6 || ZSTD_MAGIC.some((b, i) => data[i] !== b)) return 'target zstd data does not start with a zstd frame [CMP-9]';
  const fhd = data[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd & 0x20) !== 0;
  const dictBytes = [0, 1, 2, 4][fhd & 0x03]!;
  if (dictBytes) return 'target zstd frame header names a dictionary [CMP-9]';
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (!fcsBytes) return 'target zstd frame header does not declare the content size [CMP-9]';
  let at = 5 + (singleSegment ? 0 : 1);
  if (data.length < at + fcsBytes) return 'target zstd frame header is cut short [CMP-9]';
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + data[at + i]!; // little-endian
  if (fcsBytes === 2) size += 256;
  at += fcsBytes;
  if (size !== payloadBytes) return `target zstd frame declares ${size} content bytes for a ${payloadBytes}-byte payload (not one frame of the whole payload) [CMP-9]`;
  return null;
}

/**
 * [CHK-9] the chunk data sizes of one chunked packet, against the codec's own sender split
 * (max(max_frame_len − 256, 1), shrunk by 128 while an encoded chunk is too long). Only judged
 * when the reference would chunk this data too (whether to chunk at all is another rule).
 */
export function chunkSizeViolation(id: bigint, compression: CompressionAlgo, sizes: readonly number[], maxFrameLen: number): string | null {
  const total = sizes.reduce((a, b) => a + b, 0);
  let want: number[];
  try {
    want = frameLayout(id, compression, total, maxFrameLen, true).map((f) => f.dataBytes);
  } catch {
    return null; // the limit cannot carry a chunk: other checks judge the frames
  }
  if (want.length < 2 || (want.length === sizes.length && want.every((n, i) => n === sizes[i]))) return null;
  const show = (l: readonly number[]): string => (l.length > 6 ? `${l.slice(0, 5).join(',')},… (${l.length} chunks)` : l.join(','));
  return `target chunk data sizes ${show(sizes)} for ${total} bytes under max_frame_len ${maxFrameLen}; the reference split is ${show(want)} [CHK-9]`;
}
