import { z } from 'zod';
import { BUILTIN_DATABASES } from './databases/catalog.ts';

/**
 * Where the tasks come from: the built-in generated databases, or a Spider / BIRD directory
 * (`spider:/data/spider`, `bird:/data/bird/dev`).
 */
export const DatasetSchema = z
  .string()
  .default('builtin')
  .refine((value) => value === 'builtin' || /^(spider|bird):.+/.test(value), {
    message: "dataset must be 'builtin', 'spider:<dir>' or 'bird:<dir>'",
  });

export const SqlConfigSchema = z.object({
  /** 'builtin' (generated databases), 'spider:<dir>' or 'bird:<dir>' (their released layouts). */
  dataset: DatasetSchema,
  /** Which built-in databases to use (dataset 'builtin' only). */
  databases: z
    .array(z.enum(BUILTIN_DATABASES))
    .min(1)
    .default([...BUILTIN_DATABASES]),
  /** Questions generated per built-in database before the split. */
  questionsPerDatabase: z.number().int().positive().default(360),
  /**
   * The built-in database held out for the `test` split: every question about it is a test task
   * and none is in train, so test measures writing SQL for a schema never trained on.
   */
  testDatabase: z.enum(BUILTIN_DATABASES).default('library'),
  /**
   * Share of the other databases' questions in `test-iid`, chosen by hash: new instances of
   * templates that train also has (Spider/BIRD keep their own train/dev split).
   */
  testIidFraction: z.number().min(0).max(1).default(0.2),
  /** Seed of data generation and question sampling (fixed so gold answers are stable). */
  seed: z.number().int().default(7),
  /** Assistant turns per episode. */
  maxTurns: z.number().int().positive().default(6),
  /** A query running longer than this is killed and reported; the episode goes on. */
  queryTimeoutMs: z.number().int().positive().default(5_000),
  /** Rows `execute_sql` shows; the row count is still reported. */
  maxRowsShown: z.number().int().positive().default(20),
  /** Rows counted for the "N rows" line before giving up counting (bounds huge results). */
  maxRowsCounted: z.number().int().positive().default(100_000),
  /** Rows compared when grading; a larger result never matches. */
  maxRowsGraded: z.number().int().positive().default(20_000),
  /** Characters shown per cell. */
  maxCellChars: z.number().int().positive().default(80),
  /** Query executor processes per environment process (each runs one query at a time). */
  executors: z.number().int().min(1).max(64).default(2),
  /**
   * Execution-accuracy semantics: 'bird' (set of rows), 'spider' (multiset, ordered only when the
   * gold query has ORDER BY, any column order), or 'auto' (bird for BIRD data, spider otherwise).
   */
  semantics: z.enum(['auto', 'bird', 'spider']).default('auto'),
  /**
   * Read double-quoted string literals (`WHERE name = "France"`) in gold and predicted queries as
   * Python's sqlite3 reads them: a column when one of that name is in scope, else a string.
   * 'auto': on for Spider and BIRD data (their evaluators run Python's sqlite3), off for the
   * built-in databases (SQLite's strict rule, which better-sqlite3 builds in).
   */
  doubleQuotedStrings: z.union([z.literal('auto'), z.boolean()]).default('auto'),
  /**
   * Spider data only: keep DISTINCT when comparing results, the official evaluator's
   * `--keep_distinct`. By default DISTINCT is removed from both queries before they run, as the
   * evaluator does by default.
   */
  keepDistinct: z.boolean().default(false),
  /**
   * Reward weights (Reasoning-SQL, Pourreza et al. 2025, arXiv:2503.23157, §3: execution
   * accuracy weighted highest, the partial rewards 1 each; its LLM-judge reward is not used here).
   */
  weights: z
    .object({
      execution: z.number().min(0).default(3),
      syntax: z.number().min(0).default(1),
      schema_linking: z.number().min(0).default(1),
      ngram: z.number().min(0).default(1),
      format: z.number().min(0).default(1),
    })
    .prefault({}),
});
export type SqlConfig = z.infer<typeof SqlConfigSchema>;
export type RewardWeights = SqlConfig['weights'];
