/**
 * GELU (tanh form) as one pass forward and one pass backward on the wasm backend. Composed from
 * tfjs ops it was nine elementwise kernels forward (wasm's Tanh alone ~20 ns per value, scalar
 * libm) and about twice that backward: 75 ms of CPU per [6144, 256] activation, forward and back,
 * a quarter of the main job's training step. These kernels read and write the backend's own memory.
 *
 * GELU(x) = 0.5 x (1 + tanh(u)), u = √(2/π) (x + 0.044715 x³) (Hendrycks & Gimpel 2016, eq. for
 * the tanh approximation); its derivative 0.5 (1 + t) + 0.5 x (1 − t²) √(2/π) (1 + 3 · 0.044715 x²),
 * t = tanh(u). tanh is Eigen's float rational approximation (clamped to ±7.905, odd degree-13 over
 * even degree-6 polynomial), within 3e-8 of Math.tanh, so the learner keeps the onnx policy's logprobs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerHeapKernel } from './wasm-memory.ts';

const GELU = 'ToolgymGelu';
const GELU_GRAD = 'ToolgymGeluGrad';
const SCALE = Math.sqrt(2 / Math.PI);
const CUBIC = 0.044715;
const CLAMP = 7.90531110763549805;

/** tanh(u) as x·P(x²)/Q(x²) (Eigen's `ptanh_float` coefficients). */
function tanh(u: number): number {
  const v = u > CLAMP ? CLAMP : u < -CLAMP ? -CLAMP : u;
  const s = v * v;
  const p =
    v *
    (4.89352455891786e-3 +
      s *
        (6.37261928875436e-4 +
          s *
            (1.48572235717979e-5 +
              s *
                (5.12229709037114e-8 +
                  s * (-8.60467152213735e-11 + s * (2.00018790482477e-13 + s * -2.76076847742355e-16))))));
  const q =
    4.89352518554385e-3 + s * (2.268434632439e-3 + s * (1.18534705686654e-4 + s * 1.19825839466702e-6));
  return p / q;
}

function geluForward(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    y[i] = 0.5 * v * (1 + tanh(SCALE * (v + CUBIC * v * v * v)));
  }
}

function geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const t = tanh(SCALE * (v + CUBIC * v * v * v));
    dx[i] = dy[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SCALE * (1 + 3 * CUBIC * v * v));
  }
}

let registered = false;

/** Registers the two kernels on the wasm backend (once per process). */
export function registerGeluKernels(): void {
  if (registered) return;
  registered = true;
  registerHeapKernel(
    GELU,
    ['x'],
    (shapes) => shapes,
    ([x], [y]) => geluForward(x!, y!),
  );
  registerHeapKernel(
    GELU_GRAD,
    ['x', 'dy'],
    ([x]) => [x!],
    ([x, dy], [dx]) => geluBackward(x!, dy!, dx!),
  );
}

/** The same GELU from tfjs ops, for backends without the kernels (the cpu backend). */
function composedGelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(SCALE, tf.add(x, tf.mul(CUBIC, tf.mul(x, tf.square(x)))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/** GELU (tanh form) of float32 `x`: one kernel each way on wasm, tfjs ops elsewhere. */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (tf.getBackend() !== 'wasm') return composedGelu(x) as T;
  return tf.customGrad((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return {
      value: tf.engine().runKernel(GELU, { x: input }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
        tf.engine().runKernel(GELU_GRAD, { x: saved!, dy }) as tf.Tensor,
    };
  })(x) as T;
}
