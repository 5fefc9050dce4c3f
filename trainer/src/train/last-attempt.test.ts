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
  lossMask: [0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1],
  turns: [
    turn([3, 5], [5, 7], ['Try again. It has 4 letters.']),
    turn([7, 9], [9, 10], ['ok']),
    turn([10, 12], [12, 12], []),
  ],
} as unknown as Trajectory;

describe('fromLastAttempt', () => {
  it('clears the loss mask up to the end of the last feedback observation, keeping the tokens', () => {
    const trained = fromLastAttempt(episode, 'Try again.');
    expect(trained.lossMask).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1]);
    expect(episode.lossMask[3]).toBe(1);
  });

  it('leaves an episode without feedback as it is', () => {
    expect(fromLastAttempt(episode, 'Not the message.')).toBe(episode);
  });
});
