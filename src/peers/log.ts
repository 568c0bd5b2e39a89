/**
 * One JSON object per line for every protocol event of a reference peer (stderr by default).
 *
 * Fields: `ts` (ISO time), `role`, `event`, then event fields (ids as decimal strings, sizes in
 * bytes). Callers never pass secrets; as defence in depth [SEC-2] every configured secret is also
 * replaced by `[redacted]` in the serialized line before it is written.
 *
 * @module
 */

export type LogFields = Record<string, string | number | boolean | bigint | null | undefined>;

export interface PeerEvent {
  ts: string;
  role: 'router' | 'worker';
  event: string;
  [field: string]: string | number | boolean | null;
}

export interface PeerLogger {
  log(event: string, fields?: LogFields): void;
  /** Add a secret to redact (e.g. the auth token once read). */
  addSecret(secret: string): void;
}

export interface LoggerOptions {
  role: 'router' | 'worker';
  /** Where lines go. Default: process.stderr. `null` disables output (events are still emitted). */
  sink?: ((line: string) => void) | null;
  /** Called with every event object (after redaction), e.g. to feed a handle's event list. */
  onEvent?: (event: PeerEvent) => void;
  secrets?: readonly string[];
}

export function createLogger(opts: LoggerOptions): PeerLogger {
  const secrets = new Set((opts.secrets ?? []).filter((s) => s.length > 0));
  const sink = opts.sink === undefined ? (line: string) => void process.stderr.write(`${line}\n`) : opts.sink;
  const redact = (s: string): string => {
    let out = s;
    for (const secret of secrets) out = out.split(secret).join('[redacted]');
    return out;
  };
  return {
    addSecret(secret: string) {
      if (secret.length > 0) secrets.add(secret);
    },
    log(event: string, fields: LogFields = {}) {
      const obj: Record<string, string | number | boolean | null> = { ts: new Date().toISOString(), role: opts.role, event };
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) continue;
        obj[k] = typeof v === 'bigint' ? v.toString() : v;
      }
      const line = redact(JSON.stringify(obj));
      if (opts.onEvent) opts.onEvent(JSON.parse(line) as PeerEvent);
      sink?.(line);
    },
  };
}

/** The recent-events history a peer handle exposes: bounded, oldest dropped past `maxEvents`. */
export function boundedEventLog(
  maxEvents: number,
  forward?: (e: PeerEvent) => void,
): { events: PeerEvent[]; onEvent: (e: PeerEvent) => void } {
  const events: PeerEvent[] = [];
  return {
    events,
    onEvent(e) {
      events.push(e);
      if (events.length > maxEvents) events.shift();
      forward?.(e);
    },
  };
}
