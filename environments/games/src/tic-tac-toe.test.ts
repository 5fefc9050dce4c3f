import { describe, expect, it } from 'vitest';
import { renderBoard, type TicTacToeState, ticTacToe } from './tic-tac-toe.ts';

const after = (...cells: number[]): TicTacToeState =>
  cells.reduce((s, c) => ticTacToe.play(s, String(c)), ticTacToe.start(0));

describe('tic-tac-toe', () => {
  it('alternates X and O on empty cells only', () => {
    const s = after(5, 1);
    expect(renderBoard(s)).toBe('O..|.X.|...');
    expect(ticTacToe.toMove(s)).toBe(0);
    expect(ticTacToe.legalMoves(s)).toEqual(['2', '3', '4', '6', '7', '8', '9']);
  });

  it('ends on three in a row, column or diagonal, and on a full board as a draw', () => {
    expect(ticTacToe.payoff(after(1, 4, 2, 5, 3))).toBe(1); // X: top row
    expect(ticTacToe.payoff(after(1, 3, 2, 5, 9, 7))).toBe(-1); // O: anti-diagonal
    expect(ticTacToe.payoff(after(1, 2, 4, 5, 8, 7, 3, 6, 9))).toBe(0);
    expect(ticTacToe.toMove(after(1, 4, 2, 5, 3))).toBeUndefined();
    expect(ticTacToe.legalMoves(after(1, 4, 2, 5, 3))).toEqual([]);
    expect(ticTacToe.payoff(after(1, 4))).toBeUndefined();
    expect(ticTacToe.describeEnd(after(1, 3, 2, 5, 9, 7), 0)).toBe(
      'Board: XXO|.O.|O.X; O has three in a row (3, 5, 7).',
    );
  });

  it('reads a cell as 5, [5] or cell 5, and nothing else', () => {
    for (const text of ['5', ' 5 ', '[5]', 'cell 5', 'Cell5']) expect(ticTacToe.parseMove(text)).toBe('5');
    for (const text of ['0', '10', '55', 'five', 'b2', '']) expect(ticTacToe.parseMove(text)).toBeUndefined();
  });
});
