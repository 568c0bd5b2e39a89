import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ErrorCode } from '../errors.js';
import { thrownProtocolError } from '../../test/helpers.js';
import { rpcPayloadArb, wireFrameArb } from '../../fuzz/arbitraries.js';
import { hexToBytes, rpcPayloadFromJson, toJsonView, wireFrameFromJson } from './json-view.js';
import type { RpcPayload, WireFrame } from './model.js';

/** Run `fn` and return the ProtocolError it throws (fails the test when it does not). */
function thrown(fn: () => unknown): { code: ErrorCode; message: string; details: unknown } {
  const e = thrownProtocolError(fn);
  return { code: e.code, message: e.message, details: e.details };
}

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`json-view property seed: ${seed} (FC_SEED=${seed} to replay)`);

const hello: WireFrame = {
  type: 'hello',
  body: {
    shard_id: 7,
    auth_token: null,
    supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
    capabilities: {
      max_frame_len: 4294967295,
      max_packet_len: 1024,
      supported_compression: ['zstd', 'none'],
      supports_cancel: true,
      supports_chunking: false,
    },
    cached_index_info: { revision: 18446744073709551615n, index_generation: 9007199254740993n, symbol_count: 0 },
    worker_build: 'héllo ☃ 𝄞',
  },
};

describe('toJsonView', () => {
  it('writes u64 as decimal strings, bytes as lowercase hex, keeps null and order', () => {
    const packet: WireFrame = { type: 'packet', body: { id: 18446744073709551615n, compression: 'zstd', data: new Uint8Array([0, 0xab, 0xff]) } };
    expect(JSON.stringify(toJsonView(packet))).toBe(
      '{"type":"packet","body":{"id":"18446744073709551615","compression":"zstd","data":"00abff"}}',
    );
    expect(toJsonView(hello)).toEqual({
      type: 'hello',
      body: {
        shard_id: 7,
        auth_token: null,
        supported_versions: { min: { major: 3, minor: 0 }, max: { major: 3, minor: 0 } },
        capabilities: {
          max_frame_len: 4294967295,
          max_packet_len: 1024,
          supported_compression: ['zstd', 'none'],
          supports_cancel: true,
          supports_chunking: false,
        },
        cached_index_info: { revision: '18446744073709551615', index_generation: '9007199254740993', symbol_count: 0 },
        worker_build: 'héllo ☃ 𝄞',
      },
    });
    expect(toJsonView({ type: 'packet', body: { id: 0n, compression: 'none', data: new Uint8Array() } })).toEqual({
      type: 'packet',
      body: { id: '0', compression: 'none', data: '' },
    });
  });

  it('views a subarray by its own bytes only', () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5]);
    expect(toJsonView(backing.subarray(1, 3))).toBe('0203');
  });

  it.each([
    ['undefined', { type: 'reject', body: { code: 'internal', message: undefined } }],
    ['negative number', { a: -1 }],
    ['fraction', { a: 1.5 }],
    ['number above u32', { a: 4294967296 }],
    ['negative bigint', { a: -1n }],
    ['bigint above u64', { a: 1n << 64n }],
    ['lone surrogate', { a: 'x\ud800' }],
    ['Map', { a: new Map() }],
    ['function', { a: () => 1 }],
  ])('refuses a value no message contains: %s', (_label, value) => {
    expect(thrown(() => toJsonView(value)).code).toBe('ENCODE_INVALID_VALUE');
  });

  it('keeps an own "__proto__" key as a key', () => {
    const input = JSON.parse('{"__proto__": {"x": 1}, "a": 2}') as unknown;
    const out = toJsonView(input) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"x":1},"a":2}');
  });

  it('refuses a cycle instead of recursing forever', () => {
    const a: Record<string, unknown> = {};
    a['self'] = a;
    expect(thrown(() => toJsonView(a)).code).toBe('ENCODE_INVALID_VALUE');
  });
});

describe('wireFrameFromJson / rpcPayloadFromJson', () => {
  it('reads every variant back to the model (property)', () => {
    fc.assert(
      fc.property(wireFrameArb, (frame) => {
        const json = JSON.parse(JSON.stringify(toJsonView(frame))) as unknown;
        expect(wireFrameFromJson(json)).toEqual(frame);
      }),
      { seed, numRuns: 300 },
    );
    fc.assert(
      fc.property(rpcPayloadArb, (payload) => {
        const json = JSON.parse(JSON.stringify(toJsonView(payload))) as unknown;
        expect(rpcPayloadFromJson(json)).toEqual(payload);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('rebuilds objects in declaration order whatever the input order', () => {
    const shuffled = {
      body: { data: '01', compression: 'none', id: '5' },
      type: 'packet',
    };
    expect(JSON.stringify(toJsonView(wireFrameFromJson(shuffled)))).toBe(
      '{"type":"packet","body":{"id":"5","compression":"none","data":"01"}}',
    );
    const req = { body: { files: [{ text: 't', path: 'p' }], type: 'load_files', revision: '1' }, type: 'request' };
    expect(JSON.stringify(toJsonView(rpcPayloadFromJson(req)))).toBe(
      '{"type":"request","body":{"type":"load_files","revision":"1","files":[{"path":"p","text":"t"}]}}',
    );
  });

  it('reads each Request, Response, RpcResult and Notification shape', () => {
    const cases: RpcPayload[] = [
      { type: 'request', body: { type: 'update_file', revision: 3n, file: { path: 'a', text: 'b' } } },
      { type: 'request', body: { type: 'diagnostics', path: '' } },
      { type: 'request', body: { type: 'get_worker_stats' } },
      { type: 'response', body: { status: 'ok', value: { type: 'ack' } } },
      {
        type: 'response',
        body: { status: 'ok', value: { type: 'diagnostics', body: { diagnostics: [{ severity: 'hint', line: 1, column: 2, message: 'm' }] } } },
      },
      { type: 'response', body: { status: 'err', error: { code: 'too_large', message: '', retryable: true, details: null } } },
      { type: 'response', body: { status: 'unknown' } },
      { type: 'notification', body: { type: 'cached_index', body: { shard_id: 1, revision: 2n, index_generation: 3n, symbols: [] } } },
      { type: 'notification', body: { type: 'unknown' } },
      { type: 'cancel' },
      { type: 'unknown' },
    ];
    for (const c of cases) expect(rpcPayloadFromJson(toJsonView(c))).toEqual(c);
  });

  const packet = (body: Record<string, unknown>) => ({ type: 'packet', body: { id: '2', compression: 'none', data: '', ...body } });

  it.each<[string, unknown, ErrorCode]>([
    ['not an object', [], 'SCHEMA_WRONG_TYPE'],
    ['null', null, 'SCHEMA_WRONG_TYPE'],
    ['missing type', { body: {} }, 'SCHEMA_MISSING_FIELD'],
    ['type not a string', { type: 3, body: {} }, 'SCHEMA_WRONG_TYPE'],
    ['unknown variant name', { type: 'future_frame' }, 'SCHEMA_WRONG_TYPE'],
    ['unit variant with a body key', { type: 'unknown', body: null }, 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY'],
    ['struct variant, body missing', { type: 'packet' }, 'SCHEMA_MISSING_BODY'],
    ['struct variant, body null', { type: 'packet', body: null }, 'SCHEMA_MISSING_BODY'],
    ['missing field', { type: 'packet', body: { id: '2', compression: 'none' } }, 'SCHEMA_MISSING_FIELD'],
    ['extra key', packet({ extra: 1 }), 'SCHEMA_WRONG_TYPE'],
    ['u64 as a number', packet({ id: 2 }), 'SCHEMA_WRONG_TYPE'],
    ['u64 with a leading zero', packet({ id: '02' }), 'SCHEMA_WRONG_TYPE'],
    ['u64 negative', packet({ id: '-1' }), 'SCHEMA_WRONG_TYPE'],
    ['u64 = 2^64', packet({ id: '18446744073709551616' }), 'SCHEMA_INT_RANGE'],
    ['u64 with 21 digits', packet({ id: '100000000000000000000' }), 'SCHEMA_INT_RANGE'],
    ['hex uppercase', packet({ data: 'AB' }), 'SCHEMA_WRONG_TYPE'],
    ['hex odd length', packet({ data: 'abc' }), 'SCHEMA_WRONG_TYPE'],
    ['bytes as an array', packet({ data: [1, 2] }), 'SCHEMA_WRONG_TYPE'],
    ['unknown compression name', packet({ compression: 'lz4' }), 'SCHEMA_WRONG_TYPE'],
    ['u32 = 2^32', { type: 'packet_chunk', body: { id: '1', compression: 'none', seq: 4294967296, last: true, data: '' } }, 'SCHEMA_INT_RANGE'],
    ['u32 negative', { type: 'packet_chunk', body: { id: '1', compression: 'none', seq: -1, last: true, data: '' } }, 'SCHEMA_INT_RANGE'],
    ['u32 fraction', { type: 'packet_chunk', body: { id: '1', compression: 'none', seq: 0.5, last: true, data: '' } }, 'SCHEMA_WRONG_TYPE'],
    ['u32 as a string', { type: 'packet_chunk', body: { id: '1', compression: 'none', seq: '1', last: true, data: '' } }, 'SCHEMA_WRONG_TYPE'],
    ['bool as an integer', { type: 'packet_chunk', body: { id: '1', compression: 'none', seq: 1, last: 1, data: '' } }, 'SCHEMA_WRONG_TYPE'],
    ['reject message with a lone surrogate', { type: 'reject', body: { code: 'internal', message: '\udc00' } }, 'ENCODE_INVALID_VALUE'],
  ])('WireFrame: %s', (_label, json, code) => {
    expect(thrown(() => wireFrameFromJson(json)).code).toBe(code);
  });

  it.each<[string, unknown, ErrorCode]>([
    ['cancel with a body', { type: 'cancel', body: {} }, 'SCHEMA_UNIT_VARIANT_WITH_BODY'],
    ['an own __proto__ key', JSON.parse('{"type":"cancel","__proto__":{}}'), 'SCHEMA_WRONG_TYPE'],
    ['cancel with a null body key', { type: 'cancel', body: null }, 'SCHEMA_UNIT_VARIANT_WITH_BODY'],
    ['ack with a body', { type: 'response', body: { status: 'ok', value: { type: 'ack', body: {} } } }, 'SCHEMA_UNIT_VARIANT_WITH_BODY'],
    ['request field of another variant', { type: 'request', body: { type: 'get_worker_stats', path: 'x' } }, 'SCHEMA_WRONG_TYPE'],
    ['request without type', { type: 'request', body: { path: 'x' } }, 'SCHEMA_MISSING_FIELD'],
    ['request missing revision', { type: 'request', body: { type: 'load_files', files: [] } }, 'SCHEMA_MISSING_FIELD'],
    ['ok without value', { type: 'response', body: { status: 'ok' } }, 'SCHEMA_MISSING_FIELD'],
    ['err with value', { type: 'response', body: { status: 'err', value: { type: 'ack' } } }, 'SCHEMA_WRONG_TYPE'],
    ['unknown status name', { type: 'response', body: { status: 'partial' } }, 'SCHEMA_WRONG_TYPE'],
    ['details missing (optional fields are present as null)', { type: 'response', body: { status: 'err', error: { code: 'internal', message: 'm', retryable: false } } }, 'SCHEMA_MISSING_FIELD'],
    ['unknown error code', { type: 'response', body: { status: 'err', error: { code: 'teapot', message: 'm', retryable: false, details: null } } }, 'SCHEMA_WRONG_TYPE'],
    ['notification unknown with body', { type: 'notification', body: { type: 'unknown', body: 1 } }, 'SCHEMA_UNKNOWN_VARIANT_WITH_BODY'],
    ['symbol without line (the view always has every field)', { type: 'notification', body: { type: 'cached_index', body: { shard_id: 0, revision: '1', index_generation: '1', symbols: [{ name: 'A', path: 'a', column: 0 }] } } }, 'SCHEMA_MISSING_FIELD'],
    ['files not an array', { type: 'request', body: { type: 'index_shard', revision: '1', files: {} } }, 'SCHEMA_WRONG_TYPE'],
  ])('RpcPayload: %s', (_label, json, code) => {
    expect(thrown(() => rpcPayloadFromJson(json)).code).toBe(code);
  });

  it('never echoes input text (keys, names, values) in message or details', () => {
    const secret = 'TOKEN_s3cr3t_do_not_echo';
    const inputs: unknown[] = [
      { type: secret },
      { type: 'packet', body: { id: '2', compression: 'none', data: '', [secret]: 1 } },
      { type: 'packet', body: { id: secret, compression: 'none', data: '' } },
      { type: 'packet', body: { id: '2', compression: secret, data: '' } },
      { type: 'packet', body: { id: '2', compression: 'none', data: secret } },
      { [secret]: 1, type: 'cancel' },
    ];
    for (const input of inputs) {
      const err = thrown(() => wireFrameFromJson(input));
      expect(err.message).not.toContain(secret);
      expect(JSON.stringify(err.details)).not.toContain(secret);
    }
    const err = thrown(() => rpcPayloadFromJson({ type: 'request', body: { type: secret } }));
    expect(err.message).not.toContain(secret);
    expect(err.details).toEqual({ path: '$.body.type', reason: 'unknown_name' });
  });

  it('reports the path of the offending field', () => {
    const err = thrown(() => wireFrameFromJson({ type: 'hello', body: { ...(toJsonView(hello) as { body: object }).body, capabilities: { ...(toJsonView(hello) as { body: { capabilities: object } }).body.capabilities, max_frame_len: -5 } } }));
    expect(err.code).toBe('SCHEMA_INT_RANGE');
    expect(err.details).toEqual({ path: '$.body.capabilities.max_frame_len' });
  });
});

describe('hexToBytes', () => {
  it('reads lowercase hex and refuses anything else', () => {
    expect([...hexToBytes('00ff10')]).toEqual([0, 255, 16]);
    expect(hexToBytes('').length).toBe(0);
    for (const bad of ['0', 'zz', '0X', ' 00', 'FF']) expect(thrown(() => hexToBytes(bad)).code).toBe('SCHEMA_WRONG_TYPE');
  });
});
