import { afterAll, expect, it } from 'vitest';
import {
  type CodeTaskAnswer,
  CodeConfigSchema,
  closeSharedSandboxes,
  codeTasks,
  leaseSharedGrading,
  runTests,
} from '../src/index.ts';

afterAll(async () => {
  await closeSharedSandboxes();
});

it('every generated reference solution passes all its tests, public and hidden, under the real grader', async () => {
  const config = CodeConfigSchema.parse({});
  const tasks = codeTasks(config);
  const infra = leaseSharedGrading(config.sandbox);
  const failures: string[] = [];
  const functions = tasks.filter((t) => (t.answer as CodeTaskAnswer).kind === 'function');
  let next = 0;
  // As many gradings at once as the warm pool holds.
  const worker = async () => {
    while (next < functions.length) {
      const task = functions[next++]!;
      const { reference, hiddenTests, entryPoint, floatTolerance } = task.answer as Extract<
        CodeTaskAnswer,
        { kind: 'function' }
      >;
      const tests = [...(task.meta.publicTests as string[]), ...hiddenTests];
      const run = await runTests(
        infra,
        { 'solution.py': reference },
        { entryPoint, tests, ...(floatTolerance !== undefined ? { floatTolerance } : {}) },
        { perTestSeconds: config.perTestSeconds, limits: { memoryBytes: config.sandbox.memoryBytes } },
      );
      if (run.passed !== tests.length)
        failures.push(`${task.id}: ${JSON.stringify(run.results.filter((r) => !r.ok))}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: config.sandbox.poolSize }, worker));
  } finally {
    infra.release();
  }
  expect(functions.length).toBeGreaterThanOrEqual(400);
  expect(failures).toEqual([]);
  // A math question's answer is what its program printed: an integer.
  for (const task of tasks) {
    const answer = task.answer as CodeTaskAnswer;
    if (answer.kind === 'interpreter') expect(answer.answer, task.id).toMatch(/^-?\d+$/);
  }
}, 900_000);
