import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: the nearest ancestor of this file holding our package.json. Works both
 * from source (scripts/) under vitest and from the build (dist/scripts/).
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'nova-conformance') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the nova-conformance package root');
    dir = parent;
  }
}
