import { ToolGymError } from '@toolgym/protocol';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { EnvironmentClient } from './client.ts';
import { defineEnvironment } from './define-environment.ts';
import { Environment } from './episode.ts';
import { weightedReward } from './reward.ts';

/** The gold answer: no random episode id or session id can contain it by chance. */
const SECRET = 'the secret is ultramarine-quokka';

/** Grades from `info` that names the gold, or fails with the gold in its message. */
const secretive = defineEnvironment({
  id: 'secretive',
  version: 1,
  description: 'Its grade knows a secret.',
  config: z.object({ failGrade: z.boolean().default(false) }),
  tasks: () => [
    { id: 'a', split: 'train', prompt: 'Guess.', answer: SECRET, meta: {} },
    { id: 'b', split: 'test', prompt: 'Guess.', answer: SECRET, meta: {} },
  ],
  tools: { guess: { description: 'Guess.', input: z.object({ text: z.string() }), run: ({ text }) => text } },
  setup: () => ({}),
  grade: ({ episode }) => {
    if (episode.config.failGrade) throw new ToolGymError('gold_unreadable', `could not compare with ${String(episode.task.answer)}`);
    return weightedReward({ correct: 0 }, { correct: 1 }, { gold: episode.task.answer });
  },
  rewardRange: [0, 1],
});

describe('what an agent session can set', () => {
  it('refuses an agent that tells the episode how far training is (schedules like ZeroSearch noise follow it); the trainer may', async () => {
    const environment = new Environment(secretive, secretive.parseConfig({}));
    const agent = await EnvironmentClient.connect({ kind: 'in-process', environment, principal: 'agent' });
    await expect(agent.start({ taskId: 'a', progress: 0 })).rejects.toMatchObject({
      data: { code: 'trainer_credential_required' },
    });
    const trainer = await EnvironmentClient.connect({ kind: 'in-process', environment });
    await expect(trainer.start({ taskId: 'a', progress: 0.5 })).resolves.toMatchObject({ task: { id: 'a' } });
    await trainer.end();
  });
});

describe('what an agent session can read of a grade', () => {
  it('gives the agent the reward without info, and the trainer all of it', async () => {
    const environment = new Environment(secretive, secretive.parseConfig({}));
    const agent = await EnvironmentClient.connect({ kind: 'direct', environment, principal: 'agent' });
    const trainer = await EnvironmentClient.connect({ kind: 'in-process', environment });
    await Promise.all([agent.start({ taskId: 'a' }), trainer.start({ taskId: 'a' })]);
    const [mine, theirs] = await Promise.all([agent.end(), trainer.end()]);
    expect(mine.reward).toMatchObject({ total: 0, components: { correct: 0 }, info: {} });
    expect(JSON.stringify(mine)).not.toContain('ultramarine');
    expect(theirs.reward.info).toEqual({ gold: SECRET });
  });

  it('tells an agent only the code of a failed grade, and logs the details', async () => {
    const environment = new Environment(secretive, secretive.parseConfig({ failGrade: true }));
    const log = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const agent = await EnvironmentClient.connect({ kind: 'in-process', environment, principal: 'agent' });
      await agent.start({ taskId: 'a' });
      const failure = await agent.end().then(
        () => undefined,
        (error: unknown) => error as Error & { data?: { code?: string } },
      );
      expect(failure?.data?.code).toBe('gold_unreadable');
      expect(failure?.message).not.toContain('ultramarine');
      expect(String(log.mock.calls.at(-1)?.[0])).toContain(`could not compare with ${SECRET}`);
    } finally {
      log.mockRestore();
    }
    const trainer = await EnvironmentClient.connect({ kind: 'direct', environment });
    await trainer.start({ taskId: 'a' });
    await expect(trainer.end()).rejects.toThrow(SECRET);
  });
});
