/**
 * Reference peers (router and worker) for nova remote RPC v3, with fault injection.
 *
 * @module
 */
export {
  startReferenceRouter,
  runDefaultScript,
  DEFAULT_SCRIPT_FILES,
} from './router.js';
export type { ReferenceRouterOptions, ReferenceRouterHandle, WorkerSession, ScriptResult, ScriptStep, RouterScript } from './router.js';
export { startReferenceWorker } from './worker.js';
export type { ReferenceWorkerOptions, ReferenceWorkerHandle } from './worker.js';
export { FAULTS, getFault, resolveFaults, formatFaultList } from './faults.js';
export type { FaultSpec, FaultRole, FaultTrigger } from './faults.js';
export { registerPeerCommands } from './cli.js';
export type { PeerEvent } from './log.js';
export { Workspace, indexFile, diagnoseText } from './workspace.js';
