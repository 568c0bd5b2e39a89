/**
 * Live console progress: a `\r` status line on a TTY (only problems are printed in full), one
 * line per case otherwise. Colour follows picocolors (NO_COLOR / FORCE_COLOR) unless disabled.
 *
 * @module
 */
import pc from 'picocolors';
import type { Outcome } from './registry.js';
import type { CaseResult } from './runner.js';
import { renderTranscript } from './transcript.js';
import { isFailing } from './report.js';

type Colors = ReturnType<typeof pc.createColors>;

export interface ConsoleOptions {
  stream: NodeJS.WriteStream;
  color: boolean;
  verbose: boolean;
  strict: boolean;
}

export class ConsoleReporter {
  private readonly c: Colors;
  private readonly tty: boolean;
  private done = 0;
  private total = 0;
  private running = new Set<string>();
  private statusShown = false;
  private readonly counts: Record<Outcome, number> = { pass: 0, fail: 0, warn: 0, skip: 0, error: 0, timeout: 0 };

  constructor(private readonly o: ConsoleOptions) {
    this.c = pc.createColors(o.color);
    this.tty = o.stream.isTTY === true;
  }

  private paint(outcome: Outcome, text: string): string {
    const c = this.c;
    switch (outcome) {
      case 'pass':
        return c.green(text);
      case 'fail':
      case 'timeout':
        return c.red(text);
      case 'warn':
        return c.yellow(text);
      case 'skip':
        return c.dim(text);
      case 'error':
        return c.magenta(text);
    }
  }

  private clearStatus(): void {
    if (this.tty && this.statusShown) {
      this.o.stream.write('\r\x1b[2K');
      this.statusShown = false;
    }
  }

  private status(): void {
    if (!this.tty) return;
    const cols = this.o.stream.columns ?? 100;
    const cur = [...this.running][0] ?? '';
    const line = `[${this.done}/${this.total}] ${this.c.green(`${this.counts.pass} pass`)} ${this.counts.fail + this.counts.timeout ? this.c.red(`${this.counts.fail + this.counts.timeout} fail`) : '0 fail'} ${this.counts.warn} warn ${this.counts.skip} skip  ${cur}`;
    this.o.stream.write(`\r\x1b[2K${line.slice(0, cols + 40)}`);
    this.statusShown = true;
  }

  begin(total: number, heading: string): void {
    this.total += total;
    this.clearStatus();
    this.o.stream.write(`${this.c.bold(heading)}\n`);
    this.status();
  }

  start(id: string): void {
    this.running.add(id);
    this.status();
  }

  result(r: CaseResult): void {
    this.running.delete(r.id);
    this.done++;
    this.counts[r.outcome]++;
    this.clearStatus();
    const tag = this.paint(r.outcome, r.outcome.toUpperCase().padEnd(7));
    const problem = r.outcome !== 'pass' && r.outcome !== 'skip';
    if (!this.tty || problem || this.o.verbose) {
      const base = r.baseline ? ` ${this.c.dim(`(${r.baseline})`)}` : '';
      const msg = r.outcome === 'pass' ? '' : ` ${this.c.dim('—')} ${r.message?.split('\n')[0] ?? ''}`;
      this.o.stream.write(`${tag} ${r.id}${base} ${this.c.dim(`${r.durationMs} ms`)}${msg}\n`);
    }
    if (problem && (isFailing(r, this.o.strict) || r.outcome === 'error' || this.o.verbose)) this.details(r);
    this.status();
  }

  private details(r: CaseResult): void {
    const s = this.o.stream;
    const c = this.c;
    for (const q of r.requirements) s.write(`        ${c.cyan(q.id)} ${q.strength}: ${q.text}\n`);
    if (r.expected !== undefined) s.write(`        ${c.green('expected:')} ${r.expected}\n`);
    if (r.actual !== undefined) s.write(`        ${c.red('actual:  ')} ${r.actual}\n`);
    for (const n of r.notes) s.write(`        note: ${n}\n`);
    if (r.transcript.length > 0) s.write(`${renderTranscript(r.transcript, 24).replace(/^/gm, '      ')}\n`);
    if (r.stderrTail) s.write(`        ${c.dim('target output (tail):')}\n${r.stderrTail.replace(/^/gm, '        | ')}\n`);
    s.write(`        ${c.dim('rerun:')} ${r.rerun}\n`);
  }

  summary(results: readonly CaseResult[], durationMs: number, exitCode: number): void {
    this.clearStatus();
    const n = (o: Outcome): number => results.filter((r) => r.outcome === o).length;
    const known = results.filter((r) => r.baseline === 'known-failure').length;
    const stale = results.filter((r) => r.baseline === 'stale').length;
    const parts = [
      this.c.green(`${n('pass')} passed`),
      `${n('fail')} failed`,
      `${n('warn')} warnings`,
      `${n('skip')} skipped`,
      `${n('error')} errors`,
      `${n('timeout')} timed out`,
      ...(known ? [`${known} known failures`] : []),
      ...(stale ? [this.c.red(`${stale} stale baseline entries`)] : []),
    ];
    this.o.stream.write(`\n${parts.join(', ')} in ${(durationMs / 1000).toFixed(1)} s — exit code ${exitCode}\n`);
  }
}
