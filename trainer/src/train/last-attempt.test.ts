import type { Trajectory, Turn } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { fromLastAttempt } from './last-attempt.ts';

const turn = (sampled: [number, number], observation: [number, number], results: string[]): Turn =>
  ({
    sampled: { start: sampled[0], end: sampled[1] },
    observation: { start: observation[0], end: observation[1] },
    toolResults: results.map((content, i) => ({ callId: `c${i}`, name: 'answer', content, isError: false })),
  }) as unknown as Turn;

/** Prompt 0-2, turn 0 samples 3-4 and sees 5-6 ("Try again." after a wrong answer), turn 1 samples 7-8 and sees 9, turn 2 samples 10-11. */
const episode = {
  lossMask: Uint8Array.of(0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1),
  turns: [
    turn([3, 5], [5, 7], ['Try again. It has 4 letters.']),
    turn([7, 9], [9, 10], ['ok']),
    turn([10, 12], [12, 12], []),
  ],
} as unknown as Trajectory;

describe('fromLastAttempt', () => {
  it('clears the loss mask of the turns up to the last feedback, keeping the tokens', () => {
    const trained = fromLastAttempt(episode, 'Try again.');
    expect(Array.from(trained.lossMask)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1]);
    expect(episode.lossMask[3]).toBe(1);
  });

  it('clears it in the sequence each turn was sampled in, a branch after a history rewrite included', () => {
    // Turn 0 was sampled in branch 0 (tokens 3-4 there); turns 1 and 2 in the main sequence.
    const branched = {
      ...episode,
      lossMask: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1),
      branches: [
        {
          tokens: Int32Array.of(1, 2, 3, 4, 5),
          lossMask: Uint8Array.of(0, 0, 0, 1, 1),
          logprobs: new Float64Array(5),
          promptLength: 3,
        },
      ],
      turns: [{ ...episode.turns[0]!, branch: 0 }, ...episode.turns.slice(1)],
    } as unknown as Trajectory;
    const trained = fromLastAttempt(branched, 'Try again.');
    expect(Array.from(trained.branches![0]!.lossMask)).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(trained.lossMask)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1]);
  });

  it('leaves an episode without feedback as it is', () => {
    expect(fromLastAttempt(episode, 'Not the message.')).toBe(episode);
  });
});
