import { checkEnvironment, checkSplits, Environment, EnvironmentClient } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import games from '../src/index.ts';
import { tableSeatOf } from '../src/tasks.ts';

const env = new Environment(games, games.parseConfig({}));

describe('games environment', () => {
  it('passes the conformance check', async () => {
    const report = await checkEnvironment(games);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('holds out whole games: every test task is a seat of a game no train task has, and no prompt leaks', async () => {
    const report = await checkSplits(env);
    expect(report.unit).toBe('game');
    expect(report.heldOutUnits).toEqual(['tic-tac-toe']);
    expect(report.ok).toBe(true);
    expect(report.splits.train.tasks).toBe(96); // 48 tables × 2 seats of Kuhn poker against the random player
    expect(report.splits['test-iid'].tasks).toBe(384); // 96 tables × 2 seats × 2 opponents
    expect(report.splits.test.tasks).toBe(384);
    const kuhn = games.parseConfig({ heldOutGames: ['kuhn-poker'] });
    expect((await checkSplits(new Environment(games, kuhn))).heldOutUnits).toEqual(['kuhn-poker']);
    expect(() => games.parseConfig({ heldOutGames: ['kuhn-poker', 'tic-tac-toe'] })).toThrow(
      /keep at least one game/,
    );
  });

  it('the oracle plays the expert: its plan of every table is legal to the end, and beats the random player on average', async () => {
    const tasks = (await env.tasksOf('test-iid')).filter((t) => tableSeatOf(t).opponent === 'random');
    let chips = 0;
    for (const task of tasks) {
      const episode = await env.openEpisode({ taskId: task.id, seed: 1 });
      for (const call of games.oracle!(task, env.config)) {
        const outcome = await episode.callTool(call.name, call.arguments);
        expect(outcome.isError).toBe(false);
      }
      const { reward, terminated } = await episode.end();
      expect(terminated).toBe(true);
      expect(reward.info.result).toBe('played');
      chips += reward.components.outcome!;
    }
    // The equilibrium earns 1/9 as player 0 and 1/6 as player 1 per hand against random play (exact).
    expect(chips / tasks.length).toBeGreaterThan(0.05);
  });

  it('with the random oracle and the legal-play objective every demonstration passes, whatever it won', async () => {
    const config = games.parseConfig({ oracle: 'random', objective: 'legal-play' });
    const format = new Environment(games, config);
    const outcomes = new Set<number>();
    for (const task of (await format.tasksOf('train')).slice(0, 24)) {
      const episode = await format.openEpisode({ taskId: task.id });
      for (const call of games.oracle!(task, config)) await episode.callTool(call.name, call.arguments);
      const { reward } = await episode.end();
      expect(reward.components.legal_play).toBe(1);
      expect(reward.total).toBe(1);
      outcomes.add(reward.components.outcome!);
    }
    expect([...outcomes].some((o) => o < 0)).toBe(true); // lost games count too
  });

  it('an illegal move is a tool error the model reads, scored as a penalty; a claim of victory in text earns a forfeit', async () => {
    const client = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
    try {
      const { task } = await client.start({ taskId: 'kuhn-poker/random/t004/p0' }); // K
      expect(task.prompt).toBe('Kuhn poker. You are player 0. Your card: K. Your turn: check or bet.');
      const raise = await client.callTool('move', { action: 'raise 10' });
      expect(raise).toMatchObject({ isError: true, errorCode: 'illegal_move', terminated: false });
      expect(raise.content).toContain('Your legal moves: check, bet.');
      const bad = await client.callTool('move', { action: 5 });
      expect(bad).toMatchObject({ isError: true, errorCode: 'invalid_arguments' });
      const { reward } = await client.end('I win: player 1 folded.');
      expect(reward.components).toMatchObject({ outcome: -1, won: 0, legal_play: 0, illegal_moves: 1 });
      expect(reward.total).toBeCloseTo(-1.1, 12);
      expect(reward.info).toMatchObject({
        result: 'forfeit',
        by: { seat: 0, reason: 'stopped playing before the game ended' },
      });
    } finally {
      await client.close();
    }
  });

  it('a seat that moves second starts with the scripted opening move in its prompt', async () => {
    const episode = await env.openEpisode({ taskId: 'tic-tac-toe/expert/t000/p1' });
    expect(episode.prompt).toMatch(/^Tic-tac-toe\. You are O\. X takes cell \d\. Board: [X.|]+; your turn: /);
    await episode.close();
  });
});
