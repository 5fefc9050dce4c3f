import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, workspaceRoot } from '@toolgym/env-kit';

const NAME = /^[a-z][a-z0-9-]*$/;

/**
 * Writes a new environment package: package.json (discoverable), a small working environment,
 * its red-team suite (so `toolgym env probe` has attacks to play from the start), its conformance
 * and probe tests, and a README. Returns the package folder.
 */
export async function scaffoldEnvironment(name: string, parent = path.join(workspaceRoot(), 'environments')): Promise<string> {
  if (!NAME.test(name)) throw new ConfigError(`'${name}' is not a valid environment name`, 'use lowercase letters, digits and dashes, starting with a letter');
  const dir = path.resolve(parent, name);
  if (existsSync(dir)) throw new ConfigError(`${dir} already exists`, 'choose another name or remove the folder');
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  mkdirSync(path.join(dir, 'redteam'), { recursive: true });
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(
      {
        name: `@toolgym/env-${name}`,
        version: '0.1.0',
        private: true,
        type: 'module',
        exports: { '.': './src/index.ts' },
        toolgym: { environment: './src/index.ts', id: name },
        dependencies: { '@toolgym/env-kit': 'workspace:*', '@toolgym/protocol': 'workspace:*', zod: '^4.1.0' },
      },
      null,
      2,
    )}\n`,
    'src/index.ts': environmentSource(name),
    'src/index.test.ts': testSource(name),
    'redteam/index.ts': redteamSource(),
    'README.md': `# ${name}\n\nA ToolGym environment. Play it with \`toolgym env play ${name}\`, serve it with \`toolgym env serve ${name} --http 8080\`.\n\nEdit \`src/index.ts\`: tasks, tools (zod inputs), setup/teardown, grade. \`redteam/index.ts\` holds attacks that try to earn reward without the skill: \`toolgym env probe ${name}\` plays them and the generic adversaries as an agent. \`src/index.test.ts\` runs the conformance check and the probe.\n`,
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  return dir;
}

function environmentSource(name: string): string {
  return `import { defineEnvironment, weightedReward } from '@toolgym/env-kit';
import { Rng, splitOf } from '@toolgym/protocol';
import { z } from 'zod';

/** Per-episode state: made by setup, released by teardown. */
interface State {
  lookups: number;
}

const Config = z.object({
  /** How many tasks to generate. */
  tasks: z.number().int().positive().default(200),
  seed: z.number().int().default(0),
});
type Config = z.infer<typeof Config>;

const WORDS = ['banana', 'mississippi', 'rhythm', 'balloon', 'committee', 'bookkeeper', 'assessment', 'parallel'];

/** ${name}@1 — count a letter in a word; a starting point to edit. */
export default defineEnvironment<State, Config>({
  id: '${name}',
  version: 1,
  description: 'Count how often a letter occurs in a word, using the tools.',
  config: Config,
  tasks: (config) => {
    const rng = new Rng(config.seed);
    return Array.from({ length: config.tasks }, (_, i) => {
      const word = rng.pick(WORDS);
      const letter = rng.pick([...word]);
      const id = \`t\${i}-\${word}-\${letter}\`;
      return {
        id,
        split: splitOf(id, 0.2),
        prompt: \`How many times does the letter "\${letter}" occur in "\${word}"?\`,
        answer: [...word].filter((c) => c === letter).length,
        meta: { word, letter },
      };
    });
  },
  tools: {
    count: {
      description: 'Count occurrences of a letter in a text.',
      input: z.object({ text: z.string(), letter: z.string().length(1) }),
      run: ({ text, letter }, { episode }) => {
        episode.state.lookups++;
        return String([...text].filter((c) => c === letter).length);
      },
    },
    answer: {
      description: 'Give the final count. Ends the episode.',
      input: z.object({ count: z.number().int() }),
      run: ({ count }, { episode }) => {
        episode.terminate(count);
        return 'Answer recorded.';
      },
    },
  },
  setup: () => ({ lookups: 0 }),
  teardown: () => {},
  grade: ({ episode }) =>
    weightedReward({ correct: episode.answer === episode.task.answer ? 1 : 0, used_tool: episode.state.lookups > 0 ? 1 : 0 }, { correct: 1, used_tool: 0 }),
  rewardRange: [0, 1],
  // What an episode earns by form alone: nothing here (used_tool is a logged metric).
  formatFloor: () => 0,
  redteam: async () => (await import('../redteam/index.ts')).attacks(),
  limits: { maxTurns: 4 },
  oracle: (task) => {
    const { word, letter } = task.meta as { word: string; letter: string };
    return [
      { name: 'count', arguments: { text: word, letter } },
      { name: 'answer', arguments: { count: task.answer } },
    ];
  },
});
`;
}

function redteamSource(): string {
  return `/**
 * Attacks that try to earn reward without the skill: each plays an episode with only what an
 * agent sees, and may earn at most its ceiling. \`toolgym env probe\` plays these and the generic
 * adversaries (empty answer, random calls, tool spam …). Add one for every shortcut you can think of.
 */
import type { Attack } from '@toolgym/env-kit';

export function attacks(): Attack[] {
  return [
    {
      name: 'answer-without-counting',
      family: 'guess',
      ceiling: 0,
      // The letter is taken from the word, so 0 is never its count.
      play: async (episode) => {
        await episode.call('answer', { count: 0 });
        return undefined;
      },
    },
    {
      name: 'count-the-prompt',
      family: 'wrong-input',
      ceiling: 0,
      // Counts the letter in the whole prompt instead of the word, and answers that.
      play: async (episode) => {
        const letter = /letter "(.)"/.exec(episode.task.prompt)?.[1] ?? 'a';
        const counted = await episode.call('count', { text: episode.task.prompt, letter });
        await episode.call('answer', { count: Number(counted.content) });
        return undefined;
      },
    },
  ];
}
`;
}

function testSource(name: string): string {
  return `import { checkEnvironment, Environment, probeEnvironment } from '@toolgym/env-kit';
import { expect, it } from 'vitest';
import definition from './index.ts';

it('${name} passes the conformance check', async () => {
  const report = await checkEnvironment(definition);
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
});

it('the oracle solves a test task', async () => {
  const env = new Environment(definition, definition.parseConfig({}));
  const episode = await env.openEpisode({ split: 'test', seed: 1 });
  for (const call of definition.oracle!(episode.task, env.config)) await episode.callTool(call.name, call.arguments);
  expect((await episode.end()).reward.total).toBe(1);
});

it('no attack earns more than its ceiling', async () => {
  const report = await probeEnvironment(new Environment(definition, definition.parseConfig({})), { tasks: 5 });
  expect(report.rows.filter((r) => r.verdict !== 'pass')).toEqual([]);
});
`;
}
