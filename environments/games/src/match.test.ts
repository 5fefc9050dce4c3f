import { Rng } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { kuhnPoker } from './kuhn-poker.ts';
import { Match, type SeatPlayer } from './match.ts';
import { randomPlayer } from './players.ts';
import { ticTacToe } from './tic-tac-toe.ts';

const rules = { illegalMoveLimit: 3, seatTimeoutMs: 5_000 };
const sessions: [SeatPlayer, SeatPlayer] = [{ kind: 'session' }, { kind: 'session' }];

describe('a match between two sessions', () => {
  it("returns a seat's move once the other seat has moved, with its move, and ends zero-sum", async () => {
    // Table 4: player 0 holds K, player 1 J.
    const match = new Match(kuhnPoker, 4, sessions, rules);
    match.join(0);
    match.join(1);
    const opening1 = match.opening(1); // player 1 starts once player 0 has moved
    const first = match.move(0, 'check');
    expect(await opening1).toBe('Player 0 checks. Your turn: check or bet.');
    const second = match.move(1, 'bet');
    expect(await first).toEqual({
      text: 'Player 1 bets. Your turn: call or fold.',
      illegal: false,
      over: false,
    });
    expect(await match.move(0, 'call')).toEqual({
      text: "Showdown: your K against player 1's J. You win 2 chips.",
      illegal: false,
      over: true,
    });
    expect(await second).toEqual({
      text: "Player 0 calls. Showdown: your J against player 0's K. You lose 2 chips.",
      illegal: false,
      over: true,
    });
    expect(match.result).toEqual({ payoff: 2, how: 'played' });
    expect(match.moves.map((m) => `${m.seat}:${m.move}`)).toEqual(['0:check', '1:bet', '0:call']);
  });

  it('counts illegal moves, moves out of turn among them, and the limit-th forfeits', async () => {
    const match = new Match(ticTacToe, 0, sessions, rules);
    match.join(0);
    match.join(1);
    const pending = match.move(0, '5');
    const outOfTurn = await match.move(0, '1');
    expect(outOfTurn.illegal).toBe(true);
    expect(outOfTurn.text).toContain('It is not your turn');
    const o = await match.move(1, '5'); // occupied
    expect(o).toMatchObject({ illegal: true, over: false });
    expect(o.text).toContain('5 is not allowed now.');
    expect(o.text).toContain('Your legal moves: 1, 2, 3, 4, 6, 7, 8, 9.');
    await match.move(1, 'I win');
    const third = await match.move(1, 'middle');
    expect(third).toMatchObject({ illegal: true, over: true });
    expect(third.text).toContain('You forfeit (3rd illegal move). You lose.');
    expect(match.illegalMoves).toEqual([1, 3]);
    expect(match.result).toMatchObject({ payoff: 1, how: 'forfeit', by: { seat: 1 } });
    expect((await pending).text).toBe('O forfeits (3rd illegal move). You win.');
  });

  it('a seat that leaves before the end forfeits, and the waiting seat hears it', async () => {
    const match = new Match(kuhnPoker, 0, sessions, rules);
    match.join(0);
    match.join(1);
    const pending = match.move(0, 'bet'); // player 0 has put in 2 chips
    match.leave(1, 'stopped playing');
    expect((await pending).text).toBe('Player 1 forfeits (stopped playing). You win 1 chip.');
    match.leave(1, 'again'); // safe to repeat
    expect(match.result).toEqual({ payoff: 1, how: 'forfeit', by: { seat: 1, reason: 'stopped playing' } });
    expect(match.deserted).toBe(false);
    match.leave(0, 'done');
    expect(match.deserted).toBe(true);
  });

  it('a seat that does not move in time forfeits; one that never joined voids the match', async () => {
    const quick = { illegalMoveLimit: 3, seatTimeoutMs: 40 };
    const slow = new Match(kuhnPoker, 0, sessions, quick);
    slow.join(0);
    slow.join(1);
    const reply = await slow.move(0, 'check'); // player 1 never answers
    expect(reply.text).toBe('Player 1 forfeits (did not move within 0.04 s). You win 1 chip.');
    const absent = new Match(kuhnPoker, 0, sessions, quick);
    absent.join(1);
    expect(await absent.opening(1)).toBe('Player 0 never joined: the match is void.');
    expect(absent.result).toMatchObject({ payoff: 0, how: 'void' });
  });

  it('a scripted seat moves at once, so a session that moves second starts with its move', async () => {
    const match = new Match(
      ticTacToe,
      0,
      [{ kind: 'scripted', player: randomPlayer(ticTacToe), rng: new Rng(1) }, { kind: 'session' }],
      rules,
    );
    match.join(1);
    const opening = await match.opening(1);
    expect(opening).toMatch(/^X takes cell \d\. Board: .*; your turn: /);
    expect(() => match.join(0)).toThrow(/played by the environment/);
    expect(() => match.join(1)).toThrow(/already been taken/);
  });
});
