/**
 * Benchmark aggregator: runs every module in BENCH_MODULES and prints one JSON object to stdout
 * (`npm run bench`). Each module exports `run(): Promise<Record<string, unknown>>`.
 * Helpers add their module to the list below.
 */
const BENCH_MODULES: readonly string[] = ['./codec.js', './engine.js', './fuzz.js', './conformance.js'];

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    startedAt: new Date().toISOString(),
  };
  for (const path of BENCH_MODULES) {
    const name = path.replace(/^\.\//, '').replace(/\.js$/, '');
    const mod = (await import(path)) as { run(): Promise<Record<string, unknown>> };
    process.stderr.write(`[bench] ${name}...\n`);
    results[name] = await mod.run();
  }
  process.stdout.write(JSON.stringify(results, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
}

await main();
