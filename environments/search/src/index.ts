import { ConfigError, defineEnvironment, ToolError, weightedReward } from '@toolgym/env-kit';
import { BrowserError, findInText, pageOf, paginate, SearchTimeoutError, UrlPolicy } from '@toolgym/tools';
import { z } from 'zod';
import { type SearchConfig, SearchConfigSchema } from './config.ts';
import { answerSpaceOf, gradeSearch } from './grading.ts';
import { CORPUS_ORIGIN, canonicalUrl, idFromDocumentPath } from './corpus/corpus-url.ts';
import { loadSearchData, sharedBrowserPool } from './runtime.ts';
import type { OpenPage, SearchState } from './search-state.ts';
import { ProposalBoard, QuestionDiscardedError } from './self-play/proposal-board.ts';
import { PROPOSER_ROLE, proposerPrompt, type SeatAnswer, seatOf, selfPlayTasks } from './self-play/self-play-tasks.ts';
import { verifyQuestion } from './self-play/verify-question.ts';
import { SimulatedSearchEngine } from './simulated/simulated-search.ts';
import { promptFor, type SearchAnswer, type SearchTaskMeta } from './tasks/search-answer.ts';

export { DEFAULT_HELD_OUT_TYPES, type SearchConfig, SearchConfigSchema } from './config.ts';
export { answerSpaceOf, citationF1Ceiling, gradeSearch, MAX_SUPPORTING_DOCS, SHORT_ANSWER_TOKENS, type SearchSubmission } from './grading.ts';
export { type CorpusServer, documentHtml, startCorpusServer } from './corpus/corpus-server.ts';
export {
  CorpusFormatError,
  countPassages,
  loadDocuments,
  loadSearchR1Corpus,
  readSearchR1Corpus,
  saveDocuments,
} from './corpus/corpus-store.ts';
export { CORPUS_ORIGIN, canonicalUrl } from './corpus/corpus-url.ts';
export { docIds, generateCorpus } from './corpus/generate-corpus.ts';
export { type SyntheticCorpusFiles, writeSyntheticCorpus } from './corpus/synthetic-passages.ts';
export {
  type CountryFacts,
  type CurrencyFacts,
  type LanguageFacts,
  type WorldFacts,
  worldFacts,
} from './corpus/world-facts.ts';
export {
  closeSearchResources,
  defaultDataDir,
  loadSearchData,
  type SearchData,
  sharedBrowserPool,
} from './runtime.ts';
export { MentionIndex } from './tasks/cooccurrence.ts';
export { generateTasks, type TaskCheck } from './tasks/generate-tasks.ts';
export { loadQaFile, QaFormatError } from './tasks/qa-file.ts';
export { INSTRUCTIONS, type SearchAnswer, type SearchTaskMeta } from './tasks/search-answer.ts';
export {
  type Book,
  type Company,
  generateWorld,
  type Person,
  type World,
  WorldIndex,
} from './world/world.ts';
export { dateAliases, longDate, WorldDocuments } from './world/world-documents.ts';
export { QUESTION_TYPES, type QuestionType } from './world/world-questions.ts';
export { whyUnusable, worldTasks } from './world/world-tasks.ts';
export { type Proposal, ProposalBoard, QuestionDiscardedError } from './self-play/proposal-board.ts';
export {
  PROPOSER_INSTRUCTIONS,
  PROPOSER_ROLE,
  proposerPrompt,
  type SeatAnswer,
  type SeatMeta,
  seatOf,
  selfPlayTasks,
  SOLVER_ROLE,
} from './self-play/self-play-tasks.ts';
export { type Verdict, type VerificationCheck, verifyQuestion } from './self-play/verify-question.ts';
export { type NoiseSchedule, noiseProbability } from './simulated/noise-curriculum.ts';
export { parseSimulatedDocuments, simulationPrompt } from './simulated/simulation-prompt.ts';
export { type SimulatedSearch, SimulatedSearchEngine } from './simulated/simulated-search.ts';

/** The Search Self-play matches of each environment instance (its config object is its own). */
const boards = new WeakMap<SearchConfig, ProposalBoard>();

function boardOf(config: SearchConfig): ProposalBoard {
  let board = boards.get(config);
  if (!board) {
    board = new ProposalBoard(config.selfPlay?.seatTimeoutMs ?? 50_000);
    boards.set(config, board);
  }
  return board;
}

/** Document ids (or corpus URLs) that an answer or a proposed question rests on. */
const citationsInput = (what: string) => z.array(z.string().min(1).max(2000)).max(10).default([]).describe(what);

/** The documents an episode has found, in order, once each. */
function noteFound(state: SearchState, ids: readonly string[]): void {
  for (const id of ids) if (!state.found.includes(id)) state.found.push(id);
}

/** The question an episode is answering (what the simulated search engine is told). */
function questionOf(task: { prompt: string; meta: Record<string, unknown> }, state: SearchState): string {
  const proposal = state.seat?.proposal;
  if (proposal?.verified && state.seat?.role !== PROPOSER_ROLE) return proposal.question;
  return (task.meta as unknown as SearchTaskMeta).question ?? task.prompt;
}

interface GivenAnswer {
  answer: string;
  citations: string[];
}

/** A citation as a document id: ids stay, corpus URLs become their id. */
function citedId(citation: string): string {
  if (citation.startsWith(CORPUS_ORIGIN)) {
    const id = idFromDocumentPath(new URL(citation).pathname);
    if (id !== undefined) return id;
  }
  return citation;
}

function renderPage(page: OpenPage, n: number): string {
  const shown = pageOf(page.pages, n);
  if (!shown) {
    throw new ToolError(
      `Page ${n} does not exist: ${page.title} has ${page.pages.length} page(s).`,
      'no_such_page',
    );
  }
  const header = [
    page.id ? `Document: ${page.id} — ${page.title}` : `Title: ${page.title}`,
    `URL: ${page.url}`,
    `Page ${shown.page} of ${shown.pageCount}${page.cutOff ? ` (note: ${page.cutOff})` : ''}`,
  ];
  const more =
    shown.page < shown.pageCount
      ? `\n---\n(More: open the same target with page ${shown.page + 1}. Use find to search this document.)`
      : '';
  return `${header.join('\n')}\n---\n${shown.text}${more}`;
}

/**
 * Search Self-play's proposer reward (Lu et al. 2025): a discarded question earns nothing; a
 * verified one earns 1 − the share of its solvers that answered it right. Alone (no shared
 * match), no one answers it, so a verified question earns the most a question can: what a
 * proposer alone measures is whether its questions pass verification.
 */
async function gradeProposer(seat: NonNullable<SearchState['seat']>) {
  const proposal = seat.proposal ?? { verified: false as const, reason: 'no question proposed' };
  if (seat.sharedMatch !== undefined) seat.board.post(seat.sharedMatch, seat.seats - 1, proposal);
  const check = seat.verdict && !seat.verdict.verified ? seat.verdict.check : proposal.verified ? undefined : 'no_question';
  const info = {
    role: seat.role,
    ...(proposal.verified ? { question: proposal.question } : { discarded: proposal.reason, check }),
  };
  if (!proposal.verified) return weightedReward({ proposer: 0, verified: 0 }, { proposer: 1, verified: 0 }, info);
  if (seat.sharedMatch === undefined)
    return weightedReward({ proposer: 1, verified: 1 }, { proposer: 1, verified: 0 }, { ...info, solvers: 0 });
  const outcomes = await seat.board.outcomes(seat.sharedMatch, seat.seats - 1);
  const solved = outcomes.length > 0 ? outcomes.reduce((a, b) => a + b, 0) / outcomes.length : undefined;
  // Search Self-play: r_proposer = 1 − mean over solvers of r_solver, for a verified question.
  return weightedReward(
    { proposer: solved === undefined ? 0 : 1 - solved, verified: 1, solver_pass_rate: solved ?? 0 },
    { proposer: 1, verified: 0, solver_pass_rate: 0 },
    { ...info, solvers: outcomes.length },
  );
}

/**
 * search@1 — multi-hop question answering over a document collection with a BM25 search engine
 * and a real browser (Chromium). Questions name an entity; answers need facts from one to four
 * documents; the answer tool takes the answer and the ids of the documents that support it.
 */
export default defineEnvironment<SearchState, SearchConfig>({
  id: 'search',
  version: 1,
  description:
    'Answer questions by searching a document collection (BM25), reading pages in a browser, and answering with citations. Multi-hop questions need facts from several documents.',
  config: SearchConfigSchema,
  tasks: async (config) => {
    const { tasks } = await loadSearchData(config);
    return config.selfPlay ? selfPlayTasks(tasks, config.selfPlay) : tasks;
  },
  tools: {
    search: {
      description:
        'Search the document collection. Returns the top k documents with id, title, URL and a snippet.',
      input: z.object({
        query: z.string().trim().min(1).max(500).describe('Keywords or a question.'),
        k: z.number().int().min(1).max(20).optional().describe('How many results (1–20, default 5).'),
      }),
      run: async ({ query, k }, { episode, signal }) => {
        const { state, task } = episode;
        const top = k ?? episode.config.defaultK;
        if (state.simulated) {
          const { engine, rng } = state.simulated;
          const gold = task.answer as SearchAnswer;
          const found = await engine.search(
            { query, question: questionOf(task, state), answer: gold.answers[0] ?? '', draw: rng.next(), k: top },
            signal,
          );
          // Through the state again after the wait: a call stopped at its deadline records nothing.
          state.simulated.searches.push(found);
          if (found.documents.length === 0) return `No documents match "${query}". Try other words.`;
          return `Results for "${query}":\n${found.documents.map((d, i) => `[${i + 1}] ${d}`).join('\n')}`;
        }
        const hits = await state.data.retriever.search(query, { k: top, signal }).catch((error: unknown) => {
          if (error instanceof SearchTimeoutError)
            throw new ToolError(error.message, error.code, error.hint);
          throw error;
        });
        noteFound(state, hits.map((h) => h.id));
        if (hits.length === 0) return `No documents match "${query}". Try other words.`;
        const lines = hits.map((h) => `[${h.rank}] ${h.id} — ${h.title}\n    ${h.url}\n    ${h.snippet}`);
        return `Results for "${query}":\n${lines.join('\n')}`;
      },
    },
    open: {
      description:
        'Open a document in the browser and read its text, one page at a time. target is a document id from search results (or its URL).',
      input: z.object({
        target: z.string().trim().min(1).max(2000).describe('A document id from search results, or a URL.'),
        page: z.number().int().min(1).optional().describe('Page number, from 1 (default 1).'),
      }),
      run: async ({ target, page = 1 }, { episode, signal }) => {
        const state = episode.state;
        const config = episode.config;
        const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
        const id = isUrl
          ? target.startsWith(`${CORPUS_ORIGIN}/`)
            ? idFromDocumentPath(new URL(target).pathname)
            : undefined
          : target;
        // Paging through the page already open needs no new load.
        const shownUrl = id !== undefined ? canonicalUrl(id) : target;
        if (state.page && state.page.url === shownUrl) return renderPage(state.page, page);
        if (!isUrl && !state.data.documents.get(target)) {
          throw new ToolError(
            `No document with id '${target}'. Use an id from search results.`,
            'unknown_document',
          );
        }
        const server = await state.data.server();
        const fetchUrl = id !== undefined ? server.urlOf(id) : target;
        state.browser ??= sharedBrowserPool({ idleCloseMs: config.browser.idleCloseMs }).newSession({
          policy: new UrlPolicy({ localOrigins: [server.origin], allowedHosts: config.browser.allowedHosts }),
          navigationTimeoutMs: config.browser.navigationTimeoutMs,
          maxPageChars: config.browser.maxPageChars,
        });
        const session = await state.browser;
        let content: Awaited<ReturnType<typeof session.open>>;
        try {
          content = await session.open(fetchUrl, signal);
        } catch (error) {
          if (error instanceof BrowserError)
            throw new ToolError(
              `Could not open ${shownUrl}: ${error.message.replaceAll(server.origin, CORPUS_ORIGIN)}`,
              error.code,
            );
          throw error;
        }
        if (id !== undefined) noteFound(state, [id]);
        state.page = {
          ...(id !== undefined ? { id } : {}),
          url: shownUrl,
          title: content.title,
          text: content.text,
          pages: paginate(content.text, config.pageChars),
          ...(content.cutOff ? { cutOff: content.cutOff } : {}),
        };
        return renderPage(state.page, page);
      },
    },
    find: {
      description:
        'Find a word or phrase (case-insensitive, literal) in the open document. Shows each match with context and its page.',
      input: z.object({ pattern: z.string().min(1).max(200).describe('The text to look for.') }),
      run: ({ pattern }, { episode }) => {
        const page = episode.state.page;
        if (!page) throw new ToolError('No document is open. Open one with open first.', 'no_open_page');
        const { matches, total } = findInText(page.text, pattern, {
          pages: page.pages,
          contextChars: 80,
          maxMatches: 10,
        });
        if (total === 0) return `No match for "${pattern}" in ${page.title}.`;
        const lines = matches.map((m) => `[page ${m.page}] ${m.excerpt}`);
        return `${total} match(es) for "${pattern}" in ${page.title}${total > matches.length ? ` (first ${matches.length})` : ''}:\n${lines.join('\n')}`;
      },
    },
    answer: {
      description: 'Give the final answer with the ids of the documents that support it. Ends the episode.',
      input: z.object({
        answer: z.string().trim().min(1).max(500).describe('A short answer: a name, word or code.'),
        citations: citationsInput('Ids (or URLs) of the supporting documents.'),
      }),
      run: ({ answer, citations }, { episode }) => {
        if (episode.state.seat?.role === PROPOSER_ROLE)
          throw new ToolError('You are the proposer: propose a question with propose.', 'not_a_solver');
        const given: GivenAnswer = { answer, citations: citations.map(citedId) };
        episode.terminate(given);
        const unknown = given.citations.filter((c) => !episode.state.data.documents.get(c));
        return unknown.length > 0
          ? `Answer recorded. These citations are not documents of the collection: ${unknown.join(', ')}.`
          : 'Answer recorded.';
      },
    },
    propose: {
      description:
        'Search Self-play, proposer only: propose a question whose answer you were given, with the ids of the documents you found that answer it. Ends the episode.',
      input: z.object({
        question: z.string().trim().min(1).max(2000).describe('The question; it must not contain its answer.'),
        citations: citationsInput('Ids (or URLs) of the documents that answer it.'),
      }),
      offeredBy: (config) => config.selfPlay !== undefined,
      run: async ({ question, citations }, { episode, signal }) => {
        const { state, config } = episode;
        const seat = state.seat;
        if (seat?.role !== PROPOSER_ROLE || !config.selfPlay)
          throw new ToolError(
            'Only the proposer of a Search Self-play match proposes questions. Answer with answer.',
            'not_a_proposer',
          );
        const gold = episode.task.answer as SeatAnswer;
        const verdict = await verifyQuestion({
          question,
          answers: gold.answers,
          found: state.found,
          documents: state.data.documents,
          maxQuestionChars: config.selfPlay.maxQuestionChars,
          ...(config.selfPlay.verify === 'rag' && seat.model
            ? { rag: { model: seat.model, maxDocuments: config.selfPlay.ragDocuments, signal } }
            : {}),
        });
        // Through the episode after the wait: a call stopped at its deadline fails here, before it posts a question.
        const { documents } = episode.state.data;
        const cited = citations.map(citedId).filter((id: string) => documents.get(id) !== undefined);
        seat.verdict = verdict;
        seat.proposal = verdict.verified
          ? { verified: true, question, answers: gold.answers, citations: cited }
          : { verified: false, reason: verdict.reason };
        if (seat.sharedMatch !== undefined) seat.board.post(seat.sharedMatch, seat.seats - 1, seat.proposal);
        episode.terminate({ question, citations: cited });
        return verdict.verified ? 'Question accepted.' : `Question discarded: ${verdict.reason}.`;
      },
    },
  },
  setup: async (task, { config, rng, match, progress, model }) => {
    const state: SearchState = { data: await loadSearchData(config), found: [] };
    if (config.backend.kind === 'simulated')
      state.simulated = { engine: SimulatedSearchEngine.of(config.backend, model, progress), rng, searches: [] };
    const seat = seatOf(task);
    if (seat && config.selfPlay) {
      if (state.simulated)
        throw new ConfigError(
          'selfPlay verifies a proposed question against the corpus documents its searches returned, and backend "simulated" returns none',
          'use backend bm25 with selfPlay',
        );
      if (seat.role === PROPOSER_ROLE && config.selfPlay.verify === 'rag' && !model)
        throw new ConfigError(
          'selfPlay.verify "rag" checks each proposed question with a model, and this environment was given none',
          'in training set environment.model: policy; in code call environment.useModel(policy); or set selfPlay.verify to "documents"',
        );
      state.seat = {
        ...seat,
        board: boardOf(config),
        ...(match !== undefined ? { sharedMatch: match } : {}),
        ...(model ? { model } : {}),
      };
    }
    return state;
  },
  // A proposer is told its answer; a solver of a shared match waits here for the proposer's
  // question, and cannot play when it was discarded.
  prompt: async ({ task, state }) => {
    const seat = state.seat;
    if (!seat) return task.prompt;
    if (seat.role === PROPOSER_ROLE) return proposerPrompt((task.answer as SeatAnswer).answers[0] ?? '');
    if (seat.sharedMatch === undefined) return task.prompt;
    const proposal = await seat.board.question(seat.sharedMatch, seat.seats - 1);
    seat.proposal = proposal;
    if (!proposal.verified) throw new QuestionDiscardedError(seat.sharedMatch, proposal.reason);
    return promptFor(proposal.question);
  },
  teardown: async (state) => {
    const seat = state.seat;
    if (seat?.sharedMatch !== undefined) {
      // Seats that leave early release the others: no question, or no answer.
      if (seat.role === PROPOSER_ROLE)
        seat.board.post(seat.sharedMatch, seat.seats - 1, { verified: false, reason: 'the proposer left without a question' });
      else seat.board.report(seat.sharedMatch, seat.seats - 1, seat.seat, undefined);
    }
    const session = await state.browser?.catch(() => undefined);
    await session?.close();
  },
  grade: async ({ episode, finalText }) => {
    const { data, seat } = episode.state;
    if (seat?.role === PROPOSER_ROLE) return gradeProposer(seat);
    const given = episode.answer as GivenAnswer | undefined;
    const meta = episode.task.meta as unknown as SearchTaskMeta;
    const proposal = seat?.proposal;
    // A solver of a shared match answers the proposer's question, supported by the documents it cited.
    const gold: SearchAnswer = proposal?.verified
      ? { answers: proposal.answers, supportingDocs: proposal.citations }
      : (episode.task.answer as SearchAnswer);
    const reward = gradeSearch(
      { text: given?.answer ?? finalText?.trim() ?? '', citations: given?.citations ?? [], answered: given !== undefined },
      gold,
      {
        space: answerSpaceOf(data.tasks),
        isDocument: (id) => data.documents.get(id) !== undefined,
        weights: episode.config.weights,
      },
    );
    if (seat?.sharedMatch !== undefined)
      seat.board.report(seat.sharedMatch, seat.seats - 1, seat.seat, reward.components.exact_match);
    const simulated = episode.state.simulated;
    return {
      ...reward,
      info: {
        ...reward.info,
        hops: meta.hops,
        type: meta.type,
        ...(simulated
          ? {
              simulatedSearches: simulated.searches.length,
              noisySearches: simulated.searches.filter((s) => !s.useful).length,
              noiseProbability: simulated.engine.noise,
            }
          : {}),
      },
    };
  },
  // Five components, each in [0, 1], with weights in [0, 1].
  rewardRange: [0, 5],
  // A short answer through the answer tool citing real documents: what form alone earns.
  formatFloor: (config) => config.weights.format,
  redteam: async (config) => (await import('../redteam/index.ts')).searchAttacks(config),
  limits: (config) => ({
    maxTurns: config.maxTurns,
    // open = navigation + text extraction, each bounded by the navigation timeout.
    // The simulated backend and the RAG check run a model: up to a seat's time limit.
    toolTimeoutMs: Math.max(
      config.browser.navigationTimeoutMs * 2 + 5_000,
      config.backend.kind === 'simulated' || config.selfPlay?.verify === 'rag' ? 120_000 : 0,
    ),
    maxToolOutputBytes: Math.max(16_384, config.pageChars * 4 + 2_048),
  }),
  // The world's test split holds out whole question types (relation chains never asked in
  // train); the countries corpus holds out subjects (every question about one country is in one
  // split); a QA file's test split holds out its own questions.
  heldOut: (config) =>
    config.qaPath
      ? { unit: 'question', unitsOf: (task) => [task.id] }
      : config.corpus.kind === 'world'
        ? { unit: 'question-type', unitsOf: (task) => [(task.meta as unknown as SearchTaskMeta).type] }
        : {
            unit: 'subject',
            unitsOf: (task) => [(task.meta as unknown as SearchTaskMeta).subject ?? task.id],
          },
  oracle: (task) => {
    const gold = task.answer as SearchAnswer;
    const meta = task.meta as unknown as SearchTaskMeta;
    // A proposer's oracle proposes the question its answer came from, with that question's documents.
    if (seatOf(task)?.role === PROPOSER_ROLE) {
      const { question } = task.answer as SeatAnswer;
      return [
        { name: 'search', arguments: { query: question } },
        ...gold.supportingDocs.map((id) => ({ name: 'open', arguments: { target: id } })),
        { name: 'propose', arguments: { question, citations: gold.supportingDocs } },
      ];
    }
    return [
      { name: 'search', arguments: { query: meta.question } },
      ...gold.supportingDocs.map((id) => ({ name: 'open', arguments: { target: id } })),
      { name: 'answer', arguments: { answer: gold.answers[0] ?? '', citations: gold.supportingDocs } },
    ];
  },
});
