import type { Attack, AttackEnd, AttackEpisode } from './redteam.ts';
import { fillArguments, sampleArguments } from './schema-arguments.ts';

/**
 * Adversaries that know nothing of an environment but its tool schemas and its task prompts: every
 * environment must hold them to what form alone earns (`formatFloor`). They answer through every
 * channel an agent has: each tool in turn with the text in every text field, until one ends the
 * episode, and otherwise as the final text.
 */

/** Longest answer the max-length adversary gives as final text; tool fields are cut to their `maxLength`. */
const MAX_ANSWER_CHARS = 16_384;

/** Gives `text` as the answer: through each tool in turn until one ends the episode, else as the final text. */
export async function answerWith(episode: AttackEpisode, text: string): Promise<AttackEnd | undefined> {
  for (const tool of episode.tools) {
    const result = await episode.call(tool.name, fillArguments(tool.inputSchema, text));
    if (result.terminated) return undefined;
    if (result.errorCode === 'episode_over') break;
  }
  return { finalText: text };
}

/** Up to `n` calls of random tools with random valid arguments; stops when the episode ends or refuses. Returns the observations. */
export async function randomCalls(episode: AttackEpisode, n: number): Promise<string[]> {
  const observations: string[] = [];
  for (let i = 0; i < n && episode.tools.length > 0; i++) {
    const tool = episode.rng.pick(episode.tools);
    const result = await episode.call(tool.name, sampleArguments(tool.inputSchema, episode.rng));
    if (result.terminated || result.errorCode === 'episode_over') break;
    observations.push(result.content);
  }
  return observations;
}

/** The generic adversaries, each held to `ceiling`. */
export function genericAttacks(ceiling: number): Attack[] {
  const attack = (name: string, play: Attack['play']): Attack => ({ name, family: 'generic', ceiling, play });
  return [
    attack('empty-answer', (episode) => answerWith(episode, '')),
    attack('random-calls', async (episode) => {
      await randomCalls(episode, Math.min(episode.limits.maxToolCalls, 2 * episode.limits.maxTurns));
      return undefined;
    }),
    // One call more than the limit allows: the last must be refused, and nothing earned by volume.
    attack('tool-spam', async (episode) => {
      await randomCalls(episode, episode.limits.maxToolCalls + 1);
      return undefined;
    }),
    attack('echo-observation', async (episode) => {
      const seen = await randomCalls(episode, 3);
      return answerWith(episode, seen.at(-1) ?? '');
    }),
    attack('max-length-answer', async (episode) => {
      const seen = await randomCalls(episode, 2);
      const words = [episode.task.prompt, ...seen].join(' ');
      return answerWith(episode, words.repeat(Math.ceil(MAX_ANSWER_CHARS / Math.max(1, words.length))).slice(0, MAX_ANSWER_CHARS));
    }),
    attack('repeat-prompt', (episode) => answerWith(episode, episode.task.prompt)),
    // Answer after answer, each a different word of the prompt: where a wrong answer is met with
    // another try (`withFeedback`), every one is a guess, and guessing must earn nothing.
    attack('guess-spam', async (episode) => {
      const guesses = ['', ...new Set(episode.task.prompt.split(/[^\p{L}\p{N}_]+/u).filter(Boolean))];
      for (const guess of guesses)
        for (const tool of episode.tools) {
          const result = await episode.call(tool.name, fillArguments(tool.inputSchema, guess));
          if (result.terminated || result.errorCode === 'episode_over') return undefined;
        }
      return { finalText: guesses.at(-1) ?? '' };
    }),
  ];
}
