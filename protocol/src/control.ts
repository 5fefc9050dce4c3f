import { z } from 'zod';
import { SplitSchema, TaskSchema } from './task.ts';
import { RewardBreakdownSchema } from './reward.ts';
import { ToolSpecSchema } from './message.ts';

/**
 * The environment control plane: JSON-RPC requests that ToolGym adds to an MCP session, next to
 * `tools/list` and `tools/call`. One MCP session plays one episode at a time. Documented in
 * environments/kit/PROTOCOL.md; any MCP client that can send a custom request can drive it.
 */
export const CONTROL_METHODS = {
  info: 'toolgym/info',
  tasks: 'toolgym/tasks',
  start: 'toolgym/episode/start',
  end: 'toolgym/episode/end',
  oracle: 'toolgym/episode/oracle',
} as const;

/** Key under a tool result's `_meta` that tells the client how the episode stands. */
export const EPISODE_META_KEY = 'toolgym/episode';

/**
 * Key under a `tools/call` request's `_meta`: the index (from 0) of the assistant turn that made the
 * call. The server cannot see assistant turns, so an agent loop that wants `maxTurns` enforced by the
 * environment says which turn each call belongs to; a client that sends none is bounded by
 * `maxToolCalls` alone.
 */
export const TURN_META_KEY = 'toolgym/turn';

/** Which episode limit cut an episode short. */
export const TruncationSchema = z.enum(['max_turns', 'max_tool_calls', 'time_limit']);
export type Truncation = z.infer<typeof TruncationSchema>;

export const EpisodeLimitsSchema = z.object({
  /** Assistant turns before the episode is truncated. */
  maxTurns: z.number().int().positive(),
  /** A tool call running longer is cancelled and reported to the model. */
  toolTimeoutMs: z.number().int().positive(),
  /** A tool result longer than this is cut, with a marker saying so. */
  maxToolOutputBytes: z.number().int().positive(),
  /** Tool calls the episode accepts; later calls are refused with `episode_over` and the episode is truncated. */
  maxToolCalls: z.number().int().positive(),
  /** Wall-clock milliseconds from the episode's start; after that, calls are refused and the episode is truncated. */
  maxEpisodeMs: z.number().int().positive(),
  /**
   * Longest wall-clock time a tool's synchronous code may hold the server's event loop (every other
   * episode of the server waits meanwhile); it is stopped after that and the call ends with
   * `tool_timeout`. Pure tools run in a worker and are bounded by `toolTimeoutMs` instead.
   */
  syncBudgetMs: z.number().int().positive(),
});
export type EpisodeLimits = z.infer<typeof EpisodeLimitsSchema>;

export const EnvironmentInfoSchema = z.object({
  id: z.string(),
  version: z.number().int().positive(),
  description: z.string(),
  rewardRange: z.tuple([z.number(), z.number()]),
  limits: EpisodeLimitsSchema,
  taskCounts: z.object({ train: z.number().int(), test: z.number().int() }),
  tools: z.array(ToolSpecSchema),
});
export type EnvironmentInfo = z.infer<typeof EnvironmentInfoSchema>;

export const TasksParamsSchema = z.object({
  split: SplitSchema.optional(),
  offset: z.number().int().nonnegative().default(0),
  limit: z.number().int().positive().max(10_000).default(1000),
  /** Include gold answers (trainers need them for warm-up data; agents never see them). */
  withAnswers: z.boolean().default(false),
});
export const TasksResultSchema = z.object({ tasks: z.array(TaskSchema), total: z.number().int() });

export const StartParamsSchema = z.object({
  /** A task id; without one, the task is drawn from `split` with `seed`. */
  taskId: z.string().optional(),
  split: SplitSchema.default('train'),
  seed: z.number().int().default(0),
  /**
   * Join the match with this id as the task's seat (a task that declares one: `TaskSeat`): the
   * match's other seats are played by the sessions that join it with the same id (self-play),
   * not by the environment's scripted players.
   */
  match: z.string().min(1).max(256).optional(),
  /**
   * How far the training run that plays the episode is, from 0 (its first step) to 1 (its last),
   * for environments whose difficulty follows a schedule over training (ZeroSearch's noise
   * curriculum). Absent outside training.
   */
  progress: z.number().min(0).max(1).optional(),
});
export type StartParams = z.input<typeof StartParamsSchema>;
export const StartResultSchema = z.object({
  episodeId: z.string(),
  task: TaskSchema.omit({ answer: true }),
  limits: EpisodeLimitsSchema,
});
export type StartResult = z.infer<typeof StartResultSchema>;

export const EndParamsSchema = z.object({
  /** The assistant's last text when it ended without an answer tool (some environments grade it). */
  finalText: z.string().optional(),
});
export const EndResultSchema = z.object({
  episodeId: z.string(),
  /** The episode reached its end by itself (an answer tool) rather than being stopped. */
  terminated: z.boolean(),
  /** An episode limit cut it short (a call past a limit was refused, or the time ran out). */
  truncated: z.boolean(),
  /** Which limit, when `truncated`. */
  truncation: TruncationSchema.optional(),
  toolCalls: z.number().int().nonnegative(),
  reward: RewardBreakdownSchema,
});
export type EndResult = z.infer<typeof EndResultSchema>;

export const OracleResultSchema = z.object({
  calls: z.array(z.object({ name: z.string(), arguments: z.record(z.string(), z.unknown()) })),
});
export type OracleResult = z.infer<typeof OracleResultSchema>;

/** What `_meta[EPISODE_META_KEY]` of every tool result holds. */
export const EpisodeMetaSchema = z.object({
  episodeId: z.string(),
  terminated: z.boolean(),
  toolCalls: z.number().int(),
  /** The call's output was cut at `maxToolOutputBytes`. */
  truncated: z.boolean(),
  /** Error code when the call failed (`invalid_arguments`, `unknown_tool`, `tool_timeout`, `episode_over`, …). */
  errorCode: z.string().optional(),
  /** Set once an episode limit has cut the episode short: every later call is refused with `episode_over`. */
  truncation: TruncationSchema.optional(),
});
export type EpisodeMeta = z.infer<typeof EpisodeMetaSchema>;
