import { initDecoderWeights } from '@toolgym/agents';
import { describe, expect, it } from 'vitest';
import { createEmbeddedLearner, lossUnits } from './embedded-learner.ts';
import {
  type AdamParams,
  datumFromSequence,
  type ForwardBackwardOutput,
  LearnerInputError,
} from './learner.ts';
import { TEST_DECODER } from './test-decoder.ts';
import { createWorkerLearner, shardData } from './worker-learner.ts';

const decoder = TEST_DECODER;
const sequences = [
  [5, 100, 7, 262, 33, 9],
  [257, 97, 98, 99, 10],
  [257, 97, 98, 99, 10, 11, 12, 13, 14, 15, 16],
  [3, 4],
  [8, 9, 10, 11],
];
const data = sequences.map((tokens, i) =>
  datumFromSequence(
    tokens,
    tokens.map(() => 1),
    { advantages: tokens.map(() => (i % 2 === 0 ? 1 : -0.5)), logprobs: tokens.map(() => -5) },
  ),
);

function expectSameLogprobs(got: ForwardBackwardOutput, expected: ForwardBackwardOutput, digits: number) {
  expect(got.lossFnOutputs).toHaveLength(expected.lossFnOutputs.length);
  for (const [i, out] of got.lossFnOutputs.entries())
    for (const [j, lp] of out.logprobs.entries())
      expect(lp).toBeCloseTo(expected.lossFnOutputs[i]!.logprobs[j]!, digits);
}

describe('worker learner (the embedded learner in a worker thread)', () => {
  it('trains exactly as the in-process learner: same losses, logprobs, weights and optimiser state', async () => {
    const weights = initDecoderWeights(decoder, { seed: 5, std: 0.2 });
    const local = await createEmbeddedLearner({ decoder, weights });
    const remote = await createWorkerLearner({ decoder, weights });
    try {
      for (let step = 0; step < 2; step++) {
        const [a, b] = await Promise.all([
          local.forwardBackward(data, 'ppo', { clipHigh: 0.28 }),
          remote.forwardBackward(data, 'ppo', { clipHigh: 0.28 }),
        ]);
        expect(b.metrics).toEqual(a.metrics);
        expect(b.lossFnOutputs).toEqual(a.lossFnOutputs);
        const adam = { learningRate: 0.01 };
        expect((await remote.optimStep(adam)).metrics).toEqual((await local.optimStep(adam)).metrics);
      }
      const [stateA, stateB] = [await local.saveState(), await remote.saveState()];
      expect(stateB.step).toBe(2);
      for (const key of ['weights', 'adamM', 'adamV'] as const)
        for (const [name, values] of Object.entries(stateA[key])) expect(stateB[key][name]).toEqual(values);
      expect(stateB.weights['embed.tokens']).not.toEqual(weights['embed.tokens']); // it did train
    } finally {
      await local.close();
      await remote.close();
    }
  });

  it.each([1, 2])(
    'a bad call gets the learner’s own error naming the datum, and the workers keep serving (%i workers)',
    async (workers) => {
      const learner = await createWorkerLearner(
        { decoder, weights: initDecoderWeights(decoder, { seed: 1 }) },
        workers,
      );
      try {
        const batch = data.map((d) => structuredClone(d));
        batch[3]!.modelInput.tokens[0] = 999;
        const error = await learner.forwardBackward(batch, 'cross_entropy').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LearnerInputError);
        // its place in the batch, not in a worker's shard
        expect((error as Error).message).toMatch(
          /^data\[3\]: token id 999 is outside the vocabulary \[0, 263\)/,
        );
        await expect(learner.optimStep({ learningRate: 0.1 })).rejects.toThrow(/call forwardBackward first/);
        const ok = await learner.forward(data);
        expect(ok.lossFnOutputs.map((o) => o.logprobs.length)).toEqual(sequences.map((t) => t.length - 1));
      } finally {
        await learner.close();
      }
    },
  );

  it('a learner that cannot start fails creation with its reason; a closed one refuses calls', async () => {
    const weights = initDecoderWeights(decoder, { seed: 1 });
    await expect(
      createWorkerLearner({ decoder, weights: { ...weights, 'embed.tokens': new Float32Array(3) } }),
    ).rejects.toThrow(/embed\.tokens/);
    const learner = await createWorkerLearner({ decoder, weights });
    const answered = learner.forward([datumFromSequence([1, 2, 3], [1, 1, 1])]);
    await learner.close();
    expect((await answered).lossFnOutputs).toHaveLength(1); // asked before close: still answered
    await expect(learner.info()).rejects.toThrow(/closed/);
  });

  it('data-parallel over two workers: the same outputs, metrics and training as one learner', async () => {
    const weights = initDecoderWeights(decoder, { seed: 9, std: 0.2 });
    const local = await createEmbeddedLearner({ decoder, weights, microBatchSize: 2 });
    const parallel = await createWorkerLearner({ decoder, weights, microBatchSize: 2 }, 2);
    try {
      for (let step = 0; step < 3; step++) {
        const config = {
          clipHigh: 0.28,
          aggregation: step === 1 ? ('token-sum' as const) : ('token-mean' as const),
        };
        const a = await local.forwardBackward(data, 'ppo', config);
        const b = await parallel.forwardBackward(data, 'ppo', config);
        expectSameLogprobs(b, a, 5); // in input order, from whichever replica computed them
        for (const [name, v] of Object.entries(a.metrics)) expect(b.metrics[name], name).toBeCloseTo(v, 5);
        const adam = { learningRate: 0.02 };
        const [oa, ob] = [await local.optimStep(adam), await parallel.optimStep(adam)];
        expect(ob.metrics.grad_norm).toBeCloseTo(oa.metrics.grad_norm, 5);
      }
      // Both replicas took the same steps: every sequence (spread over both) scores as in one learner.
      const [a, b] = [
        await local.forward(data, 'cross_entropy'),
        await parallel.forward(data, 'cross_entropy'),
      ];
      expectSameLogprobs(b, a, 4);
      expect(b.metrics.loss).toBeCloseTo(a.metrics.loss!, 4);
    } finally {
      await local.close();
      await parallel.close();
    }
  });

  it('shards the optimiser step: the same bits of weights and Adam state as one learner stepping on the summed gradient', async () => {
    const weights = initDecoderWeights(decoder, { seed: 11, std: 0.2 });
    // One micro-batch per shard, so the reference adds the two shards' gradients once, as the owners do.
    const local = await createEmbeddedLearner({ decoder, weights });
    const parallel = await createWorkerLearner({ decoder, weights }, 2);
    const bytes = (a: Float32Array | undefined) =>
      a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : a;
    const expectSameState = async (when: string) => {
      const [a, b] = [await local.saveState(), await parallel.saveState()];
      expect(b.step, when).toBe(a.step);
      for (const key of ['weights', 'adamM', 'adamV'] as const) {
        expect(Object.keys(b[key]), `${when}: ${key}`).toEqual(Object.keys(a[key])); // gathered from both owners
        for (const [name, values] of Object.entries(a[key]))
          expect(bytes(b[key][name])!.equals(bytes(values)!), `${when}: ${key} ${name}`).toBe(true);
      }
      return a;
    };
    const step = async (aggregation: 'token-mean' | 'token-sum', adam: AdamParams) => {
      const config = { clipHigh: 0.28, aggregation };
      const shard = { batchUnits: lossUnits(data, aggregation), batchTokens: lossUnits(data, 'token-mean') };
      for (const s of shardData(data, 2)) await local.forwardBackward(s.data, 'ppo', config, shard);
      await parallel.forwardBackward(data, 'ppo', config);
      const [a, b] = [await local.optimStep(adam), await parallel.optimStep(adam)];
      expect(b.metrics).toEqual(a.metrics); // the gradient norm to the bit
      return a.metrics;
    };
    try {
      await step('token-mean', { learningRate: 0.02 });
      // a step clipped by the global norm, with weight decay
      expect(
        (await step('token-sum', { learningRate: 0.01, gradClipNorm: 0.05, weightDecay: 0.1 })).clipped,
      ).toBe(1);
      const saved = await expectSameState('after two steps');
      await Promise.all([local.resetOptimizer(), parallel.resetOptimizer()]);
      expect(Object.keys((await parallel.saveState()).adamM)).toEqual([]);
      await step('token-mean', { learningRate: 0.02 });
      await expectSameState('after resetOptimizer and a step');
      // loadState hands each owner its moments; training continues from them
      await Promise.all([local.loadState(saved), parallel.loadState(saved)]);
      await step('token-mean', { learningRate: 0.02 });
      await expectSameState('after loadState and a step');
      await Promise.all([local.loadWeights(weights), parallel.loadWeights(weights)]);
      await step('token-mean', { learningRate: 0.02 });
      await expectSameState('after loadWeights and a step');
    } finally {
      await local.close();
      await parallel.close();
    }
  });

  it('refuses a young generation that is not a positive number of MB', async () => {
    const weights = initDecoderWeights(decoder, { seed: 1 });
    for (const youngGenerationMb of [0, -8, Number.NaN])
      await expect(createWorkerLearner({ decoder, weights }, 1, { youngGenerationMb })).rejects.toThrow(
        LearnerInputError,
      );
  });

  it('times every call of a step on one clock, and a larger young generation trains the same bits', async () => {
    const weights = initDecoderWeights(decoder, { seed: 3, std: 0.2 });
    const plain = await createWorkerLearner({ decoder, weights }, 2);
    const young = await createWorkerLearner({ decoder, weights }, 2, { youngGenerationMb: 96 });
    try {
      expect(new Set(plain.threadIds).size).toBe(2); // two threads, each with its own id
      for (const learner of [plain, young]) {
        await learner.forwardBackward(data, 'ppo');
        await learner.optimStep({ learningRate: 0.02 });
      }
      const { calls } = await plain.takeProfile();
      // a step is two calls to each replica: the sharded optimiser step's four parts meet at a barrier in the workers
      const sharded = ['forwardBackward', 'optimStepSharded'];
      expect(calls!.map((c) => `${c.method}:${c.replica}`).sort()).toEqual(
        [0, 1].flatMap((k) => sharded.map((m) => `${m}:${k}`)).sort(),
      );
      for (const c of calls!) {
        // `posted` is the calling thread's, so the worker may have the message before it
        const stamps = [c.sent, c.received, c.started, c.ended, c.replied];
        expect(stamps, c.method).toEqual([...stamps].sort((a, b) => a - b));
        expect(c.posted).toBeGreaterThanOrEqual(c.sent);
        expect(c.posted).toBeLessThanOrEqual(c.replied);
      }
      // each phase of the sharded step starts once every replica has ended the one before
      const at = (method: string) => calls!.filter((c) => c.method === method);
      for (const [before, after] of sharded.slice(1).map((m, i) => [sharded[i]!, m] as const))
        for (const c of at(after))
          for (const d of at(before))
            expect(c.started, `${before} → ${after}`).toBeGreaterThanOrEqual(d.ended);
      expect((await plain.takeProfile()).calls).toEqual([]); // taken once
      const [a, b] = [await plain.saveState(), await young.saveState()];
      for (const key of ['weights', 'adamM', 'adamV'] as const)
        for (const [name, values] of Object.entries(a[key])) expect(b[key][name], name).toEqual(values);
    } finally {
      await plain.close();
      await young.close();
    }
  });

  it('shards hold every datum once, by length, as even as can be in padded tokens', () => {
    // input lengths 5, 4, 10, 1, 3: the best cut is [1, 3, 4, 5] (4 × 5 = 20 padded) | [10] (10)
    const shards = shardData(data, 2);
    expect(shards.map((s) => s.indices)).toEqual([[3, 4, 1, 0], [2]]);
    expect(shards[0]!.data[0]).toBe(data[3]);
    // more workers than helps: the longest sequence bounds every shard, so fewer shards suffice
    expect(shardData(data, 5).map((s) => s.indices)).toEqual([[3, 4], [1, 0], [2]]);
    expect(shardData(data.slice(0, 1), 3)).toHaveLength(1); // no empty shards
  });
});
