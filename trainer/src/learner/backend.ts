/**
 * TensorFlow.js setup for the learner: gradients registered (tfjs-core alone ships none), and the
 * wasm backend loading its .wasm files from node_modules — nothing is fetched at run time.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export type TfBackend = 'wasm' | 'cpu';

let wasmPathsSet = false;

/** Selects and initialises a backend (idempotent). Returns the name now active. */
export async function useBackend(name: TfBackend): Promise<TfBackend> {
  if (name === 'wasm' && !wasmPathsSet) {
    const require = createRequire(import.meta.url);
    // The package's main entry lives in dist/, beside the three .wasm builds (plain, simd, threaded-simd).
    setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`);
    wasmPathsSet = true;
  }
  // Not tf.getBackend(): it would initialise the highest-priority registered backend (wasm) first.
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TensorFlow.js backend '${name}' failed to initialise`);
  await tf.ready();
  return name;
}
