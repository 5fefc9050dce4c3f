/**
 * The wasm backend's own memory, for the learner's kernels: a tensor's float32 values as a view
 * on the module's heap (no copy in or out), and outputs allocated where tfjs expects them.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's `BackendWasm` the kernels use (not in its public types). */
export interface WasmBackendInternals {
  wasm: { asm: { memory: WebAssembly.Memory } };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** The wasm backend's internals, or null before the backend is initialised. */
function wasmBackend(): WasmBackendInternals | null {
  return tf.findBackend('wasm') as unknown as WasmBackendInternals | null;
}

/** Bytes the wasm backend's memory holds now (0 when the backend is not initialised). */
export function wasmHeapBytes(): number {
  return wasmBackend()?.wasm.asm.memory.buffer.byteLength ?? 0;
}

/** A kernel of a module written with `wasm-assembler.ts`: i32 arguments (byte offsets, sizes), no result. */
export type HeapFunction = (...args: number[]) => void;

/**
 * Function `name` of the module `bytes`, instantiated over the wasm backend's memory (which it
 * imports as `env.memory`), so it reads and writes tensors where they are. The backend must be
 * initialised.
 */
export function heapFunction(bytes: Uint8Array<ArrayBuffer>, name: string): HeapFunction {
  const backend = wasmBackend();
  if (!backend) throw new Error('internal: the wasm backend is not initialised');
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { memory: backend.wasm.asm.memory },
  });
  return instance.exports[name] as HeapFunction;
}

/**
 * `t`'s values as a Float32Array on the heap. Take views after every `makeOutput` of the call: an
 * allocation may grow the memory, which detaches older views.
 */
export function heapView(backend: WasmBackendInternals, t: tf.TensorInfo): Float32Array {
  const size = t.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(backend.wasm.asm.memory.buffer, backend.dataIdMap.get(t.dataId).memoryOffset, size);
}

/**
 * Registers a wasm kernel written in TypeScript over heap views: `compute` gets the inputs' views
 * (in `inputs` order), the outputs' views, allocated float32 with the given shapes, and the call's attributes.
 */
export function registerHeapKernel(
  kernelName: string,
  inputs: readonly string[],
  outputShapes: (shapes: number[][]) => number[][],
  compute: (ins: Float32Array[], outs: Float32Array[], shapes: number[][], attrs: tf.NamedAttrMap) => void,
): void {
  tf.registerKernel({
    kernelName,
    backendName: 'wasm',
    kernelFunc: ({ inputs: given, backend, attrs }) => {
      const wasm = backend as unknown as WasmBackendInternals;
      const infos = inputs.map((name) => given[name] as tf.TensorInfo);
      const shapes = infos.map((t) => t.shape);
      const outs = outputShapes(shapes).map((shape) => wasm.makeOutput(shape, 'float32'));
      compute(
        infos.map((t) => heapView(wasm, t)),
        outs.map((t) => heapView(wasm, t)),
        shapes,
        attrs ?? {},
      );
      return outs.length === 1 ? outs[0]! : outs;
    },
  });
}
