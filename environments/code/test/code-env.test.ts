import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
  codeTasks,
  extractIntegerAnswer,
  loadHumanEvalJsonl,
  loadMbppJsonl,
  sharedSandbox,
} from '../src/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
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
const firstOf = (template: string) => tasks.find((t) => (t.meta as CodeTaskMeta).template === template)!;

async function play(task: Task, calls: Array<[string, Record<string, unknown>]>, finalText?: string) {
  const episode = await env.openEpisode({ taskId: task.id });
  const outcomes = [];
  for (const [name, args] of calls) outcomes.push(await episode.callTool(name, args));
  const end = await episode.end(finalText);
  return { outcomes, reward: end.reward };
}

describe('code tasks', () => {
  it('has at least 150 programming problems at three difficulties, plus math questions, in both splits', () => {
    const programming = tasks.filter((t) => (t.meta as CodeTaskMeta).family === 'programming');
    expect(programming.length).toBeGreaterThanOrEqual(150);
    expect(new Set(programming.map((t) => (t.meta as CodeTaskMeta).difficulty))).toEqual(
      new Set(['easy', 'medium', 'hard']),
    );
    expect(
      tasks.filter((t) => (t.meta as CodeTaskMeta).family === 'interpreter').length,
    ).toBeGreaterThanOrEqual(30);
    for (const split of ['train', 'test'])
      expect(tasks.filter((t) => t.split === split).length).toBeGreaterThan(20);
    expect(codeTasks(CodeConfigSchema.parse({}))).toEqual(codeTasks(CodeConfigSchema.parse({})));
  });

  it('shows the public tests in the prompt and never the hidden ones', () => {
    for (const task of tasks.filter((t) => gold(t).kind === 'function')) {
      const meta = task.meta as CodeTaskMeta;
      const answer = gold(task) as Extract<CodeTaskAnswer, { kind: 'function' }>;
      expect(meta.publicTests).toHaveLength(2);
      for (const test of meta.publicTests!) expect(task.prompt).toContain(test);
      expect(answer.hiddenTests).toHaveLength(8);
      for (const test of answer.hiddenTests)
        if (!meta.publicTests!.includes(test)) expect(task.prompt).not.toContain(test);
    }
  });

  it('every reference solution passes its own hidden tests (checked in one sandbox run)', async () => {
    const functions = tasks
      .map(gold)
      .filter((a): a is Extract<CodeTaskAnswer, { kind: 'function' }> => a.kind === 'function');
    const checker = [
      'import json, sys',
      'failures = []',
      'for item in json.load(sys.stdin):',
      '    ns = {}',
      '    exec(item["reference"], ns)',
      '    for test in item["tests"]:',
      '        try:',
      '            exec(test, dict(ns))',
      '        except BaseException as e:',
      '            failures.append((item["entryPoint"], test, repr(e)))',
      'print(json.dumps(failures))',
    ].join('\n');
    const result = await sharedSandbox(env.config.sandbox).run({
      cmd: ['python3', '-c', checker],
      stdin: JSON.stringify(
        functions.map((f) => ({ reference: f.reference, tests: f.hiddenTests, entryPoint: f.entryPoint })),
      ),
      limits: { wallMs: 60_000, cpuMs: 60_000 },
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([]);
  });
});

describe('code episodes', () => {
  it('the oracle solves one problem of every programming template and several math questions with the top reward', async () => {
    const templates = new Set(tasks.map((t) => (t.meta as CodeTaskMeta).template));
    const sample = [...templates]
      .map((template) => firstOf(template!))
      .filter((t, i) => gold(t).kind === 'interpreter' || i % 3 === 0);
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
  }, 120_000);

  it('gives partial credit: the fraction of hidden tests passed, no all-pass bonus', async () => {
    const task = firstOf('clamp');
    const code = 'def clamp(x):\n    return x if x >= 0 else 0\n';
    const { reward } = await play(task, [
      ['write_file', { path: 'solution.py', content: code }],
      ['submit', {}],
    ]);
    expect(reward.components.pass_fraction).toBeGreaterThan(0);
    expect(reward.components.pass_fraction).toBeLessThan(1);
    expect(reward.components.all_pass).toBe(0);
    expect(reward.components.format).toBe(1);
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

describe('MBPP and HumanEval loaders', () => {
  it('loads both formats; their reference solutions pass their tests', async () => {
    const withData = registry.make('code', {
      families: ['interpreter'],
      interpreterVariants: 1,
      datasets: [
        { format: 'mbpp', path: path.join(fixtures, 'mbpp-sample.jsonl') },
        { format: 'humaneval', path: path.join(fixtures, 'humaneval-sample.jsonl'), split: 'test' },
      ],
    });
    const loaded = (await withData.tasks()).filter((t) => (t.meta as CodeTaskMeta).source !== 'generated');
    expect(loaded.map((t) => t.id)).toEqual([
      'mbpp-2',
      'mbpp-3',
      'mbpp-17',
      'humaneval-HumanEval-0',
      'humaneval-HumanEval-2',
    ]);
    expect(loaded.slice(3).every((t) => t.split === 'test')).toBe(true);
    expect((gold(loaded[0]!) as { entryPoint: string }).entryPoint).toBe('similar_elements');
    expect(loaded[3]!.prompt).toContain('def has_close_elements');
    for (const task of loaded) {
      const episode = await withData.openEpisode({ taskId: task.id });
      for (const call of definition.oracle!(task, withData.config))
        await episode.callTool(call.name, call.arguments);
      const { reward } = await episode.end();
      expect(reward.total, `${task.id}: ${JSON.stringify(reward.info)}`).toBeCloseTo(1.1);
    }
  }, 60_000);

  it('names the file, line and field of a malformed record', () => {
    expect(() => loadHumanEvalJsonl(path.join(fixtures, 'humaneval-broken.jsonl'))).toThrow(
      /humaneval-broken.jsonl:1 .*canonical_solution/,
    );
    expect(() => loadMbppJsonl(path.join(fixtures, 'humaneval-sample.jsonl'))).toThrow(/not a MBPP record/);
    expect(() => loadMbppJsonl(path.join(fixtures, 'missing.jsonl'))).toThrow(/cannot read dataset/);
  });
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
