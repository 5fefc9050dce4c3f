import { rm } from 'node:fs/promises';
import { Rng } from '@toolgym/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateResult } from '../policy.ts';
import { type OnnxGenerateRequest, OnnxPolicy } from './onnx-policy.ts';
import { createTinyTestModel } from './tiny-test-model.ts';

/**
 * Batch invariance, bit for bit: a request's tokens and logprobs do not depend on which rows share
 * its batch, its row, or the step at which it joined. Continuous batching decides all three by when
 * requests arrive, so without this two runs of one seed drift apart under load.
 */

/**
 * `count` requests with prompts of many lengths, two of them GRPO groups (one prompt, several seeds);
 * the first runs longest.
 */
function requests(count = 14): OnnxGenerateRequest[] {
  const rng = new Rng(11);
  const prompt = () => Array.from({ length: rng.int(2, 31) }, () => rng.int(97, 122));
  const groups = [prompt(), prompt()];
  return Array.from({ length: count }, (_, i) => ({
    tokens: i < 8 ? groups[i % 2]! : prompt(),
    sampling: { maxTokens: i === 0 ? 40 : rng.int(6, 35), temperature: 1, seed: 300 + i },
    ignoreEos: true,
  }));
}

/** Every request alone, then the same requests batched by `schedule`; the first result that differs. */
async function firstDifference(
  policy: OnnxPolicy,
  schedule: (all: OnnxGenerateRequest[]) => Promise<GenerateResult[]>,
  all = requests(),
): Promise<string | undefined> {
  const alone: GenerateResult[] = [];
  for (const r of all) alone.push(await policy.enqueue(r));
  const batched = await schedule(all);
  for (const [i, r] of batched.entries()) {
    const a = alone[i]!;
    for (const key of ['tokens', 'logprobs', 'policyLogprobs'] as const)
      if (!r[key]!.every((v, j) => Object.is(v, a[key]![j]))) return `request ${i}, ${key}`;
  }
  return undefined;
}

const together = (policy: OnnxPolicy) => (all: OnnxGenerateRequest[]) =>
  Promise.all(all.map((r) => policy.enqueue(r)));

/** The first request runs; the others join it two at a time at its steps 1, 2, 3, …, the last first. */
const staggered = (policy: OnnxPolicy) => async (all: OnnxGenerateRequest[]) => {
  const [lead, ...rest] = all;
  const late = new Array<Promise<GenerateResult>>(rest.length);
  let joined = 0;
  const first = await policy.enqueue({
    ...lead!,
    onToken: () => {
      for (let pair = 0; pair < 2 && joined < rest.length; pair++) {
        const i = rest.length - 1 - joined++;
        late[i] = policy.enqueue(rest[i]!);
      }
    },
  });
  return [first, ...(await Promise.all(late))];
};

describe('batch-invariant decoding (in-place cache)', () => {
  const dirs: string[] = [];
  let invariant: OnnxPolicy;
  let loose: OnnxPolicy;
  let sharedPrompts: OnnxPolicy;
  beforeAll(async () => {
    const model = await createTinyTestModel(23, { positions: 'rope', maxPositions: 96 });
    dirs.push(model.dir);
    invariant = await OnnxPolicy.create({ model: model.dir, kvCache: 'in-place' });
    loose = await OnnxPolicy.create({ model: model.dir, kvCache: 'in-place', batchInvariant: false });
    sharedPrompts = await OnnxPolicy.create({ model: model.dir, kvCache: 'in-place', sharedPrompts: true });
  });
  afterAll(async () => {
    await invariant?.close();
    await loose?.close();
    await sharedPrompts?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('gives every request the bits it gets alone, in one batch of mixed lengths and groups', async () => {
    expect(await firstDifference(invariant, together(invariant))).toBeUndefined();
  });

  it('gives every request the bits it gets alone when it joins a running batch at any step', async () => {
    expect(await firstDifference(invariant, staggered(invariant))).toBeUndefined();
  });

  it('keeps the bits with every prompt in the shared slots: alone, together, joining two at a time', async () => {
    expect(await firstDifference(sharedPrompts, together(sharedPrompts))).toBeUndefined();
    expect(await firstDifference(sharedPrompts, staggered(sharedPrompts))).toBeUndefined();
  });

  it('keeps the bits when the shared slots span several blocks of the product over them', async () => {
    // One 32-wide head: onnxruntime sums the shared values in blocks of productBlock(32) = 512 slots.
    // 40 prompts take about 800 (the 14 above at most 448), so some would straddle a block boundary.
    const model = await createTinyTestModel(29, { positions: 'rope', maxPositions: 96, nHeads: 1 });
    dirs.push(model.dir);
    const wide = await OnnxPolicy.create({ model: model.dir, kvCache: 'in-place', sharedPrompts: true });
    try {
      expect(await firstDifference(wide, together(wide), requests(40))).toBeUndefined();
    } finally {
      await wide.close();
    }
  });

  it('with every prompt in the shared slots, gives the tokens of the default engine and its logprobs to float rounding', async () => {
    const all = requests();
    const [mine, theirs] = await Promise.all([together(sharedPrompts)(all), together(invariant)(all)]);
    mine.forEach((r, i) => {
      expect(r.tokens, `request ${i}`).toEqual(theirs[i]!.tokens);
      // The attention sums a prompt apart from the generated tokens: another float32 order, the same maths.
      for (const [j, lp] of r.logprobs!.entries())
        expect(Math.abs(lp - theirs[i]!.logprobs![j]!)).toBeLessThan(1e-5);
    });
  });

  it('is what keeps them equal: padded prefills and shared prompt slots change the last bits', async () => {
    // The same schedules with batchInvariant off differ, so the two cases above can fail.
    expect(await firstDifference(loose, together(loose))).toBeDefined();
    expect(await firstDifference(loose, staggered(loose))).toBeDefined();
  });
});
