import { ConfigError, type HeldOut } from '@toolgym/env-kit';
import { hashString, Rng, splitOf } from '@toolgym/protocol';
import type { Split, Task } from '@toolgym/protocol';
import type { CodeConfig } from './config.ts';
import { loadDataset } from './datasets.ts';
import { checkSuites } from './grading/check-tests.ts';
import { cachedPythonJson } from './cached-python.ts';
import { chanceLevel, unseenTests } from './pass-fraction.ts';
import { PUBLIC_TESTS } from './problems/draw.ts';
import { INTERPRETER_TEMPLATES } from './problems/interpreter-templates.ts';
import { PROGRAMMING_TEMPLATES } from './problems/programming-templates.ts';
import type { Difficulty, ProgrammingDraft } from './problems/template.ts';
import { functionPrompt, interpreterPrompt } from './prompts.ts';
import type { CodeTaskAnswer, CodeTaskMeta } from './task-types.ts';

/** Expected outputs come from running the (trusted) reference solutions once on the host, in one Python process. */
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
  functions: Array<Pick<ProgrammingDraft, 'entryPoint' | 'reference' | 'inputs'> & { key: string }>;
  programs: Array<{ key: string; program: string }>;
}): Evaluated {
  return cachedPythonJson<Evaluated>(
    'references',
    EVALUATE_REFERENCES,
    ['-c', EVALUATE_REFERENCES],
    JSON.stringify(job),
  );
}

interface Family {
  id: string;
  kind: CodeTaskMeta['kind'];
  difficulty: Difficulty;
}

/**
 * The families whose every variant is in `test`: in each group of one kind and difficulty, the
 * `heldOutFamilies` share of families that hash lowest under the seed (so every difficulty and
 * both kinds appear in test).
 */
export function heldOutFamilies(
  families: readonly Family[],
  config: Pick<CodeConfig, 'seed' | 'heldOutFamilies'>,
): Set<string> {
  const groups = new Map<string, Family[]>();
  for (const family of families) {
    const key = `${family.kind}:${family.difficulty}`;
    groups.set(key, [...(groups.get(key) ?? []), family]);
  }
  const heldOut = new Set<string>();
  for (const group of groups.values()) {
    const ranked = [...group].sort(
      (a, b) => hashString(`${config.seed}:${a.id}`) - hashString(`${config.seed}:${b.id}`),
    );
    for (const family of ranked.slice(0, Math.round(group.length * config.heldOutFamilies)))
      heldOut.add(family.id);
  }
  return heldOut;
}

/** What the `test` split holds out: whole problem families (a dataset problem is a family of one). */
export function codeHeldOut(): HeldOut {
  return { unit: 'family', unitsOf: (task) => [String((task.meta as CodeTaskMeta).family)] };
}

/** Draws up to `count` distinct variants of a template. */
function variants<T>(count: number, seed: string, make: (rng: Rng) => T, keyOf: (draft: T) => string): T[] {
  const rng = new Rng(hashString(seed));
  const seen = new Map<string, T>();
  for (let attempt = 0; seen.size < count && attempt < count * 10; attempt++) {
    const draft = make(rng);
    const key = keyOf(draft);
    if (!seen.has(key)) seen.set(key, draft);
  }
  return [...seen.values()];
}

/** The whole task set of a config: generated problems of each kind plus any datasets. Deterministic. */
export function codeTasks(config: CodeConfig): Task[] {
  const salt = `code:${config.seed}`;
  const families: Family[] = [];
  const functions: Array<ProgrammingDraft & { key: string; family: Family }> = [];
  const programs: Array<{ key: string; program: string; question: string; family: Family }> = [];
  if (config.kinds.includes('programming')) {
    for (const template of PROGRAMMING_TEMPLATES) {
      const family: Family = { id: template.id, kind: 'programming', difficulty: template.difficulty };
      families.push(family);
      const drafts = variants(
        config.programmingVariants,
        `${salt}:${template.id}`,
        template.make,
        (d) => d.description + d.reference,
      );
      for (const draft of drafts) {
        const key = `fn-${template.id}-${hashString(draft.description + draft.reference).toString(36)}`;
        functions.push({ ...draft, key, family });
      }
    }
  }
  if (config.kinds.includes('interpreter')) {
    for (const template of INTERPRETER_TEMPLATES) {
      const family: Family = { id: template.id, kind: 'interpreter', difficulty: template.difficulty };
      families.push(family);
      for (const draft of variants(
        config.interpreterVariants,
        `${salt}:${template.id}`,
        template.make,
        (d) => d.question,
      )) {
        programs.push({
          ...draft,
          key: `math-${template.id}-${hashString(draft.question).toString(36)}`,
          family,
        });
      }
    }
  }
  const evaluated = evaluateReferences({
    functions: functions.map(({ key, entryPoint, reference, inputs }) => ({
      key,
      entryPoint,
      reference,
      inputs,
    })),
    programs: programs.map(({ key, program }) => ({ key, program })),
  });
  const held = heldOutFamilies(families, config);
  const splitOfVariant = (id: string, family: string): Split =>
    held.has(family) ? 'test' : splitOf(id, config.iidTestFraction, salt) === 'test' ? 'test-iid' : 'train';

  const checks = checkSuites(
    functions.map((fn) => ({ entryPoint: fn.entryPoint, tests: evaluated.tests[fn.key] ?? [] })),
  );
  const tasks: Task[] = [];
  functions.forEach((fn, i) => {
    const tests = evaluated.tests[fn.key] ?? [];
    const refused = checks[i]!.find((c) => c.refused !== null)?.refused;
    if (refused)
      throw new ConfigError(`generated task ${fn.key} has a test the grader refuses: ${refused.reason}`);
    const publicTests = tests.slice(0, PUBLIC_TESTS);
    const hiddenTests = tests.slice(PUBLIC_TESTS);
    const answer: CodeTaskAnswer = {
      kind: 'function',
      entryPoint: fn.entryPoint,
      reference: fn.reference,
      hiddenTests,
      chance: chanceLevel(
        unseenTests(hiddenTests, publicTests).map((t) => checks[i]![t + PUBLIC_TESTS]!.expects),
      ),
      ...(fn.floatTolerance !== undefined ? { floatTolerance: fn.floatTolerance } : {}),
    };
    const meta: CodeTaskMeta = {
      kind: 'programming',
      family: fn.family.id,
      source: 'generated',
      difficulty: fn.family.difficulty,
      entryPoint: fn.entryPoint,
      publicTests,
    };
    tasks.push({
      id: fn.key,
      split: splitOfVariant(fn.key, fn.family.id),
      prompt: functionPrompt(fn.description, fn.entryPoint, publicTests),
      answer,
      meta,
    });
  });
  for (const p of programs) {
    const answer: CodeTaskAnswer = {
      kind: 'interpreter',
      answer: evaluated.answers[p.key] ?? '',
      program: p.program,
    };
    const meta: CodeTaskMeta = {
      kind: 'interpreter',
      family: p.family.id,
      source: 'generated',
      difficulty: p.family.difficulty,
    };
    tasks.push({
      id: p.key,
      split: splitOfVariant(p.key, p.family.id),
      prompt: interpreterPrompt(p.question),
      answer,
      meta,
    });
  }
  for (const dataset of config.datasets) {
    for (const task of loadDataset(dataset)) {
      const split = dataset.split ?? splitOf(task.id, config.heldOutFamilies, salt);
      tasks.push({ ...task, split });
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
