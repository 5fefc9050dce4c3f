import { z } from 'zod';
import { PLAYER_KINDS } from './players.ts';

export const GAME_IDS = ['kuhn-poker', 'tic-tac-toe'] as const;

export const GamesConfigSchema = z
  .object({
    /** The games the task set has. */
    games: z
      .array(z.enum(GAME_IDS))
      .min(1)
      .default([...GAME_IDS]),
    /**
     * Games only in the `test` split, never in `train` (SPIRAL's out-of-domain games): pass@1 on
     * `test` measures playing a game never trained on. `test-iid` has the trained games' tables of
     * their own, against the random player and the expert.
     */
    heldOutGames: z.array(z.enum(GAME_IDS)).min(1).default(['tic-tac-toe']),
    /** Train tables per trained game (against the random player), each a task per seat. */
    trainTables: z.number().int().positive().default(48),
    /** Evaluation tables per game and scripted opponent (random, expert), each a task per seat. */
    evalTables: z.number().int().positive().default(96),
    /** Paid to the opponent for each illegal move (zero-sum), so it is scored, not only counted. */
    illegalMovePenalty: z.number().min(0).max(0.2).default(0.1),
    /** A seat's n-th illegal move forfeits the game (2 = one illegal move is forgiven). */
    illegalMoveLimit: z.number().int().min(1).max(5).default(3),
    /** A seat of a shared match that has not moved this long after its turn began forfeits; one that never joined voids the match. */
    seatTimeoutMs: z.number().int().positive().default(60_000),
    /** Most assistant turns per episode (a tic-tac-toe seat makes up to 5 moves, plus retries). */
    maxTurns: z.number().int().positive().default(8),
    /** α of the expert's Kuhn poker equilibrium: how often it bluffs with J as player 0 (any α in [0, 1/3] is an equilibrium). */
    kuhnAlpha: z
      .number()
      .min(0)
      .max(1 / 3)
      .default(1 / 6),
    /**
     * Whom the oracle plays as: the `expert` (so `toolgym eval --policy oracle` shows its strength),
     * or a `random` legal player, whose demonstrations teach a move's format and no strategy.
     */
    oracle: z.enum(PLAYER_KINDS).default('expert'),
    /**
     * What an episode is scored on: `win`, the game's zero-sum payoff (pass = a win); or
     * `legal-play`, playing the game to its end with legal moves, whatever the result (pass = no
     * illegal move, no forfeit). With the `random` oracle, `legal-play` makes every demonstration
     * count, so a supervised phase learns the moves' format without a bias towards what won.
     */
    objective: z.enum(['win', 'legal-play']).default('win'),
  })
  .strict()
  .refine((c) => c.heldOutGames.every((g) => c.games.includes(g)), {
    message: 'heldOutGames must be among games',
    path: ['heldOutGames'],
  })
  .refine((c) => c.games.some((g) => !c.heldOutGames.includes(g)), {
    message: 'every game is held out: keep at least one game to train on',
    path: ['heldOutGames'],
  });
export type GamesConfig = z.infer<typeof GamesConfigSchema>;
