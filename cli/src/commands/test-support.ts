/** What the CLI's tests share: the binary and a way to run it, temporary directories, a tiny decoder. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BYTE_TOKENIZER_VOCAB_SIZE, type DecoderConfig } from '@toolgym/agents';
import { afterAll } from 'vitest';

export const TOOLGYM_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/toolgym.js');

/** Runs `toolgym <args>` to its end, with `stdin` as its input; its exit code and output. */
export function runToolgym(
  args: readonly string[],
  options: { stdin?: string; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TOOLGYM_BIN, ...args], options.cwd ? { cwd: options.cwd } : {});
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/**
 * Runs `toolgym <args>` as a server until `use` returns, then stops it with SIGTERM: `use` gets the
 * first capture of `announced` in its stderr (the URL it listens on). Resolves to the exit code.
 */
export async function withToolgymServer(
  args: readonly string[],
  announced: RegExp,
  use: (url: string) => Promise<void>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number | null> {
  const child = spawn(process.execPath, [TOOLGYM_BIN, ...args], { env });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
        const found = announced.exec(stderr);
        if (found) resolve(found[1]!);
      });
      child.once('exit', (code) => reject(new Error(`toolgym ${args.join(' ')} exited ${code}: ${stderr}`)));
    });
    await use(url);
  } finally {
    child.kill('SIGTERM');
  }
  return exited;
}

/** A maker of temporary directories that are removed after the calling test file. */
export function temporaryDirectories(prefix: string): () => Promise<string> {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  return async () => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** A one-layer RoPE decoder small enough to build in milliseconds, with `extraTokens` added tokens. */
export function tinyDecoder(extraTokens: number, maxPositions: number): DecoderConfig {
  return {
    vocabSize: BYTE_TOKENIZER_VOCAB_SIZE + extraTokens,
    dModel: 16,
    nLayers: 1,
    nHeads: 2,
    dFF: 32,
    maxPositions,
    layerNormEps: 1e-5,
    positions: 'rope',
  };
}
