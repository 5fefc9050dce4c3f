import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReplayConfigError } from './errors.ts';

/** The viewer's sources (Vite + Preact + uPlot) and where their build is cached. */
export const VIEWER_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../viewer');
export const VIEWER_DIST = path.join(VIEWER_ROOT, 'dist');
const STAMP = '.build-hash';

let pending: Promise<string> | undefined;

/**
 * The workspace runs TypeScript sources without a build step, so the server builds the viewer
 * itself: `vite build` runs when viewer/dist is missing or was built from other sources (a hash
 * of every viewer source file, stored in dist). Builds go to a fresh directory that is renamed
 * into place, so a server never serves a half-written dist. Returns the dist directory.
 */
export function buildViewer(): Promise<string> {
  pending ??= buildIfStale().finally(() => {
    pending = undefined;
  });
  return pending;
}

async function buildIfStale(): Promise<string> {
  const hash = sourceHash();
  if (readStamp(VIEWER_DIST) === hash) return VIEWER_DIST;
  const outDir = path.join(VIEWER_ROOT, `.dist-${process.pid}-${Date.now()}`);
  let build: typeof import('vite').build;
  try {
    ({ build } = await import('vite'));
  } catch (error) {
    throw new ReplayConfigError(
      `The viewer needs Vite to build and it could not be loaded: ${(error as Error).message}`,
      'Install the workspace with dev dependencies, or serve without the viewer (--no-viewer).',
    );
  }
  try {
    await build({
      root: VIEWER_ROOT,
      configFile: false,
      base: './',
      logLevel: 'warn',
      esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
      build: { outDir, emptyOutDir: true, chunkSizeWarningLimit: 1000 },
    });
    writeFileSync(path.join(outDir, STAMP), hash);
    if (readStamp(VIEWER_DIST) !== hash) {
      rmSync(VIEWER_DIST, { recursive: true, force: true });
      renameSync(outDir, VIEWER_DIST);
    }
  } catch (error) {
    // Another process may have put the same build in place between our check and our rename.
    if (readStamp(VIEWER_DIST) !== hash) throw error;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  return VIEWER_DIST;
}

function readStamp(dist: string): string | undefined {
  const file = path.join(dist, STAMP);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'dist' || name.startsWith('.dist-') || name === 'node_modules') continue;
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else hash.update(path.relative(VIEWER_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  };
  walk(VIEWER_ROOT);
  return hash.digest('hex');
}
