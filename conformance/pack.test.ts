/**
 * [slow] The published artefact works: `npm pack`, install the tarball offline into an empty
 * directory (dependencies from the local npm cache), start a reference router with the installed
 * bin, and run `npx nova-conformance --target …` against it. Takes ~20-40 s.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nc-pack-'));
let router: ChildProcess | undefined;

afterAll(() => {
  if (router?.pid !== undefined && router.exitCode === null) router.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('[slow] packaged CLI', () => {
  it('npm pack → offline install → npx nova-conformance --target <reference router> passes', async () => {
    if (!existsSync(join(root, 'dist', 'conformance', 'cli.js'))) {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
    }
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root, stdio: 'ignore' });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', join(dir, tarball!)], { cwd: app, stdio: 'ignore' });
    const bin = join(app, 'node_modules', '.bin', 'nova-conformance');
    expect(existsSync(bin)).toBe(true);

    const sock = join(dir, 'router.sock');
    router = spawn(bin, ['peer', 'router', '--listen', `unix:${sock}`, '--shards', '0,1,2,3', '--quiet'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`router did not start: ${out}`)), 15_000);
      router!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('unix:'));
        if (line) {
          clearTimeout(timer);
          resolve(line.trim());
        }
      });
      router!.once('exit', (code) => reject(new Error(`router exited ${String(code)}`)));
    });

    const report = join(dir, 'report.json');
    let code = 0;
    try {
      execFileSync('npx', ['--no-install', 'nova-conformance', '--target', address, '--jobs', '4', '--run', 'router.handshake.*,router.ids.*', '--skip', 'router.handshake.timeout*', '--report', `json=${report}`, '--no-color'], {
        cwd: app,
        stdio: 'ignore',
        timeout: 60_000,
      });
    } catch (err) {
      code = (err as { status?: number }).status ?? -1;
    }
    expect(code).toBe(0);
    const parsed = JSON.parse(readFileSync(report, 'utf8')) as { summary: { pass: number; fail: number; exitCode: number } };
    expect(parsed.summary.fail).toBe(0);
    expect(parsed.summary.pass).toBeGreaterThan(20);
  }, 120_000);
});
