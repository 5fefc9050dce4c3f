/**
 * The environment's scripted players: a uniformly random legal player, and an expert — Kuhn
 * poker's Nash equilibrium (Kuhn 1950), tic-tac-toe's minimax. They take the seats of a table
 * that no session joins, and the oracle plays the expert.
 */
import type { Rng } from '@toolgym/protocol';
import type { Game, GameId, Seat } from './game.ts';
import type { KuhnMove, KuhnState } from './kuhn-poker.ts';
import { type TicTacToeState, ticTacToe } from './tic-tac-toe.ts';

export const PLAYER_KINDS = ['random', 'expert'] as const;
export type PlayerKind = (typeof PLAYER_KINDS)[number];

/** Chooses the move of the seat to move. */
// biome-ignore lint/suspicious/noExplicitAny: a player of any game's state
export type Player<State = any> = (state: State, seat: Seat, rng: Rng) => string;

/** Each legal move with the same probability. */
export const randomPlayer =
  <State>(game: Game<State>): Player<State> =>
  (state, _seat, rng) =>
    rng.pick(game.legalMoves(state));

/**
 * Kuhn poker's Nash equilibria (Kuhn 1950), a family in α ∈ [0, 1/3]. Player 0 bets J with
 * probability α, never Q, K with 3α; facing a bet after checking it folds J, calls Q with α + 1/3,
 * calls K. Player 1 facing a bet folds J, calls Q with 1/3, calls K; after a check it bets J with
 * 1/3 (a bluff), checks Q, bets K. Player 0's value is −1/18 per hand for every α.
 */
export function kuhnEquilibrium(alpha: number) {
  return (state: KuhnState, seat: Seat): Partial<Record<KuhnMove, number>> => {
    const card = state.cards[seat];
    const line = state.history.join(' ');
    const mix = (first: KuhnMove, p: number, second: KuhnMove) => ({ [first]: p, [second]: 1 - p });
    if (line === '') return mix('bet', [alpha, 0, 3 * alpha][card]!, 'check');
    if (line === 'check bet') return mix('call', [0, alpha + 1 / 3, 1][card]!, 'fold');
    if (line === 'bet') return mix('call', [0, 1 / 3, 1][card]!, 'fold');
    if (line === 'check') return mix('bet', [1 / 3, 0, 1][card]!, 'check');
    throw new Error(`Kuhn poker: no move after '${line}'`);
  };
}

/** Draws a move from a distribution over moves. */
function sample(distribution: Partial<Record<string, number>>, rng: Rng): string {
  const entries = Object.entries(distribution) as Array<[string, number]>;
  let u = rng.next();
  for (const [move, p] of entries) {
    if (u < p) return move;
    u -= p;
  }
  return entries.findLast(([, p]) => p > 0)![0];
}

const minimaxValues = new Map<string, number>();

/** The game's value for the seat to move, under perfect play by both (negamax over the whole tree). */
function minimaxValue(state: TicTacToeState): number {
  const key = state.board.map((c) => (c === null ? '.' : c)).join('');
  const known = minimaxValues.get(key);
  if (known !== undefined) return known;
  const payoff = ticTacToe.payoff(state);
  let value: number;
  if (payoff !== undefined) {
    // The game is over before the seat to move moves: the payoff is the other seat's doing.
    const toMove = state.board.filter((c) => c !== null).length % 2;
    value = toMove === 0 ? payoff : -payoff;
  } else {
    value = Math.max(...ticTacToe.legalMoves(state).map((m) => -minimaxValue(ticTacToe.play(state, m))));
  }
  minimaxValues.set(key, value);
  return value;
}

/** The moves that keep the game's minimax value for the seat to move. */
export function minimaxMoves(state: TicTacToeState): string[] {
  const values = ticTacToe.legalMoves(state).map((m) => ({ m, v: -minimaxValue(ticTacToe.play(state, m)) }));
  const best = Math.max(...values.map((x) => x.v));
  return values.filter((x) => x.v === best).map((x) => x.m);
}

/** The expert of each game; `kuhnAlpha` picks Kuhn poker's equilibrium. */
export function expertPlayer(game: GameId, kuhnAlpha: number): Player {
  if (game === 'kuhn-poker') {
    const strategy = kuhnEquilibrium(kuhnAlpha);
    return (state: KuhnState, seat, rng) => sample(strategy(state, seat), rng);
  }
  return (state: TicTacToeState, _seat, rng) => rng.pick(minimaxMoves(state));
}
