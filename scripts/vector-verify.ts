/**
 * Runs one golden vector (as read from a vectors/*.json file) against a codec and lists every
 * disagreement. An empty list means the codec passes the vector. Used by scripts/vectors.test.ts;
 * usable for any codec that implements the {@link Codec} surface.
 *
 * @module
 */
import { isProtocolError } from '../src/errors.js';
import type { DecodeLimits } from '../src/limits.js';
import { bytesToHex, hexToBytes, rpcPayloadFromJson, toJsonView, wireFrameFromJson } from '../src/wire/json-view.js';
import type { CompressionAlgo, RpcPayload, WireFrame } from '../src/wire/model.js';
import { errorCodeOf, jsonEqual, runFrameStream, runReceive, type Codec, type VectorKind } from './vectors-lib.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- vectors are untyped JSON */
export type VectorJson = Record<string, any>;

export interface VerifyCodec extends Codec {
  zstdDecompressBounded(data: Uint8Array, maxOutputBytes: number): Uint8Array;
}

const HARD_CAP_BYTES = 64 * 1024 * 1024;

/** Run `fn`; its value, or the failure as text (so one bad vector reports instead of throwing). */
function attempt<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: string } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: isProtocolError(e) ? e.code : e instanceof Error ? e.message : String(e) };
  }
}

type Packetish = Extract<WireFrame, { type: 'packet' | 'packet_chunk' }>;

/**
 * Every way `codec` disagrees with vector `v` of `kind`. `zstd: false` skips the parts that need
 * decompression or exact compressed bytes (reported as nothing, not as a pass of those parts).
 */
export function verifyVector(kind: VectorKind, v: VectorJson, codec: VerifyCodec, zstd = codec.zstdAvailable()): string[] {
  switch (kind) {
    case 'wire_frame':
    case 'rpc_payload':
      return verifyMessage(kind, v, codec, zstd);
    case 'frame_stream':
      return verifyFrameStream(v, codec);
    case 'packet_send':
      return verifyPacketSend(v, codec, zstd);
    case 'packet_receive':
      return verifyPacketReceive(v, codec, zstd);
  }
}

function verifyMessage(kind: 'wire_frame' | 'rpc_payload', v: VectorJson, codec: VerifyCodec, zstd: boolean): string[] {
  const problems: string[] = [];
  const decode = (bytes: Uint8Array, limits?: Partial<DecodeLimits>): WireFrame | RpcPayload =>
    kind === 'wire_frame' ? codec.decodeWireFrame(bytes, limits) : codec.decodeRpcPayload(bytes, limits);
  const encodeJson = (json: unknown): Uint8Array =>
    kind === 'wire_frame' ? codec.encodeWireFrame(wireFrameFromJson(json)) : codec.encodeRpcPayload(rpcPayloadFromJson(json));
  const hex = v['hex'] as string;

  if (v['result'] === 'invalid') {
    const limits = v['decode_limits']
      ? { maxMessageBytes: v['decode_limits'].max_message_bytes ?? HARD_CAP_BYTES, maxPacketBytes: v['decode_limits'].max_packet_bytes ?? HARD_CAP_BYTES }
      : undefined;
    const got = attempt(() => decode(hexToBytes(hex), limits));
    if (got.ok) problems.push(`decodes, expected ${v['error']}`);
    else if (got.error !== v['error']) problems.push(`fails with ${got.error}, expected ${v['error']}`);
    return problems;
  }

  const decoded = attempt(() => toJsonView(decode(hexToBytes(hex))));
  if (!decoded.ok) problems.push(`decode fails with ${decoded.error}`);
  else if (!jsonEqual(decoded.value, v['json'])) problems.push('decode(hex) differs from json');
  const encoded = attempt(() => bytesToHex(encodeJson(v['json'])));
  const want = v['result'] === 'valid' ? hex : (v['canonical_hex'] as string);
  if (!encoded.ok) problems.push(`encode(json) fails with ${encoded.error}`);
  else if (encoded.value !== want) problems.push(`encode(json) differs from ${v['result'] === 'valid' ? 'hex' : 'canonical_hex'}`);

  if (v['result'] === 'acceptable' && v['canonical_hex'] === hex) problems.push('acceptable vector is already canonical');
  if (v['result'] === 'valid' && kind === 'wire_frame') {
    const len = hex.length / 2;
    const prefix = [len & 0xff, (len >>> 8) & 0xff, (len >>> 16) & 0xff, len >>> 24].map((x) => x.toString(16).padStart(2, '0')).join('');
    if (v['framed_hex'] !== prefix + hex) problems.push('framed_hex is not le32(len) ‖ hex');
    const framed = attempt(() => bytesToHex(codec.encodeFrame(hexToBytes(hex))));
    if (!framed.ok || framed.value !== v['framed_hex']) problems.push('encodeFrame(hex) differs from framed_hex');
  }
  if (v['inner']) {
    const data = hexToBytes(v['json'].body.data);
    if (v['inner'].compression === 'zstd') {
      if (zstd) {
        const out = attempt(() => bytesToHex(codec.zstdDecompressBounded(data, HARD_CAP_BYTES)));
        if (!out.ok || out.value !== v['inner'].hex) problems.push('data does not decompress to inner.hex');
      }
    } else if (bytesToHex(data) !== v['inner'].hex) problems.push('data differs from inner.hex');
    const inner = attempt(() => toJsonView(codec.decodeRpcPayload(hexToBytes(v['inner'].hex))));
    if (!inner.ok || !jsonEqual(inner.value, v['inner'].json)) problems.push('inner.hex does not decode to inner.json');
  }
  return problems;
}

function verifyFrameStream(v: VectorJson, codec: Codec): string[] {
  const problems: string[] = [];
  const stream = hexToBytes(v['stream_hex']);
  if (v['pieces'] && (v['pieces'] as number[]).reduce((a, c) => a + c, 0) !== stream.length) problems.push('pieces do not sum to the stream length');
  const run = runFrameStream(codec, v['max_frame_bytes'], stream, v['pieces']);
  if (!jsonEqual(run.frames.map(bytesToHex), v['frames'])) problems.push('frames differ');
  if (run.error !== (v['error'] ?? null)) problems.push(`error ${run.error ?? 'none'}, expected ${v['error'] ?? 'none'}`);
  else if (run.errorOn !== (v['error_on'] ?? null)) problems.push(`error on ${run.errorOn ?? '-'}, expected ${v['error_on']}`);
  return problems;
}

function sendOptions(v: VectorJson) {
  const o = v['options'];
  return {
    maxFrameBytes: o.max_frame_bytes as number,
    maxPacketBytes: o.max_packet_bytes as number,
    compression: o.compression as CompressionAlgo[],
    chunking: o.chunking as boolean,
    ...(o.compression_threshold_bytes !== undefined ? { compressionThresholdBytes: o.compression_threshold_bytes as number } : {}),
  };
}

function verifyPacketSend(v: VectorJson, codec: Codec, zstd: boolean): string[] {
  const problems: string[] = [];
  const opts = sendOptions(v);
  const id = BigInt(v['id_u64']);
  const payload = hexToBytes(v['payload_hex']);
  const encodedPayload = attempt(() => bytesToHex(codec.encodeRpcPayload(rpcPayloadFromJson(v['payload_json']))));
  if (!encodedPayload.ok || encodedPayload.value !== v['payload_hex']) problems.push('payload_json does not encode to payload_hex');
  if (v['result'] === 'invalid') {
    const code = errorCodeOf(() => codec.encodePacketFrames(id, payload, opts));
    if (code !== v['error']) problems.push(`sender gives ${code ?? 'no error'}, expected ${v['error']}`);
    return problems;
  }
  const frames = v['frames'] as VectorJson[];
  for (const [i, f] of frames.entries()) {
    if (f['hex'].length / 2 > opts.maxFrameBytes) problems.push(`frame ${i} is larger than max_frame_bytes`);
    const d = attempt(() => toJsonView(codec.decodeWireFrame(hexToBytes(f['hex']))));
    if (!d.ok || !jsonEqual(d.value, f['json'])) problems.push(`frame ${i} hex does not decode to its json`);
  }
  if ((v['flags'] as string[]).includes('Compressed') && !zstd) return problems;
  const sent = attempt(() => codec.encodePacketFrames(id, payload, opts).map(bytesToHex));
  if (!sent.ok) problems.push(`sender fails with ${sent.error}`);
  else if (!jsonEqual(sent.value, frames.map((f) => f['hex']))) problems.push('sender frames differ');
  // Independent of the sender: the frames reassemble to the payload.
  const back = runReceive(codec, { maxPacketBytes: opts.maxPacketBytes, compression: opts.compression, chunking: opts.chunking }, frames.map((f) => codec.decodeWireFrame(hexToBytes(f['hex'])) as Packetish));
  if (back.error !== null || back.packets.length !== 1 || back.packets[0]!.id !== id || bytesToHex(back.packets[0]!.payload) !== v['payload_hex']) {
    problems.push('frames do not reassemble to payload_hex');
  }
  return problems;
}

function verifyPacketReceive(v: VectorJson, codec: VerifyCodec, zstd: boolean): string[] {
  const problems: string[] = [];
  const frames: Packetish[] = [];
  for (const [i, f] of (v['frames'] as VectorJson[]).entries()) {
    const d = attempt(() => codec.decodeWireFrame(hexToBytes(f['hex'])));
    if (!d.ok || !jsonEqual(toJsonView(d.value), f['json'])) problems.push(`frame ${i} hex does not decode to its json`);
    if (d.ok) frames.push(d.value as Packetish);
  }
  for (const [i, p] of (v['packets'] as VectorJson[]).entries()) {
    const d = attempt(() => toJsonView(codec.decodeRpcPayload(hexToBytes(p['hex']))));
    if (p['json'] === null ? d.ok : !d.ok || !jsonEqual(d.value, p['json'])) problems.push(`packet ${i} json does not match its hex`);
  }
  const o = v['options'];
  if (!zstd && (o.compression as string[]).includes('zstd')) return problems;
  const run = runReceive(codec, {
    maxPacketBytes: o.max_packet_bytes,
    compression: o.compression,
    chunking: o.chunking,
    ...(o.max_concurrent_streams !== undefined ? { maxConcurrentStreams: o.max_concurrent_streams } : {}),
    ...(o.max_total_bytes !== undefined ? { maxTotalBytes: o.max_total_bytes } : {}),
  }, frames);
  const got = run.packets.map((p) => ({ id_u64: p.id.toString(), hex: bytesToHex(p.payload) }));
  const want = (v['packets'] as VectorJson[]).map((p) => ({ id_u64: p['id_u64'], hex: p['hex'] }));
  if (!jsonEqual(got, want)) problems.push('completed packets differ');
  if (run.error !== (v['error'] ?? null)) problems.push(`error ${run.error ?? 'none'}, expected ${v['error'] ?? 'none'}`);
  else if (run.errorAtFrame !== (v['error_at_frame'] ?? null)) problems.push(`error at frame ${run.errorAtFrame ?? '-'}, expected ${v['error_at_frame']}`);
  return problems;
}
