/**
 * Tasks are seats at tables. A table is one game from one start (a Kuhn poker deal), against a
 * scripted opponent whose draws come from the table, so every evaluation meets the same opponents
 * and the oracle can play a table out in advance. Each seat of a table is a task; its meta names
 * the table as the match its seats share, so a trainer can seat the policy in both (self-play).
 */
import type { Split, Task } from '@toolgym/protocol';
import type { GameId, Seat } from './game.ts';
import { GAMES } from './games.ts';
import type { GamesConfig } from './config.ts';
import type { PlayerKind } from './players.ts';

export interface TableSeat {
  game: GameId;
  /** Who plays the other seat when no session joins it. */
  opponent: PlayerKind;
  table: number;
  seat: Seat;
  /** The table: the match its seats share. */
  match: string;
  seats: 2;
  /** `kuhn-poker/p0`: the seat of the game (role-conditioned advantages keep one baseline per role). */
  role: string;
}

export const tableSeatOf = (task: Task): TableSeat => task.meta as unknown as TableSeat;

function seatTask(game: GameId, opponent: PlayerKind, table: number, seat: Seat, split: Split): Task {
  const rules = GAMES[game];
  const match = `${game}/${opponent}/t${String(table).padStart(3, '0')}`;
  const mine = rules.privateStart(rules.start(table), seat);
  const meta: TableSeat = { game, opponent, table, seat, match, seats: 2, role: `${game}/p${seat}` };
  return {
    id: `${match}/p${seat}`,
    split,
    prompt: [`${rules.title}.`, `You are ${rules.seatName(seat)}.`, mine].filter(Boolean).join(' '),
    meta: { ...meta },
  };
}

/**
 * For a trained game: `trainTables` tables against the random player in `train`, and in
 * `test-iid` `evalTables` more against each scripted opponent. For a held-out game: `evalTables`
 * tables against each scripted opponent, all in `test`.
 */
export function gameTasks(config: GamesConfig): Task[] {
  const tasks: Task[] = [];
  const tables = (game: GameId, opponent: PlayerKind, from: number, count: number, split: Split) => {
    for (let table = from; table < from + count; table++)
      for (const seat of [0, 1] as const) tasks.push(seatTask(game, opponent, table, seat, split));
  };
  for (const game of config.games) {
    if (config.heldOutGames.includes(game)) {
      tables(game, 'random', 0, config.evalTables, 'test');
      tables(game, 'expert', 0, config.evalTables, 'test');
    } else {
      tables(game, 'random', 0, config.trainTables, 'train');
      tables(game, 'random', config.trainTables, config.evalTables, 'test-iid');
      tables(game, 'expert', 0, config.evalTables, 'test-iid');
    }
  }
  return tasks;
}
