/**
 * Agent-RLVR's guidance on code: after a failed attempt the agent reads the public tests' results,
 * how many of the grader's tests failed and a plan shaped from the reference solution; never a
 * hidden test or the reference's code.
 */
import { Environment, withFeedback } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import code, {
  type CodeTaskAnswer,
  type CodeTaskMeta,
  closeSharedSandboxes,
  codeGuidance,
  pythonPlan,
  SOLUTION_FILE,
  sharedSandbox,
} from '../src/index.ts';

describe('pythonPlan and codeGuidance on fixtures', () => {
  it('describes a reference by its shape: lines, control flow, recursion, helpers, builtins, modules', () => {
    const reference = [
      'import math',
      'from collections import Counter',
      '',
      'def _square(x):  # a helper',
      '    return x * x',
      '',
      'def total(xs):',
      '    if not xs:',
      '        return 0',
      '    best = sorted(xs)',
      '    for x in best:',
      '        pass',
      '    return _square(len(xs)) + total(xs[1:]) + sum([y for y in xs])',
    ].join('\n');
    expect(pythonPlan(reference, 'total')).toBe(
      'Plan: a reference solution has 11 lines and uses a for loop, a list comprehension, conditionals, recursion, 1 helper function; it calls len(), sorted(), sum(); it imports collections, math.',
    );
    expect(pythonPlan('print(6 * 7)')).toBe('Plan: a reference solution has 1 line.');
  });

  it('puts the failing tests first and the plan last; a math answer is named as wrong', () => {
    expect(
      codeGuidance({
        publicTests: 'FAIL assert f(1) == 2\n0/1 public tests passed.',
        graded: { passed: 3, total: 8 },
        plan: 'Plan: x.',
      }),
    ).toBe(
      "5 of the grader's 8 tests failed.\nPublic tests:\nFAIL assert f(1) == 2\n0/1 public tests passed.\nPlan: x.",
    );
    expect(codeGuidance({ answer: '41', plan: 'Plan: y.' })).toBe('The answer 41 is not correct.\nPlan: y.');
  });
});

describe('code with guidance after a failed attempt', () => {
  const wrapped = withFeedback(code, {
    tryAgain: 1,
    guidance: true,
    correct: 'all_pass',
    decay: 1,
    repetitionPenalty: 0,
  });
  let env: Environment;
  let tasks: Task[];
  beforeAll(async () => {
    env = new Environment(wrapped, wrapped.parseConfig({ sandbox: { wallMs: 3_000 }, perTestSeconds: 1 }));
    tasks = await env.tasks();
    await sharedSandbox(env.config.sandbox).warmUp();
  });
  afterAll(async () => {
    await closeSharedSandboxes();
  });

  it('shows the public failures, the count of the grader’s, and a plan, never a hidden test or the reference', async () => {
    const task = tasks.find((t) => {
      const meta = t.meta as CodeTaskMeta;
      const gold = t.answer as CodeTaskAnswer;
      return (
        meta.kind === 'programming' &&
        (meta.publicTests?.length ?? 0) > 0 &&
        gold.kind === 'function' &&
        gold.hiddenTests.some((h) => !meta.publicTests!.includes(h))
      );
    })!;
    const gold = task.answer as Extract<CodeTaskAnswer, { kind: 'function' }>;
    const meta = task.meta as CodeTaskMeta;
    const episode = await env.openEpisode({ taskId: task.id });
    await episode.callTool('write_file', {
      path: SOLUTION_FILE,
      content: `def ${gold.entryPoint}(*args):\n    return None\n`,
    });
    const failed = await episode.callTool('submit', {});
    expect(failed.terminated).toBe(false);
    expect(failed.content).toMatch(
      /^Let's try again\.\n\d+ of the grader's \d+ tests failed\.\nPublic tests:\n/,
    );
    for (const test of meta.publicTests!) expect(failed.content).toContain(`FAIL ${test}`);
    expect(failed.content).toContain(pythonPlan(gold.reference, gold.entryPoint));
    for (const hidden of gold.hiddenTests.filter((h) => !meta.publicTests!.includes(h)))
      expect(failed.content).not.toContain(hidden);
    const body = gold.reference
      .split('\n')
      .filter((l) => l.trim().length > 12 && !/^\s*(def|import|from|return)\b/.test(l));
    for (const line of body) expect(failed.content).not.toContain(line.trim());

    await episode.callTool('write_file', { path: SOLUTION_FILE, content: gold.reference });
    expect((await episode.callTool('submit', {})).terminated).toBe(true);
    const { reward } = await episode.end();
    expect(reward.components).toMatchObject({ all_pass: 1, attempts: 2 });
    expect(reward.total).toBeCloseTo(1.1, 9);
    expect(reward.info.failedAttempts).toHaveLength(1);
  });
});
