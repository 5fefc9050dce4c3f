import { type Attack, type Environment, EnvironmentClient } from '@toolgym/env-kit';
import type { RewardBreakdown, Task } from '@toolgym/protocol';

/**
 * Plays one attack on one task through a session of the environment, as an agent would (the task
 * it is shown has no answer), and returns the grade.
 */
export async function playAttack(env: Environment, attack: Attack, task: Task): Promise<RewardBreakdown> {
  const client = await EnvironmentClient.connect({ kind: 'direct', environment: env });
  try {
    const started = await client.start({ taskId: task.id });
    const end = await attack.play({
      task: started.task,
      tools: await client.listTools(),
      call: (name, args) => client.callTool(name, args),
    });
    return (await client.end(end?.finalText)).reward;
  } finally {
    await client.close();
  }
}
