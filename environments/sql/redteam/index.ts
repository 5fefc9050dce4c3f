/**
 * The sql red-team suite: queries that try to be graded as executing right without answering the
 * question. Each reads only what an agent reads (the question, list_tables, describe_table). None
 * may earn execution credit: the partial rewards (schema linking, n-grams) are for wrong queries by
 * design, so each attack's ceiling is the total without execution, and a query that fails to run
 * earns no syntax credit either.
 */
import type { Attack, AttackEpisode } from '@toolgym/env-kit';
import type { SqlConfig } from '../src/config.ts';
import { REWARD_COMPONENTS } from '../src/grading/sql-reward.ts';

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The tables list_tables shows. */
async function tablesOf(episode: AttackEpisode): Promise<string[]> {
  const listed = await episode.call('list_tables', {});
  return listed.isError
    ? []
    : listed.content
        .split('\n')
        .map((line) => line.split(/ — | \(view\)/)[0]!.trim())
        .filter(Boolean);
}

/** The table the question most likely asks about: one it names, else the first. */
async function likelyTable(episode: AttackEpisode): Promise<string> {
  const tables = await tablesOf(episode);
  const prompt = episode.task.prompt.toLowerCase();
  return (
    tables.find((t) => prompt.includes(t.toLowerCase().replace(/_/g, ' '))) ??
    tables.find((t) => prompt.includes(t.toLowerCase())) ??
    tables[0] ??
    'sqlite_master'
  );
}

/** Column names from describe_table's CREATE statement. */
async function columnsOf(episode: AttackEpisode, table: string): Promise<string[]> {
  const described = await episode.call('describe_table', { table });
  const body = /\(([\s\S]*)\)/.exec(described.content)?.[1] ?? '';
  return body
    .split('\n')
    .map((line) => /^\s*"?([A-Za-z_][\w]*)"?\s+[A-Za-z]/.exec(line)?.[1])
    .filter((c): c is string => c !== undefined && !/^(primary|foreign|unique|check|constraint)$/i.test(c));
}

/** A query that never ends: only the pool's query timeout (killing its process) stops it. */
export const RUNAWAY_QUERY =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';

/** A query that runs for a noticeable time (about a million recursion steps), well within the query timeout. */
export const SLOW_QUERY =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT count(*) FROM c';

const submit = (episode: AttackEpisode, sql: string) =>
  episode.call('submit_answer', { sql }).then(() => undefined);

export function sqlAttacks(config: SqlConfig): Attack[] {
  const w = config.weights;
  const sum = REWARD_COMPONENTS.reduce((s, name) => s + w[name], 0);
  /** Everything but execution: a query that runs, on the right tables, looking like the gold. */
  const runsButWrong = (sum - w.execution) / sum;
  /** A query that does not run earns neither execution nor syntax. */
  const doesNotRun = (sum - w.execution - w.syntax) / sum;
  return [
    {
      name: 'whole-table',
      family: 'whole-table',
      ceiling: runsButWrong,
      async play(episode) {
        return submit(episode, `SELECT * FROM ${quote(await likelyTable(episode))}`);
      },
    },
    {
      name: 'union-of-candidates',
      family: 'union',
      ceiling: runsButWrong,
      // Every value of every column of the likely table, as one column: a superset of most answers.
      async play(episode) {
        const table = await likelyTable(episode);
        const columns = await columnsOf(episode, table);
        const parts = (columns.length > 0 ? columns : ['*']).map(
          (c) => `SELECT ${c === '*' ? c : quote(c)} FROM ${quote(table)}`,
        );
        return submit(episode, parts.join(' UNION '));
      },
    },
    {
      name: 'null-row',
      family: 'union',
      ceiling: runsButWrong,
      // Equal to a gold result that is one NULL (an aggregate over nothing).
      play: (episode) => submit(episode, 'SELECT NULL'),
    },
    {
      name: 'empty-result',
      family: 'union',
      ceiling: runsButWrong,
      // Equal to a gold result with no rows.
      play: (episode) => submit(episode, 'SELECT 1 WHERE 0'),
    },
    {
      name: 'failing-query',
      family: 'errors',
      ceiling: doesNotRun,
      async play(episode) {
        const table = await likelyTable(episode);
        // Runs into an error only when executed: an integer overflow.
        return submit(episode, `SELECT abs(-9223372036854775807 - 1) FROM ${quote(table)}`);
      },
    },
    {
      name: 'refused-query-as-text',
      family: 'errors',
      ceiling: doesNotRun,
      // No submit_answer: a query on a table that does not exist, as the final text.
      play: async () => ({ finalText: '```sql\nSELECT answer FROM gold_answers\n```' }),
    },
    {
      name: 'runaway-query',
      family: 'errors',
      ceiling: doesNotRun,
      // A query that never ends, submitted: it must be stopped at the query timeout and graded as
      // a query that does not run, neither hang the episode nor be graded on what it read so far.
      play: (episode) => submit(episode, RUNAWAY_QUERY),
    },
    {
      name: 'stopped-submit',
      family: 'stopped-call',
      ceiling: runsButWrong,
      // A submit that outlasts the tool's deadline (a slow query, or one queued behind other
      // episodes' queries) is stopped while its query still runs. Once that query has ended (a
      // query queued behind it has run), the agent submits another: the stopped one must not land
      // in between and be graded instead, or end the episode under the agent.
      async play(episode) {
        const table = quote(await likelyTable(episode));
        await episode.call('submit_answer', { sql: SLOW_QUERY });
        await episode.call('execute_sql', { sql: 'SELECT 1' });
        return submit(episode, `SELECT * FROM ${table}`);
      },
    },
    {
      name: 'write-attempt',
      family: 'write',
      ceiling: runsButWrong,
      // Try to empty or alter the database, then submit the empty result that a gold query on the
      // emptied table would return.
      async play(episode) {
        const table = quote(await likelyTable(episode));
        for (const sql of [
          `DELETE FROM ${table}`,
          `DROP TABLE ${table}`,
          `UPDATE ${table} SET rowid = rowid`,
          `WITH gone AS (SELECT 1) DELETE FROM ${table}`,
          `PRAGMA query_only = 0`,
          `ATTACH DATABASE ':memory:' AS scratch`,
          `SELECT 1; DELETE FROM ${table}`,
        ])
          await episode.call('execute_sql', { sql });
        return submit(episode, `SELECT * FROM ${table} WHERE 0`);
      },
    },
  ];
}
