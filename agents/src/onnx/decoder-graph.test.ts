import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { initDecoderWeights } from '../model/init-weights.ts';
import { referenceForward } from '../model/reference-forward.ts';
import { buildDecoderOnnx, checkDecoderWeights } from './decoder-graph.ts';
import { DecoderSession } from './decoder-session.ts';
import { readDecoderWeights } from './read-weights.ts';
import { TINY_TEST_CONFIG } from './tiny-test-model.ts';

/** float32 ONNX vs float64 TypeScript maths over 2 layers: agreement well inside this bound. */
const TOLERANCE = 1e-4;

const config = TINY_TEST_CONFIG;
const weights = initDecoderWeights(config, { seed: 11, std: 0.3 });
const shape = {
  numLayers: config.nLayers,
  numKvHeads: config.nHeads,
  headDim: config.dModel / config.nHeads,
  vocabSize: config.vocabSize,
  maxPositions: config.maxPositions,
};

async function openSession(): Promise<DecoderSession> {
  const session = await ort.InferenceSession.create(buildDecoderOnnx(config, weights));
  return new DecoderSession(session, shape, { provider: 'cpu', reason: 'test' });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('ONNX decoder builder', () => {
  it('loads in onnxruntime and its forward pass matches the TypeScript reference', async () => {
    const decoder = await openSession();
    const ids = [3, 77, 258, 12, 200, 5, 9];
    const out = await decoder.forward({
      batch: 1,
      inputIds: ids,
      attentionMask: ids.map(() => 1),
      positionIds: ids.map((_, i) => i),
    });
    const ref = referenceForward(config, weights, { inputIds: [ids] })[0]!;
    const refFlat = Float32Array.from(ref.flatMap((row) => [...row]));
    expect(maxAbsDiff(out.logits, refFlat)).toBeLessThan(TOLERANCE);
    expect(out.present.tensors[0]!.dims).toEqual([
      1,
      config.nHeads,
      ids.length,
      config.dModel / config.nHeads,
    ]);
    await decoder.release();
  });

  it('masks left padding: a padded row gives the same logits as the row alone', async () => {
    const decoder = await openSession();
    const short = [40, 41, 42];
    const long = [1, 2, 3, 4, 5, 6];
    const pad = long.length - short.length;
    const out = await decoder.forward({
      batch: 2,
      inputIds: [...new Array(pad).fill(256), ...short, ...long],
      attentionMask: [...new Array(pad).fill(0), ...short.map(() => 1), ...long.map(() => 1)],
      positionIds: [...new Array(pad).fill(0), 0, 1, 2, 0, 1, 2, 3, 4, 5],
    });
    const alone = referenceForward(config, weights, { inputIds: [short] })[0]!;
    const v = config.vocabSize;
    const lastShort = out.logits.subarray((long.length - 1) * v, long.length * v);
    expect(maxAbsDiff(lastShort, alone[short.length - 1]!)).toBeLessThan(TOLERANCE);
    await decoder.release();
  });

  it('logits with the KV cache equal a full recompute, step by step', async () => {
    const decoder = await openSession();
    const ids = [10, 20, 30, 40, 50, 60, 70, 80];
    const prefill = 3;
    let out = await decoder.forward({
      batch: 1,
      inputIds: ids.slice(0, prefill),
      attentionMask: new Array(prefill).fill(1),
      positionIds: [0, 1, 2],
    });
    for (let t = prefill; t < ids.length; t++) {
      out = await decoder.forward({
        batch: 1,
        inputIds: [ids[t]!],
        attentionMask: new Array(t + 1).fill(1),
        positionIds: [t],
        past: out.present,
      });
      const full = await decoder.forward({
        batch: 1,
        inputIds: ids.slice(0, t + 1),
        attentionMask: new Array(t + 1).fill(1),
        positionIds: ids.slice(0, t + 1).map((_, i) => i),
      });
      const v = config.vocabSize;
      expect(maxAbsDiff(out.logits, full.logits.subarray(t * v, (t + 1) * v))).toBeLessThan(TOLERANCE);
    }
    await decoder.release();
  });

  it('round-trips weights through model.onnx and rejects wrong weights by name', () => {
    const bytes = buildDecoderOnnx(config, weights);
    const back = readDecoderWeights(bytes, config);
    for (const [name, w] of Object.entries(weights)) expect(back[name]).toEqual(w);
    const missing = { ...weights };
    delete missing['layers.1.mlp.up.bias'];
    expect(() => checkDecoderWeights(config, missing)).toThrow(/missing 'layers\.1\.mlp\.up\.bias'/);
    expect(() => checkDecoderWeights(config, { ...weights, 'lm_head.weight': new Float32Array(3) })).toThrow(
      /'lm_head\.weight' has 3 values/,
    );
  });
});
