import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex as h, toHex as hex } from '../../test/helpers.js';
import { decodePacketChunkHead } from './chunk-head.js';
import { decodeWireFrame, encodeWireFrame } from './codec.js';
import { COMPRESSION_ALGOS, type CompressionAlgo } from './model.js';

// {"type":"packet_chunk","body":{"id":5,"compression":"none","seq":0,"last":true,"data":h'010203'}}
const HEAD =
  'a2 6474797065 6c7061636b65745f6368756e6b 64626f6479 a5 626964 05 6b636f6d7072657373696f6e 646e6f6e65 63736571 00 646c617374 f5 6464617461 43';
const BODY = h(`${HEAD} 010203`);
const HEAD_BYTES = BODY.length - 3;

describe('decodePacketChunkHead', () => {
  it('reads a canonical PacketChunk head from literal bytes, before the data is there', () => {
    expect(hex(encodeWireFrame({ type: 'packet_chunk', body: { id: 5n, compression: 'none', seq: 0, last: true, data: h('010203') } }))).toBe(hex(BODY));
    const want = { id: 5n, compression: 'none', seq: 0, last: true, dataBytes: 3, headBytes: HEAD_BYTES };
    for (let k = HEAD_BYTES; k <= BODY.length; k++) expect(decodePacketChunkHead(BODY.subarray(0, k), BODY.length), `first ${k}`).toEqual(want);
    // the head is not wholly there yet
    for (let k = 0; k < HEAD_BYTES; k++) expect(decodePacketChunkHead(BODY.subarray(0, k), BODY.length), `first ${k}`).toBeUndefined();
  });

  it('returns undefined for anything decodeWireFrame does not read through its canonical path with the same result', () => {
    // the data is not exactly the rest of the body
    expect(decodePacketChunkHead(BODY, BODY.length + 1)).toBeUndefined();
    expect(decodePacketChunkHead(BODY, BODY.length - 1)).toBeUndefined();
    // id 5 in a non-shortest head (18 05): valid CBOR the generic path judges, not recognised here
    const long = h(HEAD.replace('626964 05', '626964 1805') + ' 010203');
    expect(decodeWireFrame(long)).toMatchObject({ type: 'packet_chunk', body: { id: 5n } });
    expect(decodePacketChunkHead(long, long.length)).toBeUndefined();
    // fields in another order, a Packet, a different key
    expect(decodePacketChunkHead(h(HEAD.replace('646c617374 f5', '646c617374 f4').replace('63736571 00 646c617374 f4', '646c617374 f4 63736571 00') + ' 010203'), BODY.length)).toBeUndefined();
    const packet = encodeWireFrame({ type: 'packet', body: { id: 5n, compression: 'none', data: h('010203') } });
    expect(decodePacketChunkHead(packet, packet.length)).toBeUndefined();
    expect(decodePacketChunkHead(h(HEAD.replace('63736571', '63736572') + ' 010203'), BODY.length)).toBeUndefined();
    // over the decode limits: the whole-frame decoder refuses these, so they must take that path
    expect(decodePacketChunkHead(BODY, BODY.length, { maxMessageBytes: BODY.length - 1 })).toBeUndefined();
    expect(decodePacketChunkHead(BODY, BODY.length, { maxPacketBytes: 2 })).toBeUndefined();
    expect(decodePacketChunkHead(BODY, BODY.length, { maxPacketBytes: 3 })).toBeDefined();
    expect(decodePacketChunkHead(BODY, BODY.length, { maxPacketBytes: 0 })).toBeUndefined(); // invalid limits: decodeWireFrame throws CONFIG_INVALID
  });

  it('agrees with decodeWireFrame on every encoded chunk (property; seed printed on failure)', () => {
    const chunkArb = fc.record({
      id: fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
      compression: fc.constantFrom<CompressionAlgo>(...COMPRESSION_ALGOS),
      seq: fc.integer({ min: 0, max: 0xffffffff }),
      last: fc.boolean(),
      dataBytes: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(23, 24, 255, 256, 65535, 65536)),
    });
    fc.assert(
      fc.property(chunkArb, ({ dataBytes, ...f }) => {
        const body = encodeWireFrame({ type: 'packet_chunk', body: { ...f, data: new Uint8Array(dataBytes).fill(7) } });
        const decoded = decodeWireFrame(body);
        if (decoded.type !== 'packet_chunk') throw new Error('not a chunk');
        const head = decodePacketChunkHead(body.subarray(0, Math.min(body.length, 128)), body.length);
        expect(head).toEqual({ ...f, dataBytes, headBytes: body.length - dataBytes });
        expect(decoded.body).toMatchObject({ id: head!.id, compression: head!.compression, seq: head!.seq, last: head!.last });
        expect(decoded.body.data.length).toBe(head!.dataBytes);
      }),
      { numRuns: 300, verbose: true },
    );
  });
});
