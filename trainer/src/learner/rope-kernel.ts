/**
 * RoPE's rotation of q or k [B, H, T, headDim] as one kernel forward and one backward on the wasm
 * backend: x ⊙ cos + rotate_half(x) ⊙ sin, rotate_half(x) = concat(−x₂, x₁) (Su et al. 2021, the
 * rotate_half form). From tfjs ops it was a product with a ±1 matrix between two reshapes, two
 * products and a sum forward, and about twice as many kernels backward, each with the tape's
 * bookkeeping: some 60 of a training step's kernels, and their JavaScript garbage, which V8's helper
 * threads collect beside the learner's workers (trainer README, *Backends*).
 *
 * The values are the composition's, bit for bit: the ±1 product's output is ±x exactly (its other
 * terms are zeros), each product and sum is rounded to float32 (`Math.fround`; for ×, + and − of
 * float32 operands that is the float32 operation's result), and backward the two gradients of x add
 * as tfjs adds them. `heap-kernels.test.ts` holds the kernels to the composition.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerHeapKernel } from './wasm-memory.ts';

const ROPE = 'ToolgymRope';
const ROPE_GRAD = 'ToolgymRopeGrad';

const f = Math.fround;

/**
 * out = x ⊙ cos + rotate_half(x) ⊙ sin over rows of `headDim`, row r at position r mod `seq`;
 * `cos` and `sin` hold a row [headDim] per position (0.. at least seq − 1).
 */
function ropeForward(
  x: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
  out: Float32Array,
  seq: number,
  headDim: number,
): void {
  const half = headDim / 2;
  for (let row = 0, base = 0; base < x.length; row++, base += headDim) {
    const at = (row % seq) * headDim;
    for (let j = 0; j < half; j++) {
      const x1 = x[base + j]!;
      const x2 = x[base + half + j]!;
      out[base + j] = f(f(x1 * cos[at + j]!) + f(-x2 * sin[at + j]!));
      out[base + half + j] = f(f(x2 * cos[at + half + j]!) + f(x1 * sin[at + half + j]!));
    }
  }
}

/** dx = dy ⊙ cos + rotate_halfᵀ(dy ⊙ sin), rotate_halfᵀ(g) = concat(g₂, −g₁). */
function ropeBackward(
  dy: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
  dx: Float32Array,
  seq: number,
  headDim: number,
): void {
  const half = headDim / 2;
  for (let row = 0, base = 0; base < dy.length; row++, base += headDim) {
    const at = (row % seq) * headDim;
    for (let j = 0; j < half; j++) {
      const d1 = dy[base + j]!;
      const d2 = dy[base + half + j]!;
      dx[base + j] = f(f(d1 * cos[at + j]!) + f(d2 * sin[at + half + j]!));
      dx[base + half + j] = f(f(d2 * cos[at + half + j]!) - f(d1 * sin[at + j]!));
    }
  }
}

let registered = false;

/** Registers the two kernels on the wasm backend (once per process). */
export function registerRopeKernels(): void {
  if (registered) return;
  registered = true;
  // x's (or dy's) positions and head width, from its shape [B, H, T, headDim].
  registerHeapKernel(
    ROPE,
    ['x', 'cos', 'sin'],
    ([x]) => [x!],
    ([x, cos, sin], [out], [shape]) => ropeForward(x!, cos!, sin!, out!, shape![2]!, shape![3]!),
  );
  registerHeapKernel(
    ROPE_GRAD,
    ['dy', 'cos', 'sin'],
    ([dy]) => [dy!],
    ([dy, cos, sin], [dx], [shape]) => ropeBackward(dy!, cos!, sin!, dx!, shape![2]!, shape![3]!),
  );
}

/**
 * The same from tfjs ops, for backends without the kernels (the cpu backend): rotate_half as a
 * product with a fixed ±1 permutation matrix, so nothing slices or concatenates along the head axis.
 */
function composedRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const [b, h, t, headDim] = x.shape;
  const half = headDim / 2;
  const rotateHalf = new Float32Array(headDim * headDim);
  for (let j = 0; j < half; j++) {
    rotateHalf[(half + j) * headDim + j] = -1; // output j takes -x2[j]
    rotateHalf[j * headDim + half + j] = 1; // output half + j takes x1[j]
  }
  const r = tf.tensor2d(rotateHalf, [headDim, headDim]);
  const rT = tf.transpose(r) as tf.Tensor2D;
  const rows = tf.reshape(x, [b * h * t, headDim]) as tf.Tensor2D;
  const rotated = tf.reshape(constantProduct(rows, r, rT), x.shape);
  const [c, s] = [tf.slice(cos, [0, 0], [t, headDim]), tf.slice(sin, [0, 0], [t, headDim])];
  return tf.add(tf.mul(x, c), tf.mul(rotated, s)) as tf.Tensor4D;
}

/**
 * x @ m for a constant m, with the gradient for x alone: dy @ mᵀ, mᵀ given (no transpose per call,
 * and no gradient for the constant, which a product's gradient would compute).
 */
function constantProduct(x: tf.Tensor2D, m: tf.Tensor2D, mT: tf.Tensor2D): tf.Tensor2D {
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = inputs as [tf.Tensor, tf.GradSaveFunc];
    save([mT]);
    return {
      value: tf.matMul(input, m),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => tf.matMul(dy, saved!),
    };
  })(x) as tf.Tensor2D;
}

/**
 * RoPE's rotation of x [B, H, T, headDim] at positions 0..T−1: x ⊙ [cos, cos] + rotate_half(x) ⊙
 * [sin, sin] (= concat(x₁ cos − x₂ sin, x₂ cos + x₁ sin)). `cos` and `sin` [P, headDim] hold each
 * position's row twice over, P ≥ T (rows past T are not read). `composed` takes the tfjs ops on
 * any backend (what the kernels are tested against).
 */
export function rope(
  x: tf.Tensor4D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  composed = tf.getBackend() !== 'wasm',
): tf.Tensor4D {
  if (composed) return composedRope(x, cos, sin);
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input] = inputs as [tf.Tensor];
    return {
      value: tf.engine().runKernel(ROPE, { x: input, cos, sin }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(ROPE_GRAD, { dy, cos, sin }) as tf.Tensor,
    };
  })(x) as tf.Tensor4D;
}
