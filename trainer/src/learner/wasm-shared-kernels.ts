/**
 * tfjs-backend-wasm copies a tensor's data for `Identity` and for a `Cast` to the dtype it already
 * has. The gradient tape clones every tensor it saves for the backward pass (an Identity each), and
 * tfjs-core's gradients cast float32 tensors to float32, so a training step copied most of its
 * activations once more for nothing. Tensors are immutable and the wasm backend counts references to
 * their data (as `Reshape` already does), so these two kernels share the data instead; the cpu
 * backend's Identity does the same.
 *
 * The tape's saves go further: `Engine.clone`, which saves a tensor for the backward pass (184 times
 * in a training step of the main job's model), makes the same shared tensor without running a
 * kernel, so without the kernel call's closures, arrays and scopes (JavaScript garbage that V8's
 * helper threads collect beside the learner's workers). It records the same tape node as tfjs's,
 * so a gradient of a gradient still flows through the copy.
 */
import * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/** The parts of tfjs-core's `Engine` that `Engine.clone` uses (not in its public types). */
interface EngineInternals {
  backendName: string;
  backend: RefCountingBackend;
  state: { activeScope: { name: string } };
  clone(x: tf.Tensor): tf.Tensor;
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  addTapeNode(
    kernelName: string,
    inputs: tf.NamedTensorMap,
    outputs: tf.Tensor[],
    gradient: (dy: tf.Tensor) => Record<string, () => tf.Tensor>,
    saved: tf.Tensor[],
    attrs: tf.NamedAttrMap,
  ): void;
}

/** The clone's gradient, as tfjs-core's `Engine.clone` records it: dy, as float32. */
const cloneGradient = (dy: tf.Tensor) => ({ x: () => tf.cast(dy, 'float32') });

let registered = false;

/**
 * Replaces the wasm backend's Identity and same-dtype Cast with reference-sharing versions, and the
 * engine's clone for the tape with one that runs no kernel on wasm (once per process).
 */
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
  const engine = tf.engine() as unknown as EngineInternals;
  const clone = engine.clone;
  engine.clone = function (this: EngineInternals, x: tf.Tensor): tf.Tensor {
    if (this.backendName !== 'wasm') return clone.call(this, x);
    this.backend.incRef(x.dataId);
    const y = this.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype });
    this.addTapeNode(this.state.activeScope.name, { x }, [y], cloneGradient, [], {});
    return y;
  };
}
