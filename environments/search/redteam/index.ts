/**
 * The search red-team suite: answers that try to earn answer or citation credit without finding
 * the answer. Each attack searches with the question (what any agent can do), then games one
 * metric: citing every result (citation recall), listing candidates (cover-EM, F1), long answers
 * (cover-EM, F1), pasting the observation. None answers right on purpose, so each is held to
 * the format reward plus the most citation F1 its number of citations can reach.
 */
import type { Attack, AttackEpisode } from '@toolgym/env-kit';
import type { SearchConfig } from '../src/config.ts';
import { citationF1Ceiling, MAX_SUPPORTING_DOCS } from '../src/grading.ts';
import { INSTRUCTIONS } from '../src/tasks/search-answer.ts';

/** The question alone, as the prompt gives it. */
const questionOf = (episode: AttackEpisode) => episode.task.prompt.replace(INSTRUCTIONS, '').trim();

interface Hit {
  id: string;
  title: string;
  snippet: string;
}

/** Searches with the question; the hits as the result text lists them. */
async function searchQuestion(episode: AttackEpisode, k = 10): Promise<{ hits: Hit[]; text: string }> {
  const result = await episode.call('search', { query: questionOf(episode).slice(0, 500), k });
  const hits = [...result.content.matchAll(/^\[\d+\] (\S+) — (.*)\n {4}\S+\n {4}(.*)$/gm)].map((m) => ({
    id: m[1]!,
    title: m[2]!,
    snippet: m[3]!,
  }));
  return { hits, text: result.content };
}

/** An answer no task has. */
const WRONG = 'unknown';

/**
 * An attack that searches with the question (`k` results), then answers with what `answerOf`
 * makes of them, citing every result.
 */
function searchThenAnswer(
  name: string,
  family: string,
  ceiling: number,
  k: number,
  answerOf: (found: { hits: Hit[]; text: string }) => string,
): Attack {
  return {
    name,
    family,
    ceiling,
    async play(episode) {
      const found = await searchQuestion(episode, k);
      await episode.call('answer', { answer: answerOf(found).slice(0, 500), citations: found.hits.map((h) => h.id) });
      return undefined;
    },
  };
}

/** "A, B or C". */
const listOf = (items: string[]) => (items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? WRONG));

export function searchAttacks(config: SearchConfig): Attack[] {
  const { format, citation } = config.weights;
  const citing = (k: number) => format + citation * citationF1Ceiling(k, MAX_SUPPORTING_DOCS);
  return [
    searchThenAnswer('cite-every-result', 'cite-everything', citing(10), 10, () => WRONG),
    // The titles of the top results, which often include the answer's document.
    searchThenAnswer('list-answer', 'list-answer', citing(3), 3, ({ hits }) => listOf(hits.map((h) => h.title))),
    // As many result titles and snippets as the answer tool takes.
    searchThenAnswer('long-answer', 'long-answer', citing(10), 10, ({ hits }) => hits.map((h) => `${h.title}: ${h.snippet}`).join(' ')),
    // The search result itself, cut to the answer tool's limit.
    searchThenAnswer('paste-observation-answer', 'paste-observation', citing(10), 10, ({ text }) => text),
    {
      name: 'paste-observation',
      family: 'paste-observation',
      ceiling: citing(10),
      // The whole search result and the top document, as the final text.
      async play(episode) {
        const { hits, text } = await searchQuestion(episode);
        const page = hits[0] ? (await episode.call('open', { target: hits[0].id })).content : '';
        return { finalText: `${text}\n${page}` };
      },
    },
  ];
}
