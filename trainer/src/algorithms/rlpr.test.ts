import { describe, expect, it } from 'vitest';
import { answerSpan } from '../train/rlpr.ts';
import { debiasedReward, meanTokenProbability, stdFilter } from './rlpr.ts';

describe('RLPR (Yu et al. 2025), hand-computed', () => {
  it('the reward is the mean per-token probability of the reference answer, not the sequence likelihood', () => {
    // p = 0.9, 0.5, 0.1: mean 0.5 (the product, 0.045, would let one unlikely token decide).
    expect(meanTokenProbability([Math.log(0.9), Math.log(0.5), Math.log(0.1)])).toBeCloseTo(0.5, 12);
    expect(meanTokenProbability([])).toBe(0);
  });

  it('debiasing takes away the probability without reasoning, clipped to [0, 1]', () => {
    expect(debiasedReward(0.7, 0.2)).toBeCloseTo(0.5, 12);
    // Reasoning that made the answer less likely earns nothing, not a negative reward.
    expect(debiasedReward(0.2, 0.7)).toBe(0);
  });

  it('std filtering: the EMA starts at the first mean, filters from `active` on, with the EMA before the update', () => {
    const config = { beta: 0.5, emaRatio: 0.9 };
    // Step 1, not yet active: keeps all, EMA = mean(0.2, 0.4) = 0.3.
    const first = stdFilter([0.2, 0.4], undefined, config, false);
    expect(first.keep).toEqual([true, true]);
    expect(first.threshold).toBe(0);
    expect(first.ema).toBeCloseTo(0.3, 12);
    // Step 2, active: threshold 0.5 × 0.3 = 0.15; 0.1 goes, 0.16 and 0.49 stay; EMA = 0.9·0.3 + 0.1·0.25.
    const second = stdFilter([0.1, 0.16, 0.49], first.ema, config, true);
    expect(second.threshold).toBeCloseTo(0.15, 12);
    expect(second.keep).toEqual([false, true, true]);
    expect(second.ema).toBeCloseTo(0.9 * 0.3 + 0.1 * 0.25, 12);
    // No groups: the EMA stands.
    expect(stdFilter([], 0.3, config, true).ema).toBe(0.3);
  });

  it("the answer's own tokens: what a call adds over the same call with empty string arguments", () => {
    // <call>answer "abba"</call> against <call>answer ""</call>: tokens 3..7 are the answer.
    const call = [1, 2, 9, 5, 6, 6, 5, 9, 4];
    const blank = [1, 2, 9, 9, 4];
    expect(answerSpan(call, blank)).toEqual({ start: 3, end: 7 });
    // No string argument to blank: the whole call.
    expect(answerSpan(call, call)).toEqual({ start: 0, end: call.length });
  });
});
