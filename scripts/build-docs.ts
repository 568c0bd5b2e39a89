/**
 * Builds the documentation site (`npm run docs` → `site/`): the spec chapters, the guides, the
 * reference pages (error codes, vector format), the traceability matrix and the API of the
 * public modules, with typedoc.
 *
 * Static typedoc settings live in `typedoc.json`; this script adds what is computed per build:
 * - the API entry points: every `exports` entry of package.json (the public API by definition;
 *   adding an export documents it) plus any `entryPoints` listed in typedoc.json;
 * - the generated pages: the traceability matrix (into `docs/generated/`, git-ignored) and
 *   `docs/error-codes.md` (checked in; rewritten when out of date);
 * - page titles, sidebar groups and stable URLs for the markdown documents
 *   (`spec/03-framing.html`, `guides/getting-started.html`, `reference/error-codes.html`);
 * - links from requirement ids and error codes in API doc comments to the spec anchor and the
 *   error-code row; inline code kept in heading anchors; site CSS/JS from `docs/assets/`.
 *
 * Usage: `node dist/scripts/build-docs.js [--out DIR]`.
 *
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  Application,
  Context,
  Converter,
  DocumentReflection,
  KindRouter,
  LogLevel,
  MarkdownEvent,
  ProjectReflection,
  ReflectionKind,
  RendererEvent,
  type Reflection,
  type TypeDocOptions,
} from 'typedoc';
import { ErrorCodes } from '../src/errors.js';
import { renderErrorCodesDoc } from './error-codes-doc.js';
import { buildTraceMatrix, loadTraceabilityInputs, renderMatrixMarkdown, type TraceMatrix } from './traceability.js';

/** One markdown page of the site. */
interface PageSpec {
  /** Absolute path of the markdown source. */
  file: string;
  /** Sidebar group. */
  group: 'Guides' | 'Specification' | 'Reference';
  /** Output path without extension, e.g. `spec/03-framing`. */
  slug: string;
}

/** Guides in reading order (docs/<name>.md). Files owned by others are included when present. */
export const GUIDES: readonly string[] = [
  'getting-started',
  'testing-a-router',
  'testing-a-worker',
  'target-config',
  'reading-a-report',
  'ci-integration',
  'ci-github-actions',
  'fuzzing',
];

/** Reference pages (docs/<name>.md); `error-codes` is generated from src/errors.ts. */
export const REFERENCE_DOCS: readonly string[] = ['error-codes', 'vectors'];

/** Spec chapter files: two digits, a hyphen, a lower-case slug (same rule as spec-index). */
const CHAPTER_FILE = /^[0-9]{2}-[a-z0-9-]+\.md$/;

export interface BuildDocsOptions {
  /** Repository root (default: found above this file). */
  rootDir?: string;
  /** Output directory (default `<root>/site`). Emptied first. */
  outDir?: string;
  /**
   * Rewrite the checked-in `docs/error-codes.md` when it is out of date (default true; the
   * tests pass false and check it separately).
   */
  updateCheckedIn?: boolean;
  logLevel?: keyof typeof LogLevel;
}

export interface BuildDocsResult {
  outDir: string;
  matrix: TraceMatrix;
  /** Pages built from markdown: output path (relative to outDir) → source file. */
  pages: Map<string, string>;
  /** Module pages: public import path → typedoc module name. */
  modules: string[];
  warnings: number;
}

/** The repository root: the nearest folder above `start` whose package.json names this package. */
export function findRootDir(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(start);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'nova-conformance') {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`nova-conformance package root not found above ${start}`);
    dir = parent;
  }
}

/**
 * API entry points: each package.json `exports` entry that maps to `dist/<path>.js` gives
 * `<path>.ts` (named by its import specifier), plus typedoc.json `entryPoints`.
 */
export function publicEntryPoints(rootDir: string): { file: string; importPath: string }[] {
  const pkg = JSON.parse(readFileSync(join(rootDir, 'package.json'), 'utf8')) as {
    name: string;
    exports?: Record<string, unknown>;
  };
  const out: { file: string; importPath: string }[] = [];
  for (const [key, target] of Object.entries(pkg.exports ?? {})) {
    const js = typeof target === 'string' ? target : (target as Record<string, unknown>)['import'];
    if (typeof js !== 'string') continue;
    const m = /^\.\/dist\/(.+)\.js$/.exec(js);
    if (!m) continue; // e.g. ./package.json
    const file = join(rootDir, `${m[1]}.ts`);
    out.push({ file, importPath: key === '.' ? pkg.name : `${pkg.name}/${key.replace(/^\.\//, '')}` });
  }
  const typedocJson = JSON.parse(readFileSync(join(rootDir, 'typedoc.json'), 'utf8')) as { entryPoints?: string[] };
  for (const extra of typedocJson.entryPoints ?? []) {
    const file = resolve(rootDir, extra);
    if (!out.some((e) => e.file === file)) out.push({ file, importPath: relative(rootDir, file).replace(/\.ts$/, '') });
  }
  return out;
}

/** Page name of an API module: `nova-conformance/wire` → `nova-conformance-wire`. */
export function moduleSlug(importPath: string): string {
  return importPath.replace(/[^A-Za-z0-9_.-]+/g, '-');
}

/** The first `# ` heading of a markdown file (outside code fences), or the file name. */
function markdownTitle(file: string): string {
  let inFence = false;
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    else if (!inFence && line.startsWith('# ')) return line.slice(2).trim();
  }
  return file.split(sep).pop()!.replace(/\.md$/, '');
}

/** The part of markdown-it's API that {@link keepCodeInHeadings} uses. */
interface MarkdownItLike {
  core: { ruler: { push(name: string, rule: (state: MarkdownItState) => void): void } };
}
interface MarkdownItToken {
  type: string;
  content: string;
  children: MarkdownItToken[] | null;
}
interface MarkdownItState {
  tokens: MarkdownItToken[];
  Token: new (type: string, tag: string, nesting: number) => MarkdownItToken;
}

/**
 * typedoc builds heading anchors and the page outline from the heading's plain-text tokens only,
 * so `` ### `WorkerHello` `` would get the anchor `_` and an empty outline entry. Rewrite inline
 * code in headings as `<code>` + text + `</code>`: same rendering, and the anchor becomes
 * `workerhello`, as on GitHub.
 */
export function keepCodeInHeadings(md: unknown): void {
  (md as MarkdownItLike).core.ruler.push('nova_heading_code', (state) => {
    const html = (content: string): MarkdownItToken => Object.assign(new state.Token('html_inline', '', 0), { content });
    for (let i = 1; i < state.tokens.length; i++) {
      const inline = state.tokens[i]!;
      if (state.tokens[i - 1]!.type !== 'heading_open' || inline.type !== 'inline' || !inline.children) continue;
      inline.children = inline.children.flatMap((t) =>
        t.type === 'code_inline'
          ? [html('<code>'), Object.assign(new state.Token('text', '', 0), { content: t.content }), html('</code>')]
          : [t],
      );
    }
  });
}

/** Elements whose text must not get links: code, existing links, headings. */
const NO_LINK_ELEMENTS = /^(?:a|code|pre|h[1-6]|script|style)$/i;

/** Requirement ids (`FRM-3`) and error codes (`FRAME_TOO_LARGE`) as they appear in prose. */
const LINKABLE_WORD = /\b(?:[A-Z]{2,5}-[1-9][0-9]*|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g;

/**
 * Turn each requirement id (`FRM-3`, also inside `[…]`) or error code in the text of an HTML
 * fragment into a link, when `resolve` knows the word. Text inside code, links and headings is
 * left alone.
 */
export function linkRequirementIds(html: string, resolve: (word: string) => string | undefined): string {
  let blocked = 0;
  return html
    .split(/(<[^>]*>)/)
    .map((part) => {
      const tag = /^<(\/?)([A-Za-z][A-Za-z0-9]*)[^>]*?(\/?)>$/.exec(part);
      if (tag) {
        if (NO_LINK_ELEMENTS.test(tag[2]!) && tag[3] !== '/') blocked += tag[1] === '/' ? -1 : 1;
        return part;
      }
      if (blocked > 0 || part === '') return part;
      return part.replace(LINKABLE_WORD, (word: string) => {
        const href = resolve(word);
        return href === undefined ? word : `<a href="${href}" class="nc-req-link">${word}</a>`;
      });
    })
    .join('');
}

function toPosix(p: string): string {
  return p.split(sep).join('/');
}

/** Build the site. Returns what was built; throws when typedoc reports errors. */
export async function buildDocs(options: BuildDocsOptions = {}): Promise<BuildDocsResult> {
  const rootDir = options.rootDir ?? findRootDir();
  const outDir = resolve(options.outDir ?? join(rootDir, 'site'));
  // Fixed place (git-ignored), so that guides can link to generated pages: `generated/traceability.md`.
  const generatedDir = join(rootDir, 'docs', 'generated');
  const updateCheckedIn = options.updateCheckedIn ?? true;
  const docsDir = join(rootDir, 'docs');
  const specDir = join(rootDir, 'spec');

  rmSync(generatedDir, { recursive: true, force: true });
  mkdirSync(generatedDir, { recursive: true });

  // 1. Generated pages.
  const errorCodes = renderErrorCodesDoc(join(rootDir, 'src', 'errors.ts'));
  const errorCodesFile = join(docsDir, 'error-codes.md');
  if (updateCheckedIn) {
    const current = existsSync(errorCodesFile) ? readFileSync(errorCodesFile, 'utf8') : '';
    if (current !== errorCodes) writeFileSync(errorCodesFile, errorCodes);
  }

  const inputs = await loadTraceabilityInputs(rootDir);
  const matrix = buildTraceMatrix(inputs.requirements, inputs.cases, inputs.vectors);
  const matrixFile = join(generatedDir, 'traceability.md');
  writeFileSync(
    matrixFile,
    renderMatrixMarkdown(matrix, {
      specPath: toPosix(relative(generatedDir, specDir)),
      rootPath: toPosix(relative(generatedDir, rootDir)),
    }),
  );

  // 2. The pages, in sidebar order.
  const pages: PageSpec[] = [];
  for (const g of GUIDES) {
    const file = join(docsDir, `${g}.md`);
    if (existsSync(file)) pages.push({ file, group: 'Guides', slug: `guides/${g}` });
  }
  for (const f of readdirSync(specDir).filter((n) => CHAPTER_FILE.test(n)).sort()) {
    pages.push({ file: join(specDir, f), group: 'Specification', slug: `spec/${f.replace(/\.md$/, '')}` });
  }
  pages.push({ file: matrixFile, group: 'Specification', slug: 'spec/traceability' });
  for (const r of REFERENCE_DOCS) {
    const file = join(docsDir, `${r}.md`);
    if (existsSync(file)) pages.push({ file, group: 'Reference', slug: `reference/${r}` });
  }
  const pageByFile = new Map(pages.map((p) => [resolve(p.file), p]));

  // 3. A tsconfig holding only the entry points: faster, and unaffected by unrelated files.
  // Deepest first: typedoc documents a declaration in the first module that exports it, and the
  // root module re-exports the sub-modules, so `nova-conformance/wire` must own the codec's API.
  const entries = publicEntryPoints(rootDir)
    .filter((e) => {
      if (existsSync(e.file)) return true;
      console.warn(`docs: entry point ${toPosix(relative(rootDir, e.file))} (${e.importPath}) does not exist yet; skipped`);
      return false;
    })
    .sort((a, b) => b.importPath.split('/').length - a.importPath.split('/').length);
  const tsconfigFile = join(generatedDir, 'tsconfig.docs.json');
  writeFileSync(
    tsconfigFile,
    JSON.stringify({ extends: join(rootDir, 'tsconfig.build.json'), include: [], files: entries.map((e) => e.file) }, null, 2),
  );

  // 4. typedoc.
  const slugs = new Map<Reflection, string>();
  const docsByPage = new Map<DocumentReflection, PageSpec>();
  class NovaRouter extends KindRouter {
    override getIdealBaseName(reflection: Reflection): string {
      return slugs.get(reflection) ?? super.getIdealBaseName(reflection);
    }
  }
  const typedocOptions: TypeDocOptions = {
    options: join(rootDir, 'typedoc.json'),
    tsconfig: tsconfigFile,
    entryPoints: entries.map((e) => e.file),
    entryPointStrategy: 'resolve',
    projectDocuments: pages.map((p) => p.file),
    readme: join(docsDir, 'index.md'),
    customCss: join(docsDir, 'assets', 'site.css'),
    customJs: join(docsDir, 'assets', 'site.js'),
    router: 'nova',
    out: outDir,
    basePath: rootDir,
    displayBasePath: rootDir,
    logLevel: options.logLevel ?? 'Info',
    markdownItLoader: keepCodeInHeadings,
  };
  const app = await Application.bootstrapWithPlugins(typedocOptions);
  app.renderer.defineRouter('nova', NovaRouter);
  app.converter.on(Converter.EVENT_CREATE_DOCUMENT, (_ctx: unknown, doc: DocumentReflection) => {
    const path = doc.project.files.getReflectionPath(doc);
    const page = path === undefined ? undefined : pageByFile.get(resolve(path));
    if (!page) return;
    doc.name = markdownTitle(page.file);
    doc.frontmatter['group'] = page.group;
    slugs.set(doc, page.slug);
    docsByPage.set(doc, page);
  });
  const modules: string[] = [];
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (ctx: Context) => {
    // Name each module after its import path (`nova-conformance/wire`), not its file.
    for (const child of ctx.project.children ?? []) {
      if (!child.kindOf(ReflectionKind.Module)) continue;
      const src = ctx.getSymbolFromReflection(child)?.declarations?.[0]?.getSourceFile().fileName;
      const entry = entries.find((e) => src !== undefined && resolve(e.file) === resolve(src));
      if (entry) child.name = entry.importPath;
      modules.push(child.name);
      slugs.set(child, `api/${moduleSlug(child.name)}`);
    }
  });

  // Requirement anchors are raw HTML (`<a id="FRM-3"></a>`), which typedoc's anchor check does
  // not see: register them with each page's slugger so links to them are not reported. The
  // site test checks every fragment against the generated HTML instead.
  app.renderer.on(RendererEvent.BEGIN, () => {
    for (const [doc, page] of docsByPage) {
      const seen = (app.renderer.router?.getSlugger(doc) as unknown as { seen?: Map<string, number> }).seen;
      if (!(seen instanceof Map)) continue;
      for (const m of readFileSync(page.file, 'utf8').matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) seen.set(m[1]!, 0);
    }
  });

  // API doc comments cite requirement ids (`[FRM-3]`) and error codes: link them to the spec
  // anchor and to the error-code table row.
  const linkTargets = new Map<string, string>(inputs.requirements.map((r) => [r.id, `spec/${r.chapter.replace(/\.md$/, '.html')}#${r.anchor}`]));
  for (const code of Object.keys(ErrorCodes)) linkTargets.set(code, `reference/error-codes.html#${code}`);
  app.renderer.on(
    MarkdownEvent.PARSE,
    (event: MarkdownEvent) => {
      if (event.page.model instanceof DocumentReflection || event.page.model instanceof ProjectReflection) return;
      const toRoot = '../'.repeat(event.page.url.split('/').length - 1);
      event.parsedText = linkRequirementIds(event.parsedText, (word) => {
        const target = linkTargets.get(word);
        return target === undefined ? undefined : `${toRoot}${target}`;
      });
    },
    -100, // after typedoc's own listener has turned the markdown into HTML
  );

  const project = await app.convert();
  if (!project) throw new Error('docs: typedoc conversion failed (see the messages above)');
  rmSync(outDir, { recursive: true, force: true });
  await app.generateDocs(project, outDir);
  if (app.logger.hasErrors()) throw new Error(`docs: typedoc reported ${app.logger.errorCount} error(s)`);

  return {
    outDir,
    matrix,
    pages: new Map(pages.map((p) => [`${p.slug}.html`, p.file])),
    modules,
    warnings: app.logger.warningCount,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const outIndex = argv.indexOf('--out');
  const outDir = outIndex >= 0 ? argv[outIndex + 1] : undefined;
  const result = await buildDocs(outDir === undefined ? {} : { outDir });
  const flagged = result.matrix.rows.filter((r) => r.flagged).length;
  console.log(
    `docs: ${toPosix(relative(process.cwd(), result.outDir)) || '.'}/index.html — ${result.pages.size} pages, ` +
      `${result.modules.length} API modules, ${result.matrix.rows.length} requirements ` +
      `(${flagged} MUST/SHOULD without a case), ${result.warnings} typedoc warning(s)`,
  );
  return 0;
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
