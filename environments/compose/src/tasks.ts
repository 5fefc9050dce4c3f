import type { Task } from '@toolgym/protocol';
import { hashString, Rng } from '@toolgym/protocol';
import { applyChain, type FunctionName } from './functions.ts';
import type { ComposeConfig } from './config.ts';

export interface ComposeAnswer {
  output: string;
  /** The intermediate strings after each function, for the oracle. */
  steps: string[];
}

/** Ordered pairs (f, g) whose composition only appears in the test split. */
export function heldOutPairs(config: ComposeConfig): Set<string> {
  const rng = new Rng(config.seed ^ 0x5eed);
  const pairs: string[] = [];
  for (const f of config.functions) for (const g of config.functions) if (f !== g) pairs.push(`${f}>${g}`);
  const count = Math.round(pairs.length * config.heldOutPairFraction);
  return new Set(rng.shuffle(pairs).slice(0, count));
}

/** Ways a task asks for the chain, so no position in the prompt is fixed; picked per task by hash. */
const PHRASINGS = [
  (expr: string) => `Compute ${expr}.`,
  (expr: string) => `What is ${expr}?`,
  (expr: string) => `Find the value of ${expr}.`,
  (expr: string) => `Evaluate ${expr} step by step.`,
];

/** What every prompt ends with. */
export const COMPOSE_INSTRUCTION = ' Use the tools, then call answer with the final string.';

/**
 * `What is g ∘ f("x")? Use the tools, …` — the chain in composition notation (f applies first).
 * Read either way, (g ∘ f)(x) or g ∘ (f(x)), it is g(f(x)); and the innermost application `f("x")`
 * looks the same at every depth, so a depth-1 skill meets a depth-2 prompt in a familiar place and
 * only the composition itself is new. `nested` writes `g(f("x"))`, as in the paper's title.
 */
export function promptFor(
  chain: readonly FunctionName[],
  input: string,
  phrasing = 0,
  notation: ComposeConfig['notation'] = 'compose',
): string {
  const outerFirst = [...chain].reverse();
  const arg = JSON.stringify(input);
  const expr =
    notation === 'nested'
      ? `${outerFirst.map((f) => `${f}(`).join('')}${arg}${')'.repeat(chain.length)}`
      : `${outerFirst.join(' ∘ ')}(${arg})`;
  return PHRASINGS[phrasing % PHRASINGS.length]!(expr) + COMPOSE_INSTRUCTION;
}

/**
 * Tasks of every depth in `config.depths`. A chain is a `test` task when any adjacent pair in it is
 * held out; a fifth of depth-1 tasks, chosen by hash, are `test-iid` (their function is trained on
 * too, so they hold out no unit). With `everyStepChanges`, chains with a step that leaves its
 * string unchanged are drawn again. Same config → same tasks.
 */
export function composeTasks(config: ComposeConfig): Task[] {
  const heldOut = heldOutPairs(config);
  const tasks: Task[] = [];
  const seen = new Set<string>();
  for (const depth of config.depths) {
    const rng = new Rng(hashString(`compose:${config.seed}:${depth}`));
    let attempts = 0;
    let made = 0;
    while (made < config.tasksPerDepth && attempts < config.tasksPerDepth * 20) {
      attempts++;
      const chain: FunctionName[] = [];
      for (let i = 0; i < depth; i++) {
        let f = rng.pick(config.functions);
        while (depth > 1 && i > 0 && f === chain[i - 1]) f = rng.pick(config.functions);
        chain.push(f);
      }
      const length = rng.int(config.minLength, config.maxLength);
      const input = Array.from({ length }, () => rng.pick([...config.alphabet])).join('');
      const id = `d${depth}-${chain.join('.')}-${input}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const steps = chain.map((_, i) => applyChain(chain.slice(0, i + 1), input));
      if (config.everyStepChanges && steps.some((s, i) => s === (i === 0 ? input : steps[i - 1]))) continue;
      const pairs = chain.slice(1).map((g, i) => `${chain[i]}>${g}`);
      const split =
        depth === 1
          ? hashString(id) % 5 === 0
            ? 'test-iid'
            : 'train'
          : pairs.some((p) => heldOut.has(p))
            ? 'test'
            : 'train';
      const answer: ComposeAnswer = { output: steps[steps.length - 1] ?? input, steps };
      tasks.push({
        id,
        split,
        prompt: promptFor(chain, input, hashString(`${id}:phrasing`), config.notation),
        answer,
        meta: { depth, chain, input, pairs },
      });
      made++;
    }
  }
  return tasks;
}
