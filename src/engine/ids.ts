/**
 * Request id allocation and incoming id checks.
 *
 * The router allocates even ids 2, 4, 6, …; the worker odd ids 1, 3, 5, …; step 2, u64 wrap-around
 * that skips 0 (Rust `wrapping_add(2)` then skip 0) [ID-1] [ID-2]. Notifications take their id from the
 * same counter [ID-6].
 *
 * @module
 */
import { ErrorCodes, ProtocolError } from '../errors.js';

export type Role = 'router' | 'worker';

const U64_MODULUS = 1n << 64n;
const U64_MAX = U64_MODULUS - 1n;

/** Allocates outgoing request / notification ids for one connection. */
export class RequestIdAllocator {
  readonly role: Role;
  #next: bigint;

  /**
   * @param role which parity to allocate (router even, worker odd).
   * @param start first id to hand out (default 2 for the router, 1 for the worker); must have the
   *   role's parity, be non-zero and fit in u64. Tests use it to start near the wrap-around.
   * @throws ProtocolError CONFIG_INVALID for a bad `start`.
   */
  constructor(role: Role, start?: bigint) {
    this.role = role;
    const first = start ?? (role === 'router' ? 2n : 1n);
    const parity = role === 'router' ? 0n : 1n;
    if (first <= 0n || first > U64_MAX || first % 2n !== parity) {
      throw new ProtocolError(ErrorCodes.CONFIG_INVALID, `invalid first request id for ${role}`, { details: { role } });
    }
    this.#next = first;
  }

  /** The id {@link next} will return, without consuming it. */
  peek(): bigint {
    return this.#next;
  }

  /** Consume and return the next id. Never 0, always the role's parity. */
  next(): bigint {
    const id = this.#next;
    let n = (id + 2n) % U64_MODULUS;
    // [ID-2] 0 is reserved: the router's counter wraps from 2^64-2 to 0, skip to 2.
    if (n === 0n) n = 2n;
    this.#next = n;
    return id;
  }
}

export interface IncomingIdTrackerOptions {
  /** Check the parity of incoming Request ids [ID-3]. Default true; false only for fault injection. */
  checkParity?: boolean;
  /** Refuse a Request id that is already in flight [ID-4]. Default true; false only for fault injection. */
  checkDuplicate?: boolean;
}

/** Tracks the peer's in-flight requests and enforces the id rules on what the peer sends. */
export class IncomingIdTracker {
  /** Our role; the peer's requests must carry the other role's parity. */
  readonly role: Role;
  readonly #inFlight = new Set<bigint>();
  readonly #checkParity: boolean;
  readonly #checkDuplicate: boolean;

  constructor(role: Role, opts: IncomingIdTrackerOptions = {}) {
    this.role = role;
    this.#checkParity = opts.checkParity ?? true;
    this.#checkDuplicate = opts.checkDuplicate ?? true;
  }

  /**
   * Check the id of any incoming Packet or PacketChunk.
   * @throws ProtocolError REQUEST_ID_ZERO [ID-2]
   */
  checkPacketId(id: bigint): void {
    // [ID-2] request_id 0 is reserved, on Packet and PacketChunk alike.
    if (id === 0n) throw new ProtocolError(ErrorCodes.REQUEST_ID_ZERO, 'request id 0 is reserved', { rule: 'ID-2' });
  }

  /**
   * Register an incoming Request id (after {@link checkPacketId}).
   * @throws ProtocolError REQUEST_ID_PARITY [ID-3], REQUEST_ID_DUPLICATE [ID-4]
   */
  beginRequest(id: bigint): void {
    if (this.#checkParity) {
      // [ID-3] the router accepts only odd (worker-allocated) request ids, the worker only even ones.
      const expected = this.role === 'router' ? 1n : 0n;
      if (id % 2n !== expected) {
        throw new ProtocolError(ErrorCodes.REQUEST_ID_PARITY, `request id parity violation: expected id%2=${expected}`, {
          rule: 'ID-3',
          details: { id, expectedParity: Number(expected) },
        });
      }
    }
    // [ID-4] a duplicate in-flight request id closes the connection.
    if (this.#checkDuplicate && this.#inFlight.has(id)) {
      throw new ProtocolError(ErrorCodes.REQUEST_ID_DUPLICATE, 'duplicate in-flight request id', {
        rule: 'ID-4',
        details: { id },
      });
    }
    this.#inFlight.add(id);
  }

  /** The request's terminal response has been sent (or abandoned): the id may be reused. */
  endRequest(id: bigint): void {
    this.#inFlight.delete(id);
  }

  has(id: bigint): boolean {
    return this.#inFlight.has(id);
  }

  get size(): number {
    return this.#inFlight.size;
  }
}
