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
  /** BM25 parameters (Pyserini's defaults). */
  bm25: z
    .object({ k1: z.number().min(0).default(0.9), b: z.number().min(0).max(1).default(0.4) })
    .prefault({}),
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
