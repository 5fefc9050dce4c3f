import type { EpisodeTurn, TrajectoryGroup, Turn } from '@toolgym/protocol';
import type { EpisodeProgress } from '../src/agent-loop.ts';
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { hermesToolCalls } from '../src/chat/hermes-tool-calls.ts';
import { EpisodeTurnStream } from '../src/episode-turn-stream.ts';
import { formatEvalSummary, passAtK, summarizeEval } from '../src/eval-summary.ts';
import { createOraclePolicy } from '../src/policies/scripted.ts';
import type { Policy } from '../src/policy.ts';
import { runRollouts } from '../src/rollout-engine.ts';
import { RenderCache } from '../src/turn-renderer.ts';
import { verifyTrajectoryTokens } from '../src/verify-trajectory.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';
import { composeEnvironment, inProcessClient, instrumented } from './helpers.test-double.ts';

const env = composeEnvironment();
const tokenizer = new ByteTokenizerTestDouble();
const sampling = { maxTokens: 256 };


describe('rollout engine', () => {
  it('shares a render cache passed across runs: layouts learned in the first are used by the next, with the same tokens', async () => {
    const taskIds = (await env.tasksOf('train')).slice(0, 2).map((t) => t.id);
    const play = (renderCache?: RenderCache) =>
      runRollouts({
        connect: () => inProcessClient(env),
        sessions: 'episode',
        policy: createOraclePolicy({ tokenizer }),
        taskIds,
        groupSize: 2,
        concurrency: 2,
        sampling,
        progress: false,
        ...(renderCache ? { renderCache } : {}),
      });
    const tokensOf = (result: Awaited<ReturnType<typeof play>>) =>
      Object.fromEntries(
        result.groups.flatMap((g) => g.trajectories.map((t) => [`${t.taskId}/${t.seed}`, t.tokens])),
      );
    const shared = new RenderCache();
    const first = await play(shared);
    const learned = new Map([...shared.layouts].map(([key, entry]) => [key, entry]));
    const usesAfterFirst = [...shared.layouts.values()].reduce((n, entry) => n + (entry?.uses ?? 0), 0);
    expect(learned.size).toBeGreaterThan(0);
    const second = await play(shared);
    // No layout was learned again: the same entries, used by both runs.
    expect([...shared.layouts.keys()].sort()).toEqual([...learned.keys()].sort());
    for (const [key, entry] of shared.layouts) expect(entry).toBe(learned.get(key));
    const usesAfterSecond = [...shared.layouts.values()].reduce((n, entry) => n + (entry?.uses ?? 0), 0);
    expect(usesAfterSecond).toBeGreaterThan(usesAfterFirst);
    const fresh = await play();
    expect(tokensOf(second)).toEqual(tokensOf(first));
    expect(tokensOf(fresh)).toEqual(tokensOf(first));
    for (const result of [first, second, fresh])
      for (const t of result.groups.flatMap((g) => g.trajectories))
        expect(t.reward.components.correct).toBe(1);
  });

  it('plays tasks × group size with distinct seeds, at most `concurrency` at once, streaming each group when complete', async () => {
    const taskIds = (await env.tasksOf('train')).slice(0, 4).map((t) => t.id);
    // Episodes of the first task are slow; the other groups must not wait for them.
    const { policy, stats } = instrumented(createOraclePolicy({ tokenizer }), (seed) =>
      seed < 3 ? 1_500 : 0,
    );
    const order: string[] = [];
    const received: TrajectoryGroup[] = [];
    const result = await runRollouts({
      connect: () => inProcessClient(env),
      sessions: 'episode',
      policy,
      taskIds,
      groupSize: 3,
      concurrency: 6,
      baseSeed: 0,
      sampling,
      runId: 'run-1',
      step: 5,
      progress: false,
      sink: {
        onGroup: (group) => {
          order.push(group.taskId);
          received.push(group);
        },
      },
    });
    expect(result.episodes).toBe(12);
    expect(received.length).toBe(4);
    expect(stats.maxInFlight).toBeLessThanOrEqual(6);
    expect(stats.maxInFlight).toBeGreaterThan(1);
    // Groups scheduled after the slow first task did not wait for it.
    expect(order[0]).not.toBe(taskIds[0]);
    for (const group of received) {
      expect(group.trajectories.length).toBe(3);
      expect(group).toMatchObject({ runId: 'run-1', step: 5, envId: 'compose' });
      expect(new Set(group.trajectories.map((t) => t.seed)).size).toBe(3);
      for (const t of group.trajectories) {
        expect(t).toMatchObject({
          groupId: group.id,
          runId: 'run-1',
          step: 5,
          taskId: group.taskId,
          status: 'terminated',
        });
        expect(t.reward.components.correct).toBe(1);
        // Group members share one rendered prompt; each record is still exact.
        expect(verifyTrajectoryTokens(t, tokenizer, ChatTemplate.hermes(), env.toolSpecs)).toEqual({
          ok: true,
        });
      }
      expect(group.trajectories[1]!.tokens.slice(0, group.trajectories[1]!.promptLength)).toEqual(
        group.trajectories[0]!.tokens.slice(0, group.trajectories[0]!.promptLength),
      );
    }
    expect(new Set(received.flatMap((g) => g.trajectories.map((t) => t.seed)))).toEqual(
      new Set(Array.from({ length: 12 }, (_, i) => i)),
    );
  });

  it('reuses worker sessions across episodes and records a policy failure without stopping the batch', async () => {
    const taskIds = (await env.tasksOf('train')).slice(0, 3).map((t) => t.id);
    let connects = 0;
    let calls = 0;
    const flaky: Policy = {
      id: 'flaky-test-double',
      version: 0,
      async generate() {
        if (calls++ === 1) throw new Error('engine crashed');
        return {
          text: hermesToolCalls.render([{ name: 'answer', arguments: { answer: 'x' } }]),
          finishReason: 'stop',
          policyVersion: 0,
        };
      },
    };
    const result = await runRollouts({
      connect: () => {
        connects++;
        return inProcessClient(env);
      },
      policy: flaky,
      taskIds,
      groupSize: 2,
      concurrency: 1,
      sampling,
      progress: false,
    });
    const all = result.groups.flatMap((g) => g.trajectories);
    expect(all.length).toBe(6);
    expect(all.filter((t) => t.status === 'failed').map((t) => t.failure)).toEqual([
      { code: 'policy_error', message: expect.stringContaining('engine crashed') },
    ]);
    expect(all.filter((t) => t.status === 'terminated').length).toBe(5);
    // One session for the worker, plus one replacing the session of the failed episode.
    expect(connects).toBe(2);
  });

  it('records episodes whose environment cannot be reached, and fails the rollout when the sink throws', async () => {
    const taskIds = (await env.tasksOf('train')).slice(0, 2).map((t) => t.id);
    const unreachable = await runRollouts({
      connect: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')),
      policy: createOraclePolicy(),
      taskIds,
      groupSize: 2,
      concurrency: 2,
      sampling,
      progress: false,
    });
    const failures = unreachable.groups.flatMap((g) => g.trajectories.map((t) => t.failure));
    expect(failures).toHaveLength(4);
    expect(
      failures.every((f) => f?.code === 'environment_unavailable' && f.message.includes('ECONNREFUSED')),
    ).toBe(true);

    await expect(
      runRollouts({
        connect: () => inProcessClient(env),
        policy: createOraclePolicy(),
        taskIds,
        groupSize: 1,
        concurrency: 2,
        sampling,
        progress: false,
        sink: {
          onGroup: () => {
            throw new Error('disk full');
          },
        },
      }),
    ).rejects.toThrow('disk full');
  });
});

describe('eval summary', () => {
  it('pass@k is the unbiased estimator', () => {
    expect(passAtK(10, 0, 1)).toBe(0);
    expect(passAtK(10, 10, 5)).toBe(1);
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3);
    // 1 - C(7,2)/C(10,2) = 1 - 21/45
    expect(passAtK(10, 3, 2)).toBeCloseTo(1 - 21 / 45);
    expect(passAtK(4, 1, 4)).toBe(1);
    expect(() => passAtK(2, 1, 3)).toThrow(/at least 3 samples/);
  });

  it('summarises a rollout: pass rates, components, failures by reason (failed episodes never pass)', async () => {
    const taskIds = (await env.tasksOf('test')).slice(0, 2).map((t) => t.id);
    let n = 0;
    const mixed: Policy = {
      id: 'mixed-test-double',
      version: 0,
      async bindEpisode(binding) {
        const { calls } = await binding.oracle();
        const mode = n++ % 4; // 0: solve, 1: wrong answer, 2: policy crash, 3: solve
        let turn = 0;
        return {
          id: 'mixed',
          version: 0,
          async generate() {
            if (mode === 2) throw new Error('boom');
            const call = mode === 1 ? { name: 'answer', arguments: { answer: 'wrong' } } : calls[turn++]!;
            return { text: hermesToolCalls.render([call]), finishReason: 'stop', policyVersion: 0 };
          },
        };
      },
      generate: () => Promise.reject(new Error('unbound')),
    };
    const result = await runRollouts({
      connect: () => inProcessClient(env),
      policy: mixed,
      taskIds,
      groupSize: 4,
      concurrency: 1,
      sampling,
      progress: false,
    });
    const summary = summarizeEval(result.groups);
    expect(summary.episodes).toBe(8);
    expect(summary.passAt1).toBeCloseTo(0.5);
    expect(summary.passAtK[4]).toBe(1);
    expect(summary.passAtK[2]).toBeCloseTo(1 - 1 / 6);
    expect(summary.failures).toEqual({ policy_error: 2 });
    expect(summary.byStatus).toEqual({ terminated: 6, failed: 2 });
    expect(summary.meanComponents.correct).toBeCloseTo(4 / 6);
    const text = formatEvalSummary(summary);
    expect(text).toContain('pass@1 50.0%');
    expect(text).toContain('policy_error 2');
  });
});

describe('per-turn events', () => {
  it('hands each turn to the sink as it happens, before its group, and the turns rebuild each trajectory exactly', async () => {
    const taskIds = (await env.tasksOf('train')).slice(0, 2).map((t) => t.id);
    const events: Array<{ kind: 'turn'; turn: EpisodeTurn } | { kind: 'group'; group: TrajectoryGroup }> = [];
    await runRollouts({
      connect: () => inProcessClient(env),
      sessions: 'episode',
      policy: createOraclePolicy({ tokenizer }),
      taskIds,
      groupSize: 2,
      concurrency: 4,
      sampling,
      runId: 'run-live',
      step: 1,
      progress: false,
      sink: {
        onTurn: (turn) => {
          events.push({ kind: 'turn', turn });
        },
        onGroup: (group) => {
          events.push({ kind: 'group', group });
        },
      },
    });
    const groups = events.flatMap((e) => (e.kind === 'group' ? [e.group] : []));
    expect(groups).toHaveLength(2);
    expect(groups.flatMap((g) => g.trajectories).some((t) => t.turns.length > 1)).toBe(true);
    for (const group of groups) {
      const groupAt = events.findIndex((e) => e.kind === 'group' && e.group.id === group.id);
      for (const t of group.trajectories) {
        const turns = events.flatMap((e, i) =>
          e.kind === 'turn' && e.turn.trajectoryId === t.id ? [{ at: i, turn: e.turn }] : [],
        );
        expect(turns.map((e) => e.turn.turn.index)).toEqual(t.turns.map((turn) => turn.index));
        expect(turns.every((e) => e.at < groupAt)).toBe(true);
        expect(turns[0]!.turn).toMatchObject({ runId: 'run-live', step: 1, groupId: group.id, seed: t.seed });
        // Each event carries what is new since the one before: together, the whole record.
        const tokens: number[] = [];
        const logprobs: number[] = [];
        const messages = [];
        for (const { turn } of turns) {
          expect(turn.tokens.from).toBe(tokens.length);
          tokens.push(...turn.tokens.ids);
          logprobs.push(...turn.tokens.logprobs);
          messages.push(...turn.messages);
          expect(turn.tokens.pieces).toEqual(turn.tokens.ids.map((id) => tokenizer.decode([id])));
        }
        expect(tokens).toEqual(Array.from(t.tokens));
        expect(logprobs).toEqual(Array.from(t.logprobs));
        expect(messages).toEqual(t.messages);
        expect(turns.map((e) => e.turn.turn)).toEqual(t.turns);
      }
    }
  });

  it('fails the rollout when the sink refuses a turn', async () => {
    const taskIds = (await env.tasksOf('train')).slice(0, 1).map((t) => t.id);
    const refusal = new Error('disk full');
    await expect(
      runRollouts({
        connect: () => inProcessClient(env),
        sessions: 'episode',
        policy: createOraclePolicy({ tokenizer }),
        taskIds,
        groupSize: 1,
        concurrency: 1,
        sampling,
        progress: false,
        sink: { onTurn: () => Promise.reject(refusal), onGroup: () => {} },
      }),
    ).rejects.toBe(refusal);
  });
});

describe('EpisodeTurnStream', () => {
  const turn: Turn = {
    index: 0,
    policyVersion: 0,
    sampled: { start: 0, end: 0 },
    observation: { start: 0, end: 0 },
    text: '',
    finishReason: 'stop',
    toolCalls: [],
    toolResults: [],
    parseErrors: [],
    generateMs: 0,
    toolMs: 0,
  };
  const progress = (tokens: number[], branches = 0): EpisodeProgress => ({
    envId: 'e',
    taskId: 't',
    seed: 0,
    startedAt: 0,
    messages: [],
    record: {
      tokens,
      lossMask: tokens.map(() => 0),
      logprobs: tokens.map(() => 0),
      branches: Array.from({ length: branches }),
    },
  });

  it('sends what is new, and the whole record again from 0 after the template rewrote history', () => {
    const stream = new EpisodeTurnStream({ trajectoryId: 'x' });
    expect(stream.next(turn, progress([1, 2, 3])).tokens).toMatchObject({ from: 0, ids: [1, 2, 3] });
    expect(stream.next(turn, progress([1, 2, 3, 4, 5])).tokens).toMatchObject({ from: 3, ids: [4, 5] });
    // A new branch: the record restarted from the template's new render, here longer than before.
    expect(stream.next(turn, progress([9, 8, 7, 6, 5, 4], 1)).tokens).toMatchObject({
      from: 0,
      ids: [9, 8, 7, 6, 5, 4],
    });
    expect(stream.next(turn, progress([9, 8, 7, 6, 5, 4, 3], 1)).tokens).toMatchObject({ from: 6, ids: [3] });
    // Shorter than what was sent: rewritten too.
    expect(stream.next(turn, progress([7], 1)).tokens).toMatchObject({ from: 0, ids: [7] });
  });
});
