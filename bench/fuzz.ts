/**
 * Fuzzer throughput: offline decodes/s of mutated inputs (target ≥ 20k/s) and network cases/s
 * against the in-process reference peers.
 */
import fc from 'fast-check';
import { isProtocolError } from '../src/errors.js';
import { decodeRpcPayload, decodeWireFrame } from '../src/wire/index.js';
import { rpcPayloadArb, wireFrameArb } from '../fuzz/arbitraries.js';
import { modelToTree, neutralEncode, writeCbor } from '../conformance/cbor.js';
import { mutateBytes, mutateTree } from '../fuzz/mutate.js';
import { createRng } from '../fuzz/rng.js';
import { runNetworkCampaign } from '../fuzz/net/campaign.js';
import { DEFAULT_RUN_OPTIONS } from '../fuzz/net/runner.js';
import { inProcessRouter, inProcessWorker } from '../fuzz/net/targets.js';

const OFFLINE_MS = 3000;
const NETWORK_MS = 4000;

/** A fixed corpus: valid messages, byte mutants and structure mutants (1:1:1). */
function corpus(n: number): Uint8Array[] {
  const rng = createRng(0xbe7c);
  const values = [...fc.sample(wireFrameArb, { seed: 1, numRuns: n / 2 }), ...fc.sample(rpcPayloadArb, { seed: 2, numRuns: n / 2 })];
  return values.map((v, i) => {
    if (i % 3 === 0) return neutralEncode(v);
    if (i % 3 === 1) return mutateBytes(neutralEncode(v), rng);
    return writeCbor(mutateTree(modelToTree(v), rng, i % 6 === 2 ? 'boundary-int' : undefined).tree);
  });
}

export async function run(): Promise<Record<string, unknown>> {
  const inputs = corpus(2000);
  const inputBytes = inputs.reduce((a, b) => a + b.length, 0);
  let decodes = 0;
  let refused = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < OFFLINE_MS) {
    for (const bytes of inputs) {
      for (const decode of [decodeWireFrame, decodeRpcPayload]) {
        try {
          decode(bytes);
        } catch (e) {
          if (!isProtocolError(e)) throw e;
          refused++;
        }
        decodes++;
      }
    }
  }
  const offlineMs = performance.now() - t0;

  const network: Record<string, unknown> = {};
  for (const role of ['worker', 'router'] as const) {
    const target = role === 'router' ? await inProcessRouter({ shards: [0, 1, 2, 3] }) : await inProcessWorker();
    try {
      const r = await runNetworkCampaign({ target, seed: '1', durationMs: NETWORK_MS, run: { ...DEFAULT_RUN_OPTIONS, deadlineMs: 2000 }, lanes: [0, 1, 2, 3], log: () => {} });
      // The case mix: router cases include rule-breaking Hellos (Rejects), silent handshakes (waited
      // for the in-process router's 1 s handshake timeout) and stimulated router requests.
      network[role] = { cases: r.cases, casesPerSecond: Math.round(r.casesPerSecond * 10) / 10, failures: r.failures.length, lanes: 4, ends: r.ends, handshakeRejects: r.handshakeRejects };
    } finally {
      await target.close();
    }
  }
  return {
    offline: {
      decodesPerSecond: Math.round((decodes * 1000) / offlineMs),
      targetDecodesPerSecond: 20_000,
      corpusInputs: inputs.length,
      meanInputBytes: Math.round(inputBytes / inputs.length),
      refusedFraction: Math.round((refused / decodes) * 1000) / 1000,
    },
    network,
  };
}
