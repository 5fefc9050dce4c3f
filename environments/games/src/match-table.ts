/**
 * The shared matches of one environment instance, by the id their seats' episodes joined with.
 * Sessions of one server (in-process, or many HTTP clients) meet here; separate stdio servers
 * cannot. A match is forgotten once every seat has joined and left; one whose seat has not joined
 * yet is kept a seat's time limit longer, so a late seat still meets the result (a forfeit it won).
 */
import { EpisodeStateError } from '@toolgym/env-kit';
import type { Seat } from './game.ts';
import type { Match } from './match.ts';

interface Shared {
  /** The table the match is played at (every seat must come from it). */
  table: string;
  match: Match;
}

export class MatchTable {
  private readonly open = new Map<string, Shared>();

  /** `keepMs`: how long a deserted match waits for a seat that has not joined. */
  constructor(private readonly keepMs: number) {}

  /** Joins `seat` of the match with this id, opening it (with `create`) when no seat has yet. */
  join(id: string, table: string, seat: Seat, create: () => Match): Match {
    let shared = this.open.get(id);
    if (shared && shared.table !== table)
      throw new EpisodeStateError(
        'match_mismatch',
        `match '${id}' is played at table ${shared.table}, not ${table}`,
        'start every seat of one match with tasks of the same table (their meta.match)',
      );
    if (!shared) {
      shared = { table, match: create() };
      this.open.set(id, shared);
    }
    shared.match.join(seat);
    return shared.match;
  }

  /** `seat` leaves the match (forfeiting it if it is not over); a deserted match is forgotten. */
  leave(id: string, seat: Seat, reason: string): void {
    const shared = this.open.get(id);
    if (!shared) return;
    const { match } = shared;
    match.leave(seat, reason);
    if (!match.deserted) return;
    if (match.everyoneJoined) this.open.delete(id);
    else
      setTimeout(
        () => this.open.get(id) === shared && match.deserted && this.open.delete(id),
        this.keepMs,
      ).unref();
  }

  get size(): number {
    return this.open.size;
  }
}
