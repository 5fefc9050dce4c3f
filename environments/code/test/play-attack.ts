import type { Attack, Environment } from '@toolgym/env-kit';
import type { RewardBreakdown, Task } from '@toolgym/protocol';

/** Plays one attack on one task in-process, with only what an agent sees, and returns the grade. */
export async function playAttack(env: Environment, attack: Attack, task: Task): Promise<RewardBreakdown> {
  const episode = await env.openEpisode({ taskId: task.id });
  try {
    const { answer: _hidden, ...agentTask } = task;
    const end = await attack.play({
      task: agentTask,
      tools: env.toolSpecs,
      call: async (name, args) => {
        const outcome = await episode.callTool(name, args);
        return {
          content: outcome.content,
          isError: outcome.isError,
          ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
          truncated: outcome.truncated,
          terminated: outcome.terminated,
        };
      },
    });
    return (await episode.end(end?.finalText)).reward;
  } finally {
    await episode.close();
  }
}
