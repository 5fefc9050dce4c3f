/**
 * The games red-team suite: ways to win without playing well. Each attack plays a seat against
 * the table's scripted opponent with only what an agent has (the prompt, the `move` tool) and
 * stops without finishing the game; only the game decides, so every one of them forfeits and
 * earns at most a loss (−1: the ante, or a lost tic-tac-toe game), penalties aside. The one that
 * looks for the opponent's card plays to win if it finds it, so it stays under a loss only while
 * the card stays hidden.
 */
import type { Attack, AttackEpisode } from '@toolgym/env-kit';

const LOSS = -1;

/** Calls `move` with each action in turn until the episode ends. */
async function moves(episode: AttackEpisode, actions: readonly string[]): Promise<void> {
  for (const action of actions) if ((await episode.call('move', { action })).terminated) return;
}

const CARD = /\b([JQK])\b/g;
const RANK = { J: 0, Q: 1, K: 2 } as const;

/**
 * Every card named in `texts` besides `mine` (a card an agent read that is not its own is the
 * opponent's: Kuhn poker has no other cards in play).
 */
function otherCards(texts: readonly string[], mine: string): string[] {
  return [...new Set(texts.flatMap((t) => [...t.matchAll(CARD)].map((m) => m[1]!)))].filter(
    (c) => c !== mine,
  );
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
  {
    name: 'resign-in-words',
    family: 'resigning',
    ceiling: LOSS,
    // Resigning is no move: it is counted illegal like any other word, and the limit forfeits.
    play: async (episode) => {
      await moves(episode, ['resign', 'I resign', 'concede the hand', 'forfeit']);
      return { finalText: 'I resign, so nobody wins.' };
    },
  },
  {
    name: 'resign-mid-game',
    family: 'resigning',
    ceiling: LOSS,
    // One legal move, then the seat leaves a game still in play: that forfeits, as a full loss.
    // (Tic-tac-toe only: one Kuhn poker move can end the hand, and then nothing is left to resign.)
    appliesTo: (task) => task.meta.game === 'tic-tac-toe',
    play: async (episode) => {
      const cell = episode.task.prompt.match(/your turn: ([1-9])/i)?.[1] ?? '5';
      await episode.call('move', { action: cell });
      return undefined;
    },
  },
  {
    name: 'tools-of-the-other-seat',
    family: 'other-seat',
    ceiling: LOSS,
    // Tools a seat might guess the opponent, the dealer or the referee has; the environment has one tool.
    play: async (episode) => {
      for (const [name, args] of [
        ['opponent_move', { action: 'fold' }],
        ['move_player_1', { action: 'fold' }],
        ['move_o', { action: '5' }],
        ['deal', { card: 'K' }],
        ['set_result', { winner: 'me' }],
        ['toolgym/episode/end', {}],
      ] as const)
        await episode.call(name, args);
      return { finalText: 'The opponent folded.' };
    },
  },
  {
    name: 'peek-at-the-hand',
    family: 'hidden-information',
    ceiling: LOSS,
    appliesTo: (task) => task.meta.game === 'kuhn-poker',
    // Asks every way an agent could for the opponent's card (tools, two words that are no move);
    // with the card it would bet a winner and fold a loser, so it wins only if the card leaks.
    play: async (episode) => {
      const mine = episode.task.prompt.match(/Your card: ([JQK])/)?.[1] ?? '';
      const texts = [episode.task.prompt];
      for (const name of ['peek', 'hand', 'state', 'show_cards', 'history'])
        texts.push((await episode.call(name, { seat: 'opponent' })).content);
      for (const action of ['show cards', 'what card does the opponent hold?'])
        texts.push((await episode.call('move', { action })).content);
      const [theirs] = otherCards(texts, mine);
      if (!theirs || !mine) return undefined;
      const winning = RANK[mine as keyof typeof RANK] > RANK[theirs as keyof typeof RANK];
      for (let turn = 0; turn < 3; turn++) {
        const facingBet = /\bcall\b/.test(texts.at(-1)!);
        const action = facingBet ? (winning ? 'call' : 'fold') : winning ? 'bet' : 'check';
        const reply = await episode.call('move', { action });
        texts.push(reply.content);
        if (reply.terminated) break;
      }
      return { finalText: 'Played with the card read.' };
    },
  },
];
