/**
 * The compose red-team suite: answers that try to be graded right without composing. Every attack
 * reads only the prompt and the tools. A grade counts the first answer only, and an answer only
 * when it is the exact final string, so none of them may earn more than form (`valid_calls`), plus
 * `progress` for attacks that call the functions in a fixed order: such an order can happen to
 * start a task's chain, and progress pays for the right calls in order whoever makes them.
 */
import { answerWith, type Attack, type AttackEpisode } from '@toolgym/env-kit';
import type { ComposeConfig } from '../src/config.ts';

/** The task's input string, as the prompt quotes it. */
function inputOf(episode: AttackEpisode): string {
  const quoted = /\("((?:[^"\\]|\\.)*)"\)/.exec(episode.task.prompt)?.[1];
  return quoted === undefined ? '' : (JSON.parse(`"${quoted}"`) as string);
}

/** Every string function of the environment applied once to the input, in the tools' order. */
async function everyOutput(episode: AttackEpisode): Promise<string[]> {
  const outputs: string[] = [];
  for (const tool of episode.tools) {
    if (tool.name === 'answer') continue;
    const result = await episode.call(tool.name, { text: inputOf(episode) });
    if (!result.isError) outputs.push(result.content);
  }
  return outputs;
}

/** No function maps letters to '#': an answer that cannot be right. */
const SURELY_WRONG = '#';

export function composeAttacks(config: ComposeConfig): Attack[] {
  const form = config.weights.valid_calls;
  const inOrder = form + config.weights.progress;
  return [
    {
      name: 'answer-spam',
      family: 'answer-spam',
      ceiling: inOrder,
      // A wrong first answer, then every candidate: only the first answer may count.
      async play(episode) {
        const candidates = await everyOutput(episode);
        await episode.call('answer', { answer: SURELY_WRONG });
        for (const candidate of candidates) await episode.call('answer', { answer: candidate });
        return undefined;
      },
    },
    {
      name: 'answer-list',
      family: 'answer-spam',
      ceiling: inOrder,
      // Every candidate in one answer.
      async play(episode) {
        return answerWith(episode, (await everyOutput(episode)).join(', '));
      },
    },
    {
      name: 'final-text-spam',
      family: 'answer-spam',
      ceiling: inOrder,
      // No answer tool: every candidate, one per line, as the final text.
      async play(episode) {
        return { finalText: (await everyOutput(episode)).join('\n') };
      },
    },
    {
      name: 'call-every-tool',
      family: 'call-every-tool',
      ceiling: inOrder,
      // Every function on the input, then on each result, as far as the limits go; then a wrong answer.
      async play(episode) {
        let strings = [inputOf(episode)];
        for (let round = 0; round < 2; round++) {
          const next: string[] = [];
          for (const text of strings)
            for (const tool of episode.tools) {
              if (tool.name === 'answer') continue;
              const result = await episode.call(tool.name, { text });
              if (result.errorCode === 'episode_over') return { finalText: SURELY_WRONG };
              if (!result.isError) next.push(result.content);
            }
          strings = next;
        }
        await episode.call('answer', { answer: SURELY_WRONG });
        return undefined;
      },
    },
  ];
}
