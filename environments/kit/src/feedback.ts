import type { RewardBreakdown } from '@toolgym/protocol';
import { z } from 'zod';
import { type EnvironmentDefinition, moduleOf, recordModule } from './define-environment.ts';
import { ConfigError, EpisodeStateError } from './errors.ts';

/**
 * Re-attempts after a wrong answer, as a wrapper around any environment whose grade has a 0/1
 * correctness component. A wrong answer does not end the episode: the answer tool's result becomes
 * the feedback (UFO's unary "try again", or with `guidance` the environment's own guidance, as
 * Agent-RLVR gives), and the agent answers again with the same tool, up to `tryAgain` times. Each
 * attempt is its own turns of the one trajectory; the episode's limits (turns, calls, time) hold
 * over all of them.
 */
export const FeedbackOptionsSchema = z
  .object({
    /** Wrong answers that are answered with feedback instead of ending the episode (UFO's code: 4, five answers in all). */
    tryAgain: z.number().int().positive(),
    /** What the agent reads after a wrong answer (UFO: "Let's try again."). */
    message: z.string().min(1).default("Let's try again."),
    /** The grade's component that says an answer is right; it must be 0 or 1 (`correct` on compose, `execution` on sql, `all_pass` on code). */
    correct: z.string().min(1).default('correct'),
    /** γ of UFO's exponential reward decay: an episode whose answer t (from 0) ends it earns γ^t of its grade (UFO's code: 0.5). */
    decay: z.number().gt(0).max(1).default(0.5),
    /** λ of UFO's repetition penalty λ·(1 − E/T) over the T answers given, E of them distinct (UFO's code: 0.5; 0 = off). */
    repetitionPenalty: z.number().min(0).default(0.5),
    /** Agent-RLVR: follow the message with the environment's guidance for the failed attempt (`EnvironmentSpec.guidance`). */
    guidance: z.boolean().default(false),
  })
  .strict();
export type FeedbackOptions = z.infer<typeof FeedbackOptionsSchema>;

/** What one wrong attempt left: its answer, as the answer tool gave it, and its grade. */
export interface FailedAttempt {
  answer: unknown;
  reward: RewardBreakdown;
}

/**
 * The environment with re-attempts after wrong answers. Its reward range widens by the repetition
 * penalty below and by the decay of a negative grade; its tools, tasks and limits are the inner ones.
 */
export function withFeedback<State, Config>(
  definition: EnvironmentDefinition<State, Config>,
  options: z.input<typeof FeedbackOptionsSchema>,
): EnvironmentDefinition<State, Config> {
  const parsed = FeedbackOptionsSchema.safeParse(options);
  if (!parsed.success)
    throw new ConfigError(
      `invalid feedback options for '${definition.ref}': ${parsed.error.issues.map((i) => `${i.path.join('.') || 'feedback'}: ${i.message}`).join('; ')}`,
      'feedback takes tryAgain (a whole number ≥ 1), message, correct, decay (0, 1], repetitionPenalty ≥ 0 and guidance',
    );
  const feedback = parsed.data;
  if (definition.feedback)
    throw new ConfigError(
      `'${definition.ref}' already has feedback`,
      'wrap an environment in withFeedback once',
    );
  if (feedback.guidance && !definition.guidance)
    throw new ConfigError(
      `'${definition.ref}' gives no guidance after a failed attempt`,
      'set feedback.guidance to false (unary feedback only), or use an environment that defines guidance (code, sql)',
    );
  const [lo, hi] = definition.rewardRange;
  const wrapped: EnvironmentDefinition<State, Config> = {
    ...definition,
    feedback,
    rewardRange: [Math.min(lo, 0) - feedback.repetitionPenalty, Math.max(hi, 0)],
    // Decay and penalty only lower what form earns: the inner floor still bounds skill-free play.
    formatFloor: (config) => definition.formatFloor?.(config) ?? lo,
  };
  // Pure tools run in workers that import the inner definition's module by its ref: the same tools.
  const moduleUrl = moduleOf(definition);
  if (moduleUrl) recordModule(wrapped, moduleUrl);
  return wrapped;
}

/** The one form answers are compared in for the repetition penalty: UFO's (whitespace removed, lower case). */
function normalisedAnswer(answer: unknown): string {
  const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
  return text.replace(/\s+/g, '').toLowerCase();
}

/** The correctness component of a grade, which must be 0 or 1. */
export function correctnessOf(
  reward: RewardBreakdown,
  feedback: FeedbackOptions,
  environment: string,
): 0 | 1 {
  const value = reward.components[feedback.correct];
  if (value === 0 || value === 1) return value;
  throw new EpisodeStateError(
    'feedback_component',
    `feedback needs '${feedback.correct}' to be a 0/1 component of ${environment}'s grade; it is ${value === undefined ? 'absent' : value}`,
    `set feedback.correct to one of ${Object.keys(reward.components).join(', ')} that is 0 or 1`,
  );
}

/**
 * The episode's reward after `failed` wrong attempts and the grade of how it ended (`final`, whose
 * answer, if it gave one, is `finalAnswer`).
 */
export function feedbackReward(
  final: RewardBreakdown,
  failed: readonly FailedAttempt[],
  finalAnswer: { given: boolean; answer?: unknown },
  feedback: FeedbackOptions,
): RewardBreakdown {
  // UFO (Liu et al. 2025), exponential reward decay: DecayReward(t) = γ^t · r, t the answer's index from 0.
  const t = failed.length;
  const decayed = feedback.decay ** t * final.total;
  // UFO, repetition penalty: Penalty(τ) = λ · (1 − E(τ)/T(τ)), E distinct answers among the T given.
  // An answer tool that ends without a value (code's submit) gives no answer to compare.
  const answers = [...failed.map((a) => a.answer), ...(finalAnswer.given ? [finalAnswer.answer] : [])].filter(
    (a) => a !== undefined,
  );
  const T = answers.length;
  const E = new Set(answers.map(normalisedAnswer)).size;
  const penalty = T === 0 ? 0 : feedback.repetitionPenalty * (1 - E / T);
  return {
    ...final,
    total: decayed - penalty,
    // Logged beside the grade's own components (weight 0): how many answers it took, what repeating cost.
    components: {
      ...final.components,
      attempts: t + (finalAnswer.given ? 1 : 0),
      repetition_penalty: penalty,
    },
    info: {
      ...final.info,
      failedAttempts: failed.map((a) => ({ answer: a.answer ?? null, total: a.reward.total })),
    },
  };
}
