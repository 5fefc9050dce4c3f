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
 * core spec, binary format), so nothing needs a compiler.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackendInternals } from './wasm-memory.ts';

/** The kernel's name in tfjs' registry (wasm backend). */
export const SIMD_BATCH_MATMUL = 'ToolgymSimdBatchMatMul';

const unsignedLeb = (value: number): number[] => {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
};
const signedLeb = (value: number): number[] => {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};
const section = (id: number, bytes: number[]) => [id, ...unsignedLeb(bytes.length), ...bytes];
const name = (s: string) => [...unsignedLeb(s.length), ...Buffer.from(s, 'utf8')];

// Instructions (WebAssembly binary format).
const get = (l: number) => [0x20, l];
const set = (l: number) => [0x21, l];
const i32 = (v: number) => [0x41, ...signedLeb(v)];
const ADD = [0x6a];
const MUL = [0x6c];
const AND = [0x71];
const SHL = [0x74];
const LT_U = [0x49];
const GE_U = [0x4f];
const F32_LOAD = [0x2a, 0x02, 0x00];
const F32_STORE = [0x38, 0x02, 0x00];
const F32_ADD = [0x92];
const F32_MUL = [0x94];
const F32_ZERO = [0x43, 0, 0, 0, 0];
const V128_LOAD = [0xfd, 0x00, 0x00, 0x00];
const V128_STORE = [0xfd, 0x0b, 0x00, 0x00];
const F32X4_SPLAT = [0xfd, 0x13];
const F32X4_ADD = [0xfd, 0xe4, 0x01];
const F32X4_MUL = [0xfd, 0xe6, 0x01];
const END = [0x0b];

/** `for (counter = start; counter < limit; counter += step) body` (unsigned; skipped when start ≥ limit). */
// biome-ignore format: instruction sequences, laid out as the loops they encode
function forLoop(counter: number, start: number[], limit: number[], step: number, body: number[]): number[] {
  return [
    ...start,
    ...set(counter),
    0x02, 0x40, // block
    ...get(counter), ...limit, ...GE_U, 0x0d, 0, // br_if out
    0x03, 0x40, // loop
    ...body,
    ...get(counter), ...i32(step), ...ADD, ...set(counter),
    ...get(counter), ...limit, ...LT_U, 0x0d, 0, // br_if loop
    ...END,
    ...END,
  ];
}

// Parameters: byte offsets of A, B, C, then batch, m, k, n.
const [A, B, C, BATCH, M, K, N] = [0, 1, 2, 3, 4, 5, 6];
// i32 locals.
const [BI, I, KK, J, C_ROW, A_PTR, B_ROW, N4_BYTES, ROW_BYTES, B_BASE, P] = [
  7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
];
// f32 and v128 locals.
const [AV, AVEC] = [18, 19];

/** C[bi, i, j] += av · B[bi, kk, j] over j, four at a time, then the rest. */
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
  ...forLoop(J, get(N4_BYTES), get(ROW_BYTES), 4, [
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
  // locals: 11 × i32, 1 × f32, 1 × v128
  ...unsignedLeb(3), 11, 0x7f, 1, 0x7d, 1, 0x7b,
  ...get(N), ...i32(2), ...SHL, ...set(ROW_BYTES),
  ...get(N), ...i32(-4), ...AND, ...i32(2), ...SHL, ...set(N4_BYTES),
  ...get(A), ...set(A_PTR),
  ...get(C), ...set(C_ROW),
  ...get(B), ...set(B_BASE),
  ...forLoop(BI, i32(0), get(BATCH), 1, [
    ...forLoop(I, i32(0), get(M), 1, [
      ...forLoop(J, i32(0), get(ROW_BYTES), 4, [...get(C_ROW), ...get(J), ...ADD, ...F32_ZERO, ...F32_STORE]),
      ...get(B_BASE), ...set(B_ROW),
      ...forLoop(KK, i32(0), get(K), 1, [
        ...get(A_PTR), ...F32_LOAD, ...set(AV),
        ...get(A_PTR), ...i32(4), ...ADD, ...set(A_PTR),
        ...get(AV), ...F32X4_SPLAT, ...set(AVEC),
        ...axpyRow,
        ...get(B_ROW), ...get(ROW_BYTES), ...ADD, ...set(B_ROW),
      ]),
      ...get(C_ROW), ...get(ROW_BYTES), ...ADD, ...set(C_ROW),
    ]),
    ...get(B_BASE), ...get(K), ...get(ROW_BYTES), ...MUL, ...ADD, ...set(B_BASE),
  ]),
  ...END,
];

// biome-ignore format: instruction sequences, laid out as the loops they encode
const MODULE_BYTES = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // type: (i32 × 7) → ()
  ...section(1, [1, 0x60, 7, ...new Array(7).fill(0x7f), 0]),
  // import env.memory (min 1 page, no max)
  ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 1]),
  ...section(3, [1, 0]),
  ...section(7, [1, ...name('bmm'), 0x00, 0]),
  ...section(10, [1, ...unsignedLeb(body.length), ...body]),
]);

let registered = false;

/** Registers `SIMD_BATCH_MATMUL` on the wasm backend (once per process; the backend must be initialised). */
export function registerSimdBatchMatMul(): void {
  if (registered) return;
  const backend = tf.findBackend('wasm') as unknown as WasmBackendInternals | null;
  if (!backend) throw new Error('internal: the wasm backend is not initialised');
  const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE_BYTES), {
    env: { memory: backend.wasm.asm.memory },
  });
  const bmm = instance.exports.bmm as (...args: number[]) => void;
  registered = true;
  tf.registerKernel({
    kernelName: SIMD_BATCH_MATMUL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: kernelBackend }) => {
      const wasm = kernelBackend as unknown as WasmBackendInternals;
      const a = inputs.a as tf.TensorInfo;
      const b = inputs.b as tf.TensorInfo;
      const [batch, m, k] = a.shape as [number, number, number];
      const n = b.shape[2]!;
      if (b.shape[0] !== batch || b.shape[1] !== k)
        throw new Error(`internal: batch matmul of [${a.shape}] × [${b.shape}]`);
      const out = wasm.makeOutput([batch, m, n], 'float32');
      const offset = (t: tf.TensorInfo) => wasm.dataIdMap.get(t.dataId).memoryOffset;
      bmm(offset(a), offset(b), offset(out), batch, m, k, n);
      return out;
    },
  });
}

/** a · b over the leading (batch) axes, on the SIMD kernel; both float32 with equal batch axes. */
export function simdBatchMatMul<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  const batchShape = a.shape.slice(0, -2);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.rank - 1]!;
  const batch = batchShape.reduce((x, y) => x * y, 1);
  return tf.tidy(() => {
    const product = tf.engine().runKernel(SIMD_BATCH_MATMUL, {
      a: tf.reshape(a, [batch, m, k]),
      b: tf.reshape(b, [batch, k, n]),
    }) as tf.Tensor;
    return tf.reshape(product, [...batchShape, m, n]) as T;
  });
}
