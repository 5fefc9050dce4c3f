/**
 * tfjs-backend-wasm takes a tensor's memory from the module's `malloc` and never checks the result.
 * When the heap cannot grow (wasm32 stops at 4 GiB), `malloc` returns 0 and the backend records
 * the tensor at address 0: the next kernel writes over the module's own data, and the process
 * fails later and elsewhere ("null function or function signature mismatch", "memory access out
 * of bounds"). The guard makes that allocation throw a `LearnerMemoryError` at once, before
 * anything is written. Allocations inside the module's C++ (XNNPACK's workspaces) are not seen.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ToolGymError } from '@toolgym/protocol';

/** The wasm heap could not hold a tensor the learner needed. */
export class LearnerMemoryError extends ToolGymError {
  constructor(bytes: number, heapBytes: number) {
    super(
      'learner_out_of_memory',
      `the wasm learner could not allocate ${bytes} bytes (its heap holds ${heapBytes} bytes, at most 4 GiB)`,
      'train shorter sequences (policy.model.maxPositions) or fewer at once (learner.microBatchSize)',
    );
  }
}

interface WasmModule {
  asm: { malloc(bytes: number): number };
  _malloc(bytes: number): number;
  HEAPU8: Uint8Array;
}

let guarded = false;

/** Makes the wasm backend's tensor allocations throw when the heap is full (once per process). */
export function guardWasmHeap(): void {
  if (guarded) return;
  const backend = tf.findBackend('wasm') as unknown as { wasm: WasmModule } | null;
  if (!backend) throw new Error('internal: the wasm backend is not initialised');
  const module = backend.wasm;
  // The module's own `malloc` export: emscripten's `_malloc` wrapper replaces itself with it on first use.
  const malloc = module.asm.malloc;
  module._malloc = (bytes: number) => {
    const at = malloc(bytes);
    if (at === 0 && bytes > 0) throw new LearnerMemoryError(bytes, module.HEAPU8.length);
    return at;
  };
  guarded = true;
}
