/**
 * Tinker's custom-loss route, as the SDK's `forward_backward_custom` does it
 * (`lib/public_interfaces/training_client.py`): a `forward` gives each target token's logprob under
 * the current weights, the client computes the loss L and g = ∂L/∂logp, and `forward_backward` with
 * `cross_entropy` and weights −g backpropagates exactly ∇θL, since cross_entropy's loss
 * −Σ w·logp has gradient −w with respect to each logp.
 *
 * It carries every ToolGym loss that is a function of the target logprobs: GSPO's sequence ratio,
 * KL to a reference, truncated IS, Clip-Cov / KL-Cov, `implicit_prm`. Not one
 * that reads the whole distribution (entropy bonus, high-entropy token selection, a temperature).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_POLICY_LOSS } from '../algorithms/policy-loss.ts';
import { type LossFnName, POLICY_LOSSES } from '../algorithms/policy-losses.ts';
import { registerGradients, useBackend } from '../learner/backend.ts';
import type { Datum, LossFnConfig } from '../learner/learner.ts';

/** The options only the whole distribution can compute, with the value at which they are off. */
export const DISTRIBUTION_OPTIONS = { entropyCoef: 0, entropyTopFraction: 1, temperature: 1 } as const;

export interface CustomLossOutput {
  /** L, aggregated as the config says. */
  loss: number;
  /** Per datum, ∂L/∂logp of each target token. */
  gradients: number[][];
  /** The loss's diagnostics (clip fraction, approx KL, …). */
  metrics: Record<string, number>;
}

/** L and ∂L/∂logp for `lossFn` at the given target logprobs (one array per datum, as `forward` returns them). */
export async function customLossGradient(
  data: Datum[],
  logprobs: number[][],
  lossFn: LossFnName,
  config: LossFnConfig,
): Promise<CustomLossOutput> {
  await registerGradients();
  // Small [B, T] tensors: the CPU backend serves unless the process already chose one.
  if (!tf.engine().backendName) await useBackend('cpu');
  const batch = data.length;
  const seq = Math.max(...data.map((d) => d.modelInput.tokens.length));
  const grid = (value: (d: Datum, b: number, t: number) => number) => {
    const out = new Float32Array(batch * seq);
    data.forEach((d, b) => {
      for (let t = 0; t < d.modelInput.tokens.length; t++) out[b * seq + t] = value(d, b, t);
    });
    return tf.tensor2d(out, [batch, seq]);
  };
  const hasRef = data.every((d) => d.lossFnInputs.ref_logprobs);
  let loss = 0;
  let metrics: Record<string, number> = {};
  let flat: Float32Array = new Float32Array(0);
  tf.tidy(() => {
    const inputs = {
      oldLogprobs: grid((d, _, t) => d.lossFnInputs.logprobs?.[t] ?? 0),
      advantages: grid((d, _, t) => d.lossFnInputs.advantages?.[t] ?? 0),
      weights: grid((d, _, t) => (d.lossFnInputs.weights ? (d.lossFnInputs.weights[t] ?? 0) : 1)),
      ...(hasRef ? { refLogprobs: grid((d, _, t) => d.lossFnInputs.ref_logprobs?.[t] ?? 0) } : {}),
    };
    const at = grid((_, b, t) => logprobs[b]?.[t] ?? 0);
    const policyConfig = { ...DEFAULT_POLICY_LOSS, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) };
    const { value, grad } = tf.valueAndGrad((lp: tf.Tensor2D) => {
      const result = POLICY_LOSSES[lossFn].loss({ ...inputs, logprobs: lp }, policyConfig);
      metrics = result.metrics();
      return result.loss;
    })(at);
    loss = value.dataSync()[0] ?? 0;
    flat = grad.dataSync() as Float32Array;
  });
  return {
    loss,
    gradients: data.map((d, b) => Array.from(flat.subarray(b * seq, b * seq + d.modelInput.tokens.length))),
    metrics,
  };
}
