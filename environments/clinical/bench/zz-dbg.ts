import { Environment, EnvironmentClient } from '@toolgym/env-kit';
import { Rng } from '@toolgym/protocol';
import clinical, { builtInCases, caseBankFor } from '../src/index.ts';
const env = new Environment(clinical, clinical.parseConfig({}));
const attacks = await clinical.redteam!(env.config);
const attack = attacks.find((a) => a.name === 'order-every-test')!;
const bank = caseBankFor(env.config);
for (const id of ['pulm-spontaneous-pneumothorax', 'peds-intussusception', 'derm-herpes-zoster']) {
  const taskId = (await env.tasks()).find((t) => bank.forTask(t.id).id === id)!.id;
  const client = await EnvironmentClient.connect({ kind: 'direct', environment: env });
  const started = await client.start({ taskId });
  const calls: string[] = [];
  await attack.play({ task: started.task, tools: env.toolSpecs, limits: started.limits, rng: new Rng(1), call: async (n, a) => { const r = await client.callTool(n, a); if (n === 'diagnose') calls.push(JSON.stringify(a).slice(0, 300)); return r; } });
  const end = await client.end();
  console.log(id, calls, end.reward.components, end.reward.info.diagnosisVerdict, end.reward.info.competing);
}
process.exit(0);
