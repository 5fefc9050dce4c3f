/**
 * One game between two seats, each played by a session (an episode) or by a scripted player. A
 * session's move returns once every seat after it has moved, with what they did: the seat's next
 * observation. Rules are enforced here: an illegal move is counted and reported, the seat's
 * `illegalMoveLimit`-th forfeits, a seat that does not move within `seatTimeoutMs` of its turn
 * forfeits, and a seat that leaves before the end forfeits. A seat that never joined voids the
 * match (no result), so a partner that failed to start costs nobody anything.
 */
import type { Rng } from '@toolgym/protocol';
import { EpisodeStateError } from '@toolgym/env-kit';
import { type Game, other, SEATS, type Seat } from './game.ts';
import type { Player } from './players.ts';

/** Who plays a seat: a session (an episode of the environment), or a scripted player with its own draws. */
export type SeatPlayer = { kind: 'session' } | { kind: 'scripted'; player: Player; rng: Rng };

export interface MatchRules {
  /** The seat's n-th illegal move forfeits the game. */
  illegalMoveLimit: number;
  /** A session seat that has not moved this long after its turn began forfeits (or, never joined, voids the match). */
  seatTimeoutMs: number;
}

export interface MatchResult {
  /** Seat 0's payoff; seat 1's is its negative. */
  payoff: number;
  /** `played` to the end, a seat `forfeit`ed, or `void` (a seat never joined). */
  how: 'played' | 'forfeit' | 'void';
  /** The seat that forfeited or never joined, and why. */
  by?: { seat: Seat; reason: string };
}

/** What a seat's move call answers. */
export interface MoveReply {
  text: string;
  /** The move broke the rules (it was counted). */
  illegal: boolean;
  /** The game is over. */
  over: boolean;
}

const ordinal = (n: number) =>
  `${n}${['th', 'st', 'nd', 'rd'][n % 10 > 3 || Math.floor(n / 10) === 1 ? 0 : n % 10]}`;
const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

export class Match<State = unknown> {
  private state: State;
  /** Every move, in order. */
  readonly moves: Array<{ seat: Seat; move: string }> = [];
  readonly illegalMoves: [number, number] = [0, 0];
  private readonly joined: [boolean, boolean] = [false, false];
  private readonly left: [boolean, boolean] = [false, false];
  /** How many of `moves` each seat has been told. */
  private readonly told: [number, number] = [0, 0];
  private ended?: MatchResult;
  private waiters: Array<() => void> = [];
  private clock?: NodeJS.Timeout;

  constructor(
    readonly game: Game<State>,
    table: number,
    private readonly players: readonly [SeatPlayer, SeatPlayer],
    private readonly rules: MatchRules,
  ) {
    this.state = game.start(table);
    this.advance();
  }

  get result(): MatchResult | undefined {
    return this.ended;
  }

  get position(): State {
    return this.state;
  }

  /** A session takes its seat. */
  join(seat: Seat): void {
    if (this.players[seat].kind !== 'session')
      throw new EpisodeStateError('seat_taken', `seat ${seat} of this match is played by the environment`);
    if (this.joined[seat])
      throw new EpisodeStateError(
        'seat_taken',
        `seat ${seat} of this match has already been taken`,
        'each seat of a match is joined by one episode: start the other seats with the same match id',
      );
    this.joined[seat] = true;
  }

  /** Whether every session seat has joined. */
  get everyoneJoined(): boolean {
    return SEATS.every((s) => this.players[s].kind !== 'session' || this.joined[s]);
  }

  /** Whether no session seat is still in the match (those that joined have left). */
  get deserted(): boolean {
    return SEATS.every((s) => this.players[s].kind !== 'session' || this.left[s] || !this.joined[s]);
  }

  /** What `seat` sees when its episode starts: the moves before its first turn, then its turn (or the end). */
  async opening(seat: Seat): Promise<string> {
    await this.until(() => this.ended !== undefined || this.game.toMove(this.state) === seat);
    return this.news(seat);
  }

  /** Plays `text` as `seat`'s move; answers once it is the seat's turn again, or the game is over. */
  async move(seat: Seat, text: string): Promise<MoveReply> {
    if (this.ended) return { text: `The game is over. ${this.news(seat)}`, illegal: false, over: true };
    const legal = this.game.legalMoves(this.state);
    const move = this.game.parseMove(text);
    let problem: string | undefined;
    if (this.game.toMove(this.state) !== seat)
      problem = 'It is not your turn: one move at a time, each after the last move call returned.';
    else if (move === undefined)
      problem = `${JSON.stringify(text.slice(0, 40))} is not a move of ${this.game.title}.`;
    else if (!legal.includes(move)) problem = `${move} is not allowed now.`;
    if (problem) return this.illegal(seat, `${problem} Your legal moves: ${legal.join(', ')}.`);

    this.apply(seat, move!);
    await this.until(() => this.ended !== undefined || this.game.toMove(this.state) === seat);
    return { text: this.news(seat), illegal: false, over: this.ended !== undefined };
  }

  /** The seat's session is gone: before the end, that forfeits the game. Safe to call again. */
  leave(seat: Seat, reason: string): void {
    if (this.left[seat]) return;
    this.left[seat] = true;
    if (!this.ended) this.forfeit(seat, reason);
  }

  private illegal(seat: Seat, text: string): MoveReply {
    const count = ++this.illegalMoves[seat];
    const limit = this.rules.illegalMoveLimit;
    if (count < limit)
      return {
        text: `Illegal move ${count} of ${limit} (the ${ordinal(limit)} forfeits the game). ${text}`,
        illegal: true,
        over: false,
      };
    this.forfeit(seat, `${ordinal(count)} illegal move`);
    return {
      text: `Illegal move ${count} of ${limit}. ${text} ${this.news(seat)}`,
      illegal: true,
      over: true,
    };
  }

  private apply(seat: Seat, move: string): void {
    this.state = this.game.play(this.state, move);
    this.moves.push({ seat, move });
    this.advance();
  }

  /** Scripted seats move while it is their turn; then the clock of the session to move starts. */
  private advance(): void {
    for (let seat = this.game.toMove(this.state); seat !== undefined; seat = this.game.toMove(this.state)) {
      const player = this.players[seat];
      if (player.kind !== 'scripted') break;
      const move = player.player(this.state, seat, player.rng);
      this.state = this.game.play(this.state, move);
      this.moves.push({ seat, move });
    }
    const payoff = this.game.payoff(this.state);
    if (payoff !== undefined) this.finish({ payoff, how: 'played' });
    else this.startClock();
    this.notify();
  }

  private startClock(): void {
    clearTimeout(this.clock);
    const seat = this.game.toMove(this.state)!;
    const turn = this.moves.length;
    this.clock = setTimeout(() => {
      if (this.ended || this.moves.length !== turn) return;
      if (!this.joined[seat])
        this.finish({ payoff: 0, how: 'void', by: { seat, reason: 'never joined the match' } });
      else this.forfeit(seat, `did not move within ${this.rules.seatTimeoutMs / 1000} s`);
    }, this.rules.seatTimeoutMs);
    this.clock.unref();
  }

  private forfeit(seat: Seat, reason: string): void {
    this.finish({ payoff: this.game.forfeitPayoff(this.state, seat), how: 'forfeit', by: { seat, reason } });
  }

  private finish(result: MatchResult): void {
    if (this.ended) return;
    this.ended = result;
    clearTimeout(this.clock);
    this.notify();
  }

  /** The other seat's moves since `seat` was last told, then its turn, or how the game ended. */
  private news(seat: Seat): string {
    const theirs = this.moves
      .slice(this.told[seat])
      .filter((m) => m.seat !== seat)
      .map((m) => this.game.describeMove(m.seat, m.move));
    this.told[seat] = this.moves.length;
    return [...theirs, this.ended ? this.describeEnd(seat) : this.game.describeTurn(this.state, seat)].join(
      ' ',
    );
  }

  private describeEnd(seat: Seat): string {
    const result = this.ended!;
    const mine = seat === 0 ? result.payoff : 0 - result.payoff; // a draw is +0, not -0
    const name = (s: Seat) => capitalized(this.game.seatName(s));
    if (result.how === 'void') return `${name(result.by!.seat)} never joined: the match is void.`;
    const how =
      result.how === 'played'
        ? this.game.describeEnd(this.state, seat)
        : result.by!.seat === seat
          ? `You forfeit (${result.by!.reason}).`
          : `${name(other(seat))} forfeits (${result.by!.reason}).`;
    return [how, this.game.describePayoff(mine)].filter(Boolean).join(' ');
  }

  private async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}
