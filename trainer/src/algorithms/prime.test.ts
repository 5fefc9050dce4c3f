import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../learner/backend.ts';
import { implicitPrmLoss } from './policy-loss.ts';
import { implicitProcessRewards, primeAdvantages, whiten } from './prime.ts';

await useBackend('cpu');

describe('PRIME (Cui et al. 2025), hand-computed on a toy group', () => {
  it('the implicit process reward is β·log(π_φ/π_ref) per token', () => {
    const r = implicitProcessRewards([-1, -2], [-1.5, -1], 0.1);
    expect(r[0]).toBeCloseTo(0.05, 12);
    expect(r[1]).toBeCloseTo(-0.1, 12);
  });

  it('advantages: leave-one-out baselines on both rewards, summed into returns', () => {
    // A passed with process rewards (0.1, 0.3), B failed with (−0.2). K = 2: per-token means 0.2 and
    // −0.2, process baseline (0.2 − 0.2)/1 = 0; A's tokens 2·0.1, 2·0.3, its outcome 1 − 0 on the last:
    // rewards 0.2, 1.6, returns 1.8, 1.6. B: 2·(−0.2) and 0 − 1: −1.4.
    const [a, b] = primeAdvantages(
      [
        { process: [0.1, 0.3], outcome: 1 },
        { process: [-0.2], outcome: 0 },
      ],
      { process: 1, outcome: 1 },
    );
    expect(a![0]).toBeCloseTo(1.8, 12);
    expect(a![1]).toBeCloseTo(1.6, 12);
    expect(b![0]).toBeCloseTo(-1.4, 12);
    // The coefficients weigh each source: outcome only is RLOO on the last token, returned to all.
    const [oa, ob] = primeAdvantages(
      [
        { process: [0.1, 0.3], outcome: 1 },
        { process: [-0.2], outcome: 0 },
      ],
      { process: 0, outcome: 5 },
    );
    expect(oa).toEqual([5, 5]);
    expect(ob).toEqual([-5]);
  });

  it('whitening: zero mean, unit (unbiased) variance over the batch’s tokens', () => {
    const w = whiten([[1.8, 1.6], [-1.4]]).flat();
    expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(0, 9);
    expect(w.reduce((x, y) => x + y * y, 0) / (w.length - 1)).toBeCloseTo(1, 6);
  });

  it("the PRM's loss is the cross-entropy of σ(Σ_t r_φ) against the outcome label", () => {
    // Sequence 1 passed (label +1), r_φ = 0.05·((−1 + 1.5) + (−2 + 1)) = −0.025: −log σ(−0.025).
    // Sequence 2 failed (label −1), r_φ = 0.05·(−0.5 + 0.5) = 0 on its one trained token: −log σ(0).
    const loss = implicitPrmLoss(
      {
        logprobs: tf.tensor2d([
          [-1, -2],
          [-0.5, -3],
        ]),
        refLogprobs: tf.tensor2d([
          [-1.5, -1],
          [-0.5, -1],
        ]),
        advantages: tf.tensor2d([
          [1, 1],
          [-1, -1],
        ]),
        weights: tf.tensor2d([
          [1, 1],
          [1, 0],
        ]),
      },
      { prmBeta: 0.05 },
    ).loss.dataSync()[0]!;
    const softplus = (x: number) => Math.log1p(Math.exp(x));
    expect(loss).toBeCloseTo((softplus(0.025) + softplus(0)) / 2, 6);
  });
});
