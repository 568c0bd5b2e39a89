/**
 * Test helpers for the engine tests (not part of the public API).
 * @module
 */
import type { Duplex } from 'node:stream';
import { routerHandshake, workerHandshake, type RouterHandshakeOptions, type RpcConnection, type WorkerHandshakeOptions } from './connection.js';
import { createMemoryDuplexPair, type MemoryDuplexOptions } from './memory-duplex.js';
import type { Capabilities } from '../wire/model.js';

export function testCaps(over: Partial<Capabilities> = {}): Capabilities {
  return {
    max_frame_len: 64 * 1024,
    max_packet_len: 1024 * 1024,
    supported_compression: ['none'],
    supports_cancel: true,
    supports_chunking: true,
    ...over,
  };
}

export interface Pair {
  worker: RpcConnection;
  router: RpcConnection;
  workerStream: Duplex;
  routerStream: Duplex;
}

/** Handshake a worker and a router over an in-memory pair. */
export async function connectedPair(
  opts: { worker?: Partial<WorkerHandshakeOptions>; router?: RouterHandshakeOptions; duplex?: MemoryDuplexOptions } = {},
): Promise<Pair> {
  const [ws, rs] = createMemoryDuplexPair(opts.duplex);
  const [worker, r] = await Promise.all([
    workerHandshake(ws, { shardId: 1, capabilities: testCaps(), ...opts.worker }),
    routerHandshake(rs, { capabilities: testCaps(), ...opts.router }),
  ]);
  if (r.kind !== 'welcome') throw new Error(`router rejected: ${r.reject.code}`);
  return { worker, router: r.connection, workerStream: ws, routerStream: rs };
}
