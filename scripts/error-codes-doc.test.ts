import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import { findRootDir } from './build-docs.js';
import { parseErrorCodes, renderErrorCodesDoc, renderErrorCodesMarkdown } from './error-codes-doc.js';

const rootDir = findRootDir();

describe('docs/error-codes.md', () => {
  it('is up to date with src/errors.ts (regenerate with `npm run docs`)', () => {
    const expected = renderErrorCodesDoc(join(rootDir, 'src', 'errors.ts'));
    const actual = readFileSync(join(rootDir, 'docs', 'error-codes.md'), 'utf8');
    expect(actual).toBe(expected);
  });

  it('documents every code of the runtime table, in order', () => {
    const parsed = parseErrorCodes(readFileSync(join(rootDir, 'src', 'errors.ts'), 'utf8'));
    expect(parsed.map((c) => c.code)).toEqual(Object.keys(ErrorCodes));
  });
});

describe('parseErrorCodes', () => {
  const source = [
    'export const ErrorCodes = {',
    '  // --- framing ---',
    '  /** A length prefix exceeds',
    '   * the limit. */',
    "  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',",
    "  FRAME_EMPTY: 'FRAME_EMPTY',",
    '  // --- local ---',
    '  /** Bad config. */',
    "  CONFIG_INVALID: 'CONFIG_INVALID',",
    '} as const;',
  ].join('\n');

  it('reads sections, codes and joined doc comments', () => {
    expect(parseErrorCodes(source)).toEqual([
      { code: 'FRAME_TOO_LARGE', section: 'framing', description: 'A length prefix exceeds the limit.' },
      { code: 'FRAME_EMPTY', section: 'framing', description: '' },
      { code: 'CONFIG_INVALID', section: 'local', description: 'Bad config.' },
    ]);
  });

  it('refuses a code whose value differs from its name', () => {
    expect(() => parseErrorCodes("export const ErrorCodes = { A: 'B' } as const;")).toThrow(/ErrorCodes.A must map/);
  });

  it('refuses a file without the table', () => {
    expect(() => parseErrorCodes('export const Other = {};')).toThrow(/no `export const ErrorCodes/);
  });

  it('renders one table per section, a row and an anchor per code', () => {
    const md = renderErrorCodesMarkdown(parseErrorCodes(source));
    expect(md).toContain(
      '## Framing\n\n| Code | Meaning |\n|---|---|\n' +
        '| <a id="FRAME_TOO_LARGE"></a>`FRAME_TOO_LARGE` | A length prefix exceeds the limit. |\n' +
        '| <a id="FRAME_EMPTY"></a>`FRAME_EMPTY` | _No description yet._ |\n',
    );
    expect(md).toContain('## Local\n');
  });
});
