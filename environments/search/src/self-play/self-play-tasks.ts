/**
 * Search Self-play's train split (Lu et al. 2025): matches of one proposer seat and `solvers`
 * solver seats, each match from one train question's answer. The proposer is given the answer
 * (never the question) and proposes a question; its solvers answer that question. Started
 * without a match, a solver seat answers the question the answer came from, and a proposer's
 * question is answered by no one.
 */
import { hashString, type Task } from '@toolgym/protocol';
import { normalizeAnswer } from '@toolgym/tools';
import type { SearchConfig } from '../config.ts';
import type { SearchAnswer, SearchTaskMeta } from '../tasks/search-answer.ts';

export const PROPOSER_ROLE = 'search-self-play/proposer';
export const SOLVER_ROLE = 'search-self-play/solver';

export type SelfPlaySettings = NonNullable<SearchConfig['selfPlay']>;

/** A seat task's meta: its seat of the match, and the type of the question its answer came from. */
export interface SeatMeta extends Pick<SearchTaskMeta, 'type' | 'hops'> {
  match: string;
  seat: number;
  seats: number;
  role: typeof PROPOSER_ROLE | typeof SOLVER_ROLE;
  /** Solver seats: the question the answer came from (what a solver alone answers). */
  question?: string;
}

/** The gold of a seat: the answer's aliases, its supporting documents, and (trainer-only) the question it came from. */
export interface SeatAnswer extends SearchAnswer {
  question: string;
}

export const PROPOSER_INSTRUCTIONS =
  'Propose a question for other players to answer. Search the collection for documents about the answer, then call propose with a question whose answer it is, which the documents you found answer, and the ids of those documents. The question must not contain its answer. You earn more the fewer players answer it right; a question the documents you found do not answer earns nothing.';

/** The proposer's prompt: the answer it must ask about. */
export const proposerPrompt = (answer: string) => `The answer is: ${answer}\n\n${PROPOSER_INSTRUCTIONS}`;

const isSeatMeta = (meta: Record<string, unknown>): boolean =>
  meta.role === PROPOSER_ROLE || meta.role === SOLVER_ROLE;

export const seatOf = (task: Pick<Task, 'meta'>): SeatMeta | undefined =>
  isSeatMeta(task.meta) ? (task.meta as unknown as SeatMeta) : undefined;

/**
 * The task set with its train split replaced by self-play matches: `matches` train questions
 * (by hash of their id, one per distinct answer), each a proposer and `solvers` solver seats.
 */
export function selfPlayTasks(tasks: readonly Task[], settings: SelfPlaySettings): Task[] {
  const train = tasks
    .filter((t) => t.split === 'train')
    .sort((a, b) => hashString(a.id) - hashString(b.id) || a.id.localeCompare(b.id));
  const answers = new Set<string>();
  const seeds: Task[] = [];
  for (const task of train) {
    if (seeds.length >= settings.matches) break;
    const key = normalizeAnswer((task.answer as SearchAnswer).answers[0] ?? '');
    if (key === '' || answers.has(key)) continue;
    answers.add(key);
    seeds.push(task);
  }
  const seats = 1 + settings.solvers;
  const matches = seeds.flatMap((seed): Task[] => {
    const gold = seed.answer as SearchAnswer;
    const meta = seed.meta as unknown as SearchTaskMeta;
    const match = `ssp/${seed.id}`;
    const answer: SeatAnswer = { ...gold, question: meta.question };
    const base = { type: meta.type, hops: meta.hops, match, seats };
    return [
      {
        id: `${match}/proposer`,
        split: 'train',
        // The answer is added when an episode starts (`prompt`), so a task listing does not show it.
        prompt: PROPOSER_INSTRUCTIONS,
        answer,
        meta: { ...base, seat: 0, role: PROPOSER_ROLE } satisfies SeatMeta,
      },
      ...Array.from({ length: settings.solvers }, (_, i) => ({
        id: `${match}/solver-${i + 1}`,
        split: 'train' as const,
        prompt: seed.prompt,
        answer,
        meta: { ...base, seat: i + 1, role: SOLVER_ROLE, question: meta.question } satisfies SeatMeta,
      })),
    ];
  });
  return [...matches, ...tasks.filter((t) => t.split !== 'train')];
}
