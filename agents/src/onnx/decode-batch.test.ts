import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDecoderOnnx, type KvCacheLayout } from '../model/decoder-graph.ts';
import { initDecoderWeights } from '../model/init-weights.ts';
import { type DecodeBatch, PREFILL_SCORE_BYTES, prefillChunks } from './decode-batch.ts';
import { DecoderSession } from './decoder-session.ts';
import { InPlaceBatch } from './in-place-batch.ts';
import { PaddedBatch } from './padded-batch.ts';
import { decodeRows, maxAbsDiff, TINY_TEST_CONFIG, TINY_TEST_SHAPE } from './tiny-test-model.ts';

/** Prefilled with other prompts (other padding, or none): logits agree to float32 rounding. */
const TOLERANCE = 1e-5;
const PAD = 256;
const sessions: DecoderSession[] = [];
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
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
    // Attention heads, not key/value heads, size the scores (a GQA model of 14 and 2).
    expect(prefillChunks([1000, 1000, 1000, 1000], 14)).toHaveLength(4);
  });

  const long = { ...TINY_TEST_CONFIG, maxPositions: 1024, positions: 'rope' as const };
  const longWeights = initDecoderWeights(long, { seed: 5, std: 0.3 });
  const openLong = async (layout: KvCacheLayout = 'in-place') => {
    const session = await ort.InferenceSession.create(buildDecoderOnnx(long, longWeights, layout));
    const decoder = new DecoderSession(
      session,
      { ...TINY_TEST_SHAPE, maxPositions: 1024 },
      { provider: 'cpu', reason: 'test' },
    );
    sessions.push(decoder);
    return decoder;
  };
  /** A decoder of 1,024 positions that records the batch and length of every forward. */
  const recordingDecoder = async (layout: KvCacheLayout = 'in-place') => {
    const decoder = await openLong(layout);
    const forwards: Array<{ batch: number; seq: number }> = [];
    const forward = decoder.forward.bind(decoder);
    decoder.forward = (input, watch) => {
      forwards.push({ batch: input.batch, seq: input.inputIds.length / input.batch });
      return forward(input, watch);
    };
    return { decoder, prefills: () => forwards.filter((f) => f.seq > 1) };
  };
  // Eight prompts of 700-910 tokens: one padded forward would hold 8 × 4 × 910² × 4 bytes = 106 MB of scores.
  const distinct = Array.from({ length: 8 }, (_, r) =>
    Array.from({ length: 700 + r * 30 }, (_, t) => (t * 7 + r) % 250),
  );
  const tokens = (b: number, t: number) => (b + t) % 250;

  /**
   * Decodes `distinct` in one batch of `batchOf`'s kind and each prompt alone: every forward of more
   * than one position stays within the budget, there are several, and each row decodes as alone.
   */
  async function expectBoundedAsAlone(
    layout: KvCacheLayout,
    batchOf: (decoder: DecoderSession) => DecodeBatch,
  ): Promise<void> {
    const { decoder, prefills } = await recordingDecoder(layout);
    const together = await decodeRows(batchOf(decoder), distinct, tokens, 2);
    expect(prefills().length).toBeGreaterThan(1);
    for (const f of prefills()) expect(scoreBytes(f.batch, f.seq)).toBeLessThanOrEqual(PREFILL_SCORE_BYTES);
    for (const [b, prompt] of distinct.entries()) {
      const alone = await decodeRows(batchOf(await openLong(layout)), [prompt], (_, t) => tokens(b, t), 2);
      alone[0]!.forEach((expected, t) => {
        expect(maxAbsDiff(together[b]![t]!, expected), `row ${b}, step ${t}`).toBeLessThan(TOLERANCE);
      });
    }
  }

  it('in-place: prefills long prompts in several forwards, each row decoding as it does alone', async () => {
    await expectBoundedAsAlone('in-place', (decoder) => new InPlaceBatch(decoder, () => openLong(), PAD, false));
  }, 120_000);

  it("exported models' present cache: prefills a join in several forwards, each row decoding as it does alone", async () => {
    await expectBoundedAsAlone('present', (decoder) => new PaddedBatch(decoder, PAD, 'present'));
  }, 120_000);

  it('full recompute: bounds every step, a prefill of every row, the same way', async () => {
    await expectBoundedAsAlone('present', (decoder) => new PaddedBatch(decoder, PAD, 'recompute'));
  }, 120_000);

  it('batch-invariant, splits prompts of one length across forwards without changing a bit', async () => {
    const { decoder, prefills } = await recordingDecoder();
    // Eight prompts of 900 tokens: 13 MB of scores each, so five to a forward.
    const prompts = Array.from({ length: 8 }, (_, r) =>
      Array.from({ length: 900 }, (_, t) => (t * 11 + r) % 250),
    );
    const together = await decodeRows(
      new InPlaceBatch(decoder, () => openLong(), PAD, true),
      prompts,
      tokens,
      2,
    );
    expect(prefills().map((f) => f.batch)).toEqual([5, 3]);
    for (const [b, prompt] of prompts.entries()) {
      const alone = await decodeRows(
        new InPlaceBatch(await openLong(), () => openLong(), PAD, true),
        [prompt],
        (_, t) => tokens(b, t),
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
