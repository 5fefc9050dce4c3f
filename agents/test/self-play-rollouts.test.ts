import { discoverEnvironments } from '@toolgym/env-kit';
import { type Task, taskSeatOf } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { runRollouts } from '../src/rollout-engine.ts';
import { verifyTrajectoryTokens } from '../src/verify-trajectory.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import { inProcessClient, scriptedTokenPolicyTestDouble } from './helpers.test-double.ts';

const registry = await discoverEnvironments(undefined, { ids: ['games'] });
const games = registry.make('games', { seatTimeoutMs: 30_000 });
const tokenizer = new ByteTokenizerTestDouble();

/** TEST DOUBLE of a model that reads its turn from the conversation and plays the first move offered. */
const firstOffered = () =>
  scriptedTokenPolicyTestDouble(tokenizer, (_turn, request) => {
    const text = 'tokens' in request ? tokenizer.decode([...request.tokens]) : '';
    const offered = [...text.matchAll(/[Yy]our turn: ([^.]*)\./g)].at(-1)?.[1]?.split(/, | or /) ?? [];
    return `<tool_call>{"name": "move", "arguments": {"action": "${offered[0] ?? 'none'}"}}</tool_call>`;
  });

describe('rollouts in self-play', () => {
  it('plays the seats of each match against each other, member by member, each seat its own exact-token episode', async () => {
    const tables = (await games.tasksOf('train')).filter((t) => (t.meta.table as number) < 2);
    const seats = new Map(tables.map((t: Task) => [t.id, taskSeatOf(t)!]));
    const policy = firstOffered();
    const result = await runRollouts({
      connect: () => inProcessClient(games),
      sessions: 'episode',
      policy,
      taskIds: tables.map((t) => t.id),
      groupSize: 3,
      // Two slots: a seat and its partner at a time, which must not wait on each other forever.
      concurrency: 2,
      sampling: { maxTokens: 64 },
      seatOf: (id) => seats.get(id),
      progress: false,
    });
    expect(result.episodes).toBe(12);
    const trajectories = result.groups.flatMap((g) => g.trajectories);
    for (const t of trajectories) {
      expect(t.status).toBe('terminated');
      expect(t.tokenization).toBe('exact');
      expect(t.reward.info).toMatchObject({ opponent: 'session', result: 'played' });
      expect(verifyTrajectoryTokens(t, tokenizer, ChatTemplate.hermes(), games.toolSpecs)).toEqual({
        ok: true,
      });
    }
    // Both play the first move offered: check, check, showdown. Member j of seat 0 and of seat 1
    // played one game: the same moves, and rewards that cancel.
    const byTask = new Map(result.groups.map((g) => [g.taskId, g.trajectories]));
    for (const table of ['kuhn-poker/random/t000', 'kuhn-poker/random/t001']) {
      const [p0, p1] = [byTask.get(`${table}/p0`)!, byTask.get(`${table}/p1`)!];
      for (let j = 0; j < 3; j++) {
        expect(p0[j]!.reward.info.moves).toBe('0:check 1:check');
        expect(p0[j]!.reward.total + p1[j]!.reward.total).toBe(0);
      }
    }
    // Table 0 deals J to player 0 and Q to player 1.
    expect(byTask.get('kuhn-poker/random/t000/p1')!.map((t) => t.reward.total)).toEqual([1, 1, 1]);
  });

  it('refuses to play a match without all of its seats', async () => {
    const [p0] = await games.tasksOf('train');
    await expect(
      runRollouts({
        connect: () => inProcessClient(games),
        policy: firstOffered(),
        taskIds: [p0!.id],
        groupSize: 1,
        concurrency: 4,
        sampling: { maxTokens: 64 },
        seatOf: (id) => (id === p0!.id ? taskSeatOf(p0!) : undefined),
        progress: false,
      }),
    ).rejects.toThrow(/has 2 seats, but the tasks played list them \[1, 0\] times/);
    const [, p1] = await games.tasksOf('train');
    await expect(
      runRollouts({
        connect: () => inProcessClient(games),
        policy: firstOffered(),
        taskIds: [p0!.id, p1!.id],
        groupSize: 1,
        concurrency: 1,
        sampling: { maxTokens: 64 },
        seatOf: (id) => taskSeatOf(id === p0!.id ? p0! : p1!),
        progress: false,
      }),
    ).rejects.toThrow(/2 seats, which must play at once, but concurrency is 1/);
  });
});
