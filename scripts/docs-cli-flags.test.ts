/**
 * The guides only use command-line flags that exist: every `--flag` written after
 * `nova-conformance [subcommand]` in docs/*.md (the guides owned with the docs site) must be an
 * option of that (sub)command in the real CLI. Quoted strings (e.g. a `--spawn` command template)
 * belong to the user's own program and are not checked.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../conformance/cli.js';
import { findRootDir } from './build-docs.js';

const rootDir = findRootDir();

/** Guides written with the site (docs/vectors.md and docs/ci-github-actions.md have other owners). */
const GUIDES = [
  'index',
  'getting-started',
  'testing-a-router',
  'testing-a-worker',
  'target-config',
  'reading-a-report',
  'ci-integration',
];

function flagsOf(cmd: Command): Set<string> {
  const flags = new Set<string>(['--help', '--version']);
  for (const o of cmd.options) if (o.long && !o.hidden) flags.add(o.long);
  return flags;
}

/** Every `nova-conformance …` invocation in a markdown text, `\`-continued lines joined, quotes removed. */
export function invocations(markdown: string): string[] {
  const joined = markdown.replace(/\\\n\s*/g, ' ');
  const out: string[] = [];
  for (const line of joined.split('\n')) {
    for (const m of line.matchAll(/nova-conformance((?:\s+[^`|\n]*)?)/g)) {
      const rest = (m[1] ?? '').replace(/"[^"]*"|'[^']*'/g, '"…"');
      out.push(rest.trim());
    }
  }
  return out;
}

/** Problems with one invocation's flags against the CLI's command tree. */
export function checkInvocation(program: Command, args: string): string[] {
  let cmd = program;
  const problems: string[] = [];
  for (const token of args.replace(/[[\]]/g, ' ').split(/\s+/).filter(Boolean)) {
    const sub = cmd.commands.find((c) => c.name() === token);
    if (sub && !token.startsWith('-')) {
      cmd = sub;
      continue;
    }
    const flag = /^(--[a-z][a-z0-9-]*)/.exec(token)?.[1];
    if (flag && !flagsOf(cmd).has(flag)) problems.push(`${flag} is not an option of \`${cmd.name()}\``);
  }
  return problems;
}

describe('guides use real CLI flags', () => {
  const program = buildProgram();

  it('detects a flag that does not exist (self-check)', () => {
    expect(checkInvocation(program, '--target unix:/x --no-such-flag')).toEqual(['--no-such-flag is not an option of `nova-conformance`']);
    expect(checkInvocation(program, 'peer router --listen unix:/x --shards 1,2')).toEqual([]);
    expect(checkInvocation(program, 'peer worker --listen unix:/x')).toEqual(['--listen is not an option of `worker`']);
    expect(checkInvocation(program, 'list [--role router] [--bogus]')).toEqual(['--bogus is not an option of `list`']);
    expect(invocations('npx nova-conformance --spawn "w --bogus {address}" --run \'a.*\'')).toEqual(['--spawn "…" --run "…"']);
  });

  /** Every long flag of every command: what a flag named on its own (`--token-file`) may be. */
  const allFlags = new Set<string>();
  const walk = (c: Command): void => {
    for (const f of flagsOf(c)) allFlags.add(f);
    c.commands.forEach(walk);
  };
  walk(program);

  for (const g of GUIDES) {
    it(`docs/${g}.md`, () => {
      const text = readFileSync(join(rootDir, 'docs', `${g}.md`), 'utf8');
      const problems = invocations(text).flatMap((inv) => checkInvocation(program, inv).map((p) => `${p}: nova-conformance ${inv}`));
      // A flag quoted on its own, e.g. in a table: `--token-file`.
      for (const m of text.matchAll(/`(--[a-z][a-z0-9-]*)(?:[ =][^`]*)?`/g)) {
        if (!allFlags.has(m[1]!)) problems.push(`${m[1]} is not an option of any nova-conformance command`);
      }
      expect(problems).toEqual([]);
    });
  }
});

describe('docs/target-config.md matches schema/target-config.schema.json', () => {
  interface SchemaNode {
    type?: string;
    properties?: Record<string, SchemaNode>;
  }
  const schema = JSON.parse(readFileSync(join(rootDir, 'schema', 'target-config.schema.json'), 'utf8')) as SchemaNode;
  const leaves = (node: SchemaNode, prefix: string): string[] =>
    Object.entries(node.properties ?? {}).flatMap(([k, v]) =>
      k === '$schema' ? [] : v.properties ? leaves(v, `${prefix}${k}.`) : [`${prefix}${k}`],
    );
  const schemaKeys = leaves(schema, '').sort();
  const text = readFileSync(join(rootDir, 'docs', 'target-config.md'), 'utf8');
  // Keys are the first cell of the reference tables: | `auth.tokenFile` | …
  const documented = [...text.matchAll(/^\| `([A-Za-z][A-Za-z.]*)` \|/gm)].map((m) => m[1]!).sort();

  it('documents every key of the schema', () => {
    expect(schemaKeys.filter((k) => !documented.includes(k))).toEqual([]);
  });

  it('documents no key the schema does not have', () => {
    expect(documented.filter((k) => !schemaKeys.includes(k))).toEqual([]);
  });
});
