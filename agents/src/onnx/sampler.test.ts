import { Rng } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { sampleToken } from './sampler.ts';

/** Logits whose softmax at temperature 1 is exactly `probabilities`. */
const logitsOf = (probabilities: number[]) => Float32Array.from(probabilities.map(Math.log));

/** How often each token comes out of `draws` samples, and the logprobs each was reported with. */
function tally(logits: Float32Array, sampling: Parameters<typeof sampleToken>[1], sequence: number[], draws: number) {
  const rng = new Rng(7);
  const counts = new Map<number, number>();
  const reported = new Map<number, { logprob: number; policyLogprob: number }>();
  for (let i = 0; i < draws; i++) {
    const s = sampleToken(logits, sampling, rng, sequence);
    counts.set(s.token, (counts.get(s.token) ?? 0) + 1);
    const seen = reported.get(s.token);
    if (seen) expect(s).toEqual({ token: s.token, ...seen });
    else reported.set(s.token, { logprob: s.logprob, policyLogprob: s.policyLogprob });
  }
  return { counts, reported };
}

describe('behaviour logprobs: the distribution a token was actually drawn from', () => {
  // p = (0.1, 0.2, 0.3, 0.4); token 9 is the decision token (`<tool_call>`), explored among {0, 1}.
  const p = [0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0, 0, 0].map((x) => (x === 0 ? 1e-30 : x));
  const logits = logitsOf(p);
  const explore = { epsilon: 0.5, tokenIds: [0, 1], afterTokenIds: [9] };

  it('ε-mixture at a decision point: q(x) = ε·[x ∈ C]/|C| + (1 − ε)·p(x), by hand', () => {
    // q = 0.25 + 0.5·0.1, 0.25 + 0.5·0.2, 0.5·0.3, 0.5·0.4 = 0.30, 0.35, 0.15, 0.20
    const q = [0.3, 0.35, 0.15, 0.2];
    const draws = 20_000;
    const { counts, reported } = tally(logits, { maxTokens: 1, temperature: 1, explore }, [5, 9], draws);
    for (const [token, expected] of q.entries()) {
      expect(reported.get(token)!.logprob).toBeCloseTo(Math.log(expected), 6);
      // The policy's own, kept beside it: log p(x), what the learner recomputes.
      expect(reported.get(token)!.policyLogprob).toBeCloseTo(Math.log(p[token]!), 6);
      // And the draws follow q, not p (4σ of a binomial share).
      const share = counts.get(token)! / draws;
      expect(Math.abs(share - expected)).toBeLessThan(4 * Math.sqrt((expected * (1 - expected)) / draws));
    }
  });

  it('away from a decision point the policy draws alone: q = p', () => {
    const { reported } = tally(logits, { maxTokens: 1, temperature: 1, explore }, [5, 6], 2_000);
    for (const [token, r] of reported) {
      expect(r.logprob).toBeCloseTo(Math.log(p[token]!), 6);
      expect(r.policyLogprob).toBe(r.logprob);
    }
  });

  it('top-p truncation renormalises over the nucleus, and the mixture takes the truncated policy', () => {
    // top-p 0.65 keeps {3, 2} (0.4 + 0.3): p̃ = 4/7, 3/7 there, 0 elsewhere.
    const truncated = tally(logits, { maxTokens: 1, temperature: 1, topP: 0.65 }, [5], 2_000).reported;
    expect([...truncated.keys()].sort()).toEqual([2, 3]);
    expect(truncated.get(3)!.logprob).toBeCloseTo(Math.log(4 / 7), 6);
    expect(truncated.get(2)!.logprob).toBeCloseTo(Math.log(3 / 7), 6);
    expect(truncated.get(3)!.policyLogprob).toBeCloseTo(Math.log(0.4), 6);
    // With exploration: q = 0.25, 0.25, 0.5·3/7, 0.5·4/7; tokens 0 and 1 only by exploring.
    const mixed = tally(logits, { maxTokens: 1, temperature: 1, topP: 0.65, explore }, [5, 9], 4_000).reported;
    expect(mixed.get(0)!.logprob).toBeCloseTo(Math.log(0.25), 6);
    expect(mixed.get(1)!.logprob).toBeCloseTo(Math.log(0.25), 6);
    expect(mixed.get(2)!.logprob).toBeCloseTo(Math.log(1.5 / 7), 6);
    expect(mixed.get(3)!.logprob).toBeCloseTo(Math.log(2 / 7), 6);
  });

  it('temperature: the policy at T, and a greedy pick is a point mass', () => {
    const hot = tally(logits, { maxTokens: 1, temperature: 2 }, [5], 500).reported;
    const z = p.reduce((a, x) => a + Math.sqrt(x), 0);
    for (const [token, r] of hot) expect(r.logprob).toBeCloseTo(Math.log(Math.sqrt(p[token]!) / z), 6);
    const greedy = sampleToken(logits, { maxTokens: 1, temperature: 0, explore }, new Rng(1), [5, 9]);
    expect(greedy).toEqual({ token: 3, logprob: 0, policyLogprob: expect.closeTo(Math.log(0.4), 6) });
  });

  it('every exploration choice already tried: the policy decides, and q = p', () => {
    const untried = { ...explore, among: 'untried' as const };
    // 0 and 1 are both mentioned (before the first decision) and both tried since.
    const { reported } = tally(logits, { maxTokens: 1, temperature: 1, explore: untried }, [0, 1, 9, 0, 9, 1, 9], 500);
    for (const [token, r] of reported) expect(r.logprob).toBeCloseTo(Math.log(p[token]!), 6);
  });
});
