import { readFileSync } from 'node:fs';
import { ConfigError } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { z } from 'zod';
import type { DatasetSpec } from './config.ts';
import { functionPrompt } from './prompts.ts';
import type { CodeTaskAnswer, CodeTaskMeta } from './task-types.ts';

/** One MBPP line: the original release (`text`) or the sanitized one (`prompt`, `test_imports`). */
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

/** One HumanEval line. */
const HumanEvalRecordSchema = z.object({
  task_id: z.string(),
  prompt: z.string(),
  canonical_solution: z.string(),
  test: z.string(),
  entry_point: z.string(),
});

function readJsonl(file: string): Array<{ line: number; value: unknown }> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `cannot read dataset ${file}: ${(error as Error).message}`,
      'check the `datasets[].path` option',
    );
  }
  return text
    .split('\n')
    .map((raw, i) => ({ raw, line: i + 1 }))
    .filter(({ raw }) => raw.trim() !== '')
    .map(({ raw, line }) => {
      try {
        return { line, value: JSON.parse(raw) as unknown };
      } catch {
        throw new ConfigError(`${file}:${line} is not valid JSON`);
      }
    });
}

function parseRecord<T extends z.ZodType>(
  schema: T,
  file: string,
  line: number,
  value: unknown,
  format: string,
): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).join('; ');
    throw new ConfigError(
      `${file}:${line} is not a ${format} record (${issues})`,
      `is \`format\` right for this file?`,
    );
  }
  return parsed.data;
}

/** MBPP problems: the first test is public (MBPP prompts show tests), every test is hidden. */
export function loadMbppJsonl(file: string): Omit<Task, 'split'>[] {
  return readJsonl(file).map(({ line, value }) => {
    const r = parseRecord(MbppRecordSchema, file, line, value, 'MBPP');
    const tests = [...r.test_list, ...(r.challenge_test_list ?? [])];
    const entryPoint = /assert\s+(?:not\s+)?\(?\s*(?:set\()?\s*([A-Za-z_]\w*)\s*\(/.exec(
      r.test_list[0]!,
    )?.[1];
    if (!entryPoint)
      throw new ConfigError(`${file}:${line}: cannot find the function name in '${r.test_list[0]}'`);
    const setup = [...(r.test_imports ?? []), r.test_setup_code ?? '']
      .filter((s) => s.trim() !== '')
      .join('\n');
    const answer: CodeTaskAnswer = {
      kind: 'function',
      entryPoint,
      reference: r.code,
      hiddenTests: tests,
      ...(setup ? { setup } : {}),
    };
    const publicTests = [r.test_list[0]!];
    const meta: CodeTaskMeta = { family: 'programming', source: 'mbpp', entryPoint, publicTests };
    return {
      id: `mbpp-${r.task_id}`,
      prompt: functionPrompt((r.text ?? r.prompt)!, entryPoint, publicTests),
      answer,
      meta,
    };
  });
}

/** HumanEval problems: the prompt is the signature and docstring; `check(candidate)` is one hidden test. */
export function loadHumanEvalJsonl(file: string): Omit<Task, 'split'>[] {
  return readJsonl(file).map(({ line, value }) => {
    const r = parseRecord(HumanEvalRecordSchema, file, line, value, 'HumanEval');
    const answer: CodeTaskAnswer = {
      kind: 'function',
      entryPoint: r.entry_point,
      reference: r.prompt + r.canonical_solution,
      hiddenTests: [`${r.test}\ncheck(${r.entry_point})`],
    };
    const meta: CodeTaskMeta = {
      family: 'programming',
      source: 'humaneval',
      entryPoint: r.entry_point,
      publicTests: [],
    };
    const description = `Complete this Python function (keep its signature and imports):\n\n${r.prompt}`;
    return {
      id: `humaneval-${r.task_id.replace(/[^A-Za-z0-9_-]/g, '-')}`,
      prompt: functionPrompt(description, r.entry_point, []),
      answer,
      meta,
    };
  });
}

export function loadDataset(spec: DatasetSpec): Omit<Task, 'split'>[] {
  const loaders = { mbpp: loadMbppJsonl, humaneval: loadHumanEvalJsonl };
  return loaders[spec.format](spec.path);
}
