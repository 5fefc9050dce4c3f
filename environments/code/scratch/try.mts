import { EnvironmentRegistry } from '@toolgym/env-kit';
import def, { closeSharedSandboxes } from '../src/index.ts';

const reg = new EnvironmentRegistry();
reg.register(def);
const env = reg.make('code');
let t = performance.now();
const tasks = await env.tasks();
console.log(
  'tasks',
  tasks.length,
  'train',
  tasks.filter((t) => t.split === 'train').length,
  (performance.now() - t).toFixed(0),
  'ms',
);
console.log(tasks[0].prompt);
console.log(
  tasks.find((t) => t.id.startsWith('math')).prompt,
  tasks.find((t) => t.id.startsWith('math')).answer,
);
let bad = 0;
t = performance.now();
const sample = tasks.filter((_, i) => i % 10 === 0);
for (const task of sample) {
  const ep = await env.openEpisode({ taskId: task.id });
  const outs = [];
  for (const c of def.oracle!(task, env.config)) outs.push(await ep.callTool(c.name, c.arguments));
  const r = await ep.end();
  if (r.reward.total < 1.09) {
    bad++;
    console.log(
      task.id,
      r.reward,
      outs.map((o) => o.content),
    );
  }
}
console.log(
  'oracle sample',
  sample.length,
  'bad',
  bad,
  ((performance.now() - t) / sample.length).toFixed(0),
  'ms/episode',
);
await closeSharedSandboxes();
