import { z } from 'zod';
import { MessageSchema } from './message.ts';
import { EPISODE_PLACE, TurnSchema } from './trajectory.ts';

/**
 * One assistant turn of a running episode, emitted by the rollout engine as the turn happens. The
 * replay store records it at once, so the feed and the viewer show an episode before its group is
 * complete; the group's commit later replaces it with the whole trajectory.
 */
export const EpisodeTurnSchema = z.object({
  trajectoryId: z.string(),
  ...EPISODE_PLACE,
  /** When the episode started (ms since the epoch). */
  startedAt: z.number(),
  turn: TurnSchema,
  /** Messages added since the previous turn of this episode (the system and task prompt with the first). */
  messages: z.array(MessageSchema),
  /**
   * Tokens recorded since the previous turn, written from position `from` of the episode's token
   * record. A `from` below what was recorded before means the template rewrote history: the record
   * continues from there.
   */
  tokens: z.object({
    from: z.number().int().nonnegative(),
    ids: z.array(z.number().int().nonnegative()),
    lossMask: z.array(z.literal([0, 1])),
    /** Behaviour logprobs (the distribution each token was drawn from), as `Trajectory.logprobs`. */
    logprobs: z.array(z.number()),
    /** The policy's own logprobs, as `Trajectory.policyLogprobs`. */
    policyLogprobs: z.array(z.number()).optional(),
    /** Each token's decoded text piece, when the policy has a tokenizer. */
    pieces: z.array(z.string()).optional(),
  }),
});
export type EpisodeTurn = z.infer<typeof EpisodeTurnSchema>;
