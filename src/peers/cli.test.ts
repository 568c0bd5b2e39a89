import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerPeerCommands } from './cli.js';
import { FAULTS } from './faults.js';

function program(): Command {
  const p = new Command('nova-conformance').exitOverride();
  registerPeerCommands(p);
  return p;
}

afterEach(() => vi.restoreAllMocks());

describe('peer CLI', () => {
  it('--list-faults prints every fault with its rule, as text and JSON', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    await program().parseAsync(['peer', '--list-faults'], { from: 'user' });
    const text = out.join('');
    for (const f of FAULTS) expect(text).toMatch(new RegExp(`^${f.name} +${f.role} +${f.rule} `, 'm'));
    out.length = 0;
    await program().parseAsync(['peer', '--list-faults', '--json'], { from: 'user' });
    expect(JSON.parse(out.join(''))).toEqual(JSON.parse(JSON.stringify(FAULTS)));
  });

  it('refuses --auth-token without echoing the value [SEC-3]', async () => {
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
    vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    for (const argv of [['--auth-token', 'SUPERSECRET9'], ['--auth-token=SUPERSECRET9']]) {
      await expect(program().parseAsync(['peer', 'router', '--listen', 'unix:/tmp/x.sock', ...argv], { from: 'user' })).rejects.toThrow('exit 2');
    }
    expect(err.join('')).toContain('never taken on the command line');
    expect(err.join('')).not.toContain('SUPERSECRET9');
  });
});
