/** What the CLI's command tests share: the binary, temporary directories, a tiny decoder. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BYTE_TOKENIZER_VOCAB_SIZE, type DecoderConfig } from '@toolgym/agents';
import { afterAll } from 'vitest';

export const TOOLGYM_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/toolgym.js');

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
