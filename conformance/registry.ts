/**
 * The case model: cases are data (id, role, requirements, strength, applicability, the faults
 * that must make them fail) plus a `run` function that drives a scripted peer.
 *
 * Case ids are stable and hierarchical (`router.handshake.reject-bad-token`); they are never
 * renumbered or reused. Removing a case retires its id for good.
 *
 * @module
 */
import type { CaseContext } from './context.js';

export type TargetRole = 'router' | 'worker';

/** MUST violated → fail; SHOULD violated → warn (fail under --strict); INFO → informational note only. */
export type CaseStrength = 'MUST' | 'SHOULD' | 'INFO';

/**
 * Applicability conditions. Capabilities are those negotiated with the target in the preflight
 * handshake or declared in the target config; `auth` = an auth token is configured;
 * `stimulus` = the harness can make a router send requests (stimulus command or embedded router);
 * `spawn` = the worker is spawned by the harness; `tls` = the target speaks tcp+tls and the harness
 * can vary the TLS side (conformance/tls-support.ts); `mtls` = a router target that requires client
 * certificates; `limits` = the opt-in limits tier (`--limits`: heavy connection-count cases).
 */
export type CaseNeed = 'zstd' | 'cancel' | 'chunking' | 'auth' | 'no-auth' | 'stimulus' | 'spawn' | 'tls' | 'mtls' | 'limits';
export const CASE_NEEDS: readonly CaseNeed[] = ['zstd', 'cancel', 'chunking', 'auth', 'no-auth', 'stimulus', 'spawn', 'tls', 'mtls', 'limits'];

export type Outcome = 'pass' | 'fail' | 'warn' | 'skip' | 'error' | 'timeout';
export const OUTCOMES: readonly Outcome[] = ['pass', 'fail', 'warn', 'skip', 'error', 'timeout'];

export interface CaseDef {
  /** Stable hierarchical id: `<role>.<area>.<name>`, lower-case words separated by `-`. */
  id: string;
  role: TargetRole;
  /** One line: what the target must do. */
  title: string;
  /** Spec requirement ids this case checks (first = primary). */
  requirements: string[];
  strength: CaseStrength;
  needs?: CaseNeed[];
  /**
   * Reference-peer `--fault` names that MUST make this case fail (self-test). Empty only while a
   * fault is missing from the catalogue; the self-test lists such cases as defects.
   */
  faults: string[];
  /**
   * Router cases: after the case, a fresh connection must still complete a handshake
   * ("liveness after a violation"). Defaults to true for cases that provoke a close.
   */
  liveness?: boolean;
  /** Nominal per-case budget in ms (scaled by the time-scale factor). Default DEFAULT_CASE_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Suite version that introduced the case. */
  since?: string;
  run(ctx: CaseContext): Promise<void>;
}

/** Nominal per-case budget (before time scaling). */
export const DEFAULT_CASE_TIMEOUT_MS = 10_000;

const ID_RE = /^(router|worker)\.[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+$/;

/** A check failed. `expected`/`actual` are shown side by side in reports. */
export class CaseFailure extends Error {
  override readonly name = 'CaseFailure';
  constructor(
    message: string,
    readonly expected?: string,
    readonly actual?: string,
    /** The requirement the failed check belongs to, when narrower than the case's list. */
    readonly requirement?: string,
  ) {
    super(message);
  }
}

/** The case does not apply to this target (reason shown in reports). */
export class CaseSkip extends Error {
  override readonly name = 'CaseSkip';
}

/** The harness or adapter could not do its job (spawn failed, cannot connect …): outcome `error`. */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';
}

export class Registry {
  private readonly byId = new Map<string, CaseDef>();
  add(...defs: CaseDef[]): this {
    for (const def of defs) {
      if (!ID_RE.test(def.id)) throw new Error(`case id ${def.id} is not <role>.<area>.<name>`);
      if (!def.id.startsWith(`${def.role}.`)) throw new Error(`case id ${def.id} does not start with its role`);
      if (this.byId.has(def.id)) throw new Error(`duplicate case id ${def.id}`);
      if (def.requirements.length === 0) throw new Error(`case ${def.id} cites no requirement`);
      this.byId.set(def.id, def);
    }
    return this;
  }
  get(id: string): CaseDef | undefined {
    return this.byId.get(id);
  }
  all(): CaseDef[] {
    return [...this.byId.values()];
  }
}

/** Glob over case ids: `*` matches within a segment run, `**` anything, `?` one char. `*` also crosses dots for convenience. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      re += '.*';
      while (glob[i + 1] === '*') i++;
    } else if (c === '?') re += '.';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Select cases: `run` globs (any match; none = all) minus `skip` globs. */
export function selectCases(cases: readonly CaseDef[], run: readonly string[], skip: readonly string[]): CaseDef[] {
  const runRe = run.map(globToRegExp);
  const skipRe = skip.map(globToRegExp);
  return cases.filter((c) => (runRe.length === 0 || runRe.some((r) => r.test(c.id))) && !skipRe.some((r) => r.test(c.id)));
}
