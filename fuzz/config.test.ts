/**
 * `nova-conformance fuzz --config FILE`: the target config's keys mapped to the fuzzer's settings
 * (fuzz/config.ts), flags over the file, the conformance loader's validation (exit 2), and short
 * config-driven runs against an in-process reference router. Seeds are printed; FUZZ_SEED reproduces.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startReferenceRouter, type ReferenceRouterHandle } from '../src/peers/router.js';
import type { TargetConfig } from '../conformance/cli.js';
import { registerFuzzCommands } from './cli.js';
import { FuzzConfigError, resolveFuzzTarget, type FuzzTargetFlags } from './config.js';
import { seedFromEnv } from './rng.js';

const seed = String(seedFromEnv());
console.log(`[fuzz] config tests seed=${seed} (set FUZZ_SEED to reproduce)`);

const DEFAULTS = { deadlineMs: 3000, handshakeDeadlineMs: 3000, shard: 0 };
const given = (flags: FuzzTargetFlags) => (k: keyof FuzzTargetFlags): boolean => flags[k] !== undefined;
const resolveWith = (flags: FuzzTargetFlags, tc: TargetConfig) => resolveFuzzTarget(flags, given(flags), tc, DEFAULTS);

const ROUTER_CONFIG: TargetConfig = {
  target: 'tcp+tls:127.0.0.1:7000',
  auth: { tokenFile: '/cfg/token' },
  tls: { caFile: '/cfg/ca.pem', certFile: '/cfg/client.pem', keyFile: '/cfg/client.key', serverName: 'router.test', deniedShard: 9 },
  shards: { accepted: [3, 4, 5], unknown: 77 },
  timeouts: { handshakeMs: 1500, readMs: 800, connectMs: 2000 },
  timeScale: 2,
  stimulus: { command: 'poke {address} {shard}', timeoutMs: 4000 },
};

describe('target config keys -> fuzzer settings (fuzz/config.ts)', () => {
  it('a router config: address, role, token source, TLS files, shards as lanes, timeouts times timeScale, stimulus', () => {
    expect(resolveWith({}, ROUTER_CONFIG)).toEqual({
      role: 'router',
      target: 'tcp+tls:127.0.0.1:7000',
      shard: 3,
      lanes: [3, 4, 5],
      unknownShard: 77,
      token: { tokenFile: '/cfg/token' },
      tls: { caFile: '/cfg/ca.pem', certFile: '/cfg/client.pem', keyFile: '/cfg/client.key', serverName: 'router.test' },
      allowInsecureTcp: false,
      deadlineMs: 1600,
      handshakeDeadlineMs: 1600,
      connectTimeoutMs: 4000,
      routerHandshakeTimeoutMs: 1500,
      timeScale: 2,
      stimulusCommand: 'poke {address} {shard}',
      stimulusTimeoutMs: 8000,
      shardAllowlist: true,
    });
  });

  it('flags given on the command line override their keys; the rest of the file still applies', () => {
    const r = resolveWith(
      { target: 'unix:/other.sock', tlsCert: 'mine.pem', shard: 8, deadlineMs: 500, routerHandshakeTimeoutMs: 0, timeScale: 1, unknownShard: 5, stimulusCommand: 'other', authTokenEnv: 'MY_TOKEN' },
      ROUTER_CONFIG,
    );
    expect(r).toMatchObject({ role: 'router', target: 'unix:/other.sock', shard: 8, deadlineMs: 500, routerHandshakeTimeoutMs: 0, timeScale: 1, unknownShard: 5, stimulusCommand: 'other' });
    // --shard replaces shards.accepted: one lane
    expect(r.lanes).toBeUndefined();
    // a token flag replaces the file's whole auth (never the file's tokenFile behind a --auth-token-env)
    expect(r.token).toEqual({ tokenEnv: 'MY_TOKEN' });
    // per key: --tls-cert (relative to the current directory) replaces certFile only
    expect(r.tls).toEqual({ caFile: '/cfg/ca.pem', certFile: resolve('mine.pem'), keyFile: '/cfg/client.key', serverName: 'router.test' });
    // readMs from the file now scales with the --time-scale flag (1), the flag deadline is taken as is
    expect(r.handshakeDeadlineMs).toBe(800);
    expect(resolveWith({ lanes: [0, 1] }, ROUTER_CONFIG).lanes).toEqual([0, 1]);
  });

  it('a worker config: spawn or listen, first accepted shard, env and {tokenFile} / TLS for the spawned worker', () => {
    const spawnCfg: TargetConfig = { spawn: 'w --connect {address} --token {tokenFile}', auth: { tokenFile: '/cfg/t' }, env: { A: '1' }, shards: { accepted: [6, 7] }, tls: { caFile: '/cfg/ca', caKeyFile: '/cfg/ca.key' }, timeouts: { handshakeMs: 900 } };
    const r = resolveWith({}, spawnCfg);
    expect(r).toMatchObject({ role: 'worker', spawn: spawnCfg.spawn, shard: 6, env: { A: '1' }, spawnValues: { tokenFile: '/cfg/t' }, workerTls: { caFile: '/cfg/ca', caKeyFile: '/cfg/ca.key' } });
    expect(r.lanes).toBeUndefined();
    expect(r.routerHandshakeTimeoutMs).toBeUndefined(); // handshakeMs is the worker's own Welcome wait: not a router timeout
    expect(resolveWith({}, { listen: 'unix:/l.sock' })).toMatchObject({ role: 'worker', target: 'unix:/l.sock', shard: 0 });
  });

  it('the role and the mode must agree; exactly one mode', () => {
    expect(() => resolveWith({ role: 'router' }, { spawn: 'w' })).toThrow(FuzzConfigError);
    expect(() => resolveWith({ role: 'worker' }, { target: 'unix:/r' })).toThrow(/attaches to a router/);
    expect(() => resolveWith({}, {})).toThrow('--role must be router or worker');
    expect(() => resolveWith({ role: 'router' }, {})).toThrow(/exactly one of --target/);
    expect(() => resolveWith({ target: 'a', spawn: 'b', role: 'router' }, {})).toThrow(/exactly one/);
    // a flag mode replaces the file's: --spawn for a router starts a router, the file's target is ignored
    expect(resolveWith({ spawn: 'my-router {address}' }, { target: 'unix:/r' })).toMatchObject({ role: 'router', spawn: 'my-router {address}' });
  });
});

describe('nova-conformance fuzz --config (in-process reference router)', () => {
  const TOKEN = 'fuzz-config-token-5f2a9c';
  let dir: string;
  let router: ReferenceRouterHandle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ncfz-cfg-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    writeFileSync(join(dir, 'wrong-token'), 'not-the-token\n');
    router = await startReferenceRouter({ listen: `unix:${join(dir, 'r.sock')}`, shards: [0, 1, 2, 3], authToken: TOKEN, handshakeTimeoutMs: 1000, log: null });
  });
  afterAll(async () => {
    await router?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cli(args: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const grab = (...a: unknown[]): void => void (out += `${a.map(String).join(' ')}\n`);
    const spies = [vi.spyOn(console, 'error').mockImplementation(grab), vi.spyOn(console, 'log').mockImplementation(grab)];
    const program = new Command().exitOverride();
    registerFuzzCommands(program);
    process.exitCode = 0;
    try {
      await program.parseAsync(['node', 'nova-conformance', ...args]);
      return { code: Number(process.exitCode ?? 0), out };
    } finally {
      for (const s of spies) s.mockRestore();
      process.exitCode = 0;
    }
  }

  const writeConfig = (name: string, cfg: object): string => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(cfg));
    return file;
  };

  it(`a config file drives a short run: token, shards as lanes, unknown shard, handshake timeout (seed ${seed})`, async () => {
    // Relative paths resolve against the config's directory; the router requires the token, so a
    // run that did not read it would see its valid Hellos refused and report wrong-reject.
    const cfg = writeConfig('router.json', { target: router.address, auth: { tokenFile: 'token' }, shards: { accepted: [0, 1, 2, 3], unknown: 999 }, timeouts: { handshakeMs: 1000 } });
    const r = await cli(['fuzz', '--config', cfg, '--seed', seed, '--duration', '2s', '--out', join(dir, 'out'), '--json']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/role router, seed .*, 4 lane\(s\)/);
    expect(JSON.parse(r.out.slice(r.out.indexOf('{\n'))).cases).toBeGreaterThan(0);
    expect(r.out).not.toContain(TOKEN);
  }, 30_000);

  it('without the config\'s token the same run finds the router refusing it (the config was what made it pass)', async () => {
    const cfg = writeConfig('router-no-token.json', { target: router.address, shards: { accepted: [0, 1, 2, 3] }, timeouts: { handshakeMs: 1000 } });
    const r = await cli(['fuzz', '--config', cfg, '--seed', seed, '--duration', '2s', '--out', join(dir, 'out-nt'), '--no-shrink']);
    expect(r.code, r.out).toBe(1);
    // the reproduce line names the config (no --target: the file has it), and replaying through it still fails
    const line = /\[fuzz\] reproduce: nova-conformance replay (\S+) --config (\S+)$/m.exec(r.out);
    expect(line, r.out).not.toBeNull();
    expect(line![2]).toBe(cfg);
    const replay = await cli(['replay', line![1]!, '--config', cfg]);
    expect(replay.code, replay.out).toBe(1);
  }, 30_000);

  it(`flags override the file: --target and --auth-token-env beat a config with the wrong address and token (seed ${seed})`, async () => {
    const cfg = writeConfig('stale.json', { target: `unix:${join(dir, 'nobody.sock')}`, auth: { tokenFile: 'wrong-token' }, shards: { accepted: [0, 1] }, timeouts: { handshakeMs: 1000 } });
    process.env.NC_FUZZ_CONFIG_TEST_TOKEN = TOKEN;
    try {
      const r = await cli(['fuzz', '--config', cfg, '--target', router.address, '--auth-token-env', 'NC_FUZZ_CONFIG_TEST_TOKEN', '--lanes', '2,3', '--seed', seed, '--duration', '2s', '--out', join(dir, 'out2')]);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain(`router at ${router.address}`);
      expect(r.out).toMatch(/2 lane\(s\)/);
      expect(r.out).not.toContain(TOKEN);
    } finally {
      delete process.env.NC_FUZZ_CONFIG_TEST_TOKEN;
    }
  }, 30_000);

  it('a bad config exits 2 with the conformance loader\'s message (every problem listed)', async () => {
    const bad = writeConfig('bad.json', { target: 'unix:/x', bogus: true, timeScale: -1 });
    const r = await cli(['fuzz', '--config', bad, '--duration', '1s']);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`nova-conformance fuzz: invalid config ${bad}:`);
    expect(r.out).toMatch(/must NOT have additional properties \(bogus\)/);
    expect(r.out).toContain('/timeScale');
    writeFileSync(join(dir, 'broken.json'), '{ not json');
    const j = await cli(['fuzz', '--config', join(dir, 'broken.json')]);
    expect(j.code).toBe(2);
    expect(j.out).toContain('invalid JSON');
    // a config that does not fit the flags: a worker command with --role router
    const w = await cli(['fuzz', '--config', writeConfig('worker.json', { spawn: 'w {address}' }), '--role', 'router']);
    expect(w.code).toBe(2);
    expect(w.out).toMatch(/spawn and listen test a worker/);
  });
});
