/**
 * `pnpm bench <name>` runs `<package>/bench/<name>.bench.ts`; `pnpm bench` lists them.
 * Benchmarks print their own table, with their baseline measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packageDirs = [
  ...readdirSync(root).map((d) => path.join(root, d)),
  ...readdirSync(path.join(root, 'environments')).map((d) => path.join(root, 'environments', d)),
];
const benches = new Map<string, string>();
for (const dir of packageDirs) {
  const benchDir = path.join(dir, 'bench');
  if (!existsSync(benchDir) || dir.includes('node_modules')) continue;
  for (const file of readdirSync(benchDir)) {
    if (file.endsWith('.bench.ts')) benches.set(file.replace(/\.bench\.ts$/, ''), path.join(benchDir, file));
  }
}

const [name, ...args] = process.argv.slice(2);
if (!name || !benches.has(name)) {
  if (name) process.stderr.write(`pnpm bench: no benchmark '${name}'.\n`);
  process.stderr.write(`Benchmarks: ${[...benches.keys()].sort().join(', ')}\nUsage: pnpm bench <name> [args]\n`);
  process.exit(name ? 2 : 0);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', benches.get(name)!, ...args], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
