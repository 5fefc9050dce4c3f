import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDecoderOnnx, type SharedSlotProducts } from '../model/decoder-graph.ts';
import { initDecoderWeights } from '../model/init-weights.ts';
import { DecoderSession } from './decoder-session.ts';
import { InPlaceBatch, PREFILL_SCORE_BYTES, prefillChunks } from './in-place-batch.ts';
import { TINY_TEST_CONFIG, TINY_TEST_SHAPE } from './tiny-test-model.ts';

/** Shared and own slots sum the softmax in another float32 order: logits agree to rounding. */
const TOLERANCE = 1e-5;
const config = TINY_TEST_CONFIG;
const weights = initDecoderWeights(config, { seed: 3, std: 0.3 });
const shape = TINY_TEST_SHAPE;
const PAD = 256;

const sessions: DecoderSession[] = [];
const open = async (sharedSlots?: SharedSlotProducts) => {
  const session = await ort.InferenceSession.create(
    buildDecoderOnnx(config, weights, 'in-place', { sharedSlots }),
  );
  const decoder = new DecoderSession(session, shape, { provider: 'cpu', reason: 'test' });
  sessions.push(decoder);
  return decoder;
};
/** Batches that may share prompt slots (not batch-invariant), the path these tests exercise. */
const newBatch = async () => new InPlaceBatch(await open(), open, PAD, false);

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

/** Logits of each row over `steps` decode steps, one list per row (copies). */
async function decode(
  batch: InPlaceBatch,
  prompts: number[][],
  tokens: (row: number, step: number) => number,
  steps: number,
) {
  const first = await batch.add(prompts);
  const logits = prompts.map((_, b) => [first(b).slice()]);
  for (let t = 0; t < steps; t++) {
    const out = await batch.step(prompts.map((_, b) => tokens(b, t)));
    for (const [b, row] of logits.entries()) row.push(out(b).slice());
  }
  return logits;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('in-place batch with shared slots', () => {
  const group = [10, 20, 30, 40, 50, 60, 70];
  const other = [5, 6, 7];
  const prompts = [group, group, other, group];
  const tokens = (row: number, step: number) => (100 + row * 13 + step * 7) % 256;

  it('stores a prompt that enough rows share once, and each row decodes as it does alone', async () => {
    const batch = await newBatch();
    const together = await decode(batch, prompts, tokens, 40);
    expect(batch.sharedSlots).toBe(group.length);
    for (const [b, prompt] of prompts.entries()) {
      const single = await newBatch();
      const alone = await decode(single, [prompt], (_, t) => tokens(b, t), 40);
      expect(single.sharedSlots).toBe(0);
      alone[0]!.forEach((expected, t) => {
        expect(maxAbsDiff(together[b]![t]!, expected), `row ${b}, step ${t}`).toBeLessThan(TOLERANCE);
      });
    }
  });

  it('keeps the shared slots while one of their rows is left, and frees them with the last; the others decode on', async () => {
    const batch = await newBatch();
    await decode(batch, prompts, tokens, 3);
    // Rows 0 and 3 (the group's) leave: the last row moves into 0's place.
    expect(batch.remove([0, 3])).toEqual([2, 1]);
    expect(batch.sharedSlots).toBe(group.length);
    const kept = await batch.step([tokens(2, 3), tokens(1, 3)]);
    expect(batch.remove([1])).toEqual([0]);
    expect(batch.sharedSlots).toBe(0);
    const last = await batch.step([tokens(2, 4)]);

    const reference = await newBatch();
    const alone = await decode(reference, [group], (_, t) => tokens(1, t), 4);
    expect(maxAbsDiff(kept(1), alone[0]![4]!)).toBeLessThan(TOLERANCE);
    const otherAlone = await decode(await newBatch(), [other], (_, t) => tokens(2, t), 5);
    expect(maxAbsDiff(kept(0), otherAlone[0]![4]!)).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(last(0), otherAlone[0]![5]!)).toBeLessThan(TOLERANCE);
  });

  it('does not share a prompt fewer than a quarter of the rows have, nor open the shared-slot session', async () => {
    let opened = 0;
    const batch = new InPlaceBatch(
      await open(),
      (products) => {
        opened++;
        return open(products);
      },
      PAD,
      false,
    );
    const distinct = Array.from({ length: 10 }, (_, i) => [i + 1, i + 2, i + 3]);
    await batch.add([group, group, ...distinct]);
    await batch.step(distinct.map(() => 9).concat([9, 9]));
    expect(batch.sharedSlots).toBe(0);
    expect(opened).toBe(0);
  });
});

describe('prefill forwards bounded by their attention scores', () => {
  const scoreBytes = (rows: number, longest: number, heads = 4) => rows * heads * longest * longest * 4;

  it("splits a long-context RL step's prompts into forwards of PREFILL_SCORE_BYTES at most, and keeps short prompts together", () => {
    // 32 episodes' turns of 1,900-2,000 tokens (the 2,048-position sql config): each its own forward.
    const long = Array.from({ length: 32 }, (_, i) => 1900 + i * 3);
    const chunks = prefillChunks(long, 4);
    expect(chunks.flat().sort((a, b) => a - b)).toEqual(long.map((_, i) => i));
    for (const chunk of chunks)
      expect(scoreBytes(chunk.length, Math.max(...chunk.map((i) => long[i]!)))).toBeLessThanOrEqual(
        PREFILL_SCORE_BYTES,
      );
    expect(chunks).toHaveLength(32);
    // 64 prompts of 100 tokens (the main job's) fit one forward, as before.
    expect(prefillChunks(new Array(64).fill(100), 4)).toHaveLength(1);
    // A prompt over the budget alone still runs, alone.
    expect(prefillChunks([5000, 10], 4)).toEqual([[1], [0]]);
  });

  const long = { ...config, maxPositions: 1024, positions: 'rope' as const };
  const longWeights = initDecoderWeights(long, { seed: 5, std: 0.3 });
  const openLong = async () => {
    const session = await ort.InferenceSession.create(buildDecoderOnnx(long, longWeights, 'in-place'));
    const decoder = new DecoderSession(
      session,
      { ...shape, maxPositions: 1024 },
      { provider: 'cpu', reason: 'test' },
    );
    sessions.push(decoder);
    return decoder;
  };
  /** A decoder of 1,024 positions that records the batch and length of every forward. */
  const recordingDecoder = async () => {
    const decoder = await openLong();
    const forwards: Array<{ batch: number; seq: number }> = [];
    const forward = decoder.forward.bind(decoder);
    decoder.forward = (input, watch) => {
      forwards.push({ batch: input.batch, seq: input.inputIds.length / input.batch });
      return forward(input, watch);
    };
    return { decoder, prefills: () => forwards.filter((f) => f.seq > 1) };
  };

  it('prefills long prompts in several forwards, each row decoding as it does alone', async () => {
    const { decoder, prefills } = await recordingDecoder();
    // Eight prompts of 700-910 tokens: one padded forward would hold 8 × 4 × 910² × 4 bytes = 106 MB of scores.
    const prompts = Array.from({ length: 8 }, (_, r) =>
      Array.from({ length: 700 + r * 30 }, (_, t) => (t * 7 + r) % 250),
    );
    const batch = new InPlaceBatch(decoder, () => openLong(), PAD, false);
    const together = await decode(batch, prompts, (b, t) => (b + t) % 250, 2);
    expect(prefills().length).toBeGreaterThan(1);
    for (const f of prefills()) expect(scoreBytes(f.batch, f.seq)).toBeLessThanOrEqual(PREFILL_SCORE_BYTES);
    for (const [b, prompt] of prompts.entries()) {
      const alone = await decode(
        new InPlaceBatch(await openLong(), () => openLong(), PAD, false),
        [prompt],
        (_, t) => (b + t) % 250,
        2,
      );
      alone[0]!.forEach((expected, t) => {
        expect(maxAbsDiff(together[b]![t]!, expected), `row ${b}, step ${t}`).toBeLessThan(TOLERANCE);
      });
    }
  }, 120_000);

  it('batch-invariant, splits prompts of one length across forwards without changing a bit', async () => {
    const { decoder, prefills } = await recordingDecoder();
    // Eight prompts of 900 tokens: 13 MB of scores each, so five to a forward.
    const prompts = Array.from({ length: 8 }, (_, r) =>
      Array.from({ length: 900 }, (_, t) => (t * 11 + r) % 250),
    );
    const together = await decode(
      new InPlaceBatch(decoder, () => openLong(), PAD, true),
      prompts,
      (b, t) => (b + t) % 250,
      2,
    );
    expect(prefills().map((f) => f.batch)).toEqual([5, 3]);
    for (const [b, prompt] of prompts.entries()) {
      const alone = await decode(
        new InPlaceBatch(await openLong(), () => openLong(), PAD, true),
        [prompt],
        (_, t) => (b + t) % 250,
        2,
      );
      alone[0]!.forEach((expected, t) => {
        expect(
          together[b]![t]!.every((v, i) => Object.is(v, expected[i])),
          `row ${b}, step ${t}`,
        ).toBe(true);
      });
    }
  }, 120_000);
});
