/**
 * zstd behind a small backend seam.
 *
 * Backends, in order of preference:
 * 1. `zstd-napi` (optional dependency, loaded lazily on first use): bounded decompression through
 *    the low-level streaming API (`DCtx.decompressStream`) with an output cap, so a frame that
 *    claims or expands to gigabytes costs at most the cap. Checksums are verified by libzstd.
 * 2. `node:zlib` zstd (Node ≥ 22.15), used when zstd-napi is absent: `maxOutputLength` bounds the
 *    output.
 * With neither, {@link zstdAvailable} is false and every call throws COMPRESSION_UNAVAILABLE.
 *
 * @module
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { ErrorCodes, ProtocolError, isProtocolError } from '../errors.js';
import { ZSTD_LEVEL } from '../limits.js';

/** What a zstd implementation must provide. */
export interface ZstdBackend {
  readonly name: string;
  compress(data: Uint8Array, level: number): Uint8Array;
  /** Decompress all frames of `data`; throw PACKET_TOO_LARGE as soon as output exceeds `maxOutputBytes`. */
  decompressBounded(data: Uint8Array, maxOutputBytes: number): Uint8Array;
}

const INITIAL_OUTPUT_BYTES = 64 * 1024;
const ZSTD_WINDOWLOG_MAX = 27; // libzstd's default limit, the one the Rust decoder uses

function tooLarge(maxOutputBytes: number): ProtocolError {
  // [CMP-4] stop as soon as the output passes the cap
  return new ProtocolError(ErrorCodes.PACKET_TOO_LARGE, `decompressed payload exceeds ${maxOutputBytes} bytes`, {
    rule: 'CMP-4',
    details: { maxBytes: maxOutputBytes },
  });
}

function malformed(cause: unknown): ProtocolError {
  // [CMP-6] libzstd's message names only the failure kind, but keep it out of ours anyway
  return new ProtocolError(ErrorCodes.DECOMPRESSION_FAILED, 'malformed zstd data', { rule: 'CMP-6', cause });
}

interface NapiBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => {
    decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
    decompress(dst: Uint8Array, src: Uint8Array): number;
    setParameter(param: number, value: number): void;
    reset(directive: number): void;
  };
  DParameter: { windowLogMax: number };
  ResetDirective: { sessionOnly: number };
  compressBound(size: number): number;
  getFrameContentSize(frame: Uint8Array): number | null;
}

function napiBackend(b: NapiBinding): ZstdBackend {
  let cctx: InstanceType<NapiBinding['CCtx']> | undefined;
  // One decompression context, reset per call: creating one per packet costs more than decoding.
  let dctxCached: InstanceType<NapiBinding['DCtx']> | undefined;
  const dctxFor = (): InstanceType<NapiBinding['DCtx']> => {
    if (!dctxCached) {
      dctxCached = new b.DCtx();
      try {
        dctxCached.setParameter(b.DParameter.windowLogMax, ZSTD_WINDOWLOG_MAX);
      } catch {
        /* older libzstd: keep its default */
      }
    }
    // a previous call may have stopped mid-frame (cap reached, error)
    dctxCached.reset(b.ResetDirective.sessionOnly);
    return dctxCached;
  };
  return {
    name: 'zstd-napi',
    compress(data, level) {
      cctx ??= new b.CCtx();
      const out = new Uint8Array(b.compressBound(data.length));
      const n = cctx.compress(out, data, level);
      return out.slice(0, n);
    },
    decompressBounded(data, maxOutputBytes) {
      if (data.length === 0) return new Uint8Array(0);
      const dctx = dctxFor();
      const cap = maxOutputBytes + 1; // produce at most one byte past the limit to detect overflow
      let declared: number | null = null;
      try {
        declared = b.getFrameContentSize(data);
      } catch {
        declared = null; // not a plain frame header (skippable frame, garbage): stream decides
      }
      // One-shot when the frame declares a size within the cap: the destination is exactly that
      // size, so libzstd cannot write past it (a lie fails, then the streaming loop below decides,
      // e.g. for concatenated frames whose total the first header does not give).
      if (declared !== null && declared >= 0 && declared <= maxOutputBytes) {
        const exact = new Uint8Array(declared);
        try {
          if (dctx.decompress(exact, data) === declared) return exact;
        } catch {
          /* fall through to the authoritative streaming path */
        }
        dctx.reset(b.ResetDirective.sessionOnly);
      }
      // Trust the declared size only as a first guess, never beyond the cap.
      let out = new Uint8Array(Math.min(cap, declared !== null && declared >= 0 ? declared + 1 : INITIAL_OUTPUT_BYTES));
      let outPos = 0;
      let srcPos = 0;
      try {
        for (;;) {
          if (outPos === out.length) {
            if (out.length >= cap) throw tooLarge(maxOutputBytes);
            const grown = new Uint8Array(Math.min(cap, out.length * 2));
            grown.set(out);
            out = grown;
          }
          const [ret, produced, consumed] = dctx.decompressStream(out.subarray(outPos), data.subarray(srcPos));
          outPos += produced;
          srcPos += consumed;
          if (outPos > maxOutputBytes) throw tooLarge(maxOutputBytes);
          if (ret === 0 && srcPos === data.length) break; // last frame complete, input used up
          if (srcPos === data.length && produced === 0 && outPos < out.length) {
            // input exhausted mid-frame and the decoder has room but nothing to say: truncated
            throw malformed(undefined);
          }
        }
      } catch (e) {
        if (isProtocolError(e)) throw e;
        throw malformed(e);
      }
      return outPos === out.length ? out : out.slice(0, outPos);
    },
  };
}

type ZlibWithZstd = typeof zlib & {
  zstdCompressSync?: (buf: Uint8Array, opts?: object) => Buffer;
  zstdDecompressSync?: (buf: Uint8Array, opts?: object) => Buffer;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel?: number };
};

function zlibBackend(z: ZlibWithZstd): ZstdBackend | undefined {
  const compress = z.zstdCompressSync;
  const decompress = z.zstdDecompressSync;
  const levelParam = z.constants.ZSTD_c_compressionLevel;
  if (!compress || !decompress || levelParam === undefined) return undefined;
  return {
    name: 'node:zlib',
    compress(data, level) {
      return new Uint8Array(compress(data, { params: { [levelParam]: level } }));
    },
    decompressBounded(data, maxOutputBytes) {
      if (data.length === 0) return new Uint8Array(0);
      try {
        return new Uint8Array(decompress(data, { maxOutputLength: maxOutputBytes }));
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw tooLarge(maxOutputBytes);
        throw malformed(e);
      }
    },
  };
}

let backend: ZstdBackend | null | undefined; // undefined = not probed yet, null = none

function loadBackend(): ZstdBackend | null {
  if (backend !== undefined) return backend;
  try {
    const require = createRequire(import.meta.url);
    backend = napiBackend(require('zstd-napi/binding') as NapiBinding);
  } catch {
    backend = zlibBackend(zlib as ZlibWithZstd) ?? null;
  }
  return backend;
}

/**
 * Replace the zstd backend (tests, or a host that brings its own). `null` simulates "no zstd";
 * `undefined` re-probes the defaults on next use.
 */
export function setZstdBackend(next: ZstdBackend | null | undefined): void {
  backend = next;
}

/** Name of the backend in use, or null. */
export function zstdBackendName(): string | null {
  return loadBackend()?.name ?? null;
}

/** Whether zstd can be used on this machine (gates offering zstd in a Hello). */
export function zstdAvailable(): boolean {
  return loadBackend() !== null;
}

function requireBackend(): ZstdBackend {
  const b = loadBackend();
  if (!b) {
    throw new ProtocolError(ErrorCodes.COMPRESSION_UNAVAILABLE, 'zstd is not available (optional dependency zstd-napi missing and node:zlib has no zstd)');
  }
  return b;
}

/** zstd-compress (level 3 by default, as the reference sender). */
export function zstdCompress(data: Uint8Array, level: number = ZSTD_LEVEL): Uint8Array {
  return requireBackend().compress(data, level);
}

/**
 * Decompress peer data with an output cap [CMP-4]: throws PACKET_TOO_LARGE once the output would
 * pass `maxOutputBytes`, DECOMPRESSION_FAILED for malformed data or a checksum mismatch [CMP-6],
 * COMPRESSION_UNAVAILABLE without a backend. Concatenated frames are decoded in sequence.
 */
export function zstdDecompressBounded(data: Uint8Array, maxOutputBytes: number): Uint8Array {
  return requireBackend().decompressBounded(data, maxOutputBytes);
}
