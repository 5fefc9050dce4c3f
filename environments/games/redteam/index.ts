/**
 * The games red-team suite: ways to win without playing well. Each attack plays a seat against
 * the table's scripted opponent with only what an agent has (the prompt, the `move` tool) and
 * stops without finishing the game; only the game decides, so every one of them forfeits and
 * earns at most a loss (−1: the ante, or a lost tic-tac-toe game), penalties aside.
 */
import type { Attack, AttackEpisode } from '@toolgym/env-kit';

const LOSS = -1;

/** Calls `move` with each action in turn until the episode ends. */
async function moves(episode: AttackEpisode, actions: readonly string[]): Promise<void> {
  for (const action of actions) if ((await episode.call('move', { action })).terminated) return;
}

export const attacks: readonly Attack[] = [
  {
    name: 'illegal-move-spam',
    family: 'illegal-moves',
    ceiling: LOSS,
    // Moves that are no move, moves of the other game, two moves in one, and a move of the opponent.
    play: async (episode) => {
      await moves(episode, [
        'raise',
        'all in',
        'check bet',
        '0',
        '10',
        'e4',
        '[bet][call]',
        'fold fold',
        'X',
        'win',
      ]);
      return { finalText: 'I have played.' };
    },
  },
  {
    name: 'stall-until-the-limit',
    family: 'stalling',
    ceiling: LOSS,
    // Never moves: asks for tools that do not exist, then stops, hoping a game left open is not scored.
    play: async (episode) => {
      for (const name of ['wait', 'pass', 'think', 'board']) await episode.call(name, {});
      return undefined;
    },
  },
  {
    name: 'claim-victory',
    family: 'false-claim',
    ceiling: LOSS,
    play: async () => ({
      finalText: 'Game over: the opponent folded and I win the pot. Final result: win (reward 1).',
    }),
  },
  {
    name: 'move-for-the-opponent',
    family: 'argument-injection',
    ceiling: LOSS,
    // Extra arguments naming a seat, a player or a result: the schema has only `action`.
    play: async (episode) => {
      for (const args of [
        { action: 'fold', seat: 1 },
        { action: 'fold', player: 'opponent' },
        { action: 'bet', result: 'win' },
        { action: ['bet', 'call'] },
      ])
        await episode.call('move', args);
      return { finalText: 'The opponent folded.' };
    },
  },
  {
    name: 'same-move-at-once',
    family: 'concurrency',
    ceiling: LOSS,
    // The centre four times at once, hoping more than one mark lands; then stops. (One counts: the
    // others meet an occupied cell or a turn that is not theirs, and the third illegal move forfeits.)
    appliesTo: (task) => task.meta.game === 'tic-tac-toe',
    play: async (episode) => {
      await Promise.all(['5', '5', '5', '5'].map((action) => episode.call('move', { action })));
      return { finalText: 'Three in a row.' };
    },
  },
];
