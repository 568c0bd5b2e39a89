/**
 * The connection state machine. Every state change goes through {@link ConnectionStateMachine.transition},
 * which names the states it may leave from, so an illegal change (e.g. `open` after `closed`) is a bug
 * that throws instead of a silent corruption.
 *
 * ```
 *  awaiting_hello ──┐                       (router, before a Hello is read)
 *                   ├──> open ──> closing ──> closed
 *  awaiting_welcome ┘      └────────────────> closed
 *  (worker, Hello sent)    (any state may go straight to closed)
 * ```
 *
 * @module
 */
import { ErrorCodes, ProtocolError } from '../errors.js';

export type ConnectionState = 'awaiting_hello' | 'awaiting_welcome' | 'open' | 'closing' | 'closed';

export const CONNECTION_STATES: readonly ConnectionState[] = ['awaiting_hello', 'awaiting_welcome', 'open', 'closing', 'closed'];

/** The legal edges, for documentation and for tests. */
export const LEGAL_TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = Object.freeze({
  awaiting_hello: ['open', 'closing', 'closed'],
  awaiting_welcome: ['open', 'closing', 'closed'],
  open: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
});

/** Guarded state holder. */
export class ConnectionStateMachine {
  #state: ConnectionState;
  readonly #onChange: ((from: ConnectionState, to: ConnectionState) => void) | undefined;

  constructor(initial: ConnectionState, onChange?: (from: ConnectionState, to: ConnectionState) => void) {
    this.#state = initial;
    this.#onChange = onChange;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** True when the current state is one of `states`. */
  is(...states: ConnectionState[]): boolean {
    return states.includes(this.#state);
  }

  /**
   * Move to `to`, but only from one of `from` (and only along a legal edge).
   * @throws ProtocolError CONFIG_INVALID (an internal bug, never peer-triggered) on an illegal transition.
   */
  transition(from: readonly ConnectionState[], to: ConnectionState): void {
    const current = this.#state;
    if (!from.includes(current) || !LEGAL_TRANSITIONS[current].includes(to)) {
      throw new ProtocolError(ErrorCodes.CONFIG_INVALID, `illegal connection state transition ${current} -> ${to}`, {
        details: { from: current, to },
      });
    }
    this.#state = to;
    this.#onChange?.(current, to);
  }
}
