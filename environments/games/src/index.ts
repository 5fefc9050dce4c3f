/**
 * games@1 — two-player zero-sum games for self-play (SPIRAL, Liu et al. 2025): Kuhn poker and
 * tic-tac-toe. Each task is a seat at a table; the agent plays with one tool, `move`. Against the
 * table's scripted opponent (a random player or the expert) by default; an episode started with a
 * `match` id shares the game with the episode that joins the other seat with the same id.
 */
import { defineEnvironment, ToolError, weightedReward } from '@toolgym/env-kit';
import { hashString, Rng, type Task } from '@toolgym/protocol';
import { z } from 'zod';
import { type GamesConfig, GamesConfigSchema } from './config.ts';
import { other, type Seat } from './game.ts';
import { GAMES } from './games.ts';
import { Match, type SeatPlayer } from './match.ts';
import { MatchTable } from './match-table.ts';
import { expertPlayer, type Player, type PlayerKind, randomPlayer } from './players.ts';
import { gameTasks, type TableSeat, tableSeatOf } from './tasks.ts';

export { GAME_IDS, GamesConfigSchema, type GamesConfig } from './config.ts';
export type { Game, GameId, Seat } from './game.ts';
export { GAMES } from './games.ts';
export { kuhnPoker, KUHN_DEALS, contributions, type KuhnState } from './kuhn-poker.ts';
export { ticTacToe, renderBoard, winningLine, type TicTacToeState } from './tic-tac-toe.ts';
export { Match, type MatchResult, type MatchRules, type MoveReply, type SeatPlayer } from './match.ts';
export {
  expertPlayer,
  kuhnEquilibrium,
  minimaxMoves,
  randomPlayer,
  PLAYER_KINDS,
  type Player,
  type PlayerKind,
} from './players.ts';
export { gameTasks, tableSeatOf, type TableSeat } from './tasks.ts';

interface State {
  match: Match;
  seat: Seat;
  /** Leaves the match (forfeiting it if it is not over). */
  leave(reason: string): void;
}

/** The shared matches of each environment instance (its config object is its own). */
const tables = new WeakMap<GamesConfig, MatchTable>();

const playerOf = (kind: PlayerKind, seat: TableSeat, config: GamesConfig): Player =>
  kind === 'expert' ? expertPlayer(seat.game, config.kuhnAlpha) : randomPlayer(GAMES[seat.game]);

/** The draws of the table's scripted opponent: from the table alone, the same in every episode. */
const opponentRng = (task: Task) => new Rng(hashString(`${task.id}/opponent`));

export default defineEnvironment<State, GamesConfig>({
  id: 'games',
  version: 1,
  description:
    'Two-player zero-sum games (Kuhn poker, tic-tac-toe). You hold one seat; play with the move tool until the game ends. ' +
    'An illegal move is reported and costs a penalty paid to the opponent; a seat that breaks the rules too often, runs out of time or stops before the end forfeits.',
  config: GamesConfigSchema,
  tasks: gameTasks,
  tools: {
    move: {
      description:
        'Make your move; it returns once the opponent has moved, with what it did and your next turn, or how the game ended. ' +
        Object.values(GAMES)
          .map((g) => g.rules)
          .join(' '),
      input: z.object({
        action: z
          .string()
          .max(64)
          .describe('Your move: check, bet, call or fold in Kuhn poker; a cell 1-9 in tic-tac-toe.'),
      }),
      async run({ action }, { episode }) {
        const { match, seat } = episode.state;
        const reply = await match.move(seat, action);
        if (reply.over) episode.terminate(match.result);
        if (reply.illegal) throw new ToolError(reply.text, 'illegal_move');
        return reply.text;
      },
    },
  },
  setup(task, { config, match: matchId }) {
    const seat = tableSeatOf(task);
    const game = GAMES[seat.game];
    const rules = { illegalMoveLimit: config.illegalMoveLimit, seatTimeoutMs: config.seatTimeoutMs };
    if (matchId === undefined) {
      // The table's scripted opponent takes the other seat.
      const players: [SeatPlayer, SeatPlayer] = [{ kind: 'session' }, { kind: 'session' }];
      players[other(seat.seat)] = {
        kind: 'scripted',
        player: playerOf(seat.opponent, seat, config),
        rng: opponentRng(task),
      };
      const match = new Match(game, seat.table, players, rules);
      match.join(seat.seat);
      return { match, seat: seat.seat, leave: (reason) => match.leave(seat.seat, reason) };
    }
    const table = tables.get(config) ?? new MatchTable(config.seatTimeoutMs);
    tables.set(config, table);
    const match = table.join(
      matchId,
      seat.match,
      seat.seat,
      () => new Match(game, seat.table, [{ kind: 'session' }, { kind: 'session' }], rules),
    );
    return { match, seat: seat.seat, leave: (reason) => table.leave(matchId, seat.seat, reason) };
  },
  // A seat that moves second starts once the seats before it have moved: its prompt shows their moves.
  prompt: async ({ task, state }) => `${task.prompt} ${await state.match.opening(state.seat)}`,
  teardown: (state) => state.leave('its episode closed'),
  // What the seat wrote at the end (`finalText`) counts for nothing: only the game decides.
  grade({ episode }) {
    const { match, seat } = episode.state;
    episode.state.leave('stopped playing before the game ended');
    const result = match.result!;
    const outcome = seat === 0 ? result.payoff : 0 - result.payoff; // a draw is +0, not -0
    const { illegalMovePenalty: p, objective } = episode.config;
    const table = tableSeatOf(episode.task);
    const played = result.how === 'played' || result.by?.seat !== seat;
    return weightedReward(
      {
        outcome,
        won: outcome > 0 ? 1 : 0,
        legal_play: played && match.illegalMoves[seat] === 0 ? 1 : 0,
        illegal_moves: match.illegalMoves[seat],
        opponent_illegal_moves: match.illegalMoves[other(seat)],
      },
      {
        outcome: objective === 'win' ? 1 : 0,
        won: 0,
        legal_play: objective === 'legal-play' ? 1 : 0,
        illegal_moves: -p,
        opponent_illegal_moves: p,
      },
      {
        game: table.game,
        role: table.role,
        opponent: episode.match === undefined ? table.opponent : 'session',
        result: result.how,
        ...(result.by ? { by: result.by } : {}),
        moves: match.moves.map((m) => `${m.seat}:${m.move}`).join(' '),
      },
    );
  },
  // A payoff of at most 2 chips, and up to 5 illegal moves × 0.2 either way.
  rewardRange: [-3, 3],
  // No reward for form: a seat that does not play legal moves forfeits, losing at least its ante.
  formatFloor: () => -1,
  limits: (config) => ({
    maxTurns: config.maxTurns,
    // A move waits for the opponent's, which the match's seat clock bounds.
    toolTimeoutMs: config.seatTimeoutMs + 5_000,
    maxToolOutputBytes: 2_048,
  }),
  redteam: async () => (await import('../redteam/index.ts')).attacks,
  // SPIRAL's out-of-domain games: a test task is a seat of a game no train task has.
  heldOut: () => ({ unit: 'game', unitsOf: (task) => [tableSeatOf(task).game] }),
  oracle: (task, config) => {
    const seat = tableSeatOf(task);
    const game = GAMES[seat.game];
    const me = playerOf(config.oracle, seat, config);
    const myDraws = new Rng(hashString(`${task.id}/oracle`));
    const them = playerOf(seat.opponent, seat, config);
    const theirDraws = opponentRng(task);
    // The table played out against its scripted opponent, whose draws are the table's.
    const calls: Array<{ name: string; arguments: Record<string, unknown> }> = [];
    let state = game.start(seat.table);
    for (let turn = game.toMove(state); turn !== undefined; turn = game.toMove(state)) {
      const move = turn === seat.seat ? me(state, turn, myDraws) : them(state, turn, theirDraws);
      if (turn === seat.seat) calls.push({ name: 'move', arguments: { action: move } });
      state = game.play(state, move);
    }
    return calls;
  },
});
