/**
 * One run → one report object → JSON / JUnit XML / HTML / Markdown, plus exit-code grading.
 *
 * Exit codes (documented in docs/ci-github-actions.md and `--help`):
 *   0 all applicable cases passed (warnings allowed unless --strict),
 *   1 at least one failure, timeout, strict warning or stale baseline entry,
 *   2 usage or configuration error,
 *   3 harness or target error (cannot connect, cannot spawn, adapter fault).
 *
 * @module
 */
import type { CaseResult, RunSummary } from './runner.js';
import type { TargetFacts } from './context.js';
import { OUTCOMES, type Outcome } from './registry.js';
import { renderTranscript } from './transcript.js';

export const EXIT_OK = 0;
export const EXIT_FAILURES = 1;
export const EXIT_USAGE = 2;
export const EXIT_HARNESS = 3;

export interface Report {
  format: 'nova-conformance-report';
  formatVersion: 1;
  suiteVersion: string;
  startedAt: string;
  durationMs: number;
  target: { role: 'router' | 'worker'; describe: string };
  facts: TargetFacts | null;
  fatal?: string;
  options: { strict: boolean; timeScale: number; jobs: number; baseline?: string };
  summary: Record<Outcome, number> & { total: number; knownFailures: number; stale: number; exitCode: number };
  cases: CaseResult[];
}

/** Does this result fail the run? (`known-failure` baseline entries do not.) */
export function isFailing(r: CaseResult, strict: boolean): boolean {
  if (r.baseline === 'stale') return true;
  if (r.baseline === 'known-failure') return false;
  return r.outcome === 'fail' || r.outcome === 'timeout' || (strict && r.outcome === 'warn');
}

export function exitCodeFor(summary: RunSummary, strict: boolean): number {
  if (summary.fatal !== undefined) return EXIT_HARNESS;
  if (summary.results.some((r) => isFailing(r, strict))) return EXIT_FAILURES;
  if (summary.results.some((r) => r.outcome === 'error' && r.baseline !== 'known-failure')) return EXIT_HARNESS;
  return EXIT_OK;
}

export function buildReport(
  summary: RunSummary,
  meta: { suiteVersion: string; startedAt: Date; role: 'router' | 'worker'; describe: string; strict: boolean; timeScale: number; jobs: number; baseline?: string },
): Report {
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  for (const r of summary.results) counts[r.outcome]++;
  return {
    format: 'nova-conformance-report',
    formatVersion: 1,
    suiteVersion: meta.suiteVersion,
    startedAt: meta.startedAt.toISOString(),
    durationMs: summary.durationMs,
    target: { role: meta.role, describe: meta.describe },
    facts: summary.facts,
    ...(summary.fatal !== undefined ? { fatal: summary.fatal } : {}),
    options: { strict: meta.strict, timeScale: meta.timeScale, jobs: meta.jobs, ...(meta.baseline ? { baseline: meta.baseline } : {}) },
    summary: {
      total: summary.results.length,
      ...counts,
      knownFailures: summary.results.filter((r) => r.baseline === 'known-failure').length,
      stale: summary.results.filter((r) => r.baseline === 'stale').length,
      exitCode: exitCodeFor(summary, meta.strict),
    },
    cases: summary.results,
  };
}

export function toJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

// ------------------------------------------------------------------ JUnit

/** Escape for XML 1.0: markup characters and every character XML 1.0 forbids. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function failureText(r: CaseResult): string {
  const lines: string[] = [];
  if (r.message) lines.push(r.message);
  if (r.expected !== undefined) lines.push(`expected: ${r.expected}`);
  if (r.actual !== undefined) lines.push(`actual:   ${r.actual}`);
  for (const q of r.requirements) lines.push(`[${q.id}] ${q.strength}: ${q.text}`);
  if (r.notes.length) lines.push(...r.notes.map((n) => `note: ${n}`));
  if (r.transcript.length) lines.push('transcript:', renderTranscript(r.transcript));
  if (r.stderrTail) lines.push('target output (tail):', r.stderrTail);
  lines.push(`rerun: ${r.rerun}`);
  return lines.join('\n');
}

export function toJunit(report: Report, strict: boolean): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const s = report.summary;
  const failures = report.cases.filter((r) => isFailing(r, strict)).length;
  out.push(
    `<testsuites name="nova-conformance" tests="${s.total}" failures="${failures}" errors="${s.error}" skipped="${s.skip}" time="${(report.durationMs / 1000).toFixed(3)}">`,
  );
  for (const role of ['router', 'worker'] as const) {
    const cases = report.cases.filter((r) => r.role === role);
    if (cases.length === 0) continue;
    const f = cases.filter((r) => isFailing(r, strict)).length;
    out.push(
      `  <testsuite name="${role}" tests="${cases.length}" failures="${f}" errors="${cases.filter((r) => r.outcome === 'error').length}" skipped="${cases.filter((r) => r.outcome === 'skip').length}" time="${(cases.reduce((a, r) => a + r.durationMs, 0) / 1000).toFixed(3)}">`,
    );
    for (const r of cases) {
      const cls = r.id.split('.').slice(0, 2).join('.');
      out.push(`    <testcase classname="${xmlEscape(cls)}" name="${xmlEscape(r.id)}" time="${(r.durationMs / 1000).toFixed(3)}">`);
      out.push(`      <properties><property name="requirements" value="${xmlEscape(r.requirements.map((q) => q.id).join(' '))}"/><property name="outcome" value="${r.outcome}"/></properties>`);
      if (r.outcome === 'skip') out.push(`      <skipped message="${xmlEscape(r.message ?? '')}"/>`);
      else if (r.outcome === 'error') out.push(`      <error message="${xmlEscape(r.message ?? 'error')}">${xmlEscape(failureText(r))}</error>`);
      else if (isFailing(r, strict)) {
        const msg = r.baseline === 'stale' ? 'listed in the known-failure baseline but now passes (stale entry)' : (r.message ?? r.outcome);
        out.push(`      <failure message="${xmlEscape(msg)}" type="${r.outcome}">${xmlEscape(failureText(r))}</failure>`);
      } else if (r.outcome === 'warn' || r.baseline === 'known-failure') {
        out.push(`      <system-out>${xmlEscape(`${r.baseline === 'known-failure' ? 'known failure (baseline): ' : 'warning (SHOULD): '}${failureText(r)}`)}</system-out>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

// ------------------------------------------------------------------ Markdown

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const ICON: Record<Outcome, string> = { pass: '✅', fail: '❌', warn: '⚠️', skip: '⏭️', error: '💥', timeout: '⏱️' };

export function toMarkdown(report: Report, strict: boolean): string {
  const s = report.summary;
  const lines: string[] = [];
  lines.push(`## nova-conformance: ${report.target.role} — ${s.exitCode === 0 ? 'conforms' : 'does not conform'}`);
  lines.push('');
  lines.push(`Target: \`${mdCell(report.target.describe)}\` · suite ${report.suiteVersion} · ${(report.durationMs / 1000).toFixed(1)} s`);
  lines.push('');
  if (report.fatal) lines.push(`**Harness/target error:** ${mdCell(report.fatal)}`, '');
  lines.push('| pass | fail | warn | skip | error | timeout | known failures | stale |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
  lines.push(`| ${s.pass} | ${s.fail} | ${s.warn} | ${s.skip} | ${s.error} | ${s.timeout} | ${s.knownFailures} | ${s.stale} |`);
  lines.push('');
  // By requirement: which rules failed.
  const byReq = new Map<string, { text: string; outcomes: Outcome[] }>();
  for (const r of report.cases) {
    for (const q of r.requirements) {
      const e = byReq.get(q.id) ?? { text: q.text, outcomes: [] };
      e.outcomes.push(r.outcome);
      byReq.set(q.id, e);
    }
  }
  const bad = report.cases.filter((r) => isFailing(r, strict) || r.outcome === 'error' || r.outcome === 'warn');
  if (bad.length > 0) {
    lines.push('### Problems', '');
    lines.push('| case | outcome | requirement | message |');
    lines.push('|---|---|---|---|');
    for (const r of bad) {
      lines.push(`| \`${r.id}\` | ${ICON[r.outcome]} ${r.outcome}${r.baseline ? ` (${r.baseline})` : ''} | ${r.failedRequirement ?? r.requirements[0]?.id ?? ''} | ${mdCell(r.message ?? '')} |`);
    }
    lines.push('');
    for (const r of bad) {
      lines.push(`<details><summary><code>${r.id}</code> — ${ICON[r.outcome]} ${r.outcome}</summary>`, '');
      lines.push('```text', failureText(r).replace(/```/g, "'''"), '```', '</details>', '');
    }
  }
  lines.push('### By requirement', '');
  lines.push('| requirement | cases | result | text |');
  lines.push('|---|---:|---|---|');
  for (const [id, e] of [...byReq.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
    const worst = (['fail', 'timeout', 'error', 'warn', 'pass', 'skip'] as Outcome[]).find((o) => e.outcomes.includes(o)) ?? 'skip';
    lines.push(`| ${id} | ${e.outcomes.length} | ${ICON[worst]} ${worst} | ${mdCell(e.text)} |`);
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}

// ------------------------------------------------------------------ HTML

function h(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function toHtml(report: Report, strict: boolean): string {
  const s = report.summary;
  const rows = report.cases
    .map((r) => {
      const failing = isFailing(r, strict);
      const detail =
        r.outcome === 'pass' && !r.baseline
          ? r.notes.length
            ? `<pre>${h(r.notes.join('\n'))}</pre>`
            : ''
          : `<details${failing ? ' open' : ''}><summary>details</summary><pre>${h(failureText(r))}</pre></details>`;
      return `<tr class="${r.outcome}${failing ? ' failing' : ''}" data-outcome="${r.outcome}"><td><code>${h(r.id)}</code><div class="title">${h(r.title)}</div></td><td>${r.strength}</td><td class="o">${r.outcome}${r.baseline ? ` (${r.baseline})` : ''}</td><td>${r.requirements.map((q) => `<span title="${h(q.text)}">${h(q.id)}</span>`).join(' ')}</td><td>${r.durationMs} ms</td><td>${h(r.message ?? '')}${detail}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nova-conformance report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
.pass .o{color:#17752b}.fail .o,.timeout .o{color:#b00020;font-weight:bold}.warn .o{color:#a66b00}.skip .o{color:#777}.error .o{color:#7b1fa2;font-weight:bold}
pre{white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:6px;max-height:40em;overflow:auto}.title{color:#555;font-size:12px}
.filters label{margin-right:1em}
</style></head><body>
<h1>nova-conformance — ${h(report.target.role)}: ${s.exitCode === 0 ? 'conforms' : 'does not conform'}</h1>
<p>Target: <code>${h(report.target.describe)}</code> · suite ${h(report.suiteVersion)} · started ${h(report.startedAt)} · ${(report.durationMs / 1000).toFixed(1)} s · exit code ${s.exitCode}</p>
${report.fatal ? `<p><strong>Harness/target error:</strong> ${h(report.fatal)}</p>` : ''}
<p>pass ${s.pass} · fail ${s.fail} · warn ${s.warn} · skip ${s.skip} · error ${s.error} · timeout ${s.timeout} · known failures ${s.knownFailures} · stale ${s.stale}</p>
<p class="filters">${(['pass', 'fail', 'warn', 'skip', 'error', 'timeout'] as const).map((o) => `<label><input type="checkbox" checked data-o="${o}"> ${o}</label>`).join('')}</p>
<table><thead><tr><th>case</th><th>strength</th><th>outcome</th><th>requirements</th><th>time</th><th>message</th></tr></thead><tbody>
${rows}
</tbody></table>
<script>
for (const cb of document.querySelectorAll('input[data-o]')) cb.addEventListener('change', () => {
  for (const tr of document.querySelectorAll('tr[data-outcome="' + cb.dataset.o + '"]')) tr.style.display = cb.checked ? '' : 'none';
});
</script>
</body></html>
`;
}

export { failureText };
