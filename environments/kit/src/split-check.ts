import { SplitSchema, type Split, type Task } from '@toolgym/protocol';
import type { HeldOut } from './define-environment.ts';
import type { Environment } from './episode.ts';

/** Word n-grams of this length decide whether a test prompt was already seen in train. */
export const PROMPT_NGRAM = 8;

export interface SplitStats {
  tasks: number;
  /** Distinct declared units among the split's tasks (0 without a declaration). */
  units: number;
  /** Prompts whose every word 8-gram occurs in some train prompt (`promptCoverage`). */
  coveredPrompts: number;
}

/** What `checkSplits` found: counts per split, the held-out units, and every leak. */
export interface SplitReport {
  environment: string;
  /** The declared unit of skill (`database`, `function-pair` …); undefined when none is declared. */
  unit?: string;
  splits: Record<Split, SplitStats>;
  /** Units of `test` tasks that no `train` task has, sorted. */
  heldOutUnits: string[];
  leaks: {
    /** `test` tasks none of whose units is unseen in train (each with its units). */
    sharedUnits: Array<{ task: string; units: readonly string[] }>;
    /** `test` tasks whose prompt is covered by train prompts (see `promptCoverage`). */
    coveredPrompts: string[];
  };
  /** No leak of either kind. */
  ok: boolean;
}

/** Lower-cased runs of letters and digits: punctuation and layout never make a prompt look new. */
export function promptWords(prompt: string): string[] {
  return prompt.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * Whether each prompt is covered by the `seen` prompts: every word 8-gram of it occurs in one of
 * them. A prompt of fewer than 8 words has no 8-gram; it counts as covered when its whole word
 * sequence occurs inside a seen prompt (so "Capital of France?" is covered by a longer prompt
 * that asks it), and an empty prompt is covered by any seen prompt.
 */
export function promptCoverage(prompts: readonly string[], seen: readonly string[]): boolean[] {
  const seenWords = seen.map(promptWords);
  const gramsOf = new Map<number, Set<string>>();
  const seenGrams = (n: number) => {
    let grams = gramsOf.get(n);
    if (!grams) {
      grams = new Set();
      for (const words of seenWords) for (const g of ngrams(words, n)) grams.add(g);
      gramsOf.set(n, grams);
    }
    return grams;
  };
  return prompts.map((prompt) => {
    const words = promptWords(prompt);
    if (words.length === 0) return seen.length > 0;
    const n = Math.min(PROMPT_NGRAM, words.length);
    const grams = seenGrams(n);
    return ngrams(words, n).every((g) => grams.has(g));
  });
}

function ngrams(words: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= words.length; i++) out.push(words.slice(i, i + n).join(' '));
  return out;
}

/**
 * The held-out units of each task: for a `test` task, its units that no `train` task has (what
 * its score measures); for any other task, all its units. Empty without a declaration.
 */
export function heldOutUnitsByTask(
  tasks: readonly Task[],
  heldOut: HeldOut | undefined,
): Map<string, readonly string[]> {
  const byTask = new Map<string, readonly string[]>();
  if (!heldOut) return byTask;
  const trainUnits = new Set(tasks.filter((t) => t.split === 'train').flatMap((t) => heldOut.unitsOf(t)));
  for (const task of tasks) {
    const units = heldOut.unitsOf(task);
    byTask.set(task.id, task.split === 'test' ? units.filter((u) => !trainUnits.has(u)) : units);
  }
  return byTask;
}

/**
 * The split check of a task set: counts per split, the units `test` holds out, and the leaks —
 * a `test` task with no unit unseen in train, or a `test` prompt covered by train prompts.
 * `test-iid` shares units with train by definition, so its coverage is reported, never a leak.
 */
export function splitReport(
  environment: string,
  tasks: readonly Task[],
  heldOut: HeldOut | undefined,
): SplitReport {
  const bySplit = (split: Split) => tasks.filter((t) => t.split === split);
  const trainPrompts = bySplit('train').map((t) => t.prompt);
  const heldOutByTask = heldOutUnitsByTask(tasks, heldOut);
  const covered = new Map<Split, Task[]>();
  const splits = {} as Record<Split, SplitStats>;
  for (const split of SplitSchema.options) {
    const own = bySplit(split);
    const coverage =
      split === 'train'
        ? own.map(() => false)
        : promptCoverage(
            own.map((t) => t.prompt),
            trainPrompts,
          );
    covered.set(
      split,
      own.filter((_, i) => coverage[i]),
    );
    splits[split] = {
      tasks: own.length,
      units: heldOut ? new Set(own.flatMap((t) => heldOut.unitsOf(t))).size : 0,
      coveredPrompts: covered.get(split)?.length ?? 0,
    };
  }
  const test = bySplit('test');
  const sharedUnits = heldOut
    ? test
        .filter((t) => (heldOutByTask.get(t.id) ?? []).length === 0)
        .map((t) => ({ task: t.id, units: heldOut.unitsOf(t) }))
    : [];
  const coveredPrompts = (covered.get('test') ?? []).map((t) => t.id);
  return {
    environment,
    ...(heldOut ? { unit: heldOut.unit } : {}),
    splits,
    heldOutUnits: [...new Set(test.flatMap((t) => heldOutByTask.get(t.id) ?? []))].sort(),
    leaks: { sharedUnits, coveredPrompts },
    ok: sharedUnits.length === 0 && coveredPrompts.length === 0,
  };
}

/** `splitReport` of an environment instance: its task set and its own `heldOut` declaration. */
export async function checkSplits(environment: Environment): Promise<SplitReport> {
  const heldOut = environment.definition.heldOut?.(environment.config);
  return splitReport(environment.ref, await environment.tasks(), heldOut);
}

/** The report as lines for a terminal: counts, held-out units, then each leak (at most `show` of a kind). */
export function formatSplitReport(report: SplitReport, show = 10): string {
  const lines = [`${report.environment}: splits`];
  const pct = (part: number, whole: number) => (whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`);
  lines.push(`  split      tasks  units  prompts covered by train (${PROMPT_NGRAM}-grams)`);
  for (const [split, s] of Object.entries(report.splits)) {
    const covered = split === 'train' ? '' : `${s.coveredPrompts} (${pct(s.coveredPrompts, s.tasks)})`;
    lines.push(
      `  ${split.padEnd(9)}  ${String(s.tasks).padStart(5)}  ${String(s.units).padStart(5)}  ${covered}`,
    );
  }
  if (report.unit === undefined) {
    lines.push(
      '  held out: not declared (this environment has no heldOut): the test split is not checked for shared units',
    );
  } else {
    const units = report.heldOutUnits;
    const listed =
      units.slice(0, 20).join(', ') + (units.length > 20 ? `, … (${units.length - 20} more)` : '');
    lines.push(
      `  held out: ${units.length} ${report.unit} unit(s) only in test${units.length > 0 ? `: ${listed}` : ''}`,
    );
  }
  const { sharedUnits, coveredPrompts } = report.leaks;
  if (sharedUnits.length > 0) {
    lines.push(`  LEAK: ${sharedUnits.length} test task(s) have no ${report.unit} unseen in train`);
    for (const s of sharedUnits.slice(0, show))
      lines.push(`    ${s.task}: ${s.units.join(', ') || '(no units)'}`);
  }
  if (coveredPrompts.length > 0) {
    lines.push(
      `  LEAK: ${coveredPrompts.length} test prompt(s) have every word ${PROMPT_NGRAM}-gram in train prompts`,
    );
    for (const id of coveredPrompts.slice(0, show)) lines.push(`    ${id}`);
  }
  lines.push(report.ok ? '  no leak' : '  leakage check failed');
  return `${lines.join('\n')}\n`;
}
