/**
 * Requirement texts for reports: spec/requirements.json, generated from the spec chapters by
 * scripts/spec-index.ts.
 *
 * @module
 */
import { existsSync } from 'node:fs';
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
  cache = map;
  return map;
}

/** The reference shown next to a result (unknown ids are shown as such, never dropped). */
export function requirementText(id: string): { id: string; strength: string; text: string } {
  const r = allRequirements().get(id);
  return r ? { id, strength: r.strength, text: r.text } : { id, strength: '?', text: '(requirement text not found in the spec index)' };
}
