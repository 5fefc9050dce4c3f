import { defineEnvironment, Environment, probeEnvironment, weightedReward, withFeedback } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import compose, { type ComposeAnswer } from '../src/index.ts';

const MAIN_JOB_WEIGHTS = { correct: 1, valid_calls: 0.1, progress: 0.5 };

describe.each([
  ['default weights', {}],
  ['the main job weights (progress 0.5)', { weights: MAIN_JOB_WEIGHTS }],
])('compose red-team with %s', (_label, options) => {
  it('holds every attack family to its ceiling', async () => {
    const environment = new Environment(compose, compose.parseConfig(options));
    const report = await probeEnvironment(environment, { tasks: 3 });
    const families = new Set(report.rows.map((r) => r.family));
    expect([...families].sort()).toEqual(['answer-spam', 'call-every-tool', 'generic']);
    for (const row of report.rows) {
      expect(row.verdict, `${row.attack}: ${row.error ?? JSON.stringify(row.worst)}`).toBe('pass');
      expect(row.episodes).toBeGreaterThan(0);
      expect(row.max).toBeLessThanOrEqual(row.ceiling + 1e-9);
    }
    // The generic adversaries are held to the format floor: a share of valid calls.
    expect(report.floor).toBe(environment.config.weights.valid_calls);
    // No attack is ever graded right.
    expect(report.rows.every((r) => (r.worst?.components.correct ?? 0) === 0)).toBe(true);
  });
});

it('answer spam beats a grade that takes any answer the episode gave', async () => {
  // The hole the suite exists to catch: grading every answer call instead of the first.
  const anyAnswer = defineEnvironment({
    ...compose,
    grade: ({ episode }) => {
      const gold = (episode.task.answer as ComposeAnswer).output;
      const given = episode.calls.filter((c) => c.name === 'answer').map((c) => (c.arguments as { answer: string }).answer);
      return weightedReward({ correct: given.includes(gold) ? 1 : 0, valid_calls: 1 }, episode.config.weights);
    },
  });
  const report = await probeEnvironment(new Environment(anyAnswer, anyAnswer.parseConfig({ depths: [1] })), { tasks: 3 });
  expect(report.rows.find((r) => r.attack === 'answer-spam')).toMatchObject({ verdict: 'above ceiling', max: 1.1 });
  expect(report.ok).toBe(false);
});

describe('compose red-team with Try Again (four re-attempts)', () => {
  // The try-again recipe's weights: the verdict and the reward are both composition.
  const options = { weights: { correct: 0, composed: 1, valid_calls: 0.1 } };

  it('holds every attack to its ceiling when a retry must compose: answer spam and guesses gain nothing', async () => {
    const wrapped = withFeedback(compose, { tryAgain: 4, correct: 'composed' });
    const report = await probeEnvironment(new Environment(wrapped, wrapped.parseConfig(options)), { tasks: 3 });
    for (const row of report.rows) expect(row.verdict, `${row.attack}: ${JSON.stringify(row.worst)}`).toBe('pass');
    expect(report.rows.find((r) => r.attack === 'guess-spam')?.episodes).toBeGreaterThan(0);
  });

  it('is beaten by answer spam when the verdict is any right string: every function on the input, then a guess per retry', async () => {
    const wrapped = withFeedback(compose, { tryAgain: 4, correct: 'correct' });
    const report = await probeEnvironment(
      new Environment(wrapped, wrapped.parseConfig({ weights: { correct: 1, valid_calls: 0.1 } })),
      { tasks: 3 },
    );
    const spam = report.rows.find((r) => r.attack === 'answer-spam');
    expect(spam?.verdict).toBe('above ceiling');
    expect(spam?.worst?.components.correct).toBe(1);
  });
});
