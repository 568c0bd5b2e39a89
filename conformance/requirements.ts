/**
 * Requirement texts for reports: spec/requirements.json (generated from the spec chapters by
 * scripts/spec-index.ts) when present, else the seed list spec/requirements-seed.md.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findSpecDir, loadRequirements } from '../scripts/spec-index.js';

export interface ReqInfo {
  id: string;
  strength: string;
  /** router | worker | both */
  role: string;
  text: string;
  /** Link target inside the spec, when known (chapter#anchor). */
  anchor?: string;
}

const SEED_LINE = /^- ([A-Z]{2,5}-[0-9]+) \[(MUST|SHOULD|MAY|INFO)\](?: ([RWB]))?:? ?(.*)$/;

/** Parse the seed list (fallback until requirements.json exists). Exported for tests. */
export function parseSeed(markdown: string): ReqInfo[] {
  const out: ReqInfo[] = [];
  for (const line of markdown.split('\n')) {
    const m = SEED_LINE.exec(line.trim());
    if (!m) continue;
    const role = m[3] === 'R' ? 'router' : m[3] === 'W' ? 'worker' : 'both';
    out.push({ id: m[1]!, strength: m[2]!, role, text: m[4]!.trim() });
  }
  return out;
}

let cache: Map<string, ReqInfo> | undefined;

/** Every requirement, by id. */
export function allRequirements(): Map<string, ReqInfo> {
  if (cache) return cache;
  const map = new Map<string, ReqInfo>();
  let specDir: string | undefined;
  try {
    specDir = findSpecDir();
  } catch {
    specDir = undefined;
  }
  if (specDir && existsSync(join(specDir, 'requirements.json'))) {
    try {
      for (const r of loadRequirements()) {
        map.set(r.id, { id: r.id, strength: r.strength, role: r.role, text: r.text, anchor: `${r.chapter}#${r.anchor}` });
      }
    } catch {
      map.clear();
    }
  }
  if (map.size === 0 && specDir && existsSync(join(specDir, 'requirements-seed.md'))) {
    for (const r of parseSeed(readFileSync(join(specDir, 'requirements-seed.md'), 'utf8'))) map.set(r.id, r);
  }
  cache = map;
  return map;
}

/** The reference shown next to a result (unknown ids are shown as such, never dropped). */
export function requirementText(id: string): { id: string; strength: string; text: string } {
  const r = allRequirements().get(id);
  return r ? { id, strength: r.strength, text: r.text } : { id, strength: '?', text: '(requirement text not found in the spec index)' };
}
