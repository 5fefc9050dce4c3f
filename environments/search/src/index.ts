import { defineEnvironment, ToolError } from '@toolgym/env-kit';
import { BrowserError, findInText, pageOf, paginate, UrlPolicy } from '@toolgym/tools';
import { z } from 'zod';
import { type SearchConfig, SearchConfigSchema } from './config.ts';
import { answerSpaceOf, gradeSearch } from './grading.ts';
import { CORPUS_ORIGIN, canonicalUrl, idFromDocumentPath } from './corpus/corpus-url.ts';
import { loadSearchData, sharedBrowserPool } from './runtime.ts';
import type { OpenPage, SearchState } from './search-state.ts';
import type { SearchAnswer, SearchTaskMeta } from './tasks/search-answer.ts';

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
  tasks: async (config) => (await loadSearchData(config)).tasks,
  tools: {
    search: {
      description:
        'Search the document collection. Returns the top k documents with id, title, URL and a snippet.',
      input: z.object({
        query: z.string().trim().min(1).max(500).describe('Keywords or a question.'),
        k: z.number().int().min(1).max(20).optional().describe('How many results (1–20, default 5).'),
      }),
      run: async ({ query, k }, { episode, signal }) => {
        const hits = await episode.state.data.retriever.search(query, {
          k: k ?? episode.config.defaultK,
          signal,
        });
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
        citations: z
          .array(z.string().min(1).max(2000))
          .max(10)
          .default([])
          .describe('Ids (or URLs) of the supporting documents.'),
      }),
      run: ({ answer, citations }, { episode }) => {
        const given: GivenAnswer = { answer, citations: citations.map(citedId) };
        episode.terminate(given);
        const unknown = given.citations.filter((c) => !episode.state.data.documents.get(c));
        return unknown.length > 0
          ? `Answer recorded. These citations are not documents of the collection: ${unknown.join(', ')}.`
          : 'Answer recorded.';
      },
    },
  },
  setup: async (_task, { config }) => ({ data: await loadSearchData(config) }),
  teardown: async (state) => {
    const session = await state.browser?.catch(() => undefined);
    await session?.close();
  },
  grade: ({ episode, finalText }) => {
    const given = episode.answer as GivenAnswer | undefined;
    const { data } = episode.state;
    const meta = episode.task.meta as unknown as SearchTaskMeta;
    const reward = gradeSearch(
      { text: given?.answer ?? finalText?.trim() ?? '', citations: given?.citations ?? [], answered: given !== undefined },
      episode.task.answer as SearchAnswer,
      {
        space: answerSpaceOf(data.tasks),
        isDocument: (id) => data.documents.get(id) !== undefined,
        weights: episode.config.weights,
      },
    );
    return { ...reward, info: { ...reward.info, hops: meta.hops, type: meta.type } };
  },
  // Five components, each in [0, 1], with weights in [0, 1].
  rewardRange: [0, 5],
  // A short answer through the answer tool citing real documents: what form alone earns.
  formatFloor: (config) => config.weights.format,
  redteam: async (config) => (await import('../redteam/index.ts')).searchAttacks(config),
  limits: (config) => ({
    maxTurns: config.maxTurns,
    // open = navigation + text extraction, each bounded by the navigation timeout.
    toolTimeoutMs: config.browser.navigationTimeoutMs * 2 + 5_000,
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
    return [
      { name: 'search', arguments: { query: meta.question } },
      ...gold.supportingDocs.map((id) => ({ name: 'open', arguments: { target: id } })),
      { name: 'answer', arguments: { answer: gold.answers[0] ?? '', citations: gold.supportingDocs } },
    ];
  },
});
