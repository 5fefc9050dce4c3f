import type { RewardBreakdown, Task } from '@toolgym/protocol';
import {
  AnswerSpace,
  answerTokens,
  citationF1,
  coverExactMatch,
  exactMatch,
  listsAlternatives,
  tokenF1,
} from '@toolgym/tools';
import { weightedReward } from '@toolgym/env-kit';
import type { SearchConfig } from './config.ts';
import type { SearchAnswer } from './tasks/search-answer.ts';

/** Documents the red-team ceilings assume an answer rests on: 3 (a 4-hop question has 4, so its ceiling is stricter than it need be; a per-task ceiling would fix that). */
export const MAX_SUPPORTING_DOCS = 3;

/** Longest answer (in normalised tokens) the format reward still calls short. */
export const SHORT_ANSWER_TOKENS = 12;

/**
 * The most citation F1 an answer citing `cited` documents can earn when `supporting` documents
 * support the answer: all of them cited, so precision is supporting / cited.
 */
export function citationF1Ceiling(cited: number, supporting: number): number {
  const hit = Math.min(cited, supporting);
  return hit === 0 ? 0 : (2 * hit) / (cited + supporting);
}

const spaces = new WeakMap<readonly Task[], AnswerSpace>();

/** Every answer the task set accepts (computed once per task set). */
export function answerSpaceOf(tasks: readonly Task[]): AnswerSpace {
  let space = spaces.get(tasks);
  if (!space) {
    space = new AnswerSpace(tasks.flatMap((t) => (t.answer as SearchAnswer | undefined)?.answers ?? []));
    spaces.set(tasks, space);
  }
  return space;
}

export interface SearchSubmission {
  /** The answer text (from the answer tool, or the final text). */
  text: string;
  /** Document ids cited (empty without the answer tool). */
  citations: readonly string[];
  /** It came through the answer tool. */
  answered: boolean;
}

/**
 * The search reward. The answer metrics (EM, F1, cover-EM after SQuAD and Search-R1) grade a
 * committed, short answer: an answer that lists alternatives ("A, B or C"), names another
 * candidate of the task set besides the gold ("Paris Lyon"), or runs longer than a short answer
 * and the gold, earns no F1 or cover-EM (its EM is 0 already). Citations
 * earn their F1 against the supporting documents. `format` is 1 for a short answer through the
 * answer tool whose citations all name documents.
 */
export function gradeSearch(
  submission: SearchSubmission,
  gold: SearchAnswer,
  context: { space: AnswerSpace; isDocument: (id: string) => boolean; weights: SearchConfig['weights'] },
): RewardBreakdown {
  const { text, citations } = submission;
  const length = answerTokens(text).length;
  const short = length >= 1 && length <= SHORT_ANSWER_TOKENS;
  const overlong = length > Math.max(SHORT_ANSWER_TOKENS, ...gold.answers.map((a) => answerTokens(a).length));
  const others = context.space.otherCandidates(text, gold.answers);
  const list = listsAlternatives(text, gold.answers);
  const committed = !overlong && others.length === 0 && !list;
  const components = {
    exact_match: exactMatch(text, gold.answers),
    f1: committed ? tokenF1(text, gold.answers) : 0,
    cover_em: committed ? coverExactMatch(text, gold.answers) : 0,
    format: submission.answered && short && citations.length > 0 && citations.every(context.isDocument) ? 1 : 0,
    citation: citationF1(citations, gold.supportingDocs),
  };
  return weightedReward(components, context.weights, {
    gold: gold.answers,
    supportingDocs: gold.supportingDocs,
    given: text,
    citations,
    answeredWithTool: submission.answered,
    ...(others.length > 0 ? { otherCandidates: others } : {}),
    ...(list ? { listsAlternatives: true } : {}),
    ...(overlong ? { overlong: length } : {}),
  });
}
