import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { type AdamStepScalars, adamStep, addFloat32, sumOfSquares } from './adam-kernel.ts';
import { useBackend } from './backend.ts';

/** Values spread over several orders of magnitude and both signs, so that every rounding shows. */
function spread(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * 10 ** (rng.next() * 8 - 6));
}

/** The float32 values' bits, so that a comparison fails on any difference (−0 and +0 included). */
const bits = (t: tf.Tensor) => Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));

const base: AdamStepScalars = {
  scale: 1,
  beta1: 0.9,
  beta2: 0.95,
  bias1: 1 - 0.9 ** 1,
  bias2: 1 - 0.95 ** 1,
  eps: 1e-8,
  lr: 3e-4,
  weightDecay: 0,
};

describe('Adam as one wasm kernel', () => {
  it.each([
    ['a first step', base],
    [
      'a clipped step with weight decay, late',
      { ...base, scale: 0.37, weightDecay: 0.1, bias1: 1 - 0.9 ** 7, bias2: 1 - 0.95 ** 7 },
    ],
    ['other betas, ε and learning rate', { ...base, beta1: 0.8, beta2: 0.999, eps: 1e-6, lr: 0.05 }],
  ])('gives the weight and both moments of the tfjs ops bit for bit: %s', async (_, scalars) => {
    await useBackend('wasm');
    const n = 1027;
    tf.tidy(() => {
      const [w, g] = [tf.tensor(spread(n, 1)), tf.tensor(spread(n, 2))];
      const m = tf.tensor(spread(n, 3));
      const v = tf.abs(tf.tensor(spread(n, 4)));
      const kernel = adamStep(w, m, v, g, scalars, false);
      const composed = adamStep(w, m, v, g, scalars, true);
      expect(kernel.map(bits)).toEqual(composed.map(bits));
      // A first step from zero moments, as the learner starts them.
      const zeros = tf.zerosLike(w);
      expect(adamStep(w, zeros, zeros, g, scalars, false).map(bits)).toEqual(
        adamStep(w, zeros, zeros, g, scalars, true).map(bits),
      );
    });
  });

  it('sums squares as tf.sum(tf.square(g)) does, and adds them as tf.addN does, bit for bit', async () => {
    await useBackend('wasm');
    tf.tidy(() => {
      const sums = [1, 5, 64, 4099, 65536].map((n, i) => {
        const g = tf.tensor(spread(n, 10 + i), n % 4 === 0 ? [4, n / 4] : [n]);
        const fromHeap = sumOfSquares(g, false);
        expect(fromHeap).toBe(sumOfSquares(g, true));
        return fromHeap;
      });
      // Against a sum in double precision: the float32 rounding is there to match.
      const g = spread(65536, 14);
      expect(sums[4]).not.toBe(g.reduce((a, x) => a + x * x, 0));
      expect(addFloat32(sums)).toBe(tf.addN(sums.map((x) => tf.scalar(x))).dataSync()[0]);
    });
  });
});
