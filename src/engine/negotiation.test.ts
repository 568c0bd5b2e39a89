import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isProtocolError } from '../errors.js';
import type { Capabilities, CompressionAlgo, ProtocolVersion, RouterWelcome, SupportedVersions, WorkerHello } from '../wire/model.js';
import {
  checkWelcome,
  chooseCommonVersion,
  compareVersions,
  negotiateHello,
  sanitizeCapabilities,
  versionInRange,
  type RouterNegotiationConfig,
} from './negotiation.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const fcParams = { seed: SEED, numRuns: 300 };
console.log(`[negotiation.test] fast-check seed=${SEED} (rerun with FC_SEED=${SEED})`);

function caps(over: Partial<Capabilities> = {}): Capabilities {
  return { max_frame_len: 65536, max_packet_len: 1 << 20, supported_compression: ['none'], supports_cancel: true, supports_chunking: true, ...over };
}
const V = (major: number, minor: number): ProtocolVersion => ({ major, minor });
const range = (min: ProtocolVersion, max: ProtocolVersion): SupportedVersions => ({ min, max });
function hello(over: Partial<WorkerHello> = {}): WorkerHello {
  return {
    shard_id: 7,
    auth_token: null,
    supported_versions: range(V(3, 0), V(3, 0)),
    capabilities: caps(),
    cached_index_info: null,
    worker_build: null,
    ...over,
  };
}
function router(over: Partial<RouterNegotiationConfig> = {}): RouterNegotiationConfig {
  return { supportedVersions: range(V(3, 0), V(3, 0)), capabilities: caps({ supported_compression: ['zstd', 'none'] }), ...over };
}

describe('negotiateHello: Rust order and messages [HS-4]', () => {
  it('zero limits → invalid_request with both numbers, before auth', () => {
    const r = negotiateHello(hello({ auth_token: 'wrong', capabilities: caps({ max_frame_len: 0, max_packet_len: 5 }) }), router({ authToken: 'secret' }));
    expect(r).toEqual({ kind: 'reject', reject: { code: 'invalid_request', message: 'invalid worker capability limits: max_frame_len=0, max_packet_len=5' } });
    const r2 = negotiateHello(hello({ capabilities: caps({ max_packet_len: 0 }) }), router());
    expect(r2.kind === 'reject' && r2.reject.message).toBe('invalid worker capability limits: max_frame_len=65536, max_packet_len=0');
  });
  it('auth: plain equality, message never echoes the token [SEC-1] [SEC-2]', () => {
    for (const tok of [null, 'secreT', 'secret ', '']) {
      const r = negotiateHello(hello({ auth_token: tok, supported_versions: range(V(9, 0), V(9, 0)) }), router({ authToken: 'secret' }));
      expect(r).toEqual({ kind: 'reject', reject: { code: 'unauthorized', message: 'authentication failed' } });
    }
    expect(negotiateHello(hello({ auth_token: 'secret' }), router({ authToken: 'secret' })).kind).toBe('welcome');
  });
  it('no expected token → any token ignored', () => {
    expect(negotiateHello(hello({ auth_token: 'whatever' }), router()).kind).toBe('welcome');
  });
  it('version before compression; exact strings', () => {
    const r = negotiateHello(hello({ supported_versions: range(V(4, 0), V(4, 1)), capabilities: caps({ supported_compression: ['unknown'] }) }), router());
    expect(r).toEqual({ kind: 'reject', reject: { code: 'unsupported_version', message: 'unsupported protocol version' } });
    const r2 = negotiateHello(hello({ capabilities: caps({ supported_compression: ['unknown'] }) }), router());
    expect(r2).toEqual({ kind: 'reject', reject: { code: 'invalid_request', message: 'handshake failed: no common compression algorithm' } });
  });
  it('[3.0,3.7] ∩ [2.0,3.5] → 3.5 (observed on the Rust router)', () => {
    expect(chooseCommonVersion(range(V(3, 0), V(3, 7)), range(V(2, 0), V(3, 5)))).toEqual(V(3, 5));
    expect(chooseCommonVersion(range(V(3, 0), V(3, 0)), range(V(2, 0), V(2, 9)))).toBeNull();
    expect(chooseCommonVersion(range(V(2, 9), V(3, 1)), range(V(3, 1), V(9, 0)))).toEqual(V(3, 1));
  });
  it('only-zstd Hello negotiates [zstd]; router order wins; unknown never chosen [NEG-3]', () => {
    const r = negotiateHello(hello({ capabilities: caps({ supported_compression: ['zstd'] }) }), router());
    expect(r.kind === 'welcome' && r.welcome.chosen_capabilities.supported_compression).toEqual(['zstd']);
    const r2 = negotiateHello(hello({ capabilities: caps({ supported_compression: ['none', 'unknown', 'zstd'] }) }), router());
    expect(r2.kind === 'welcome' && r2.welcome.chosen_capabilities.supported_compression).toEqual(['zstd', 'none']);
    const r3 = negotiateHello(
      hello({ capabilities: caps({ supported_compression: ['unknown', 'none'] }) }),
      router({ capabilities: caps({ supported_compression: ['unknown', 'none'] }) }),
    );
    expect(r3.kind === 'welcome' && r3.welcome.chosen_capabilities.supported_compression).toEqual(['none']);
  });
  it('admission last, with its code/message; welcome echoes shard and carries admission ids [HS-9] [HS-11]', () => {
    const seen: number[] = [];
    const admit: RouterNegotiationConfig['admit'] = (h) => {
      seen.push(h.shard_id);
      return h.shard_id === 7 ? { accept: true, workerId: 42, revision: 9n } : { accept: false, code: 'invalid_request', message: `unknown shard ${h.shard_id}` };
    };
    // admission is not reached when an earlier check fails
    negotiateHello(hello({ shard_id: 8, supported_versions: range(V(1, 0), V(1, 0)) }), router({ admit }));
    expect(seen).toEqual([]);
    expect(negotiateHello(hello({ shard_id: 8 }), router({ admit }))).toEqual({ kind: 'reject', reject: { code: 'invalid_request', message: 'unknown shard 8' } });
    const w = negotiateHello(hello(), router({ admit }));
    expect(w).toEqual({
      kind: 'welcome',
      welcome: {
        worker_id: 42,
        shard_id: 7,
        revision: 9n,
        chosen_version: V(3, 0),
        chosen_capabilities: { max_frame_len: 65536, max_packet_len: 1 << 20, supported_compression: ['none'], supports_cancel: true, supports_chunking: true },
      },
    });
  });
});

describe('sanitizeCapabilities [NEG-5]', () => {
  it('drops unknown and unavailable zstd, appends none, keeps order', () => {
    expect(sanitizeCapabilities(caps({ supported_compression: ['unknown', 'zstd'] }), { zstdAvailable: true }).supported_compression).toEqual(['zstd', 'none']);
    expect(sanitizeCapabilities(caps({ supported_compression: ['zstd', 'unknown'] }), { zstdAvailable: false }).supported_compression).toEqual(['none']);
    expect(sanitizeCapabilities(caps({ supported_compression: ['none', 'zstd'] }), { zstdAvailable: true }).supported_compression).toEqual(['none', 'zstd']);
    expect(sanitizeCapabilities(caps({ supported_compression: [] }), { zstdAvailable: true }).supported_compression).toEqual(['none']);
  });
});

const algo = fc.constantFrom<CompressionAlgo>('none', 'zstd', 'unknown');
const version = fc.record({ major: fc.integer({ min: 0, max: 5 }), minor: fc.integer({ min: 0, max: 5 }) });
const versions = fc.tuple(version, version).map(([a, b]) => (compareVersions(a, b) <= 0 ? range(a, b) : range(b, a)));
const capsArb = fc.record({
  max_frame_len: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  max_packet_len: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  supported_compression: fc.array(algo, { maxLength: 5 }),
  supports_cancel: fc.boolean(),
  supports_chunking: fc.boolean(),
});

describe('negotiation properties (seed printed above)', () => {
  it('chosen ≤ offered, compression ⊆ both in router order, AND of booleans, version within both ranges; worker check accepts it', () => {
    fc.assert(
      fc.property(capsArb, capsArb, versions, versions, fc.boolean(), (rc, wc, rv, wv, zstd) => {
        const rOwn = sanitizeCapabilities(rc, { zstdAvailable: zstd });
        const wOwn = sanitizeCapabilities(wc, { zstdAvailable: zstd });
        const h = hello({ capabilities: wOwn, supported_versions: wv });
        const out = negotiateHello(h, { supportedVersions: rv, capabilities: rOwn });
        const common = chooseCommonVersion(rv, wv);
        if (out.kind === 'reject') {
          // both offers are sanitized (contain none), so only the version can fail
          expect(common).toBeNull();
          expect(out.reject.code).toBe('unsupported_version');
          return;
        }
        const c = out.welcome.chosen_capabilities;
        expect(c.max_frame_len).toBe(Math.min(rOwn.max_frame_len, wOwn.max_frame_len));
        expect(c.max_packet_len).toBe(Math.min(rOwn.max_packet_len, wOwn.max_packet_len));
        expect(c.supports_cancel).toBe(rOwn.supports_cancel && wOwn.supports_cancel);
        expect(c.supports_chunking).toBe(rOwn.supports_chunking && wOwn.supports_chunking);
        expect(c.supported_compression.length).toBeGreaterThan(0);
        for (const a of c.supported_compression) {
          expect(a).not.toBe('unknown');
          expect(rOwn.supported_compression).toContain(a);
          expect(wOwn.supported_compression).toContain(a);
        }
        // router order: chosen is a subsequence of the router's list
        let pos = 0;
        for (const a of c.supported_compression) {
          while (pos < rOwn.supported_compression.length && rOwn.supported_compression[pos] !== a) pos++;
          expect(pos).toBeLessThan(rOwn.supported_compression.length);
          pos++;
        }
        expect(versionInRange(out.welcome.chosen_version, rv)).toBe(true);
        expect(versionInRange(out.welcome.chosen_version, wv)).toBe(true);
        expect(() => checkWelcome(h, out.welcome)).not.toThrow();
      }),
      fcParams,
    );
  });
  it('unsanitized Hello: reject reasons follow the Rust order exactly', () => {
    fc.assert(
      fc.property(capsArb, versions, fc.option(fc.constantFrom('a', 'b'), { nil: null }), fc.boolean(), (wc, wv, tok, zeroFrame) => {
        const w = { ...wc, max_frame_len: zeroFrame ? 0 : wc.max_frame_len };
        const rOwn = caps({ supported_compression: ['zstd', 'none'] });
        const out = negotiateHello(hello({ capabilities: w, supported_versions: wv, auth_token: tok }), {
          supportedVersions: range(V(3, 0), V(3, 2)),
          capabilities: rOwn,
          authToken: 'a',
        });
        const expected = zeroFrame
          ? 'invalid_request'
          : tok !== 'a'
            ? 'unauthorized'
            : chooseCommonVersion(range(V(3, 0), V(3, 2)), wv) === null
              ? 'unsupported_version'
              : !w.supported_compression.some((a) => a !== 'unknown')
                ? 'invalid_request'
                : 'welcome';
        expect(out.kind === 'welcome' ? 'welcome' : out.reject.code).toBe(expected);
      }),
      fcParams,
    );
  });
});

describe('checkWelcome [HS-10]', () => {
  const offer = hello({ capabilities: caps({ supported_compression: ['zstd', 'none'], supports_cancel: false }), supported_versions: range(V(3, 0), V(3, 2)) });
  const good: RouterWelcome = {
    worker_id: 1,
    shard_id: 7,
    revision: 0n,
    chosen_version: V(3, 1),
    chosen_capabilities: caps({ supported_compression: ['none'], supports_cancel: false }),
  };
  const broken = (w: RouterWelcome): string => {
    try {
      checkWelcome(offer, w);
    } catch (e) {
      if (isProtocolError(e) && e.code === 'HANDSHAKE_INVALID_WELCOME' && e.rule === 'HS-10') return String(e.details.brokenRule);
      throw e;
    }
    return 'ok';
  };
  it('accepts a consistent welcome', () => expect(broken(good)).toBe('ok'));
  it('names the broken rule', () => {
    const cc = good.chosen_capabilities;
    expect(broken({ ...good, shard_id: 8 })).toBe('HS-9');
    expect(broken({ ...good, chosen_version: V(9, 9) })).toBe('VER-1');
    expect(broken({ ...good, chosen_version: V(2, 9) })).toBe('VER-1');
    expect(broken({ ...good, chosen_capabilities: { ...cc, max_frame_len: 65537 } })).toBe('NEG-1');
    expect(broken({ ...good, chosen_capabilities: { ...cc, max_packet_len: (1 << 20) + 1 } })).toBe('NEG-1');
    expect(broken({ ...good, chosen_capabilities: { ...cc, max_packet_len: 0 } })).toBe('LIM-1');
    expect(broken({ ...good, chosen_capabilities: { ...cc, supports_cancel: true } })).toBe('NEG-2');
    expect(broken({ ...good, chosen_capabilities: { ...cc, supported_compression: ['unknown'] } })).toBe('NEG-3');
    expect(broken({ ...good, chosen_capabilities: { ...cc, supported_compression: [] } })).toBe('NEG-3');
    const noZstd = hello({ capabilities: caps({ supported_compression: ['none'] }) });
    expect(() => checkWelcome(noZstd, { ...good, chosen_version: V(3, 0), chosen_capabilities: { ...cc, supported_compression: ['zstd'] } })).toThrow(/not offered/);
  });
});
