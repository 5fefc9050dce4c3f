import { initDecoderWeights } from '@toolgym/agents';
import { describe, expect, it } from 'vitest';
import { createEmbeddedLearner } from '../learner/embedded-learner.ts';
import { datumFromSequence } from '../learner/learner.ts';
import { TEST_DECODER } from '../learner/test-decoder.ts';
import { memoryMetrics, residentBytes } from './memory-metrics.ts';
import { deterministicMetricLines } from './metrics.ts';

/** Room for a batch whose attention scores outgrow the heap a short batch leaves. */
const MODEL = { ...TEST_DECODER, maxPositions: 512 };

describe('memory metrics', () => {
  it('the resident set counts memory the process touches, and its peak stays at or above it', () => {
    const before = residentBytes();
    const block = new Uint8Array(96 * 2 ** 20).fill(1);
    const after = residentBytes();
    expect(block[block.length - 1]).toBe(1);
    expect(after.rss - before.rss).toBeGreaterThan(64 * 2 ** 20);
    expect(after.peak).toBeGreaterThanOrEqual(after.rss);
  });

  it("report the wasm learner's heap, which grows with the longest micro-batch", async () => {
    const learner = await createEmbeddedLearner({
      decoder: MODEL,
      weights: initDecoderWeights(MODEL, { seed: 1, std: 0.02 }),
    });
    const batch = (length: number) =>
      Array.from({ length: 4 }, (_, b) => {
        const tokens = Array.from({ length }, (_, i) => (i * 5 + b) % MODEL.vocabSize);
        return datumFromSequence(
          tokens,
          tokens.map(() => 1),
        );
      });
    await learner.forwardBackward(batch(16), 'cross_entropy');
    const small = await learner.heapBytes();
    await learner.forwardBackward(batch(512), 'cross_entropy');
    const large = await learner.heapBytes();
    // 4 sequences × 4 heads × 512² attention scores, tens of bytes each: well over 16 MB more.
    expect(large - small).toBeGreaterThan(16 * 2 ** 20);
    const metrics = await memoryMetrics(learner);
    expect(metrics['memory/learner_heap_mb']).toBe(large / 2 ** 20);
    expect(metrics['memory/rss_mb']).toBeGreaterThan(metrics['memory/learner_heap_mb']! / 2);
    expect(metrics['memory/peak_rss_mb']).toBeGreaterThanOrEqual(metrics['memory/rss_mb']!);
    await learner.close();
  }, 120_000);

  it('are left out of the deterministic metric lines, as timing is', () => {
    const line = {
      runId: 'r',
      phase: 'rl',
      step: 1,
      time: 5,
      'reward/mean': 0.5,
      'timing/step_s': 2,
      'memory/rss_mb': 900,
    };
    expect(deterministicMetricLines(JSON.stringify(line))).toEqual([
      { phase: 'rl', step: 1, 'reward/mean': 0.5 },
    ]);
  });
});
