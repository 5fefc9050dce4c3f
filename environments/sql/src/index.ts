import { randomUUID } from 'node:crypto';
import { defineEnvironment, ToolError } from '@toolgym/env-kit';
import { ToolGymError } from '@toolgym/protocol';
import type { Task } from '@toolgym/protocol';
import { z } from 'zod';
import { type SqlConfig, SqlConfigSchema } from './config.ts';
import { QueryError } from './errors.ts';
import type { QueryResult, SqlValue } from './executor/messages.ts';
import { doubleQuotedStringsExtension } from './executor/double-quoted-strings.ts';
import { type QueryPool, sharedQueryPool } from './executor/query-pool.ts';
import { formatResult } from './format-result.ts';
import type { MatchSemantics } from './grading/execution-match.ts';
import { spiderExecutedSql } from './grading/spider-evaluator.ts';
import { gradeSql, type PredictedQuery } from './grading/sql-reward.ts';
import { schemaItems } from './grading/partial-rewards.ts';
import { sqlGuidance } from './guidance.ts';
import { describeTable, listTables, tableColumns } from './schema-tools.ts';
import { checkReadOnlyQuery } from './sql-guard.ts';
import type { SqlAnswer } from './tasks/sql-task.ts';
import { benchmarkDocs } from './tasks/benchmark-loader.ts';
import { type DatabaseDocs, tableNotes } from './tasks/benchmark-schema.ts';
import { databaseFileOf, parseDataset, sqlTasks } from './tasks/task-set.ts';

export { DatasetSchema, type RewardWeights, type SqlConfig, SqlConfigSchema } from './config.ts';
export {
  BUILTIN_DATABASES,
  BUILTIN_DESCRIPTIONS,
  type BuiltinDatabase,
  buildBuiltinDatabase,
} from './databases/catalog.ts';
export { GENERATED_DIR } from './databases/sqlite-file.ts';
export { QueryError, type QueryErrorCode } from './errors.ts';
export type { QueryRequest, QueryResult, SqlValue } from './executor/messages.ts';
export { QueryPool, sharedQueryPool } from './executor/query-pool.ts';
export { formatResult } from './format-result.ts';
export {
  birdMatch,
  cellKey,
  executionMatch,
  type MatchSemantics,
  orderMatters,
  spiderMatch,
} from './grading/execution-match.ts';
export { sqlGuidance } from './guidance.ts';
export { jaccard, ngramReward, parsableSql, schemaItems, schemaLinkingReward } from './grading/partial-rewards.ts';
export { spiderExecutedSql } from './grading/spider-evaluator.ts';
export { gradeSql, type PredictedQuery, REWARD_COMPONENTS } from './grading/sql-reward.ts';
export { doubleQuotedStringsExtension } from './executor/double-quoted-strings.ts';
export { checkReadOnlyQuery } from './sql-guard.ts';
export { type BenchmarkKind, benchmarkDocs, loadBenchmarkTasks } from './tasks/benchmark-loader.ts';
export {
  type ColumnDescription,
  type DatabaseDocs,
  readColumnDescriptions,
  readTablesJson,
  type TablesEntry,
  tableNotes,
} from './tasks/benchmark-schema.ts';
export { parseCsv } from './tasks/csv.ts';
export { generateDatabaseTasks, TEMPLATES } from './tasks/builtin-tasks.ts';
export type { Difficulty, QuestionTemplate, Skill, TemplateParams } from './tasks/template.ts';
export type { SqlAnswer } from './tasks/sql-task.ts';
export { databaseFileOf, parseDataset, sqlTasks } from './tasks/task-set.ts';

interface SqlEpisodeState {
  /** This episode's connections in the query processes. */
  session: string;
  pool: QueryPool;
  databaseFile: string;
  /** The extension every connection of this episode loads, when double-quoted strings are on. */
  doubleQuotedStrings?: string;
  /** Spider/BIRD: keys and column names from tables.json, BIRD's column meanings. */
  docs?: DatabaseDocs;
  submitted?: PredictedQuery;
}

/** Text cells kept for grading (display cuts much shorter). */
const GRADED_CELL_CHARS = 10_000;
/** Gold results are the same for every episode of a task: computed once per process. */
const goldResults = new Map<string, Promise<QueryResult>>();
const GOLD_CACHE_LIMIT = 5_000;
const GOLD_SESSION = 'toolgym-gold';

function semanticsOf(config: SqlConfig): MatchSemantics {
  if (config.semantics !== 'auto') return config.semantics;
  return parseDataset(config.dataset)?.kind === 'bird' ? 'bird' : 'spider';
}

function doubleQuotedStringsOf(config: SqlConfig): boolean {
  return config.doubleQuotedStrings === 'auto' ? parseDataset(config.dataset) !== undefined : config.doubleQuotedStrings;
}

/** A query as it runs for grading: on Spider data, as the official evaluator rewrites it. */
function executedSql(config: SqlConfig, sql: string): string {
  return parseDataset(config.dataset)?.kind === 'spider' ? spiderExecutedSql(sql, { keepDistinct: config.keepDistinct }) : sql;
}

/** Which connection a query of this episode runs on: a session's, to its database, read as configured. */
function connectionOf(state: SqlEpisodeState, session = state.session) {
  return {
    session,
    database: state.databaseFile,
    ...(state.doubleQuotedStrings ? { doubleQuotedStrings: state.doubleQuotedStrings } : {}),
  };
}

/** Runs a model-written query: the guard first, then the episode's read-only connection. */
async function runModelQuery(
  state: SqlEpisodeState,
  config: SqlConfig,
  sql: string,
  maxRows: number,
  maxCellChars: number,
  signal?: AbortSignal,
) {
  checkReadOnlyQuery(sql);
  return state.pool.run(
    { ...connectionOf(state), sql, maxRows, maxRowsCounted: config.maxRowsCounted, maxCellChars },
    config.queryTimeoutMs,
    signal,
  );
}

/** Schema queries written by the environment itself (no guard needed), on the episode's connection. */
function metadataQuery(state: SqlEpisodeState, config: SqlConfig, signal: AbortSignal) {
  return (sql: string, maxRows: number) =>
    state.pool.run(
      { ...connectionOf(state), sql, maxRows, maxRowsCounted: maxRows, maxCellChars: GRADED_CELL_CHARS },
      config.queryTimeoutMs,
      signal,
    );
}

function goldResult(task: Task, config: SqlConfig, state: SqlEpisodeState): Promise<QueryResult> {
  const sql = executedSql(config, (task.answer as SqlAnswer).sql);
  const key = `${state.databaseFile}\u0000${state.doubleQuotedStrings ?? ''}\u0000${sql}`;
  let pending = goldResults.get(key);
  if (!pending) {
    if (goldResults.size >= GOLD_CACHE_LIMIT) goldResults.delete(goldResults.keys().next().value as string);
    pending = state.pool.run(
      {
        ...connectionOf(state, GOLD_SESSION),
        sql,
        maxRows: config.maxRowsGraded,
        maxRowsCounted: config.maxRowsGraded + 1,
        maxCellChars: GRADED_CELL_CHARS,
      },
      // The gold query is trusted but may be slow on big BIRD databases: give it more room.
      config.queryTimeoutMs * 4,
    );
    // A failed gold query must not poison the cache for later episodes.
    pending.catch(() => goldResults.delete(key));
    goldResults.set(key, pending);
  }
  return pending;
}

/** Executes a final query for grading; failures become the prediction's `error`. */
async function gradedRun(
  state: SqlEpisodeState,
  config: SqlConfig,
  sql: string,
  submitted: boolean,
): Promise<PredictedQuery> {
  try {
    const result = await runModelQuery(state, config, executedSql(config, sql), config.maxRowsGraded, GRADED_CELL_CHARS);
    if (result.rowCount > config.maxRowsGraded)
      return { sql, submitted, error: `more than ${config.maxRowsGraded} rows; not compared` };
    return { sql, submitted, rows: result.rows };
  } catch (error) {
    if (error instanceof QueryError) return { sql, submitted, error: `${error.code}: ${error.message}` };
    throw error;
  }
}

/** A query in the final text when the agent ended without `submit_answer`: a ```sql block, or the whole text if it is a query. */
function queryInText(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const block = /```(?:sql)?\s*\n([\s\S]*?)```/i.exec(text);
  const candidate = (block?.[1] ?? text).trim();
  return /^(select|with)\b/i.test(candidate) ? candidate : undefined;
}

/** Model-visible errors keep their code (`sql_refused`, `query_timeout`, …). */
function asToolError(error: unknown): never {
  if (error instanceof QueryError) throw new ToolError(error.message, error.code);
  throw error;
}

const SqlInput = z.object({
  sql: z.string().max(20_000).describe('One SQLite query (SELECT, or WITH … SELECT).'),
});

/**
 * sql@1 — multi-turn text-to-SQL against real SQLite databases. The agent explores the schema,
 * runs read-only queries, and submits one query; it is graded by executing it (BIRD or Spider
 * execution accuracy) plus Reasoning-SQL's partial rewards.
 */
export default defineEnvironment<SqlEpisodeState, SqlConfig>({
  id: 'sql',
  version: 1,
  description:
    'Answer a question about a SQLite database by writing SQL: explore the schema with list_tables and describe_table, test queries with execute_sql, then submit_answer with the final query.',
  config: SqlConfigSchema,
  tasks: sqlTasks,
  tools: {
    list_tables: {
      description: 'List the tables of the database, each with a one-line description.',
      input: z.object({}),
      run: async (_args, { episode, signal }) => {
        const run = metadataQuery(episode.state, episode.config, signal);
        return listTables(run).catch(asToolError);
      },
    },
    describe_table: {
      description:
        'Show a table: its CREATE statement with column comments, its row count and three sample rows.',
      input: z.object({
        table: z.string().min(1).max(200).describe('Table name, as listed by list_tables.'),
      }),
      run: async ({ table }, { episode, signal }) => {
        const run = metadataQuery(episode.state, episode.config, signal);
        const { docs } = episode.state;
        return describeTable(run, table, {
          maxCellChars: episode.config.maxCellChars,
          ...(docs ? { notes: (name: string) => tableNotes(docs, name) } : {}),
        }).catch(asToolError);
      },
    },
    execute_sql: {
      description:
        'Run one read-only SQL query and see the result: column names, the first rows, the row count, and a marker when rows were cut. Writes, ATTACH and settings changes are refused.',
      input: SqlInput,
      run: async ({ sql }, { episode, signal }) => {
        const { state, config } = episode;
        try {
          const result = await runModelQuery(
            state,
            config,
            sql,
            config.maxRowsShown,
            config.maxCellChars,
            signal,
          );
          return formatResult(result, { maxRows: config.maxRowsShown, maxCellChars: config.maxCellChars });
        } catch (error) {
          return asToolError(error);
        }
      },
    },
    submit_answer: {
      description:
        'Submit your final SQL query. It is executed and compared with the correct answer. Ends the episode.',
      input: SqlInput,
      run: async ({ sql }, { episode }) => {
        const predicted = await gradedRun(episode.state, episode.config, sql, true);
        episode.state.submitted = predicted;
        episode.terminate(sql);
        return predicted.error
          ? `Answer recorded. Note: the query did not run (${predicted.error}).`
          : `Answer recorded: the query returned ${predicted.rows?.length ?? 0} row(s).`;
      },
    },
  },
  setup: (task, { config }) => {
    const databaseFile = databaseFileOf(task, config);
    const benchmark = parseDataset(config.dataset);
    const pool = sharedQueryPool(config.executors);
    pool.warm();
    return {
      session: randomUUID(),
      pool,
      databaseFile,
      ...(doubleQuotedStringsOf(config) ? { doubleQuotedStrings: doubleQuotedStringsExtension() } : {}),
      ...(benchmark
        ? { docs: benchmarkDocs(benchmark.kind, benchmark.dir, (task.answer as SqlAnswer).database, databaseFile) }
        : {}),
    };
  },
  teardown: (state) => state.pool.release(state.session),
  grade: async ({ episode, finalText }) => {
    const { state, config, task } = episode;
    const answer = task.answer as SqlAnswer;
    // The gold query failing is the dataset's fault, not the agent's: the episode ends with that reason.
    const gold = await goldResult(task, config, state).catch((error: unknown) => {
      if (!(error instanceof QueryError)) throw error;
      throw new ToolGymError(
        'gold_query_failed',
        `the gold query of task '${task.id}' failed (${error.code}): ${error.message}`,
        'check the dataset, or raise queryTimeoutMs for large databases',
      );
    });
    let predicted = state.submitted;
    const fromText = predicted ? undefined : queryInText(finalText);
    if (fromText) predicted = await gradedRun(state, config, fromText, false);
    return gradeSql({
      goldSql: answer.sql,
      executedGoldSql: executedSql(config, answer.sql),
      goldRows: gold.rows as SqlValue[][],
      ...(predicted ? { predicted } : {}),
      semantics: semanticsOf(config),
      weights: config.weights,
    });
  },
  // Agent-RLVR's guidance: the submitted query's error (or that its result differs) and the tables the gold query reads.
  guidance: async ({ episode }) => {
    const { state, config, task } = episode;
    const goldTables = [...(schemaItems((task.answer as SqlAnswer).sql) ?? [])]
      .filter((item) => item.startsWith('table:'))
      .map((item) => item.slice('table:'.length));
    const run = metadataQuery(state, config, new AbortController().signal);
    return sqlGuidance(state.submitted, await tableColumns(run, goldTables));
  },
  rewardRange: [0, 1],
  // A submitted query that runs: syntax and format are all that form earns.
  formatFloor: (config) => {
    const w = config.weights;
    return (w.syntax + w.format) / (w.execution + w.syntax + w.schema_linking + w.ngram + w.format);
  },
  redteam: async (config) => (await import('../redteam/index.ts')).sqlAttacks(config),
  limits: (config) => ({
    maxTurns: config.maxTurns,
    // A backstop only: the query pool stops an overrunning query itself after queryTimeoutMs.
    toolTimeoutMs: config.queryTimeoutMs * 3 + 5_000,
    maxToolOutputBytes: 8_192,
  }),
  // A whole database is held out: the built-in test database, or Spider's and BIRD's dev
  // databases, which their train files never use.
  heldOut: () => ({ unit: 'database', unitsOf: (task) => [task.meta.database as string] }),
  oracle: (task) => {
    const { sql } = task.answer as SqlAnswer;
    return [
      { name: 'execute_sql', arguments: { sql } },
      { name: 'submit_answer', arguments: { sql } },
    ];
  },
});
