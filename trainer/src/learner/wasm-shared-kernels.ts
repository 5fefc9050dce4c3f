/**
 * tfjs-backend-wasm copies a tensor's data for `Identity` and for a `Cast` to the dtype it already
 * has. The gradient tape clones every tensor it saves for the backward pass (an Identity each), and
 * tfjs-core's gradients cast float32 tensors to float32, so a training step copied most of its
 * activations once more for nothing. Tensors are immutable and the wasm backend counts references to
 * their data (as `Reshape` already does), so these two kernels share the data instead; the cpu
 * backend's Identity does the same.
 */
import * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

let registered = false;

/** Replaces the wasm backend's Identity and same-dtype Cast with reference-sharing versions (once per process). */
export function registerSharedDataKernels(): void {
  if (registered) return;
  registered = true;
  const cast = tf.getKernel('Cast', 'wasm');
  if (!cast) throw new Error("internal: the wasm backend has no 'Cast' kernel to wrap");
  const share = (x: tf.TensorInfo, backend: RefCountingBackend): tf.TensorInfo => {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) =>
      share(inputs.x as tf.TensorInfo, backend as unknown as RefCountingBackend),
  });
  tf.unregisterKernel('Cast', 'wasm');
  tf.registerKernel({
    kernelName: 'Cast',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      return args.attrs?.dtype === x.dtype
        ? share(x, args.backend as unknown as RefCountingBackend)
        : cast.kernelFunc(args);
    },
  });
}
