import type { Trajectory } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { TrainConfigError } from './config.ts';
import { demoBatch, packedDatum } from './learner-data.ts';
import { Rng } from '@toolgym/protocol';
import { demonstrationsThatFit, oracleShortfall, turnsLongerThan } from './supervised.ts';

/** A demonstration of `length` tokens: a prompt of 4, then trained tokens, then `tail` untrained (the last tool result). */
const demo = (id: string, length: number, tail = 0): Trajectory =>
  ({
    id,
    tokens: Int32Array.from({ length }, (_, i) => i % 200),
    lossMask: Uint8Array.from({ length }, (_, i) => (i >= 4 && i < length - tail ? 1 : 0)),
  }) as unknown as Trajectory;

describe('demonstrations longer than the context', () => {
  it('are left out and counted; what is kept trains as it was played', () => {
    // A datum is the sequence up to its last trained token, less one: 1,025 tokens fit 1,024 positions.
    const demos = [demo('a', 600), demo('b', 1025), demo('c', 1026), demo('d', 1204), demo('e', 1100, 90)];
    const { kept, overContext } = demonstrationsThatFit('warm-up', demos, 1024);
    expect(kept.map((t) => t.id)).toEqual(['a', 'b', 'e']);
    expect(overContext).toBe(2);
    // Every batch drawn from what is kept fits the learner: no datum above maxPositions.
    const batch = demoBatch({ batchSize: 16, pack: 1 }, kept, new Rng(1), 1024);
    for (const d of batch) expect(d.modelInput.tokens.length).toBeLessThanOrEqual(1024);
    expect(packedDatum([kept[2]!], 1024).modelInput.tokens).toHaveLength(1009);
  });

  it('fail the phase with the context to set only when none is left', () => {
    const demos = [demo('a', 1300), demo('b', 1204)];
    expect(() => demonstrationsThatFit('warm-up', demos, 1024)).toThrow(TrainConfigError);
    expect(() => demonstrationsThatFit('warm-up', demos, 1024)).toThrow(
      "warm-up: all 2 of the oracle's demonstrations are longer than the context (maxPositions 1024; the shortest has 1204 tokens)",
    );
    try {
      demonstrationsThatFit('warm-up', demos, 1024);
    } catch (error) {
      expect(error).toMatchObject({
        code: 'invalid_train_config',
        hint: expect.stringContaining('at least 1204'),
      });
    }
    expect(demonstrationsThatFit('warm-up', [demo('a', 1204)], 2048).overContext).toBe(0);
  });
});

describe('demonstrations whose turns are longer than a sampling limit', () => {
  /** A demonstration whose turns sample these many tokens each. */
  const turns = (...lengths: number[]) => {
    let start = 10;
    return {
      turns: lengths.map((n) => {
        const sampled = { start, end: start + n };
        start += n + 5;
        return { sampled };
      }),
    } as unknown as Trajectory;
  };

  it('are counted once each, by their longest turn, the end token included', () => {
    const demos = [turns(40, 48), turns(49), turns(12, 300, 60), turns()];
    expect(turnsLongerThan(demos, 48)).toBe(2);
    expect(turnsLongerThan(demos, 256)).toBe(1);
    expect(turnsLongerThan(demos, 300)).toBe(0);
    expect(turnsLongerThan([], 1)).toBe(0);
  });
});

describe("the oracle's shortfall", () => {
  const episode = (id: string, status: string, extra: object = {}) =>
    ({ id, status, ...extra }) as unknown as Trajectory;

  it('says how many tasks the oracle failed and how those episodes ended, and nothing when it solved all', () => {
    const solved = [episode('a', 'terminated'), episode('b', 'terminated')];
    const all = [
      ...solved,
      episode('c', 'terminated', { tokenization: 'exact' }),
      episode('d', 'failed', { failure: { code: 'sandbox_failed' } }),
      episode('e', 'failed', { failure: { code: 'sandbox_failed' } }),
      episode('f', 'truncated', { truncation: 'max_turns' }),
    ];
    expect(oracleShortfall('warm-up', all, solved)).toBe(
      'warm-up: the oracle solved 2 of 6 tasks; the others: 1 terminated (graded wrong), 2 failed (sandbox_failed), 1 truncated (max_turns)',
    );
    expect(oracleShortfall('warm-up', solved, solved)).toBeUndefined();
  });
});
