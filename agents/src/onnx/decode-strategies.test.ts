import { cp, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateResult } from '../policy.ts';
import { CAPACITY_STEP } from './in-place-batch.ts';
import { type KvCacheMode, type OnnxGenerateRequest, OnnxPolicy } from './onnx-policy.ts';
import { createTinyTestModel } from './tiny-test-model.ts';

/**
 * The cache strategies compute the same maths in different float32 orders (a split softmax sum, other
 * padding): their logprobs agree to rounding, far inside the 1e-4 the engine promises against the
 * float64 reference.
 */
const STRATEGY_TOLERANCE = 1e-5;

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Requests with prompts of different lengths (two repeated, as in a GRPO group), seeds, stops and lengths, so rows finish apart. */
function requests(policy: OnnxPolicy): OnnxGenerateRequest[] {
  const prompt = (text: string) =>
    policy.tokenizer.encode(`<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n`);
  const texts = [
    'a',
    'a much longer prompt than the first one',
    'mid length',
    'x',
    'a',
    'a',
    'group',
    'group',
  ];
  return texts.map((text, i) => ({
    tokens: prompt(text),
    sampling: {
      maxTokens: 6 + ((i * 7) % 29),
      temperature: i === 3 ? 0 : 1,
      seed: 100 + i,
      ...(i === 2 ? { topP: 0.9, topK: 40 } : {}),
    },
    ignoreEos: i % 2 === 0,
  }));
}

function expectSame(actual: GenerateResult, expected: GenerateResult, label: string): void {
  expect(actual.tokens, label).toEqual(expected.tokens);
  expect(actual.finishReason, label).toBe(expected.finishReason);
  actual.logprobs!.forEach((lp, j) => {
    expect(Math.abs(lp - expected.logprobs![j]!), `${label}, token ${j}`).toBeLessThan(STRATEGY_TOLERANCE);
  });
}

for (const positions of ['learned', 'rope'] as const) {
  describe(`onnx policy cache strategies (${positions} positions)`, () => {
    let dir: string;
    const policies = new Map<KvCacheMode, OnnxPolicy>();
    beforeAll(async () => {
      const model = await createTinyTestModel(21, { positions });
      dir = model.dir;
      dirs.push(dir);
      for (const kvCache of ['in-place', 'present', 'off'] as const)
        policies.set(kvCache, await OnnxPolicy.create({ model: dir, kvCache, maxBatchSize: 64 }));
    });
    afterAll(async () => {
      for (const p of policies.values()) await p.close();
    });

    it('give the same tokens and logprobs at every batch size as full recompute one at a time', async () => {
      const recompute = policies.get('off')!;
      const all = requests(recompute);
      const expected: GenerateResult[] = [];
      for (const r of all) expected.push(await recompute.enqueue(r));
      for (const [kvCache, policy] of policies) {
        for (const size of [1, 3, all.length]) {
          const results: GenerateResult[] = [];
          for (let i = 0; i < all.length; i += size)
            results.push(...(await Promise.all(all.slice(i, i + size).map((r) => policy.enqueue(r)))));
          results.forEach((r, i) => {
            expectSame(r, expected[i]!, `${kvCache}, batch ${size}, request ${i}`);
          });
        }
      }
    });

    it('rows that join a running batch sample as they would alone, under every strategy', async () => {
      for (const [kvCache, policy] of policies) {
        const [long, ...late] = requests(policy).map((r, i) =>
          i === 0 ? { ...r, sampling: { ...r.sampling, maxTokens: 40 }, ignoreEos: true } : r,
        );
        const alone = [await policy.enqueue(long!)];
        for (const r of late) alone.push(await policy.enqueue(r));
        let lateResults: Promise<GenerateResult[]> | undefined;
        let seen = 0;
        const first = await policy.enqueue({
          ...long!,
          onToken: () => {
            // Half of the others arrive after the 3rd token, the rest after the 9th.
            seen++;
            if (seen === 3) lateResults = Promise.all(late.slice(0, 4).map((r) => policy.enqueue(r)));
            if (seen === 9) {
              const early = lateResults!;
              lateResults = Promise.all([
                early,
                Promise.all(late.slice(4).map((r) => policy.enqueue(r))),
              ]).then(([a, b]) => [...a, ...b]);
            }
          },
        });
        const results = [first, ...(await lateResults!)];
        results.forEach((r, i) => {
          expectSame(r, alone[i]!, `${kvCache}, request ${i}`);
        });
      }
    });
  });
}

describe('the in-place cache', () => {
  let model: Awaited<ReturnType<typeof createTinyTestModel>>;
  beforeAll(async () => {
    model = await createTinyTestModel(5, { maxPositions: 4 * CAPACITY_STEP + 8 });
    dirs.push(model.dir);
  });

  it('grows its rows and slots as a batch grows, to the end of the position table', async () => {
    const inPlace = await OnnxPolicy.create({ model: model.dir, kvCache: 'in-place', maxBatchSize: 64 });
    const off = await OnnxPolicy.create({ model: model.dir, kvCache: 'off', maxBatchSize: 64 });
    // One row at a time, then 40 at once (more rows than the first batch held), each generating
    // across several capacity steps, and one that runs into the position table.
    const make = (i: number): OnnxGenerateRequest => ({
      tokens: Array.from({ length: 3 + (i % 11) }, (_, t) => 97 + ((i + t) % 26)),
      sampling: { maxTokens: i === 7 ? 1000 : CAPACITY_STEP + 5 + i, temperature: 1, seed: i },
      ignoreEos: true,
    });
    const batch = Array.from({ length: 40 }, (_, i) => make(i));
    const expected = await Promise.all(batch.map((r) => off.enqueue(r)));
    expect(expected[7]!.finishReason).toBe('length');
    expect(expected[7]!.tokens!.length + batch[7]!.tokens.length).toBe(4 * CAPACITY_STEP + 8);
    expectSame(await inPlace.enqueue(batch[0]!), expected[0]!, 'alone');
    const results = await Promise.all(batch.map((r) => inPlace.enqueue(r)));
    results.forEach((r, i) => {
      expectSame(r, expected[i]!, `request ${i}`);
    });
    await inPlace.close();
    await off.close();
  });
});

describe('an exported model in the Optimum layout (no toolgym.json, onnx/model.onnx)', () => {
  it("runs through the same engine on its own 'present' cache, sampling what the in-place cache samples", async () => {
    const model = await createTinyTestModel(9, { positions: 'rope' });
    dirs.push(model.dir);
    const exported = await mkdtemp(path.join(tmpdir(), 'toolgym-optimum-'));
    dirs.push(exported);
    await cp(model.dir, exported, { recursive: true });
    await rm(path.join(exported, 'toolgym.json'));
    await mkdir(path.join(exported, 'onnx'));
    await rename(path.join(exported, 'model.onnx'), path.join(exported, 'onnx', 'model.onnx'));

    const optimum = await OnnxPolicy.create({ model: exported });
    const ours = await OnnxPolicy.create({ model: model.dir });
    const all = requests(ours);
    const [a, b] = await Promise.all([
      Promise.all(all.map((r) => optimum.enqueue(r))),
      Promise.all(all.map((r) => ours.enqueue(r))),
    ]);
    a.forEach((r, i) => {
      expectSame(r, b[i]!, `request ${i}`);
    });
    await expect(OnnxPolicy.create({ model: exported, kvCache: 'in-place' })).rejects.toMatchObject({
      code: 'bad_settings',
      message: expect.stringMatching(/needs a ToolGym decoder \(toolgym\.json\)/),
    });
    await expect(OnnxPolicy.create({ model: exported, kvCache: 'yes' as KvCacheMode })).rejects.toThrow(
      /kvCache must be one of auto, in-place, present, off, got "yes"/,
    );
    await optimum.close();
    await ours.close();
  });
});
