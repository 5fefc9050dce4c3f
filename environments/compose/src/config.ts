import { z } from 'zod';
import { FUNCTION_NAMES, type FunctionName } from './functions.ts';

export const ComposeConfigSchema = z
  .object({
    /** Which string functions exist as skills (at least 2). */
    functions: z
      .array(z.enum(FUNCTION_NAMES as [FunctionName, ...FunctionName[]]))
      .min(2)
      .default(FUNCTION_NAMES),
    /** Composition depths to generate tasks for (1 = a single function). */
    depths: z.array(z.number().int().min(1).max(8)).min(1).default([1, 2, 3]),
    /** Tasks generated per depth before the split. */
    tasksPerDepth: z.number().int().positive().default(400),
    /** Characters input strings are drawn from. */
    alphabet: z.string().min(2).default('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'),
    minLength: z.number().int().min(1).default(3),
    maxLength: z.number().int().min(1).default(8),
    /**
     * Keep only chains in which every function changes the string it gets. Otherwise a step can be
     * skipped and the answer still be right (`swap_ends` of "aba"): with alphabet `abc` that is a
     * fifth of depth-2 tasks, and accuracy would credit composition that never happened.
     */
    everyStepChanges: z.boolean().default(true),
    /** Share of ordered function pairs that appear only in test tasks (composition generalisation). */
    heldOutPairFraction: z.number().min(0).max(1).default(0.25),
    /**
     * How a prompt writes the chain: `compose` is `g ∘ f("x")`, `nested` is `g(f("x"))`. Depth-1
     * prompts are the same in both (`f("x")`); in `nested` every name sits in the `name(` pattern
     * depth-1 demonstrations teach.
     */
    notation: z.enum(['compose', 'nested']).default('compose'),
    /** Seed of the task set and of the held-out pairs. */
    seed: z.number().int().default(0),
    /** Assistant turns per episode. */
    maxTurns: z.number().int().positive().default(6),
    /**
     * Reward weights, each in [0, 1]: `correct` is exact match of the final answer, `valid_calls` the
     * share of well-formed tool calls, `progress` the share of the chain applied correctly in order
     * in an episode that answers (a process reward: partial credit that gives group-relative
     * advantages a signal before any episode succeeds; none for never answering), `composed` a right
     * answer reached by exactly the chain's calls in order (some wrong chains give the right string:
     * reverse and upper commute). Weight 0 keeps a component as a logged metric.
     */
    weights: z
      .object({
        correct: z.number().min(0).max(1).default(1),
        valid_calls: z.number().min(0).max(1).default(0.1),
        progress: z.number().min(0).max(1).default(0),
        composed: z.number().min(0).max(1).default(0),
      })
      .prefault({}),
  })
  .refine((c) => c.minLength <= c.maxLength, {
    message: 'minLength must not exceed maxLength',
    path: ['minLength'],
  });
export type ComposeConfig = z.infer<typeof ComposeConfigSchema>;
