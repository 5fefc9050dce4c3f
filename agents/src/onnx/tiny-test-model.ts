/** A tiny decoder for tests (same code path as the default model, small enough for a fast suite), and what tests of decoding share. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { BYTE_TOKENIZER_VOCAB_SIZE } from '../model/byte-tokenizer.ts';
import type { DecoderConfig, DecoderWeights } from '../model/decoder-config.ts';
import { buildDecoderOnnx, type SharedSlotProducts } from '../model/decoder-graph.ts';
import { initDecoderWeights } from '../model/init-weights.ts';
import type { DecoderShape } from '../model/model-directory.ts';
import { writeDecoderModelDir } from '../model/write-model-directory.ts';
import type { DecodeBatch } from './decode-batch.ts';
import { DecoderSession } from './decoder-session.ts';

export const TINY_TEST_CONFIG: DecoderConfig = {
  vocabSize: BYTE_TOKENIZER_VOCAB_SIZE,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  dFF: 64,
  maxPositions: 96,
  layerNormEps: 1e-5,
};

/** The sizes the engine reads from TINY_TEST_CONFIG's model directory, for sessions built in tests. */
export const TINY_TEST_SHAPE: DecoderShape = {
  numLayers: TINY_TEST_CONFIG.nLayers,
  numHeads: TINY_TEST_CONFIG.nHeads,
  numKvHeads: TINY_TEST_CONFIG.nHeads,
  headDim: TINY_TEST_CONFIG.dModel / TINY_TEST_CONFIG.nHeads,
  vocabSize: TINY_TEST_CONFIG.vocabSize,
  maxPositions: TINY_TEST_CONFIG.maxPositions,
};

/**
 * Writes a tiny model into a fresh temp directory. A larger init std than training's 0.02 makes the
 * logits peaked, so greedy choices are far from ties and comparisons across code paths are stable.
 */
export async function createTinyTestModel(
  seed = 7,
  overrides: Partial<DecoderConfig> = {},
): Promise<{ dir: string; config: DecoderConfig; weights: DecoderWeights }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-onnx-'));
  const config = { ...TINY_TEST_CONFIG, ...overrides };
  const weights = initDecoderWeights(config, { seed, std: 0.3 });
  await writeDecoderModelDir(dir, { config, weights, initSeed: seed });
  return { dir, config, weights };
}

/**
 * Opens in-place decoder sessions of TINY_TEST_CONFIG with `weights` (the default graph, or the one
 * for `sharedSlots`), as `InPlaceBatch` opens them; `release` frees every session it opened.
 */
export function tinyInPlaceSessions(weights: DecoderWeights): {
  open: (sharedSlots?: SharedSlotProducts) => Promise<DecoderSession>;
  release: () => Promise<void>;
} {
  const sessions: DecoderSession[] = [];
  const open = async (sharedSlots?: SharedSlotProducts) => {
    const session = await ort.InferenceSession.create(
      buildDecoderOnnx(TINY_TEST_CONFIG, weights, 'in-place', { sharedSlots }),
    );
    const decoder = new DecoderSession(session, TINY_TEST_SHAPE, { provider: 'cpu', reason: 'test' });
    sessions.push(decoder);
    return decoder;
  };
  return { open, release: async () => void (await Promise.all(sessions.map((s) => s.release()))) };
}

/** The logits of each row of `batch` after `prompts` join it and over `steps` decode steps (copies). */
export async function decodeRows(
  batch: DecodeBatch,
  prompts: number[][],
  tokens: (row: number, step: number) => number,
  steps: number,
): Promise<Float32Array[][]> {
  const first = await batch.add(prompts);
  const logits = prompts.map((_, b) => [first(b).slice()]);
  for (let t = 0; t < steps; t++) {
    const out = await batch.step(prompts.map((_, b) => tokens(b, t)));
    for (const [b, row] of logits.entries()) row.push(out(b).slice());
  }
  return logits;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
