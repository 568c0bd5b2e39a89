/**
 * The traceability matrix: every spec requirement → the conformance cases that check it → the
 * golden vectors that pin it down, with the gaps (no case, no vector) made explicit.
 *
 * {@link buildTraceMatrix} is pure and is what other tests should reuse (e.g. "every MUST has a
 * case"); {@link loadTraceabilityInputs} reads the real inputs (spec/requirements.json, the case
 * registry of conformance/cases, vectors/*.json); {@link renderMatrixMarkdown} writes the page
 * the docs site shows.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildRegistry } from '../conformance/cases/index.js';
import { loadRequirements, parseRequirements, readChapters, type Requirement } from './spec-index.js';

export type { Requirement } from './spec-index.js';

/** What the matrix needs to know about a conformance case. */
export interface TraceCase {
  id: string;
  role: string;
  /** Requirement ids the case checks. */
  requirements: readonly string[];
  strength?: string | undefined;
  faults?: readonly string[] | undefined;
}

/** What the matrix needs to know about a golden vector. */
export interface TraceVector {
  id: string;
  /** Vector file, relative to the repository root (e.g. `vectors/framing.json`). */
  file: string;
  requirements: readonly string[];
}

export interface TraceRow {
  requirement: Requirement;
  cases: TraceCase[];
  vectors: TraceVector[];
  /** No conformance case cites this requirement. */
  noCase: boolean;
  /** No golden vector cites this requirement. */
  noVector: boolean;
  /** A MUST or SHOULD with no case: a hole in the suite, shown prominently. */
  flagged: boolean;
}

/** A case or vector citing an id that no chapter defines (a typo or a removed requirement). */
export interface DanglingRef {
  kind: 'case' | 'vector';
  ref: string;
  requirement: string;
}

export interface TraceMatrix {
  rows: TraceRow[];
  dangling: DanglingRef[];
  /** Whether each input was available; absent inputs make every row a gap of that kind. */
  sources: { cases: boolean; vectors: boolean };
  totals: { requirements: number; cases: number; vectors: number };
}

/** Strengths whose lack of a case is flagged as a hole (MAY and INFO are only listed). */
export const FLAGGED_STRENGTHS: readonly string[] = ['MUST', 'SHOULD'];

/**
 * Join requirements with cases and vectors. Pure; the order of rows is the order of
 * `requirements` (spec order), and cases / vectors keep their input order.
 */
export function buildTraceMatrix(
  requirements: readonly Requirement[],
  cases: readonly TraceCase[] | undefined,
  vectors: readonly TraceVector[] | undefined,
): TraceMatrix {
  const known = new Set(requirements.map((r) => r.id));
  const casesBy = new Map<string, TraceCase[]>();
  const vectorsBy = new Map<string, TraceVector[]>();
  const dangling: DanglingRef[] = [];
  for (const c of cases ?? []) {
    for (const id of new Set(c.requirements)) {
      if (!known.has(id)) dangling.push({ kind: 'case', ref: c.id, requirement: id });
      else (casesBy.get(id) ?? casesBy.set(id, []).get(id)!).push(c);
    }
  }
  for (const v of vectors ?? []) {
    for (const id of new Set(v.requirements)) {
      if (!known.has(id)) dangling.push({ kind: 'vector', ref: `${v.file}#${v.id}`, requirement: id });
      else (vectorsBy.get(id) ?? vectorsBy.set(id, []).get(id)!).push(v);
    }
  }
  const rows = requirements.map((requirement): TraceRow => {
    const rowCases = casesBy.get(requirement.id) ?? [];
    const rowVectors = vectorsBy.get(requirement.id) ?? [];
    return {
      requirement,
      cases: rowCases,
      vectors: rowVectors,
      noCase: rowCases.length === 0,
      noVector: rowVectors.length === 0,
      flagged: rowCases.length === 0 && FLAGGED_STRENGTHS.includes(requirement.strength),
    };
  });
  return {
    rows,
    dangling,
    sources: { cases: cases !== undefined, vectors: vectors !== undefined },
    totals: { requirements: requirements.length, cases: cases?.length ?? 0, vectors: vectors?.length ?? 0 },
  };
}

/** Requirement ids of the given strengths that no case checks (for "every MUST has a case" tests). */
export function requirementsWithoutCase(matrix: TraceMatrix, strengths: readonly string[] = ['MUST']): string[] {
  return matrix.rows.filter((r) => r.noCase && strengths.includes(r.requirement.strength)).map((r) => r.requirement.id);
}

// ---------------------------------------------------------------------------------------------
// Inputs

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The conformance cases of the suite's registry (conformance/cases). */
export function loadCases(): TraceCase[] {
  return buildRegistry()
    .all()
    .map((c) => ({ id: c.id, role: c.role, requirements: [...c.requirements], strength: c.strength, faults: [...c.faults] }));
}

/**
 * Every vector in `vectors/*.json` with the requirement ids it cites, or `undefined` when the
 * folder holds no vector file yet. Files are read in name order, vectors in file order.
 */
export function loadVectors(rootDir: string): TraceVector[] | undefined {
  const dir = join(rootDir, 'vectors');
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) return undefined;
  const out: TraceVector[] = [];
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown;
    const list = isRecord(doc) ? doc['vectors'] : undefined;
    if (!Array.isArray(list)) continue; // not a vector file (e.g. an index)
    const kind = isRecord(doc) && typeof doc['kind'] === 'string' ? doc['kind'] : f.replace(/\.json$/, '');
    for (const v of list) {
      if (!isRecord(v)) continue;
      out.push({
        // The stable vector id of docs/vectors.md: `<kind>/<name>`.
        id: typeof v['name'] === 'string' ? `${kind}/${v['name']}` : `${kind}/${String(v['id'])}`,
        file: `vectors/${f}`,
        requirements: stringArray(v['requirements']),
      });
    }
  }
  return out;
}

export interface TraceabilityInputs {
  requirements: Requirement[];
  cases: TraceCase[] | undefined;
  vectors: TraceVector[] | undefined;
}

/** Read spec/requirements.json, the case registry and the vector files of a checkout. */
export async function loadTraceabilityInputs(rootDir: string): Promise<TraceabilityInputs> {
  const specDir = join(rootDir, 'spec');
  return {
    // The checked-in index; before it is first generated, parse the chapters directly.
    requirements: existsSync(join(specDir, 'requirements.json'))
      ? loadRequirements(specDir)
      : parseRequirements(readChapters(specDir)),
    cases: loadCases(),
    vectors: loadVectors(rootDir),
  };
}

/** Convenience: load the inputs of a checkout and build its matrix. */
export async function loadTraceMatrix(rootDir: string): Promise<TraceMatrix> {
  const { requirements, cases, vectors } = await loadTraceabilityInputs(rootDir);
  return buildTraceMatrix(requirements, cases, vectors);
}

// ---------------------------------------------------------------------------------------------
// Rendering

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Requirement text as HTML: escaped, `code` spans kept, markdown links reduced to their label. */
function inlineText(s: string): string {
  const withoutLinks = s.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
  return withoutLinks
    .split('`')
    .map((part, i) => (i % 2 === 1 ? `<code>${escapeHtml(part)}</code>` : escapeHtml(part.replace(/\*\*/g, ''))))
    .join('');
}

export interface RenderOptions {
  /** Path from the generated markdown file to the spec folder, e.g. `../../spec`. */
  specPath: string;
  /** Path from the generated markdown file to the repository root (for vector file links). */
  rootPath: string;
}

const STATUS_NO_CASE = 'no case yet';
const STATUS_NO_VECTOR = 'no vector';

/** An id with line-break opportunities after its separators (case and vector ids are long). */
function breakableId(id: string): string {
  return escapeHtml(id).replace(/([./_-])/g, '$1<wbr>');
}

function casesCell(row: TraceRow): string {
  if (!row.noCase) return list(row.cases.map((c) => `<code>${breakableId(c.id)}</code>`));
  return row.flagged
    ? `<span class="nc-flag nc-flag-case">✗ ${STATUS_NO_CASE}</span>`
    : `<span class="nc-gap nc-gap-case">${STATUS_NO_CASE}</span>`;
}

function vectorsCell(row: TraceRow, o: RenderOptions): string {
  if (row.noVector) return `<span class="nc-gap nc-gap-vector">${STATUS_NO_VECTOR}</span>`;
  return list(row.vectors.map((v) => `<a href="${o.rootPath}/${v.file}" title="${escapeHtml(v.file)}"><code>${breakableId(v.id)}</code></a>`));
}

function reqLink(r: Requirement, o: RenderOptions): string {
  return `<a href="${o.specPath}/${r.chapter}#${r.anchor}">${r.id}</a>`;
}

function rowClass(row: TraceRow): string {
  if (row.flagged) return 'nc-row-flagged';
  if (row.noCase || row.noVector) return 'nc-row-gap';
  return 'nc-row-ok';
}

/** Items shown in a matrix cell before the rest is summarised as "+N more". */
export const MAX_ITEMS_PER_CELL = 6;

function list(items: string[]): string {
  if (items.length === 0) return '<span class="nc-none">—</span>';
  if (items.length <= MAX_ITEMS_PER_CELL) return items.join('<br>');
  const shown = items.slice(0, MAX_ITEMS_PER_CELL - 1);
  return `${shown.join('<br>')}<br><span class="nc-more">+${items.length - shown.length} more</span>`;
}

/**
 * The matrix page as markdown (with HTML tables, so rows can be styled and the page stays
 * readable with ~150 requirements). Links point at the spec chapters' requirement anchors.
 */
export function renderMatrixMarkdown(matrix: TraceMatrix, o: RenderOptions): string {
  const out: string[] = [];
  const { rows } = matrix;
  out.push('# Traceability matrix', '');
  // Marker for the site CSS: this page uses the full width (no page outline column).
  out.push('<div class="nc-wide-page"></div>', '');
  out.push(
    'Every requirement of the specification, the conformance cases that check it and the golden',
    'vectors that pin it down. Generated on every docs build from `spec/requirements.json`, the',
    'conformance case registry and `vectors/*.json`; do not edit.',
    '',
  );
  const notes: string[] = [];
  if (!matrix.sources.cases) notes.push('the conformance case registry does not exist yet, so no requirement has a case');
  if (!matrix.sources.vectors) notes.push('there are no vector files yet, so no requirement has a vector');
  if (notes.length > 0) out.push(`> **Note:** ${notes.join('; ')}.`, '');

  // Summary by strength.
  const strengths = [...new Set(rows.map((r) => r.requirement.strength))];
  out.push('## Summary', '');
  out.push('<table class="nc-matrix nc-summary">');
  out.push('<thead><tr><th>Strength</th><th>Requirements</th><th>With a case</th><th>With a vector</th><th>No case</th><th>No vector</th></tr></thead>');
  out.push('<tbody>');
  const summaryRow = (label: string, rs: TraceRow[]): string => {
    const noCase = rs.filter((r) => r.noCase).length;
    const flagged = rs.some((r) => r.flagged);
    return `<tr><td>${label}</td><td>${rs.length}</td><td>${rs.length - noCase}</td>` +
      `<td>${rs.filter((r) => !r.noVector).length}</td>` +
      `<td${noCase > 0 && flagged ? ' class="nc-cell-flagged"' : ''}>${noCase}</td>` +
      `<td>${rs.filter((r) => r.noVector).length}</td></tr>`;
  };
  for (const s of strengths) out.push(summaryRow(s, rows.filter((r) => r.requirement.strength === s)));
  out.push(summaryRow('<strong>All</strong>', rows));
  out.push('</tbody></table>', '');
  out.push(
    `${matrix.totals.requirements} requirements, ${matrix.totals.cases} conformance cases, ` +
      `${matrix.totals.vectors} golden vectors.`,
    '',
  );

  // Holes first: MUST/SHOULD without a case, compactly, by chapter (details in the matrix below).
  const flagged = rows.filter((r) => r.flagged);
  out.push('## MUST and SHOULD requirements with no case', '');
  if (flagged.length === 0) {
    out.push('None: every MUST and SHOULD requirement is checked by at least one case.', '');
  } else {
    out.push(`${flagged.length} MUST or SHOULD requirement(s) that no conformance case checks yet (each links to its row below):`, '');
    out.push('<ul class="nc-gaplist">');
    for (const chapter of [...new Set(flagged.map((r) => r.requirement.chapter))]) {
      const rs = flagged.filter((r) => r.requirement.chapter === chapter);
      const ids = rs.map((r) =>
        `<a class="nc-id nc-id-${r.requirement.strength.toLowerCase()}" href="#m-${r.requirement.id}" title="${r.requirement.strength}: ${escapeHtml(r.requirement.text.replace(/`/g, ''))}">${r.requirement.id}</a>`);
      out.push(`<li><span class="nc-gap-chapter">${escapeHtml(rs[0]!.requirement.title)}</span> ${ids.join(' ')}</li>`);
    }
    out.push('</ul>', '');
  }

  if (matrix.dangling.length > 0) {
    out.push('## Citations of unknown requirement ids', '');
    out.push('<ul class="nc-gaplist">');
    for (const d of matrix.dangling) out.push(`<li>${d.kind} <code>${escapeHtml(d.ref)}</code> cites <code>${escapeHtml(d.requirement)}</code>, which no chapter defines</li>`);
    out.push('</ul>', '');
  }

  // The matrix, one table per chapter.
  out.push('## Matrix', '');
  out.push(
    'Legend: <span class="nc-flag nc-flag-case">✗ no case yet</span> a MUST or SHOULD that no case checks; ' +
      '<span class="nc-gap nc-gap-case">no case yet</span> a MAY or INFO that no case checks; ' +
      '<span class="nc-gap nc-gap-vector">no vector</span> no golden vector cites it ' +
      '(many behavioural requirements have no byte-level vector, by nature).',
    '',
  );
  const chapters = [...new Set(rows.map((r) => r.requirement.chapter))];
  for (const chapter of chapters) {
    const rs = rows.filter((r) => r.requirement.chapter === chapter);
    const title = rs[0]!.requirement.title;
    out.push(`### ${title}`, '');
    const withCase = rs.filter((r) => !r.noCase).length;
    const withVector = rs.filter((r) => !r.noVector).length;
    out.push(
      `<p class="nc-chapter-link">Chapter: <a href="${o.specPath}/${chapter}">${escapeHtml(chapter)}</a> · ` +
        `${withCase} of ${rs.length} requirements with a case · ${withVector} with a vector</p>`,
    );
    out.push('<table class="nc-matrix">');
    out.push('<thead><tr><th>Requirement</th><th>Text</th><th>Cases</th><th>Vectors</th></tr></thead>');
    out.push('<tbody>');
    for (const row of rs) {
      const r = row.requirement;
      out.push(
        `<tr id="m-${r.id}" class="${rowClass(row)}"><td>${reqLink(r, o)}<br>` +
          `<span class="nc-strength nc-strength-${r.strength.toLowerCase()}">${r.strength}</span> ` +
          `<span class="nc-role">${r.role}</span></td>` +
          `<td>${inlineText(r.text)}</td><td>${casesCell(row)}</td><td>${vectorsCell(row, o)}</td></tr>`,
      );
    }
    out.push('</tbody></table>', '');
  }
  return out.join('\n');
}
