import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@toolgym/env-kit';
import { hashString, Rng, splitOf } from '@toolgym/protocol';
import type { Task } from '@toolgym/protocol';
import type { CodeConfig } from './config.ts';
import { loadDataset } from './datasets.ts';
import { INTERPRETER_TEMPLATES } from './problems/interpreter-templates.ts';
import {
  PROGRAMMING_TEMPLATES,
  type ProgrammingDraft,
  PUBLIC_TESTS,
} from './problems/programming-templates.ts';
import { functionPrompt, interpreterPrompt } from './prompts.ts';
import type { CodeTaskAnswer, CodeTaskMeta } from './task-types.ts';

const GENERATED_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../data/generated');

/**
 * Expected outputs come from running the (trusted) reference solutions once on the host, in one
 * Python process, and are cached on disk by a hash of everything that went in.
 */
const EVALUATE_REFERENCES = `
import contextlib, copy, io, json, sys
job = json.load(sys.stdin)
out = {'tests': {}, 'answers': {}}
for item in job['functions']:
    ns = {}
    exec(item['reference'], ns)
    fn = ns[item['entryPoint']]
    tests = []
    for args in item['inputs']:
        result = fn(*copy.deepcopy(args))
        tests.append('assert %s(%s) == %r' % (item['entryPoint'], ', '.join(repr(a) for a in args), result))
    out['tests'][item['key']] = tests
for item in job['programs']:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(item['program'], {})
    out['answers'][item['key']] = buf.getvalue().strip()
json.dump(out, sys.stdout)
`;

interface Evaluated {
  tests: Record<string, string[]>;
  answers: Record<string, string>;
}

function evaluateReferences(job: {
  functions: Array<ProgrammingDraft & { key: string }>;
  programs: Array<{ key: string; program: string }>;
}): Evaluated {
  const input = JSON.stringify(job);
  const cacheFile = path.join(
    GENERATED_DIR,
    `references-${hashString(EVALUATE_REFERENCES + input).toString(16)}.json`,
  );
  if (existsSync(cacheFile)) return JSON.parse(readFileSync(cacheFile, 'utf8')) as Evaluated;
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const result = spawnSync(python, ['-c', EVALUATE_REFERENCES], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error || result.status !== 0) {
    throw new ConfigError(
      `computing the code tasks' expected outputs failed: ${result.error?.message ?? result.stderr}`,
      'python3 must be installed',
    );
  }
  mkdirSync(GENERATED_DIR, { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, result.stdout);
  renameSync(tmp, cacheFile);
  return JSON.parse(result.stdout) as Evaluated;
}

/** The whole task set of a config: generated problems of each family plus any datasets. Deterministic. */
export function codeTasks(config: CodeConfig): Task[] {
  const salt = `code:${config.seed}`;
  const functions: Array<ProgrammingDraft & { key: string; template: string; difficulty: string }> = [];
  const programs: Array<{
    key: string;
    program: string;
    question: string;
    template: string;
    difficulty: string;
  }> = [];
  if (config.families.includes('programming')) {
    for (const template of PROGRAMMING_TEMPLATES) {
      const rng = new Rng(hashString(`${salt}:${template.id}`));
      const seen = new Set<string>();
      for (
        let attempt = 0;
        seen.size < config.programmingVariants && attempt < config.programmingVariants * 10;
        attempt++
      ) {
        const draft = template.make(rng);
        const key = `fn-${template.id}-${hashString(draft.description + draft.reference).toString(36)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        functions.push({ ...draft, key, template: template.id, difficulty: template.difficulty });
      }
    }
  }
  if (config.families.includes('interpreter')) {
    for (const template of INTERPRETER_TEMPLATES) {
      const rng = new Rng(hashString(`${salt}:${template.id}`));
      const seen = new Set<string>();
      for (
        let attempt = 0;
        seen.size < config.interpreterVariants && attempt < config.interpreterVariants * 10;
        attempt++
      ) {
        const draft = template.make(rng);
        const key = `math-${template.id}-${hashString(draft.question).toString(36)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        programs.push({ ...draft, key, template: template.id, difficulty: template.difficulty });
      }
    }
  }
  const evaluated = evaluateReferences({
    functions: functions.map(({ key, entryPoint, description, reference, inputs }) => ({
      key,
      entryPoint,
      description,
      reference,
      inputs,
    })),
    programs: programs.map(({ key, program }) => ({ key, program })),
  });

  const tasks: Task[] = [];
  for (const fn of functions) {
    const tests = evaluated.tests[fn.key] ?? [];
    const publicTests = tests.slice(0, PUBLIC_TESTS);
    const answer: CodeTaskAnswer = {
      kind: 'function',
      entryPoint: fn.entryPoint,
      reference: fn.reference,
      hiddenTests: tests.slice(PUBLIC_TESTS),
    };
    const meta: CodeTaskMeta = {
      family: 'programming',
      source: 'generated',
      template: fn.template,
      difficulty: fn.difficulty as CodeTaskMeta['difficulty'],
      entryPoint: fn.entryPoint,
      publicTests,
    };
    tasks.push({
      id: fn.key,
      split: splitOf(fn.key, config.testFraction, salt),
      prompt: functionPrompt(fn.description, fn.entryPoint, publicTests),
      answer,
      meta,
    });
  }
  for (const p of programs) {
    const answer: CodeTaskAnswer = {
      kind: 'interpreter',
      answer: evaluated.answers[p.key] ?? '',
      program: p.program,
    };
    const meta: CodeTaskMeta = {
      family: 'interpreter',
      source: 'generated',
      template: p.template,
      difficulty: p.difficulty as CodeTaskMeta['difficulty'],
    };
    tasks.push({
      id: p.key,
      split: splitOf(p.key, config.testFraction, salt),
      prompt: interpreterPrompt(p.question),
      answer,
      meta,
    });
  }
  for (const dataset of config.datasets) {
    for (const task of loadDataset(dataset)) {
      tasks.push({ ...task, split: dataset.split ?? splitOf(task.id, config.testFraction, salt) });
    }
  }
  const ids = new Set<string>();
  for (const task of tasks) {
    if (ids.has(task.id))
      throw new ConfigError(
        `two code tasks share the id '${task.id}'`,
        'a dataset repeats a task id, or is listed twice',
      );
    ids.add(task.id);
  }
  return tasks;
}
