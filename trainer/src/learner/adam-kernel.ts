/**
 * Adam's update of one weight as one kernel on the wasm backend, and a gradient's sum of squares
 * read straight off the wasm heap. From tfjs ops a weight's step was 14–16 elementwise kernels and
 * the norm's Square and Sum two more: half a training step's kernels for 36 weights (577 of 1,162),
 * each with its tensors, scopes and argument arrays, the JavaScript garbage and compiles that V8's
 * helper threads take from two data-parallel workers on two cores (trainer README, *Backends*).
 *
 * The arithmetic is tfjs's, value for value: every elementwise kernel of the composition rounds to
 * float32 (XNNPACK's and the backend's own, with no fused multiply-add), and so does each step
 * here (`Math.fround` after every operation; for +, −, ×, ÷ and √ of float32 operands, rounding the
 * double result once more gives the float32 operation's result exactly). Scalar operands are the
 * float32 scalars tfjs makes of them, and the backend's Sum adds in order from zero in float32.
 * `adam-kernel.test.ts` holds the two to the bit.
 *
 * Adam (Kingma & Ba 2015, Algorithm 1), with decoupled weight decay (Loshchilov & Hutter 2019):
 * m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², w ← w(1 − lr·λ) − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε).
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapView, registerHeapKernel, type WasmBackendInternals } from './wasm-memory.ts';

const ADAM = 'ToolgymAdam';

/** One Adam step's scalars: the gradient's clipping scale, betas, bias corrections 1 − βᵗ, ε, lr, weight decay λ. */
export interface AdamStepScalars {
  scale: number;
  beta1: number;
  beta2: number;
  bias1: number;
  bias2: number;
  eps: number;
  lr: number;
  weightDecay: number;
}

const f = Math.fround;

/**
 * The update over whole arrays. A leaf of plain arguments (typed arrays and numbers), so that V8
 * optimises its loop and keeps it optimised: a loop in a function that also reads objects was
 * deoptimised for want of type feedback and ran in the interpreter, a heap number per value.
 */
function adamLoop(
  w: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  wOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
  scale: number,
  beta1: number,
  beta2: number,
  bias1: number,
  bias2: number,
  eps: number,
  lr: number,
  weightDecay: number,
): void {
  const scaled = scale !== 1;
  const decayed = weightDecay > 0;
  const [s, b1, r1, b2, r2] = [f(scale), f(beta1), f(1 - beta1), f(beta2), f(1 - beta2)];
  const [c1, c2, e, l, keep] = [f(bias1), f(bias2), f(eps), f(lr), f(1 - lr * weightDecay)];
  for (let i = 0; i < w.length; i++) {
    const gi = scaled ? f(g[i]! * s) : g[i]!;
    const mi = f(f(m[i]! * b1) + f(gi * r1));
    const vi = f(f(v[i]! * b2) + f(f(gi * gi) * r2));
    const update = f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + e));
    const wi = decayed ? f(w[i]! * keep) : w[i]!;
    wOut[i] = f(wi - f(update * l));
    mOut[i] = mi;
    vOut[i] = vi;
  }
}

let registered = false;

/** Registers the Adam kernel on the wasm backend (once per process). */
export function registerAdamKernel(): void {
  if (registered) return;
  registered = true;
  registerHeapKernel(
    ADAM,
    ['w', 'm', 'v', 'g'],
    ([w]) => [w!, w!, w!],
    ([w, m, v, g], [wOut, mOut, vOut], _shapes, attrs) => {
      const s = attrs as unknown as AdamStepScalars;
      adamLoop(
        w!,
        m!,
        v!,
        g!,
        wOut!,
        mOut!,
        vOut!,
        s.scale,
        s.beta1,
        s.beta2,
        s.bias1,
        s.bias2,
        s.eps,
        s.lr,
        s.weightDecay,
      );
    },
  );
}

/** The same from tfjs ops, for backends without the kernel (the cpu backend). */
function composedAdamStep(
  w: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g0: tf.Tensor,
  s: AdamStepScalars,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const g = s.scale === 1 ? g0 : tf.mul(g0, s.scale);
  const m1 = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
  const v1 = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
  const update = tf.div(tf.div(m1, s.bias1), tf.add(tf.sqrt(tf.div(v1, s.bias2)), s.eps));
  const decayed = s.weightDecay > 0 ? tf.mul(w, 1 - s.lr * s.weightDecay) : w;
  return [tf.sub(decayed, tf.mul(update, s.lr)), m1, v1];
}

/**
 * One Adam step of weight `w` with moments `m`, `v` and gradient `g`: the new weight and moments.
 * `composed` takes the tfjs ops on any backend (what the kernel is tested against).
 */
export function adamStep(
  w: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  scalars: AdamStepScalars,
  composed = tf.getBackend() !== 'wasm',
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (composed) return composedAdamStep(w, m, v, g, scalars);
  return tf.engine().runKernel(ADAM, { w, m, v, g }, { ...scalars }) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

/**
 * Σ g² over a float32 tensor, as `tf.sum(tf.square(g))` computes it (each square and each partial
 * sum rounded to float32, added in order from zero), read off the wasm heap with no kernel; on
 * other backends, or with `composed`, those two ops.
 */
export function sumOfSquares(g: tf.Tensor, composed = tf.getBackend() !== 'wasm'): number {
  if (composed) {
    const squares = tf.tidy(() => tf.sum(tf.square(g)));
    const value = squares.dataSync()[0] ?? 0;
    squares.dispose();
    return value;
  }
  return squaresLoop(heapView(tf.backend() as unknown as WasmBackendInternals, g));
}

/** Σ x² in float32, in order (a leaf: see `adamLoop`). */
function squaresLoop(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum = f(sum + f(values[i]! * values[i]!));
  return sum;
}

/** Σ of float32 values as `tf.addN` of float32 scalars adds them: in order from zero, in float32. */
export function addFloat32(values: readonly number[]): number {
  let sum = 0;
  for (const x of values) sum = f(sum + f(x));
  return sum;
}
