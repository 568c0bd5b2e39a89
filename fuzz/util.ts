/**
 * Small helpers shared by the fuzz commands.
 *
 * @module
 */

/**
 * Parse a duration such as `500ms`, `30s`, `10m`, `1h` or a bare number of seconds.
 * @throws Error for anything else (the text is not echoed back beyond a short form).
 */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m) throw new Error(`invalid duration (use e.g. 500ms, 30s, 10m, 1h): ${text.slice(0, 32)}`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

/** `1234567` → `1.23M`, for execs/s lines. */
export function formatRate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(1);
}

/** JSON.stringify that writes bigints as decimal strings and bytes as hex. */
export function safeStringify(value: unknown, space?: number): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Uint8Array) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
      return v;
    },
    space,
  );
}
