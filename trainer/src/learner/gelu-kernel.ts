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
 * Four values at a time in WebAssembly SIMD (f32x4); the last length mod 4 in TypeScript.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ADD,
  F32X4_ABS,
  F32X4_ADD,
  F32X4_DIV,
  F32X4_LT,
  F32X4_MAX,
  F32X4_MIN,
  F32X4_MUL,
  F32X4_SUB,
  f32x4,
  forLoop,
  get,
  i32,
  moduleBytes,
  set,
  V128_AND,
  V128_LOAD,
  V128_STORE,
} from './wasm-assembler.ts';
import { heapFunction, registerHeapKernel } from './wasm-memory.ts';

const GELU = 'ToolgymGelu';
const GELU_GRAD = 'ToolgymGeluGrad';
const SCALE = Math.sqrt(2 / Math.PI);
const CUBIC = 0.044715;
const CLAMP = 7.905311107635498;

const ALPHA = [
  4.89352455891786e-3, 6.37261928875436e-4, 1.48572235717979e-5, 5.12229709037114e-8, -8.60467152213735e-11,
  2.00018790482477e-13, -2.76076847742355e-16,
];
const BETA = [4.89352518554385e-3, 2.268434632439e-3, 1.18534705686654e-4, 1.19825839466702e-6];

/** tanh(u) as x·P(x²)/Q(x²) (Eigen's `ptanh_float` coefficients). */
function tanh(u: number): number {
  const v = Math.min(CLAMP, Math.max(-CLAMP, u));
  const s = v * v;
  let p = 0;
  for (let i = ALPHA.length - 1; i >= 0; i--) p = p * s + ALPHA[i]!;
  let q = 0;
  for (let i = BETA.length - 1; i >= 0; i--) q = q * s + BETA[i]!;
  return (v * p) / q;
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
    const u = SCALE * (v + CUBIC * v * v * v);
    const t = tanh(u);
    // Past the clamp tanh is flat: its derivative is 0 there, not what 1 − t² leaves of the approximation.
    const sech2 = Math.abs(u) < CLAMP ? 1 - t * t : 0;
    dx[i] = dy[i]! * (0.5 * (1 + t) + 0.5 * v * sech2 * SCALE * (1 + 3 * CUBIC * v * v));
  }
}

// The SIMD module: gelu(x, y, n) and geluGrad(x, dy, dx, n) over the first n values (n a multiple of 4, byte offsets).
const [X, Y, DY, DX] = [0, 1, 1, 2];
/** Horner's rule in f32x4 over the v128 local `s`, highest coefficient last in `coefficients`. */
const horner = (coefficients: number[], s: number) => {
  const code = f32x4(coefficients.at(-1)!);
  for (let i = coefficients.length - 2; i >= 0; i--)
    code.push(...get(s), ...F32X4_MUL, ...f32x4(coefficients[i]!), ...F32X4_ADD);
  return code;
};
/** With x in v128 local `x`: leaves tanh(u) on the stack, u in local `u`, locals `s` scratch. */
// biome-ignore format: instruction sequences, laid out as the formulas they encode
const tanhOfU = (x: number, u: number, s: number) => [
  ...get(x), ...get(x), ...F32X4_MUL, ...get(x), ...F32X4_MUL, ...f32x4(CUBIC), ...F32X4_MUL,
  ...get(x), ...F32X4_ADD, ...f32x4(SCALE), ...F32X4_MUL,
  ...f32x4(CLAMP), ...F32X4_MIN, ...f32x4(-CLAMP), ...F32X4_MAX, ...set(u),
  ...get(u), ...get(u), ...F32X4_MUL, ...set(s),
  ...horner(ALPHA, s), ...get(u), ...F32X4_MUL,
  ...horner(BETA, s), ...F32X4_DIV,
];

/** y = 0.5 x (1 + t). Params x, y, n (bytes); locals: offset i32 3; v128 x 4, u 5, s 6. */
// biome-ignore format: instruction sequences, laid out as the formulas they encode
const FORWARD = moduleBytes('gelu', 3, { i32: 1, f32: 0, v128: 3 }, forLoop(3, i32(0), get(2), 16, [
  ...get(Y), ...get(3), ...ADD,
  ...get(X), ...get(3), ...ADD, ...V128_LOAD, ...set(4),
  ...tanhOfU(4, 5, 6), ...f32x4(1), ...F32X4_ADD, ...get(4), ...F32X4_MUL, ...f32x4(0.5), ...F32X4_MUL,
  ...V128_STORE,
]));

/**
 * dx = dy · 0.5 ((1 + t) + x (1 − t²) √(2/π) (1 + 3 · 0.044715 x²)). Params x, dy, dx, n (bytes);
 * locals: offset i32 4; v128 x 5, u 6, s 7, t 8.
 */
// biome-ignore format: instruction sequences, laid out as the formulas they encode
const BACKWARD = moduleBytes('geluGrad', 4, { i32: 1, f32: 0, v128: 4 }, forLoop(4, i32(0), get(3), 16, [
  ...get(DX), ...get(4), ...ADD,
  ...get(X), ...get(4), ...ADD, ...V128_LOAD, ...set(5),
  ...tanhOfU(5, 6, 7), ...set(8),
  ...f32x4(1), ...get(8), ...F32X4_ADD,
  ...f32x4(1), ...get(8), ...get(8), ...F32X4_MUL, ...F32X4_SUB,
  ...get(6), ...F32X4_ABS, ...f32x4(CLAMP), ...F32X4_LT, ...V128_AND, // 1 − t² is 0 where u was clamped
  ...get(5), ...F32X4_MUL,
  ...get(5), ...get(5), ...F32X4_MUL, ...f32x4(3 * CUBIC * SCALE), ...F32X4_MUL, ...f32x4(SCALE), ...F32X4_ADD,
  ...F32X4_MUL, ...F32X4_ADD,
  ...f32x4(0.5), ...F32X4_MUL,
  ...get(DY), ...get(4), ...ADD, ...V128_LOAD, ...F32X4_MUL,
  ...V128_STORE,
]));

let registered = false;

/** Registers the two kernels on the wasm backend (once per process; the backend must be initialised). */
export function registerGeluKernels(): void {
  if (registered) return;
  registered = true;
  const forward = heapFunction(FORWARD, 'gelu');
  const backward = heapFunction(BACKWARD, 'geluGrad');
  /** The SIMD part over whole groups of four, then the rest in TypeScript. */
  const split = (length: number) => length - (length % 4);
  registerHeapKernel(
    GELU,
    ['x'],
    (shapes) => shapes,
    ([x], [y]) => {
      const n = split(x!.length);
      forward(x!.byteOffset, y!.byteOffset, 4 * n);
      geluForward(x!.subarray(n), y!.subarray(n));
    },
  );
  registerHeapKernel(
    GELU_GRAD,
    ['x', 'dy'],
    ([x]) => [x!],
    ([x, dy], [dx]) => {
      const n = split(x!.length);
      backward(x!.byteOffset, dy!.byteOffset, dx!.byteOffset, 4 * n);
      geluBackward(x!.subarray(n), dy!.subarray(n), dx!.subarray(n));
    },
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
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = inputs as [tf.Tensor, tf.GradSaveFunc];
    save([input]);
    return {
      value: tf.engine().runKernel(GELU, { x: input }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
        tf.engine().runKernel(GELU_GRAD, { x: saved!, dy }) as tf.Tensor,
    };
  })(x) as T;
}
