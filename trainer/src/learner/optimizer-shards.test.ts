import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decoderWeightShapes } from '@toolgym/agents/decoder-config';
import { describe, expect, it } from 'vitest';
import { abortReplicas, allocateOptimizerShards, assignOwners, awaitReplicas } from './optimizer-shards.ts';
import { TEST_DECODER } from './test-decoder.ts';

describe('optimiser shards', () => {
  it('give each weight one owner, balanced by element count, the same on every call', () => {
    const shapes = decoderWeightShapes(TEST_DECODER);
    const sizes = Object.values(shapes).map((s) => s.reduce((a, b) => a * b, 1));
    for (const replicas of [2, 3]) {
      const owners = assignOwners(sizes, replicas);
      expect(owners).toEqual(assignOwners(sizes, replicas));
      const load = Array.from({ length: replicas }, (_, r) =>
        sizes.reduce((sum, size, k) => sum + (owners[k] === r ? size : 0), 0),
      );
      expect(load.reduce((a, b) => a + b, 0)).toBe(sizes.reduce((a, b) => a + b, 0));
      // greedy largest-first: no replica holds more than the lightest one plus the largest tensor
      expect(Math.max(...load) - Math.min(...load)).toBeLessThanOrEqual(Math.max(...sizes));
      expect(Math.min(...load)).toBeGreaterThan(0);
    }
    // ties go to the lower replica, the larger tensor first
    expect(assignOwners([4, 8, 4, 4], 2)).toEqual([1, 0, 1, 0]);
  });

  it('lay every replica’s gradient and the new weight of a tensor side by side in one shared buffer', () => {
    const shards = allocateOptimizerShards({ a: [2, 3], b: [5] }, 2);
    expect(shards.names).toEqual(['a', 'b']);
    const [a0, a1] = [shards.gradients[0]![0]!, shards.gradients[1]![0]!];
    expect([a0.length, a1.length, shards.weights[0]!.length, shards.gradients[0]![1]!.length]).toEqual([
      6, 6, 6, 5,
    ]);
    expect(a0.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a1.buffer).toBe(a0.buffer);
    a0.fill(1);
    a1.fill(2);
    shards.weights[0]!.fill(3);
    expect([...a0, ...a1, ...shards.weights[0]!]).toEqual([
      ...Array(6).fill(1),
      ...Array(6).fill(2),
      ...Array(6).fill(3),
    ]);
  });

  it('meet at a barrier that the last replica opens, and that fails every wait once aborted', () => {
    const shapes = decoderWeightShapes(TEST_DECODER);
    const alone = allocateOptimizerShards(shapes, 1);
    awaitReplicas(alone); // the only replica is the last to arrive: it opens the barrier
    awaitReplicas(alone);
    expect([...alone.barrier]).toEqual([0, 2, 0]); // no one waiting, two generations, not aborted
    const pair = allocateOptimizerShards(shapes, 2);
    abortReplicas(pair); // as when a replica fails mid-step or its worker dies
    // with the other replica never arriving, a wait would block for ever: it throws instead
    expect(() => awaitReplicas(pair)).toThrow(expect.objectContaining({ code: 'learner_replica_failed' }));
    expect(() => awaitReplicas(pair)).toThrow(expect.objectContaining({ code: 'learner_replica_failed' }));
  });

  it('wake a replica already waiting at the barrier with the failure, not as if it had opened', async () => {
    const pair = allocateOptimizerShards(decoderWeightShapes(TEST_DECODER), 2);
    // replica 0 in a thread of its own, as in a worker learner; replica 1 never arrives
    const replica = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        (await import(workerData.tsx)).register();
        const { awaitReplicas } = await import(workerData.shards);
        try {
          awaitReplicas({ barrier: workerData.barrier, replicas: 2 });
          parentPort.postMessage('opened');
        } catch (e) {
          parentPort.postMessage(e.code);
        }
      })();`,
      {
        eval: true,
        workerData: {
          // the package's ESM entry: its CommonJS one cannot register from an eval'd thread
          tsx: pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(
            /\.cjs$/,
            '.mjs',
          ),
          shards: new URL('./optimizer-shards.ts', import.meta.url).href,
          barrier: pair.barrier,
        },
      },
    );
    try {
      const outcome = new Promise((resolve) => replica.once('message', resolve));
      while (Atomics.load(pair.barrier, 0) === 0) await sleep(5); // it has arrived: it waits
      abortReplicas(pair);
      expect(await outcome).toBe('learner_replica_failed');
    } finally {
      await replica.terminate();
    }
  });
});
