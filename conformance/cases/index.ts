/**
 * The case registry: every case of the suite, as data.
 *
 * @module
 */
import { Registry, type CaseDef } from '../registry.js';
import { routerCases } from './router.js';
import { sharedCases } from './shared.js';
import { workerCases } from './worker.js';
import { extraCases } from './extra.js';
import { limitsCases } from './limits.js';
import { tlsCases } from './tls.js';

/** All cases, router first, in a stable order. */
export function buildRegistry(): Registry {
  const all: CaseDef[] = [...routerCases, ...workerCases, ...sharedCases, ...extraCases, ...tlsCases, ...limitsCases];
  const reg = new Registry();
  reg.add(...[...all].sort((a, b) => (a.role === b.role ? 0 : a.role === 'router' ? -1 : 1)));
  return reg;
}
