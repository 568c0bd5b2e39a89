/**
 * Shared pieces for cases: a role-neutral "link" (a completed handshake with the target, whichever
 * role it plays), and factories that turn one rule into a router case and a worker case.
 *
 * @module
 */
import type { CaseContext } from '../context.js';
import type { ScriptedPeer } from '../peer.js';
import { describeMessage } from '../peer.js';
import type { Session } from '../peer.js';
import type { CaseDef, CaseNeed, CaseStrength, TargetRole } from '../registry.js';
import type { RpcResult } from '../../src/wire/model.js';
import { req } from '../messages.js';
import { describeValue } from '../transcript.js';

export interface LinkOptions {
  /** Our max_frame_len offer (router targets) / router limit (worker targets). */
  frame?: number;
  packet?: number;
  chunking?: boolean;
  cancel?: boolean;
  compression?: string[];
}

export interface Link {
  peer: ScriptedPeer;
  session: Session;
  role: TargetRole;
}

/** Complete a handshake with the target using our side's capabilities from `o`. */
export async function open(ctx: CaseContext, o: LinkOptions = {}): Promise<Link> {
  const capsInit = {
    ...(o.frame !== undefined ? { max_frame_len: o.frame } : {}),
    ...(o.packet !== undefined ? { max_packet_len: o.packet } : {}),
    ...(o.chunking !== undefined ? { supports_chunking: o.chunking } : {}),
    ...(o.cancel !== undefined ? { supports_cancel: o.cancel } : {}),
    ...(o.compression !== undefined ? { supported_compression: o.compression } : {}),
  };
  if (ctx.def.role === 'router') {
    const { peer } = await ctx.session({ capabilities: capsInit });
    return { peer, session: peer.session!, role: 'router' };
  }
  const w = await ctx.workerSession({ router: capsInit });
  return { peer: w.peer, session: w.session, role: 'worker' };
}

/** A request the target must answer: workers with an ok result, routers with any result. */
export function probeRequest(): ReturnType<typeof req.stats> {
  return req.stats();
}

/** Check a result the target gave to a probe request. */
export function checkProbeResult(ctx: CaseContext, role: TargetRole, r: RpcResult, requirement = 'DATA-1'): void {
  if (r.status === 'unknown') ctx.fail(`[ERR-2] the response to a request must be ok or err`, 'status ok or err', describeValue(r), 'ERR-1');
  if (role === 'worker') {
    ctx.check(
      r.status === 'ok' && r.value.type === 'worker_stats',
      `[${requirement}] the worker must answer get_worker_stats with worker_stats`,
      'ok worker_stats',
      describeValue(r),
      requirement,
    );
  }
}

/** Send a probe request and require the answer. */
export async function probe(ctx: CaseContext, link: Link, after: string, requirement = 'DATA-1'): Promise<void> {
  const r = await ctx.expectAlive(link.peer, after, requirement);
  checkProbeResult(ctx, link.role, r, requirement);
}

/** An id of the WRONG parity for requests we send (the target's own parity). */
export function wrongParityId(peer: ScriptedPeer, n = 1): bigint {
  return peer.plays === 'worker' ? BigInt(2 * n + 100) : BigInt(2 * n + 101);
}

export interface BothSpec {
  /** Id without the role prefix, e.g. `framing.zero-length-frame`. */
  id: string;
  title: string;
  requirements: string[];
  strength: CaseStrength;
  needs?: CaseNeed[];
  /** Faults per role: the suffix after `router-` / `worker-` is usually the same. */
  faults?: { router?: string[]; worker?: string[] };
  liveness?: boolean;
  timeoutMs?: number;
  run(ctx: CaseContext): Promise<void>;
}

/** One rule, two cases (router target and worker target). */
export function both(spec: BothSpec): CaseDef[] {
  return (['router', 'worker'] as const).map((role) => ({
    id: `${role}.${spec.id}`,
    role,
    title: spec.title,
    requirements: spec.requirements,
    strength: spec.strength,
    ...(spec.needs ? { needs: spec.needs } : {}),
    faults: spec.faults?.[role] ?? [],
    ...(role === 'router' && spec.liveness !== undefined ? { liveness: spec.liveness } : {}),
    ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    since: '0.1.0',
    run: spec.run,
  }));
}

/** The same fault suffix for both roles. */
export function fault(suffix: string): { router: string[]; worker: string[] } {
  return { router: [`router-${suffix}`], worker: [`worker-${suffix}`] };
}

/** Violation cases: open a link, do `provoke`, require a close (plus liveness for routers). */
export function closes(spec: Omit<BothSpec, 'run' | 'liveness'> & { link?: LinkOptions; because: string; silent?: boolean; warmup?: boolean; provoke(ctx: CaseContext, link: Link): Promise<void> }): CaseDef[] {
  return both({
    ...spec,
    liveness: true,
    async run(ctx) {
      const link = await open(ctx, spec.link ?? {});
      if (spec.warmup) await probe(ctx, link, 'the handshake');
      await spec.provoke(ctx, link);
      const got = await ctx.expectClosed(link.peer, spec.because, spec.requirements[0]!);
      if (spec.silent) {
        // [DATA-13] after detecting a closing condition the target sends nothing more.
        const sent = got.filter((m) => m.kind === 'payload' || m.kind === 'frame');
        ctx.check(sent.length === 0, '[DATA-13] no frame after a violation that closes the connection', 'nothing before the close', sent.map(describeMessage).join('; '), 'DATA-13');
      }
    },
  });
}

/** Tolerance cases: open a link, send something to ignore, then the connection must still serve a request. */
export function tolerates(spec: Omit<BothSpec, 'run'> & { link?: LinkOptions; what: string; warmup?: boolean; send(ctx: CaseContext, link: Link): Promise<void> }): CaseDef[] {
  return both({
    ...spec,
    async run(ctx) {
      const link = await open(ctx, spec.link ?? {});
      // Warm-up round trip: the target has surely finished its handshake before the input under test.
      if (spec.warmup) await probe(ctx, link, 'the handshake');
      await spec.send(ctx, link);
      await probe(ctx, link, spec.what, spec.requirements[0]!);
      // Tolerated means the connection goes on: a deferred close right after the answer also fails.
      const later = await link.peer.drain(150);
      const closed = later.find((m) => m.kind === 'closed');
      if (closed) ctx.fail(`[${spec.requirements[0]}] after ${spec.what}, the connection must stay open`, 'the connection stays open', describeMessage(closed), spec.requirements[0]);
    },
  });
}

export { describeMessage };
