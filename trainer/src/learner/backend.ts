/**
 * TensorFlow.js setup for the learner: gradients registered, and the wasm backend loading its
 * .wasm files from node_modules — nothing is fetched at run time.
 *
 * Why the gradient bundle: tfjs-core's Node (CommonJS) build registers no gradients, and its ESM
 * `register_all_gradients.js` cannot be imported by Node directly (extensionless and directory
 * imports). So it is bundled once with esbuild into trainer/data/generated/ and loaded from there.
 * The bundle's ops share the one engine and gradient registry (tfjs keeps them on globalThis).
 */
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerAdamKernel } from './adam-kernel.ts';
import { registerCausalSoftmaxKernels } from './causal-softmax-kernel.ts';
import { registerGatherRowsKernel } from './gather-rows-kernel.ts';
import { registerGeluKernels } from './gelu-kernel.ts';
import { registerLayerNormKernels } from './layer-norm-kernel.ts';
import { registerRopeKernels } from './rope-kernel.ts';
import { registerSimdBatchMatMul } from './simd-batch-matmul.ts';
import { guardWasmHeap } from './wasm-heap-guard.ts';
import { registerSharedDataKernels } from './wasm-shared-kernels.ts';

export type TfBackend = 'wasm' | 'cpu';

const require = createRequire(import.meta.url);
const generatedDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/generated');
let gradientsReady: Promise<void> | undefined;
let wasmPathsSet = false;

/** Registers every tfjs-core gradient once per process (builds the bundle on first use). */
export function registerGradients(): Promise<void> {
  gradientsReady ??= (async () => {
    if (tf.getGradient('RealDiv')) return; // already registered (e.g. an ESM loader ran them)
    const bundle = path.join(generatedDir, 'tfjs-gradients-4.22.0.cjs');
    if (!existsSync(bundle)) {
      const { build } = await import('esbuild');
      const entry = path.join(
        path.dirname(require.resolve('@tensorflow/tfjs-core/package.json')),
        'dist/register_all_gradients.js',
      );
      await mkdir(generatedDir, { recursive: true });
      const temp = `${bundle}.${process.pid}.tmp`;
      await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        outfile: temp,
        logLevel: 'error',
        external: ['long', 'seedrandom', '@types/*'],
      });
      await rename(temp, bundle);
    }
    require(bundle);
  })();
  return gradientsReady;
}

/** Selects and initialises a backend. Returns the name now active. */
export async function useBackend(name: TfBackend): Promise<TfBackend> {
  await registerGradients();
  if (name === 'wasm' && !wasmPathsSet) {
    // The package's main entry lives in dist/, beside the three .wasm builds (plain, simd, threaded-simd).
    setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`);
    wasmPathsSet = true;
  }
  // Not tf.getBackend(): it would initialise the highest-priority registered backend (wasm) first.
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TensorFlow.js backend '${name}' failed to initialise`);
  await tf.ready();
  if (name === 'wasm') {
    guardWasmHeap();
    registerSharedDataKernels();
    registerSimdBatchMatMul();
    registerGeluKernels();
    registerGatherRowsKernel();
    registerCausalSoftmaxKernels();
    registerLayerNormKernels();
    registerAdamKernel();
    registerRopeKernels();
  }
  return name;
}
