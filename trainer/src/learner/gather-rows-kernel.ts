/**
 * Rows of a table by index (the token embedding's lookup) on the wasm backend, each row one
 * `copyWithin` on the heap: tfjs-backend-wasm's GatherV2 walks every value through its general
 * strided loop, 10 ms of CPU for the main job's 6,144 lookups of 64 values.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackendInternals } from './wasm-memory.ts';

const GATHER_ROWS = 'ToolgymGatherRows';

let registered = false;

/** Registers the kernel on the wasm backend (once per process). */
export function registerGatherRowsKernel(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: GATHER_ROWS,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const wasm = backend as unknown as WasmBackendInternals;
      const table = inputs.table as tf.TensorInfo;
      const ids = inputs.ids as tf.TensorInfo;
      const [rows, d] = table.shape as [number, number];
      const n = ids.shape[0]!;
      const indices = () =>
        new Int32Array(wasm.wasm.asm.memory.buffer, wasm.dataIdMap.get(ids.dataId).memoryOffset, n);
      // A loop, not `find` with a callback: a closure made per call loses its optimised code at
      // each full collection (`pad` in embedded-learner.ts).
      for (const id of indices())
        if (!(id >= 0 && id < rows))
          throw new RangeError(`gatherRows: index ${id} outside the table's ${rows} rows`);
      const out = wasm.makeOutput([n, d], 'float32');
      // Views after makeOutput: an allocation may grow the memory and detach older views.
      const heap = new Float32Array(wasm.wasm.asm.memory.buffer);
      const idx = indices();
      const from = wasm.dataIdMap.get(table.dataId).memoryOffset / 4;
      const to = wasm.dataIdMap.get(out.dataId).memoryOffset / 4;
      for (let r = 0; r < n; r++) heap.copyWithin(to + r * d, from + idx[r]! * d, from + (idx[r]! + 1) * d);
      return out;
    },
  });
}

/** Rows `ids` (int32 [n]) of float32 `table` [rows, d]: one copy per row on wasm, tf.gather elsewhere. */
export function gatherRows(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  if (tf.getBackend() !== 'wasm') return tf.gather(table, ids) as tf.Tensor2D;
  return tf.engine().runKernel(GATHER_ROWS, { table, ids }) as tf.Tensor2D;
}
