import { type AgentTask, Environment, EnvironmentClient } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import games from '../src/index.ts';

const env = new Environment(games, games.parseConfig({}));
const attacks = await games.redteam!();

/** Both seats of the first tables of each game and opponent: a player that moves first and one that moves second. */
async function probeTasks(): Promise<AgentTask[]> {
  const tasks = [...(await env.tasksOf('test-iid')), ...(await env.tasksOf('test'))];
  return tasks.filter((t) => (t.meta.table as number) < 3).map(({ answer: _a, ...task }) => task);
}

describe('games red-team suite', () => {
  it('has attacks of every family it names, each with a ceiling of at most a loss', () => {
    expect(attacks.map((a) => a.family).sort()).toEqual([
      'argument-injection',
      'concurrency',
      'false-claim',
      'illegal-moves',
      'stalling',
    ]);
    for (const attack of attacks) expect(attack.ceiling).toBeLessThanOrEqual(-1);
  });

  it.each(attacks.map((a) => [a.name, a] as const))(
    '%s earns no more than its ceiling, on either seat of either game',
    async (_name, attack) => {
      const tasks = (await probeTasks()).filter((t) => attack.appliesTo?.(t) ?? true);
      expect(tasks.length).toBeGreaterThan(0);
      for (const task of tasks) {
        const client = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
        try {
          const started = await client.start({ taskId: task.id, seed: 3 });
          const end = await attack.play({
            task: started.task,
            tools: await client.listTools(),
            call: (name, args) => client.callTool(name, args),
          });
          const { reward } = await client.end(end?.finalText);
          expect(reward.total, `${attack.name} on ${task.id}: ${JSON.stringify(reward)}`).toBeLessThanOrEqual(
            attack.ceiling,
          );
          expect(reward.info.result).toBe('forfeit');
        } finally {
          await client.close();
        }
      }
    },
  );
});
