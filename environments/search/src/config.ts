import { z } from 'zod';

/**
 * The question types the world's test split holds out: compositions of relations that train asks
 * one at a time or in other chains, one to four hops.
 */
export const DEFAULT_HELD_OUT_TYPES = [
  'university_city',
  'company_region',
  'spouse_employer',
  'author_alma_mater',
  'publisher_founder_birthplace',
  'person_birth_country',
  'publisher_country',
  'ceo_university_region',
] as const;

const Weight = z.number().min(0).max(1);

export const SearchConfigSchema = z.object({
  /**
   * The documents to search. `world` (default): a fictional world generated from a seed (people,
   * companies, books, universities, cities, regions, countries), so no pretrained model knows the
   * answers, plus WordNet glosses as distractors. `countries`: the real countries, capitals,
   * languages, currencies and regions from npm data, plus WordNet glosses. `jsonl`: a Search-R1 /
   * FlashRAG corpus file (`{"id", "contents": "\"Title\"\nText"}` per line), e.g. a Wikipedia dump.
   */
  corpus: z
    .discriminatedUnion('kind', [
      z.object({
        kind: z.literal('world'),
        /** Which world: the same seed gives the same entities, documents and questions. */
        seed: z.number().int().min(0).default(0),
        /** WordNet gloss documents added as distractors. */
        distractors: z.number().int().min(0).max(80_000).default(1000),
        /** Most questions per question type. */
        questionsPerType: z.number().int().min(1).max(1000).default(60),
        /** Question types that only the test split has (see the README for the list of types). */
        heldOutTypes: z.array(z.string().min(1)).default([...DEFAULT_HELD_OUT_TYPES]),
        /** Share of the other types' questions in test-iid. */
        testIidFraction: z.number().min(0).max(1).default(0.15),
      }),
      z.object({
        kind: z.literal('countries'),
        /** WordNet gloss documents added as distractors. */
        wordnetDocuments: z.number().int().min(0).max(80_000).default(3000),
      }),
      z.object({
        kind: z.literal('jsonl'),
        path: z.string().min(1),
        limit: z.number().int().positive().optional(),
      }),
    ])
    .default({
      kind: 'world',
      seed: 0,
      distractors: 1000,
      questionsPerType: 60,
      heldOutTypes: [...DEFAULT_HELD_OUT_TYPES],
      testIidFraction: 0.15,
    }),
  /** A QA file (`{"question", "golden_answers": [...]}` per line) replacing the generated questions. */
  qaPath: z.string().min(1).optional(),
  /** Where built corpora and indexes are cached; default `<package>/data/generated`. */
  dataDir: z.string().min(1).optional(),
  /** Share of questions in the test split of the countries corpus and of a QA file (questions about one country stay in one split). */
  testFraction: z.number().min(0).max(1).default(0.2),
  /**
   * A JSONL corpus of more passages than this keeps its passages in a SQLite store and its BM25
   * postings on disk (read per query) instead of in memory.
   */
  diskIndexAbove: z.number().int().min(0).default(200_000),
  /**
   * How a corpus served from disk answers `search`: in `workers` threads that each open the index
   * and the store, so a query never runs on the server's event loop; a query still running after
   * `timeoutMs` (wall time) has its thread stopped and the call fails with `search_timeout`.
   */
  searchThreads: z
    .object({
      workers: z.number().int().min(1).max(16).default(2),
      timeoutMs: z.number().int().min(1).default(2_000),
    })
    .prefault({}),
  /** BM25 parameters (Pyserini's defaults). */
  bm25: z
    .object({ k1: z.number().min(0).default(0.9), b: z.number().min(0).max(1).default(0.4) })
    .prefault({}),
  /**
   * What answers `search`. `bm25` (default): the BM25 index over the corpus. `simulated`
   * (ZeroSearch, Sun et al. 2025): the environment's model (`Environment.useModel`; in training
   * `environment.model: policy`) writes the documents for each query, useful or noisy, with
   * ZeroSearch's prompt; how likely noisy follows the curriculum over the training run.
   */
  backend: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('bm25') }),
      z.object({
        kind: z.literal('simulated'),
        /** p_s: the noise probability at training's first step (ZeroSearch's scripts: 0.25). */
        noiseStart: z.number().min(0).max(1).default(0.25),
        /** p_e: the noise probability at its last step (ZeroSearch's scripts: 0.5). */
        noiseEnd: z.number().min(0).max(1).default(0.5),
        /** b: the curriculum's exponential base (ZeroSearch: 4). */
        noiseBase: z.number().positive().default(4),
        /** Documents per search (ZeroSearch: 5). */
        documents: z.number().int().min(1).max(10).default(5),
        /** Words per document the prompt asks for (ZeroSearch: 30). */
        wordsPerDocument: z.number().int().min(5).max(200).default(30),
        /** Longest simulator output, in tokens. */
        maxTokens: z.number().int().min(16).max(4096).default(512),
        /** The simulator's sampling temperature. */
        temperature: z.number().min(0).max(2).default(1),
      }),
    ])
    .default({ kind: 'bm25' }),
  /**
   * Search Self-play (Lu et al. 2025): the train split becomes matches of one proposer and
   * `solvers` solvers. The proposer is given an answer (one of the train questions' answers,
   * never their question), searches, and proposes a question with it; the question is verified
   * against the documents its searches returned, and each solver answers it. The test splits stay
   * the questions they are. Needs the `world` or `countries` corpus (or a QA file).
   */
  selfPlay: z
    .object({
      /** Solver seats per match: the proposer's reward is 1 − their share of correct answers. */
      solvers: z.number().int().min(1).max(8).default(4),
      /** Matches in the train split, each from another answer. */
      matches: z.number().int().min(1).max(10_000).default(200),
      /**
       * How a proposed question is verified, after the rule checks (the question names no form
       * of its answer; an answer is stated in a document the proposer's searches returned):
       * `rag`, Search Self-play's check, where the environment's model answers the question from
       * those documents alone and must give the answer; `documents`, the rule checks only.
       */
      verify: z.enum(['rag', 'documents']).default('rag'),
      /** Most documents (the proposer's, in the order found) in the RAG check's context. */
      ragDocuments: z.number().int().min(1).max(50).default(10),
      /** Longest question, in characters. */
      maxQuestionChars: z.number().int().min(20).max(2000).default(300),
      /**
       * How long a solver's start waits for the question, and the proposer's grade for the
       * solvers' answers. Keep it below the client's limit on a start or an end (the agent loop's
       * control timeout, 60 s): a proposer slower than this leaves its solvers without a question.
       */
      seatTimeoutMs: z.number().int().positive().default(50_000),
    })
    .optional(),
  /** Results `search` returns when the call gives no k. */
  defaultK: z.number().int().min(1).max(20).default(5),
  /** Characters per page of an opened document. */
  pageChars: z.number().int().min(200).max(12_000).default(2_000),
  /** Assistant turns per episode. */
  maxTurns: z.number().int().positive().default(10),
  browser: z
    .object({
      /** A page not loaded by then is cut off (the episode goes on). */
      navigationTimeoutMs: z.number().int().positive().default(8_000),
      /** Longest text kept from one page. */
      maxPageChars: z.number().int().positive().default(200_000),
      /** Real web hosts `open` may visit (`en.wikipedia.org`, `*.example.org`); empty = no web. */
      allowedHosts: z.array(z.string().min(1)).default([]),
      /** Chromium closes after this long without episodes, and restarts on demand. */
      idleCloseMs: z.number().int().positive().default(60_000),
    })
    .prefault({}),
  /**
   * Reward weights (each 0–1; 0 keeps a component as a logged metric). `exact_match`, `f1`,
   * `cover_em` compare the answer with the gold aliases (an answer that also names another
   * candidate, or runs long, earns no F1 or cover-EM); `format` is 1 for a short answer given
   * through the answer tool with citations that all name real documents; `citation` is the F1 of
   * the documents cited against the gold supporting documents.
   */
  weights: z
    .object({
      exact_match: Weight.default(1),
      f1: Weight.default(0),
      cover_em: Weight.default(0),
      format: Weight.default(0.1),
      citation: Weight.default(0.2),
    })
    .prefault({}),
});
export type SearchConfig = z.infer<typeof SearchConfigSchema>;
