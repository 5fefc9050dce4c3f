import { z } from 'zod';

const Weight = z.number().min(0).max(1);

export const SearchConfigSchema = z.object({
  /**
   * The documents to search. `generated`: built from npm data (countries, capitals, languages,
   * currencies, regions, WordNet glosses as distractors). `jsonl`: a Search-R1 / FlashRAG corpus
   * file (`{"id", "contents": "\"Title\"\nText"}` per line), e.g. a Wikipedia dump.
   */
  corpus: z
    .discriminatedUnion('kind', [
      z.object({
        kind: z.literal('generated'),
        /** WordNet gloss documents added as distractors. */
        wordnetDocuments: z.number().int().min(0).max(80_000).default(3000),
      }),
      z.object({
        kind: z.literal('jsonl'),
        path: z.string().min(1),
        limit: z.number().int().positive().optional(),
      }),
    ])
    .default({ kind: 'generated', wordnetDocuments: 3000 }),
  /** A QA file (`{"question", "golden_answers": [...]}` per line) replacing the generated questions. */
  qaPath: z.string().min(1).optional(),
  /** Where built corpora and indexes are cached; default `<package>/data/generated`. */
  dataDir: z.string().min(1).optional(),
  /** Share of questions in the test split (questions about one country stay in one split). */
  testFraction: z.number().min(0).max(1).default(0.2),
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
