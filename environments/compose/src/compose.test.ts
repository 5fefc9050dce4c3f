import { Environment, withFeedback } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import compose, {
  applyChain,
  COMPOSE_INSTRUCTION,
  type ComposeAnswer,
  composeTasks,
  ComposeConfigSchema,
  FUNCTION_NAMES,
  type FunctionName,
  heldOutPairs,
  STRING_FUNCTIONS,
} from './index.ts';

const make = (options: unknown = {}) => new Environment(compose, compose.parseConfig(options));

describe('string functions', () => {
  it.each([
    ['reverse', 'abC', 'Cba'],
    ['rotate_left', 'abcd', 'bcda'],
    ['rotate_right', 'abcd', 'dabc'],
    ['swap_case', 'aBc', 'AbC'],
    ['double', 'ab', 'aabb'],
    ['drop_vowels', 'Education', 'dctn'],
    ['sort', 'dbca', 'abcd'],
    ['shift1', 'azZ', 'baA'],
    ['rot13', 'Hello', 'Uryyb'],
    ['mirror', 'ab', 'abba'],
    ['dedupe', 'aabbbca', 'abca'],
    ['swap_ends', 'abcd', 'dbca'],
  ] as const)('%s(%s) = %s', (name, input, output) => {
    expect(STRING_FUNCTIONS[name].apply(input)).toBe(output);
  });

  it('has at least 12 functions, each total on the empty string', () => {
    expect(FUNCTION_NAMES.length).toBeGreaterThanOrEqual(12);
    for (const name of FUNCTION_NAMES) expect(typeof STRING_FUNCTIONS[name].apply('')).toBe('string');
  });

  it('composes left to right', () => {
    expect(applyChain(['reverse', 'upper'], 'abc')).toBe('CBA');
    expect(applyChain(['drop_first', 'mirror'], 'abc')).toBe('bccb');
  });
});

describe('tasks and splits', () => {
  it('keeps held-out pairs out of every train task', async () => {
    const env = make({ depths: [1, 2, 3], tasksPerDepth: 300 });
    const heldOut = heldOutPairs(env.config);
    expect(heldOut.size).toBeGreaterThan(0);
    const tasks = await env.tasks();
    for (const task of tasks.filter((t) => t.split === 'train')) {
      for (const pair of task.meta.pairs as string[]) expect(heldOut.has(pair)).toBe(false);
    }
    const testDepth2 = tasks.filter((t) => t.split === 'test' && t.meta.depth === 2);
    expect(testDepth2.length).toBeGreaterThan(0);
    for (const task of testDepth2)
      expect((task.meta.pairs as string[]).some((p) => heldOut.has(p))).toBe(true);
  });

  it('declares function pairs as its held-out unit: test holds out pairs, test-iid only depth-1 instances', async () => {
    const env = make({ depths: [1, 2, 3], tasksPerDepth: 300 });
    const tasks = await env.tasks();
    const heldOut = compose.heldOut!(env.config);
    expect(heldOut.unit).toBe('function-pair');
    const trainUnits = new Set(tasks.filter((t) => t.split === 'train').flatMap((t) => heldOut.unitsOf(t)));
    for (const task of tasks.filter((t) => t.split === 'test'))
      expect(heldOut.unitsOf(task).some((pair) => !trainUnits.has(pair)), task.id).toBe(true);
    const iid = tasks.filter((t) => t.split === 'test-iid');
    expect(iid.length).toBeGreaterThan(30);
    expect(iid.every((t) => t.meta.depth === 1)).toBe(true);
    expect(tasks.some((t) => t.split === 'test' && t.meta.depth === 1)).toBe(false);
  });

  it('computes gold answers from the functions, step by step', async () => {
    const [task] = await make({ depths: [3], tasksPerDepth: 1 }).tasks();
    const { chain, input } = task!.meta as { chain: Array<keyof typeof STRING_FUNCTIONS>; input: string };
    const answer = task!.answer as ComposeAnswer;
    expect(answer.output).toBe(applyChain(chain, input));
    expect(answer.steps).toHaveLength(3);
  });

  it('by default every step changes its string, so no step can be skipped and still give the answer', () => {
    const options = { depths: [2], tasksPerDepth: 300, alphabet: 'ab', minLength: 3, maxLength: 4 };
    const unchangedStep = (t: Task) => {
      const { steps } = t.answer as ComposeAnswer;
      return steps.some((s, i) => s === (i === 0 ? t.meta.input : steps[i - 1]));
    };
    const strict = composeTasks(ComposeConfigSchema.parse(options));
    expect(strict).toHaveLength(300);
    expect(strict.filter(unchangedStep)).toEqual([]);
    const loose = composeTasks(ComposeConfigSchema.parse({ ...options, everyStepChanges: false }));
    expect(loose.filter(unchangedStep).length).toBeGreaterThan(30);
  });

  it('follows its configuration: functions, alphabet, lengths', async () => {
    const tasks = await make({
      functions: ['reverse', 'upper'],
      alphabet: 'xy',
      minLength: 2,
      maxLength: 2,
      depths: [1],
    }).tasks();
    for (const t of tasks) {
      expect(t.meta.input).toMatch(/^[xy]{2}$/);
      expect(['reverse', 'upper']).toContain((t.meta.chain as string[])[0]);
    }
  });

  it('rejects bad options with the field named', () => {
    expect(() => make({ depths: [0] })).toThrow(/'depths.0'/);
    expect(() => make({ functions: ['reverse', 'nope'] })).toThrow(/'functions.1'/);
    expect(() => make({ minLength: 9, maxLength: 3 })).toThrow(/minLength/);
    expect(() => make({ notation: 'polish' })).toThrow(/'notation'/);
  });
});

describe('prompts', () => {
  it('write the chain in composition notation, last function first, in several phrasings with one instruction', () => {
    const tasks = composeTasks(ComposeConfigSchema.parse({ depths: [1, 2], tasksPerDepth: 60 }));
    const openings = new Set<string>();
    for (const task of tasks) {
      const { chain, input } = task.meta as { chain: string[]; input: string };
      const innermost = `${chain[0]}(${JSON.stringify(input)})`;
      expect(task.prompt).toContain(chain.length === 1 ? innermost : `${chain[1]} ∘ ${innermost}`);
      expect(task.prompt.endsWith(COMPOSE_INSTRUCTION)).toBe(true);
      openings.add(task.prompt.slice(0, task.prompt.indexOf(chain.at(-1)!)));
    }
    expect(openings.size).toBeGreaterThanOrEqual(3);
  });

  it('write the chain nested with notation: nested, depth-1 prompts unchanged', () => {
    const options = { depths: [1, 2, 3], tasksPerDepth: 40 };
    const nested = composeTasks(ComposeConfigSchema.parse({ ...options, notation: 'nested' }));
    const composed = composeTasks(ComposeConfigSchema.parse(options));
    expect(nested.map((t) => t.id)).toEqual(composed.map((t) => t.id));
    for (const [i, task] of nested.entries()) {
      const { chain, input } = task.meta as { chain: string[]; input: string };
      const expr = chain.reduce((inner, f) => `${f}(${inner})`, JSON.stringify(input));
      expect(task.prompt).toContain(expr);
      expect(task.prompt).not.toContain('∘');
      if (chain.length === 1) expect(task.prompt).toBe(composed[i]!.prompt);
    }
    const depth3 = nested.find((t) => (t.meta as { depth: number }).depth === 3)!;
    const [f, g, h] = (depth3.meta as { chain: string[] }).chain;
    expect(depth3.prompt).toContain(`${h}(${g}(${f}("`);
  });
});

describe('grading', () => {
  it('rewards the exact final string from the answer tool, or the final text without one', async () => {
    const env = make({ depths: [2], tasksPerDepth: 5 });
    const task = (await env.tasks())[0]!;
    const gold = (task.answer as ComposeAnswer).output;

    const right = await env.openEpisode({ taskId: task.id });
    for (const call of compose.oracle!(task, env.config)) await right.callTool(call.name, call.arguments);
    expect((await right.end()).reward).toMatchObject({
      total: 1.1,
      components: { correct: 1, valid_calls: 1 },
    });

    const wrong = await env.openEpisode({ taskId: task.id });
    await wrong.callTool('reverse', { text: 5 });
    await wrong.callTool('answer', { answer: `${gold}x` });
    expect((await wrong.end()).reward).toMatchObject({
      total: 0,
      components: { correct: 0, valid_calls: 0 },
    });

    const plain = await env.openEpisode({ taskId: task.id });
    expect((await plain.end(`  ${gold} `)).reward.components.correct).toBe(1);
  });
});

describe('progress (process reward)', () => {
  /** Depth-2 chains of reverse and upper over 3-letter strings of a and b. */
  const twoFunctions = async (options: Record<string, unknown> = {}) => {
    const env = make({
      depths: [2],
      functions: ['reverse', 'upper'],
      alphabet: 'ab',
      minLength: 3,
      maxLength: 3,
      ...options,
    });
    return { env, task: (await env.tasks())[0]! };
  };

  it('credits the longest correct prefix of the chain, in order, on the right inputs, when the agent answers', async () => {
    const { env, task } = await twoFunctions({ weights: { progress: 0.5 } });
    const [first, second] = task.meta.chain as Array<'reverse' | 'upper'>;
    const input = task.meta.input as string;
    const { steps } = task.answer as ComposeAnswer;
    const play = async (calls: Array<[string, unknown]>) => {
      const episode = await env.openEpisode({ taskId: task.id });
      for (const [name, text] of calls) await episode.callTool(name, { text });
      if (answers) await episode.callTool('answer', { answer: 'a wrong answer' });
      return (await episode.end()).reward;
    };
    let answers = true;
    expect((await play([])).components.progress).toBe(0);
    expect((await play([[first!, input]])).components.progress).toBe(0.5);
    expect(
      (
        await play([
          [first!, input],
          [second!, steps[0]],
        ])
      ).components.progress,
    ).toBe(1);
    expect(
      (
        await play([
          [second!, input],
          [first!, input],
        ])
      ).components.progress,
    ).toBe(0);
    expect((await play([[first!, `${input}x`]])).components.progress).toBe(0);
    expect(
      (
        await play([
          [first!, 7],
          [first!, input],
        ])
      ).components.progress,
    ).toBe(0);
    const half = await play([[first!, input]]);
    expect(half.total).toBeCloseTo(0.1 + 0.5 * 0.5);
    // No answer, no partial credit: stalling until the turns run out must not pay.
    answers = false;
    expect(
      (
        await play([
          [first!, input],
          [second!, steps[0]],
        ])
      ).components.progress,
    ).toBe(0);
  });

  it('composed: a right answer by exactly the chain in order, not a wrong chain that happens to give it', async () => {
    const { env, task } = await twoFunctions();
    const [first, second] = task.meta.chain as string[];
    const input = task.meta.input as string;
    const { steps, output } = task.answer as ComposeAnswer;
    const play = async (calls: Array<[string, string]>, answer = output) => {
      const episode = await env.openEpisode({ taskId: task.id });
      for (const [name, text] of calls) await episode.callTool(name, { text });
      await episode.callTool('answer', { answer });
      return (await episode.end()).reward.components;
    };
    expect(
      await play([
        [first!, input],
        [second!, steps[0]!],
      ]),
    ).toMatchObject({ correct: 1, composed: 1 });
    // reverse and upper commute: the swapped order gives the right string, but did not compose.
    const swapped = await play([
      [second!, input],
      [first!, applyChain([second as FunctionName], input)],
    ]);
    expect(swapped).toMatchObject({ correct: 1, composed: 0 });
    // The chain then one more call, or the chain with a wrong answer: not composed either.
    expect(
      await play([
        [first!, input],
        [second!, steps[0]!],
        [second!, output],
      ]),
    ).toMatchObject({ correct: 1, composed: 0 });
    expect(
      await play(
        [
          [first!, input],
          [second!, steps[0]!],
        ],
        `${output}x`,
      ),
    ).toMatchObject({ correct: 0, composed: 0 });
  });

  it('composed, with re-attempts: the last attempt composes from scratch; a guess from earlier outputs does not', async () => {
    const { task } = await twoFunctions();
    const base = (await twoFunctions()).env;
    const env = new Environment(withFeedback(compose, { tryAgain: 2, correct: 'composed' }), base.config);
    const [first, second] = task.meta.chain as string[];
    const input = task.meta.input as string;
    const { steps, output } = task.answer as ComposeAnswer;
    // A wrong chain and a wrong answer, then the chain again and the right answer: composed, at γ¹.
    const retried = await env.openEpisode({ taskId: task.id });
    await retried.callTool(second!, { text: input });
    expect((await retried.callTool('answer', { answer: 'wrong' })).content).toBe("Let's try again.");
    await retried.callTool(first!, { text: input });
    await retried.callTool(second!, { text: steps[0]! });
    expect((await retried.callTool('answer', { answer: output })).terminated).toBe(true);
    const end = await retried.end();
    expect(end.reward.components).toMatchObject({ correct: 1, composed: 1, attempts: 2 });
    expect(end.reward.total).toBeCloseTo(0.5 * (1 + 0.1), 12);
    // The chain, a wrong answer, then the right string with no calls of its own: right, not composed,
    // so it is told to try again like any wrong answer.
    const guessed = await env.openEpisode({ taskId: task.id });
    await guessed.callTool(first!, { text: input });
    await guessed.callTool(second!, { text: steps[0]! });
    await guessed.callTool('answer', { answer: 'wrong' });
    expect((await guessed.callTool('answer', { answer: output })).content).toBe("Let's try again.");
    await guessed.end();
  });

  it('is a logged metric at weight 0 by default, and weights stay in [0, 1]', async () => {
    const env = make({ depths: [2], tasksPerDepth: 3 });
    const task = (await env.tasks())[0]!;
    const episode = await env.openEpisode({ taskId: task.id });
    const [call] = compose.oracle!(task, env.config);
    await episode.callTool(call!.name, call!.arguments);
    await episode.callTool('answer', { answer: 'not yet' });
    const { reward } = await episode.end();
    expect(reward.components.progress).toBe(0.5);
    expect(reward.weights.progress).toBe(0);
    expect(reward.weights.composed).toBe(0);
    expect(() => make({ weights: { progress: 2 } })).toThrow(/'weights.progress'/);
  });

  it('reports one step reward per call received: 1 for a right next step on the right input, or a right answer', async () => {
    const { env, task } = await twoFunctions();
    const [first, second] = task.meta.chain as string[];
    const input = task.meta.input as string;
    const { steps, output } = task.answer as ComposeAnswer;
    const stepsOf = async (calls: Array<[string, unknown]>) => {
      const episode = await env.openEpisode({ taskId: task.id });
      for (const [name, args] of calls) await episode.callTool(name, args);
      return (await episode.end()).reward.steps;
    };
    const oracle = compose.oracle!(task, env.config).map((c): [string, unknown] => [c.name, c.arguments]);
    expect(await stepsOf(oracle)).toEqual([1, 1, 1]);
    expect(await stepsOf([])).toEqual([]);
    // The outer function first, then the chain in order: nothing after a wrong step counts.
    expect(
      await stepsOf([
        [second!, { text: input }],
        [first!, { text: input }],
        [second!, { text: steps[0] }],
        ['answer', { answer: output }],
      ]),
    ).toEqual([0, 0, 0, 1]);
    // A wrong input, a malformed call, an unknown tool, a wrong answer; a call after the answer.
    expect(
      await stepsOf([
        [first!, { text: `${input}b` }],
        [first!, 'not an object'],
        ['no_such_tool', {}],
        ['answer', null],
        ['answer', { answer: 'wrong' }],
      ]),
    ).toEqual([0, 0, 0, 0, 0]);
    expect(
      await stepsOf([
        [first!, { text: input }],
        ['answer', { answer: output }],
        ['answer', { answer: output }],
      ]),
    ).toEqual([1, 1, 0]);
  });
});
