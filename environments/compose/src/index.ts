import {
  defineEnvironment,
  type ToolCallRecord,
  type ToolDefinition,
  weightedReward,
} from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { z } from 'zod';
import { type ComposeConfig, ComposeConfigSchema } from './config.ts';
import { FUNCTION_NAMES, type FunctionName, STRING_FUNCTIONS } from './functions.ts';
import { type ComposeAnswer, composeTasks } from './tasks.ts';

export { STRING_FUNCTIONS, FUNCTION_NAMES, applyChain, type FunctionName } from './functions.ts';
export { COMPOSE_INSTRUCTION, composeTasks, heldOutPairs, promptFor, type ComposeAnswer } from './tasks.ts';
export { ComposeConfigSchema, type ComposeConfig } from './config.ts';

type State = Record<string, never>;

const TextInput = z.object({ text: z.string().max(4096).describe('The string to transform.') });

function functionTool(name: FunctionName): ToolDefinition<State, ComposeConfig, typeof TextInput> {
  return {
    description: STRING_FUNCTIONS[name].description,
    input: TextInput,
    pure: true,
    run: ({ text }) => STRING_FUNCTIONS[name].apply(text),
  };
}

const functionTools: Record<
  string,
  ToolDefinition<State, ComposeConfig, typeof TextInput>
> = Object.fromEntries(FUNCTION_NAMES.map((name) => [name, functionTool(name)]));

/**
 * One process reward per call, in order: 1 for a call that names the chain's next function on the
 * right input (the task input, then each previous result) while every earlier call did too, and
 * for an answer that is the final string; 0 for anything else.
 */
export function chainSteps(task: Task, calls: readonly ToolCallRecord[]): number[] {
  const { chain, input } = task.meta as { chain: FunctionName[]; input: string };
  const { steps, output } = task.answer as ComposeAnswer;
  let done = 0;
  let onTrack = true;
  return calls.map((call) => {
    if (call.name === 'answer')
      return !call.isError && (call.arguments as { answer?: unknown } | undefined)?.answer === output ? 1 : 0;
    const expectedInput = done === 0 ? input : steps[done - 1];
    const text = (call.arguments as { text?: unknown } | undefined)?.text;
    onTrack &&= done < chain.length && !call.isError && call.name === chain[done] && text === expectedInput;
    if (!onTrack) return 0;
    done++;
    return 1;
  });
}

/**
 * compose@1 — string-function composition (arXiv "From f(x) and g(x) to f(g(x))"). Every
 * function is a tool; the task names a chain and an input; the agent answers the final string.
 */
export default defineEnvironment<State, ComposeConfig>({
  id: 'compose',
  version: 1,
  module: import.meta.url,
  description:
    'Compose string transformations: apply the named functions in order with the tools, then answer the final string.',
  config: ComposeConfigSchema,
  tasks: composeTasks,
  tools: {
    ...functionTools,
    answer: {
      description: 'Give the final string. Ends the episode.',
      input: z.object({ answer: z.string().describe('The final string, without quotes.') }),
      pure: true,
      run: ({ answer }) => ({ text: 'Answer recorded.', terminate: { answer } }),
    },
  },
  setup: () => ({}),
  grade: ({ episode, finalText }) => {
    const gold = (episode.task.answer as ComposeAnswer).output;
    const given = typeof episode.answer === 'string' ? episode.answer : finalText?.trim();
    const calls = episode.calls.filter((c) => c.name !== 'answer');
    const valid = calls.length === 0 ? 0 : calls.filter((c) => !c.isError).length / calls.length;
    const steps = chainSteps(episode.task, episode.calls);
    // The chain's functions applied right and in order (an answer's step never moves the chain).
    const applied = steps.filter((_, i) => episode.calls[i]!.name !== 'answer').reduce((a, b) => a + b, 0);
    const chainLength = (episode.task.meta as { chain: FunctionName[] }).chain.length;
    // Partial credit only for an attempt that answers: otherwise calling tools until the turns run
    // out earns as much as a wrong answer, and RL learns never to answer (measured on the main job).
    const progress = given === undefined ? 0 : applied / chainLength;
    const correct = given === gold ? 1 : 0;
    // Right by composing, not by luck: some wrong chains give the right string (reverse and upper
    // commute; on a 2-letter string swap_ends is rotate_left). With re-attempts (`withFeedback`) it
    // judges the last attempt, the calls after the previous answer, so a retry composes from scratch
    // and answers guessed from earlier calls' outputs are not composed.
    const previousAnswer = episode.calls.findLastIndex((c, i) => c.name === 'answer' && i < episode.calls.length - 1);
    const attemptCalls = episode.calls.slice(previousAnswer + 1).filter((c) => c.name !== 'answer');
    const attemptApplied = chainSteps(episode.task, attemptCalls).reduce((a, b) => a + b, 0);
    const composed = correct && attemptCalls.length === chainLength && attemptApplied === chainLength ? 1 : 0;
    return {
      ...weightedReward({ correct, valid_calls: valid, progress, composed }, episode.config.weights, {
        gold,
        given: given ?? null,
      }),
      steps,
    };
  },
  // Each of the four weights is at most 1.
  rewardRange: [0, 4],
  // Well-formed calls are all that form earns: every other component needs the right strings.
  formatFloor: (config) => config.weights.valid_calls,
  redteam: async (config) => (await import('../redteam/index.ts')).composeAttacks(config),
  limits: (config) => ({ maxTurns: config.maxTurns, toolTimeoutMs: 2_000, maxToolOutputBytes: 4_096 }),
  // Composition generalisation: a test chain contains an ordered pair no train chain has.
  heldOut: () => ({ unit: 'function-pair', unitsOf: (task) => (task.meta as { pairs: string[] }).pairs }),
  oracle: (task) => {
    const { chain, input } = task.meta as { chain: FunctionName[]; input: string };
    const { steps, output } = task.answer as ComposeAnswer;
    return [
      ...chain.map((name, i) => ({ name, arguments: { text: i === 0 ? input : steps[i - 1] } })),
      { name: 'answer', arguments: { answer: output } },
    ];
  },
});
