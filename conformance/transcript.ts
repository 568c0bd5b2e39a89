/**
 * Frame transcripts for failure diagnostics, and secret redaction.
 *
 * Every byte the harness sends and receives is recorded with a direction and a timestamp
 * relative to the case start. Hex is truncated for very large frames. Auth tokens are masked in
 * both the hex and the decoded view before anything is stored [SEC-2].
 *
 * @module
 */

export type Direction = 'out' | 'in' | 'note';

export interface TranscriptEntry {
  /** Milliseconds since the case started. */
  tMs: number;
  dir: Direction;
  /** Which connection (1-based within the case). */
  conn: number;
  /** Total bytes on the wire for this entry (prefix included for frames). */
  bytes?: number;
  /** Lowercase hex, possibly truncated (see `truncated`). */
  hex?: string;
  truncated?: boolean;
  /** Human-readable decoded form (JSON view), or a note. */
  text: string;
}

/** Hex shown per frame in transcripts. */
export const TRANSCRIPT_HEX_BYTES = 256;
/** Entries kept per case (the first ones and the last ones). */
export const TRANSCRIPT_MAX_ENTRIES = 400;

const REDACTED = '[REDACTED]';

/** Masks every configured secret in strings and byte arrays. */
export class Redactor {
  private readonly secrets: string[];
  private readonly secretBytes: Uint8Array[];
  constructor(secrets: readonly (string | undefined)[]) {
    this.secrets = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 1))].sort(
      (a, b) => b.length - a.length,
    );
    const enc = new TextEncoder();
    this.secretBytes = this.secrets.map((s) => enc.encode(s));
    // Secrets also appear hex-encoded (transcripts, expected/actual byte dumps).
    for (const b of this.secretBytes) if (b.length >= 4) this.secrets.push(Buffer.from(b).toString('hex'));
    this.secrets.sort((a, b) => b.length - a.length);
  }
  /** Add a secret at run time (e.g. a wrong token a case sends). */
  add(secret: string): void {
    if (secret.length === 0 || this.secrets.includes(secret)) return;
    const b = new TextEncoder().encode(secret);
    this.secrets.push(secret);
    if (b.length >= 4) this.secrets.push(Buffer.from(b).toString('hex'));
    this.secrets.sort((a, b) => b.length - a.length);
    this.secretBytes.push(b);
  }
  text(s: string): string {
    let out = s;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }
  /** A copy of `bytes` with every secret's UTF-8 bytes replaced by '*' (0x2a). */
  bytes(bytes: Uint8Array): Uint8Array {
    let out: Uint8Array | undefined;
    for (const sb of this.secretBytes) {
      if (sb.length === 0 || sb.length > bytes.length) continue;
      outer: for (let i = 0; i + sb.length <= bytes.length; i++) {
        for (let j = 0; j < sb.length; j++) if (bytes[i + j] !== sb[j]) continue outer;
        out ??= Uint8Array.from(bytes); // a real copy (Buffer#slice would be a view)
        out.fill(0x2a, i, i + sb.length);
      }
    }
    return out ?? bytes;
  }
  containsSecret(s: string): boolean {
    return this.secrets.some((secret) => s.includes(secret));
  }
  /** Deep-redact a JSON-able structure (strings only). */
  deep<T>(value: T): T {
    if (typeof value === 'string') return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.deep(v)) as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.deep(v);
      return out as T;
    }
    return value;
  }
}

export function hex(bytes: Uint8Array, max = TRANSCRIPT_HEX_BYTES): { hex: string; truncated: boolean } {
  const shown = bytes.length > max ? bytes.subarray(0, max) : bytes;
  return { hex: Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString('hex'), truncated: bytes.length > max };
}

/** JSON with bigints as decimal strings and bytes as hex (shortened), for the decoded column. */
export function describeValue(value: unknown, maxChars = 600): string {
  const s = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) {
      const h = hex(v, 32);
      return `h'${h.hex}${h.truncated ? `…' (${v.length} B)` : "'"}`;
    }
    if (typeof v === 'string' && v.length > 120) return `${v.slice(0, 60)}…(${v.length} chars)`;
    return v;
  });
  return s === undefined ? String(value) : s.length > maxChars ? `${s.slice(0, maxChars)}…` : s;
}

export class Transcript {
  readonly entries: TranscriptEntry[] = [];
  private dropped = 0;
  private readonly startMs: number;
  constructor(
    readonly redactor: Redactor,
    startMs = performance.now(),
  ) {
    this.startMs = startMs;
  }
  private push(e: TranscriptEntry): void {
    if (this.entries.length >= TRANSCRIPT_MAX_ENTRIES) {
      // Keep the first half and a rolling tail: the start explains the setup, the tail the failure.
      this.entries.splice(TRANSCRIPT_MAX_ENTRIES / 2, 1);
      this.dropped++;
    }
    this.entries.push(e);
  }
  now(): number {
    return Math.round((performance.now() - this.startMs) * 10) / 10;
  }
  frame(dir: 'in' | 'out', conn: number, wireBytes: Uint8Array, text: string): void {
    const h = hex(this.redactor.bytes(wireBytes));
    this.push({ tMs: this.now(), dir, conn, bytes: wireBytes.length, hex: h.hex, ...(h.truncated ? { truncated: true } : {}), text: this.redactor.text(text) });
  }
  note(conn: number, text: string): void {
    this.push({ tMs: this.now(), dir: 'note', conn, text: this.redactor.text(text) });
  }
  get droppedEntries(): number {
    return this.dropped;
  }
}

/** Render a transcript as plain text lines (console / Markdown / JUnit). */
export function renderTranscript(entries: readonly TranscriptEntry[], maxLines = 60): string {
  const lines: string[] = [];
  const shown = entries.length > maxLines ? [...entries.slice(0, maxLines / 2), undefined, ...entries.slice(-maxLines / 2)] : entries;
  for (const e of shown) {
    if (!e) {
      lines.push(`  … ${entries.length - maxLines} entries omitted …`);
      continue;
    }
    const arrow = e.dir === 'out' ? '→' : e.dir === 'in' ? '←' : '·';
    const t = `${e.tMs.toFixed(1).padStart(8)}ms`;
    const size = e.bytes !== undefined ? ` [${e.bytes} B]` : '';
    lines.push(`${t} c${e.conn} ${arrow}${size} ${e.text}`);
    if (e.hex !== undefined && e.hex.length > 0) lines.push(`${' '.repeat(15)}${e.hex}${e.truncated ? '…' : ''}`);
  }
  return lines.join('\n');
}
