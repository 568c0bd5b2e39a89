/**
 * Recognise an encoded PacketChunk from the first bytes of its frame body, before its data has
 * arrived, so a receiver can copy the data straight from the socket chunks into the reassembly
 * buffer (see FrameSink in frame.ts and Reassembler.beginChunk).
 *
 * Only the canonical serde_cbor layout is recognised (what our encoder and the Rust reference
 * write): the head is accepted only if {@link encodePacketHead} reproduces it byte for byte.
 * For such a body `decodeWireFrame` takes its canonical fast path and returns exactly these
 * values; for anything else this returns undefined and the caller decodes the whole frame the
 * usual way, which gives the verdict (and the error) as before.
 *
 * @module
 */
import { HARD_MAX_MESSAGE_BYTES, resolveDecodeLimits, type DecodeLimits } from '../limits.js';
import { encodePacketHead } from './codec.js';
import { bytesAt, readHead } from './cbor-head.js';
import { COMPRESSION_ALGOS, type CompressionAlgo } from './model.js';

/** The fields of a PacketChunk frame body, without its data. */
export interface PacketChunkHead {
  id: bigint;
  compression: CompressionAlgo;
  seq: number;
  last: boolean;
  /** Length of `data`: the frame body is `headBytes + dataBytes` long. */
  dataBytes: number;
  /** Bytes of the body before `data`. */
  headBytes: number;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
// {"type": "packet_chunk", "body": {"id": ...
const PREFIX = ascii('\xa2\x64type\x6cpacket_chunk\x64body\xa5\x62id');
const COMPRESSION_KEY = ascii('\x6bcompression');
const NAMES = COMPRESSION_ALGOS.map((a) => ({ algo: a, bytes: ascii(String.fromCharCode(0x60 + a.length) + a) }));


/**
 * The PacketChunk whose frame body is `bodyBytes` long and starts with `first`, or undefined when
 * the head is not (wholly, canonically) in `first`, or `decodeWireFrame(body, limits)` would not
 * return exactly this chunk through its canonical path. Never throws.
 */
export function decodePacketChunkHead(first: Uint8Array, bodyBytes: number, limits?: Partial<DecodeLimits>): PacketChunkHead | undefined {
  let lim: DecodeLimits;
  try {
    lim = resolveDecodeLimits(limits);
  } catch {
    return undefined;
  }
  if (bodyBytes > lim.maxMessageBytes || !bytesAt(first, 0, PREFIX)) return undefined;
  const id = readHead(first, PREFIX.length, 0);
  if (!id) return undefined;
  let at = id[1];
  if (!bytesAt(first, at, COMPRESSION_KEY)) return undefined;
  at += COMPRESSION_KEY.length;
  const name = NAMES.find((x) => bytesAt(first, at, x.bytes));
  if (!name) return undefined;
  at += name.bytes.length + 4; // "seq" key (checked by the re-encoding below)
  const seq = readHead(first, at, 0);
  if (!seq || typeof seq[0] !== 'number' || seq[0] > 0xffffffff) return undefined;
  at = seq[1] + 5; // "last" key
  const flag = first[at];
  if (flag !== 0xf4 && flag !== 0xf5) return undefined;
  at += 1 + 5; // "data" key
  const len = readHead(first, at, 2);
  if (!len || typeof len[0] !== 'number') return undefined;
  const headBytes = len[1];
  const dataBytes = len[0];
  // data is exactly the rest of the body, within the byte-string cap the decoder applies
  if (headBytes + dataBytes !== bodyBytes || dataBytes > Math.min(lim.maxPacketBytes, HARD_MAX_MESSAGE_BYTES)) return undefined;
  const head: PacketChunkHead = {
    id: BigInt(id[0]),
    compression: name.algo,
    seq: seq[0],
    last: flag === 0xf5,
    dataBytes,
    headBytes,
  };
  // Canonical iff the encoder writes these very bytes (keys, shortest heads, field order).
  let expected: Uint8Array;
  try {
    expected = encodePacketHead({ type: 'packet_chunk', id: head.id, compression: head.compression, seq: head.seq, last: head.last, dataBytes });
  } catch {
    return undefined;
  }
  if (expected.length !== headBytes || !bytesAt(first, 0, expected)) return undefined;
  return head;
}
