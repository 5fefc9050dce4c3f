import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentRegistry } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import definition, {
  type CodeTaskAnswer,
  type CodeTaskMeta,
  CodeConfigSchema,
  closeSharedSandboxes,
  DatasetSchema,
  type GradingInfra,
  leaseSharedGrading,
  loadDataset,
  loadHumanEvalJsonl,
  loadMbppJsonl,
  runTests,
} from '../src/index.ts';

// Fixtures shaped exactly like the published files: MBPP's mbpp.jsonl (text, code, task_id,
// test_setup_code, test_list, challenge_test_list; CRLF code, tabs, setup objects, classes as
// arguments, set(...), float and tuple answers) and sanitized-mbpp.json (one JSON array;
// prompt, test_imports), and HumanEval.jsonl.gz (check(candidate) blocks with METADATA, seeded
// random loops, helpers in the prompt, assert messages).
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => path.join(fixtures, name);

type FunctionAnswer = Extract<CodeTaskAnswer, { kind: 'function' }>;
const answer = (task: Omit<Task, 'split'>) => task.answer as FunctionAnswer;

let infra: GradingInfra & { release(): void };
beforeAll(() => {
  infra = leaseSharedGrading(CodeConfigSchema.parse({}).sandbox);
});
afterAll(async () => {
  infra.release();
  await closeSharedSandboxes();
});

/** The ids of the problems whose reference solution fails one of its own tests under the real grader. */
async function failingReferences(tasks: Array<Omit<Task, 'split'>>): Promise<string[]> {
  const failing: string[] = [];
  for (const task of tasks) {
    const { reference, hiddenTests, chance: _chance, kind: _kind, ...suite } = answer(task);
    const run = await runTests(
      infra,
      { 'solution.py': reference },
      { ...suite, tests: hiddenTests },
      { perTestSeconds: 2, limits: {} },
    );
    if (run.passed !== run.total) failing.push(task.id);
  }
  return failing;
}

describe('MBPP as published', () => {
  it('loads every record of mbpp.jsonl, finding the tested function, the setup and the challenge tests', () => {
    const tasks = loadMbppJsonl(fixture('mbpp.jsonl'));
    expect(tasks).toHaveLength(33);
    const byId = new Map(tasks.map((t) => [t.id, t]));
    expect(answer(byId.get('mbpp-601')!).entryPoint).toBe('max_chain_length');
    expect(answer(byId.get('mbpp-927')!)).toMatchObject({
      entryPoint: 'max_height',
      setup: expect.stringContaining('root = Node(1)'),
    });
    expect(answer(byId.get('mbpp-20')!).hiddenTests).toHaveLength(6);
    const first = byId.get('mbpp-2')!;
    expect((first.meta as CodeTaskMeta).publicTests).toEqual([answer(first).hiddenTests[0]]);
    expect(first.prompt).toContain(answer(first).hiddenTests[0]);
    expect(first.prompt).not.toContain(answer(first).hiddenTests[1]);
  });

  it("grades every reference as its tests say; the two answering floats where the tests write ints need the dataset's float tolerance", async () => {
    const strict = loadMbppJsonl(fixture('mbpp.jsonl'));
    expect(await failingReferences(strict)).toEqual(['mbpp-14', 'mbpp-935']);
    const numeric = loadDataset(
      DatasetSchema.parse({ format: 'mbpp', path: fixture('mbpp.jsonl'), floatTolerance: 1e-9 }),
    );
    expect(await failingReferences(numeric)).toEqual([]);
  }, 180_000);

  it('loads sanitized-mbpp.json (one JSON array), whose test_imports run in the grader', async () => {
    const tasks = loadDataset(DatasetSchema.parse({ format: 'mbpp', path: fixture('sanitized-mbpp.json') }));
    expect(tasks).toHaveLength(10);
    const sphere = tasks.find((t) => t.id === 'mbpp-82')!;
    expect(answer(sphere)).toMatchObject({ preamble: 'import math', setup: 'import math' });
    expect(await failingReferences(tasks)).toEqual([]);
  }, 120_000);
});

describe('HumanEval as published', () => {
  it('loads HumanEval.jsonl.gz: check(candidate) is one test, the prompt is the task and its helpers', async () => {
    const tasks = loadHumanEvalJsonl(fixture('HumanEval.jsonl.gz'));
    expect(tasks.map((t) => t.id)).toContain('humaneval-HumanEval-38');
    const cyclic = tasks.find((t) => t.id === 'humaneval-HumanEval-38')!;
    expect(answer(cyclic).hiddenTests).toEqual([
      expect.stringMatching(/def check\(candidate\)[\s\S]*check\(decode_cyclic\)$/),
    ]);
    expect(answer(cyclic).helpers).toContain('def encode_cyclic');
    expect(cyclic.prompt).toContain('def decode_cyclic');
    expect(await failingReferences(tasks)).toEqual([]);
  }, 120_000);
});

describe('records that cannot be graded safely', () => {
  it('fail the load naming each record, test and line; skipUngradable leaves them out', () => {
    const file = fixture('mbpp-ungradable.jsonl');
    expect(() => loadMbppJsonl(file)).toThrow(
      expect.objectContaining({
        code: 'invalid_config',
        message: expect.stringMatching(
          /2 problem\(s\)[\s\S]*mbpp-ungradable\.jsonl:1: test 2 of mbpp-9001 \(line 1 of the test\): uses `eval`[\s\S]*mbpp-ungradable\.jsonl:3: test 2 of mbpp-9003 \(line 1 of the test\): the test changes an object of the solution/,
        ),
        hint: expect.stringContaining('skipUngradable'),
      }),
    );
    const kept = loadDataset(DatasetSchema.parse({ format: 'mbpp', path: file, skipUngradable: true }));
    expect(kept.map((t) => t.id)).toEqual(['mbpp-9002']);
  });

  it('a malformed record names the file, the line and the field', () => {
    expect(() => loadHumanEvalJsonl(fixture('humaneval-broken.jsonl'))).toThrow(
      /humaneval-broken.jsonl:1 .*canonical_solution/,
    );
    expect(() => loadMbppJsonl(fixture('humaneval.jsonl'))).toThrow(/humaneval.jsonl:1 is not a MBPP record/);
    expect(() => loadMbppJsonl(fixture('missing.jsonl'))).toThrow(/cannot read dataset/);
  });
});

describe('datasets in the environment', () => {
  it('splits them as families of one; a submission earns pass_fraction only on tests the prompt did not show', async () => {
    const registry = new EnvironmentRegistry();
    registry.register(definition);
    const env = registry.make('code', {
      kinds: ['interpreter'],
      interpreterVariants: 1,
      perTestSeconds: 1,
      datasets: [
        { format: 'mbpp', path: fixture('mbpp.jsonl') },
        { format: 'humaneval', path: fixture('HumanEval.jsonl.gz'), split: 'test' },
      ],
    });
    const tasks = (await env.tasks()).filter((t) => (t.meta as CodeTaskMeta).source !== 'generated');
    expect(tasks.filter((t) => t.id.startsWith('humaneval')).every((t) => t.split === 'test')).toBe(true);
    expect(new Set(tasks.filter((t) => t.id.startsWith('mbpp')).map((t) => t.split))).toEqual(
      new Set(['train', 'test']),
    );
    expect(tasks.every((t) => (t.meta as CodeTaskMeta).family === t.id)).toBe(true);
    const task = tasks.find((t) => t.id === 'mbpp-17')!;
    const play = async (content: string) => {
      const episode = await env.openEpisode({ taskId: task.id });
      await episode.callTool('write_file', { path: 'solution.py', content });
      await episode.callTool('submit', {});
      return (await episode.end()).reward;
    };
    // A table of the one shown example earns the format floor only.
    expect((await play('def square_perimeter(a):\n    return {10: 40}.get(a)\n')).total).toBeCloseTo(0.1);
    expect((await play('def square_perimeter(a):\n    return 4 * a\n')).total).toBeCloseTo(1.1);
  }, 120_000);
});
