/** Tic-tac-toe: X (seat 0) and O take turns placing marks on a 3×3 board; three in a row wins. */
import { type Game, other, type Seat } from './game.ts';

export interface TicTacToeState {
  /** Cells 1–9 row by row, at indexes 0–8: the seat whose mark is there, or null. */
  board: ReadonlyArray<Seat | null>;
}

const MARKS = ['X', 'O'] as const;
const LINES = [
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
  [0, 3, 6],
  [1, 4, 7],
  [2, 5, 8],
  [0, 4, 8],
  [2, 4, 6],
] as const;

/** The line the seat completed, if any. */
export function winningLine(state: TicTacToeState): { seat: Seat; cells: readonly number[] } | undefined {
  for (const line of LINES) {
    const seat = state.board[line[0]];
    if (seat !== null && seat !== undefined && line.every((i) => state.board[i] === seat))
      return { seat, cells: line };
  }
  return undefined;
}

const full = (state: TicTacToeState) => state.board.every((c) => c !== null);
const marks = (state: TicTacToeState) => state.board.filter((c) => c !== null).length;

/** `X.O|.X.|..O`: the board row by row, `.` for an empty cell. */
export function renderBoard(state: TicTacToeState): string {
  const cell = (c: Seat | null | undefined) => (c === null || c === undefined ? '.' : MARKS[c]);
  return [0, 3, 6].map((row) => [0, 1, 2].map((col) => cell(state.board[row + col])).join('')).join('|');
}

export const ticTacToe: Game<TicTacToeState> = {
  id: 'tic-tac-toe',
  title: 'Tic-tac-toe',
  rules:
    'Tic-tac-toe: X moves first, then X and O take turns marking an empty cell of a 3x3 board, ' +
    'cells 1 to 9 row by row (1 2 3 on top). Three marks in a row, column or diagonal win; a full ' +
    'board without one is a draw.',
  maxPayoff: 1,
  starts: 1,
  seatName: (seat) => MARKS[seat],
  start: () => ({ board: Array.from({ length: 9 }, () => null) }),
  toMove: (state) => (winningLine(state) || full(state) ? undefined : ((marks(state) % 2) as Seat)),
  legalMoves(state) {
    if (ticTacToe.toMove(state) === undefined) return [];
    return state.board.flatMap((c, i) => (c === null ? [String(i + 1)] : []));
  },
  play(state, move) {
    const board = [...state.board];
    board[Number(move) - 1] = (marks(state) % 2) as Seat;
    return { board };
  },
  payoff(state) {
    const line = winningLine(state);
    if (line) return line.seat === 0 ? 1 : -1;
    return full(state) ? 0 : undefined;
  },
  forfeitPayoff: (_state, seat) => (seat === 0 ? -1 : 1),
  parseMove(text) {
    const match = /^\s*\[?\s*(?:cell\s*)?([1-9])\s*\]?\s*$/i.exec(text);
    return match ? match[1] : undefined;
  },
  privateStart: () => '',
  describeMove: (seat, move) => `${MARKS[seat]} takes cell ${move}.`,
  describeTurn: (state, _seat) =>
    `Board: ${renderBoard(state)}; your turn: ${ticTacToe.legalMoves(state).join(', ')}.`,
  describeEnd(state, seat) {
    const line = winningLine(state);
    const board = `Board: ${renderBoard(state)};`;
    if (!line) return `${board} the board is full.`;
    const who = line.seat === seat ? 'you have' : `${MARKS[other(seat)]} has`;
    return `${board} ${who} three in a row (${line.cells.map((i) => i + 1).join(', ')}).`;
  },
  describePayoff: (payoff) => (payoff > 0 ? 'You win.' : payoff < 0 ? 'You lose.' : 'A draw.'),
};
