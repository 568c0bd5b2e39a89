import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isProtocolError } from '../src/errors.js';
import { rpcPayloadFromJson, toJsonView, wireFrameFromJson, type JsonValue } from '../src/wire/json-view.js';
import { rpcPayloadArb, wireFrameArb } from '../fuzz/arbitraries.js';
import { repoRoot } from './repo-root.js';
import { SCHEMA_IDS, loadSchemas, schemaFiles, validatorFor } from './schemas.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- vector files are untyped JSON */

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`schema property seed: ${seed} (FC_SEED=${seed} to replay)`);

const ajv = loadSchemas();
const U64_MAX = (1n << 64n) - 1n;

describe('schema files', () => {
  it('every schema/*.schema.json compiles under strict Ajv 2020-12', () => {
    const files = schemaFiles();
    for (const f of ['messages.schema.json', 'wire-frame.schema.json', 'rpc-payload.schema.json', 'vector-file.schema.json', 'vector-ids.schema.json', 'vector-manifest.schema.json']) {
      expect(files).toContain(f);
    }
    for (const id of Object.values(SCHEMA_IDS)) expect(typeof validatorFor(ajv, id)).toBe('function');
  });
});

describe('U64 decimal-string pattern', () => {
  const u64 = validatorFor(ajv, `${SCHEMA_IDS.messages}#/$defs/U64`);
  const oracle = (s: string) => /^(?:0|[1-9][0-9]*)$/.test(s) && BigInt(s) <= U64_MAX;

  it('accepts exactly 0 … 2^64−1 at the boundaries', () => {
    for (const ok of ['0', '1', '4294967296', '9007199254740993', '9999999999999999999', '10000000000000000000', '18446744073709551614', '18446744073709551615']) {
      expect(u64(ok), ok).toBe(true);
    }
    for (const bad of ['', '-1', '01', '00', '+1', '1.0', '1e3', ' 1', '18446744073709551616', '18446744073709551620', '18446744073709552000', '19000000000000000000', '99999999999999999999', '100000000000000000000', 7]) {
      expect(u64(bad), String(bad)).toBe(false);
    }
  });

  it('agrees with BigInt comparison on random decimal strings (property)', () => {
    const near = fc.bigInt({ min: U64_MAX - 10n ** 6n, max: U64_MAX + 10n ** 6n }).map(String);
    const any = fc.bigInt({ min: 0n, max: 10n ** 21n }).map(String);
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 21 });
    fc.assert(
      fc.property(fc.oneof(near, any, digits), (s) => {
        expect(u64(s)).toBe(oracle(s));
      }),
      { seed, numRuns: 3000 },
    );
  });
});

describe('message schema agrees with the JSON-view readers', () => {
  const wireFrame = validatorFor(ajv, SCHEMA_IDS.wireFrame);
  const rpcPayload = validatorFor(ajv, SCHEMA_IDS.rpcPayload);
  const messages = validatorFor(ajv, SCHEMA_IDS.messages);

  it('accepts the JSON view of generated messages (property)', () => {
    fc.assert(
      fc.property(wireFrameArb, (frame) => {
        const json = toJsonView(frame);
        expect(wireFrame(json), JSON.stringify(wireFrame.errors)).toBe(true);
        expect(messages(json)).toBe(true);
      }),
      { seed, numRuns: 400 },
    );
    fc.assert(
      fc.property(rpcPayloadArb, (payload) => {
        const json = toJsonView(payload);
        expect(rpcPayload(json), JSON.stringify(rpcPayload.errors)).toBe(true);
        expect(messages(json)).toBe(true);
      }),
      { seed, numRuns: 400 },
    );
  });

  // Values chosen to hit every representation rule: u32/u64 edges, hex case, names, nulls, shapes.
  const replacements: JsonValue[] = [
    null, true, false, -1, 0, 1, 1.5, 4294967295, 4294967296, '', '0', '01', '1', 'ab', 'AB', 'abc',
    '18446744073709551615', '18446744073709551616', 'none', 'zstd', 'unknown', 'lz4', 'ack', 'cancel',
    'packet', 'request', 'ok', 'err', 'error', [], ['none'], {}, { type: 'unknown' }, { type: 'ack' },
  ];
  type Mutation = { at: number; op: 'replace' | 'delete' | 'add'; pick: number };

  /** Apply one mutation at the `at`-th node (pre-order) of a deep copy. */
  function mutate(json: JsonValue, m: Mutation): JsonValue {
    const copy = JSON.parse(JSON.stringify(json)) as JsonValue;
    const slots: { parent: JsonValue[] | Record<string, JsonValue>; key: string | number }[] = [];
    const walk = (node: JsonValue) => {
      if (Array.isArray(node)) node.forEach((v, i) => (slots.push({ parent: node, key: i }), walk(v)));
      else if (node !== null && typeof node === 'object') for (const k of Object.keys(node)) slots.push({ parent: node, key: k }), walk(node[k]!);
    };
    walk(copy);
    if (slots.length === 0) return copy;
    const { parent, key } = slots[m.at % slots.length]!;
    const value = replacements[m.pick % replacements.length]!;
    if (m.op === 'replace') (parent as Record<string | number, JsonValue>)[key] = value;
    else if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
    } else if (!Array.isArray(parent)) parent['extra_key'] = value;
    else parent.push(value);
    return copy;
  }

  const accepts = (read: (j: unknown) => unknown, json: unknown): boolean => {
    try {
      read(json);
      return true;
    } catch (e) {
      if (isProtocolError(e)) return false;
      throw e;
    }
  };

  const mutation = fc.record({ at: fc.nat(), op: fc.constantFrom('replace' as const, 'delete' as const, 'add' as const), pick: fc.nat() });

  it('schema verdict == reader verdict on mutated WireFrame views (property)', () => {
    fc.assert(
      fc.property(wireFrameArb, mutation, (frame, m) => {
        const json = mutate(toJsonView(frame), m);
        expect(wireFrame(json), JSON.stringify(json)).toBe(accepts(wireFrameFromJson, json));
      }),
      { seed, numRuns: 1500 },
    );
  });

  it('schema verdict == reader verdict on mutated RpcPayload views (property)', () => {
    fc.assert(
      fc.property(rpcPayloadArb, mutation, (payload, m) => {
        const json = mutate(toJsonView(payload), m);
        expect(rpcPayload(json), JSON.stringify(json)).toBe(accepts(rpcPayloadFromJson, json));
      }),
      { seed, numRuns: 1500 },
    );
  });

  it('refuses what the strict view refuses (examples)', () => {
    expect(wireFrame({ type: 'unknown', body: null })).toBe(false);
    expect(wireFrame({ type: 'packet', body: null })).toBe(false);
    expect(wireFrame({ type: 'packet', body: { id: 2, compression: 'none', data: '' } })).toBe(false);
    expect(wireFrame({ type: 'packet', body: { id: '2', compression: 'none', data: 'AB' } })).toBe(false);
    expect(rpcPayload({ type: 'cancel', body: {} })).toBe(false);
    expect(rpcPayload({ type: 'request', body: { type: 'get_worker_stats', path: 'x' } })).toBe(false);
    expect(rpcPayload({ type: 'response', body: { status: 'err', error: { code: 'internal', message: 'm', retryable: false } } })).toBe(false);
  });
});

describe('vector files validate against their schemas', () => {
  const dir = join(repoRoot(), 'vectors');
  const vectorFile = validatorFor(ajv, SCHEMA_IDS.vectorFile);
  const wireFrame = validatorFor(ajv, SCHEMA_IDS.wireFrame);
  const rpcPayload = validatorFor(ajv, SCHEMA_IDS.rpcPayload);
  const vectorFiles = readdirSync(dir).filter((f) => f !== 'ids.json' && f !== 'manifest.json');
  const load = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { kind: string; vectors: Record<string, any>[] };

  it('ids.json and manifest.json', () => {
    for (const [file, id] of [['ids.json', SCHEMA_IDS.vectorIds], ['manifest.json', SCHEMA_IDS.vectorManifest]] as const) {
      const v = validatorFor(ajv, id);
      expect(v(JSON.parse(readFileSync(join(dir, file), 'utf8'))), `${file}: ${JSON.stringify(v.errors)}`).toBe(true);
    }
  });

  it.each(vectorFiles)('%s', (file) => {
    const data = load(file);
    expect(vectorFile(data), JSON.stringify(vectorFile.errors?.slice(0, 3))).toBe(true);
  });

  it('every JSON view inside the vectors is valid for its message schema', () => {
    let checked = 0;
    const check = (validate: typeof wireFrame, json: unknown, where: string) => {
      checked++;
      expect(validate(json), `${where}: ${JSON.stringify(validate.errors?.slice(0, 2))}`).toBe(true);
    };
    for (const file of vectorFiles) {
      const data = load(file);
      for (const v of data.vectors) {
        const where = `${data.kind}/${v['name']}`;
        if (v['json'] !== undefined) check(data.kind === 'wire_frame' ? wireFrame : rpcPayload, v['json'], where);
        if (v['inner']) check(rpcPayload, v['inner'].json, `${where} inner`);
        if (v['payload_json']) check(rpcPayload, v['payload_json'], `${where} payload`);
        for (const f of (v['frames'] ?? []) as unknown[]) if (typeof f === 'object') check(wireFrame, (f as { json: unknown }).json, `${where} frame`);
        for (const p of (v['packets'] ?? []) as { json: unknown }[]) if (p.json !== null) check(rpcPayload, p.json, `${where} packet`);
      }
    }
    expect(checked).toBeGreaterThan(300);
  });

  it('the vector-file schema refuses broken vectors (examples)', () => {
    const data = load('wire_frame.json');
    const valid = data.vectors.find((v) => v['result'] === 'valid')!;
    const invalid = data.vectors.find((v) => v['result'] === 'invalid')!;
    const withVector = (v: Record<string, unknown>) => ({ ...data, vectors: [v] });
    expect(vectorFile(withVector(valid))).toBe(true);
    expect(vectorFile(withVector({ ...valid, hex: 'AB' }))).toBe(false);
    expect(vectorFile(withVector({ ...valid, error: 'CBOR_MALFORMED' }))).toBe(false);
    expect(vectorFile(withVector({ ...valid, json: { type: 'packet', body: null } }))).toBe(false);
    expect(vectorFile(withVector({ ...valid, requirements: ['frm-1'] }))).toBe(false);
    expect(vectorFile(withVector({ ...invalid, error: undefined }))).toBe(false);
    expect(vectorFile(withVector({ ...invalid, json: valid['json'] }))).toBe(false);
    expect(vectorFile(withVector({ ...valid, result: 'maybe' }))).toBe(false);
    expect(vectorFile({ ...data, format_version: 2 })).toBe(false);
  });
});
