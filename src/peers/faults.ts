/**
 * The fault catalogue of the reference peers.
 *
 * Each fault makes one reference peer break exactly one rule of the specification, so the
 * conformance suite can check that an implementation under test DETECTS the violation (sender
 * faults: the other side must close / refuse) or that the suite itself notices a peer that FAILS
 * to enforce a rule (receiver faults, named `*-accepts-*`, `*-ignores-*`, `*-no-*`).
 *
 * `trigger` says when the misbehaviour happens, so a harness knows what to provoke:
 * - `handshake`: during the handshake, without help.
 * - `after-welcome`: right after the handshake completes, without help.
 * - `on-request`: when the peer answers (worker) a request — the harness sends any request.
 * - `on-input`: when the peer receives the bad input named in the description (receiver faults).
 * - `on-call`: when the router peer's API / script sends its next request.
 *
 * @module
 */

import { BEHAVIOUR_FAULTS } from './faults-behaviour.js';
import { RECEIVE_FAULTS } from './faults-receive.js';
import { TLS_FAULTS } from './faults-tls.js';

export type FaultRole = 'router' | 'worker';
export type FaultTrigger = 'handshake' | 'after-welcome' | 'on-request' | 'on-input' | 'on-call';

export interface FaultSpec {
  readonly name: string;
  readonly role: FaultRole;
  /** The spec requirement id this fault violates. */
  readonly rule: string;
  readonly trigger: FaultTrigger;
  readonly description: string;
}

const both = (
  suffix: string,
  rule: string,
  trigger: FaultTrigger,
  description: (role: FaultRole, other: FaultRole) => string,
): FaultSpec[] =>
  (['router', 'worker'] as const).map((role) => ({
    name: `${role}-${suffix}`,
    role,
    rule,
    trigger,
    description: description(role, role === 'router' ? 'worker' : 'router'),
  }));

/** Every fault, in a stable order. Names are stable: harness cases refer to them. */
export const FAULTS: readonly FaultSpec[] = Object.freeze([
  // --- request ids ---
  { name: 'worker-wrong-parity', role: 'worker', rule: 'ID-3', trigger: 'after-welcome', description: 'after the handshake, sends a request with an even (router-parity) id' },
  { name: 'worker-id-zero', role: 'worker', rule: 'ID-2', trigger: 'after-welcome', description: 'after the handshake, sends a request packet with id 0' },
  ...both('reuse-inflight-id', 'ID-4', 'after-welcome', () => 'after the handshake, sends two requests with the same id back to back (the first is still in flight)'),
  { name: 'router-wrong-parity', role: 'router', rule: 'ID-3', trigger: 'on-call', description: 'sends its requests with odd (worker-parity) ids' },
  { name: 'router-id-zero', role: 'router', rule: 'ID-2', trigger: 'on-call', description: 'sends its next request with id 0' },
  // --- the Welcome (worker-side checks, HS-10) ---
  { name: 'router-welcome-exceeds-offer', role: 'router', rule: 'NEG-1', trigger: 'handshake', description: 'Welcome chooses max_frame_len and max_packet_len one byte above the worker offer' },
  { name: 'router-welcome-enables-unoffered', role: 'router', rule: 'NEG-2', trigger: 'handshake', description: 'Welcome sets supports_cancel and supports_chunking true whatever the worker offered' },
  { name: 'router-welcome-unoffered-compression', role: 'router', rule: 'NEG-3', trigger: 'handshake', description: 'Welcome chooses zstd even when the worker did not offer it' },
  { name: 'router-welcome-unoffered-version', role: 'router', rule: 'VER-1', trigger: 'handshake', description: 'Welcome chooses version 9.9, outside any sane offer' },
  // --- handshake, router side ---
  { name: 'router-speaks-before-hello', role: 'router', rule: 'HS-2', trigger: 'handshake', description: 'sends a Welcome as soon as a connection is accepted, before reading the Hello' },
  { name: 'router-accepts-bad-token', role: 'router', rule: 'SEC-1', trigger: 'handshake', description: 'welcomes a Hello whose auth_token does not match the configured one' },
  { name: 'router-echoes-token-in-reject', role: 'router', rule: 'SEC-2', trigger: 'handshake', description: 'the unauthorized Reject message contains the token the worker sent' },
  { name: 'router-ignores-zero-limits', role: 'router', rule: 'HS-4', trigger: 'handshake', description: 'welcomes a Hello with max_frame_len or max_packet_len 0 (instead of invalid_request)' },
  { name: 'router-wrong-check-order', role: 'router', rule: 'HS-4', trigger: 'handshake', description: 'checks auth before limits and compression before version, so the first failing check is not the one reported' },
  { name: 'router-skips-admission', role: 'router', rule: 'HS-11', trigger: 'handshake', description: 'welcomes unknown shards and a second worker for an already connected shard' },
  { name: 'router-no-reject', role: 'router', rule: 'HS-5', trigger: 'handshake', description: 'closes the connection silently where a Reject is due' },
  { name: 'router-silent-handshake', role: 'router', rule: 'HS-2', trigger: 'handshake', description: 'reads the Hello and never answers it (keeps the connection open)' },
  { name: 'router-handshake-no-timeout', role: 'router', rule: 'HS-6', trigger: 'handshake', description: 'never times out a connection that has not completed its handshake' },
  // --- handshake, worker side ---
  { name: 'worker-packet-before-welcome', role: 'worker', rule: 'HS-8', trigger: 'handshake', description: 'sends a request packet right after its Hello, before the Welcome arrives' },
  ...both('second-hello-after-handshake', 'HS-7', 'after-welcome', (r) =>
    r === 'worker' ? 'sends a second Hello after the handshake' : 'sends a second Welcome after the handshake'),
  // --- framing ---
  ...both('oversize-frame', 'FRM-5', 'after-welcome', () => 'after the handshake, sends a frame one byte over the negotiated max_frame_len'),
  { name: 'worker-stall-mid-frame', role: 'worker', rule: 'HS-6', trigger: 'handshake', description: 'sends a Hello length prefix claiming 1 MiB and 16 bytes of body, then stalls (the router must time the handshake out)' },
  { name: 'router-stall-mid-frame', role: 'router', rule: 'HS-2', trigger: 'handshake', description: 'answers a Hello with a Welcome length prefix and half its body, then stalls (a worker should time the handshake out)' },
  ...both('garbage-after-welcome', 'FRM-1', 'after-welcome', () => 'after the handshake, sends a 16-byte frame that is not CBOR (0xff bytes)'),
  // --- packets, chunking, compression (senders) ---
  ...both('oversize-packet', 'DATA-4', 'after-welcome', () =>
    'after the handshake, sends a packet whose data is max_packet_len+1 bytes (one Packet if it fits the frame limit, else chunks)'),
  ...both('chunk-out-of-sequence', 'CHK-3', 'after-welcome', () => 'after the handshake, sends a chunked packet with seq 0 then seq 2'),
  ...both('chunk-without-negotiation', 'CHK-2', 'after-welcome', () =>
    'offers no chunking, then after the handshake sends a request as PacketChunks anyway'),
  ...both('chunk-compression-change', 'CHK-4', 'after-welcome', () =>
    'after the handshake, sends a chunked packet whose first chunk says none and whose second says zstd'),
  ...both('zstd-not-negotiated', 'CMP-2', 'after-welcome', () => 'offers only none, then after the handshake sends a zstd-compressed packet'),
  ...both('unknown-compression', 'CMP-2', 'after-welcome', () => 'after the handshake, sends a packet with compression "unknown"'),
  // --- data plane, worker answers ---
  { name: 'worker-ignores-cancel', role: 'worker', rule: 'CAN-5', trigger: 'on-input', description: 'keeps working on a cancelled request and answers it with its full result' },
  { name: 'worker-double-response', role: 'worker', rule: 'DATA-1', trigger: 'on-request', description: 'answers every request twice' },
  { name: 'worker-silent', role: 'worker', rule: 'DATA-1', trigger: 'on-request', description: 'never answers any request' },
  { name: 'worker-error-echoes-token', role: 'worker', rule: 'SEC-2', trigger: 'on-request', description: 'error responses (e.g. to an unknown request) contain its auth token' },
  { name: 'worker-unknown-request-not-rejected', role: 'worker', rule: 'DATA-7', trigger: 'on-request', description: 'answers an unknown request with ok ack instead of invalid_request' },
  { name: 'worker-no-shutdown-response', role: 'worker', rule: 'DATA-8', trigger: 'on-request', description: 'closes the connection on Shutdown without answering it' },
  // --- receivers that fail to enforce a rule ---
  ...both('accepts-oversize-frame', 'FRM-3', 'on-input', () => 'does not enforce the negotiated max_frame_len on incoming frames (only the 64 MiB hard cap)'),
  ...both('accepts-wrong-parity', 'ID-3', 'on-input', (r) => `serves requests with ${r === 'router' ? 'even' : 'odd'} (wrong-parity) ids`),
  ...both('accepts-duplicate-id', 'ID-4', 'on-input', () => 'serves a request whose id is already in flight'),
  ...both('accepts-id-zero', 'ID-2', 'on-input', () => 'processes packets with id 0'),
  ...both('accepts-unnegotiated-chunks', 'CHK-2', 'on-input', () => 'reassembles PacketChunks although chunking was not negotiated'),
  ...both('accepts-zstd-bomb', 'CMP-4', 'on-input', () => 'decompresses zstd without the max_packet_len output cap (bounded only by the 64 MiB hard cap)'),
  ...both('crash-on-unknown-variant', 'DATA-6', 'on-input', () =>
    'closes the connection on an unknown WireFrame / RpcPayload / Notification variant (body null) instead of ignoring it'),
  // --- role-specific behaviour faults (faults-behaviour.ts) ---
  ...BEHAVIOUR_FAULTS,
  // --- role-neutral receive-side faults (faults-receive.ts, carried out by receive-shim.ts) ---
  ...RECEIVE_FAULTS,
  // --- TLS / mTLS and connection caps (faults-tls.ts) ---
  ...TLS_FAULTS,
] satisfies FaultSpec[]);

const BY_NAME: ReadonlyMap<string, FaultSpec> = new Map(FAULTS.map((f) => [f.name, f]));

/** Look a fault up by name. */
export function getFault(name: string): FaultSpec | undefined {
  return BY_NAME.get(name);
}

/**
 * Validate a list of fault names for one role. Fault names come from our own CLI / API users, but we
 * still do not echo unknown ones back verbatim beyond a short, sanitized form.
 */
export function resolveFaults(names: readonly string[], role: FaultRole): ReadonlySet<string> {
  const out = new Set<string>();
  for (const name of names) {
    const f = BY_NAME.get(name);
    if (f === undefined) throw new Error(`unknown fault name (see --list-faults): ${sanitizeName(name)}`);
    if (f.role !== role) throw new Error(`fault ${f.name} belongs to the ${f.role}, not the ${role}`);
    out.add(f.name);
  }
  return out;
}

function sanitizeName(s: string): string {
  const clean = s.replace(/[^a-z0-9-]/gi, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}

/** The `--list-faults` text table. */
export function formatFaultList(faults: readonly FaultSpec[] = FAULTS): string {
  const w = Math.max(...faults.map((f) => f.name.length));
  const lines = faults.map((f) => `${f.name.padEnd(w)}  ${f.role.padEnd(6)}  ${f.rule.padEnd(6)}  ${f.trigger.padEnd(13)}  ${f.description}`);
  return [`${'NAME'.padEnd(w)}  ${'ROLE'.padEnd(6)}  ${'RULE'.padEnd(6)}  ${'TRIGGER'.padEnd(13)}  DESCRIPTION`, ...lines].join('\n');
}
