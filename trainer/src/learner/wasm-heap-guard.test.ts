import * as tf from '@tensorflow/tfjs-core';
import { type DecoderConfig, initDecoderWeights } from '@toolgym/agents';
import { describe, expect, it } from 'vitest';
import { createEmbeddedLearner } from './embedded-learner.ts';
import { datumFromSequence } from './learner.ts';

/** The sql Agent-RLVR config's model (byte vocabulary with its tool tokens, RoPE). */
const SQL_MODEL: DecoderConfig = {
  vocabSize: 270,
  dModel: 64,
  nLayers: 2,
  nHeads: 4,
  dFF: 256,
  maxPositions: 2048,
  layerNormEps: 1e-5,
  positions: 'rope',
};

const longBatch = (sequences: number, length: number) =>
  Array.from({ length: sequences }, (_, b) => {
    const tokens = Array.from({ length: length + 1 }, (_, i) => (i * 7 + b * 13) % 256);
    return datumFromSequence(
      tokens,
      tokens.map(() => 1),
    );
  });

interface WasmModule {
  asm: { malloc(bytes: number): number; free(at: number): void };
  HEAPU8: Uint8Array;
}

/**
 * Takes the wasm heap's whole 4 GiB but one free block of `free` bytes, and returns what gives it
 * back. Only address space: nothing is written, so the process's memory does not grow.
 */
function fillHeap(free: number): () => void {
  const module = (tf.backend() as unknown as { wasm: WasmModule }).wasm;
  const hole = module.asm.malloc(free);
  const taken: number[] = [];
  for (let size = 2 ** 30; size >= 2 ** 16; ) {
    const at = module.asm.malloc(size);
    if (at === 0) size /= 2;
    else taken.push(at);
  }
  module.asm.free(hole);
  return () => {
    for (const at of taken) module.asm.free(at);
  };
}

describe('the wasm learner on long sequences', () => {
  it('a full heap is a LearnerMemoryError, not a corrupted module; the same learner trains once there is room', async () => {
    const learner = await createEmbeddedLearner({
      decoder: SQL_MODEL,
      weights: initDecoderWeights(SQL_MODEL, { seed: 1, std: 0.02 }),
      maxAttentionScores: Number.POSITIVE_INFINITY,
    });
    const data = longBatch(4, 256);
    const release = fillHeap(16 * 2 ** 20);
    try {
      await expect(learner.forwardBackward(data, 'cross_entropy')).rejects.toMatchObject({
        code: 'learner_out_of_memory',
      });
    } finally {
      release();
    }
    const out = await learner.forwardBackward(data, 'cross_entropy');
    expect(out.metrics.loss).toBeGreaterThan(Math.log(SQL_MODEL.vocabSize) - 0.5);
    expect(out.metrics.loss).toBeLessThan(Math.log(SQL_MODEL.vocabSize) + 0.5);
    await learner.close();
  }, 300_000);

  it('micro-batches bound the attention scores: a batch that overflows the heap in one piece trains in several', async () => {
    const weights = initDecoderWeights(SQL_MODEL, { seed: 2, std: 0.02 });
    const data = longBatch(4, 384);
    // A step keeps about 80 bytes per attention score: 4 sequences × 4 heads × 384² scores need
    // some 190 MB, one sequence at a time some 50 MB.
    const budget = 4 * 384 ** 2;
    const whole = await createEmbeddedLearner({ decoder: SQL_MODEL, weights, maxAttentionScores: Number.POSITIVE_INFINITY });
    const split = await createEmbeddedLearner({ decoder: SQL_MODEL, weights, maxAttentionScores: budget });
    const expected = await whole.forward(data, 'cross_entropy');
    const release = fillHeap(112 * 2 ** 20);
    try {
      const out = await split.forwardBackward(data, 'cross_entropy');
      expect(out.metrics.loss).toBeCloseTo(expected.metrics.loss!, 4);
      await expect(whole.forwardBackward(data, 'cross_entropy')).rejects.toMatchObject({
        code: 'learner_out_of_memory',
      });
    } finally {
      release();
    }
    await whole.close();
    await split.close();
  }, 300_000);
});
