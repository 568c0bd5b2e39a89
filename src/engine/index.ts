/**
 * The protocol engine: handshake negotiation, request ids, the connection state machine and the
 * multiplexed RPC connection. Explicit exports only (test helpers and internals stay private).
 *
 * @module
 */
export {
  RpcConnection,
  RemoteCallError,
  HandshakeRejectedError,
  workerHandshake,
  routerHandshake,
  readHandshakeFrame,
  defaultCapabilities,
  DEFAULT_SUPPORTED_VERSIONS,
  RESPONSE_FOR_REQUEST,
  responseFitsRequest,
  type CallOptions,
  type RequestContext,
  type RequestHandler,
  type NotificationContext,
  type NotificationHandler,
  type EngineEvent,
  type FaultHooks,
  type ConnectionOptions,
  type HandshakeOptions,
  type WorkerHandshakeOptions,
  type RouterHandshakeOptions,
  type RouterHandshakeResult,
  type NegotiatedParameters,
  type ConnectionInit,
} from './connection.js';
export {
  negotiateHello,
  checkWelcome,
  checkOwnCapabilities,
  sanitizeCapabilities,
  chooseCommonVersion,
  compareVersions,
  versionInRange,
  type AdmissionDecision,
  type RouterNegotiationConfig,
  type NegotiationOutcome,
} from './negotiation.js';
export { RequestIdAllocator, IncomingIdTracker, type Role, type IncomingIdTrackerOptions } from './ids.js';
export { ConnectionStateMachine, CONNECTION_STATES, LEGAL_TRANSITIONS, type ConnectionState } from './state.js';
export { createMemoryDuplexPair, type MemoryDuplexOptions } from './memory-duplex.js';
