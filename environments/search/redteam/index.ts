/**
 * The search red-team suite: answers that try to earn answer or citation credit without finding
 * the answer. Each attack searches with the question (what any agent can do), then games one
 * metric: citing every result (citation recall), listing candidates (cover-EM, F1), long answers
 * (cover-EM, F1), pasting the observation. None answers right on purpose, so each is held to
 * the format reward plus the most citation F1 its number of citations can reach.
 *
 * With Search Self-play, proposer attacks: questions that try to pass verification without being
 * answerable from what the proposer found (naming the answer, spelled apart; no search; documents
 * that do not state it; an empty question; answering instead of proposing). Alone, a verified
 * question earns the proposer 1, so each is held to 0.
 */
import type { AgentTask, Attack, AttackEpisode } from '@toolgym/env-kit';
import type { SearchConfig } from '../src/config.ts';
import { citationF1Ceiling, MAX_SUPPORTING_DOCS } from '../src/grading.ts';
import { PROPOSER_INSTRUCTIONS, PROPOSER_ROLE } from '../src/self-play/self-play-tasks.ts';
import { INSTRUCTIONS } from '../src/tasks/search-answer.ts';

const isProposer = (task: AgentTask) => task.meta.role === PROPOSER_ROLE;

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
    appliesTo: (task) => !isProposer(task),
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
      appliesTo: (task) => !isProposer(task),
      // The whole search result and the top document, as the final text.
      async play(episode) {
        const { hits, text } = await searchQuestion(episode);
        const page = hits[0] ? (await episode.call('open', { target: hits[0].id })).content : '';
        return { finalText: `${text}\n${page}` };
      },
    },
    ...(config.selfPlay ? proposerAttacks() : []),
  ];
}

/** The answer a proposer is given, as its prompt says it. */
const givenAnswer = (episode: AttackEpisode) =>
  episode.task.prompt.replace(PROPOSER_INSTRUCTIONS, '').replace('The answer is:', '').trim();

/** A proposer attack: what `act` does with the answer it was given, held to 0. */
function proposerAttack(name: string, act: (episode: AttackEpisode, answer: string) => Promise<void>): Attack {
  return {
    name,
    family: 'unverifiable-question',
    ceiling: 0,
    appliesTo: isProposer,
    async play(episode) {
      await act(episode, givenAnswer(episode));
      return undefined;
    },
  };
}

/** Searches for the answer, then proposes `question`, citing every result. */
const searchThenPropose = (question: (answer: string) => string) => async (episode: AttackEpisode, answer: string) => {
  const found = await episode.call('search', { query: answer.slice(0, 500), k: 10 });
  const ids = [...found.content.matchAll(/^\[\d+\] (\S+) — /gm)].map((m) => m[1]!);
  await episode.call('propose', { question: question(answer).slice(0, 2000), citations: ids });
};

function proposerAttacks(): Attack[] {
  return [
    proposerAttack('question-names-answer', searchThenPropose((a) => `What is ${a}?`)),
    // Reversed, upper-cased, hyphenated: the same words as whole words no longer.
    proposerAttack('answer-spelled-apart', searchThenPropose((a) => `Which is ${a.toUpperCase().split(/\s+/).reverse().join('-')} here?`)),
    proposerAttack('answer-letter-by-letter', searchThenPropose((a) => `Which is ${[...a].join(' ')} in the documents?`)),
    proposerAttack('propose-without-searching', async (episode) => {
      await episode.call('propose', { question: 'Which name does this question have in mind?' });
    }),
    // Documents about something else, which do not state the answer.
    proposerAttack('unsupported-question', async (episode) => {
      const found = await episode.call('search', { query: 'tray', k: 3 });
      const ids = [...found.content.matchAll(/^\[\d+\] (\S+) — /gm)].map((m) => m[1]!);
      await episode.call('propose', { question: 'Who founded the company these documents describe?', citations: ids });
    }),
    proposerAttack('empty-question', searchThenPropose(() => '?')),
    proposerAttack('answer-instead-of-proposing', async (episode, answer) => {
      await episode.call('search', { query: answer.slice(0, 500) });
      await episode.call('answer', { answer, citations: [] });
    }),
  ];
}
