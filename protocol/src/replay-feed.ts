import { z } from 'zod';
import { RewardBreakdownSchema } from './reward.ts';
import { EpisodeStatusSchema, TrajectorySchema, TurnSchema } from './trajectory.ts';

/**
 * The replay feed's wire format (websocket, one JSON object per text frame). See
 * replay/PROTOCOL.md for the semantics: cursors, resume, replay timing, slow clients.
 */
export const REPLAY_FEED_VERSION = 2 as const;

/**
 * A position in a store's event log. Every event (run status, turn, trajectory, step metrics)
 * gets the next integer when it is committed; cursors only grow, and survive server restarts.
 */
export const FeedCursorSchema = z.number().int().nonnegative();

export const FeedEventTypeSchema = z.enum(['run', 'turn', 'trajectory', 'step-metrics', 'episode']);
export type FeedEventType = z.infer<typeof FeedEventTypeSchema>;

export const RunStatusSchema = z.enum(['running', 'finished', 'failed']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** Server-side filters; an event that fails them is not sent (its cursor is still passed over). */
export const FeedFilterSchema = z.object({
  envId: z.string().optional(),
  taskId: z.string().optional(),
  /** Inclusive bounds on the trajectory's total reward (turn and trajectory events). */
  minReward: z.number().optional(),
  maxReward: z.number().optional(),
  /** Event types wanted; all when omitted. */
  types: z.array(FeedEventTypeSchema).optional(),
});
export type FeedFilter = z.infer<typeof FeedFilterSchema>;

/** The one message a client sends first. */
export const FeedSubscribeSchema = z.object({
  type: z.literal('subscribe'),
  /** One run, or every run when omitted. */
  runId: z.string().optional(),
  /** Deliver events whose cursor is greater than this (0 = from the beginning). */
  after: FeedCursorSchema.default(0),
  /** `live`: history after `after`, then follow new events. `replay`: history at the original pace, then `end`. */
  mode: z.enum(['live', 'replay']).default('live'),
  /** Replay only: 2 plays twice as fast as recorded; 0 sends as fast as the client reads. */
  speed: z.number().nonnegative().default(1),
  /** Replay only: the longest pause kept between two events, in ms of replay time. */
  maxGapMs: z.number().nonnegative().default(5_000),
  filter: FeedFilterSchema.default({}),
  /** Trajectory messages carry the whole trajectory (token arrays included), not only its summary. */
  full: z.boolean().default(false),
  /**
   * Per run, the highest `seq` already received: those events are passed over. A client that saw
   * events before their commit resumes with them, so it gets none twice.
   */
  seqs: z.record(z.string(), z.number().int().nonnegative()).default({}),
});
export type FeedSubscribe = z.infer<typeof FeedSubscribeSchema>;

export const FeedClientMessageSchema = z.discriminatedUnion('type', [FeedSubscribeSchema]);
export type FeedClientMessage = z.infer<typeof FeedClientMessageSchema>;

/** What a list of trajectories shows; the whole trajectory is one HTTP request away. */
export const TrajectorySummarySchema = z.object({
  id: z.string(),
  runId: z.string(),
  step: z.number().int().nonnegative().optional(),
  groupId: z.string().optional(),
  envId: z.string(),
  taskId: z.string(),
  seed: z.number().int(),
  status: EpisodeStatusSchema,
  reward: RewardBreakdownSchema,
  turns: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  sampledTokens: z.number().int().nonnegative(),
  /** The last assistant message, cut to 500 characters. */
  finalText: z.string(),
  startedAt: z.number(),
  ms: z.number().nonnegative(),
});
export type TrajectorySummary = z.infer<typeof TrajectorySummarySchema>;

/**
 * Fields every event message carries. `at` is the original wall-clock time (ms since epoch). A
 * committed event has its `cursor`; one sent before its commit has `pending: true` instead (a later
 * `committed` message confirms it, or `write-failed` withdraws it). `seq` numbers a run's events
 * in the order they happened (absent on events logged before it existed).
 */
const eventBase = {
  cursor: FeedCursorSchema.optional(),
  pending: z.literal(true).optional(),
  seq: z.number().int().positive().optional(),
  runId: z.string(),
  at: z.number(),
};
/** Which episode a turn or episode event is of. */
const episodeOf = {
  step: z.number().int().nonnegative().optional(),
  trajectoryId: z.string(),
  groupId: z.string().optional(),
  envId: z.string(),
  taskId: z.string(),
};

export const FeedRunMessageSchema = z.object({
  type: z.literal('run'),
  ...eventBase,
  status: RunStatusSchema,
  info: z.record(z.string(), z.unknown()).default({}),
});

export const FeedTurnMessageSchema = z.object({
  type: z.literal('turn'),
  ...eventBase,
  ...episodeOf,
  turn: TurnSchema,
});

export const FeedTrajectoryMessageSchema = z.object({
  type: z.literal('trajectory'),
  ...eventBase,
  summary: TrajectorySummarySchema,
  /** Only when the subscription asked for `full`. */
  trajectory: TrajectorySchema.optional(),
});

export const FeedStepMetricsMessageSchema = z.object({
  type: z.literal('step-metrics'),
  ...eventBase,
  step: z.number().int().nonnegative(),
  metrics: z.record(z.string(), z.number()),
});

/**
 * An episode whose turns were streamed but whose group never committed: its writer died mid-episode.
 * What was streamed stays in the store as a partial trajectory marked unfinished.
 */
export const FeedEpisodeMessageSchema = z.object({
  type: z.literal('episode'),
  ...eventBase,
  ...episodeOf,
  status: z.literal('unfinished'),
  /** Turns recorded before the writer stopped. */
  turns: z.number().int().nonnegative(),
  reason: z.string(),
});

/** First message after a subscription: the feed version and the newest cursor in the store. */
export const FeedHelloMessageSchema = z.object({
  type: z.literal('hello'),
  version: z.literal(REPLAY_FEED_VERSION),
  head: FeedCursorSchema,
});

/** Live mode: every stored event up to `cursor` was sent; what follows arrives as it is committed. */
export const FeedCaughtUpMessageSchema = z.object({ type: z.literal('caught-up'), cursor: FeedCursorSchema });

/**
 * Events sent before their commit are now committed: of each run in `seqs`, every event up to that
 * seq. Every committed event up to `cursor` has been handled: resume with `after: cursor`.
 */
export const FeedCommittedMessageSchema = z.object({
  type: z.literal('committed'),
  cursor: FeedCursorSchema,
  seqs: z.record(z.string(), z.number().int().positive()),
});

/**
 * Events sent before their commit that the store did not write (the write was refused or the
 * writer stopped): they are not durable, and a replay will not have them.
 */
export const FeedWriteFailedMessageSchema = z.object({
  type: z.literal('write-failed'),
  runId: z.string(),
  seqs: z.array(z.number().int().positive()),
  code: z.string(),
  message: z.string(),
});

/** Replay mode: the run has been replayed up to `cursor`; the server closes the socket next. */
export const FeedEndMessageSchema = z.object({ type: z.literal('end'), cursor: FeedCursorSchema });

/**
 * The client read too slowly and its buffer on the server hit its bound. Everything up to
 * `resumeAfter` was sent before this message; reconnect with `after: resumeAfter` (close code 4008).
 */
export const FeedOverflowMessageSchema = z.object({
  type: z.literal('overflow'),
  resumeAfter: FeedCursorSchema,
  bufferLimitBytes: z.number().int().positive(),
});

/** A bad subscription or an auth failure; the socket is closed after it. */
export const FeedErrorMessageSchema = z.object({
  type: z.literal('error'),
  code: z.string(),
  message: z.string(),
});

export const FeedServerMessageSchema = z.discriminatedUnion('type', [
  FeedRunMessageSchema,
  FeedTurnMessageSchema,
  FeedTrajectoryMessageSchema,
  FeedStepMetricsMessageSchema,
  FeedEpisodeMessageSchema,
  FeedHelloMessageSchema,
  FeedCaughtUpMessageSchema,
  FeedCommittedMessageSchema,
  FeedWriteFailedMessageSchema,
  FeedEndMessageSchema,
  FeedOverflowMessageSchema,
  FeedErrorMessageSchema,
]);
export type FeedServerMessage = z.infer<typeof FeedServerMessageSchema>;
export type FeedEventMessage =
  | z.infer<typeof FeedRunMessageSchema>
  | z.infer<typeof FeedTurnMessageSchema>
  | z.infer<typeof FeedTrajectoryMessageSchema>
  | z.infer<typeof FeedStepMetricsMessageSchema>
  | z.infer<typeof FeedEpisodeMessageSchema>;

/** Websocket close codes the feed uses (4000–4999 is the application range). */
export const FEED_CLOSE_CODES = {
  /** The subscription was malformed. */
  badSubscription: 4400,
  /** The client's buffer hit its bound; resume from the cursor in the `overflow` message. */
  slowConsumer: 4008,
  /** Replay finished. */
  replayEnded: 1000,
} as const;
