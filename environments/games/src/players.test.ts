import { Rng } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import type { Seat } from './game.ts';
import { KUHN_DEALS, type KuhnState, kuhnPoker } from './kuhn-poker.ts';
import { expertPlayer, kuhnEquilibrium, minimaxMoves, randomPlayer } from './players.ts';
import { type TicTacToeState, ticTacToe } from './tic-tac-toe.ts';

type Strategy = (s: KuhnState, seat: Seat) => Partial<Record<string, number>>;
const uniform: Strategy = (s) => {
  const legal = kuhnPoker.legalMoves(s);
  return Object.fromEntries(legal.map((m) => [m, 1 / legal.length]));
};

/** Seat 0's expected payoff over the six deals. */
function value(strategies: [Strategy, Strategy]): number {
  const walk = (s: KuhnState): number => {
    const payoff = kuhnPoker.payoff(s);
    if (payoff !== undefined) return payoff;
    const seat = kuhnPoker.toMove(s)!;
    return Object.entries(strategies[seat](s, seat)).reduce(
      (a, [m, p]) => a + (p ?? 0) * walk(kuhnPoker.play(s, m)),
      0,
    );
  };
  return KUHN_DEALS.reduce((a, cards) => a + walk({ cards, history: [] }), 0) / KUHN_DEALS.length;
}

/** The most `seat` can earn against `opponent`: every pure strategy over its information sets. */
function bestResponse(opponent: Strategy, seat: Seat): number {
  const histories = seat === 0 ? [[], ['check', 'bet']] : [['check'], ['bet']];
  const infosets = [0, 1, 2].flatMap((card) => histories.map((h) => ({ card, line: h.join(' ') })));
  const choices = infosets.map(({ line }) =>
    kuhnPoker.legalMoves({ cards: [0, 1], history: line ? (line.split(' ') as KuhnState['history']) : [] }),
  );
  let best = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < 2 ** infosets.length; k++) {
    const pure: Strategy = (s, st) => {
      const i = infosets.findIndex((x) => x.card === s.cards[st] && x.line === s.history.join(' '));
      return { [choices[i]![(k >> i) & 1]!]: 1 };
    };
    const v = value(seat === 0 ? [pure, opponent] : [opponent, pure]);
    best = Math.max(best, seat === 0 ? v : -v);
  }
  return best;
}

describe('the Kuhn poker expert', () => {
  it.each([0, 1 / 6, 1 / 3])(
    'α = %f is a Nash equilibrium: value −1/18 for player 0, and no deviation of either seat gains',
    (alpha) => {
      const eq = kuhnEquilibrium(alpha) as Strategy;
      expect(value([eq, eq])).toBeCloseTo(-1 / 18, 12);
      expect(bestResponse(eq, 0)).toBeCloseTo(-1 / 18, 12);
      expect(bestResponse(eq, 1)).toBeCloseTo(1 / 18, 12);
    },
  );

  it('beats the random player from either seat, by less than the best response to it', () => {
    const eq = kuhnEquilibrium(1 / 6) as Strategy;
    // Exact values: the expert earns 1/9 as player 0 and 1/6 as player 1 per hand; the best
    // response to random earns 1/2 and 5/12.
    expect(value([eq, uniform])).toBeCloseTo(1 / 9, 12);
    expect(-value([uniform, eq])).toBeCloseTo(1 / 6, 12);
    expect(bestResponse(uniform, 0)).toBeCloseTo(1 / 2, 12);
    expect(bestResponse(uniform, 1)).toBeCloseTo(5 / 12, 12);
  });

  it('plays its mixed strategy with the draws it is given', () => {
    const expert = expertPlayer('kuhn-poker', 1 / 3);
    const rng = new Rng(7);
    const bets = Array.from({ length: 3000 }, () => expert({ cards: [0, 1], history: [] }, 0, rng)).filter(
      (m) => m === 'bet',
    ).length;
    expect(bets / 3000).toBeGreaterThan(0.3); // J bets with α = 1/3
    expect(bets / 3000).toBeLessThan(0.37);
    expect(expert({ cards: [2, 0], history: ['bet'] }, 1, rng)).toBe('fold'); // never calls with J
  });
});

describe('the tic-tac-toe expert', () => {
  /** Every game the expert can play as `seat` against every sequence of replies. */
  function worstOutcome(state: TicTacToeState, seat: Seat): number {
    const payoff = ticTacToe.payoff(state);
    if (payoff !== undefined) return seat === 0 ? payoff : 0 - payoff;
    const moves = ticTacToe.toMove(state) === seat ? minimaxMoves(state) : ticTacToe.legalMoves(state);
    return Math.min(...moves.map((m) => worstOutcome(ticTacToe.play(state, m), seat)));
  }

  it('never loses, from either seat, whatever the opponent does and whichever best move it picks', () => {
    expect(worstOutcome(ticTacToe.start(0), 0)).toBe(0);
    expect(worstOutcome(ticTacToe.start(0), 1)).toBe(0);
  });

  it('takes a win when there is one, and blocks one', () => {
    // X on 1 and 2 with O on 4 and 5: X wins at 3.
    const s = [1, 4, 2, 5].reduce((st, c) => ticTacToe.play(st, String(c)), ticTacToe.start(0));
    expect(minimaxMoves(s)).toEqual(['3']);
    // O to move after X 1, 2: O must block at 3.
    const t = [1, 5, 2].reduce((st, c) => ticTacToe.play(st, String(c)), ticTacToe.start(0));
    expect(minimaxMoves(t)).toEqual(['3']);
  });

  it('the random player picks each legal move', () => {
    const random = randomPlayer(ticTacToe);
    const rng = new Rng(3);
    const picks = new Set(Array.from({ length: 200 }, () => random(ticTacToe.start(0), 0, rng)));
    expect(picks.size).toBe(9);
  });
});
