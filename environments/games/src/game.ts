/**
 * The rules of a two-player zero-sum game with alternating moves, as pure functions over an
 * immutable state. Payoffs are seat 0's; seat 1's is its negative. Moves are short words
 * (`bet`, `5`) that a player writes as the argument of the `move` tool.
 */

export type Seat = 0 | 1;
export const SEATS: readonly Seat[] = [0, 1];
export const other = (seat: Seat): Seat => (seat === 0 ? 1 : 0);

export type GameId = 'kuhn-poker' | 'tic-tac-toe';

export interface Game<State> {
  readonly id: GameId;
  /** `Kuhn poker`. */
  readonly title: string;
  /** The rules in a few sentences (the `move` tool's description states them). */
  readonly rules: string;
  /** The largest payoff a seat can win. */
  readonly maxPayoff: number;
  /** How many distinct starts the game has (deals); a table plays start `table mod starts`. */
  readonly starts: number;
  /** `player 0`, `X`. */
  seatName(seat: Seat): string;
  /** The state a table starts from. */
  start(table: number): State;
  /** Whose move it is; undefined once the game is over. */
  toMove(state: State): Seat | undefined;
  legalMoves(state: State): readonly string[];
  /** The state after a legal move of the seat to move. */
  play(state: State, move: string): State;
  /** Seat 0's payoff once the game is over, else undefined. */
  payoff(state: State): number | undefined;
  /** Seat 0's payoff when `seat` gives up now (it forfeits, or leaves the game). */
  forfeitPayoff(state: State, seat: Seat): number;
  /** Reads a move as a player may write it (`Bet`, `[bet]`, ` 5 `); undefined when it names none. */
  parseMove(text: string): string | undefined;
  /** What `seat` knows when the game starts (its card), for its prompt; may be empty. */
  privateStart(state: State, seat: Seat): string;
  /** A move as the players read it: `Player 0 bets.`, `X takes cell 5.` */
  describeMove(seat: Seat, move: string): string;
  /** The position as `seat`, to move, reads it, ending with its legal moves. */
  describeTurn(state: State, seat: Seat): string;
  /** How a finished game ended, as `seat` reads it (`Showdown: your Q against player 1's K.`), beyond the moves told. */
  describeEnd(state: State, seat: Seat): string;
  /** A seat's payoff in words (`You win 2 chips.`, `A draw.`). */
  describePayoff(payoff: number): string;
}
