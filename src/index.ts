/**
 * nova-conformance: specification, reference codec and conformance suite for nova remote RPC v3.
 *
 * @module
 */
export * from './wire/index.js';
export * from './errors.js';
export * from './limits.js';
export * from './engine/index.js';
export * from './transport/index.js';
export * from './peers/index.js';
