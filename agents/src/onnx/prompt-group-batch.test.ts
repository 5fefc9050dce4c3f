import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateResult } from '../policy.ts';
import { initDecoderWeights } from '../model/init-weights.ts';
import { SHARED_PROMPTS_MODEL, sharedPromptsCases } from './fixtures/shared-prompts-cases.ts';
import { InPlaceBatch, type PromptSlots } from './in-place-batch.ts';
import { OnnxPolicy } from './onnx-policy.ts';
import { GROUP_ROWS, PromptGroupBatch } from './prompt-group-batch.ts';
import { createTinyTestModel, decodeRows, TINY_TEST_CONFIG, tinyInPlaceSessions } from './tiny-test-model.ts';

type Recorded = Record<string, Array<{ tokens: number[]; logprobs: number[] }>>;

/** The first request whose tokens or logprobs are not the recorded bits. */
function firstDifference(results: GenerateResult[], recorded: Recorded[string]): string | undefined {
  for (const [i, r] of results.entries()) {
    const want = recorded[i]!;
    if (r.tokens!.length !== want.tokens.length || !r.tokens!.every((t, j) => t === want.tokens[j]))
      return `request ${i}, tokens`;
    for (const key of ['logprobs', 'policyLogprobs'] as const)
      if (!r[key]!.every((v, j) => Object.is(v, want.logprobs[j]))) return `request ${i}, ${key}`;
  }
  return undefined;
}

describe('sharedPrompts by prompt group', () => {
  const fixture = path.join(
    path.dirname(fileURLToPath(import.meta.url)),
    'fixtures/shared-prompts-before.json',
  );
  let recorded: Recorded;
  let dir: string;
  let sharedPrompts: OnnxPolicy;
  beforeAll(async () => {
    recorded = JSON.parse(await readFile(fixture, 'utf8')) as Recorded;
    const model = await createTinyTestModel(SHARED_PROMPTS_MODEL.seed, SHARED_PROMPTS_MODEL.overrides);
    dir = model.dir;
    sharedPrompts = await OnnxPolicy.create({ model: dir, kvCache: 'in-place', sharedPrompts: true });
  });
  afterAll(async () => {
    await sharedPrompts?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(Object.keys(sharedPromptsCases()))(
    'gives the tokens and logprobs every prompt in one set of shared slots gave (%s batch), together and alone',
    async (name) => {
      const requests = sharedPromptsCases()[name as keyof ReturnType<typeof sharedPromptsCases>];
      const together = await Promise.all(requests.map((r) => sharedPrompts.enqueue(r)));
      expect(firstDifference(together, recorded[name]!)).toBeUndefined();
      const alone: GenerateResult[] = [];
      for (const r of requests) alone.push(await sharedPrompts.enqueue(r));
      expect(firstDifference(alone, recorded[name]!)).toBeUndefined();
    },
  );

  it("is a comparison that can fail: the default engine's bits are not the recorded ones", async () => {
    const invariant = await OnnxPolicy.create({ model: dir, kvCache: 'in-place' });
    try {
      const requests = sharedPromptsCases().grpo;
      const theirs = await Promise.all(requests.map((r) => invariant.enqueue(r)));
      expect(firstDifference(theirs, recorded.grpo!)).toBeDefined();
    } finally {
      await invariant.close();
    }
  });
});

describe('prompt group batch', () => {
  const { open, release } = tinyInPlaceSessions(initDecoderWeights(TINY_TEST_CONFIG, { seed: 3, std: 0.3 }));
  const newBatch = async (groupRows = GROUP_ROWS) => {
    const decoder = await open();
    return new PromptGroupBatch(
      (slots: PromptSlots) => new InPlaceBatch(decoder, open, 256, true, slots),
      groupRows,
    );
  };
  afterAll(release);

  const group = (length: number) => Array.from({ length }, (_, i) => (length * 7 + i * 11) % 250);
  const tokens = (row: number, step: number) => (100 + row * 13 + step * 7) % 256;

  it('runs each prompt of GROUP_ROWS rows or more as a sub-batch and the other rows as one, each row as it decodes alone', async () => {
    const prompts = [
      ...new Array<number[]>(GROUP_ROWS).fill(group(9)),
      group(20),
      ...new Array<number[]>(GROUP_ROWS + 1).fill(group(14)),
      ...new Array<number[]>(GROUP_ROWS - 1).fill(group(5)),
    ];
    const batch = await newBatch();
    const together = await decodeRows(batch, prompts, tokens, 12);
    expect(batch.subBatches).toBe(3);
    for (const [b, prompt] of prompts.entries()) {
      const alone = await decodeRows(await newBatch(), [prompt], (_, s) => tokens(b, s), 12);
      expect(
        together[b]!.every((logits, s) => logits.every((v, i) => Object.is(v, alone[0]![s]![i]))),
        `row ${b}`,
      ).toBe(true);
    }
  });

  it('keeps each row on its own keys as rows leave, and drops a sub-batch with its last row', async () => {
    const prompts = [group(9), group(9), group(9), group(9), group(30), group(6)];
    const batch = await newBatch(4);
    await batch.add(prompts);
    expect(batch.subBatches).toBe(2);
    // Rows 0–3 share a sub-batch; 4 and 5 keep their prompts in their own sections.
    const order = batch.remove([0, 2, 3, 4]);
    expect(order).toEqual([1, 5]);
    expect(batch.subBatches).toBe(2);
    const step = await batch.step([tokens(1, 0), tokens(5, 0)]);
    const alone = await Promise.all(
      [1, 5].map(async (b) => decodeRows(await newBatch(), [prompts[b]!], (_, s) => tokens(b, s), 1)),
    );
    for (const [i, b] of [1, 5].entries())
      expect(
        step(i).every((v, k) => Object.is(v, alone[i]![0]![1]![k])),
        `row ${b}`,
      ).toBe(true);
    batch.remove([0]);
    expect(batch.subBatches).toBe(1);
    expect(batch.rows).toBe(1);
  });
});
