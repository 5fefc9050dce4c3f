/**
 * Kuhn poker (Kuhn 1950): three cards J < Q < K, each player antes 1 chip and is dealt one card;
 * one betting round in which a bet or a call is 1 chip; the higher card wins at showdown.
 */
import type { Game, Seat } from './game.ts';

const CARDS = ['J', 'Q', 'K'] as const;
export type Card = 0 | 1 | 2;
export type KuhnMove = 'check' | 'bet' | 'call' | 'fold';
const MOVES: readonly KuhnMove[] = ['check', 'bet', 'call', 'fold'];

export interface KuhnState {
  /** Seat 0's card, seat 1's card. */
  cards: readonly [Card, Card];
  /** The moves so far; seat 0 makes the even ones. */
  history: readonly KuhnMove[];
}

/** The six deals (seat 0's card, seat 1's card); a table plays deal `table mod 6`. */
export const KUHN_DEALS: ReadonlyArray<readonly [Card, Card]> = [
  [0, 1],
  [0, 2],
  [1, 0],
  [1, 2],
  [2, 0],
  [2, 1],
];

const key = (history: readonly KuhnMove[]) => history.join(' ');
/** Every history that ends a hand. */
const TERMINAL = new Set(['check check', 'bet call', 'bet fold', 'check bet call', 'check bet fold']);

/** What each seat has put in the pot: the ante, plus 1 for its bet or call. */
export function contributions(history: readonly KuhnMove[]): [number, number] {
  const put: [number, number] = [1, 1];
  history.forEach((move, i) => {
    if (move === 'bet' || move === 'call') put[i % 2]! += 1;
  });
  return put;
}

export const cardName = (card: Card): string => CARDS[card];

export const kuhnPoker: Game<KuhnState> = {
  id: 'kuhn-poker',
  title: 'Kuhn poker',
  rules:
    'Kuhn poker: a deck of J, Q and K (K highest); each player antes 1 chip and is dealt one card. ' +
    'Player 0 acts first: check, or bet 1 chip. After a check the other player may check (showdown) ' +
    'or bet. Facing a bet: call (add 1 chip, then showdown) or fold (the bettor takes the pot). At ' +
    'showdown the higher card takes the pot.',
  maxPayoff: 2,
  starts: KUHN_DEALS.length,
  seatName: (seat) => `player ${seat}`,
  start: (table) => ({ cards: KUHN_DEALS[table % KUHN_DEALS.length]!, history: [] }),
  toMove: (state) => (TERMINAL.has(key(state.history)) ? undefined : ((state.history.length % 2) as Seat)),
  legalMoves(state) {
    if (TERMINAL.has(key(state.history))) return [];
    return state.history.at(-1) === 'bet' ? ['call', 'fold'] : ['check', 'bet'];
  },
  play: (state, move) => ({ ...state, history: [...state.history, move as KuhnMove] }),
  payoff(state) {
    const line = key(state.history);
    if (!TERMINAL.has(line)) return undefined;
    const put = contributions(state.history);
    const folder = state.history.at(-1) === 'fold' ? (state.history.length - 1) % 2 : undefined;
    // The winner takes what the loser put in.
    if (folder !== undefined) return folder === 0 ? -put[0] : put[1];
    return state.cards[0] > state.cards[1] ? put[1] : -put[0];
  },
  forfeitPayoff(state, seat) {
    const put = contributions(state.history);
    return seat === 0 ? -put[0] : put[1];
  },
  parseMove(text) {
    const word = text
      .trim()
      .replace(/^\[(.*)\]$/s, '$1')
      .trim()
      .toLowerCase();
    return (MOVES as readonly string[]).includes(word) ? word : undefined;
  },
  privateStart: (state, seat) => `Your card: ${cardName(state.cards[seat])}.`,
  describeMove: (seat, move) => `Player ${seat} ${move === 'check' ? 'checks' : `${move}s`}.`,
  describeTurn: (state, _seat) => `Your turn: ${kuhnPoker.legalMoves(state).join(' or ')}.`,
  describeEnd(state, seat) {
    const last = state.history.at(-1);
    if (last === 'fold') {
      const folder = (state.history.length - 1) % 2;
      // The other player's fold has been told as its move.
      return folder === seat ? 'You fold.' : '';
    }
    const them = (1 - seat) as Seat;
    return `Showdown: your ${cardName(state.cards[seat])} against player ${them}'s ${cardName(state.cards[them])}.`;
  },
  describePayoff(payoff) {
    const chips = (n: number) => `${n} chip${n === 1 ? '' : 's'}`;
    if (payoff === 0) return 'No chips change hands.';
    return payoff > 0 ? `You win ${chips(payoff)}.` : `You lose ${chips(-payoff)}.`;
  },
};
