/**
 * Attention's causal softmax as one pass forward and one backward on the wasm backend: the scores
 * [..., T, T] of query t over keys 0..t, and zero for the keys after t. From tfjs ops it was the
 * mask's add, softmax's max, sub, exp, sum and div, and their gradients: 40 ms of CPU per layer of
 * the main job's model (64 × 4 heads × 96²), forward and back. These kernels read and write the
 * backend's own memory, and skip the masked half instead of adding −1e9 to it.
 *
 * p = softmax(s) over the unmasked keys; its gradient ds = p ⊙ (dp − Σ_k p_k dp_k) row by row.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerHeapKernel } from './wasm-memory.ts';

const CAUSAL_SOFTMAX = 'ToolgymCausalSoftmax';
const CAUSAL_SOFTMAX_GRAD = 'ToolgymCausalSoftmaxGrad';
const MASKED_SCORE = -1e9;

function causalSoftmaxForward(s: Float32Array, p: Float32Array, t: number): void {
  for (let row = 0; row * t < s.length; row++) {
    const off = row * t;
    const keys = (row % t) + 1;
    let max = -Infinity;
    for (let j = 0; j < keys; j++) max = Math.max(max, s[off + j]!);
    let sum = 0;
    for (let j = 0; j < keys; j++) {
      const e = Math.exp(s[off + j]! - max);
      p[off + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < keys; j++) p[off + j]! *= inv;
    p.fill(0, off + keys, off + t);
  }
}

function causalSoftmaxBackward(p: Float32Array, dp: Float32Array, ds: Float32Array, t: number): void {
  for (let row = 0; row * t < p.length; row++) {
    const off = row * t;
    const keys = (row % t) + 1;
    let dot = 0;
    for (let j = 0; j < keys; j++) dot += p[off + j]! * dp[off + j]!;
    for (let j = 0; j < keys; j++) ds[off + j] = p[off + j]! * (dp[off + j]! - dot);
    ds.fill(0, off + keys, off + t);
  }
}

let registered = false;

/** Registers the two kernels on the wasm backend (once per process). */
export function registerCausalSoftmaxKernels(): void {
  if (registered) return;
  registered = true;
  const last = (shape: number[]) => shape[shape.length - 1]!;
  registerHeapKernel(
    CAUSAL_SOFTMAX,
    ['s'],
    (shapes) => shapes,
    ([s], [p], [shape]) => causalSoftmaxForward(s!, p!, last(shape!)),
  );
  registerHeapKernel(
    CAUSAL_SOFTMAX_GRAD,
    ['p', 'dp'],
    ([p]) => [p!],
    ([p, dp], [ds], [shape]) => causalSoftmaxBackward(p!, dp!, ds!, last(shape!)),
  );
}

/** The same from tfjs ops, for backends without the kernels (the cpu backend). */
function composedCausalSoftmax(scores: tf.Tensor): tf.Tensor {
  const t = scores.shape[scores.rank - 1]!;
  const causal = tf.linalg.bandPart(tf.ones([t, t]), -1, 0);
  return tf.softmax(tf.add(scores, tf.mul(tf.sub(1, causal), MASKED_SCORE)));
}

/** Softmax of attention scores [..., T, T] over each query's keys 0..t (zero after t). */
export function causalSoftmax<T extends tf.Tensor>(scores: T): T {
  if (tf.getBackend() !== 'wasm') return composedCausalSoftmax(scores) as T;
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [s, save] = inputs as [tf.Tensor, tf.GradSaveFunc];
    const p = tf.engine().runKernel(CAUSAL_SOFTMAX, { s }) as tf.Tensor;
    save([p]);
    return {
      value: p,
      gradFunc: (dp: tf.Tensor, [saved]: tf.Tensor[]) =>
        tf.engine().runKernel(CAUSAL_SOFTMAX_GRAD, { p: saved!, dp }) as tf.Tensor,
    };
  })(scores) as T;
}
