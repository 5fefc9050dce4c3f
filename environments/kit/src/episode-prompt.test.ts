import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EnvironmentClient } from './client.ts';
import { defineEnvironment } from './define-environment.ts';
import { Environment } from './episode.ts';
import { weightedReward } from './reward.ts';

/** Two tasks: a seat of a two-seat match, and a task of no match. */
const seats = defineEnvironment<Record<string, never>, { failPrompt: boolean }>({
  id: 'seats',
  version: 1,
  description: 'Episodes whose prompt depends on the episode.',
  config: z.object({ failPrompt: z.boolean().default(false) }),
  tasks: () => [
    {
      id: 'seat',
      split: 'train',
      prompt: 'You hold seat 0.',
      meta: { match: 'm', seat: 0, seats: 2, role: 'g/p0' },
    },
    { id: 'solo', split: 'test', prompt: 'Alone.', meta: {} },
  ],
  tools: { noop: { description: 'Does nothing.', input: z.object({}), run: () => 'ok' } },
  setup: () => ({}),
  prompt: async ({ task, seed, match, config }) => {
    if (config.failPrompt) throw new Error('the other seat never came');
    return `${task.prompt} Seed ${seed}${match ? `, match ${match}` : ''}.`;
  },
  grade: () => weightedReward({ r: 1 }, { r: 1 }),
  rewardRange: [0, 1],
});

describe("an environment's per-episode prompt and shared matches", () => {
  it('starts the episode with its own prompt, over MCP too, and passes the match id to the episode', async () => {
    const env = new Environment(seats, seats.parseConfig({}));
    const client = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
    try {
      const started = await client.start({ taskId: 'seat', seed: 7, match: 'm-1' });
      expect(started.task.prompt).toBe('You hold seat 0. Seed 7, match m-1.');
      expect((await client.start({ taskId: 'solo', seed: 2 })).task.prompt).toBe('Alone. Seed 2.');
    } finally {
      await client.close();
    }
  });

  it('refuses a match id for a task that is no seat of a match, naming the fix', async () => {
    const env = new Environment(seats, seats.parseConfig({}));
    await expect(env.openEpisode({ taskId: 'solo', match: 'm-2' })).rejects.toMatchObject({
      code: 'not_a_seat',
      hint: expect.stringContaining('start it without `match`'),
    });
  });

  it('a prompt that fails fails the start and still releases what setup made', async () => {
    const released: boolean[] = [];
    const failing = defineEnvironment({ ...seats, teardown: () => void released.push(true) });
    const env = new Environment(failing, failing.parseConfig({ failPrompt: true }));
    await expect(env.openEpisode({ taskId: 'seat' })).rejects.toThrow('the other seat never came');
    expect(released).toEqual([true]);
  });
});
