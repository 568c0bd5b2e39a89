import { describe, expect, it } from 'vitest';
import { ErrorCodes, isProtocolError } from '../errors.js';
import { decodeRpcPayload, decodeWireFrame, encodeRpcPayload, encodeWireFrame } from './codec.js';
import type { RpcPayload, WireFrame } from './model.js';
import { errorCode as refused, fromHex as h, toHex as hex } from '../../test/helpers.js';

// Tiny hex builders so the literal bytes below stay readable.
const s = (t: string) => {
  const b = Buffer.from(t);
  if (b.length < 24) return (0x60 + b.length).toString(16) + b.toString('hex');
  return '78' + b.length.toString(16).padStart(2, '0') + b.toString('hex');
};
const m = (...kv: string[]) => (0xa0 + kv.length / 2).toString(16) + kv.join('');
const a = (...items: string[]) => (0x80 + items.length).toString(16) + items.join('');
const wire = (x: string) => decodeWireFrame(h(x));
const rpc = (x: string) => decodeRpcPayload(h(x));

const PACKET_BODY = m(s('id'), '02', s('compression'), s('none'), s('data'), '40');
const PACKET: WireFrame = { type: 'packet', body: { id: 2n, compression: 'none', data: new Uint8Array() } };

describe('encode', () => {
  it('writes the reference bytes for unit and struct variants [CBOR-2]', () => {
    expect(hex(encodeRpcPayload({ type: 'cancel' }))).toBe('a164747970656663616e63656c');
    expect(hex(encodeWireFrame(PACKET))).toBe('a26474797065667061636b657464626f6479a3626964026b636f6d7072657373696f6e646e6f6e65646461746140');
    expect(hex(encodeWireFrame({ type: 'unknown' }))).toBe('a1647479706567756e6b6e6f776e');
  });

  it('uses shortest integers: number below 2^32, bigint above [CBOR-1]', () => {
    const at = (id: bigint) => hex(encodeWireFrame({ type: 'packet', body: { id, compression: 'none', data: new Uint8Array() } }));
    expect(at(23n)).toContain('626964' + '17');
    expect(at(24n)).toContain('626964' + '1818');
    expect(at(0xffffffffn)).toContain('626964' + '1affffffff');
    expect(at(0x100000000n)).toContain('626964' + '1b0000000100000000');
    expect(at(0xffffffffffffffffn)).toContain('626964' + '1bffffffffffffffff');
  });

  it('emits declaration order whatever the input key order [CBOR-3]', () => {
    const shuffled = { body: { data: new Uint8Array(), compression: 'none', id: 2n }, type: 'packet' } as unknown as WireFrame;
    expect(hex(encodeWireFrame(shuffled))).toBe(hex(encodeWireFrame(PACKET)));
    const req: RpcPayload = { body: { files: [{ text: 'b', path: 'a' }], revision: 1n, type: 'load_files' }, type: 'request' } as unknown as RpcPayload;
    expect(hex(encodeRpcPayload(req))).toBe(
      m(s('type'), s('request'), s('body'), m(s('type'), s('load_files'), s('revision'), '01', s('files'), a(m(s('path'), s('a'), s('text'), s('b'))))),
    );
  });

  it('returns exact, unshared buffers (no view pinning a large encoder buffer)', () => {
    const big = new Uint8Array(2 * 1024 * 1024);
    const frame = encodeWireFrame({ type: 'packet', body: { id: 1n, compression: 'none', data: big } });
    expect(frame.buffer.byteLength).toBe(frame.length);
    const payload = encodeRpcPayload({ type: 'request', body: { type: 'diagnostics', path: 'x'.repeat(1024 * 1024) } });
    expect(payload.buffer.byteLength).toBe(payload.length);
    const small = encodeRpcPayload({ type: 'cancel' });
    expect(small.buffer.byteLength).toBe(small.length);
    expect(hex(small)).toBe('a164747970656663616e63656c');
  });

  it('refuses invalid values with ENCODE_INVALID_VALUE and without echoing them', () => {
    const bad = (f: unknown) => refused(() => encodeWireFrame(f as WireFrame));
    expect(bad({ type: 'packet', body: { id: -1n, compression: 'none', data: new Uint8Array() } })).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
    expect(bad({ type: 'packet', body: { id: 2n ** 64n, compression: 'none', data: new Uint8Array() } })).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
    expect(bad({ type: 'packet', body: { id: 1n, compression: 'lz4', data: new Uint8Array() } })).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
    expect(bad({ type: 'packet', body: { id: 1n, compression: 'none', data: [1, 2] } })).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
    expect(bad({ type: 'packet_chunk', body: { id: 1n, compression: 'none', seq: 2 ** 32, last: true, data: new Uint8Array() } })).toBe(
      ErrorCodes.ENCODE_INVALID_VALUE,
    );
    expect(bad({ type: 'reject', body: { code: 'internal', message: 'lone \ud800' } })).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
    expect(bad({ type: 'nope' })).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
    const hello = {
      type: 'hello',
      body: {
        shard_id: 1,
        auth_token: undefined, // must be null, not undefined
        supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
        capabilities: { max_frame_len: 1, max_packet_len: 1, supported_compression: ['none'], supports_cancel: false, supports_chunking: false },
        cached_index_info: null,
        worker_build: null,
      },
    };
    expect(bad(hello)).toBe(ErrorCodes.ENCODE_INVALID_VALUE);
    try {
      encodeWireFrame({ ...hello, body: { ...hello.body, auth_token: 12345 } } as unknown as WireFrame);
    } catch (e) {
      expect(String(e)).not.toContain('12345');
    }
  });
});

describe('decode (serde semantics)', () => {
  it('ignores unknown keys in the envelope and in bodies [FWD-1]', () => {
    expect(wire(m(s('type'), s('packet'), s('body'), m(s('id'), '02', s('zz'), 'f5', s('compression'), s('none'), s('data'), '40'), s('x'), '80'))).toEqual(
      PACKET,
    );
  });

  it('accepts variant indices and UTF-8 byte strings as tags; unknown names and indices select unknown [CBOR-11][FWD-2]', () => {
    expect(wire(m(s('type'), '03', s('body'), PACKET_BODY))).toEqual(PACKET);
    expect(wire(m(s('type'), '46' + Buffer.from('packet').toString('hex'), s('body'), PACKET_BODY))).toEqual(PACKET);
    expect(wire(m(s('type'), '05'))).toEqual({ type: 'unknown' });
    expect(wire(m(s('type'), '1863'))).toEqual({ type: 'unknown' }); // index 99
    expect(wire(m(s('type'), s('Packet')))).toEqual({ type: 'unknown' });
    expect(refused(() => wire(m(s('type'), '20')))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE); // -1
    expect(refused(() => wire(m(s('type'), 'f6')))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
  });

  it('unit variants accept no body or null; other bodies are refused [CBOR-12]', () => {
    expect(rpc(m(s('type'), s('cancel'), s('body'), 'f6'))).toEqual({ type: 'cancel' });
    expect(refused(() => rpc(m(s('type'), s('cancel'), s('body'), 'a0')))).toBe(ErrorCodes.SCHEMA_UNIT_VARIANT_WITH_BODY);
    expect(refused(() => rpc(m(s('type'), s('progress'), s('body'), '01')))).toBe(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY);
    expect(refused(() => wire(m(s('type'), s('packet'))))).toBe(ErrorCodes.SCHEMA_MISSING_BODY);
    expect(refused(() => wire(m(s('type'), s('packet'), s('body'), 'f6')))).toBe(ErrorCodes.SCHEMA_MISSING_BODY);
    expect(refused(() => wire(m(s('body'), PACKET_BODY)))).toBe(ErrorCodes.SCHEMA_MISSING_FIELD);
  });

  it('accepts the body before the type, and the [type, body] array form', () => {
    expect(wire(m(s('body'), PACKET_BODY, s('type'), s('packet')))).toEqual(PACKET);
    expect(wire(a(s('packet'), PACKET_BODY))).toEqual(PACKET);
    expect(wire(a(s('packet'), a('02', s('none'), '40')))).toEqual(PACKET); // struct as a sequence
    expect(refused(() => wire(a(s('packet'))))).toBe(ErrorCodes.SCHEMA_MISSING_FIELD);
    expect(refused(() => wire(a(s('packet'), PACKET_BODY, '00')))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
  });

  it('refuses a repeated field of the struct being read, ignores repeated unknown keys', () => {
    expect(refused(() => wire(m(s('type'), s('packet'), s('body'), m(s('id'), '02', s('id'), '03', s('compression'), s('none'), s('data'), '40'))))).toBe(
      ErrorCodes.CBOR_DUPLICATE_KEY,
    );
    expect(refused(() => wire(m(s('type'), s('packet'), s('type'), s('packet'), s('body'), PACKET_BODY)))).toBe(ErrorCodes.CBOR_DUPLICATE_KEY);
    expect(wire(m(s('type'), s('packet'), s('body'), m(s('id'), '02', s('zz'), '01', s('zz'), '02', s('compression'), s('none'), s('data'), '40')))).toEqual(
      PACKET,
    );
  });

  it('checks integer ranges; u64 always bigint, u32 always number', () => {
    const chunk = (seq: string) => m(s('type'), s('packet_chunk'), s('body'), m(s('id'), '01', s('compression'), s('none'), s('seq'), seq, s('last'), 'f5', s('data'), '40'));
    expect((wire(chunk('1affffffff')) as { body: { seq: number } }).body.seq).toBe(0xffffffff);
    expect((wire(chunk('1b0000000000000007')) as { body: { seq: number } }).body.seq).toBe(7);
    expect(refused(() => wire(chunk('1b0000000100000000')))).toBe(ErrorCodes.SCHEMA_INT_RANGE);
    expect(refused(() => wire(chunk('20')))).toBe(ErrorCodes.SCHEMA_INT_RANGE);
    expect(refused(() => wire(chunk('fa40000000')))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
    const id = (wire(m(s('type'), s('packet'), s('body'), PACKET_BODY)) as { body: { id: unknown } }).body.id;
    expect(typeof id).toBe('bigint');
  });

  it('accepts data as an array of u8, refuses text and out-of-range items [CBOR-10]', () => {
    const pkt = (data: string) => m(s('type'), s('packet'), s('body'), m(s('id'), '02', s('compression'), s('none'), s('data'), data));
    expect((wire(pkt(a('01', '18ff'))) as { body: { data: Uint8Array } }).body.data).toEqual(new Uint8Array([1, 255]));
    expect(refused(() => wire(pkt(a('190100'))))).toBe(ErrorCodes.SCHEMA_INT_RANGE);
    expect(refused(() => wire(pkt(s('abc'))))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
  });

  it('Option fields: missing -> null; undefined refused directly but None inside buffered content', () => {
    const err = (details: string) =>
      m(s('type'), s('response'), s('body'), m(s('status'), s('err'), s('error'), m(s('code'), s('internal'), s('message'), s('m'), s('retryable'), 'f4', ...details.split('|').filter(Boolean))));
    expect((rpc(err('')) as { body: { error: { details: unknown } } }).body.error.details).toBeNull();
    expect((rpc(err(s('details') + '|f7')) as { body: { error: { details: unknown } } }).body.error.details).toBeNull();
    // Hello is read directly from serde_cbor: auth_token undefined is an error there
    const hello = (token: string) =>
      m(
        s('type'), s('hello'), s('body'),
        m(
          s('shard_id'), '00', s('auth_token'), token,
          s('supported_versions'), m(s('min'), m(s('major'), '03', s('minor'), '00'), s('max'), m(s('major'), '03', s('minor'), '00')),
          s('capabilities'), m(s('max_frame_len'), '1904 00'.replace(' ', ''), s('max_packet_len'), '190400', s('supported_compression'), a(s('none')), s('supports_cancel'), 'f4', s('supports_chunking'), 'f4'),
        ),
      );
    const decoded = wire(hello('f6')) as { body: { auth_token: unknown; worker_build: unknown; cached_index_info: unknown } };
    expect(decoded.body).toMatchObject({ auth_token: null, worker_build: null, cached_index_info: null });
    expect(refused(() => wire(hello('f7')))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
  });

  it('plain enums: indices directly (compression), names or single-key maps inside content (error code)', () => {
    expect((wire(m(s('type'), s('packet'), s('body'), m(s('id'), '02', s('compression'), '01', s('data'), '40'))) as { body: { compression: string } }).body.compression).toBe('zstd');
    const code = (c: string) =>
      m(s('type'), s('response'), s('body'), m(s('status'), s('err'), s('error'), m(s('code'), c, s('message'), s('m'), s('retryable'), 'f4')));
    expect((rpc(code(s('brand_new'))) as { body: { error: { code: string } } }).body.error.code).toBe('unknown');
    expect((rpc(code(m(s('cancelled'), 'f6'))) as { body: { error: { code: string } } }).body.error.code).toBe('cancelled');
    expect(refused(() => rpc(code('04')))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
  });

  it('plain enums directly also accept serde_cbor enum forms [name, null] and {name: null}', () => {
    const pkt = (c: string) => m(s('type'), s('packet'), s('body'), m(s('id'), '02', s('compression'), c, s('data'), '40'));
    const algo = (c: string) => (wire(pkt(c)) as { body: { compression: string } }).body.compression;
    expect(algo(a(s('zstd'), 'f6'))).toBe('zstd');
    expect(algo(m(s('zstd'), 'f6'))).toBe('zstd');
    expect(refused(() => wire(pkt(a(s('zstd')))))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
    expect(refused(() => wire(pkt(m(s('zstd'), '01'))))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
  });

  it('a tagged null is None inside buffered content but an error in a direct Option field', () => {
    const hello = (token: string) =>
      m(
        s('type'), s('hello'), s('body'),
        m(
          s('shard_id'), '00', s('auth_token'), token,
          s('supported_versions'), m(s('min'), m(s('major'), '03', s('minor'), '00'), s('max'), m(s('major'), '03', s('minor'), '00')),
          s('capabilities'), m(s('max_frame_len'), '190400', s('max_packet_len'), '190400', s('supported_compression'), a(s('none')), s('supports_cancel'), 'f4', s('supports_chunking'), 'f4'),
        ),
      );
    expect(refused(() => wire(hello('c0f6')))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
    expect((wire(hello('c061' + '74')) as { body: { auth_token: unknown } }).body.auth_token).toBe('t');
    const err = m(s('type'), s('response'), s('body'), m(s('status'), s('err'), s('error'), m(s('code'), s('internal'), s('message'), s('m'), s('retryable'), 'f4', s('details'), 'c0f6')));
    expect((rpc(err) as { body: { error: { details: unknown } } }).body.error.details).toBeNull();
    // a tagged null body of a unit variant is still a null body
    expect(rpc(m(s('type'), s('cancel'), s('body'), 'c0f6'))).toEqual({ type: 'cancel' });
  });

  it('the canonical Packet/PacketChunk fast path gives the generic verdicts', () => {
    const chunkHex = (seq: string, data: string) =>
      m(s('type'), s('packet_chunk'), s('body'), m(s('id'), '1b0000000100000000', s('compression'), s('zstd'), s('seq'), seq, s('last'), 'f5', s('data'), data));
    expect(wire(chunkHex('1a00010000', '43010203'))).toEqual({
      type: 'packet_chunk',
      body: { id: 2n ** 32n, compression: 'zstd', seq: 65536, last: true, data: new Uint8Array([1, 2, 3]) },
    });
    expect(refused(() => wire(chunkHex('1b0000000100000000', '40')))).toBe(ErrorCodes.SCHEMA_INT_RANGE);
    const packetHex = m(s('type'), s('packet'), s('body'), m(s('id'), '02', s('compression'), s('unknown'), s('data'), '43010203'));
    expect(refused(() => wire(packetHex + '00'))).toBe(ErrorCodes.CBOR_TRAILING_BYTES);
    expect(refused(() => wire(packetHex.slice(0, -2)))).toBe(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT);
    expect(refused(() => decodeWireFrame(h(packetHex), { maxPacketBytes: 2 }))).toBe(ErrorCodes.PACKET_TOO_LARGE);
    expect(refused(() => decodeWireFrame(h(packetHex), { maxMessageBytes: 40 }))).toBe(ErrorCodes.MESSAGE_TOO_LARGE);
    expect((decodeWireFrame(h(packetHex), { maxPacketBytes: 3 }) as { body: { compression: string } }).body.compression).toBe('unknown');
  });

  it('Symbol line/column default to 0 [MSG-2]; internally tagged Request accepts its tag anywhere', () => {
    const notif = m(
      s('type'), s('notification'), s('body'),
      m(s('type'), s('cached_index'), s('body'), m(s('shard_id'), '00', s('revision'), '01', s('index_generation'), '01', s('symbols'), a(m(s('name'), s('A'), s('path'), s('a.java'))))),
    );
    expect(rpc(notif)).toEqual({
      type: 'notification',
      body: { type: 'cached_index', body: { shard_id: 0, revision: 1n, index_generation: 1n, symbols: [{ name: 'A', path: 'a.java', line: 0, column: 0 }] } },
    });
    expect(rpc(m(s('type'), s('request'), s('body'), m(s('path'), s('p'), s('type'), s('diagnostics'))))).toEqual({
      type: 'request',
      body: { type: 'diagnostics', path: 'p' },
    });
    expect(rpc(m(s('type'), s('request'), s('body'), a(s('diagnostics'), s('p'))))).toEqual({ type: 'request', body: { type: 'diagnostics', path: 'p' } });
    expect(refused(() => rpc(m(s('type'), s('request'), s('body'), m(s('path'), s('p')))))).toBe(ErrorCodes.SCHEMA_MISSING_FIELD);
  });

  it('borrowed string fields refuse indefinite-length text, owned ones accept it', () => {
    const diag = (path: string) => m(s('type'), s('request'), s('body'), m(s('type'), s('diagnostics'), s('path'), path));
    expect(refused(() => rpc(diag('7f6170ff')))).toBe(ErrorCodes.SCHEMA_WRONG_TYPE);
    expect(rpc(diag('4170'))).toEqual({ type: 'request', body: { type: 'diagnostics', path: 'p' } }); // UTF-8 bytes are fine
    const reject = m(s('type'), s('reject'), s('body'), m(s('code'), s('internal'), s('message'), '7f6170ff'));
    expect(wire(reject)).toEqual({ type: 'reject', body: { code: 'internal', message: 'p' } });
  });

  it('never echoes peer text (types, keys) in errors', () => {
    const marker = 'ZZ-PEER-MARKER-ZZ';
    for (const bytes of [
      m(s('type'), s(marker), s('body'), '01'),
      m(s(marker), '01', s(marker), '02', s('type'), s('cancel'), s('body'), m(s(marker), '01')),
      m(s('type'), s('reject'), s('body'), m(s('code'), s(marker), s('message'), '01')),
    ]) {
      try {
        rpc(bytes);
        wire(bytes);
        expect.unreachable();
      } catch (e) {
        expect(isProtocolError(e)).toBe(true);
        expect(String((e as Error).message)).not.toContain('MARKER');
        expect(JSON.stringify((e as { toJSON(): unknown }).toJSON())).not.toContain('MARKER');
      }
    }
  });

  it('round-trips every RpcPayload shape', () => {
    const payloads: RpcPayload[] = [
      { type: 'request', body: { type: 'update_file', revision: 5n, file: { path: 'x', text: 'y' } } },
      { type: 'request', body: { type: 'get_worker_stats' } },
      { type: 'response', body: { status: 'ok', value: { type: 'worker_stats', body: { shard_id: 1, revision: 2n, index_generation: 3n, file_count: 4 } } } },
      { type: 'response', body: { status: 'ok', value: { type: 'diagnostics', body: { diagnostics: [{ severity: 'hint', line: 1, column: 2, message: 'm' }] } } } },
      { type: 'response', body: { status: 'err', error: { code: 'too_large', message: '', retryable: true, details: 'd' } } },
      { type: 'response', body: { status: 'unknown' } },
      { type: 'notification', body: { type: 'unknown' } },
      { type: 'unknown' },
    ];
    for (const p of payloads) expect(decodeRpcPayload(encodeRpcPayload(p))).toEqual(p);
  });
});
