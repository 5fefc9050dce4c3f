import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from '../learner/backend.ts';
import { DEFAULT_POLICY_LOSS, ppoClipLoss } from './policy-loss.ts';
import { LOSS_FN_NAMES, POLICY_LOSSES, RL_LOSS_NAMES } from './policy-losses.ts';

await useBackend('cpu');

const t2 = (rows: number[][]) => tf.tensor2d(rows);

describe('the policy-loss registry', () => {
  it('names every loss the learner runs, and RL the policy-gradient ones', () => {
    expect(LOSS_FN_NAMES).toEqual(['ppo', 'importance_sampling', 'cross_entropy', 'implicit_prm']);
    expect(RL_LOSS_NAMES).toEqual(['ppo', 'importance_sampling']);
    for (const name of LOSS_FN_NAMES) expect(POLICY_LOSSES[name].citation.length).toBeGreaterThan(10);
  });

  it('an entry computes its formula: ppo is PPO-clip', () => {
    const inputs = {
      logprobs: t2([[-0.5, -1.5]]),
      oldLogprobs: t2([[-1, -1]]),
      advantages: t2([[1, -1]]),
      weights: t2([[1, 1]]),
    };
    const viaRegistry = POLICY_LOSSES.ppo.loss(inputs, DEFAULT_POLICY_LOSS).loss.dataSync()[0];
    expect(viaRegistry).toBe(ppoClipLoss(inputs, DEFAULT_POLICY_LOSS).loss.dataSync()[0]);
  });

  // What any entry must do, so a new one is checked by being added: a policy-gradient loss raises
  // the logprob of a token with a positive advantage and lowers one with a negative advantage; a
  // supervised loss raises every trained token's; an untrained token (weight 0) gets no gradient.
  // A reward model's loss trains each sequence toward its label (the sign of its advantages).
  it.each(LOSS_FN_NAMES)('%s: gradient descent moves each logprob the way its entry says', (name) => {
    const entry = POLICY_LOSSES[name];
    if (entry.kind === 'reward-model') {
      const grad = tf.grad(
        (x: tf.Tensor) =>
          entry.loss(
            {
              logprobs: x as tf.Tensor2D,
              oldLogprobs: t2([
                [-1, -1],
                [-1, -1],
              ]),
              refLogprobs: t2([
                [-1, -1],
                [-1, -1],
              ]),
              advantages: t2([
                [1, 1],
                [-1, -1],
              ]),
              weights: t2([
                [1, 0],
                [1, 1],
              ]),
            },
            DEFAULT_POLICY_LOSS,
          ).loss,
      )(
        t2([
          [-1, -1],
          [-1, -1],
        ]),
      );
      const [passed, untrained, failedA, failedB] = [...grad.dataSync()];
      expect(passed).toBeLessThan(0);
      expect(untrained! + 0).toBe(0);
      expect(failedA).toBeGreaterThan(0);
      expect(failedB).toBeGreaterThan(0);
      return;
    }
    const grad = tf.grad(
      (x: tf.Tensor) =>
        entry.loss(
          {
            logprobs: x as tf.Tensor2D,
            oldLogprobs: t2([[-1, -1, -1]]),
            advantages: t2([[1, -1, 1]]),
            weights: t2([[1, 1, 0]]),
          },
          DEFAULT_POLICY_LOSS,
        ).loss,
    )(t2([[-1, -1, -1]]));
    const [up, down, untrained] = [...grad.dataSync()];
    expect(up).toBeLessThan(0);
    if (entry.kind === 'policy-gradient') expect(down).toBeGreaterThan(0);
    else expect(down).toBeLessThan(0);
    expect(untrained! + 0).toBe(0);
  });
});
