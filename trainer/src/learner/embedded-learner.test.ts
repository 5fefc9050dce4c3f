import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createOnnxPolicy,
  type DecoderConfig,
  initDecoderWeights,
  referenceForward,
  writeDecoderModelDir,
} from '@toolgym/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedLearner, lossUnits } from './embedded-learner.ts';
import { datumFromSequence, LearnerInputError } from './learner.ts';
import { TEST_DECODER } from './test-decoder.ts';

const decoder = TEST_DECODER;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('embedded learner (TF.js wasm)', () => {
  it('logits equal the plain-TypeScript reference forward', async () => {
    const weights = initDecoderWeights(decoder, { seed: 3, std: 0.2 });
    const learner = await createEmbeddedLearner({ decoder, weights });
    const tokens = [5, 100, 7, 262, 33, 9];
    const logits = referenceForward(decoder, weights, { inputIds: [tokens] })[0]!;
    const expected = tokens.slice(1).map((t, i) => {
      const row = logits[i]!;
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      return row[t]! - logZ;
    });
    const out = await learner.forward([
      datumFromSequence(
        tokens,
        tokens.map(() => 1),
      ),
    ]);
    for (const [i, lp] of out.lossFnOutputs[0]!.logprobs.entries()) expect(lp).toBeCloseTo(expected[i]!, 4);
    await learner.close();
  });

  it('parity: the learner scores a sampled trajectory with the onnx policy’s logprobs (1e-4)', async () => {
    const weights = initDecoderWeights(decoder, { seed: 11, std: 0.3 });
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-parity-'));
    dirs.push(dir);
    await writeDecoderModelDir(dir, { config: decoder, weights });
    const policy = await createOnnxPolicy({ model: dir, executionProvider: 'cpu' });
    const prompt = [257, 97, 98, 99, 10, 258];
    const result = await policy.generate({
      tokens: prompt,
      sampling: { temperature: 1, maxTokens: 20, seed: 1 },
    });
    await policy.close();
    const sampled = result.tokens!;
    const all = [...prompt, ...sampled];
    const learner = await createEmbeddedLearner({ decoder, weights });
    const out = await learner.forward([
      datumFromSequence(
        all,
        all.map((_, i) => (i >= prompt.length ? 1 : 0)),
      ),
    ]);
    const learnerLogprobs = out.lossFnOutputs[0]!.logprobs.slice(prompt.length - 1);
    expect(learnerLogprobs).toHaveLength(sampled.length);
    for (const [i, lp] of learnerLogprobs.entries())
      expect(Math.abs(lp - result.logprobs![i]!)).toBeLessThan(1e-4);
    await learner.close();
  });

  it('parity under ε-exploration and top-p: the learner scores the policy logprobs; the behaviour logprobs are the mixture', async () => {
    const weights = initDecoderWeights(decoder, { seed: 12, std: 0.3 });
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-parity-'));
    dirs.push(dir);
    await writeDecoderModelDir(dir, { config: decoder, weights });
    const policy = await createOnnxPolicy({ model: dir, executionProvider: 'cpu' });
    // Token 258 opens a decision: half the time the next token is one of 120, 121, 122, uniformly.
    const prompt = [257, 97, 98, 99, 10, 258];
    const choices = [120, 121, 122];
    const explore = { epsilon: 0.5, tokenIds: choices, afterTokenIds: [258] };
    const learner = await createEmbeddedLearner({ decoder, weights });
    let explored = 0;
    for (let seed = 0; seed < 8; seed++) {
      const result = await policy.generate({
        tokens: prompt,
        sampling: { temperature: 1, topP: 0.95, maxTokens: 6, seed, explore },
      });
      const all = [...prompt, ...result.tokens!];
      const out = await learner.forward([
        datumFromSequence(
          all,
          all.map((_, i) => (i >= prompt.length ? 1 : 0)),
        ),
      ]);
      const learnerLogprobs = out.lossFnOutputs[0]!.logprobs.slice(prompt.length - 1);
      for (const [i, lp] of learnerLogprobs.entries())
        expect(Math.abs(lp - result.policyLogprobs![i]!)).toBeLessThan(1e-4);
      // The first token, at the decision: q = ε/3·[x ∈ C] + (1 − ε)·p̃ ≥ ε/3 for a choice.
      const first = result.tokens![0]!;
      if (choices.includes(first)) {
        explored++;
        expect(result.logprobs![0]!).toBeGreaterThanOrEqual(Math.log(0.5 / 3) - 1e-9);
        expect(result.logprobs![0]!).toBeGreaterThan(result.policyLogprobs![0]!);
      }
    }
    expect(explored).toBeGreaterThan(0);
    await policy.close();
    await learner.close();
  });

  it('cross-entropy steps with Adam memorise a sequence; gradients clip to the set norm', async () => {
    const learner = await createEmbeddedLearner({
      decoder,
      weights: initDecoderWeights(decoder, { seed: 1 }),
    });
    const tokens = [257, 1, 2, 3, 4, 5, 6, 7, 8, 258];
    const datum = datumFromSequence(
      tokens,
      tokens.map(() => 1),
    );
    const first = await learner.forwardBackward([datum], 'cross_entropy');
    const step = await learner.optimStep({ learningRate: 1e-2, gradClipNorm: 0.5 });
    expect(step.metrics.step).toBe(1);
    expect(step.metrics.grad_norm).toBeGreaterThan(0.5);
    expect(step.metrics.clipped).toBe(1);
    let last = first.metrics.loss!;
    for (let i = 0; i < 30; i++) {
      last = (await learner.forwardBackward([datum], 'cross_entropy')).metrics.loss!;
      await learner.optimStep({ learningRate: 1e-2 });
    }
    expect(first.metrics.loss).toBeGreaterThan(5);
    expect(last).toBeLessThan(first.metrics.loss! / 4);
    const saved = await learner.saveWeights();
    expect(saved.step).toBe(31);
    expect(saved.weights['lm_head.weight']).toHaveLength(32 * 263);
    await learner.close();
  });

  it('PPO with positive advantage raises the logprob of the sampled tokens', async () => {
    const learner = await createEmbeddedLearner({
      decoder,
      weights: initDecoderWeights(decoder, { seed: 2 }),
    });
    const tokens = [257, 40, 41, 42, 43];
    const mask = [0, 0, 1, 1, 1];
    const before = (await learner.forward([datumFromSequence(tokens, mask)])).lossFnOutputs[0]!.logprobs;
    const datum = datumFromSequence(tokens, mask, {
      advantages: tokens.map(() => 1),
      logprobs: [0, ...before],
    });
    const out = await learner.forwardBackward([datum], 'ppo', { clipHigh: 0.28 });
    expect(out.metrics.clip_fraction).toBe(0);
    await learner.optimStep({ learningRate: 1e-2 });
    const after = (await learner.forward([datumFromSequence(tokens, mask)])).lossFnOutputs[0]!.logprobs;
    for (const i of [1, 2, 3]) expect(after[i]!).toBeGreaterThan(before[i]!);
    // the prompt target (weight 0) gets no direct push
    await learner.close();
  });

  it('micro-batches (sorted by length) give the whole batch’s loss, gradient and per-datum outputs, for every aggregation', async () => {
    // Lengths and trained spans differ, so a wrong micro-batch share shows in the loss and gradient.
    const data = [9, 4, 12, 6, 3, 10].map((n, b) => {
      const tokens = Array.from({ length: n }, (_, i) => 40 + ((b * 7 + i * 3) % 50));
      const mask = tokens.map((_, i) => (i >= n - 2 - (b % 3) ? 1 : 0));
      return datumFromSequence(tokens, mask, {
        advantages: tokens.map(() => (b % 2 === 0 ? 1 : -0.5)),
        logprobs: tokens.map(() => -4),
      });
    });
    for (const aggregation of ['token-mean', 'sequence-mean', 'token-sum', 'token-sum-norm'] as const) {
      const run = async (microBatchSize: number) => {
        const learner = await createEmbeddedLearner({
          decoder,
          weights: initDecoderWeights(decoder, { seed: 3 }),
          microBatchSize,
        });
        const out = await learner.forwardBackward(data, 'ppo', { aggregation, normLength: 8 });
        const step = await learner.optimStep({ learningRate: 1e-3 });
        await learner.close();
        return { out, gradNorm: step.metrics.grad_norm! };
      };
      const whole = await run(64);
      const split = await run(2);
      expect(split.out.metrics.loss!, aggregation).toBeCloseTo(whole.out.metrics.loss!, 5);
      expect(split.gradNorm, aggregation).toBeCloseTo(whole.gradNorm, 5);
      expect(split.out.lossFnOutputs.map((o) => o.logprobs.length)).toEqual(
        data.map((d) => d.modelInput.tokens.length),
      );
      split.out.lossFnOutputs.forEach((o, i) => {
        for (const [t, lp] of o.logprobs.entries())
          expect(lp).toBeCloseTo(whole.out.lossFnOutputs[i]!.logprobs[t]!, 5);
      });
    }
  });

  it('loss units: trained tokens, sequences with a trained token, sequences, or 1', () => {
    const data = [
      datumFromSequence([1, 2, 3, 4], [0, 1, 0, 1]),
      datumFromSequence([1, 2, 3], [0, 0, 0]),
      datumFromSequence([5, 6], [0, 1]),
    ];
    expect(lossUnits(data, 'token-mean')).toBe(3);
    expect(lossUnits(data, 'sequence-mean')).toBe(2);
    expect(lossUnits(data, 'token-sum-norm')).toBe(3);
    expect(lossUnits(data, 'token-sum')).toBe(1);
    // Without weights every input token is trained.
    const unweighted = { modelInput: { tokens: [1, 2, 3] }, lossFnInputs: { target_tokens: [2, 3, 4] } };
    expect(lossUnits([unweighted], 'token-mean')).toBe(3);
  });

  it('malformed data fail at once with the field named', async () => {
    const learner = await createEmbeddedLearner({
      decoder,
      weights: initDecoderWeights(decoder, { seed: 2 }),
    });
    const good = datumFromSequence([1, 2, 3], [0, 1, 1]);
    await expect(learner.forwardBackward([good], 'ppo')).rejects.toThrow(
      /lossFnInputs.advantages is required by the 'ppo' loss/,
    );
    await expect(learner.forward([{ ...good, lossFnInputs: { target_tokens: [2] } }])).rejects.toThrow(
      /target_tokens has 1 entries for 2/,
    );
    await expect(learner.forward([datumFromSequence([1, 999], [1, 1])])).rejects.toThrow(
      /token id 999 is outside the vocabulary/,
    );
    // The datum's place in the batch and the field are named; a non-finite value anywhere in a field is found.
    const advantages = [1, 1];
    advantages[1] = Number.NaN;
    await expect(
      learner.forwardBackward(
        [
          datumFromSequence([1, 2, 3], [1, 1, 1], { advantages: [1, 1, 1], logprobs: [-1, -1, -1] }),
          datumFromSequence([1, 2, 3], [1, 1, 1], { advantages: [1, 1, 1], logprobs: [-1, -1, -1] }),
          { ...good, lossFnInputs: { ...good.lossFnInputs, advantages, logprobs: [-1, -1] } },
        ],
        'ppo',
      ),
    ).rejects.toThrow(/^data\[2\]\.lossFnInputs\.advantages holds a non-finite number/);
    await expect(learner.forward([good, datumFromSequence([1, 2.5, 3], [1, 1, 1])])).rejects.toThrow(
      /^data\[1\]: token id 2\.5 is outside the vocabulary/,
    );
    await expect(learner.forward([])).rejects.toBeInstanceOf(LearnerInputError);
    await expect(learner.optimStep({ learningRate: 1e-3 })).rejects.toThrow(/call forwardBackward first/);
    expect(() => datumFromSequence([1], [1])).toThrow(/at least 2 tokens/);
    await learner.close();
  });
});

describe('embedded learner with RoPE positions', () => {
  const rope: DecoderConfig = { ...decoder, positions: 'rope', ropeTheta: 1000 };

  it('logits equal the plain-TypeScript reference forward; the weights have no position table', async () => {
    const weights = initDecoderWeights(rope, { seed: 4, std: 0.2 });
    expect(weights['embed.positions']).toBeUndefined();
    const learner = await createEmbeddedLearner({ decoder: rope, weights });
    const tokens = [5, 100, 7, 262, 33, 9, 40, 41];
    const logits = referenceForward(rope, weights, { inputIds: [tokens] })[0]!;
    const expected = tokens.slice(1).map((t, i) => {
      const row = logits[i]!;
      const max = Math.max(...row);
      return row[t]! - (max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)));
    });
    const out = await learner.forward([
      datumFromSequence(
        tokens,
        tokens.map(() => 1),
      ),
    ]);
    for (const [i, lp] of out.lossFnOutputs[0]!.logprobs.entries()) expect(lp).toBeCloseTo(expected[i]!, 4);
    expect((await learner.saveWeights()).weights['embed.positions']).toBeUndefined();
    await learner.close();
  });

  it('parity: the learner scores trajectories sampled by the onnx policy (batched, left-padded) with its logprobs (1e-4)', async () => {
    const weights = initDecoderWeights(rope, { seed: 12, std: 0.3 });
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-parity-rope-'));
    dirs.push(dir);
    await writeDecoderModelDir(dir, { config: rope, weights });
    const policy = await createOnnxPolicy({ model: dir, executionProvider: 'cpu' });
    const prompts = [
      [257, 97, 98, 99, 10, 258],
      [257, 120, 258],
    ];
    // Both requests at once: the policy batches them, left-padding the shorter prompt.
    const results = await Promise.all(
      prompts.map((tokens, i) =>
        policy.generate({ tokens, sampling: { temperature: 1, maxTokens: 16, seed: 1 + i } }),
      ),
    );
    await policy.close();
    const learner = await createEmbeddedLearner({ decoder: rope, weights });
    for (const [r, prompt] of prompts.entries()) {
      const sampled = results[r]!.tokens!;
      const all = [...prompt, ...sampled];
      const out = await learner.forward([
        datumFromSequence(
          all,
          all.map((_, i) => (i >= prompt.length ? 1 : 0)),
        ),
      ]);
      const learnerLogprobs = out.lossFnOutputs[0]!.logprobs.slice(prompt.length - 1);
      expect(learnerLogprobs).toHaveLength(sampled.length);
      for (const [i, lp] of learnerLogprobs.entries())
        expect(Math.abs(lp - results[r]!.logprobs![i]!)).toBeLessThan(1e-4);
    }
    await learner.close();
  });

  it('a training step changes every weight that gets a gradient and lowers the loss', async () => {
    const initial = initDecoderWeights(rope, { seed: 1 });
    const learner = await createEmbeddedLearner({ decoder: rope, weights: initial });
    const tokens = [257, 1, 2, 3, 4, 5, 6, 7, 8, 258];
    const datum = datumFromSequence(
      tokens,
      tokens.map(() => 1),
    );
    const first = await learner.forwardBackward([datum], 'cross_entropy');
    const step = await learner.optimStep({ learningRate: 1e-2 });
    expect(step.metrics.grad_norm).toBeGreaterThan(0);
    const after = (await learner.saveWeights()).weights;
    for (const name of [
      'layers.0.attn.q.weight',
      'layers.0.attn.k.weight',
      'layers.1.attn.k.weight',
      'embed.tokens',
    ])
      expect(Array.from(after[name]!), name).not.toEqual(Array.from(initial[name]!));
    let last = first.metrics.loss!;
    for (let i = 0; i < 10; i++) {
      last = (await learner.forwardBackward([datum], 'cross_entropy')).metrics.loss!;
      await learner.optimStep({ learningRate: 1e-2 });
    }
    expect(last).toBeLessThan(first.metrics.loss! / 2);
    await learner.close();
  });
});

describe('the wasm learner’s own kernels (SIMD batched products, shared tensor data)', () => {
  it('give the gradient tfjs’ cpu backend gives, for every weight (PPO, RoPE, sequences of mixed length)', async () => {
    const rope: DecoderConfig = { ...decoder, positions: 'rope' };
    const weights = initDecoderWeights(rope, { seed: 3, std: 0.2 });
    const data = [
      [257, 5, 100, 7, 262, 33, 9, 11, 12],
      [257, 97, 98, 99, 10],
      [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], // 13 positions: not a multiple of the kernel's 4 lanes
    ].map((tokens, i) =>
      datumFromSequence(
        tokens,
        tokens.map((_, t) => (t > 1 ? 1 : 0)),
        { advantages: tokens.map(() => (i === 1 ? -1 : 0.5)), logprobs: tokens.map(() => -4) },
      ),
    );
    const gradientOn = async (backend: 'wasm' | 'cpu') => {
      const learner = await createEmbeddedLearner({ decoder: rope, weights, backend });
      const out = await learner.forwardBackward(data, 'ppo', { clipHigh: 0.28 });
      const gradients = (await learner.getGradients())!;
      await learner.close();
      return { loss: out.metrics.loss!, gradients };
    };
    const cpu = await gradientOn('cpu');
    const wasm = await gradientOn('wasm');
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-5);
    for (const [name, g] of Object.entries(cpu.gradients)) {
      const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
      const worst = Math.max(...Array.from(wasm.gradients[name]!, (x, i) => Math.abs(x - g[i]!)));
      expect(worst / scale, name).toBeLessThan(1e-4);
    }
  });
});
