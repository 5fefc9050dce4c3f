import { describe, expect, it } from 'vitest';
import { contributions, KUHN_DEALS, type KuhnState, kuhnPoker } from './kuhn-poker.ts';

const after = (cards: KuhnState['cards'], ...history: string[]): KuhnState =>
  history.reduce((s, m) => kuhnPoker.play(s, m), { cards, history: [] } as KuhnState);

describe('Kuhn poker', () => {
  it('deals the six deals, each once in six tables', () => {
    const deals = Array.from({ length: 6 }, (_, t) => kuhnPoker.start(t).cards.join(''));
    expect(new Set(deals).size).toBe(6);
    expect(kuhnPoker.start(7).cards).toEqual(kuhnPoker.start(1).cards);
    expect(KUHN_DEALS.every(([a, b]) => a !== b)).toBe(true);
  });

  it('allows check or bet, then call or fold facing a bet, and nothing once the hand is over', () => {
    const q = [1, 2] as const;
    expect(kuhnPoker.legalMoves(after(q))).toEqual(['check', 'bet']);
    expect(kuhnPoker.legalMoves(after(q, 'check'))).toEqual(['check', 'bet']);
    expect(kuhnPoker.legalMoves(after(q, 'bet'))).toEqual(['call', 'fold']);
    expect(kuhnPoker.legalMoves(after(q, 'check', 'bet'))).toEqual(['call', 'fold']);
    for (const line of [
      ['check', 'check'],
      ['bet', 'call'],
      ['bet', 'fold'],
      ['check', 'bet', 'call'],
      ['check', 'bet', 'fold'],
    ]) {
      expect(kuhnPoker.legalMoves(after(q, ...line))).toEqual([]);
      expect(kuhnPoker.toMove(after(q, ...line))).toBeUndefined();
    }
    expect(kuhnPoker.toMove(after(q))).toBe(0);
    expect(kuhnPoker.toMove(after(q, 'check'))).toBe(1);
    expect(kuhnPoker.toMove(after(q, 'check', 'bet'))).toBe(0);
  });

  it("pays the winner what the loser put in: the ante, and the bet once called (seat 0's view)", () => {
    const kq = [2, 1] as const; // seat 0 holds K
    const jk = [0, 2] as const; // seat 0 holds J
    expect(kuhnPoker.payoff(after(kq, 'check', 'check'))).toBe(1);
    expect(kuhnPoker.payoff(after(kq, 'bet', 'call'))).toBe(2);
    expect(kuhnPoker.payoff(after(jk, 'bet', 'call'))).toBe(-2);
    expect(kuhnPoker.payoff(after(jk, 'bet', 'fold'))).toBe(1); // a bluff that works
    expect(kuhnPoker.payoff(after(kq, 'check', 'bet', 'fold'))).toBe(-1);
    expect(kuhnPoker.payoff(after(jk, 'check', 'bet', 'call'))).toBe(-2);
    expect(kuhnPoker.payoff(after(kq, 'check'))).toBeUndefined();
    // Zero-sum across every deal and line: what one seat wins, the other loses.
    expect(contributions(['check', 'bet', 'call'])).toEqual([2, 2]);
  });

  it('a forfeit costs what the seat put in', () => {
    const s = after([1, 0], 'check', 'bet');
    expect(kuhnPoker.forfeitPayoff(s, 0)).toBe(-1);
    expect(kuhnPoker.forfeitPayoff(s, 1)).toBe(2);
    expect(kuhnPoker.forfeitPayoff(after([1, 0]), 1)).toBe(1);
  });

  it('reads a move written the ways players write it, and nothing else', () => {
    for (const text of ['bet', 'Bet', ' BET ', '[bet]', '[ Bet ]'])
      expect(kuhnPoker.parseMove(text)).toBe('bet');
    for (const text of ['raise', 'bet bet', 'I bet', '[bet', 'bet]x', '', 'check or bet', '5'])
      expect(kuhnPoker.parseMove(text)).toBeUndefined();
  });

  it('tells each seat only its own card, and the showdown both', () => {
    const s = after([2, 0]);
    expect(kuhnPoker.privateStart(s, 0)).toBe('Your card: K.');
    expect(kuhnPoker.privateStart(s, 1)).toBe('Your card: J.');
    expect(kuhnPoker.describeEnd(after([2, 0], 'bet', 'call'), 1)).toBe(
      "Showdown: your J against player 0's K.",
    );
    expect(kuhnPoker.describePayoff(-2)).toBe('You lose 2 chips.');
    expect(kuhnPoker.describePayoff(1)).toBe('You win 1 chip.');
  });
});
