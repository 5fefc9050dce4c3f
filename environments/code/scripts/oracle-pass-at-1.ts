/**
 * The oracle's pass@1 on every split of the code environment's default task set: each task is
 * played once, in-process, with the oracle's calls (write the reference, run_tests, submit; or
 * run the program and submit its answer), and passes when every hidden test passes (math: the
 * right integer). It must be 100%: a task the oracle fails cannot measure anyone.
 *
 *   node --import tsx environments/code/scripts/oracle-pass-at-1.ts
 */
import { EnvironmentRegistry } from '@toolgym/env-kit';
import type { Split } from '@toolgym/protocol';
import definition, { closeSharedSandboxes, sharedSandbox } from '../src/index.ts';

const registry = new EnvironmentRegistry();
registry.register(definition);
const env = registry.make('code', {});
await sharedSandbox(env.config.sandbox).warmUp();
const rows: string[] = [];
for (const split of ['train', 'test', 'test-iid'] as Split[]) {
  const tasks = await env.tasksOf(split);
  const failed: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      const episode = await env.openEpisode({ taskId: task.id });
      for (const call of definition.oracle!(task, env.config))
        await episode.callTool(call.name, call.arguments);
      const { reward } = await episode.end();
      if (reward.components.all_pass !== 1) failed.push(`${task.id} ${JSON.stringify(reward.info)}`);
    }
  };
  await Promise.all([worker(), worker()]);
  const families = new Set(tasks.map((t) => t.meta.family)).size;
  rows.push(
    `| ${split} | ${tasks.length} | ${families} | ${tasks.length - failed.length}/${tasks.length} (${((100 * (tasks.length - failed.length)) / tasks.length).toFixed(1)}%) |`,
  );
  for (const f of failed) process.stderr.write(`oracle failed: ${f}\n`);
}
await closeSharedSandboxes();
console.log('| split | tasks | families | oracle pass@1 |\n|---|---|---|---|');
console.log(rows.join('\n'));
