/**
 * The reference worker's trivial "language service": it keeps the files it is given, indexes
 * every `class Name` as a symbol (0-based line, 0-based UTF-16 column of the name, as MSG-2
 * specifies), and reports a diagnostic for every line containing `ERROR` (error) or `WARN`
 * (warning). Enough to make responses depend on the requests, so round trips are checkable.
 *
 * @module
 */
import type { FileText, IndexSymbol, RemoteDiagnostic, ShardIndex, WorkerStats } from '../wire/model.js';

const CLASS_DECL = /\bclass\s+([A-Za-z_$][A-Za-z0-9_$]*)/g;

/** Symbols of one file. Columns are UTF-16 code units, which is what JS string indices are. */
export function indexFile(file: FileText): IndexSymbol[] {
  const out: IndexSymbol[] = [];
  const lines = file.text.split('\n');
  for (let line = 0; line < lines.length; line++) {
    for (const m of lines[line]!.matchAll(CLASS_DECL)) {
      const name = m[1]!;
      out.push({ name, path: file.path, line, column: m.index + m[0].length - name.length });
    }
  }
  return out;
}

export function diagnoseText(text: string): RemoteDiagnostic[] {
  const out: RemoteDiagnostic[] = [];
  const lines = text.split('\n');
  for (let line = 0; line < lines.length; line++) {
    const l = lines[line]!;
    const e = l.indexOf('ERROR');
    if (e >= 0) out.push({ severity: 'error', line, column: e, message: 'line contains ERROR' });
    const w = l.indexOf('WARN');
    if (w >= 0) out.push({ severity: 'warning', line, column: w, message: 'line contains WARN' });
  }
  return out;
}

/** Mutable state of one shard on the worker. */
export class Workspace {
  readonly shardId: number;
  revision = 0n;
  indexGeneration = 0n;
  readonly files = new Map<string, string>();

  constructor(shardId: number) {
    this.shardId = shardId;
  }

  load(revision: bigint, files: readonly FileText[]): void {
    this.revision = revision;
    for (const f of files) this.files.set(f.path, f.text);
  }

  update(revision: bigint, file: FileText): void {
    this.revision = revision;
    this.files.set(file.path, file.text);
  }

  /** Rebuild the index over all files; bumps index_generation. */
  index(): ShardIndex {
    this.indexGeneration += 1n;
    const symbols: IndexSymbol[] = [];
    for (const path of [...this.files.keys()].sort()) symbols.push(...indexFile({ path, text: this.files.get(path)! }));
    return { shard_id: this.shardId, revision: this.revision, index_generation: this.indexGeneration, symbols };
  }

  stats(): WorkerStats {
    return { shard_id: this.shardId, revision: this.revision, index_generation: this.indexGeneration, file_count: this.files.size };
  }

  diagnostics(path: string): RemoteDiagnostic[] | null {
    const text = this.files.get(path);
    return text === undefined ? null : diagnoseText(text);
  }
}
