import { afterAll, describe, expect, it } from 'vitest';
import { initDecoderWeights } from '../model/init-weights.ts';
import { InPlaceBatch } from './in-place-batch.ts';
import {
  decodeRows as decode,
  maxAbsDiff,
  TINY_TEST_CONFIG,
  tinyInPlaceSessions,
} from './tiny-test-model.ts';

/** Shared and own slots sum the softmax in another float32 order: logits agree to rounding. */
const TOLERANCE = 1e-5;
const config = TINY_TEST_CONFIG;
const weights = initDecoderWeights(config, { seed: 3, std: 0.3 });
const PAD = 256;

const { open, release } = tinyInPlaceSessions(weights);
/** Batches that may share prompt slots (not batch-invariant), the path these tests exercise. */
const newBatch = async () => new InPlaceBatch(await open(), open, PAD, false);

afterAll(release);

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
