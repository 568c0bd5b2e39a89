import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { DEFAULT_DECODE_LIMITS } from '../limits.js';
import { PreflightFlags, preflight } from './preflight.js';
import { concatBytes, errorCode, fromHex as h, toHex } from '../../test/helpers.js';

const ok = (hex: string) => preflight(h(hex), DEFAULT_DECODE_LIMITS);
const code = (hex: string | Uint8Array, limits = DEFAULT_DECODE_LIMITS): string =>
  errorCode(() => preflight(typeof hex === 'string' ? h(hex) : hex, limits));
const cat = (...parts: (string | Uint8Array)[]) => concatBytes(parts.map((p) => (typeof p === 'string' ? h(p) : p)));

describe('preflight', () => {
  it('accepts a canonical packet frame with no slow-path flags', () => {
    // {"type":"packet","body":{"id":1,"compression":"none","data":h''}}
    expect(ok('a26474797065667061636b657464626f6479a3626964016b636f6d7072657373696f6e646e6f6e65646461746140')).toBe(0);
  });

  it('flags tags, indefinite strings, floats and repeated field names', () => {
    expect(ok('d9d9f7a0') & PreflightFlags.TAGS).toBeTruthy();
    expect(ok('a161615f4101ff') & PreflightFlags.INDEFINITE_STRING).toBeTruthy();
    expect(ok('a16161fb4000000000000000') & PreflightFlags.FLOAT).toBeTruthy();
    // {"id":1,"id":2}
    expect(ok('a2626964016269640 2'.replace(' ', '')) & PreflightFlags.REPEATED_FIELD_NAME).toBeTruthy();
    // the last protocol field name in the table, and every struct field name
    for (const name of ['details', 'type', 'body', 'status', 'column', 'symbol_count', 'chosen_capabilities', 'supports_chunking']) {
      const k = Buffer.from(name);
      const entry = Buffer.concat([Buffer.from([0x60 + k.length]), k, Buffer.from([0x01])]);
      expect(preflight(new Uint8Array(Buffer.concat([Buffer.from([0xa2]), entry, entry])), DEFAULT_DECODE_LIMITS) & PreflightFlags.REPEATED_FIELD_NAME, name).toBeTruthy();
    }
    // repeated unknown keys are not protocol fields: {"zz":1,"zz":2}
    expect(ok('a2627a7a01627a7a02') & PreflightFlags.REPEATED_FIELD_NAME).toBe(0);
  });

  it('accepts indefinite maps and arrays', () => {
    expect(ok('bf6161 9f0102ff ff')).toBe(0);
  });

  it('refuses empty input, truncation, reserved additional info and stray breaks', () => {
    expect(code('')).toBe(ErrorCodes.CBOR_MALFORMED);
    expect(code('1c')).toBe(ErrorCodes.CBOR_MALFORMED); // [CBOR-1] reserved ai 28
    expect(code('5d')).toBe(ErrorCodes.CBOR_MALFORMED);
    expect(code('ff')).toBe(ErrorCodes.CBOR_MALFORMED);
    expect(code('19 01')).toBe(ErrorCodes.CBOR_MALFORMED);
    expect(code('1f')).toBe(ErrorCodes.CBOR_MALFORMED); // indefinite uint
    expect(code('9f01')).toBe(ErrorCodes.CBOR_MALFORMED); // missing break
  });

  it('refuses unassigned simple values even where values are ignored', () => {
    expect(code('a16161e0')).toBe(ErrorCodes.CBOR_MALFORMED);
    expect(code('a16161f820')).toBe(ErrorCodes.CBOR_MALFORMED);
    expect(code('a16161fc')).toBe(ErrorCodes.CBOR_MALFORMED);
  });

  it('refuses trailing bytes [CBOR-6]', () => {
    expect(code('a0 00')).toBe(ErrorCodes.CBOR_TRAILING_BYTES);
  });

  it('refuses nesting deeper than 64 [CBOR-7]', () => {
    expect(ok('81'.repeat(64) + '00')).toBe(0);
    expect(code('81'.repeat(65) + '00')).toBe(ErrorCodes.CBOR_TOO_DEEP);
    // tags count as a level, like the reference validator
    expect(code('c1'.repeat(65) + '00')).toBe(ErrorCodes.CBOR_TOO_DEEP);
  });

  it('refuses non-text, indefinite and over-long map keys [CBOR-7]', () => {
    expect(code('a10100')).toBe(ErrorCodes.CBOR_MAP_KEY_NOT_TEXT);
    expect(code('a1c1616100')).toBe(ErrorCodes.CBOR_MAP_KEY_NOT_TEXT);
    expect(code('a17f6161ff00')).toBe(ErrorCodes.CBOR_MAP_KEY_NOT_TEXT);
    expect(ok('a17840' + '6b'.repeat(64) + '00')).toBe(0);
    expect(code('a17841' + '6b'.repeat(65) + '00')).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED);
  });

  it('refuses maps of more than 1024 pairs, definite or not [CBOR-7]', () => {
    const pairs = (n: number) => Array.from({ length: n }, (_, i) => cat('64', Buffer.from(i.toString(16).padStart(4, '0')), '00'));
    expect(ok(toHex(cat('b90400', ...pairs(1024))))).toBe(0);
    expect(code(cat('b90401', ...pairs(1025)))).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED);
    expect(code(cat('bf', ...pairs(1025), 'ff'))).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED);
  });

  it('refuses declared lengths beyond the remaining input before reading them [CBOR-8]', () => {
    expect(code('5a0000ffff00')).toBe(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT);
    expect(code('7a0000ffff00')).toBe(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT);
    expect(code('9a000f424000')).toBe(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT); // 10^6 items, 1 byte
    expect(code('9a05f5e10000')).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED); // 10^8 items: over the array cap first
    expect(code('ba0000000100')).toBe(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT);
    // files: ≥ 8 bytes per item (3 items declared, 0 bytes left)
    expect(code('a16566696c657383')).toBe(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT);
  });

  it('applies per-key caps, inherited below the key [CBOR-9]', () => {
    expect(ok('a1647479706578 40' + '74'.repeat(64))).toBe(0);
    expect(code('a1647479706578 41' + '74'.repeat(65))).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED);
    expect(code('a16b636f6d7072657373696f6e7841' + '74'.repeat(65))).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED);
    const small = (key: string) => cat('a1', Buffer.from([0x60 + key.length]), Buffer.from(key), '794001', Buffer.alloc(16 * 1024 + 1, 0x61));
    for (const key of ['path', 'name', 'auth_token', 'message', 'details', 'worker_build', 'query']) {
      expect(code(small(key)), key).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED);
    }
    // nested under "path" the cap still applies
    expect(code(cat('a1647061746881', '794001', Buffer.alloc(16 * 1024 + 1, 0x61)))).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED);
    // supported_compression ≤ 32 items
    const sc = Buffer.from('supported_compression');
    expect(ok(toHex(cat('a175', sc, '9820', Buffer.alloc(32, 0xf6))))).toBe(0);
    expect(code(cat('a175', sc, '9821', Buffer.alloc(33, 0xf6)))).toBe(ErrorCodes.CBOR_LIMIT_EXCEEDED);
    // other arrays may be long
    expect(ok(toHex(cat('a163616161', '9821', Buffer.alloc(33, 0xf6))))).toBe(0);
  });

  it('caps byte strings at maxPacketBytes with PACKET_TOO_LARGE', () => {
    const limits = { maxMessageBytes: 1 << 20, maxPacketBytes: 4 };
    expect(preflight(h('a164646174614401020304'), limits)).toBe(0);
    expect(code('a16464617461450102030405', limits)).toBe(ErrorCodes.PACKET_TOO_LARGE);
    expect(code('a164646174615f4301020343040506ff', limits)).toBe(ErrorCodes.PACKET_TOO_LARGE);
  });

  it('refuses the whole input above maxMessageBytes [FRM-7]', () => {
    expect(preflight(h('820000'), { maxMessageBytes: 3, maxPacketBytes: 1 })).toBe(0);
    expect(code('820000', { maxMessageBytes: 2, maxPacketBytes: 1 })).toBe(ErrorCodes.MESSAGE_TOO_LARGE);
  });

  it('checks UTF-8 of text strings and keys', () => {
    expect(ok('62c3a9')).toBe(0);
    expect(code('61ff')).toBe(ErrorCodes.CBOR_INVALID_UTF8);
    expect(code('62c0af')).toBe(ErrorCodes.CBOR_INVALID_UTF8); // overlong
    expect(code('63eda080')).toBe(ErrorCodes.CBOR_INVALID_UTF8); // surrogate
    expect(code('62e282')).toBe(ErrorCodes.CBOR_INVALID_UTF8); // truncated sequence
    expect(code('a161ff00')).toBe(ErrorCodes.CBOR_INVALID_UTF8);
    // long strings go through the native check
    expect(code(cat('7850', Buffer.alloc(79, 0x61), 'ff'))).toBe(ErrorCodes.CBOR_INVALID_UTF8);
  });

  it('refuses malformed indefinite strings', () => {
    expect(code('5f6161ff')).toBe(ErrorCodes.CBOR_MALFORMED); // text chunk in a byte string
    expect(code('5f5f4101ffff')).toBe(ErrorCodes.CBOR_MALFORMED); // nested indefinite
    expect(code('5f45010203')).toBe(ErrorCodes.CBOR_LENGTH_EXCEEDS_INPUT);
  });

  it('never echoes key text in messages', () => {
    const marker = 'SECRET-MARKER-KEY';
    try {
      preflight(cat('a2', Buffer.from([0x60 + marker.length]), Buffer.from(marker), '1c'), DEFAULT_DECODE_LIMITS);
      expect.unreachable();
    } catch (e) {
      expect(JSON.stringify((e as { toJSON(): unknown }).toJSON())).not.toContain('MARKER');
      expect(String(e)).not.toContain('MARKER');
    }
  });
});
