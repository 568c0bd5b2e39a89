/**
 * The requirement index of the specification.
 *
 * The chapters in `spec/NN-*.md` state every normative requirement on one line of this form
 * (documented in spec/01-overview.md, "Requirement syntax"):
 *
 * ```text
 * - <a id="HS-4"></a>**HS-4** MUST (router): The router runs the Hello checks in this order: …
 * - <a id="CAN-2"></a>**CAN-2** MUST (both; needs cancel): …
 * ```
 *
 * This module parses those lines into {@link Requirement} records and writes them to
 * `spec/requirements.json`, which reports and the conformance runner read at run time through
 * {@link loadRequirements}. Run as a script (`node dist/scripts/spec-index.js`) it rewrites the
 * json; with `--check` it only verifies that the json is current and exits 1 if not.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Requirement strength. INFO records a fact that is graded informational only. */
export type Strength = 'MUST' | 'SHOULD' | 'MAY' | 'INFO';
export const STRENGTHS: readonly Strength[] = ['MUST', 'SHOULD', 'MAY', 'INFO'];

/** Which peer a requirement constrains. */
export type Role = 'router' | 'worker' | 'both';
export const ROLES: readonly Role[] = ['router', 'worker', 'both'];

/**
 * Conditions that make a requirement applicable: a negotiated capability (`zstd`, `cancel`,
 * `chunking`) or a configured feature (`auth` = an auth token is configured, `tls`, `mtls`,
 * `unix` = a unix-socket transport). Empty = always applicable to its role.
 */
export type Need = 'zstd' | 'cancel' | 'chunking' | 'auth' | 'tls' | 'mtls' | 'unix';
export const NEEDS: readonly Need[] = ['zstd', 'cancel', 'chunking', 'auth', 'tls', 'mtls', 'unix'];

export interface Requirement {
  /** Stable id, `PREFIX-N`; never renumbered or reused. */
  id: string;
  strength: Strength;
  role: Role;
  /** Conditions for applicability (see {@link Need}); additive field, empty when unconditional. */
  needs: Need[];
  /** Chapter file name, e.g. `06-handshake.md`. */
  chapter: string;
  /** Chapter title (its first `# ` heading). */
  title: string;
  /** HTML anchor inside the chapter (equal to the id), so `spec/<chapter>#<anchor>` links to it. */
  anchor: string;
  /** The one testable sentence. */
  text: string;
}

export interface RequirementsFile {
  formatVersion: 1;
  generatedFrom: 'spec/*.md';
  requirements: Requirement[];
}

/** Raised when the chapters contain malformed or duplicate requirement lines. Lists every problem. */
export class SpecIndexError extends Error {
  override readonly name = 'SpecIndexError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`spec index: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/** Id grammar: upper-case prefix, hyphen, positive decimal without leading zero. */
export const ID_PATTERN = /^[A-Z]{2,5}-[1-9][0-9]*$/;

/** Chapter files: two digits, a hyphen, a lower-case slug, `.md`. */
export const CHAPTER_FILE_PATTERN = /^[0-9]{2}-[a-z0-9-]+\.md$/;

const REQUIREMENT_LINE =
  /^- <a id="([A-Z]{2,5}-[1-9][0-9]*)"><\/a>\*\*([A-Z]{2,5}-[1-9][0-9]*)\*\* (MUST|SHOULD|MAY|INFO) \((router|worker|both)(?:; needs ([a-z]+(?:, [a-z]+)*))?\): (\S.*)$/;
/** Anything that looks like an attempt at a requirement line, to report malformed ones. */
const LOOKS_LIKE_REQUIREMENT = /^\s*[-*] +(?:<a id="|\*\*\[?[A-Z]{2,5}-[0-9]+\]?\*\*)/;

function idParts(id: string): { prefix: string; number: number } {
  const dash = id.indexOf('-');
  return { prefix: id.slice(0, dash), number: Number(id.slice(dash + 1)) };
}

/**
 * Parse requirement lines from chapter markdown.
 *
 * @param markdownByFile chapter file name (e.g. `06-handshake.md`) → file content. Only names that
 *   match {@link CHAPTER_FILE_PATTERN} are read; chapter order is file-name order.
 * @returns requirements sorted by chapter order, then by id prefix in order of first appearance
 *   within the chapter, then by id number.
 * @throws SpecIndexError listing every malformed line, duplicate id, bad `needs` value and
 *   chapter without a title.
 */
export function parseRequirements(markdownByFile: Readonly<Record<string, string>>): Requirement[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const out: Requirement[] = [];
  const files = Object.keys(markdownByFile)
    .filter((f) => CHAPTER_FILE_PATTERN.test(f))
    .sort();

  for (const chapter of files) {
    const lines = (markdownByFile[chapter] ?? '').split(/\r?\n/);
    const titleLine = lines.find((l) => l.startsWith('# '));
    const title = titleLine ? titleLine.slice(2).trim() : '';
    if (!title) problems.push(`${chapter}: no "# " title line`);
    const inChapter: Requirement[] = [];
    let inFence = false;
    lines.forEach((line, index) => {
      const where = `${chapter}:${index + 1}`;
      if (/^\s*(```|~~~)/.test(line)) {
        inFence = !inFence;
        return;
      }
      if (inFence) return;
      const m = REQUIREMENT_LINE.exec(line);
      if (!m) {
        if (LOOKS_LIKE_REQUIREMENT.test(line)) problems.push(`${where}: malformed requirement line`);
        return;
      }
      const [, anchorId, shownId, strength, role, needsText, text] = m as unknown as [
        string, string, string, Strength, Role, string | undefined, string,
      ];
      if (anchorId !== shownId) {
        problems.push(`${where}: anchor ${anchorId} differs from the shown id ${shownId}`);
        return;
      }
      const needs = needsText ? needsText.split(', ') : [];
      const badNeeds = needs.filter((n) => !(NEEDS as readonly string[]).includes(n));
      if (badNeeds.length > 0) problems.push(`${where}: unknown needs value(s) ${badNeeds.join(', ')}`);
      if (new Set(needs).size !== needs.length) problems.push(`${where}: repeated needs value`);
      const previous = seen.get(anchorId);
      if (previous) {
        problems.push(`${where}: duplicate id ${anchorId} (first at ${previous})`);
        return;
      }
      seen.set(anchorId, where);
      inChapter.push({
        id: anchorId,
        strength,
        role,
        needs: needs as Need[],
        chapter,
        title,
        anchor: anchorId,
        text: text.trim(),
      });
    });
    if (inFence) problems.push(`${chapter}: unclosed code fence`);
    const prefixOrder: string[] = [];
    for (const r of inChapter) {
      const { prefix } = idParts(r.id);
      if (!prefixOrder.includes(prefix)) prefixOrder.push(prefix);
    }
    inChapter.sort((a, b) => {
      const pa = idParts(a.id);
      const pb = idParts(b.id);
      return prefixOrder.indexOf(pa.prefix) - prefixOrder.indexOf(pb.prefix) || pa.number - pb.number;
    });
    out.push(...inChapter);
  }
  if (problems.length > 0) throw new SpecIndexError(problems);
  return out;
}

/** Build the json document for a list of requirements. */
export function toRequirementsFile(requirements: Requirement[]): RequirementsFile {
  return { formatVersion: 1, generatedFrom: 'spec/*.md', requirements };
}

/** The exact text written to spec/requirements.json (2-space indent, final newline). */
export function renderRequirementsJson(requirements: Requirement[]): string {
  return `${JSON.stringify(toRequirementsFile(requirements), null, 2)}\n`;
}

/**
 * Find the package's `spec/` directory from this module's location (works from `scripts/` under
 * vitest and from `dist/scripts/` after the build, and in an installed package).
 */
export function findSpecDir(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, 'spec');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`spec directory not found above ${start}`);
    dir = parent;
  }
}

/** Read every chapter file of a spec directory into the map {@link parseRequirements} expects. */
export function readChapters(specDir: string = findSpecDir()): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(specDir).sort()) {
    if (CHAPTER_FILE_PATTERN.test(name)) out[name] = readFileSync(join(specDir, name), 'utf8');
  }
  return out;
}

let cached: Requirement[] | undefined;

/**
 * The checked-in requirement index (`spec/requirements.json`), read once and cached. Used by
 * reports and the conformance runner to quote a requirement next to each result.
 */
export function loadRequirements(specDir?: string): Requirement[] {
  if (specDir === undefined && cached) return cached;
  const file = join(specDir ?? findSpecDir(), 'requirements.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as RequirementsFile;
  if (parsed.formatVersion !== 1 || !Array.isArray(parsed.requirements)) {
    throw new Error(`${file}: unsupported requirements format`);
  }
  if (specDir === undefined) cached = parsed.requirements;
  return parsed.requirements;
}

/** Lookup by id over {@link loadRequirements}. */
export function requirementById(id: string): Requirement | undefined {
  return loadRequirements().find((r) => r.id === id);
}

/** Regenerate (or with `check`, verify) spec/requirements.json. Returns a process exit code. */
export function main(argv: readonly string[] = process.argv.slice(2)): number {
  const check = argv.includes('--check');
  const specDir = findSpecDir();
  let requirements: Requirement[];
  try {
    requirements = parseRequirements(readChapters(specDir));
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
  const rendered = renderRequirementsJson(requirements);
  const target = join(specDir, 'requirements.json');
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (check) {
    if (current !== rendered) {
      console.error('spec/requirements.json is out of date: run `npm run spec:index`');
      return 1;
    }
    console.log(`spec/requirements.json is current (${requirements.length} requirements)`);
    return 0;
  }
  if (current !== rendered) writeFileSync(target, rendered);
  console.log(`spec/requirements.json: ${requirements.length} requirements${current === rendered ? ' (unchanged)' : ''}`);
  return 0;
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  process.exitCode = main();
}
