/**
 * `npm run vectors`: regenerate the golden vectors under vectors/ with our codec.
 *
 *   node dist/scripts/gen-vectors.js           write vectors/*.json, ids.json, manifest.json
 *   node dist/scripts/gen-vectors.js --check   exit 1 if the files on disk are not up to date
 *
 * New vector names get new ids in vectors/ids.json; existing ids never change. Generation
 * refuses to write anything our codec disagrees with, and needs zstd (compressed vectors).
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as wire from '../src/wire/index.js';
import { repoRoot } from './repo-root.js';
import { vectorDefinitions } from './vector-defs.js';
import { emptyRegistry, generate, type Codec, type GeneratedVectors, type IdRegistry } from './vectors-lib.js';

export const codec: Codec = wire;

export function vectorsDir(root = repoRoot()): string {
  return join(root, 'vectors');
}

export function readRegistry(dir = vectorsDir()): IdRegistry {
  const file = join(dir, 'ids.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as IdRegistry) : emptyRegistry();
}

/** Generate in memory. `allowNewIds` false: a definition without a registry id is an error. */
export function generateVectors(allowNewIds: boolean, registry = readRegistry()): GeneratedVectors {
  if (!codec.zstdAvailable()) throw new Error('zstd is unavailable on this machine: the compressed vectors cannot be generated');
  return generate(vectorDefinitions((data) => codec.zstdCompress(data, 3)), codec, registry, allowNewIds);
}

/** Names of files under vectors/ whose content differs from `generated`. */
export function staleFiles(generated: GeneratedVectors, dir = vectorsDir()): string[] {
  const stale: string[] = [];
  for (const [name, text] of generated.files) {
    const path = join(dir, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(name);
  }
  return stale;
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const dir = vectorsDir();
  const generated = generateVectors(!check);
  if (check) {
    const stale = staleFiles(generated, dir);
    if (stale.length > 0) {
      console.error(`vectors are out of date: ${stale.join(', ')} (run \`npm run vectors\`)`);
      return 1;
    }
    console.log('vectors are up to date');
    return 0;
  }
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of generated.files) writeFileSync(join(dir, name), text);
  for (const [kind, c] of Object.entries(generated.counts)) {
    console.log(`${kind.padEnd(15)} valid ${c.valid}  acceptable ${c.acceptable}  invalid ${c.invalid}`);
  }
  const shown = generated.added.slice(0, 10).join(', ');
  if (generated.added.length > 0) console.log(`new ids: ${generated.added.length} (${shown}${generated.added.length > 10 ? ', …' : ''})`);
  return 0;
}

// Run only as a program, not when imported by tests.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = main(process.argv.slice(2));
}
