import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { ConfigError } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { z } from 'zod';
import type { DatasetSpec } from './config.ts';
import { checkSuites } from './grading/check-tests.ts';
import { chanceLevel, unseenTests } from './pass-fraction.ts';
import { functionPrompt } from './prompts.ts';
import type { CodeTaskAnswer, CodeTaskMeta } from './task-types.ts';

type FunctionAnswer = Extract<CodeTaskAnswer, { kind: 'function' }>;

/** One MBPP record: the original release (`text`, `test_setup_code`) or the sanitized one (`prompt`, `test_imports`). */
const MbppRecordSchema = z
  .object({
    task_id: z.union([z.number(), z.string()]),
    text: z.string().optional(),
    prompt: z.string().optional(),
    code: z.string(),
    test_list: z.array(z.string()).min(1),
    test_setup_code: z.string().optional(),
    test_imports: z.array(z.string()).optional(),
    challenge_test_list: z.array(z.string()).optional(),
  })
  .refine((r) => r.text !== undefined || r.prompt !== undefined, { message: 'needs `text` or `prompt`' });

/** One HumanEval record. */
const HumanEvalRecordSchema = z.object({
  task_id: z.string(),
  prompt: z.string(),
  canonical_solution: z.string(),
  test: z.string(),
  entry_point: z.string(),
});

/**
 * The records of a dataset file as published: JSON lines (`mbpp.jsonl`, `HumanEval.jsonl`) or one
 * JSON array (`sanitized-mbpp.json`), gzipped or not (`HumanEval.jsonl.gz`). `where` names each
 * record (`file:line`, or `file[index]` in an array) for every message about it.
 */
function readRecords(file: string): Array<{ where: string; value: unknown }> {
  let text: string;
  try {
    const bytes = readFileSync(file);
    text = (file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (error) {
    throw new ConfigError(
      `cannot read dataset ${file}: ${(error as Error).message}`,
      'check the `datasets[].path` option',
    );
  }
  if (text.trimStart().startsWith('[')) {
    let records: unknown;
    try {
      records = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    return (records as unknown[]).map((value, i) => ({ where: `${file}[${i}]`, value }));
  }
  return text
    .split('\n')
    .map((raw, i) => ({ raw, where: `${file}:${i + 1}` }))
    .filter(({ raw }) => raw.trim() !== '')
    .map(({ raw, where }) => {
      try {
        return { where, value: JSON.parse(raw) as unknown };
      } catch {
        throw new ConfigError(`${where} is not valid JSON`);
      }
    });
}

function parseRecord<T extends z.ZodType>(
  schema: T,
  where: string,
  value: unknown,
  format: string,
): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; ');
    throw new ConfigError(
      `${where} is not a ${format} record (${issues})`,
      `is \`format\` right for this file?`,
    );
  }
  return parsed.data;
}

/** A loaded problem with where it came from, before its tests are checked. */
interface LoadedProblem {
  task: Omit<Task, 'split'>;
  answer: Extract<CodeTaskAnswer, { kind: 'function' }>;
  where: string;
}

/** The function of `code` that a test calls first (MBPP records do not name it). */
function testedFunction(code: string, test: string): string | undefined {
  const defined = new Set([...code.matchAll(/^def\s+([A-Za-z_]\w*)\s*\(/gm)].map((m) => m[1]!));
  return [...test.matchAll(/([A-Za-z_]\w*)\s*\(/g)].map((m) => m[1]!).find((name) => defined.has(name));
}

/** MBPP problems: the first test is public (MBPP prompts show tests); every test runs at grading. */
export function loadMbppJsonl(file: string, options: LoadOptions = {}): Omit<Task, 'split'>[] {
  const problems = readRecords(file).map(({ where, value }): LoadedProblem => {
    const r = parseRecord(MbppRecordSchema, where, value, 'MBPP');
    const tests = [...r.test_list, ...(r.challenge_test_list ?? [])];
    const entryPoint = testedFunction(r.code, r.test_list[0]!);
    if (!entryPoint)
      throw new ConfigError(`${where}: cannot find which function of \`code\` '${r.test_list[0]}' calls`);
    const imports = (r.test_imports ?? []).filter((s) => s.trim() !== '').join('\n');
    const setup = [imports, r.test_setup_code ?? ''].filter((s) => s.trim() !== '').join('\n');
    const answer: FunctionAnswer = {
      kind: 'function',
      entryPoint,
      reference: r.code,
      hiddenTests: tests,
      chance: 0,
      ...(setup ? { setup } : {}),
      ...(imports ? { preamble: imports } : {}),
      ...(options.floatTolerance !== undefined ? { floatTolerance: options.floatTolerance } : {}),
    };
    const publicTests = [r.test_list[0]!];
    const id = `mbpp-${r.task_id}`;
    const meta: CodeTaskMeta = { kind: 'programming', family: id, source: 'mbpp', entryPoint, publicTests };
    const task = {
      id,
      prompt: functionPrompt((r.text ?? r.prompt)!, entryPoint, publicTests),
      answer,
      meta,
    };
    return { task, answer, where };
  });
  return keepGradable(file, problems, options);
}

/** HumanEval problems: the prompt is the signature and docstring; `check(candidate)` is one test. */
export function loadHumanEvalJsonl(file: string, options: LoadOptions = {}): Omit<Task, 'split'>[] {
  const problems = readRecords(file).map(({ where, value }): LoadedProblem => {
    const r = parseRecord(HumanEvalRecordSchema, where, value, 'HumanEval');
    const answer: FunctionAnswer = {
      kind: 'function',
      entryPoint: r.entry_point,
      reference: r.prompt + r.canonical_solution,
      hiddenTests: [`${r.test}\ncheck(${r.entry_point})`],
      chance: 0,
      // Helpers the prompt defines (decode_cyclic's encode_cyclic, find_zero's poly) check the
      // solution's answers, so they run in the grader as the task wrote them.
      helpers: r.prompt,
      ...(options.floatTolerance !== undefined ? { floatTolerance: options.floatTolerance } : {}),
    };
    const id = `humaneval-${r.task_id.replace(/[^A-Za-z0-9_-]/g, '-')}`;
    const meta: CodeTaskMeta = {
      kind: 'programming',
      family: id,
      source: 'humaneval',
      entryPoint: r.entry_point,
      publicTests: [],
    };
    const description = `Complete this Python function (keep its signature and imports):\n\n${r.prompt}`;
    const task = {
      id,
      prompt: functionPrompt(description, r.entry_point, []),
      answer,
      meta,
    };
    return { task, answer, where };
  });
  return keepGradable(file, problems, options);
}

interface LoadOptions {
  floatTolerance?: number;
  skipUngradable?: boolean;
}

/**
 * Every test is rewritten as grading will run it; a problem with a test that cannot be graded
 * with the solution kept out of the grader fails the load (naming the record and why), or with
 * `skipUngradable` is left out and reported.
 */
function keepGradable(file: string, problems: LoadedProblem[], options: LoadOptions): Omit<Task, 'split'>[] {
  const checks = checkSuites(
    problems.map(({ answer: { entryPoint, hiddenTests, preamble, helpers } }) => ({
      entryPoint,
      tests: hiddenTests,
      ...(preamble ? { preamble } : {}),
      ...(helpers ? { helpers } : {}),
    })),
  );
  const refused: string[] = [];
  const kept: Omit<Task, 'split'>[] = [];
  problems.forEach((problem, i) => {
    const tests = checks[i]!;
    const index = tests.findIndex((t) => t.refused !== null);
    if (index !== -1) {
      const { reason, line } = tests[index]!.refused!;
      const at = line !== null ? ` (line ${line} of the test)` : '';
      refused.push(`${problem.where}: test ${index + 1} of ${problem.task.id}${at}: ${reason}`);
      return;
    }
    const shown = (problem.task.meta as CodeTaskMeta).publicTests ?? [];
    problem.answer.chance = chanceLevel(
      unseenTests(problem.answer.hiddenTests, shown).map((t) => tests[t]!.expects),
    );
    kept.push(problem.task);
  });
  if (refused.length > 0 && !options.skipUngradable) {
    throw new ConfigError(
      `${refused.length} problem(s) of ${file} have tests that cannot be graded with the solution kept out of the grader:\n  ${refused.slice(0, 10).join('\n  ')}${refused.length > 10 ? `\n  … and ${refused.length - 10} more` : ''}`,
      'fix or drop those records, or set `skipUngradable: true` on the dataset to leave them out',
    );
  }
  for (const why of refused) process.emitWarning(`left out: ${why}`, { code: 'TOOLGYM_UNGRADABLE' });
  return kept;
}

export function loadDataset(spec: DatasetSpec): Omit<Task, 'split'>[] {
  const loaders = { mbpp: loadMbppJsonl, humaneval: loadHumanEvalJsonl };
  return loaders[spec.format](spec.path, {
    skipUngradable: spec.skipUngradable,
    ...(spec.floatTolerance !== undefined ? { floatTolerance: spec.floatTolerance } : {}),
  });
}
