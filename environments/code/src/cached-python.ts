import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@toolgym/env-kit';
import { hashString } from '@toolgym/protocol';
import { HOST_PYTHON } from './grading/python.ts';

const GENERATED_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../data/generated');

/**
 * Runs a trusted Python program on the host with `input` on stdin and parses its JSON output,
 * cached on disk by a hash of the program and the input (`key` names the program's source, so
 * a change to it is a new entry). For task building: expected outputs, test checks.
 */
export function cachedPythonJson<T>(what: string, key: string, args: string[], input: string): T {
  const cacheFile = path.join(GENERATED_DIR, `${what}-${hashString(key + input).toString(16)}.json`);
  if (existsSync(cacheFile)) return JSON.parse(readFileSync(cacheFile, 'utf8')) as T;
  const result = spawnSync(HOST_PYTHON, args, { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.error || result.status !== 0) {
    throw new ConfigError(
      `${what}: the host python3 failed: ${result.error?.message ?? result.stderr.trim().slice(-2000)}`,
      'python3 (3.10 or newer) must be installed on the host',
    );
  }
  mkdirSync(GENERATED_DIR, { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, result.stdout);
  renameSync(tmp, cacheFile);
  return JSON.parse(result.stdout) as T;
}
