/**
 * The CLI end to end (in-process): exit codes, reports (JSON validated against its schema, JUnit,
 * Markdown, HTML), baselines, token redaction, spawn mode, and the `list` / `--dry-run` views.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startReferenceRouter, type ReferenceRouterHandle } from '../src/peers/router.js';
import { main } from './cli.js';
import { xmlEscape } from './report.js';

const TOKEN = 'cli-test-token-4e1d8b77';
let dir: string;
let router: ReferenceRouterHandle;
let faulty: ReferenceRouterHandle;
let tokenFile: string;
let cfgFile: string;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  process.exitCode = undefined;
  try {
    const code = await main(['node', 'nova-conformance', ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nc-cli-'));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN);
  router = await startReferenceRouter({ listen: `unix:${join(dir, 'ok.sock')}`, shards: [0, 1, 2, 3], authToken: TOKEN, log: null });
  faulty = await startReferenceRouter({ listen: `unix:${join(dir, 'bad.sock')}`, shards: [0, 1, 2, 3], authToken: TOKEN, log: null, faults: ['router-accepts-bad-token'] });
  cfgFile = join(dir, 'cfg.json');
  writeFileSync(cfgFile, JSON.stringify({ auth: { tokenFile: 'token' }, shards: { accepted: [0, 1, 2, 3], unknown: 99 }, timeouts: { handshakeMs: 5000 } }));
});

afterAll(async () => {
  await router.close();
  await faulty.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('nova-conformance CLI', () => {
  it('help exits 0, usage errors exit 2', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const sub of ['list', 'peer', 'fuzz', 'replay']) expect(help.out).toMatch(new RegExp(`^  ${sub} `, 'm'));
    expect(help.out).toContain('Exit codes');
    expect((await run(['--no-such-flag'])).code).toBe(2);
    expect((await run(['--target', 'unix:/x', '--spawn', 'w'])).code).toBe(2);
    expect((await run(['--target', 'unix:/x', '--token-file', join(dir, 'missing')])).code).toBe(2);
    expect((await run(['--target', 'unix:/x', '--report', 'pdf=x.pdf'])).code).toBe(2);
    expect((await run(['--run', 'no.such.case*'])).code).toBe(2);
  });

  it('an invalid config file exits 2 and names the problem', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ target: 'unix:/x', bogus: true, timeScale: -1 }));
    const r = await run(['--config', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('bogus');
    expect(r.err).toContain('/timeScale');
  });

  it('an unreachable router exits 3', async () => {
    const r = await run(['--target', `unix:${join(dir, 'nobody.sock')}`, '--run', 'router.handshake.welcome']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/cannot connect/);
  });

  it('a conforming router exits 0 and every report is written, valid and token-free', async () => {
    const files = { json: join(dir, 'r.json'), junit: join(dir, 'r.xml'), md: join(dir, 'r.md'), html: join(dir, 'r.html') };
    const r = await run([
      '--target', `unix:${join(dir, 'ok.sock')}`, '--config', cfgFile, '--jobs', '4',
      '--run', 'router.handshake.*', '--skip', 'router.handshake.timeout*',
      ...Object.entries(files).flatMap(([k, f]) => ['--report', `${k}=${f}`]),
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(files.json, 'utf8')) as { cases: { id: string; outcome: string; requirements: { text: string }[] }[]; summary: { exitCode: number } };
    const schema = JSON.parse(readFileSync(new URL('../schema/report.schema.json', import.meta.url), 'utf8')) as object;
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.cases.length).toBeGreaterThan(20);
    expect(report.cases.every((c) => c.id.startsWith('router.handshake.') && c.requirements[0]!.text.length > 10)).toBe(true);
    for (const f of Object.values(files)) {
      const text = readFileSync(f, 'utf8');
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(Buffer.from(TOKEN).toString('hex'));
    }
    expect(readFileSync(files.junit, 'utf8')).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
    expect(readFileSync(files.html, 'utf8')).toContain('<!doctype html>');
    expect(r.out).not.toContain(TOKEN);
  });

  it('a non-conforming router exits 1 with expected/actual, transcript, requirement text and a rerun command', async () => {
    const json = join(dir, 'bad.json.out');
    const md = join(dir, 'bad.md');
    const r = await run(['--target', `unix:${join(dir, 'bad.sock')}`, '--config', cfgFile, '--run', 'router.handshake.reject-bad-token', '--report', `json=${json}`, '--report', `md=${md}`, '--no-color']);
    expect(r.code).toBe(1);
    const c = (JSON.parse(readFileSync(json, 'utf8')) as { cases: Record<string, unknown>[] }).cases[0]!;
    expect(c['outcome']).toBe('fail');
    expect(String(c['expected'])).toContain('unauthorized');
    expect(String(c['actual'])).toContain('welcome');
    expect((c['transcript'] as unknown[]).length).toBeGreaterThan(2);
    expect(String(c['rerun'])).toContain("--run 'router.handshake.reject-bad-token'");
    expect(r.out).toContain('FAIL');
    expect(r.out).toContain('rerun:');
    expect(r.out).not.toContain(TOKEN);
    expect(readFileSync(md, 'utf8')).toContain('does not conform');
  });

  it('baselines: a listed failure passes the run, a listed pass is stale, --update-baseline rewrites', async () => {
    const base = join(dir, 'baseline.json');
    writeFileSync(base, JSON.stringify({ formatVersion: 1, knownFailures: [{ id: 'router.handshake.reject-bad-token', reason: 'tracked' }] }));
    const args = ['--config', cfgFile, '--run', 'router.handshake.reject-bad-token', '--baseline', base];
    expect((await run(['--target', `unix:${join(dir, 'bad.sock')}`, ...args])).code).toBe(0);
    expect((await run(['--target', `unix:${join(dir, 'ok.sock')}`, ...args])).code).toBe(1);
    const fresh = join(dir, 'fresh.json');
    expect((await run(['--target', `unix:${join(dir, 'bad.sock')}`, '--config', cfgFile, '--run', 'router.handshake.reject-*', '--baseline', fresh, '--update-baseline'])).code).toBe(0);
    const written = JSON.parse(readFileSync(fresh, 'utf8')) as { knownFailures: { id: string }[] };
    expect(written.knownFailures.map((e) => e.id)).toContain('router.handshake.reject-bad-token');
  });

  it('list, list --json and --dry-run show cases without connecting', async () => {
    const l = await run(['list', '--role', 'worker']);
    expect(l.code).toBe(0);
    expect(l.out).toContain('worker.handshake.hello-first');
    expect(l.out).not.toContain('router.handshake.welcome ');
    const j = await run(['list', '--json', '--run', 'router.admission.*']);
    const parsed = JSON.parse(j.out) as { id: string; requirements: { id: string; text: string }[] }[];
    expect(parsed.map((c) => c.id).sort()).toEqual(['router.admission.busy-shard', 'router.admission.unknown-shard']);
    const d = await run(['--target', `unix:${join(dir, 'nobody.sock')}`, '--dry-run', '--run', 'router.ids.*']);
    expect(d.code).toBe(0);
    expect(d.out).toContain('router.ids.wrong-parity');
  });

  it('spawn mode: a worker per case; a token on the command line fails SEC-3', async () => {
    const cli = new URL('../dist/conformance/cli.js', import.meta.url).pathname;
    if (!existsSync(cli)) {
      console.warn('[cli.test] dist/ not built: skipping the spawn-mode check (npm test builds first)');
      return;
    }
    const spawnCmd = `node ${cli} peer worker --connect {address} --shard-id {shard} --auth-token-file {tokenFile} --quiet`;
    const ok = await run(['--spawn', spawnCmd, '--token-file', tokenFile, '--run', 'worker.data.worker-stats,worker.handshake.hello-first,worker.security.token-not-on-command-line', '--jobs', '3']);
    expect(ok.code).toBe(0);
    const leaky = await run(['--spawn', `${spawnCmd} # ${TOKEN}`, '--token-file', tokenFile, '--run', 'worker.security.token-not-on-command-line', '--no-color']);
    expect(leaky.code).toBe(0); // SHOULD: a warning, not a failure…
    expect(leaky.out).toContain('WARN');
    expect(leaky.out).not.toContain(TOKEN);
    const strict = await run(['--spawn', `${spawnCmd} # ${TOKEN}`, '--token-file', tokenFile, '--run', 'worker.security.token-not-on-command-line', '--strict']);
    expect(strict.code).toBe(1); // …that fails under --strict
  }, 60_000);

  it('JUnit escaping removes characters XML 1.0 forbids', () => {
    expect(xmlEscape('a<b>&"\'\u0001\u001b\ud800z')).toBe('a&lt;b&gt;&amp;&quot;&apos;\\u0001\\u001b\ufffdz');
  });
});
