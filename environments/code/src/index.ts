import { defineEnvironment, ToolError, weightedReward } from '@toolgym/env-kit';
import { ToolGymError } from '@toolgym/protocol';
import { type Sandbox, SandboxError } from '@toolgym/sandbox';
import { z } from 'zod';
import { type CodeConfig, CodeConfigSchema } from './config.ts';
import { GraderFailureError } from './grading/errors.ts';
import { codeGuidance, pythonPlan } from './guidance.ts';
import type { GraderPool } from './grading/grader-process.ts';
import { runTests, type TestRun, type TestSuite } from './grading/run-tests.ts';
import { chanceCorrectedPassFraction, unseenTests } from './pass-fraction.ts';
import { formatRun, formatTestRun } from './run-output.ts';
import { leaseSharedGrading } from './shared-sandbox.ts';
import { type CodeTaskAnswer, type CodeTaskMeta, SOLUTION_FILE } from './task-types.ts';
import { codeHeldOut, codeTasks } from './tasks.ts';
import { MAX_FILE_BYTES, Workspace } from './workspace.ts';

export {
  type CodeConfig,
  CodeConfigSchema,
  DatasetSchema,
  type DatasetSpec,
  type SandboxSettings,
} from './config.ts';
export { codeGuidance, pythonPlan } from './guidance.ts';
export { loadDataset, loadHumanEvalJsonl, loadMbppJsonl } from './datasets.ts';
export { PUBLIC_TESTS } from './problems/draw.ts';
export { INTERPRETER_TEMPLATES, type InterpreterTemplate } from './problems/interpreter-templates.ts';
export { PROGRAMMING_TEMPLATES } from './problems/programming-templates.ts';
export type { Difficulty, ProgrammingTemplate } from './problems/template.ts';
export { functionPrompt, interpreterPrompt } from './prompts.ts';
export { checkSuites, type Refusal } from './grading/check-tests.ts';
export { GraderFailureError } from './grading/errors.ts';
export { GraderPool } from './grading/grader-process.ts';
export {
  type GradingInfra,
  runTests,
  type TestRun,
  type TestRunOptions,
  type TestSuite,
} from './grading/run-tests.ts';
export { closeSharedSandboxes, leaseSharedGrading, sharedSandbox } from './shared-sandbox.ts';
export { type CodeTaskAnswer, type CodeTaskMeta, SOLUTION_FILE } from './task-types.ts';
export { codeHeldOut, codeTasks, heldOutFamilies } from './tasks.ts';
export { Workspace } from './workspace.ts';

export interface CodeState {
  sandbox: Sandbox;
  /** Grader processes: they run the tests and compare, and never run the episode's code. */
  graders: GraderPool;
  /** Gives the shared sandbox and graders back when the episode ends. */
  releaseSandbox: () => void;
  workspace: Workspace;
  /** Set when the sandbox itself failed (not the model's code): the episode cannot be graded. */
  sandboxFailure?: string;
}

/** The sandbox could not run the episode's code: episode-fatal, never the model's fault. */
export class SandboxFailureError extends ToolGymError {
  constructor(message: string) {
    super('sandbox_failed', message, 'check the sandbox backend (bwrap / the Docker engine) on this host');
  }
}

/**
 * Runs sandbox work for a tool. A failure of the sandbox or the grader itself is recorded on the
 * episode (so grading refuses it as episode-fatal) and told to the model as a tool error.
 */
async function inSandbox<T>(state: CodeState, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof SandboxError || error instanceof GraderFailureError)) throw error;
    state.sandboxFailure ??= error.message;
    throw new ToolError(
      `The sandbox failed (${error.message}); this episode cannot be graded.`,
      'sandbox_failed',
    );
  }
}

const SCRATCH_FILE = '.scratch.py';

const runLimits = (config: CodeConfig) => ({
  wallMs: config.sandbox.wallMs,
  cpuMs: config.sandbox.cpuMs,
  memoryBytes: config.sandbox.memoryBytes,
  outputBytes: config.sandbox.outputBytes,
});

const answerOf = (task: { answer?: unknown }) => task.answer as CodeTaskAnswer;

type FunctionAnswer = Extract<CodeTaskAnswer, { kind: 'function' }>;

/** A function task's tests with everything the grader needs to run them. */
const suiteOf = (gold: FunctionAnswer, tests: string[]): TestSuite => ({
  entryPoint: gold.entryPoint,
  tests,
  ...(gold.setup ? { setup: gold.setup } : {}),
  ...(gold.preamble ? { preamble: gold.preamble } : {}),
  ...(gold.helpers ? { helpers: gold.helpers } : {}),
  ...(gold.floatTolerance !== undefined ? { floatTolerance: gold.floatTolerance } : {}),
});

function gradeTests(
  state: CodeState,
  config: CodeConfig,
  suite: TestSuite,
  signal?: AbortSignal,
): Promise<TestRun> {
  return runTests({ sandbox: state.sandbox, graders: state.graders }, state.workspace.snapshot(), suite, {
    perTestSeconds: config.perTestSeconds,
    limits: runLimits(config),
    ...(signal ? { signal } : {}),
  });
}

/** `\boxed{42}` wins; otherwise the last integer in the text. */
export function extractIntegerAnswer(text: string): string | undefined {
  const boxed = /\\boxed\{\s*(-?[\d,]+)\s*\}/.exec(text);
  const last = text.match(/-?\d[\d,]*/g)?.at(-1);
  const found = boxed?.[1] ?? last;
  return found?.replace(/,/g, '');
}

const normaliseInteger = (text: string) =>
  /^\s*-?\d+\s*$/.test(text) ? String(BigInt(text.trim())) : undefined;

/**
 * code@1 — write Python functions against hidden unit tests, or answer math questions with a
 * Python interpreter (ToRL-style). Every run of the model's code happens in @toolgym/sandbox.
 */
export default defineEnvironment<CodeState, CodeConfig>({
  id: 'code',
  version: 1,
  description:
    'Python programming in a sandbox: write a function to solution.py and pass hidden unit tests, or answer a math question using a Python interpreter.',
  config: CodeConfigSchema,
  tasks: codeTasks,
  tools: {
    run_python: {
      description:
        'Run Python code in a fresh sandbox with the files of the work dir (no network). Returns the exit code, stdout and stderr.',
      input: z.object({
        code: z
          .string()
          .min(1)
          .max(64 * 1024)
          .describe('Python source to run.'),
        stdin: z
          .string()
          .max(64 * 1024)
          .optional()
          .describe('Text given to the program on standard input.'),
      }),
      run: async ({ code, stdin }, { episode, signal }) => {
        const files = { ...episode.state.workspace.snapshot(), [SCRATCH_FILE]: code };
        const result = await inSandbox(episode.state, () =>
          episode.state.sandbox.run({
            cmd: ['python3', SCRATCH_FILE],
            files,
            ...(stdin !== undefined ? { stdin } : {}),
            limits: runLimits(episode.config),
            signal,
          }),
        );
        return { text: formatRun(result), isError: result.exitCode !== 0 };
      },
    },
    write_file: {
      description: `Create or overwrite a file in the work dir (e.g. ${SOLUTION_FILE}).`,
      input: z.object({
        path: z.string().min(1).max(200).describe(`A relative path, e.g. '${SOLUTION_FILE}'.`),
        content: z.string().max(MAX_FILE_BYTES).describe('The whole new content of the file.'),
      }),
      run: ({ path, content }, { episode }) => {
        episode.state.workspace.write(path, content);
        return `Wrote ${path} (${Buffer.byteLength(content)} bytes).`;
      },
    },
    read_file: {
      description: 'Read a file of the work dir.',
      input: z.object({ path: z.string().min(1).max(200).describe('A relative path.') }),
      run: ({ path }, { episode }) => episode.state.workspace.read(path),
    },
    run_tests: {
      description: `Run the task's public tests against ${SOLUTION_FILE}.`,
      input: z.object({}),
      run: async (_args, { episode, signal }) => {
        const answer = answerOf(episode.task);
        if (answer.kind !== 'function')
          throw new ToolError(
            'This is a math question: there are no tests. Call submit with your answer.',
            'no_tests',
          );
        const tests = (episode.task.meta as CodeTaskMeta).publicTests ?? [];
        const run = await inSandbox(episode.state, () =>
          gradeTests(episode.state, episode.config, suiteOf(answer, tests), signal),
        );
        return { text: formatTestRun(run, tests), isError: run.passed < run.total || run.load !== 'ok' };
      },
    },
    submit: {
      description: `Finish the episode. For a programming task, ${SOLUTION_FILE} is graded by hidden tests; for a math question give the integer answer.`,
      input: z.object({
        answer: z
          .string()
          .max(200)
          .optional()
          .describe('The final answer of a math question (the integer alone).'),
      }),
      run: ({ answer }, { episode }) => {
        const gold = answerOf(episode.task);
        if (gold.kind === 'interpreter') {
          if (answer === undefined)
            throw new ToolError(
              'This is a math question: call submit with answer set to the integer.',
              'missing_answer',
            );
          episode.terminate(answer);
          return 'Answer submitted.';
        }
        if (!episode.state.workspace.has(SOLUTION_FILE)) {
          throw new ToolError(
            `There is no ${SOLUTION_FILE} to submit: write it with write_file first.`,
            'no_solution',
          );
        }
        episode.terminate();
        return `${SOLUTION_FILE} submitted.`;
      },
    },
  },
  setup: (_task, { config }) => {
    const lease = leaseSharedGrading(config.sandbox);
    return {
      sandbox: lease.sandbox,
      graders: lease.graders,
      releaseSandbox: lease.release,
      workspace: new Workspace(),
    };
  },
  teardown: (state) => state.releaseSandbox(),
  grade: async ({ episode, finalText }) => {
    const gold = answerOf(episode.task);
    const weights = episode.config.weights;
    if (episode.state.sandboxFailure)
      throw new SandboxFailureError(`episode not graded: ${episode.state.sandboxFailure}`);
    if (gold.kind === 'interpreter') {
      const submitted = typeof episode.answer === 'string' ? episode.answer : undefined;
      const given = submitted ?? (finalText !== undefined ? extractIntegerAnswer(finalText) : undefined);
      const correct =
        given !== undefined && normaliseInteger(given) === normaliseInteger(gold.answer) ? 1 : 0;
      const format = submitted !== undefined && normaliseInteger(submitted) !== undefined ? 1 : 0;
      return weightedReward({ pass_fraction: correct, all_pass: correct, format }, weights, {
        gold: gold.answer,
        given: given ?? null,
      });
    }
    const run = await gradeTests(episode.state, episode.config, suiteOf(gold, gold.hiddenTests)).catch(
      (error: unknown) => {
        throw error instanceof SandboxError || error instanceof GraderFailureError
          ? new SandboxFailureError(`episode not graded: ${error.message}`)
          : error;
      },
    );
    // Tests the prompt shows earn no pass_fraction (a table of the public examples is not the
    // skill), and neither does what a constant answer would pass.
    const counted = unseenTests(gold.hiddenTests, (episode.task.meta as CodeTaskMeta).publicTests ?? []);
    const allPass = run.total > 0 && run.passed === run.total;
    const passed = counted.filter((i) => run.results[i]?.ok).length;
    const fraction = chanceCorrectedPassFraction(passed, counted.length, gold.chance, allPass);
    const format = episode.terminated && run.load === 'ok' && run.definesEntryPoint ? 1 : 0;
    return weightedReward({ pass_fraction: fraction, all_pass: allPass ? 1 : 0, format }, weights, {
      passed: run.passed,
      total: run.total,
      load: run.load,
      ...(run.loadError ? { loadError: run.loadError } : {}),
      ...(run.cutShort ? { cutShort: run.cutShort } : {}),
      failures: run.results.flatMap((r, i) => (r.ok ? [] : [`#${i}: ${r.error ?? 'failed'}`])).slice(0, 5),
    });
  },
  // Agent-RLVR's guidance: the failing tests an agent may see, how many of the grader's failed, and a plan from the reference.
  guidance: async ({ episode, reward }) => {
    const gold = answerOf(episode.task);
    if (gold.kind === 'interpreter')
      return codeGuidance({ answer: String(episode.answer ?? ''), plan: pythonPlan(gold.program) });
    const tests = (episode.task.meta as CodeTaskMeta).publicTests ?? [];
    const run = await inSandbox(episode.state, () => gradeTests(episode.state, episode.config, suiteOf(gold, tests)));
    const { passed, total } = reward.info as { passed?: number; total?: number };
    return codeGuidance({
      publicTests: formatTestRun(run, tests),
      ...(passed !== undefined && total !== undefined ? { graded: { passed, total } } : {}),
      plan: pythonPlan(gold.reference, gold.entryPoint),
    });
  },
  rewardRange: [0, 1.1],
  formatFloor: (config) => config.weights.format,
  heldOut: codeHeldOut,
  redteam: async () => (await import('../redteam/index.ts')).CODE_ATTACKS,
  limits: (config) => ({
    maxTurns: config.maxTurns,
    // Long enough for a test run (per-test alarm × public tests + start-up); the sandbox's own limits fire first.
    toolTimeoutMs: Math.max(config.sandbox.wallMs, config.perTestSeconds * 1000 * 4) + 10_000,
    maxToolOutputBytes: 8_192,
  }),
  oracle: (task) => {
    const gold = answerOf(task);
    if (gold.kind === 'interpreter') {
      return [
        { name: 'run_python', arguments: { code: gold.program } },
        { name: 'submit', arguments: { answer: gold.answer } },
      ];
    }
    return [
      { name: 'write_file', arguments: { path: SOLUTION_FILE, content: gold.reference } },
      { name: 'run_tests', arguments: {} },
      { name: 'submit', arguments: {} },
    ];
  },
});
