/**
 * `pnpm bench grading` — the time to grade one submission of 8 tests (a reference solution
 * against its 8 hidden tests), with the grader (the solution in the sandbox, tests and
 * comparisons in a grader process) against the baseline: the in-sandbox harness used before,
 * which shared the solution's interpreter. Both grade the same tasks in the same run,
 * interleaved, with their warm pools refilled (untimed) before each grading, as they are between
 * an agent's turns. Target: the grader within 2× of the baseline.
 *
 *   pnpm bench grading [--tasks 24] [--rounds 3]
 */
import {
  CodeConfigSchema,
  type CodeTaskAnswer,
  closeSharedSandboxes,
  codeTasks,
  leaseSharedGrading,
  runTests,
} from '../src/index.ts';
import { runBaselineTests } from './baseline-harness.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => Number(args[args.indexOf(name) + 1] ?? 0) || fallback;
const taskCount = option('--tasks', 24);
const rounds = option('--rounds', 3);

const config = CodeConfigSchema.parse({});
const functions = codeTasks(config).filter((t) => (t.answer as CodeTaskAnswer).kind === 'function');
// One task from each of `taskCount` families, spread over the list.
const byFamily = new Map(functions.map((t) => [t.meta.family, t]));
const tasks = [...byFamily.values()]
  .filter((_, i, all) => i % Math.max(1, Math.floor(all.length / taskCount)) === 0)
  .slice(0, taskCount);

const infra = leaseSharedGrading(config.sandbox);
const limits = { memoryBytes: config.sandbox.memoryBytes };
const timings = { grader: [] as number[], baseline: [] as number[] };

async function timed(run: () => Promise<{ passed: number; total: number }>, into: number[], id: string) {
  await infra.sandbox.warmUp();
  await infra.graders.warmUp();
  const started = performance.now();
  const result = await run();
  into.push(performance.now() - started);
  if (result.passed !== result.total || result.total !== 8)
    throw new Error(`${id}: ${result.passed}/${result.total} passed`);
}

for (let round = 0; round < rounds; round++) {
  for (const task of tasks) {
    const gold = task.answer as Extract<CodeTaskAnswer, { kind: 'function' }>;
    const files = { 'solution.py': gold.reference };
    const grader = () =>
      timed(
        () =>
          runTests(
            infra,
            files,
            {
              entryPoint: gold.entryPoint,
              tests: gold.hiddenTests,
              ...(gold.floatTolerance ? { floatTolerance: gold.floatTolerance } : {}),
            },
            {
              perTestSeconds: config.perTestSeconds,
              limits,
            },
          ),
        timings.grader,
        task.id,
      );
    const baseline = () =>
      timed(
        () =>
          runBaselineTests(infra.sandbox, files, {
            entryPoint: gold.entryPoint,
            tests: gold.hiddenTests,
            perTestSeconds: config.perTestSeconds,
            limits,
          }),
        timings.baseline,
        task.id,
      );
    // Alternate which goes first, so neither always meets a busier moment.
    if ((round + tasks.indexOf(task)) % 2 === 0) {
      await grader();
      await baseline();
    } else {
      await baseline();
      await grader();
    }
  }
}
infra.release();
await closeSharedSandboxes();

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const row = (name: string, xs: number[]) =>
  `| ${name} | ${xs.length} | ${quantile(xs, 0.5).toFixed(0)} | ${quantile(xs, 0.9).toFixed(0)} |`;
console.log(
  `Grading one submission of 8 tests: ${tasks.length} tasks × ${rounds} rounds, warm pools (bubblewrap)\n`,
);
console.log('| grader | gradings | p50 ms | p90 ms |');
console.log('|---|---|---|---|');
console.log(row('baseline: in-sandbox harness (before)', timings.baseline));
console.log(row('grader: sandboxed solution + host grader (after)', timings.grader));
const ratio = quantile(timings.grader, 0.5) / quantile(timings.baseline, 0.5);
console.log(`\nmedian ratio after/before: ${ratio.toFixed(2)}× (target ≤ 2×)`);
