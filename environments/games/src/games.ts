import type { Game, GameId } from './game.ts';
import { kuhnPoker } from './kuhn-poker.ts';
import { ticTacToe } from './tic-tac-toe.ts';

/** Every game by id. */
// biome-ignore lint/suspicious/noExplicitAny: each game has its own state type
export const GAMES: Record<GameId, Game<any>> = { 'kuhn-poker': kuhnPoker, 'tic-tac-toe': ticTacToe };
