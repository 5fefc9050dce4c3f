import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import probe from '../test/fixtures/probe-env.ts';
import { checkEnvironment } from './conformance.ts';
import { defineEnvironment, type EnvironmentSpec } from './define-environment.ts';
import { Environment } from './episode.ts';
import { weightedReward } from './reward.ts';

const base: EnvironmentSpec<{ n: number }, Record<string, never>> = {
  id: 'broken',
  version: 1,
  description: 'A deliberately broken environment.',
  config: z.object({}),
  tasks: () => [
    { id: 'a', split: 'train', prompt: 'a', meta: {} },
    { id: 'b', split: 'test', prompt: 'b', meta: {} },
  ],
  tools: { noop: { description: 'Does nothing.', input: z.object({}), run: () => 'ok' } },
  setup: () => ({ n: 0 }),
  grade: () => weightedReward({ r: 0.5 }, { r: 1 }),
  rewardRange: [0, 1],
};

const failedChecks = async (spec: EnvironmentSpec<{ n: number }, Record<string, never>>) =>
  (await checkEnvironment(defineEnvironment(spec))).checks.filter((c) => !c.ok).map((c) => c.name);

describe('checkEnvironment', () => {
  it('passes a well-behaved environment', async () => {
    const report = await checkEnvironment(probe);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('catches rewards outside the declared range', async () => {
    expect(await failedChecks({ ...base, grade: () => weightedReward({ r: 3 }, { r: 1 }) })).toContain(
      'an empty episode grades within the reward range',
    );
  });

  it('catches task sets that change between instances', async () => {
    let calls = 0;
    const tasks = () => [
      { id: `a${calls++}`, split: 'train' as const, prompt: 'a', meta: {} },
      { id: 'b', split: 'test' as const, prompt: 'b', meta: {} },
    ];
    expect(await failedChecks({ ...base, tasks })).toContain('tasks are deterministic');
  });

  it('catches a missing split and repeated ids', async () => {
    const tasks = () => [
      { id: 'a', split: 'train' as const, prompt: 'a', meta: {} },
      { id: 'a', split: 'train' as const, prompt: 'a', meta: {} },
    ];
    expect(await failedChecks({ ...base, tasks })).toContain('tasks are well-formed, unique, in both splits');
  });

  it('catches tools whose output depends on more than the seed', async () => {
    const spec = {
      ...base,
      tools: { roll: { description: 'Random.', input: z.object({}), run: () => String(Math.random()) } },
      oracle: () => [{ name: 'roll', arguments: {} }],
    };
    expect(await failedChecks(spec)).toContain('same seed gives the same episode');
  });

  it('catches a teardown that fails to run to completion', async () => {
    const spec = {
      ...base,
      teardown: () => {
        throw new Error('leaked');
      },
    };
    const failed = await failedChecks(spec);
    expect(failed).toContain('closing twice is safe');
  });
});

describe('process rewards (reward.steps)', () => {
  const withSteps = (steps: (calls: number) => number[]) =>
    defineEnvironment({
      ...base,
      grade: ({ episode }) => ({
        ...weightedReward({ r: 0.5 }, { r: 1 }),
        steps: steps(episode.calls.length),
      }),
    });

  it('are kept when there is one per tool call, in order', async () => {
    const env = new Environment(
      withSteps((n) => Array.from({ length: n }, (_, i) => i / 10)),
      {},
    );
    const episode = await env.openEpisode({ split: 'train', seed: 1 });
    await episode.callTool('noop', {});
    await episode.callTool('no_such_tool', {});
    expect((await episode.end()).reward.steps).toEqual([0, 0.1]);
  });

  it('fail the grade, naming the environment and both counts, when they do not match the calls', async () => {
    const env = new Environment(
      withSteps(() => [1]),
      {},
    );
    const episode = await env.openEpisode({ split: 'train', seed: 1 });
    await episode.callTool('noop', {});
    await episode.callTool('noop', {});
    await expect(episode.end()).rejects.toThrow(
      /environment broken graded 2 tool calls with 1 process rewards/,
    );
    expect(
      (await checkEnvironment(withSteps(() => [1]))).checks.filter((c) => !c.ok).map((c) => c.name),
    ).toContain('an empty episode grades within the reward range');
  });
});
