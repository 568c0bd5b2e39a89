/**
 * Cases that no reference-peer fault can make fail yet, each with the fault it needs (name,
 * rule, behaviour). Reviewed list: every entry is a request to the peers owner (src/peers/faults.ts).
 * When the fault lands, move its name into the case's `faults` and delete the entry here; the
 * self-test fails on stale entries.
 *
 * @module
 */

/** Needed fault per role-neutral rule (suffix → description), documented once. */
export const NEEDED_FAULTS: Readonly<Record<string, string>> = {
  'lax-decoder': '[CBOR-6..9, CBOR-12] decodes peer frames without the preflight: accepts trailing bytes, duplicate keys, nesting > 64, long / non-text keys, > 1024 pairs, over-cap strings, unit variants with a body, struct variants without one',
  'strict-decoder': '[CBOR-10] refuses indefinite lengths, tags, non-minimal integers, body-before-type, bytes as arrays and missing optional keys',
  'rejects-unknown-keys': '[FWD-1] closes on a map key it does not know',
  'accepts-zero-length-frame': '[FRM-2] skips zero-length frames instead of closing',
  'frame-limit-off-by-one': '[FRM-3] refuses a frame whose length equals the limit (checks >= instead of >)',
  'accepts-oversize-first-frame': '[FRM-4] reads a first frame (Hello / Welcome) above 1 MiB',
  'no-hard-cap': '[FRM-7] waits for the body of a frame above 64 MiB instead of closing at the prefix',
  'one-frame-per-read': '[FRM-1] assumes one frame per socket read (drops split or batched frames)',
  'ignores-undecodable-frame': '[FRM-1, DATA-5] ignores a frame or packet payload that does not decode instead of closing',
  'accepts-oversize-packet': '[DATA-4] serves a Packet whose data exceeds max_packet_len',
  'closes-on-unknown-response': '[DATA-3] closes on a Response for an id that is not in flight',
  'accepts-second-hello': '[HS-7] ignores a Hello / Welcome / Reject after the handshake',
  'rejects-chunks': '[CHK-8] refuses chunked or interleaved packets although chunking was negotiated',
  'accepts-chunk-seq-gap': '[CHK-3] reassembles chunks whatever their seq',
  'accepts-chunk-compression-change': '[CHK-4] accepts a compression change inside one chunk stream',
  'max-31-streams': '[CHK-5] closes at the 32nd concurrent chunk stream',
  'accepts-33-streams': '[CHK-5] accepts more than 32 concurrent chunk streams',
  'accepts-oversize-reassembly': '[CHK-7] serves a reassembled packet above max_packet_len',
  'rejects-zstd': '[NEG-4] refuses zstd packets although zstd was negotiated',
  'rejects-unnegotiated-none': '[CMP-3] refuses compression none when only zstd was negotiated',
  'accepts-unnegotiated-compression': '[CMP-2] decompresses / serves packets with an unnegotiated or unknown compression',
  'ignores-malformed-zstd': '[CMP-6] ignores a packet whose zstd data is malformed instead of closing',
  'closes-on-unknown-cancel': '[CAN-4] closes on a Cancel for an unknown id',
  'honours-unnegotiated-cancel': '[CAN-2] acts on (or answers) a Cancel when cancel was not negotiated',
  'truncates-u64': '[MSG-4] loses precision on u64 values above 2^53',
  'answers-notifications': '[DATA-17] answers a notification',
  'rejects-empty-chunks': '[CHK-11] closes on a chunk with empty data',
  'ignores-zstd-checksum': '[CMP-7] does not verify zstd content checksums',
  'accepts-huge-zstd-window': '[CMP-8] allocates for a zstd window above 128 MiB',
  'case-insensitive-variants': '[FWD-4] matches variant names ignoring case',
};

/** Case id → the fault (name) that would make it fail. Empty: every case has a fault. */
export const PENDING_FAULTS: Readonly<Record<string, string>> = {};
