/**
 * Layer normalisation over the last axis as one pass forward and one backward on the wasm backend.
 * From tfjs ops (moments, sub, rsqrt, mul, add and their gradients) it was some twenty kernels and
 * 17 ms of CPU per [6144, 64] activation forward and back, five of them per step of the main job's
 * model; these kernels read and write the backend's own memory.
 *
 * y = (x − μ) / √(σ² + ε) · w + b over each row (Ba et al. 2016, eq. 4; σ² the biased variance, as
 * tfjs' `moments` and onnx's LayerNormalization). With x̂ the normalised row, r = 1/√(σ² + ε) and
 * g = dy · w: dx = r (g − mean(g) − x̂ · mean(g · x̂)), dw = Σ_rows dy · x̂, db = Σ_rows dy.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerHeapKernel } from './wasm-memory.ts';

const LAYER_NORM = 'ToolgymLayerNorm';
const LAYER_NORM_GRAD = 'ToolgymLayerNormGrad';

/** Mean and 1/√(σ² + ε) of row `off`..`off + d`. */
function rowStats(x: Float32Array, off: number, d: number, eps: number): [number, number] {
  let sum = 0;
  for (let j = 0; j < d; j++) sum += x[off + j]!;
  const mean = sum / d;
  let sq = 0;
  for (let j = 0; j < d; j++) {
    const c = x[off + j]! - mean;
    sq += c * c;
  }
  return [mean, 1 / Math.sqrt(sq / d + eps)];
}

function layerNormForward(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  y: Float32Array,
  eps: number,
): void {
  const d = w.length;
  for (let off = 0; off < x.length; off += d) {
    const [mean, r] = rowStats(x, off, d, eps);
    for (let j = 0; j < d; j++) y[off + j] = (x[off + j]! - mean) * r * w[j]! + b[j]!;
  }
}

function layerNormBackward(
  x: Float32Array,
  w: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  db: Float32Array,
  eps: number,
): void {
  const d = w.length;
  const dwSum = new Float64Array(d);
  const dbSum = new Float64Array(d);
  for (let off = 0; off < x.length; off += d) {
    const [mean, r] = rowStats(x, off, d, eps);
    let gMean = 0;
    let gxMean = 0;
    for (let j = 0; j < d; j++) {
      const xhat = (x[off + j]! - mean) * r;
      const g = dy[off + j]! * w[j]!;
      gMean += g;
      gxMean += g * xhat;
      dwSum[j]! += dy[off + j]! * xhat;
      dbSum[j]! += dy[off + j]!;
    }
    gMean /= d;
    gxMean /= d;
    for (let j = 0; j < d; j++) {
      const xhat = (x[off + j]! - mean) * r;
      dx[off + j] = r * (dy[off + j]! * w[j]! - gMean - xhat * gxMean);
    }
  }
  dw.set(dwSum);
  db.set(dbSum);
}

let registered = false;

/** Registers the two kernels on the wasm backend (once per process). */
export function registerLayerNormKernels(): void {
  if (registered) return;
  registered = true;
  registerHeapKernel(
    LAYER_NORM,
    ['x', 'w', 'b'],
    ([x]) => [x!],
    ([x, w, b], [y], _, attrs) => layerNormForward(x!, w!, b!, y!, attrs.eps as number),
  );
  registerHeapKernel(
    LAYER_NORM_GRAD,
    ['x', 'w', 'dy'],
    ([x, w]) => [x!, w!, w!],
    ([x, w, dy], [dx, dw, db], _, attrs) =>
      layerNormBackward(x!, w!, dy!, dx!, dw!, db!, attrs.eps as number),
  );
}

/** The same layer norm from tfjs ops, for backends without the kernels (the cpu backend). */
function composedLayerNorm(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normed, w), b) as tf.Tensor2D;
}

/** Layer norm of the rows of float32 `x` [rows, d] with weight and bias [d]: one kernel each way on wasm. */
export function layerNorm(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor2D {
  if (tf.getBackend() !== 'wasm') return composedLayerNorm(x, w, b, eps);
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, weight, bias, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([input, weight]);
    return {
      value: tf.engine().runKernel(LAYER_NORM, { x: input, w: weight, b: bias }, { eps }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) =>
        tf.engine().runKernel(LAYER_NORM_GRAD, { x: sx!, w: sw!, dy }, { eps }) as tf.Tensor[],
    };
  })(x, w, b) as tf.Tensor2D;
}
