/**
 * Benchmark: wall time of the full conformance suite against the embedded reference router and
 * worker (target ≤ 10 s on the 2-core build machine).
 */
import { buildRegistry } from '../conformance/cases/index.js';
import { runEmbedded } from '../conformance/selftest.js';

export async function run(): Promise<Record<string, unknown>> {
  const cases = buildRegistry().all();
  const t0 = performance.now();
  const router = await runEmbedded('router', cases, { jobs: 8 });
  const t1 = performance.now();
  const worker = await runEmbedded('worker', cases, { jobs: 8 });
  const t2 = performance.now();
  const count = (s: typeof router, o: string): number => s.results.filter((r) => r.outcome === o).length;
  return {
    wallMs: Math.round(t2 - t0),
    routerMs: Math.round(t1 - t0),
    workerMs: Math.round(t2 - t1),
    targetMs: 10_000,
    cases: router.results.length + worker.results.length,
    pass: count(router, 'pass') + count(worker, 'pass'),
    notPass: router.results.length + worker.results.length - count(router, 'pass') - count(worker, 'pass'),
  };
}
