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
  steps: Array<{ kind: 'frame' | 'raw'; hex: string; note?: string }>;
  expected: { end: Expectation['end']; reason: string; rule?: string; mustAnswer: string[]; mayAnswer: string[] };
  failure: Failure;
  observed: Observation;
  originalStepCount: number;
  shrinkRuns: number;
  target: string;
  createdAt: string;
  tool: string;
}

export function stepsToJson(steps: readonly FuzzStep[]): RegressionFile['steps'] {
  return steps.map((s) => ({ kind: s.kind, hex: toHex(s.kind === 'frame' ? s.body : s.bytes), ...(s.note ? { note: s.note } : {}) }));
}

export function stepsFromJson(json: RegressionFile['steps']): FuzzStep[] {
  return json.map((s) => (s.kind === 'frame' ? { kind: 'frame', body: fromHex(s.hex), ...(s.note ? { note: s.note } : {}) } : { kind: 'raw', bytes: fromHex(s.hex), ...(s.note ? { note: s.note } : {}) }));
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
