/**
 * Batched matrix products for the wasm backend, in WebAssembly SIMD. tfjs-backend-wasm sends a
 * product to XNNPACK only when neither side has a batch dimension; attention's per-head products
 * ([B·H, T, hd] × [B·H, hd, T] and back) fall to its scalar fallback loop, which made them a third
 * of a training step on the main job's model. This kernel works on the backend's own memory (its
 * module imports tfjs' wasm memory): no copies in or out.
 *
 * C[b] = A[b] · B[b] for row-major A [batch, m, k], B [batch, k, n], C [batch, m, n] (float32):
 * for each row i of A and each k, C[i, :] += A[i, k] · B[k, :], four columns at a time (f32x4), the
 * n mod 4 last ones one by one. The module's bytes are written here, opcode by opcode (WebAssembly
 * core spec, binary format, with `wasm-assembler.ts`), so nothing needs a compiler.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ADD,
  AND,
  EQ,
  F32_ADD,
  F32_LOAD,
  F32_MUL,
  F32_STORE,
  F32_ZERO,
  F32X4_ADD,
  F32X4_MUL,
  F32X4_SPLAT,
  forLoop,
  get,
  i32,
  LT_U,
  MUL,
  moduleBytes,
  SELECT,
  SHL,
  set,
  V128_LOAD,
  V128_STORE,
} from './wasm-assembler.ts';
import { heapFunction, type WasmBackendInternals } from './wasm-memory.ts';

/** The kernel's name in tfjs' registry (wasm backend). */
export const SIMD_BATCH_MATMUL = 'ToolgymSimdBatchMatMul';

/**
 * Which terms of a product are not known to be zero, for attention's causal T×T matrices (query i
 * sees keys 0..i): the kernel skips the rest, so no work goes to the masked half. `full`: all;
 * `outLower`: only C[i, j] for j ≤ i (the rest of C is 0); `aLower`: A[i, kk] for kk ≤ i;
 * `aUpper`: A[i, kk] for kk ≥ i; `bLower`: B[kk, j] for j ≤ kk.
 */
export const PRODUCT_MODES = { full: 0, outLower: 1, aLower: 2, aUpper: 3, bLower: 4 } as const;
export type ProductMode = keyof typeof PRODUCT_MODES;

// Parameters: byte offsets of A, B, C, then batch, m, k, n, and the mode.
const [A, B, C, BATCH, M, K, N, MODE] = [0, 1, 2, 3, 4, 5, 6, 7];
// i32 locals.
const [BI, I, KK, J, C_ROW, A_PTR, B_ROW, N4_BYTES, ROW_BYTES, B_BASE, P, A_ROW, K_START, K_END, NE_BYTES] = [
  8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
];
// f32 and v128 locals.
const [AV, AVEC] = [23, 24];

/** `cond ? a : b` of two i32 sequences. */
const choose = (cond: number[], a: number[], b: number[]) => [...a, ...b, ...cond, ...SELECT];
/** The unsigned minimum of two i32 sequences. */
const min = (a: number[], b: number[]) => choose([...a, ...b, ...LT_U], a, b);
const modeIs = (mode: ProductMode) => [...get(MODE), ...i32(PRODUCT_MODES[mode]), ...EQ];
const plusOne = (local: number) => [...get(local), ...i32(1), ...ADD];

/** C[bi, i, j] += av · B[bi, kk, j] over j < NE, four at a time, then the rest. */
// biome-ignore format: instruction sequences, laid out as the loops they encode
const axpyRow = [
  ...forLoop(J, i32(0), get(N4_BYTES), 16, [
    ...get(C_ROW), ...get(J), ...ADD, ...set(P),
    ...get(P),
    ...get(P), ...V128_LOAD,
    ...get(AVEC), ...get(B_ROW), ...get(J), ...ADD, ...V128_LOAD, ...F32X4_MUL,
    ...F32X4_ADD,
    ...V128_STORE,
  ]),
  ...forLoop(J, get(N4_BYTES), get(NE_BYTES), 4, [
    ...get(C_ROW), ...get(J), ...ADD, ...set(P),
    ...get(P),
    ...get(P), ...F32_LOAD,
    ...get(AV), ...get(B_ROW), ...get(J), ...ADD, ...F32_LOAD, ...F32_MUL,
    ...F32_ADD,
    ...F32_STORE,
  ]),
];

// biome-ignore format: instruction sequences, laid out as the loops they encode
const body = [
  ...get(N), ...i32(2), ...SHL, ...set(ROW_BYTES),
  ...get(A), ...set(A_ROW),
  ...get(C), ...set(C_ROW),
  ...get(B), ...set(B_BASE),
  ...forLoop(BI, i32(0), get(BATCH), 1, [
    ...forLoop(I, i32(0), get(M), 1, [
      ...forLoop(J, i32(0), get(ROW_BYTES), 4, [...get(C_ROW), ...get(J), ...ADD, ...F32_ZERO, ...F32_STORE]),
      ...choose(modeIs('aUpper'), get(I), i32(0)), ...set(K_START),
      ...choose(modeIs('aLower'), min(plusOne(I), get(K)), get(K)), ...set(K_END),
      ...get(A_ROW), ...get(K_START), ...i32(2), ...SHL, ...ADD, ...set(A_PTR),
      ...get(B_BASE), ...get(K_START), ...get(ROW_BYTES), ...MUL, ...ADD, ...set(B_ROW),
      ...forLoop(KK, get(K_START), get(K_END), 1, [
        ...get(A_PTR), ...F32_LOAD, ...set(AV),
        ...get(A_PTR), ...i32(4), ...ADD, ...set(A_PTR),
        ...get(AV), ...F32X4_SPLAT, ...set(AVEC),
        // The row's columns in use: i + 1 (outLower), kk + 1 (bLower) or all n.
        ...choose(modeIs('outLower'), min(plusOne(I), get(N)), choose(modeIs('bLower'), min(plusOne(KK), get(N)), get(N))),
        ...i32(2), ...SHL, ...set(NE_BYTES),
        ...get(NE_BYTES), ...i32(-16), ...AND, ...set(N4_BYTES),
        ...axpyRow,
        ...get(B_ROW), ...get(ROW_BYTES), ...ADD, ...set(B_ROW),
      ]),
      ...get(C_ROW), ...get(ROW_BYTES), ...ADD, ...set(C_ROW),
      ...get(A_ROW), ...get(K), ...i32(2), ...SHL, ...ADD, ...set(A_ROW),
    ]),
    ...get(B_BASE), ...get(K), ...get(ROW_BYTES), ...MUL, ...ADD, ...set(B_BASE),
  ]),
];

const MODULE_BYTES = moduleBytes('bmm', 8, { i32: 15, f32: 1, v128: 1 }, body);

let registered = false;

/** Registers `SIMD_BATCH_MATMUL` on the wasm backend (once per process; the backend must be initialised). */
export function registerSimdBatchMatMul(): void {
  if (registered) return;
  const bmm = heapFunction(MODULE_BYTES, 'bmm');
  registered = true;
  tf.registerKernel({
    kernelName: SIMD_BATCH_MATMUL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend: kernelBackend }) => {
      const wasm = kernelBackend as unknown as WasmBackendInternals;
      const a = inputs.a as tf.TensorInfo;
      const b = inputs.b as tf.TensorInfo;
      const mode = PRODUCT_MODES[(attrs?.mode as ProductMode | undefined) ?? 'full'];
      const [batch, m, k] = a.shape as [number, number, number];
      const n = b.shape[2]!;
      if (b.shape[0] !== batch || b.shape[1] !== k)
        throw new Error(`internal: batch matmul of [${a.shape}] × [${b.shape}]`);
      const out = wasm.makeOutput([batch, m, n], 'float32');
      const offset = (t: tf.TensorInfo) => wasm.dataIdMap.get(t.dataId).memoryOffset;
      bmm(offset(a), offset(b), offset(out), batch, m, k, n, mode);
      return out;
    },
  });
}

/**
 * a · b over the leading (batch) axes, on the SIMD kernel; both float32 with equal batch axes. A
 * `mode` other than `full` needs square T×T operands where it names them (see `PRODUCT_MODES`).
 */
export function simdBatchMatMul<T extends tf.Tensor>(a: T, b: tf.Tensor, mode: ProductMode = 'full'): T {
  const batchShape = a.shape.slice(0, -2);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.rank - 1]!;
  const batch = batchShape.reduce((x, y) => x * y, 1);
  return tf.tidy(() => {
    const product = tf
      .engine()
      .runKernel(
        SIMD_BATCH_MATMUL,
        { a: tf.reshape(a, [batch, m, k]), b: tf.reshape(b, [batch, k, n]) },
        { mode },
      ) as tf.Tensor;
    return tf.reshape(product, [...batchShape, m, n]) as T;
  });
}
