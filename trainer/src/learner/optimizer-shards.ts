/**
 * The optimiser step of a data-parallel learner, sharded between its replicas (ZeRO stage 1,
 * Rajbhandari et al. 2020): each weight tensor has one owner replica, which sums that tensor's
 * gradient over the replicas, keeps its Adam moments and takes its Adam step; the others read the
 * updated weights. Gradients and weights travel through shared memory, allocated once, so a step
 * copies each tensor into it and out of it and clones nothing.
 *
 * Sharding by whole tensors keeps every float of the unsharded step: Adam works per element, the
 * owner adds the replicas' gradients in replica order, and the gradient norm adds the per-tensor
 * sums of squares in weight order, as one learner does.
 *
 * In worker threads the replicas take the step's four parts in one call each, meeting at a barrier
 * in the same shared memory (`awaitReplicas`) rather than going back to the calling thread between
 * parts: four message round trips a step become one.
 */
import { ToolGymError } from '@toolgym/protocol';

/** One replica's view of the shared memory (its `replica` index, the rest the same for all). */
export interface OptimizerShards {
  replica: number;
  replicas: number;
  /** The weights in the learner's variable order; `owners[k]` takes the step of `names[k]`. */
  names: string[];
  owners: number[];
  /** `gradients[r][k]`: replica r's accumulated gradient of weight k. */
  gradients: Float32Array[][];
  /** `present[r · names.length + k]`: 1 when replica r has a gradient of weight k. */
  present: Uint8Array;
  /** Each weight's summed gradient's sum of squares, written by its owner. */
  sumSquares: Float32Array;
  /** Each weight after the step, written by its owner. */
  weights: Float32Array[];
  /** The replicas' barrier (`awaitReplicas`): replicas arrived, generation, aborted (1). */
  barrier: Int32Array;
}

const ARRIVED = 0;
const GENERATION = 1;
const ABORTED = 2;

/**
 * Blocks this replica's thread until every replica has called it (a generation-counting barrier:
 * the last to arrive starts the next generation and wakes the others). Throws once a replica or the
 * calling thread has aborted the step (`abortReplicas`), so no replica waits for one that failed.
 */
export function awaitReplicas(shards: Pick<OptimizerShards, 'barrier' | 'replicas'>): void {
  const b = shards.barrier;
  const generation = Atomics.load(b, GENERATION);
  if (Atomics.load(b, ABORTED)) throw replicaFailed();
  if (Atomics.add(b, ARRIVED, 1) === shards.replicas - 1) {
    Atomics.store(b, ARRIVED, 0);
    Atomics.add(b, GENERATION, 1);
    Atomics.notify(b, GENERATION);
    return;
  }
  while (Atomics.load(b, GENERATION) === generation) Atomics.wait(b, GENERATION, generation);
  // An abort also moves the generation on, to wake the waiting: it must not read as the barrier opening.
  if (Atomics.load(b, ABORTED)) throw replicaFailed();
}

/** Fails every replica's current and later `awaitReplicas` (a replica failed mid-step, or died). */
export function abortReplicas(shards: Pick<OptimizerShards, 'barrier'>): void {
  Atomics.store(shards.barrier, ABORTED, 1);
  Atomics.add(shards.barrier, GENERATION, 1);
  Atomics.notify(shards.barrier, GENERATION);
}

function replicaFailed(): ToolGymError {
  return new ToolGymError(
    'learner_replica_failed',
    'a data-parallel learner replica failed during a sharded optimiser step; the replicas no longer agree',
    'see the first error the learner reported; make a new learner (or load a checkpoint) to go on',
  );
}

/**
 * Owners balanced by element count, deterministically: the largest tensor first (ties in weight
 * order) goes to the replica holding the fewest elements so far (ties to the lower index).
 */
export function assignOwners(sizes: number[], replicas: number): number[] {
  const order = sizes.map((_, k) => k).sort((a, b) => sizes[b]! - sizes[a]! || a - b);
  const load = new Array<number>(replicas).fill(0);
  const owners = new Array<number>(sizes.length);
  for (const k of order) {
    const r = load.indexOf(Math.min(...load));
    owners[k] = r;
    load[r]! += sizes[k]!;
  }
  return owners;
}

/**
 * The shared memory for `replicas` replicas of a model with these weight shapes (in variable
 * order): per tensor one SharedArrayBuffer holding every replica's gradient and the updated weight.
 */
export function allocateOptimizerShards(
  shapes: Record<string, number[]>,
  replicas: number,
): Omit<OptimizerShards, 'replica'> {
  const names = Object.keys(shapes);
  const sizes = names.map((name) => shapes[name]!.reduce((a, b) => a * b, 1));
  const gradients: Float32Array[][] = Array.from({ length: replicas }, () => []);
  const weights: Float32Array[] = [];
  for (const size of sizes) {
    const buffer = new SharedArrayBuffer((replicas + 1) * size * Float32Array.BYTES_PER_ELEMENT);
    const view = (slot: number) =>
      new Float32Array(buffer, slot * size * Float32Array.BYTES_PER_ELEMENT, size);
    for (let r = 0; r < replicas; r++) gradients[r]!.push(view(r));
    weights.push(view(replicas));
  }
  return {
    replicas,
    names,
    owners: assignOwners(sizes, replicas),
    gradients,
    present: new Uint8Array(new SharedArrayBuffer(replicas * names.length)),
    sumSquares: new Float32Array(new SharedArrayBuffer(names.length * Float32Array.BYTES_PER_ELEMENT)),
    weights,
    barrier: new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT)),
  };
}
