/**
 * Re-attempts after a wrong answer (`withFeedback`): UFO's reward schedule by hand, the episode
 * going on after a wrong answer with the same answer tool, the episode's limits over all attempts,
 * Agent-RLVR's guidance in the observation, and the errors a bad configuration gets.
 */
import type { RewardBreakdown } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEnvironment } from './define-environment.ts';
import { Environment } from './episode.ts';
import { FeedbackOptionsSchema, feedbackReward, withFeedback } from './feedback.ts';
import { weightedReward } from './reward.ts';

/** Guess a word; `correct` is exact match, `format` 1 for any non-empty answer. */
const guess = defineEnvironment<object, { limits: { maxTurns: number; maxToolCalls: number } }>({
  id: 'guess',
  version: 1,
  description: 'Guess the word.',
  config: z.object({
    limits: z
      .object({ maxTurns: z.number(), maxToolCalls: z.number() })
      .default({ maxTurns: 8, maxToolCalls: 32 }),
  }),
  tasks: () => [{ id: 't', prompt: 'Which word?', answer: 'kiwi', split: 'train', meta: {} }],
  tools: {
    look: { description: 'Look around.', input: z.object({}), run: () => 'Nothing to see.' },
    answer: {
      description: 'Give the word. Ends the episode.',
      input: z.object({ word: z.string() }),
      run: ({ word }, { episode }) => {
        episode.terminate(word);
        return 'Answer recorded.';
      },
    },
  },
  setup: () => ({}),
  grade: ({ episode }) =>
    weightedReward(
      { correct: episode.answer === episode.task.answer ? 1 : 0, format: episode.answer ? 1 : 0, score: 0.5 },
      { correct: 1, format: 0.1 },
    ),
  guidance: ({ episode, reward }) =>
    `Your word '${String(episode.answer)}' earned ${reward.total}; it has 4 letters.`,
  rewardRange: [0, 1.1],
  limits: (config) => config.limits,
});

const feedback = (options: z.input<typeof FeedbackOptionsSchema>) => FeedbackOptionsSchema.parse(options);
const grade = (correct: 0 | 1, total: number): RewardBreakdown => ({
  total,
  components: { correct },
  weights: { correct: 1 },
  info: {},
});

async function play(env: Environment, words: string[], turnOf = (i: number) => i) {
  const episode = await env.openEpisode({ taskId: 't' });
  const outcomes = [];
  for (const [i, word] of words.entries())
    outcomes.push(await episode.callTool('answer', { word }, { turn: turnOf(i) }));
  return { episode, outcomes, end: await episode.end() };
}

describe("UFO's reward schedule", () => {
  const ufo = feedback({ tryAgain: 4 });

  it('is γ^t of the grade for an answer right at attempt t, with γ = 0.5 and no repeats', () => {
    // Right at once: 1. Right at the third answer (t = 2): 0.5² = 0.25. At the fifth (t = 4): 0.0625.
    expect(feedbackReward(grade(1, 1), [], { given: true, answer: 'kiwi' }, ufo).total).toBe(1);
    const two = ['fig', 'lime'].map((answer) => ({ answer, reward: grade(0, 0) }));
    expect(feedbackReward(grade(1, 1), two, { given: true, answer: 'kiwi' }, ufo).total).toBe(0.25);
    const four = ['fig', 'lime', 'pear', 'plum'].map((answer) => ({ answer, reward: grade(0, 0) }));
    expect(feedbackReward(grade(1, 1), four, { given: true, answer: 'kiwi' }, ufo).total).toBe(0.0625);
  });

  it('subtracts λ·(1 − E/T) for repeated answers, compared without case or whitespace', () => {
    // Answers 'Fig', ' fig', 'kiwi': T = 3, E = 2; 0.5² · 1 − 0.5 · (1 − 2/3) = 0.25 − 1/6.
    const failed = ['Fig', ' fig'].map((answer) => ({ answer, reward: grade(0, 0) }));
    const reward = feedbackReward(grade(1, 1), failed, { given: true, answer: 'kiwi' }, ufo);
    expect(reward.total).toBeCloseTo(0.25 - 1 / 6, 12);
    expect(reward.components).toMatchObject({
      correct: 1,
      attempts: 3,
      repetition_penalty: expect.closeTo(1 / 6, 12),
    });
    // Every answer wrong and the same: 0.5⁴ · 0 − 0.5 · (1 − 1/5) = −0.4.
    const same = Array.from({ length: 4 }, () => ({ answer: 'fig', reward: grade(0, 0) }));
    expect(feedbackReward(grade(0, 0), same, { given: true, answer: 'fig' }, ufo).total).toBeCloseTo(
      -0.4,
      12,
    );
  });

  it('decays what the last attempt earned by form too, and counts no answer where none was given', () => {
    // A wrong last answer that earns 0.1 by format, after one wrong answer: 0.5 · 0.1.
    const failed = [{ answer: 'fig', reward: grade(0, 0.1) }];
    expect(feedbackReward(grade(0, 0.1), failed, { given: true, answer: 'lime' }, ufo).total).toBeCloseTo(
      0.05,
      12,
    );
    // Truncated after two equal wrong answers, without a third: T = 2, E = 1.
    const twice = ['fig', 'fig'].map((answer) => ({ answer, reward: grade(0, 0.1) }));
    const cut = feedbackReward(grade(0, 0), twice, { given: false }, ufo);
    expect(cut.total).toBeCloseTo(-0.25, 12);
    expect(cut.components.attempts).toBe(2);
  });
});

describe('an environment with feedback', () => {
  const env = new Environment(withFeedback(guess, { tryAgain: 2 }), guess.parseConfig({}));

  it('answers a wrong answer with the message and goes on, through the same answer tool, up to tryAgain times', async () => {
    const { episode, outcomes, end } = await play(env, ['fig', 'lime', 'kiwi']);
    expect(outcomes.map((o) => [o.content, o.terminated, o.isError])).toEqual([
      ["Let's try again.", false, false],
      ["Let's try again.", false, false],
      ['Answer recorded.', true, false],
    ]);
    // Right at the third answer: 0.5² of the grade (correct 1 + format 0.1).
    expect(end.reward.total).toBeCloseTo(0.25 * 1.1, 12);
    expect(end.terminated).toBe(true);
    expect(end.reward.components.attempts).toBe(3);
    // The call log holds what the agent saw.
    expect(episode.calls.map((c) => c.output)).toEqual([
      "Let's try again.",
      "Let's try again.",
      'Answer recorded.',
    ]);
  });

  it('ends the episode at the answer after the last re-attempt, right or wrong', async () => {
    const { outcomes, end } = await play(env, ['fig', 'lime', 'pear', 'kiwi']);
    expect(outcomes.map((o) => o.terminated)).toEqual([false, false, true, true]);
    expect(outcomes[3]!.errorCode).toBe('episode_ended');
    // Wrong three times: 0.5² · format 0.1.
    expect(end.reward.total).toBeCloseTo(0.025, 12);
    expect(end.reward.components.correct).toBe(0);
  });

  it('keeps a right first answer at its full grade', async () => {
    const { outcomes, end } = await play(env, ['kiwi']);
    expect(outcomes[0]!.terminated).toBe(true);
    expect(end.reward.total).toBeCloseTo(1.1, 12);
  });

  it('grades each answer once: a right one when it is given, whose grade the end reuses', async () => {
    let grades = 0;
    const counted = new Environment(
      withFeedback(
        {
          ...guess,
          grade: (input) => {
            grades++;
            return guess.grade(input);
          },
        },
        { tryAgain: 2 },
      ),
      guess.parseConfig({}),
    );
    const count = async (words: string[]) => {
      grades = 0;
      const { end } = await play(counted, words);
      return { grades, total: end.reward.total };
    };
    // Right at the third answer: three answers, three grades (two wrong at the answer, the right one kept).
    expect(await count(['fig', 'lime', 'kiwi'])).toEqual({ grades: 3, total: expect.closeTo(0.275, 12) });
    expect(await count(['kiwi'])).toEqual({ grades: 1, total: expect.closeTo(1.1, 12) });
    // The last re-attempt is not graded at the answer (nothing follows it), only at the end.
    expect(await count(['fig', 'lime', 'pear'])).toEqual({ grades: 3, total: expect.closeTo(0.025, 12) });
    // A call after the right answer is in the call log the grade reads: graded again at the end.
    expect((await count(['kiwi', 'fig'])).grades).toBe(2);
  });

  it("holds every attempt to the episode's limits: turns and tool calls", async () => {
    const limited = new Environment(
      withFeedback(guess, { tryAgain: 5 }),
      guess.parseConfig({ limits: { maxTurns: 2, maxToolCalls: 32 } }),
    );
    const byTurns = await play(limited, ['fig', 'lime', 'kiwi']);
    expect(byTurns.outcomes.map((o) => o.errorCode)).toEqual([undefined, undefined, 'episode_over']);
    expect(byTurns.end).toMatchObject({ terminated: false, truncated: true, truncation: 'max_turns' });
    expect(byTurns.end.reward.components.correct).toBe(0);
    const fewCalls = new Environment(
      withFeedback(guess, { tryAgain: 5 }),
      guess.parseConfig({ limits: { maxTurns: 8, maxToolCalls: 2 } }),
    );
    const byCalls = await play(fewCalls, ['fig', 'lime', 'kiwi']);
    expect(byCalls.outcomes[2]!.errorCode).toBe('episode_over');
    expect(byCalls.end).toMatchObject({ truncated: true, truncation: 'max_tool_calls' });
  });

  it("follows the message with the environment's guidance when asked (Agent-RLVR)", async () => {
    const guided = new Environment(
      withFeedback(guess, {
        tryAgain: 1,
        message: 'Not yet.',
        guidance: true,
        decay: 1,
        repetitionPenalty: 0,
      }),
      guess.parseConfig({}),
    );
    const { outcomes, end } = await play(guided, ['fig', 'kiwi']);
    expect(outcomes[0]!.content).toBe("Not yet.\nYour word 'fig' earned 0.1; it has 4 letters.");
    // No decay: the guided attempt earns its whole grade, as Agent-RLVR rewards a guided trajectory.
    expect(end.reward.total).toBeCloseTo(1.1, 12);
  });

  it('fails the episode, naming the fix, when the correctness component is not 0/1', async () => {
    const scored = new Environment(
      withFeedback(guess, { tryAgain: 1, correct: 'score' }),
      guess.parseConfig({}),
    );
    const episode = await scored.openEpisode({ taskId: 't' });
    // The attempt's grade cannot say right or wrong: the answer stands, and end reports why.
    expect((await episode.callTool('answer', { word: 'fig' })).terminated).toBe(true);
    await expect(episode.end()).rejects.toMatchObject({
      code: 'feedback_component',
      hint: expect.stringContaining('correct'),
    });
  });

  it('refuses a configuration it cannot play: guidance without a guidance hook, bad numbers, wrapping twice', () => {
    const { guidance: _none, ...spec } = guess;
    const silent = defineEnvironment({ ...spec, id: 'silent' });
    expect(() => withFeedback(silent, { tryAgain: 1, guidance: true })).toThrow(/gives no guidance/);
    expect(() => withFeedback(guess, { tryAgain: 0 })).toThrow(/tryAgain/);
    expect(() => withFeedback(guess, { tryAgain: 1, decay: 1.5 })).toThrow(/decay/);
    expect(() => withFeedback(withFeedback(guess, { tryAgain: 1 }), { tryAgain: 1 })).toThrow(
      /already has feedback/,
    );
  });

  it('widens the reward range by the repetition penalty', () => {
    expect(withFeedback(guess, { tryAgain: 2 }).rewardRange).toEqual([-0.5, 1.1]);
  });
});
