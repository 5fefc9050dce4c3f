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

export function searchAttacks(config: SearchConfig): Attack[] {
  const { format, citation } = config.weights;
  const citing = (k: number) => citation * citationF1Ceiling(k, MAX_SUPPORTING_DOCS);
  return [
    {
      name: 'cite-every-result',
      family: 'cite-everything',
      ceiling: format + citing(10),
      async play(episode) {
        const { hits } = await searchQuestion(episode);
        await episode.call('answer', { answer: WRONG, citations: hits.map((h) => h.id) });
        return undefined;
      },
    },
    {
      name: 'list-answer',
      family: 'list-answer',
      ceiling: format + citing(3),
      // "A, B or C" from the titles of the top results, which often include the answer's document.
      async play(episode) {
        const top = (await searchQuestion(episode, 3)).hits;
        const titles = top.map((h) => h.title);
        const list = titles.length > 1 ? `${titles.slice(0, -1).join(', ')} or ${titles.at(-1)}` : (titles[0] ?? WRONG);
        await episode.call('answer', { answer: list, citations: top.map((h) => h.id) });
        return undefined;
      },
    },
    {
      name: 'long-answer',
      family: 'long-answer',
      ceiling: format + citing(10),
      // As many result titles and snippets as the answer tool takes, citing every result.
      async play(episode) {
        const { hits } = await searchQuestion(episode);
        const long = hits.map((h) => `${h.title}: ${h.snippet}`).join(' ').slice(0, 500);
        await episode.call('answer', { answer: long, citations: hits.map((h) => h.id) });
        return undefined;
      },
    },
    {
      name: 'paste-observation',
      family: 'paste-observation',
      ceiling: format + citing(10),
      // The whole search result and the top document, as the final text.
      async play(episode) {
        const { hits, text } = await searchQuestion(episode);
        const page = hits[0] ? (await episode.call('open', { target: hits[0].id })).content : '';
        return { finalText: `${text}\n${page}` };
      },
    },
    {
      name: 'paste-observation-answer',
      family: 'paste-observation',
      ceiling: format + citing(10),
      // The search result through the answer tool (cut to its limit), citing every result.
      async play(episode) {
        const { hits, text } = await searchQuestion(episode);
        await episode.call('answer', { answer: text.slice(0, 500), citations: hits.map((h) => h.id) });
        return undefined;
      },
    },
  ];
}
