/**
 * The decode option `unknownVariantBody` [FWD-5]: the default stays Rust-identical (refuse an
 * unknown variant with a body), `'ignore'` decodes it as `unknown`. Literal bytes throughout.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decodeRpcPayload, decodeWireFrame } from './codec.js';
import { errorCode as refused, fromHex as h } from '../../test/helpers.js';

// {"type": "future_frame", "body": {"x": 1}}
const FRAME_WITH_BODY = 'a264747970656c6675747572655f6672616d6564626f6479a1617801';
// {"type": "future_frame", "body": 7} (scalar body)
const FRAME_SCALAR_BODY = 'a264747970656c6675747572655f6672616d6564626f647907';
// {"type": "future_payload", "body": [1, 2, 3]}
const PAYLOAD_WITH_BODY = 'a264747970656e6675747572655f7061796c6f616464626f647983010203';
// {"type": "notification", "body": {"type": "progress", "body": 5}}
const NOTIFICATION_WITH_BODY = 'a264747970656c6e6f74696669636174696f6e64626f6479a264747970656870726f677265737364626f647905';
// {"type": "response", "body": {"status": "ok", "value": {"type": "later", "body": {}}}}
const RESPONSE_WITH_BODY = 'a2647479706568726573706f6e736564626f6479a266737461747573626f6b6576616c7565a26474797065656c6174657264626f6479a0';
// {"type": "cancel", "body": {}}: a KNOWN unit variant with a body
const CANCEL_WITH_BODY = 'a264747970656663616e63656c64626f6479a0';
// {"type": "future_frame", "body": <reserved initial byte 0x1c>}: not well formed
const FRAME_BAD_BODY = 'a264747970656c6675747572655f6672616d6564626f64791c';

const IGNORE = { unknownVariantBody: 'ignore' } as const;

describe('decode option unknownVariantBody [FWD-5]', () => {
  it('default and reject: an unknown variant with a body is refused, like the Rust reference', () => {
    for (const opts of [undefined, { unknownVariantBody: 'reject' } as const]) {
      expect(refused(() => decodeWireFrame(h(FRAME_WITH_BODY), undefined, opts))).toBe(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY);
      expect(refused(() => decodeWireFrame(h(FRAME_SCALAR_BODY), undefined, opts))).toBe(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY);
      expect(refused(() => decodeRpcPayload(h(PAYLOAD_WITH_BODY), undefined, opts))).toBe(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY);
      expect(refused(() => decodeRpcPayload(h(NOTIFICATION_WITH_BODY), undefined, opts))).toBe(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY);
      expect(refused(() => decodeRpcPayload(h(RESPONSE_WITH_BODY), undefined, opts))).toBe(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY);
    }
  });

  it('ignore: the four adjacently tagged enums decode an unknown variant with a body as unknown', () => {
    expect(decodeWireFrame(h(FRAME_WITH_BODY), undefined, IGNORE)).toEqual({ type: 'unknown' });
    expect(decodeWireFrame(h(FRAME_SCALAR_BODY), undefined, IGNORE)).toEqual({ type: 'unknown' });
    expect(decodeRpcPayload(h(PAYLOAD_WITH_BODY), undefined, IGNORE)).toEqual({ type: 'unknown' });
    expect(decodeRpcPayload(h(NOTIFICATION_WITH_BODY), undefined, IGNORE)).toEqual({ type: 'notification', body: { type: 'unknown' } });
    expect(decodeRpcPayload(h(RESPONSE_WITH_BODY), undefined, IGNORE)).toEqual({ type: 'response', body: { status: 'ok', value: { type: 'unknown' } } });
  });

  it('ignore: known unit variants with a body and bodies that fail the preflight are still refused', () => {
    expect(refused(() => decodeRpcPayload(h(CANCEL_WITH_BODY), undefined, IGNORE))).toBe(ErrorCodes.SCHEMA_UNIT_VARIANT_WITH_BODY);
    const bad = refused(() => decodeWireFrame(h(FRAME_BAD_BODY), undefined, IGNORE));
    expect(bad).toBe(refused(() => decodeWireFrame(h(FRAME_BAD_BODY))));
    expect(bad).toMatch(/^CBOR_/);
  });

  it('the mode does not leak into the next decode', () => {
    expect(decodeWireFrame(h(FRAME_WITH_BODY), undefined, IGNORE)).toEqual({ type: 'unknown' });
    expect(refused(() => decodeWireFrame(h(FRAME_WITH_BODY)))).toBe(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY);
    // a throw inside an ignore-mode decode restores the default too
    expect(refused(() => decodeRpcPayload(h(CANCEL_WITH_BODY), undefined, IGNORE))).toBe(ErrorCodes.SCHEMA_UNIT_VARIANT_WITH_BODY);
    expect(refused(() => decodeRpcPayload(h(PAYLOAD_WITH_BODY)))).toBe(ErrorCodes.SCHEMA_UNKNOWN_VARIANT_WITH_BODY);
  });
});
