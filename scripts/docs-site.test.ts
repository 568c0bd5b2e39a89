/**
 * The docs site builds, has no broken internal link (files and fragment anchors), and its
 * traceability matrix lists every requirement. Builds once into a temp dir; in the checkout it
 * only regenerates the git-ignored docs/generated/ (docs/error-codes.md is checked by its own test).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDocs, findRootDir, linkRequirementIds, moduleSlug, publicEntryPoints, type BuildDocsResult } from './build-docs.js';

const rootDir = findRootDir();
let tmp: string;
let site: BuildDocsResult;
let buildMs = 0;

function htmlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...htmlFiles(p));
    else if (name.endsWith('.html')) out.push(p);
  }
  return out;
}

/** Every id / name attribute value of an HTML document. */
function anchorsOf(html: string): Set<string> {
  const ids = new Set<string>();
  for (const m of html.matchAll(/\s(?:id|name)="([^"]*)"/g)) ids.add(decodeEntities(m[1]!));
  return ids;
}

function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nova-docs-test-'));
  const started = Date.now();
  site = await buildDocs({
    rootDir,
    outDir: join(tmp, 'site'),
    updateCheckedIn: false,
    logLevel: 'Error',
  });
  buildMs = Date.now() - started;
}, 60_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('docs site', () => {
  // Build time is reported, not asserted: speed goals live in benchmarks, not in timed tests.
  it('builds the site (home page written)', () => {
    console.log(`docs build: ${buildMs} ms, ${site.pages.size} markdown pages, modules: ${site.modules.join(', ') || '(none)'}`);
    expect(existsSync(join(site.outDir, 'index.html'))).toBe(true);
  });

  it('has a page for every guide, chapter and reference document', () => {
    for (const [page, source] of site.pages) {
      expect(existsSync(join(site.outDir, page)), `${page} (from ${relative(rootDir, source)})`).toBe(true);
    }
    const chapters = readdirSync(join(rootDir, 'spec')).filter((f) => /^[0-9]{2}-[a-z0-9-]+\.md$/.test(f));
    for (const c of chapters) expect(site.pages.has(`spec/${c.replace(/\.md$/, '')}.html`), c).toBe(true);
    expect(site.pages.has('spec/traceability.html')).toBe(true);
    expect(site.pages.has('reference/error-codes.html')).toBe(true);
    expect(site.pages.has('guides/getting-started.html')).toBe(true);
  });

  it('documents every public module that exists', () => {
    const expected = publicEntryPoints(rootDir).filter((e) => existsSync(e.file)).map((e) => e.importPath);
    expect([...site.modules].sort()).toEqual([...expected].sort());
    for (const m of site.modules) {
      const page = join(site.outDir, 'api', `${moduleSlug(m)}.html`);
      expect(existsSync(page), page).toBe(true);
    }
  });

  it('has no broken internal link or fragment', () => {
    const files = htmlFiles(site.outDir);
    const anchorCache = new Map<string, Set<string>>();
    const anchors = (file: string): Set<string> => {
      let a = anchorCache.get(file);
      if (!a) anchorCache.set(file, (a = anchorsOf(readFileSync(file, 'utf8'))));
      return a;
    };
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      const html = readFileSync(file, 'utf8');
      for (const m of html.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
        const raw = decodeEntities(m[1]!);
        if (raw === '' || raw === '#' || /^[a-z][a-z0-9+.-]*:/i.test(raw) || raw.startsWith('//')) continue;
        const hashAt = raw.indexOf('#');
        const pathPart = (hashAt >= 0 ? raw.slice(0, hashAt) : raw).replace(/\?.*$/, '');
        const fragment = hashAt >= 0 ? decodeURIComponent(raw.slice(hashAt + 1)) : '';
        const target = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
        const where = `${relative(site.outDir, file)} → ${raw}`;
        checked++;
        if (!target.startsWith(site.outDir) || !existsSync(target)) {
          broken.push(`${where} (missing file)`);
          continue;
        }
        if (fragment !== '' && target.endsWith('.html') && !anchors(target).has(fragment)) {
          broken.push(`${where} (missing anchor)`);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(broken, broken.join('\n')).toEqual([]);
  });

  it('gives every markdown heading a real anchor (inline code in headings kept)', () => {
    const empty: string[] = [];
    for (const file of htmlFiles(site.outDir)) {
      const html = readFileSync(file, 'utf8');
      // typedoc slugs a heading whose text it cannot see as `_`, `_-1`, …
      for (const m of html.matchAll(/<h[1-6] id="(_(?:-\d+)?)"/g)) empty.push(`${relative(site.outDir, file)}#${m[1]}`);
    }
    expect(empty).toEqual([]);
  });

  it('lists every requirement in the matrix page, linked to its chapter anchor', () => {
    const html = readFileSync(join(site.outDir, 'spec', 'traceability.html'), 'utf8');
    const ids = anchorsOf(html);
    const missing: string[] = [];
    for (const row of site.matrix.rows) {
      const r = row.requirement;
      const link = `href="${r.chapter.replace(/\.md$/, '.html')}#${r.anchor}"`;
      if (!ids.has(`m-${r.id}`) || !html.includes(link)) missing.push(r.id);
    }
    expect(site.matrix.rows.length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it('flags MUST/SHOULD requirements without a case in the matrix page', () => {
    const html = readFileSync(join(site.outDir, 'spec', 'traceability.html'), 'utf8');
    for (const row of site.matrix.rows.filter((r) => r.flagged)) {
      expect(html).toMatch(new RegExp(`<tr id="m-${row.requirement.id}" class="nc-row-flagged">`));
      expect(html).toContain(`href="#m-${row.requirement.id}"`);
    }
  });
});

describe('linkRequirementIds', () => {
  const resolveId = (id: string): string | undefined =>
    id === 'FRM-3' || id === 'HS-4' ? `../spec/x.html#${id}` : id === 'FRAME_EMPTY' ? `../e.html#${id}` : undefined;

  it('links known ids in text, bracketed or not, and leaves unknown ones', () => {
    expect(linkRequirementIds('<p>checks [FRM-3] and HS-4, not UTF-8 or ABC-1</p>', resolveId)).toBe(
      '<p>checks [<a href="../spec/x.html#FRM-3" class="nc-req-link">FRM-3</a>] and ' +
        '<a href="../spec/x.html#HS-4" class="nc-req-link">HS-4</a>, not UTF-8 or ABC-1</p>',
    );
  });

  it('links known error codes, not other constants', () => {
    expect(linkRequirementIds('<p>throws FRAME_EMPTY, see MAX_CBOR_MAP_PAIRS</p>', resolveId)).toBe(
      '<p>throws <a href="../e.html#FRAME_EMPTY" class="nc-req-link">FRAME_EMPTY</a>, see MAX_CBOR_MAP_PAIRS</p>',
    );
  });

  it('leaves code, links and headings alone', () => {
    const html = '<code>FRM-3</code><a href="#">HS-4</a><h2 id="x">FRM-3</h2><pre><code>HS-4</code></pre>';
    expect(linkRequirementIds(html, resolveId)).toBe(html);
    expect(linkRequirementIds('<code>FRM-3</code> FRM-3', resolveId)).toBe(
      '<code>FRM-3</code> <a href="../spec/x.html#FRM-3" class="nc-req-link">FRM-3</a>',
    );
  });
});

