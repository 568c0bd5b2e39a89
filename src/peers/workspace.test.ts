import { describe, expect, it } from 'vitest';
import { Workspace, diagnoseText, indexFile } from './workspace.js';

describe('reference worker workspace', () => {
  it('indexes `class X` with 0-based line and UTF-16 column of the name [MSG-2]', () => {
    expect(indexFile({ path: 'a.java', text: 'class A {}\n  // é😀 class B\npublic class Cc {}' })).toEqual([
      { name: 'A', path: 'a.java', line: 0, column: 6 },
      // "  // é😀 class B": é is 1 code unit, 😀 is 2 -> B sits at UTF-16 column 15 (13 code points)
      { name: 'B', path: 'a.java', line: 1, column: 15 },
      { name: 'Cc', path: 'a.java', line: 2, column: 13 },
    ]);
    expect(indexFile({ path: 'x', text: 'subclass Foo; classy Bar' })).toEqual([]);
  });

  it('reports ERROR / WARN lines as diagnostics', () => {
    expect(diagnoseText('ok\nx ERROR y\nWARN')).toEqual([
      { severity: 'error', line: 1, column: 2, message: 'line contains ERROR' },
      { severity: 'warning', line: 2, column: 0, message: 'line contains WARN' },
    ]);
  });

  it('keeps files, bumps index_generation, reports stats', () => {
    const ws = new Workspace(3);
    ws.load(7n, [{ path: 'b', text: 'class B' }, { path: 'a', text: 'class A' }]);
    ws.update(8n, { path: 'c', text: 'class C' });
    const idx = ws.index();
    expect(idx).toMatchObject({ shard_id: 3, revision: 8n, index_generation: 1n });
    expect(idx.symbols.map((s) => s.name)).toEqual(['A', 'B', 'C']);
    expect(ws.index().index_generation).toBe(2n);
    expect(ws.stats()).toEqual({ shard_id: 3, revision: 8n, index_generation: 2n, file_count: 3 });
    expect(ws.diagnostics('missing')).toBeNull();
  });
});
