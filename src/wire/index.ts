/**
 * The nova remote RPC v3 wire codec: CBOR messages byte-identical to the Rust reference, framing,
 * packets, chunking and zstd, all safe on hostile input.
 *
 * @module
 */
export * from './model.js';
export { ErrorCodes, ProtocolError, isProtocolError, protocolError } from '../errors.js';
export type { ErrorCode, ErrorDetailValue, ProtocolErrorOptions } from '../errors.js';
export * from '../limits.js';
export { encodeWireFrame, decodeWireFrame, encodeRpcPayload, decodeRpcPayload, KNOWN_REFERENCE_DIFFERENCES, type DecodeOptions } from './codec.js';
export { encodeFrame, FrameDecoder } from './frame.js';
export { encodePacketFrames, type PacketOptions } from './packet.js';
export { Reassembler, type ReassemblerOptions } from './reassembler.js';
export { zstdAvailable, zstdCompress, zstdDecompressBounded, setZstdBackend, zstdBackendName, type ZstdBackend } from './compression.js';
export { toJsonView, wireFrameFromJson, rpcPayloadFromJson, bytesToHex, hexToBytes, type JsonValue } from './json-view.js';
