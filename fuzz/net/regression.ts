/**
 * Regression files: one JSON document per minimised network failure, replayable with
 * `nova-conformance replay FILE`.
 *
 * Format (`format: "nova-conformance/fuzz-regression"`, `version: 1`):
 *
 * ```jsonc
 * {
 *   "format": "nova-conformance/fuzz-regression",
 *   "version": 1,
 *   "role": "router" | "worker",          // role of the implementation under test
 *   "seed": "12345",                        // campaign seed (decimal string, as given to --seed)
 *   "caseIndex": 17,                        // case number within the campaign (0-based)
 *   "caseSeed": 3735928559,                 // the case's own PRNG seed (u32)
 *   "shardId": 0,                           // shard used in Hello / expected in the worker Hello
 *   "steps": [                              // what the fuzzer writes, in order, after connecting
 *     { "kind": "frame", "hex": "a2…", "note": "hello" },   // body; a u32-LE length prefix is added on the wire
 *     { "kind": "raw", "hex": "ffffffff00", "note": "lying-prefix" }  // written exactly as is
 *   ],
 *   // step 0 is the handshake frame: our Hello (router target) or our Welcome, sent after the
 *   // worker's Hello (worker target); steps 1… follow once the handshake answer arrived.
 *   "expected": { "end": "open" | "close" | "any", "reason": "…", "rule": "FRM-3",
 *                 "mustAnswer": ["3"], "mayAnswer": [] },     // the model's verdict when found
 *   "failure": { "kind": "no-close", "rule": "FRM-3", "detail": "…" },
 *   "observed": { … },                     // what the target did (handshake, closed, responses…)
 *   "originalStepCount": 9,                 // before shrinking
 *   "shrinkRuns": 41,
 *   "target": "router spawned by: …",
 *   "createdAt": "2026-11-23T13:40:00.000Z",
 *   "tool": "nova-conformance fuzz"
 * }
 * ```
 *
 * Replay recomputes the expectation from the steps with the current model, so a file stays
 * meaningful when the model improves; `expected` records what it was when the file was made.
 *
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex } from '../../conformance/cbor.js';
import { derivedTokenVariants, type TokenVariant } from './generate.js';
import type { Expectation, FuzzStep, TargetRole } from './model.js';
import type { Failure, Observation } from './runner.js';

export const REGRESSION_FORMAT = 'nova-conformance/fuzz-regression';
export const REGRESSION_VERSION = 1;

export interface RegressionFile {
  format: typeof REGRESSION_FORMAT;
  version: typeof REGRESSION_VERSION;
  role: TargetRole;
  seed: string;
  caseIndex: number;
  caseSeed: number;
  shardId: number;
  steps: Array<{ kind: 'frame' | 'raw'; hex: string; note?: string; tokenSlots?: TokenSlot[] }>;
  expected: { end: Expectation['end']; reason: string; rule?: string; mustAnswer: string[]; mayAnswer: string[] };
  failure: Failure;
  observed: Observation;
  originalStepCount: number;
  shrinkRuns: number;
  target: string;
  createdAt: string;
  tool: string;
}

/**
 * Where an auth token (or a variant derived from it: case-changed, truncated; an extra byte leaves
 * the token itself in place) was cut out of a step's bytes. The bytes hold `*` there; replay with
 * the same token (`--auth-token-file` / `--auth-token-env`) writes the variant back [SEC-2].
 */
export interface TokenSlot {
  offset: number;
  variant: TokenVariant;
}

/** The bytes of a step with every token-derived substring replaced by `*`, and where. */
export function redactBytes(bytes: Uint8Array, token: string | null): { bytes: Uint8Array; slots: TokenSlot[] } {
  if (!token) return { bytes, slots: [] };
  const out = Buffer.from(bytes);
  const slots: TokenSlot[] = [];
  for (const { variant, text } of derivedTokenVariants(token)) {
    const needle = Buffer.from(text, 'utf8');
    if (needle.length === 0 || (variant === 'truncated' && needle.length < 3)) continue;
    for (let i = out.indexOf(needle); i >= 0; i = out.indexOf(needle, i + needle.length)) {
      slots.push({ offset: i, variant });
      out.fill(0x2a, i, i + needle.length);
    }
  }
  return { bytes: new Uint8Array(out), slots };
}

/** Steps as stored: hex, with the auth token redacted (`token`: the configured token, if any). */
export function stepsToJson(steps: readonly FuzzStep[], token: string | null = null): RegressionFile['steps'] {
  return steps.map((s) => {
    const { bytes, slots } = redactBytes(s.kind === 'frame' ? s.body : s.bytes, token);
    return { kind: s.kind, hex: toHex(bytes), ...(s.note ? { note: s.note } : {}), ...(slots.length ? { tokenSlots: slots } : {}) };
  });
}

/** Steps from a file; redacted token slots are filled from `token` (an error without it). */
export function stepsFromJson(json: RegressionFile['steps'], token: string | null = null): FuzzStep[] {
  return json.map((s) => {
    let bytes = fromHex(s.hex);
    if (s.tokenSlots?.length) {
      if (!token) throw new Error('the steps contain a redacted auth token: give the same token with --auth-token-file or --auth-token-env');
      const variants = new Map(derivedTokenVariants(token).map((v) => [v.variant, Buffer.from(v.text, 'utf8')]));
      const out = Buffer.from(bytes);
      for (const slot of s.tokenSlots) {
        const v = variants.get(slot.variant);
        if (!v || slot.offset + v.length > out.length || out.subarray(slot.offset, slot.offset + v.length).some((b) => b !== 0x2a)) {
          throw new Error('the redacted auth token does not fit: replay with the token the file was made with');
        }
        v.copy(out, slot.offset);
      }
      bytes = new Uint8Array(out);
    }
    return s.kind === 'frame' ? { kind: 'frame', body: bytes, ...(s.note ? { note: s.note } : {}) } : { kind: 'raw', bytes, ...(s.note ? { note: s.note } : {}) };
  });
}

export function expectationToJson(e: Expectation): RegressionFile['expected'] {
  return { end: e.end, reason: e.reason, ...(e.rule ? { rule: e.rule } : {}), mustAnswer: e.mustAnswer.map(String), mayAnswer: e.mayAnswer.map(String) };
}

/** Validate a parsed document; throws an Error naming the first problem. */
export function validateRegression(doc: unknown): RegressionFile {
  const d = doc as Partial<RegressionFile> | null;
  const bad = (what: string): never => {
    throw new Error(`not a fuzz regression file: ${what}`);
  };
  if (!d || typeof d !== 'object') return bad('not a JSON object');
  if (d.format !== REGRESSION_FORMAT) return bad(`format must be "${REGRESSION_FORMAT}"`);
  if (d.version !== REGRESSION_VERSION) return bad(`unsupported version (this tool reads ${REGRESSION_VERSION})`);
  if (d.role !== 'router' && d.role !== 'worker') return bad('role must be router or worker');
  if (!Array.isArray(d.steps) || d.steps.length === 0) return bad('steps must be a non-empty array');
  d.steps.forEach((s, i) => {
    if (!s || (s.kind !== 'frame' && s.kind !== 'raw')) bad(`steps[${i}].kind must be frame or raw`);
    if (typeof s.hex !== 'string' || !/^(?:[0-9a-f]{2})*$/i.test(s.hex)) bad(`steps[${i}].hex must be hex`);
    if (s.tokenSlots !== undefined && (!Array.isArray(s.tokenSlots) || s.tokenSlots.some((t) => !Number.isInteger(t?.offset) || t.offset < 0 || typeof t.variant !== 'string'))) {
      bad(`steps[${i}].tokenSlots must be a list of { offset, variant }`);
    }
  });
  if (typeof d.shardId !== 'number' || !Number.isInteger(d.shardId) || d.shardId < 0) return bad('shardId must be a u32');
  if (!d.failure || typeof d.failure.kind !== 'string') return bad('failure.kind missing');
  return d as RegressionFile;
}

export function loadRegression(path: string): RegressionFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON`);
  }
  return validateRegression(doc);
}

/** Write a regression file into `dir`; returns its path. */
export function saveRegression(dir: string, file: RegressionFile): string {
  mkdirSync(dir, { recursive: true });
  const name = `fuzz-${file.role}-${file.failure.kind}-${file.seed.replace(/[^0-9a-zA-Z]/g, '').slice(0, 24)}-${file.caseIndex}.json`;
  const path = join(dir, name);
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
  return path;
}
