/**
 * The limits tier (opt-in, `--limits`): cases that open many connections at once. They need the
 * router to themselves (the runner runs them after every other case, one at a time), and they are
 * heavy, so they never run by default.
 *
 * @module
 */
import { ROUTER_MAX_CONCURRENT_HANDSHAKES } from '../../src/limits.js';
import type { ScriptedPeer } from '../peer.js';
import type { CaseDef } from '../registry.js';
import { HarnessError } from '../registry.js';

export const limitsCases: CaseDef[] = [
  {
    id: 'router.limits.handshake-cap',
    role: 'router',
    title: `with ${ROUTER_MAX_CONCURRENT_HANDSHAKES} handshakes in progress, the router closes a further connection at once`,
    requirements: ['LIM-3'],
    strength: 'SHOULD',
    needs: ['limits'],
    faults: ['router-no-handshake-cap'],
    liveness: true,
    timeoutMs: 20_000,
    since: '0.1.0',
    async run(ctx) {
      // The 128 half-open connections must all still be open when the 129th arrives, so the
      // window we watch is a fraction of the router's handshake timeout [HS-6].
      const watchMs = Math.min(2_000, Math.floor(ctx.cfg.handshakeTimeoutMs / 3));
      const held: ScriptedPeer[] = [];
      try {
        const t0 = performance.now();
        held.push(...(await Promise.all(Array.from({ length: ROUTER_MAX_CONCURRENT_HANDSHAKES }, () => ctx.connect()))));
        // Give the router a moment to accept them all (and start their handshakes).
        await ctx.sleep(50);
        const extra = await ctx.connect();
        const r = await extra.awaitClose(watchMs);
        const elapsedMs = performance.now() - t0;
        const early = held.filter((p) => p.isClosed).length;
        if (early > 0 && r.closed) {
          throw new HarnessError(
            `${early} of the ${ROUTER_MAX_CONCURRENT_HANDSHAKES} half-open connections were closed before the check (${Math.round(elapsedMs)} ms in; handshake timeout ${ctx.cfg.handshakeTimeoutMs} ms): inconclusive`,
          );
        }
        ctx.check(
          r.closed && r.received.length === 0,
          `[LIM-3] with ${ROUTER_MAX_CONCURRENT_HANDSHAKES} handshakes in progress, connection ${ROUTER_MAX_CONCURRENT_HANDSHAKES + 1} must be closed at once without a frame`,
          `closed within ${ctx.ms(watchMs)} ms, nothing sent`,
          r.closed ? `closed after sending ${r.received.length} message(s)` : `still open after ${Math.round(r.afterMs)} ms`,
          'LIM-3',
        );
        extra.destroy();
      } finally {
        for (const p of held) p.destroy();
      }
      // The cap is on handshakes in progress: once they are gone, connections are served again
      // (the liveness check after the case proves it).
    },
  },
];
