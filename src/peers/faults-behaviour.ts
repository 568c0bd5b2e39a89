/**
 * Role-specific behaviour faults of the reference peers (part of {@link FAULTS}): each breaks one
 * rule of the router's or the worker's own behaviour (encoding, negotiation, handshake checks,
 * call bookkeeping, logging). Carried out by src/peers/fault-actions.ts, router.ts and worker.ts.
 *
 * @module
 */
import type { FaultSpec } from './faults.js';

export const BEHAVIOUR_FAULTS: readonly FaultSpec[] = Object.freeze([
  // --- router ---
  { name: 'router-noncanonical-encoding', role: 'router', rule: 'CBOR-1', trigger: 'handshake', description: 'encodes the Welcome with worker_id as a 4-byte integer (valid CBOR, not the canonical encoding)' },
  { name: 'router-accepts-non-hello-first-frame', role: 'router', rule: 'HS-3', trigger: 'on-input', description: 'answers a first frame that decodes but is not a Hello (Packet, Welcome, unknown variant) with a Welcome for shard 0 instead of closing' },
  { name: 'router-matches-responses-in-order', role: 'router', rule: 'DATA-2', trigger: 'on-call', description: 'expects responses in request order: a response that overtakes an older pending call is dropped (that call then times out)' },
  { name: 'router-cancel-without-packet', role: 'router', rule: 'CAN-1', trigger: 'on-call', description: 'an aborted call sends no Cancel packet although cancel was negotiated' },
  { name: 'router-double-response', role: 'router', rule: 'DATA-1', trigger: 'on-input', description: 'answers every request from the worker twice' },
  { name: 'router-compression-in-worker-order', role: 'router', rule: 'NEG-3', trigger: 'handshake', description: 'the Welcome lists the chosen compression algorithms in the worker order instead of the router order' },
  { name: 'router-adds-unoffered-none', role: 'router', rule: 'NEG-3', trigger: 'handshake', description: 'the Welcome adds none to the chosen compression list when the worker did not offer it' },
  { name: 'router-version-before-auth', role: 'router', rule: 'HS-4', trigger: 'handshake', description: 'checks the version before the auth token, so a bad token with a version mismatch is rejected unsupported_version' },
  { name: 'router-nonstandard-reject-texts', role: 'router', rule: 'HS-16', trigger: 'handshake', description: 'Reject messages are "handshake rejected (<code>)" instead of the texts of the reject table' },
  { name: 'router-ignores-wrong-shard-notification', role: 'router', rule: 'DATA-14', trigger: 'on-input', description: 'keeps a worker whose cached_index notification names another shard' },
  { name: 'router-unhandled-request-retryable', role: 'router', rule: 'DATA-11', trigger: 'on-input', description: 'answers a request it has no handler for with invalid_request retryable true' },
  { name: 'router-cancel-without-negotiation', role: 'router', rule: 'CAN-6', trigger: 'on-call', description: 'an aborted call sends a Cancel packet although cancel was not negotiated' },
  { name: 'router-accepts-mismatched-response', role: 'router', rule: 'DATA-20', trigger: 'on-input', description: 'takes any ok response variant as the answer to a call (e.g. ack to get_worker_stats): the pairing check is skipped' },
  { name: 'router-swaps-responses', role: 'router', rule: 'DATA-2', trigger: 'on-input', description: 'with two or more calls in flight, hands the first two responses that arrive each to the other call' },
  { name: 'router-rejects-token-without-auth', role: 'router', rule: 'SEC-7', trigger: 'handshake', description: 'with no token configured, rejects a Hello that carries one as unauthorized instead of ignoring the token' },
  { name: 'router-waits-forever', role: 'router', rule: 'LIM-5', trigger: 'on-call', description: 'waits for the response to its requests forever: neither its configured response wait nor a per-call timeout ends the wait (no Cancel, no close)' },
  { name: 'router-no-legacy-v2-error', role: 'router', rule: 'HS-12', trigger: 'on-input', description: 'closes on a legacy v2 WorkerHello without the legacy error frame "router only supports v3"' },
  // --- worker ---
  { name: 'worker-offers-zero-limits', role: 'worker', rule: 'LIM-1', trigger: 'handshake', description: 'the Hello offers max_frame_len 0 and max_packet_len 0' },
  { name: 'worker-unsanitized-offer', role: 'worker', rule: 'NEG-5', trigger: 'handshake', description: 'offers its compression list unsanitized: with unknown and a duplicate entry' },
  { name: 'worker-noncanonical-encoding', role: 'worker', rule: 'CBOR-1', trigger: 'handshake', description: 'encodes the Hello with shard_id as a 4-byte integer (valid CBOR, not the canonical encoding)' },
  { name: 'worker-accepts-packet-before-welcome', role: 'worker', rule: 'HS-14', trigger: 'handshake', description: 'ignores an answer to its Hello that is neither Welcome nor Reject and waits on for a Welcome (the first answer stops its handshake timer)' },
  { name: 'worker-accepts-invalid-welcome', role: 'worker', rule: 'HS-10', trigger: 'handshake', description: 'does not check the Welcome against its offer (and offers no cancel / chunking, so every negotiation rule can be broken)' },
  { name: 'worker-stays-open-after-reject', role: 'worker', rule: 'HS-13', trigger: 'handshake', description: 'keeps the connection open after a Reject' },
  { name: 'worker-accepts-wrong-shard-welcome', role: 'worker', rule: 'HS-15', trigger: 'handshake', description: 'goes on with a Welcome whose shard_id is not its own' },
  { name: 'worker-no-handshake-timeout', role: 'worker', rule: 'HS-17', trigger: 'handshake', description: 'waits for the Welcome forever' },
  { name: 'worker-chunk-size-not-reference', role: 'worker', rule: 'CHK-9', trigger: 'on-request', description: 'splits every chunk of a chunked response in two (chunk data about half the reference size)' },
  { name: 'worker-compresses-small-payloads', role: 'worker', rule: 'CMP-5', trigger: 'on-request', description: 'zstd-compresses every packet when zstd was negotiated, also payloads below 1024 bytes' },
  { name: 'worker-zstd-without-content-size', role: 'worker', rule: 'CMP-9', trigger: 'on-request', description: 'zstd-compressed Packets carry a zstd frame whose header omits the content size' },
  { name: 'worker-logs-token', role: 'worker', rule: 'SEC-2', trigger: 'handshake', description: 'writes its auth token into its log output when it connects' },
  { name: 'worker-token-in-process-title', role: 'worker', rule: 'SEC-3', trigger: 'handshake', description: 'puts its auth token into its process title at start-up, as some daemons show their settings (on Linux this rewrites /proc/PID/cmdline, so ps shows it); in-process it retitles the hosting process' },
  // --- both roles: engine options of the peers (router.ts / worker.ts) ---
  ...(['router', 'worker'] as const).flatMap((role): FaultSpec[] => [
    {
      name: `${role}-no-reassembly-total-cap`,
      role,
      rule: 'CHK-6',
      trigger: 'on-input',
      description: 'does not cap the bytes buffered across open chunk reassemblies at 256 MiB (only the 32-stream and per-stream max_packet_len limits apply)',
    },
    {
      name: `${role}-closes-on-unknown-variant-with-body`,
      role,
      rule: 'FWD-5',
      trigger: 'on-input',
      description: 'closes the connection on an unknown WireFrame / RpcPayload / Response / Notification variant whose body is present and not null (the Rust reference behaviour) instead of ignoring it',
    },
  ]),
] satisfies FaultSpec[]);
