import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Environment, EnvironmentRegistry, playAttack } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import definition, { type CodeTaskMeta, closeSharedSandboxes, sharedSandbox } from '../src/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const attacks = await definition.redteam!(definition.parseConfig({}));
const families = [...new Set(attacks.map((a) => a.family))];

let env: Environment;
let sample: Task[];

beforeAll(async () => {
  const registry = new EnvironmentRegistry();
  registry.register(definition);
  env = registry.make('code', {
    perTestSeconds: 0.3,
    sandbox: { wallMs: 3_000 },
    datasets: [
      { format: 'mbpp', path: path.join(fixtures, 'mbpp.jsonl'), floatTolerance: 1e-9 },
      { format: 'humaneval', path: path.join(fixtures, 'HumanEval.jsonl.gz') },
    ],
  });
  const tasks = await env.tasks();
  const family = (id: string) => tasks.find((t) => (t.meta as CodeTaskMeta).family === id)!;
  // Answers of every shape: bool, str, list, tuple or None, dict; setup objects; a HumanEval check; a math question.
  sample = [
    family('divisible-by-both'),
    family('caesar'),
    family('chunk'),
    family('two-sum-indices'),
    family('group-by-remainder'),
    family('mbpp-927'),
    family('humaneval-HumanEval-38'),
    family('power-mod'),
  ];
  await sharedSandbox(env.config.sandbox).warmUp();
});
afterAll(async () => {
  await closeSharedSandboxes();
});

it('has at least 15 attacks, each with a ceiling at the format floor or below', () => {
  expect(attacks.length).toBeGreaterThanOrEqual(15);
  expect(new Set(attacks.map((a) => a.name)).size).toBe(attacks.length);
  for (const attack of attacks) expect(attack.ceiling, attack.name).toBeLessThanOrEqual(0.1);
});

describe.each(families)('red-team family %s', (family) => {
  it('earns no more than its ceiling on any task it applies to', async () => {
    const beaten: string[] = [];
    let played = 0;
    for (const attack of attacks.filter((a) => a.family === family)) {
      for (const task of sample) {
        const { answer: _hidden, ...agentTask } = task;
        if (attack.appliesTo && !attack.appliesTo(agentTask)) continue;
        const reward = await playAttack(env, attack, task, { principal: 'trainer' });
        played++;
        if (reward.total > attack.ceiling + 1e-9)
          beaten.push(`${attack.name} on ${task.id}: ${reward.total} (${JSON.stringify(reward.info)})`);
      }
    }
    expect(played).toBeGreaterThan(0);
    expect(beaten).toEqual([]);
  }, 300_000);
});
