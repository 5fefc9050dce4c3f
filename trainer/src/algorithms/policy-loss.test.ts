import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../learner/backend.ts';
import {
  aggregate,
  crossEntropyLoss,
  DEFAULT_POLICY_LOSS,
  importanceSamplingLoss,
  klPenalty,
  ppoClipLoss,
  selectCovTokens,
  selectHighEntropyTokens,
  tokenCovariance,
} from './policy-loss.ts';

// Top-level: describe bodies build tensors at collection time.
await useBackend('cpu');

const t2 = (rows: number[][]) => tf.tensor2d(rows);
const value = (t: tf.Tensor) => t.dataSync()[0] as number;

describe('aggregation', () => {
  const perToken = t2([
    [1, 2, 3],
    [4, 0, 0],
  ]);
  const weights = t2([
    [1, 1, 1],
    [1, 0, 0],
  ]);
  it('token-mean: (1+2+3+4)/4', () =>
    expect(value(aggregate(perToken, weights, 'token-mean'))).toBeCloseTo(2.5));
  it('sequence-mean: mean(2, 4)', () =>
    expect(value(aggregate(perToken, weights, 'sequence-mean'))).toBeCloseTo(3));
  it('token-sum: 10', () => expect(value(aggregate(perToken, weights, 'token-sum'))).toBeCloseTo(10));
  it('token-sum-norm (Dr. GRPO): 10 / (2·5)', () =>
    expect(value(aggregate(perToken, weights, 'token-sum-norm', 5))).toBeCloseTo(1));
});

describe('PPO-clip', () => {
  // ratios e^{0.5}=1.6487 (A=+1, clipped at 1.2 / 1.28), e^{-0.5}=0.6065 (A=-1, clipped at 0.8), 1 (A=2).
  const inputs = () => ({
    logprobs: t2([[-0.5, -1.5, -1]]),
    oldLogprobs: t2([[-1, -1, -1]]),
    advantages: t2([[1, -1, 2]]),
    weights: t2([[1, 1, 1]]),
  });
  it('symmetric clip: per-token −min(rA, clip(r)A), token mean', () => {
    const { loss, metrics } = ppoClipLoss(inputs(), DEFAULT_POLICY_LOSS);
    // token 1: min(1.6487, 1.2) = 1.2; token 2: min(-0.6065, -0.8) = -0.8; token 3: 2
    expect(value(loss)).toBeCloseTo(-(1.2 - 0.8 + 2) / 3, 5);
    expect(metrics().clip_fraction).toBeCloseTo(2 / 3, 5);
  });
  it('DAPO clip-higher raises only the upper bound', () => {
    const { loss } = ppoClipLoss(inputs(), { ...DEFAULT_POLICY_LOSS, clipHigh: 0.28 });
    expect(value(loss)).toBeCloseTo(-(1.28 - 0.8 + 2) / 3, 5);
  });
  it('GSPO: one length-normalised ratio per sequence', () => {
    // mean log ratio over the 2 weighted tokens: (0.5 + 0.5)/2 = 0.5 → s = 1.6487, clipped 1.2, A = 1
    const { loss } = ppoClipLoss(
      {
        logprobs: t2([[-0.5, -0.5, -9]]),
        oldLogprobs: t2([[-1, -1, -1]]),
        advantages: t2([[1, 1, 1]]),
        weights: t2([[1, 1, 0]]),
      },
      { ...DEFAULT_POLICY_LOSS, ratioLevel: 'sequence', aggregation: 'sequence-mean' },
    );
    expect(value(loss)).toBeCloseTo(-1.2, 5);
  });
  it('gradient of the unclipped surrogate is −r·A', () => {
    const lp = tf.variable(t2([[-1]]));
    const g = tf.grad(
      (x: tf.Tensor) =>
        ppoClipLoss(
          { logprobs: x as tf.Tensor2D, oldLogprobs: t2([[-1]]), advantages: t2([[3]]), weights: t2([[1]]) },
          DEFAULT_POLICY_LOSS,
        ).loss,
    )(lp);
    expect(value(g)).toBeCloseTo(-3, 5);
  });
  it('KL to the reference is added with β and needs refLogprobs', () => {
    const base = inputs();
    const withRef = { ...base, refLogprobs: t2([[-1, -1, -1]]) };
    const plain = value(ppoClipLoss(base, DEFAULT_POLICY_LOSS).loss);
    const { loss, metrics } = ppoClipLoss(withRef, {
      ...DEFAULT_POLICY_LOSS,
      klCoef: 0.1,
      klEstimator: 'k1',
    });
    // k1 = logp − ref: (0.5 − 0.5 + 0)/3 = 0
    expect(value(loss)).toBeCloseTo(plain, 5);
    expect(metrics().kl_ref).toBeCloseTo(0, 5);
    expect(() => ppoClipLoss(base, { ...DEFAULT_POLICY_LOSS, klCoef: 0.1 })).toThrow(/refLogprobs/);
  });
  it('entropy bonus subtracts coef · mean entropy', () => {
    const base = inputs();
    const plain = value(ppoClipLoss(base, DEFAULT_POLICY_LOSS).loss);
    const { loss, metrics } = ppoClipLoss(
      { ...base, entropy: t2([[1, 2, 3]]) },
      { ...DEFAULT_POLICY_LOSS, entropyCoef: 0.5 },
    );
    expect(value(loss)).toBeCloseTo(plain - 1, 5);
    expect(metrics().entropy).toBeCloseTo(2, 5);
  });
});

describe('KL estimators (Schulman 2020)', () => {
  // logp = -1, ref = -2 → log r = -1
  const k = (e: 'k1' | 'k2' | 'k3') => value(klPenalty(tf.scalar(-1), tf.scalar(-2), e));
  it('k1 = −log r', () => expect(k('k1')).toBeCloseTo(1, 6));
  it('k2 = ½ (log r)²', () => expect(k('k2')).toBeCloseTo(0.5, 6));
  it('k3 = r − 1 − log r', () => expect(k('k3')).toBeCloseTo(Math.exp(-1) - 1 + 1, 6));
});

describe('Clip-Cov / KL-Cov', () => {
  const lp = new Float32Array([-1, -3, -2, 0]);
  const adv = new Float32Array([1, -1, 0, 5]);
  const w = new Float32Array([1, 1, 1, 0]);
  it('covariance is centred over weighted tokens', () => {
    // means: lp −2, A 0 → cov = [1·1, −1·−1, 0·0, NaN]
    const cov = tokenCovariance(lp, adv, w);
    expect([...cov.slice(0, 3)]).toEqual([1, 1, 0]);
    expect(Number.isNaN(cov[3])).toBe(true);
  });
  it('KL-Cov picks the top fraction by covariance', () => {
    const cov = new Float32Array([0.1, 5, 2, Number.NaN]);
    expect([...selectCovTokens(cov, { kind: 'kl-cov', fraction: 0.34, coef: 1 })]).toEqual([0, 1, 1, 0]);
  });
  it('Clip-Cov picks only within [low, high]', () => {
    const cov = new Float32Array([0.1, 5, 2, Number.NaN]);
    expect([...selectCovTokens(cov, { kind: 'clip-cov', fraction: 1, low: 1, high: 3 })]).toEqual([
      0, 0, 1, 0,
    ]);
  });
  it('Clip-Cov removes the picked tokens from the gradient', () => {
    const lpVar = tf.variable(t2([[-1, -3, -2]]));
    const g = tf.grad(
      (x: tf.Tensor) =>
        ppoClipLoss(
          {
            logprobs: x as tf.Tensor2D,
            oldLogprobs: t2([[-1, -3, -2]]),
            advantages: t2([[1, -1, 0]]),
            weights: t2([[1, 1, 1]]),
          },
          { ...DEFAULT_POLICY_LOSS, covControl: { kind: 'clip-cov', fraction: 0.2, low: 0.5, high: 2 } },
        ).loss,
    )(lpVar);
    const grads = [...g.dataSync()];
    // one of the two tokens with cov 1 is detached (gradient 0), the other keeps −A/3
    expect(grads.filter((x) => x === 0).length).toBe(2); // the detached one and the A = 0 token
  });
});

describe('high-entropy minority tokens (Wang et al. 2025)', () => {
  it('picks the top ceil(fraction · n) weighted tokens by entropy, ties by position', () => {
    const entropy = new Float32Array([0.1, 2, 0.5, 9, 0.5, 0.7]);
    const weights = new Float32Array([1, 1, 1, 0, 1, 1]); // position 3 is not trained
    expect([...selectHighEntropyTokens(entropy, weights, 0.4)]).toEqual([0, 1, 0, 0, 0, 1]);
    expect([...selectHighEntropyTokens(entropy, weights, 0.5)]).toEqual([0, 1, 1, 0, 0, 1]);
    expect([...selectHighEntropyTokens(entropy, weights, 1)]).toEqual([1, 1, 1, 0, 1, 1]);
    expect(
      selectHighEntropyTokens(new Float32Array(100), new Float32Array(100).fill(1), 0.07).reduce(
        (a, b) => a + b,
      ),
    ).toBe(7);
  });
  it('PPO and IS gradients flow only through the picked tokens; the rest still count in the mean', () => {
    const inputs = {
      oldLogprobs: t2([[-1, -1, -1, -1]]),
      advantages: t2([[1, 1, -1, 1]]),
      weights: t2([[1, 1, 1, 1]]),
      entropy: t2([[0.2, 1.5, 0.9, 0.1]]),
    };
    const config = { ...DEFAULT_POLICY_LOSS, entropyTopFraction: 0.5 };
    const ppo = tf.grad(
      (x: tf.Tensor) => ppoClipLoss({ ...inputs, logprobs: x as tf.Tensor2D }, config).loss,
    )(t2([[-1, -1, -1, -1]]));
    // d/dlogπ of −r·A/4 at r = 1 is −A/4, on the two highest-entropy tokens only
    expect([...ppo.dataSync()].map((x) => x + 0)).toEqual([0, -0.25, 0.25, 0]); // + 0: −0 → 0
    const is = tf.grad(
      (x: tf.Tensor) => importanceSamplingLoss({ ...inputs, logprobs: x as tf.Tensor2D }, config).loss,
    )(t2([[-1, -1, -1, -1]]));
    expect([...is.dataSync()].map((x) => x + 0)).toEqual([0, -0.25, 0.25, 0]);
    expect(() =>
      ppoClipLoss({ ...inputs, entropy: undefined, logprobs: t2([[-1, -1, -1, -1]]) }, config),
    ).toThrow(/entropyTopFraction < 1 needs the per-token entropy/);
  });
});

describe('importance sampling and cross-entropy', () => {
  it('IS loss −r·A, and truncated IS caps the weight and stops its gradient', () => {
    const inputs = {
      logprobs: t2([[0]]),
      oldLogprobs: t2([[-2]]),
      advantages: t2([[1]]),
      weights: t2([[1]]),
    };
    expect(
      value(importanceSamplingLoss(inputs, { aggregation: 'token-sum', normLength: 1, entropyCoef: 0 }).loss),
    ).toBeCloseTo(-Math.exp(2), 4);
    const g = tf.grad(
      (x: tf.Tensor) =>
        importanceSamplingLoss(
          { ...inputs, logprobs: x as tf.Tensor2D },
          { aggregation: 'token-sum', normLength: 1, entropyCoef: 0, truncation: 2 },
        ).loss,
    )(t2([[0]]));
    expect(value(g)).toBeCloseTo(-2, 5);
  });
  it('cross-entropy is the mean negative logprob of weighted targets', () => {
    expect(
      value(crossEntropyLoss({ logprobs: t2([[-1, -3, -100]]), weights: t2([[1, 1, 0]]) }).loss),
    ).toBeCloseTo(2);
  });
});
