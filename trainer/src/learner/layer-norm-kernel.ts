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
import {
  ADD,
  F32_ADD,
  F32_CONVERT_I32_U,
  F32_DIV,
  F32_SQRT,
  F32X4_ADD,
  F32X4_MUL,
  F32X4_SPLAT,
  F32X4_SUB,
  f32,
  f32x4,
  f32x4Lane,
  forLoop,
  get,
  i32,
  MUL,
  moduleBytes,
  set,
  V128_LOAD,
  V128_STORE,
} from './wasm-assembler.ts';
import { type HeapFunction, heapFunction, registerHeapKernel } from './wasm-memory.ts';

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

/** The sum of an f32x4's lanes, from the v128 local `v`. */
// biome-ignore format: instruction sequences, laid out as the formulas they encode
const laneSum = (v: number) => [
  ...get(v), ...f32x4Lane(0), ...get(v), ...f32x4Lane(1), ...F32_ADD,
  ...get(v), ...f32x4Lane(2), ...F32_ADD, ...get(v), ...f32x4Lane(3), ...F32_ADD,
];

/**
 * With `off` a row's byte offset from `x` and `rowBytes` 4d: the row's mean and 1/√(σ² + ε) in
 * all lanes of the v128 locals `meanV` and `rV` (`acc` scratch, `j` the loop counter).
 */
// biome-ignore format: instruction sequences, laid out as the formulas they encode
const rowStatsSimd = (eps: number, l: { x: number; off: number; rowBytes: number; j: number; acc: number; meanV: number; rV: number }) => {
  const value = [...get(l.x), ...get(l.off), ...ADD, ...get(l.j), ...ADD, ...V128_LOAD];
  const d = [...get(l.rowBytes), ...i32(2), 0x76 /* i32.shr_u */, ...F32_CONVERT_I32_U];
  return [
    ...f32x4(0), ...set(l.acc),
    ...forLoop(l.j, i32(0), get(l.rowBytes), 16, [...get(l.acc), ...value, ...F32X4_ADD, ...set(l.acc)]),
    ...laneSum(l.acc), ...d, ...F32_DIV, ...F32X4_SPLAT, ...set(l.meanV),
    ...f32x4(0), ...set(l.acc),
    ...forLoop(l.j, i32(0), get(l.rowBytes), 16, [
      ...get(l.acc), ...value, ...get(l.meanV), ...F32X4_SUB, ...set(l.rV), // rV as scratch
      ...get(l.rV), ...get(l.rV), ...F32X4_MUL, ...F32X4_ADD, ...set(l.acc),
    ]),
    ...f32(1), ...laneSum(l.acc), ...d, ...F32_DIV, ...f32(eps), ...F32_ADD, ...F32_SQRT, ...F32_DIV,
    ...F32X4_SPLAT, ...set(l.rV),
  ];
};

/** ln(x, w, b, y, rows, rowBytes): params 0–5; i32 locals row 6, off 7, j 8; v128 acc 9, meanV 10, rV 11. */
// biome-ignore format: instruction sequences, laid out as the formulas they encode
const forwardModule = (eps: number) => moduleBytes('ln', 6, { i32: 3, f32: 0, v128: 3 }, forLoop(6, i32(0), get(4), 1, [
  ...get(6), ...get(5), ...MUL, ...set(7),
  ...rowStatsSimd(eps, { x: 0, off: 7, rowBytes: 5, j: 8, acc: 9, meanV: 10, rV: 11 }),
  ...forLoop(8, i32(0), get(5), 16, [
    ...get(3), ...get(7), ...ADD, ...get(8), ...ADD,
    ...get(0), ...get(7), ...ADD, ...get(8), ...ADD, ...V128_LOAD, ...get(10), ...F32X4_SUB, ...get(11), ...F32X4_MUL,
    ...get(1), ...get(8), ...ADD, ...V128_LOAD, ...F32X4_MUL,
    ...get(2), ...get(8), ...ADD, ...V128_LOAD, ...F32X4_ADD,
    ...V128_STORE,
  ]),
]));

/**
 * lnGrad(x, w, dy, dx, dw, db, rows, rowBytes), dw and db zeroed by the caller: params 0–7; i32
 * locals row 8, off 9, j 10; v128 acc 11, meanV 12, rV 13, accG 14, accGX 15, xhat 16, dyV 17, g 18.
 */
// biome-ignore format: instruction sequences, laid out as the formulas they encode
const backwardModule = (eps: number) => {
  const at = (base: number) => [...get(base), ...get(9), ...ADD, ...get(10), ...ADD]; // base + off + j
  const col = (base: number) => [...get(base), ...get(10), ...ADD]; // base + j
  const xhat = [...at(0), ...V128_LOAD, ...get(12), ...F32X4_SUB, ...get(13), ...F32X4_MUL, ...set(16)];
  return moduleBytes('lnGrad', 8, { i32: 3, f32: 0, v128: 8 }, forLoop(8, i32(0), get(6), 1, [
    ...get(8), ...get(7), ...MUL, ...set(9),
    ...rowStatsSimd(eps, { x: 0, off: 9, rowBytes: 7, j: 10, acc: 11, meanV: 12, rV: 13 }),
    ...f32x4(0), ...set(14), ...f32x4(0), ...set(15),
    ...forLoop(10, i32(0), get(7), 16, [
      ...xhat,
      ...at(2), ...V128_LOAD, ...set(17),
      ...get(17), ...col(1), ...V128_LOAD, ...F32X4_MUL, ...set(18),
      ...get(14), ...get(18), ...F32X4_ADD, ...set(14),
      ...get(15), ...get(18), ...get(16), ...F32X4_MUL, ...F32X4_ADD, ...set(15),
      ...col(4), ...col(4), ...V128_LOAD, ...get(17), ...get(16), ...F32X4_MUL, ...F32X4_ADD, ...V128_STORE,
      ...col(5), ...col(5), ...V128_LOAD, ...get(17), ...F32X4_ADD, ...V128_STORE,
    ]),
    // gMean and gxMean in all lanes (reusing accG, accGX)
    ...laneSum(14), ...get(7), ...i32(2), 0x76, ...F32_CONVERT_I32_U, ...F32_DIV, ...F32X4_SPLAT, ...set(14),
    ...laneSum(15), ...get(7), ...i32(2), 0x76, ...F32_CONVERT_I32_U, ...F32_DIV, ...F32X4_SPLAT, ...set(15),
    ...forLoop(10, i32(0), get(7), 16, [
      ...xhat,
      ...at(3),
      ...at(2), ...V128_LOAD, ...col(1), ...V128_LOAD, ...F32X4_MUL,
      ...get(14), ...F32X4_SUB,
      ...get(16), ...get(15), ...F32X4_MUL, ...F32X4_SUB,
      ...get(13), ...F32X4_MUL,
      ...V128_STORE,
    ]),
  ]));
};

let registered = false;

/** Registers the two kernels on the wasm backend (once per process; the backend must be initialised). */
export function registerLayerNormKernels(): void {
  if (registered) return;
  registered = true;
  /** The SIMD modules for one ε (a constant in their code), compiled on first use. */
  const modules = new Map<number, { forward: HeapFunction; backward: HeapFunction }>();
  const simd = (eps: number) => {
    let m = modules.get(eps);
    if (!m) {
      m = {
        forward: heapFunction(forwardModule(eps), 'ln'),
        backward: heapFunction(backwardModule(eps), 'lnGrad'),
      };
      modules.set(eps, m);
    }
    return m;
  };
  // Rows whose width is a multiple of 4 run in SIMD, others in TypeScript.
  registerHeapKernel(
    LAYER_NORM,
    ['x', 'w', 'b'],
    ([x]) => [x!],
    ([x, w, b], [y], _, attrs) => {
      const eps = attrs.eps as number;
      if (w!.length % 4 !== 0) return layerNormForward(x!, w!, b!, y!, eps);
      simd(eps).forward(
        x!.byteOffset,
        w!.byteOffset,
        b!.byteOffset,
        y!.byteOffset,
        x!.length / w!.length,
        4 * w!.length,
      );
    },
  );
  registerHeapKernel(
    LAYER_NORM_GRAD,
    ['x', 'w', 'dy'],
    ([x, w]) => [x!, w!, w!],
    ([x, w, dy], [dx, dw, db], _, attrs) => {
      const eps = attrs.eps as number;
      if (w!.length % 4 !== 0) return layerNormBackward(x!, w!, dy!, dx!, dw!, db!, eps);
      dw!.fill(0);
      db!.fill(0);
      const d = w!.length;
      simd(eps).backward(
        x!.byteOffset,
        w!.byteOffset,
        dy!.byteOffset,
        dx!.byteOffset,
        dw!.byteOffset,
        db!.byteOffset,
        x!.length / d,
        4 * d,
      );
    },
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
