import { Environment, EnvironmentClient, type EnvironmentEndpoint, serveHttp } from '@toolgym/env-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import games from '../src/index.ts';
import { playSeat } from './play-seat.ts';

const env = new Environment(games, games.parseConfig({ seatTimeoutMs: 20_000 }));
let http: Awaited<ReturnType<typeof serveHttp>>;
beforeAll(async () => {
  http = await serveHttp(env, { trainerToken: 'trainer' });
});
afterAll(async () => {
  await http.close();
});

const endpoints: Array<[string, () => EnvironmentEndpoint]> = [
  ['in-process MCP sessions', () => ({ kind: 'in-process', environment: env })],
  ['Streamable HTTP sessions of one server', () => ({ kind: 'http', url: http.url, token: 'trainer' })],
];

describe.each(endpoints)('self-play over %s', (_name, endpoint) => {
  it('two sessions joining one match id play one game, each its own episode, rewarded zero-sum', async () => {
    const [a, b] = await Promise.all([
      EnvironmentClient.connect(endpoint()),
      EnvironmentClient.connect(endpoint()),
    ]);
    try {
      // Table 2 deals Q to player 0 and J to player 1. Player 0 checks, player 1 bets, player 0 calls.
      const [p0, p1] = await Promise.all([
        playSeat(a, { taskId: 'kuhn-poker/random/t002/p0', match: 'm-1' }, (moves) =>
          moves.includes('call') ? 'call' : 'check',
        ),
        playSeat(b, { taskId: 'kuhn-poker/random/t002/p1', match: 'm-1' }, () => 'bet'),
      ]);
      expect(p0.prompt).toBe('Kuhn poker. You are player 0. Your card: Q. Your turn: check or bet.');
      // The seat that moves second starts once the first has moved, and sees its move.
      expect(p1.prompt).toBe(
        'Kuhn poker. You are player 1. Your card: J. Player 0 checks. Your turn: check or bet.',
      );
      expect(p0.texts).toEqual([
        'Player 1 bets. Your turn: call or fold.',
        "Showdown: your Q against player 1's J. You win 2 chips.",
      ]);
      expect(p1.texts).toEqual(["Player 0 calls. Showdown: your J against player 0's Q. You lose 2 chips."]);
      expect(p0.end.reward.total).toBe(2);
      expect(p1.end.reward.total).toBe(-2);
      expect(p0.end.reward.info).toMatchObject({
        opponent: 'session',
        result: 'played',
        moves: '0:check 1:bet 0:call',
      });
      expect(p0.end.episodeId).not.toBe(p1.end.episodeId);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('illegal moves are scored zero-sum: what one seat pays, the other receives', async () => {
    const [a, b] = await Promise.all([
      EnvironmentClient.connect(endpoint()),
      EnvironmentClient.connect(endpoint()),
    ]);
    try {
      let fumbled = false;
      const [x, o] = await Promise.all([
        playSeat(a, { taskId: 'tic-tac-toe/random/t000/p0', match: 'm-2' }),
        playSeat(b, { taskId: 'tic-tac-toe/random/t000/p1', match: 'm-2' }, (moves) => {
          if (fumbled) return moves.at(-1)!;
          fumbled = true;
          return 'a corner'; // an illegal move, then legal ones
        }),
      ]);
      expect(x.end.reward.components.opponent_illegal_moves).toBe(1);
      expect(o.end.reward.components.illegal_moves).toBe(1);
      expect(x.end.reward.total + o.end.reward.total).toBeCloseTo(0, 12);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a seat cannot be taken twice, and a match is played at one table', async () => {
    const clients = await Promise.all([0, 1, 2].map(() => EnvironmentClient.connect(endpoint())));
    try {
      await clients[0]!.start({ taskId: 'kuhn-poker/random/t000/p0', match: 'm-3' });
      await expect(clients[1]!.start({ taskId: 'kuhn-poker/random/t000/p0', match: 'm-3' })).rejects.toThrow(
        /already been taken/,
      );
      await expect(clients[2]!.start({ taskId: 'kuhn-poker/random/t001/p1', match: 'm-3' })).rejects.toThrow(
        /is played at table kuhn-poker\/random\/t000/,
      );
      // Player 0 leaves before moving: it forfeits its ante, and player 1, joining late, is told.
      await clients[0]!.end();
      const late = await playSeat(clients[1]!, { taskId: 'kuhn-poker/random/t000/p1', match: 'm-3' });
      expect(late.prompt).toMatch(
        /Player 0 forfeits \(stopped playing before the game ended\)\. You win 1 chip\.$/,
      );
      expect(late.end.reward.total).toBe(1);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
