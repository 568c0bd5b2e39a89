import { describe, expect, it } from 'vitest';
import { buildTraceMatrix, renderMatrixMarkdown, requirementsWithoutCase, type Requirement } from './traceability.js';

function req(id: string, strength: Requirement['strength'], chapter = '03-framing.md'): Requirement {
  return { id, strength, role: 'both', needs: [], chapter, title: 'Framing', anchor: id, text: `text of ${id} with \`code\` and <b>` };
}

const requirements = [req('FRM-1', 'MUST'), req('FRM-2', 'SHOULD'), req('FRM-3', 'MAY'), req('HS-1', 'MUST', '06-handshake.md')];

describe('buildTraceMatrix', () => {
  const matrix = buildTraceMatrix(
    requirements,
    [
      { id: 'router.framing.zero', role: 'router', requirements: ['FRM-1', 'FRM-1', 'NOPE-9'] },
      { id: 'worker.framing.zero', role: 'worker', requirements: ['FRM-1'] },
    ],
    [{ id: 'frame-empty', file: 'vectors/framing.json', requirements: ['FRM-2'] }],
  );

  it('joins cases and vectors to requirements, once per case', () => {
    const frm1 = matrix.rows[0]!;
    expect(frm1.cases.map((c) => c.id)).toEqual(['router.framing.zero', 'worker.framing.zero']);
    expect(frm1).toMatchObject({ noCase: false, noVector: true, flagged: false });
    expect(matrix.rows[1]).toMatchObject({ noCase: true, noVector: false, flagged: true });
  });

  it('flags MUST and SHOULD without a case, but not MAY', () => {
    expect(matrix.rows.filter((r) => r.flagged).map((r) => r.requirement.id)).toEqual(['FRM-2', 'HS-1']);
    expect(matrix.rows[2]).toMatchObject({ noCase: true, flagged: false });
    expect(requirementsWithoutCase(matrix)).toEqual(['HS-1']);
    expect(requirementsWithoutCase(matrix, ['MUST', 'SHOULD'])).toEqual(['FRM-2', 'HS-1']);
  });

  it('reports citations of unknown ids', () => {
    expect(matrix.dangling).toEqual([{ kind: 'case', ref: 'router.framing.zero', requirement: 'NOPE-9' }]);
  });

  it('marks absent inputs', () => {
    const empty = buildTraceMatrix(requirements, undefined, undefined);
    expect(empty.sources).toEqual({ cases: false, vectors: false });
    expect(empty.rows.every((r) => r.noCase && r.noVector)).toBe(true);
  });
});

describe('renderMatrixMarkdown', () => {
  const opts = { specPath: '../../spec', rootPath: '../..' };

  it('gives every requirement a row linked to its chapter anchor, with escaped text', () => {
    const md = renderMatrixMarkdown(buildTraceMatrix(requirements, [], []), opts);
    for (const r of requirements) {
      expect(md).toContain(`<tr id="m-${r.id}"`);
      expect(md).toContain(`<a href="../../spec/${r.chapter}#${r.id}">${r.id}</a>`);
    }
    expect(md).toContain('text of FRM-1 with <code>code</code> and &lt;b&gt;');
    expect(md).toContain('<tr id="m-FRM-1" class="nc-row-flagged">');
    expect(md).toContain('<tr id="m-FRM-3" class="nc-row-gap">');
    expect(md).toContain('✗ no case yet');
    expect(md).toContain('03-framing.md</a> · 0 of 3 requirements with a case · 0 with a vector</p>');
  });

  it('says when the registry or the vectors are absent', () => {
    const md = renderMatrixMarkdown(buildTraceMatrix(requirements, undefined, undefined), opts);
    expect(md).toContain('the conformance case registry does not exist yet');
    expect(md).toContain('there are no vector files yet');
  });

  it('shows a covered row and lists nothing as a hole when all is covered', () => {
    const all = requirements.map((r) => r.id);
    const md = renderMatrixMarkdown(
      buildTraceMatrix(requirements, [{ id: 'router.all', role: 'router', requirements: all }], [{ id: 'v', file: 'vectors/a.json', requirements: all }]),
      opts,
    ).replace(/<wbr>/g, '');
    expect(md).toContain('None: every MUST and SHOULD requirement is checked by at least one case.');
    expect(md).toContain('<tr id="m-FRM-1" class="nc-row-ok">');
    expect(md).toContain('<a href="../../vectors/a.json" title="vectors/a.json"><code>v</code></a>');
  });
});

describe('matrix cells', () => {
  it('summarise long lists as "+N more"', () => {
    const cases = Array.from({ length: 9 }, (_, i) => ({ id: `router.x.c${i}`, role: 'router', requirements: ['FRM-1'] }));
    const md = renderMatrixMarkdown(buildTraceMatrix(requirements, cases, []), { specPath: 's', rootPath: 'r' }).replace(/<wbr>/g, '');
    expect(md).toContain('<code>router.x.c4</code><br><span class="nc-more">+4 more</span>');
    expect(md).not.toContain('router.x.c5');
  });
});
