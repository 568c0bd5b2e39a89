/**
 * Known-failure baselines. A listed case that fails is reported but does not fail the run; a
 * listed case that passes fails the run as STALE, so the list only ever shrinks honestly.
 *
 * File format: JSON `{ "formatVersion": 1, "knownFailures": [ { "id": "...", "reason": "..." } ] }`
 * or plain text, one case id per line (`#` comments allowed).
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { CaseResult } from './runner.js';

export interface BaselineEntry {
  id: string;
  reason?: string;
}

export interface BaselineFile {
  formatVersion: 1;
  knownFailures: BaselineEntry[];
}

export function parseBaseline(text: string): BaselineEntry[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const parsed = JSON.parse(trimmed) as Partial<BaselineFile>;
    if (!Array.isArray(parsed.knownFailures)) throw new Error('baseline JSON must have a knownFailures array');
    return parsed.knownFailures.map((e) => {
      if (typeof e?.id !== 'string') throw new Error('every baseline entry needs a string id');
      return { id: e.id, ...(typeof e.reason === 'string' ? { reason: e.reason } : {}) };
    });
  }
  return trimmed
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.length > 0)
    .map((id) => ({ id }));
}

export function readBaseline(path: string): BaselineEntry[] {
  return parseBaseline(readFileSync(path, 'utf8'));
}

/** Mark results: known failures and stale entries (listed, ran, and did not fail). */
export function applyBaseline(results: CaseResult[], entries: readonly BaselineEntry[], strict: boolean): void {
  const listed = new Map(entries.map((e) => [e.id, e]));
  for (const r of results) {
    const e = listed.get(r.id);
    if (!e) continue;
    const failed = r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'error' || (strict && r.outcome === 'warn');
    if (failed) {
      r.baseline = 'known-failure';
      if (e.reason) r.notes.push(`baseline: ${e.reason}`);
    } else if (r.outcome === 'pass' || r.outcome === 'warn') {
      r.baseline = 'stale';
      r.notes.push('listed in the known-failure baseline but passes now: remove it from the baseline (or run with --update-baseline)');
    }
  }
}

/** The baseline that matches this run: every failing case, keeping reasons of entries still failing. */
export function baselineFromResults(results: readonly CaseResult[], previous: readonly BaselineEntry[], strict: boolean): BaselineFile {
  const reasons = new Map(previous.map((e) => [e.id, e.reason]));
  const ran = new Set(results.map((r) => r.id));
  const failing = results
    .filter((r) => r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'error' || (strict && r.outcome === 'warn'))
    .map((r) => ({ id: r.id, reason: reasons.get(r.id) ?? r.message?.split('\n')[0]?.slice(0, 200) ?? r.outcome }));
  // Entries for cases that did not run this time (filtered out) are kept untouched.
  const kept = previous.filter((e) => !ran.has(e.id));
  const all = [...kept, ...failing].sort((a, b) => a.id.localeCompare(b.id));
  return { formatVersion: 1, knownFailures: all.map((e) => (e.reason ? { id: e.id, reason: e.reason } : { id: e.id })) };
}

export function writeBaseline(path: string, file: BaselineFile): void {
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
}
