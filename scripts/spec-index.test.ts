import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as limits from '../src/limits.js';
import {
  ID_PATTERN,
  NEEDS,
  SpecIndexError,
  findSpecDir,
  loadRequirements,
  parseRequirements,
  readChapters,
  renderRequirementsJson,
  type Requirement,
} from './spec-index.js';

/**
 * Every id published in the requirement seed (the former spec/requirements-seed.md, superseded by
 * the chapters), with the strength and role (R router, W worker, B both) it was published with.
 * Ids are a contract other code cites: none may ever disappear or change its strength or role.
 * A deliberate change must be recorded in SEED_CHANGES_ALLOWED together with a spec note.
 */
const SEED: Readonly<Record<string, string>> = {
  'TRN-1': 'MUST B', 'TRN-2': 'MUST B', 'TRN-3': 'SHOULD R', 'TRN-4': 'MUST B',
  'FRM-1': 'MUST B', 'FRM-2': 'MUST B', 'FRM-3': 'MUST B', 'FRM-4': 'MUST B', 'FRM-5': 'MUST B', 'FRM-6': 'MUST B', 'FRM-7': 'MUST B',
  'CBOR-1': 'MUST B', 'CBOR-2': 'MUST B', 'CBOR-3': 'MUST B', 'CBOR-4': 'MUST B', 'CBOR-5': 'MUST B', 'CBOR-6': 'MUST B',
  'CBOR-7': 'MUST B', 'CBOR-8': 'MUST B', 'CBOR-9': 'MUST B', 'CBOR-10': 'SHOULD B', 'CBOR-11': 'MAY B', 'CBOR-12': 'MUST B',
  'MSG-1': 'MUST B', 'MSG-2': 'MUST B', 'MSG-3': 'MUST B',
  'HS-1': 'MUST W', 'HS-2': 'MUST R', 'HS-3': 'MUST R', 'HS-4': 'MUST R', 'HS-5': 'MUST R', 'HS-6': 'SHOULD R',
  'HS-7': 'MUST B', 'HS-8': 'MUST W', 'HS-9': 'MUST R', 'HS-10': 'SHOULD W', 'HS-11': 'MUST R',
  'NEG-1': 'MUST R', 'NEG-2': 'MUST R', 'NEG-3': 'MUST R', 'NEG-4': 'MUST B', 'NEG-5': 'SHOULD B',
  'VER-1': 'MUST R', 'VER-2': 'MUST B',
  // ID-1 was published as "[MUST] R … ; [MUST] W …": one rule for both roles.
  'ID-1': 'MUST B', 'ID-2': 'MUST B', 'ID-3': 'MUST B', 'ID-4': 'MUST B', 'ID-5': 'MAY B', 'ID-6': 'MUST B',
  'DATA-1': 'MUST B', 'DATA-2': 'MUST B', 'DATA-3': 'SHOULD B', 'DATA-4': 'MUST B', 'DATA-5': 'MUST B', 'DATA-6': 'SHOULD B',
  'DATA-7': 'MUST W', 'DATA-8': 'MUST W', 'DATA-9': 'MUST B',
  'ERR-1': 'MUST B', 'ERR-2': 'MUST B', 'ERR-3': 'SHOULD B',
  'CAN-1': 'MUST B', 'CAN-2': 'MUST B', 'CAN-3': 'MUST B', 'CAN-4': 'SHOULD B', 'CAN-5': 'SHOULD W',
  'CHK-1': 'MUST B', 'CHK-2': 'MUST B', 'CHK-3': 'MUST B', 'CHK-4': 'MUST B', 'CHK-5': 'MUST B', 'CHK-6': 'MUST B',
  'CHK-7': 'MUST B', 'CHK-8': 'MUST B', 'CHK-9': 'SHOULD B',
  'CMP-1': 'MUST B', 'CMP-2': 'MUST B', 'CMP-3': 'MUST B', 'CMP-4': 'MUST B', 'CMP-5': 'SHOULD B', 'CMP-6': 'MUST B',
  'LIM-1': 'MUST B', 'LIM-2': 'SHOULD B',
  'SEC-1': 'MUST R', 'SEC-2': 'MUST B', 'SEC-3': 'SHOULD B', 'SEC-4': 'SHOULD R',
  'FWD-1': 'MUST B', 'FWD-2': 'MUST B', 'FWD-3': 'SHOULD B',
};
const SEED_IDS = Object.keys(SEED);
const SEED_CHANGES_ALLOWED = new Set<string>();
const ROLE_LETTER = { router: 'R', worker: 'W', both: 'B' } as const;

const specDir = findSpecDir();
const chapters = readChapters(specDir);
const requirements = parseRequirements(chapters);
const byId = new Map(requirements.map((r) => [r.id, r]));

/** GitHub / typedoc style heading slug. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function headingSlugs(markdown: string): Set<string> {
  const out = new Set<string>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (inFence) continue;
    const m = /^#{1,6} (.+)$/.exec(line);
    if (m?.[1]) out.add(slug(m[1]));
  }
  return out;
}

describe('spec chapters', () => {
  it('has numbered chapter files, each with a title', () => {
    const names = Object.keys(chapters);
    expect(names.length).toBeGreaterThanOrEqual(15);
    for (const name of names) expect(chapters[name]).toMatch(/^# \S/m);
  });

  it('defines well-formed, unique requirement ids', () => {
    expect(requirements.length).toBeGreaterThan(100);
    const ids = requirements.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of requirements) {
      expect(r.id, r.id).toMatch(ID_PATTERN);
      expect(r.anchor).toBe(r.id);
      expect(r.text.length, r.id).toBeGreaterThan(20);
      // One sentence: ends with a full stop and carries no line break.
      expect(r.text, r.id).toMatch(/\.$/);
      expect(r.text, r.id).not.toMatch(/\n/);
    }
  });

  it('keeps every seed id', () => {
    const missing = SEED_IDS.filter((id) => !byId.has(id));
    expect(missing).toEqual([]);
  });

  it('keeps every seed id with its published strength and role', () => {
    expect(SEED_IDS.length).toBe(91);
    for (const id of SEED_IDS) {
      if (SEED_CHANGES_ALLOWED.has(id)) continue;
      const r = byId.get(id);
      expect(r && `${r.strength} ${ROLE_LETTER[r.role]}`, id).toBe(SEED[id]);
    }
  });

  it('has a checked-in spec/requirements.json that is up to date (run `npm run spec:index`)', () => {
    const file = join(specDir, 'requirements.json');
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(renderRequirementsJson(requirements));
  });

  it('loadRequirements() returns the checked-in index', () => {
    const loaded = loadRequirements();
    expect(loaded).toEqual(requirements);
    expect(loaded.find((r) => r.id === 'FRM-3')?.chapter).toBe('03-framing.md');
  });

  it('only mentions requirement ids that exist', () => {
    const prefixes = new Set(requirements.map((r) => r.id.split('-')[0]));
    const dangling: string[] = [];
    for (const [file, text] of Object.entries(chapters)) {
      for (const m of text.matchAll(/\b([A-Z]{2,5})-([0-9]+)\b/g)) {
        const id = `${m[1]}-${m[2]}`;
        if (prefixes.has(m[1] ?? '') && !byId.has(id)) dangling.push(`${file}: ${id}`);
      }
    }
    expect(dangling).toEqual([]);
  });

  it('links only to chapters, requirement anchors and headings that exist', () => {
    const slugs = new Map(Object.entries(chapters).map(([f, t]) => [f, headingSlugs(t)]));
    const broken: string[] = [];
    for (const [file, text] of Object.entries(chapters)) {
      for (const m of text.matchAll(/\]\(((?:[0-9]{2}-[a-z0-9-]+\.md)?)(?:#([^)\s]+))?\)/g)) {
        const target = m[1] || file;
        const fragment = m[2];
        if (!m[1] && !fragment) continue;
        if (!(target in chapters)) {
          broken.push(`${file}: ${m[0]}`);
          continue;
        }
        if (!fragment) continue;
        const req = byId.get(fragment);
        const ok = req ? req.chapter === target : (slugs.get(target)?.has(fragment) ?? false);
        if (!ok) broken.push(`${file}: ${m[0]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('lists in the profiles chapter exactly the requirements that carry each need', () => {
    const profiles = chapters['17-conformance-profiles.md'] ?? '';
    for (const need of NEEDS) {
      const row = new RegExp(`^\\| \`${need}\` \\|.*\\| ([A-Z]+-[0-9]+(?:, [A-Z]+-[0-9]+)*) \\|$`, 'm').exec(profiles);
      expect(row, `row for ${need}`).not.toBeNull();
      const listed = (row?.[1] ?? '').split(', ').sort();
      const actual = requirements.filter((r) => r.needs.includes(need)).map((r) => r.id).sort();
      expect(listed, need).toEqual(actual);
    }
  });
});

/** Parse a value cell of the limits chapter ("1 MiB (1,048,576)", "5 s from accept", "500 ms"). */
function cellValue(cell: string, name: string): number | undefined {
  const exact = /\(([0-9][0-9,]*)\)/.exec(cell);
  if (exact?.[1]) return Number(exact[1].replace(/,/g, ''));
  const m = /([0-9][0-9,]*)\s*(KiB|MiB|ms|s\b)?/.exec(cell);
  if (!m?.[1]) return undefined;
  const n = Number(m[1].replace(/,/g, ''));
  switch (m[2]) {
    case 'KiB': return n * 1024;
    case 'MiB': return n * 1024 * 1024;
    case 's': return name.endsWith('_MS') ? n * 1000 : n;
    default: return n;
  }
}

describe('limits chapter', () => {
  it('lists every constant of src/limits.ts with the same value', () => {
    const text = chapters['14-limits.md'] ?? '';
    const numeric = Object.entries(limits).filter((e): e is [string, number] => typeof e[1] === 'number');
    expect(numeric.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const [name, value] of numeric) {
      const rows = text.split('\n').filter((l) => l.startsWith('|') && l.includes(`\`${name}\``));
      if (rows.length === 0) problems.push(`${name}: not in the table`);
      for (const row of rows) {
        const cells = row.split('|').map((c) => c.trim());
        // Columns: | Limit | Value | src/limits.ts | … — the value is the third cell of the split.
        const shown = cellValue(cells[2] ?? '', name);
        if (shown !== value) problems.push(`${name}: table says ${String(shown)}, limits.ts ${value}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

const VECTORS_FILE = '/work/shared/reference/interop-vectors.jsonl';

/** Hex of every fenced example: per line, the leading run of hex-byte tokens (comments follow). */
function exampleHexBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  let current: string[] | undefined;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) {
      if (current) blocks.push(current.join(''));
      current = current ? undefined : [];
      continue;
    }
    if (!current) continue;
    const left = line.trim().split(/\s{2,}/)[0] ?? '';
    for (const token of left.split(/\s+/)) {
      if (!/^(?:[0-9a-f]{2})+$/.test(token)) break;
      current.push(token);
    }
  }
  return blocks.filter((h) => h.length >= 40);
}

if (!existsSync(VECTORS_FILE)) console.warn(`spec-index.test: ${VECTORS_FILE} absent; worked examples not checked against the vectors`);

describe.skipIf(!existsSync(VECTORS_FILE))('worked examples', () => {
  it('reproduce the interop vectors byte for byte (or are derived from them as stated)', () => {
    const vectors = readFileSync(VECTORS_FILE, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { name: string; hex: string; framed_hex?: string; inner_hex?: string });
    const known = new Set<string>();
    for (const v of vectors) for (const h of [v.hex, v.framed_hex, v.inner_hex]) if (h) known.add(h);
    const hexOf = (name: string): string => vectors.find((v) => v.name === name)?.hex ?? '';
    const ascii = (text: string): string => Buffer.from(text, 'utf8').toString('hex');
    // Derived examples: the legacy v2 error frame (06) and the packet carrying req_get_worker_stats (09).
    const legacyError = `1c000000` + `0c` + `17000000` + ascii('router only supports v3');
    const request = hexOf('req_get_worker_stats');
    const packet = `a2${'64' + ascii('type')}${'66' + ascii('packet')}${'64' + ascii('body')}a3${'62' + ascii('id')}02` +
      `${'6b' + ascii('compression')}${'64' + ascii('none')}${'64' + ascii('data')}582a${request}`;
    expect(request.length / 2).toBe(42);
    const derived = new Set([legacyError, packet]);
    const unmatched: string[] = [];
    let checked = 0;
    for (const [file, text] of Object.entries(chapters)) {
      for (const hex of exampleHexBlocks(text)) {
        checked++;
        if (!known.has(hex) && !derived.has(hex)) unmatched.push(`${file}: ${hex.slice(0, 40)}…`);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(12);
    expect(unmatched).toEqual([]);
  });
});

describe('parseRequirements', () => {
  const line = (id: string, rest = 'MUST (both): A receiver does the thing.') => `- <a id="${id}"></a>**${id}** ${rest}`;

  it('parses strength, role, needs, chapter, title and text', () => {
    const out = parseRequirements({
      '03-framing.md': ['# Framing', '', line('QZ-2', 'SHOULD (router; needs chunking, zstd): Text here.'), '  Reference: x.'].join('\n'),
    });
    expect(out).toEqual<Requirement[]>([
      {
        id: 'QZ-2', strength: 'SHOULD', role: 'router', needs: ['chunking', 'zstd'],
        chapter: '03-framing.md', title: 'Framing', anchor: 'QZ-2', text: 'Text here.',
      },
    ]);
  });

  it('sorts by chapter file order, then prefix appearance, then number', () => {
    const out = parseRequirements({
      '07-b.md': ['# B', line('QB-10'), line('QC-1'), line('QB-2')].join('\n'),
      '02-a.md': ['# A', line('QA-3'), line('QA-1')].join('\n'),
      'notes.md': ['# ignored', line('XX-1')].join('\n'),
    });
    expect(out.map((r) => r.id)).toEqual(['QA-1', 'QA-3', 'QB-2', 'QB-10', 'QC-1']);
  });

  it('skips requirement-shaped lines inside code fences', () => {
    const out = parseRequirements({ '01-a.md': ['# A', '```text', line('AB-1'), '```', line('AB-2')].join('\n') });
    expect(out.map((r) => r.id)).toEqual(['AB-2']);
  });

  it('reports duplicates, malformed lines, anchor mismatches, unknown needs and missing titles together', () => {
    let error: unknown;
    try {
      parseRequirements({
        '01-a.md': [
          '# A',
          line('AB-1'),
          line('AB-1'),
          '- <a id="AB-3"></a>**AB-3** MUSTN (both): bad strength.',
          '- <a id="AB-4"></a>**AB-5** MUST (both): mismatch.',
          line('AB-6', 'MUST (both; needs teleport): bad need.'),
          '- **[AB-7]** MUST (both): old seed style.',
          line('AB-08'),
        ].join('\n'),
        '02-b.md': line('CD-1'),
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SpecIndexError);
    const problems = (error as SpecIndexError).problems.join('\n');
    expect(problems).toMatch(/01-a\.md:3: duplicate id AB-1/);
    expect(problems).toMatch(/01-a\.md:4: malformed/);
    expect(problems).toMatch(/01-a\.md:5: anchor AB-4 differs/);
    expect(problems).toMatch(/01-a\.md:6: unknown needs value\(s\) teleport/);
    expect(problems).toMatch(/01-a\.md:7: malformed/);
    expect(problems).toMatch(/01-a\.md:8: malformed/);
    expect(problems).toMatch(/02-b\.md: no "# " title/);
  });
});
