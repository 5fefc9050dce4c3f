import { z } from 'zod';
import { MessageSchema, ToolCallSchema, ToolResultSchema } from './message.ts';
import { RewardBreakdownSchema } from './reward.ts';
import { plainArray, tokenArraySchema } from './token-arrays.ts';

export const TRAJECTORY_SCHEMA_VERSION = 1 as const;

/** A half-open span `[start, end)` of token positions in `Trajectory.tokens`. */
export const SpanSchema = z.object({
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
});
export type Span = z.infer<typeof SpanSchema>;

export const FinishReasonSchema = z.enum(['stop', 'length', 'tool_call', 'stop_string', 'abort']);
export type FinishReason = z.infer<typeof FinishReasonSchema>;

/** A parse failure of the policy's output; shown to the model as an error observation. */
export const ParseErrorSchema = z.object({ code: z.string(), message: z.string() });
export type ParseError = z.infer<typeof ParseErrorSchema>;

/**
 * One assistant turn: the tokens it sampled, the calls parsed from them, the results that came
 * back, and the observation tokens the chat template appended after it.
 */
export const TurnSchema = z.object({
  index: z.number().int().nonnegative(),
  policyVersion: z.number().int().nonnegative(),
  /** Tokens the policy sampled in this turn (loss mask 1 here and only here). */
  sampled: SpanSchema,
  /** Tokens rendered after the turn: tool results and the header of the next assistant turn. */
  observation: SpanSchema,
  text: z.string(),
  finishReason: FinishReasonSchema,
  toolCalls: z.array(ToolCallSchema),
  toolResults: z.array(ToolResultSchema),
  parseErrors: z.array(ParseErrorSchema).default([]),
  /**
   * The end or stop token the policy sampled, when it ended on one (a model may have several, e.g.
   * Qwen2.5's `<|im_end|>` and `<|endoftext|>`); it is the last token of `sampled`.
   */
  stopTokenId: z.number().int().nonnegative().optional(),
  /**
   * Index into `Trajectory.branches` of the sequence this turn's spans refer to; absent for the
   * main sequence (`Trajectory.tokens`).
   */
  branch: z.number().int().nonnegative().optional(),
  generateMs: z.number().nonnegative(),
  toolMs: z.number().nonnegative(),
});
export type Turn = z.infer<typeof TurnSchema>;

/** Token ids: an `Int32Array` in memory, an array of non-negative integers in JSON. */
export const TokenIdsSchema = tokenArraySchema<Int32Array>(
  Int32Array,
  z.number().int().nonnegative(),
  (id) => id >= 0,
  'non-negative ids',
);
/** A loss mask: a `Uint8Array` of 0 and 1 in memory, an array of 0 and 1 in JSON. */
export const LossMaskSchema = tokenArraySchema<Uint8Array>(
  Uint8Array,
  z.literal([0, 1]),
  (m) => m <= 1,
  '0 and 1',
);
/** Logprobs: a `Float64Array` in memory, an array of finite numbers in JSON. */
export const LogprobsSchema = tokenArraySchema<Float64Array>(
  Float64Array,
  z.number(),
  Number.isFinite,
  'finite numbers',
);

/**
 * A token sequence closed because the chat template rewrote history after it (stripped earlier
 * reasoning, compacted the context): the next sequence starts from the template's new render. Each
 * branch is exact on its own and trains its own sampled tokens; all share the episode's reward.
 */
export const BranchSchema = z.object({
  tokens: TokenIdsSchema,
  lossMask: LossMaskSchema,
  logprobs: LogprobsSchema,
  /** The policy's own logprob of each token, as `Trajectory.policyLogprobs`. */
  policyLogprobs: LogprobsSchema.optional(),
  promptLength: z.number().int().nonnegative(),
});
export type Branch = z.infer<typeof BranchSchema>;

/**
 * How an episode ended: `terminated` (the task ended: answer given), `truncated` (a limit cut it:
 * turns, tokens, time), or `failed` (the policy, environment or sandbox broke; the trainer leaves
 * it out).
 */
export const EpisodeStatusSchema = z.enum(['terminated', 'truncated', 'failed']);
export type EpisodeStatus = z.infer<typeof EpisodeStatusSchema>;

export const FailureSchema = z.object({ code: z.string(), message: z.string() });
export type Failure = z.infer<typeof FailureSchema>;

/**
 * `exact`: token ids came from the engine and the template, never from re-tokenising text; the
 * trainer may use them. `text-only`: the engine gave no token ids; fine for eval, refused by the
 * trainer.
 */
export const TokenizationSchema = z.enum(['exact', 'text-only']);

/** Where an episode ran: its run, RL step and group, environment, task and seed. */
export const EPISODE_PLACE = {
  runId: z.string().optional(),
  step: z.number().int().nonnegative().optional(),
  groupId: z.string().optional(),
  envId: z.string(),
  taskId: z.string(),
  seed: z.number().int(),
};

/** A whole episode at token level: what the learner trains on and the replay viewer shows. */
export const TrajectorySchema = z
  .object({
    schemaVersion: z.literal(TRAJECTORY_SCHEMA_VERSION),
    id: z.string(),
    ...EPISODE_PLACE,
    /** The conversation as rendered: system, user prompt, assistant turns and tool results. */
    messages: z.array(MessageSchema),
    /** Every token id of the episode: prompt, sampled turns, observations. */
    tokens: TokenIdsSchema,
    /** 1 exactly on tokens the policy sampled. */
    lossMask: LossMaskSchema,
    /**
     * Logprob of each sampled token under the distribution it was drawn from (the behaviour policy:
     * temperature, truncation and exploration as applied); 0 where the mask is 0. Importance ratios
     * divide by it.
     */
    logprobs: LogprobsSchema,
    /**
     * The policy's own logprob of each sampled token, log-softmax(logits / temperature), when the
     * engine reported it; 0 where the mask is 0. Differs from `logprobs` where truncation or
     * exploration changed the distribution; for diagnostics only.
     */
    policyLogprobs: LogprobsSchema.optional(),
    /** Length of the initial prompt (system + user + first assistant header). */
    promptLength: z.number().int().nonnegative(),
    turns: z.array(TurnSchema),
    /**
     * Earlier sequences of an episode whose template rewrote history, in order; `tokens` is then
     * the last one. Absent (as in trajectories recorded before branches existed) when the episode
     * is one sequence.
     */
    branches: z.array(BranchSchema).optional(),
    /**
     * An episode branched from another of its group at a turn (adaptive branching, ARPO): it
     * replayed that episode's first `turn` turns token for token (loss mask 0 here: they are
     * trained in the episode that sampled them) and sampled anew from `turn` on. The links of a
     * group form its rollout tree.
     */
    branchedFrom: z.object({ trajectoryId: z.string(), turn: z.number().int().positive() }).optional(),
    tokenization: TokenizationSchema,
    status: EpisodeStatusSchema,
    /** Why a truncated episode stopped (`max_turns`, `token_budget`, …). */
    truncation: z.string().optional(),
    failure: FailureSchema.optional(),
    reward: RewardBreakdownSchema,
    /** Per-token advantages, filled in by the trainer. */
    advantages: z.array(z.number()).optional(),
    timing: z.object({
      startedAt: z.number(),
      ms: z.number().nonnegative(),
      generateMs: z.number().nonnegative(),
      toolMs: z.number().nonnegative(),
    }),
  })
  .superRefine((t, ctx) => {
    const n = t.tokens.length;
    if (t.lossMask.length !== n || t.logprobs.length !== n) {
      ctx.addIssue({
        code: 'custom',
        message: `tokens, lossMask and logprobs must have one length (got ${n}, ${t.lossMask.length}, ${t.logprobs.length})`,
      });
    }
    if (t.policyLogprobs && t.policyLogprobs.length !== n)
      ctx.addIssue({
        code: 'custom',
        path: ['policyLogprobs'],
        message: `policyLogprobs must have one entry per token (got ${t.policyLogprobs.length} for ${n})`,
      });
    if (t.promptLength > n)
      ctx.addIssue({ code: 'custom', path: ['promptLength'], message: 'beyond tokens' });
    t.branches?.forEach((b, i) => {
      if (b.lossMask.length !== b.tokens.length || b.logprobs.length !== b.tokens.length)
        ctx.addIssue({
          code: 'custom',
          path: ['branches', i],
          message: 'tokens, lossMask and logprobs differ in length',
        });
    });
    t.turns.forEach((turn, i) => {
      if (turn.branch !== undefined && turn.branch >= (t.branches?.length ?? 0))
        ctx.addIssue({ code: 'custom', path: ['turns', i, 'branch'], message: 'no such branch' });
    });
  });
export type Trajectory = z.infer<typeof TrajectorySchema>;

/** The per-token arrays of a sequence as JSON holds them: arrays of numbers. */
interface SequenceArraysJson {
  tokens: number[];
  lossMask: Array<0 | 1>;
  logprobs: number[];
  policyLogprobs?: number[];
}
type SequenceArrays = 'tokens' | 'lossMask' | 'logprobs' | 'policyLogprobs';

/** A branch as JSON holds it. */
export type BranchJson = Omit<Branch, SequenceArrays> & SequenceArraysJson;

/** A trajectory as JSON holds it (what `TrajectorySchema` parses). */
export type TrajectoryJson = Omit<Trajectory, SequenceArrays | 'branches'> &
  SequenceArraysJson & { branches?: BranchJson[] };

/** A branch with its per-token arrays as plain arrays; every other field as it is, the keys in the same order. */
export const branchJson = (b: Branch): BranchJson => plainSequence(b);

function plainSequence<T extends Branch>(s: T): Omit<T, SequenceArrays> & SequenceArraysJson {
  return {
    ...s,
    tokens: plainArray(s.tokens),
    lossMask: plainArray(s.lossMask) as Array<0 | 1>,
    logprobs: plainArray(s.logprobs),
    ...(s.policyLogprobs ? { policyLogprobs: plainArray(s.policyLogprobs) } : {}),
  };
}

/**
 * The trajectory ready for `JSON.stringify`: its per-token arrays as plain arrays, converted once
 * here, where JSON is written (JSON writes a typed array as an object). The JSON is byte for byte
 * what a trajectory holding plain arrays wrote.
 */
export function trajectoryJson(t: Trajectory): TrajectoryJson {
  const json = plainSequence(t);
  return t.branches ? { ...json, branches: t.branches.map(plainSequence) } : (json as TrajectoryJson);
}

/** A group as JSON holds it (what `TrajectoryGroupSchema` parses). */
export type TrajectoryGroupJson = Omit<TrajectoryGroup, 'trajectories'> & { trajectories: TrajectoryJson[] };

/** A group ready for `JSON.stringify` (see `trajectoryJson`). */
export function trajectoryGroupJson(g: TrajectoryGroup): TrajectoryGroupJson {
  return { ...g, trajectories: g.trajectories.map(trajectoryJson) };
}

/** The N episodes of one task played in one step: the unit of group-relative advantages. */
export const TrajectoryGroupSchema = z.object({
  schemaVersion: z.literal(TRAJECTORY_SCHEMA_VERSION),
  id: z.string(),
  runId: z.string().optional(),
  step: z.number().int().nonnegative().optional(),
  envId: z.string(),
  taskId: z.string(),
  trajectories: z.array(TrajectorySchema),
});
export type TrajectoryGroup = z.infer<typeof TrajectoryGroupSchema>;
