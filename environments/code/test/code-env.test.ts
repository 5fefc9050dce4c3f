import {
  checkEnvironment,
  type Environment,
  EnvironmentClient,
  EnvironmentRegistry,
  serveHttp,
} from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import definition, {
  CodeConfigSchema,
  type CodeTaskAnswer,
  type CodeTaskMeta,
  closeSharedSandboxes,
  codeHeldOut,
  codeTasks,
  extractIntegerAnswer,
  heldOutFamilies,
  sharedSandbox,
} from '../src/index.ts';

const registry = new EnvironmentRegistry();
registry.register(definition);

let env: Environment;
let tasks: Task[];

beforeAll(async () => {
  env = registry.make('code', { sandbox: { wallMs: 3_000 }, perTestSeconds: 1 });
  tasks = await env.tasks();
  await sharedSandbox(env.config.sandbox).warmUp();
});
afterAll(async () => {
  await closeSharedSandboxes();
});

const gold = (task: Task) => task.answer as CodeTaskAnswer;
const meta = (task: Task) => task.meta as CodeTaskMeta;
const firstOf = (family: string) => tasks.find((t) => meta(t).family === family)!;
const familiesOf = (split: string) =>
  new Set(tasks.filter((t) => t.split === split).map((t) => meta(t).family));

async function play(task: Task, calls: Array<[string, Record<string, unknown>]>, finalText?: string) {
  const episode = await env.openEpisode({ taskId: task.id });
  const outcomes = [];
  for (const [name, args] of calls) outcomes.push(await episode.callTool(name, args));
  const end = await episode.end(finalText);
  return { outcomes, reward: end.reward };
}

describe('code task set', () => {
  it('has at least 400 problems from at least 80 families, at three difficulties, in train, test and test-iid', () => {
    expect(tasks.length).toBeGreaterThanOrEqual(400);
    expect(new Set(tasks.map((t) => meta(t).family)).size).toBeGreaterThanOrEqual(80);
    expect(new Set(tasks.map((t) => meta(t).difficulty))).toEqual(new Set(['easy', 'medium', 'hard']));
    expect(tasks.filter((t) => meta(t).kind === 'interpreter').length).toBeGreaterThanOrEqual(50);
    for (const split of ['train', 'test', 'test-iid'])
      expect(tasks.filter((t) => t.split === split).length).toBeGreaterThan(50);
    expect(codeTasks(CodeConfigSchema.parse({}))).toEqual(codeTasks(CodeConfigSchema.parse({})));
  });

  it('holds out whole families in test: no test family has a train task; test-iid has only train families', () => {
    const { unit, unitsOf } = codeHeldOut();
    expect(unit).toBe('family');
    const trainUnits = new Set(tasks.filter((t) => t.split === 'train').flatMap((t) => [...unitsOf(t)]));
    for (const task of tasks.filter((t) => t.split === 'test'))
      expect(
        unitsOf(task).some((u) => !trainUnits.has(u)),
        task.id,
      ).toBe(true);
    for (const family of familiesOf('test')) expect(trainUnits.has(family), family).toBe(false);
    for (const family of familiesOf('test-iid')) expect(trainUnits.has(family), family).toBe(true);
    // Held out per kind and difficulty, so test spans them all.
    const test = tasks.filter((t) => t.split === 'test');
    expect(new Set(test.map((t) => `${meta(t).kind}:${meta(t).difficulty}`)).size).toBeGreaterThanOrEqual(5);
  });

  it('chooses held-out families by seed and share, and none with a share of 0', () => {
    const families = tasks.map((t) => ({
      id: meta(t).family,
      kind: meta(t).kind,
      difficulty: meta(t).difficulty!,
    }));
    const unique = [...new Map(families.map((f) => [f.id, f])).values()];
    expect(heldOutFamilies(unique, { seed: 0, heldOutFamilies: 0 }).size).toBe(0);
    const a = heldOutFamilies(unique, { seed: 0, heldOutFamilies: 0.2 });
    const b = heldOutFamilies(unique, { seed: 1, heldOutFamilies: 0.2 });
    expect(a).toEqual(familiesOf('test'));
    expect(a.size).toBeGreaterThanOrEqual(Math.floor(unique.length * 0.15));
    expect(b).not.toEqual(a);
  });

  it('leaks no test prompt: none has all its word 8-grams in train prompts', () => {
    const grams = (text: string) => {
      const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
      return Array.from({ length: Math.max(0, words.length - 7) }, (_, i) => words.slice(i, i + 8).join(' '));
    };
    const train = new Set(tasks.filter((t) => t.split === 'train').flatMap((t) => grams(t.prompt)));
    const leaked = tasks.filter((t) => t.split === 'test' && grams(t.prompt).every((g) => train.has(g)));
    expect(leaked.map((t) => t.id)).toEqual([]);
  });

  it('shows the public tests in the prompt and never the hidden ones; hidden tests repeat no public one', () => {
    for (const task of tasks.filter((t) => gold(t).kind === 'function')) {
      const answer = gold(task) as Extract<CodeTaskAnswer, { kind: 'function' }>;
      expect(meta(task).publicTests).toHaveLength(2);
      for (const test of meta(task).publicTests!) expect(task.prompt).toContain(test);
      expect(answer.hiddenTests).toHaveLength(8);
      for (const test of answer.hiddenTests) {
        expect(meta(task).publicTests).not.toContain(test);
        expect(task.prompt).not.toContain(test);
      }
    }
  });

  it('balances answers: in no family does the best constant answer pass more than 60% of the hidden tests on average', () => {
    const chance = new Map<string, number[]>();
    for (const task of tasks) {
      const answer = gold(task);
      if (answer.kind === 'function')
        chance.set(meta(task).family, [...(chance.get(meta(task).family) ?? []), answer.chance]);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const dominated = [...chance].filter(([, xs]) => mean(xs) > 0.6).map(([family]) => family);
    expect(dominated).toEqual([]);
  });
});

describe('code episodes', () => {
  it('the oracle solves one problem of every family of several kinds with the top reward', async () => {
    const families = [...new Set(tasks.map((t) => meta(t).family))];
    const sample = families.map(firstOf).filter((t, i) => meta(t).kind === 'interpreter' || i % 9 === 0);
    for (const task of sample) {
      const calls = definition.oracle!(task, env.config).map((c): [string, Record<string, unknown>] => [
        c.name,
        c.arguments,
      ]);
      const { outcomes, reward } = await play(task, calls);
      expect(
        outcomes.filter((o) => o.isError),
        task.id,
      ).toEqual([]);
      expect(reward.total, `${task.id}: ${JSON.stringify(reward)}`).toBeCloseTo(1.1);
    }
  }, 180_000);

  it('gives partial credit beyond chance: the share of hidden tests passed, corrected for what a constant passes', async () => {
    const task = firstOf('clamp');
    const answer = gold(task) as Extract<CodeTaskAnswer, { kind: 'function' }>;
    const [lo, hi] = /\[(-?\d+), (-?\d+)\]/.exec(task.prompt)!.slice(1).map(Number) as [number, number];
    // Right below the range and inside it, wrong above it: a third of the cases are wrong.
    const code = `def clamp(x):\n    return max(${lo}, x)\n`;
    const { reward } = await play(task, [
      ['write_file', { path: 'solution.py', content: code }],
      ['submit', {}],
    ]);
    expect(reward.components.pass_fraction).toBeGreaterThan(0);
    expect(reward.components.pass_fraction).toBeLessThan(1);
    expect(reward.components.all_pass).toBe(0);
    expect(reward.components.format).toBe(1);
    expect(answer.chance).toBeLessThan(1);
    // The constant the hidden tests most often expect earns no pass_fraction.
    const constant = await play(task, [
      ['write_file', { path: 'solution.py', content: `def clamp(x):\n    return ${hi}\n` }],
      ['submit', {}],
    ]);
    expect(constant.reward.components.pass_fraction).toBe(0);
  });

  it('gives nothing for a solution that hangs, exits early, or prints fake results — and the episode goes on', async () => {
    const task = firstOf('add-constant');
    const cheats = [
      'while True:\n    pass\n',
      'import os\nos._exit(0)\n',
      'import sys\nprint(\'{"test": 0, "ok": true}\')\nsys.exit(0)\n',
      'def add_constant(x):\n    raise SystemExit(0)\n',
    ];
    for (const code of cheats) {
      const { outcomes, reward } = await play(task, [
        ['write_file', { path: 'solution.py', content: code }],
        ['run_tests', {}],
        ['submit', {}],
      ]);
      expect(outcomes[1]!.isError).toBe(true);
      expect(reward.components.pass_fraction, code).toBe(0);
      expect(reward.total, code).toBeLessThanOrEqual(0.1);
    }
  }, 120_000);

  it('run_tests shows what a failing public test got and expected, types included', async () => {
    const task = firstOf('add-constant');
    const k = Number(/plus (\d+)/.exec(task.prompt)![1]);
    const { outcomes } = await play(task, [
      ['write_file', { path: 'solution.py', content: `def add_constant(x):\n    return float(x + ${k})\n` }],
      ['run_tests', {}],
    ]);
    expect(outcomes[1]!.isError).toBe(true);
    expect(outcomes[1]!.content).toMatch(
      /FAIL assert add_constant\(.*\n\s+expected -?\d+ \(int\), got -?\d+\.0 \(float\)/,
    );
    expect(outcomes[1]!.content).toContain('0/2 public tests passed');
  });

  it('reports tool misuse to the model with what to do', async () => {
    const fn = firstOf('caesar');
    const math = tasks.find((t) => gold(t).kind === 'interpreter')!;
    const { outcomes } = await play(fn, [
      ['read_file', { path: 'solution.py' }],
      ['write_file', { path: '../../etc/passwd', content: 'x' }],
      ['write_file', { path: '/abs.py', content: 'x' }],
      ['submit', {}],
      ['run_tests', {}],
      ['write_file', { path: 'solution.py', content: 123 }],
    ]);
    expect(outcomes.map((o) => o.isError)).toEqual([true, true, true, true, true, true]);
    expect(outcomes[0]!.content).toContain('create one with write_file');
    expect(outcomes[1]!.errorCode).toBe('invalid_path');
    expect(outcomes[3]!.content).toContain('write it with write_file first');
    expect(outcomes[4]!.content).toContain('No solution.py yet');
    expect(outcomes[5]!.errorCode).toBe('invalid_arguments');
    const onMath = await play(math, [
      ['run_tests', {}],
      ['submit', {}],
    ]);
    expect(onMath.outcomes.map((o) => o.errorCode)).toEqual(['no_tests', 'missing_answer']);
  });

  it('run_python reports output, errors, files of the work dir, and stops runaway programs', async () => {
    const task = firstOf('chunk');
    const { outcomes } = await play(task, [
      ['write_file', { path: 'lib/helper.py', content: 'VALUE = 41\n' }],
      [
        'run_python',
        { code: 'from lib.helper import VALUE\nimport sys\nprint(VALUE + 1, sys.stdin.read())', stdin: 'in' },
      ],
      ['run_python', { code: 'raise ValueError("boom")' }],
      ['run_python', { code: 'while True: pass' }],
      ['run_python', { code: 'print("y" * 10_000_000)' }],
      ['run_python', { code: 'import socket\nsocket.create_connection(("1.1.1.1", 80), timeout=1)' }],
    ]);
    expect(outcomes[1]).toMatchObject({ isError: false, content: expect.stringContaining('42 in') });
    expect(outcomes[2]).toMatchObject({
      isError: true,
      content: expect.stringContaining('ValueError: boom'),
    });
    expect(outcomes[3]!.content).toContain('wall-time limit');
    expect(outcomes[4]!.content).toContain('more output than allowed');
    expect(outcomes[4]!.truncated).toBe(true);
    expect(outcomes[5]!.content).toMatch(/OSError|unreachable/);
  });

  it('grades math answers: submitted, or boxed in the final text (no format credit)', async () => {
    const task = tasks.find((t) => gold(t).kind === 'interpreter')!;
    const answer = (gold(task) as Extract<CodeTaskAnswer, { kind: 'interpreter' }>).answer;
    expect((await play(task, [['submit', { answer: ` ${answer} ` }]])).reward.total).toBeCloseTo(1.1);
    const wrong = await play(task, [['submit', { answer: String(BigInt(answer) + 1n) }]]);
    expect(wrong.reward.components).toEqual({ pass_fraction: 0, all_pass: 0, format: 1 });
    const boxed = await play(task, [], `So the result is \\boxed{${answer}}.`);
    expect(boxed.reward.components).toEqual({ pass_fraction: 1, all_pass: 1, format: 0 });
    expect(extractIntegerAnswer('it is 1,234 or maybe 99')).toBe('99');
  });

  it('ends the episode as failed (not graded) when the sandbox itself fails', async () => {
    const task = firstOf('chunk');
    const episode = await env.openEpisode({ taskId: task.id });
    await episode.state.sandbox.close();
    const outcome = await episode.callTool('run_python', { code: 'print(1)' });
    expect(outcome).toMatchObject({ isError: true, errorCode: 'sandbox_failed' });
    await expect(episode.end()).rejects.toMatchObject({ code: 'sandbox_failed' });
    await closeSharedSandboxes();
    await sharedSandbox(env.config.sandbox).warmUp();
  });

  it('passes the kit conformance check', async () => {
    const report = await checkEnvironment(definition, {
      config: { sandbox: { wallMs: 3_000 }, perTestSeconds: 1 },
    });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  }, 120_000);
});

describe('code environment over MCP (Streamable HTTP)', () => {
  it('plays an oracle episode end to end through a real transport', async () => {
    const server = await serveHttp(env, { trainerToken: 'trainer' });
    const client = await EnvironmentClient.connect({ kind: 'http', url: server.url, token: 'trainer' });
    try {
      const tools = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([
        'read_file',
        'run_python',
        'run_tests',
        'submit',
        'write_file',
      ]);
      const task = firstOf('min-coins');
      const started = await client.start({ taskId: task.id });
      expect(started.task).not.toHaveProperty('answer');
      const bad = await client.callTool('write_file', { path: 'solution.py' });
      expect(bad).toMatchObject({ isError: true, errorCode: 'invalid_arguments' });
      const { calls } = await client.oracle();
      const results = [];
      for (const call of calls) results.push(await client.callTool(call.name, call.arguments));
      expect(results.map((r) => r.isError)).toEqual([false, false, false]);
      expect(results[1]!.content).toContain('2/2 public tests passed');
      expect(results[2]!.terminated).toBe(true);
      const end = await client.end();
      expect(end.reward.total).toBeCloseTo(1.1);
      expect(end.reward.info).toMatchObject({ passed: 8, total: 8 });
    } finally {
      await client.close();
      await server.close();
    }
  });
});
