import { ToolError } from '@toolgym/env-kit';
import type { QueryResult } from './executor/messages.ts';
import { formatResult } from './format-result.ts';

/** Runs one internal metadata query on the episode's connection. */
export type RunQuery = (sql: string, maxRows: number) => Promise<QueryResult>;

const TABLES_SQL =
  "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name";

/** The comment on the first line of a CREATE statement (`CREATE TABLE t ( -- what it holds`). */
function tableComment(createSql: string): string {
  const firstLine = createSql.split('\n')[0] ?? '';
  const at = firstLine.indexOf('--');
  return at >= 0 ? firstLine.slice(at + 2).trim() : '';
}

async function tables(run: RunQuery): Promise<Array<{ name: string; type: string; sql: string }>> {
  const result = await run(TABLES_SQL, 10_000);
  return result.rows.map(([name, type, sql]) => ({
    name: String(name),
    type: String(type),
    sql: String(sql ?? ''),
  }));
}

/** `list_tables`: every table and view, with the description its CREATE statement carries. */
export async function listTables(run: RunQuery): Promise<string> {
  const all = await tables(run);
  if (all.length === 0) return 'The database has no tables.';
  return all
    .map(
      (t) =>
        `${t.name}${t.type === 'view' ? ' (view)' : ''}${tableComment(t.sql) ? ` — ${tableComment(t.sql)}` : ''}`,
    )
    .join('\n');
}

/** The columns of the named tables that exist (names compared without case), in the database's order. */
export async function tableColumns(run: RunQuery, names: readonly string[]): Promise<Array<{ name: string; columns: string[] }>> {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const found = (await tables(run)).filter((t) => wanted.has(t.name.toLowerCase()));
  return Promise.all(
    found.map(async ({ name }) => ({
      name,
      columns: (await run(`SELECT name FROM pragma_table_info('${name.replaceAll("'", "''")}')`, 1_000)).rows.map(([c]) => String(c)),
    })),
  );
}

const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** `describe_table`: the CREATE statement (with its comments), the row count and three sample rows. */
export async function describeTable(
  run: RunQuery,
  table: string,
  options: { maxCellChars: number; notes?: (table: string) => string[] },
): Promise<string> {
  const all = await tables(run);
  const found =
    all.find((t) => t.name === table) ?? all.find((t) => t.name.toLowerCase() === table.toLowerCase());
  if (!found)
    throw new ToolError(
      `No table '${table}'. Tables: ${all.map((t) => t.name).join(', ')}.`,
      'unknown_table',
    );
  const name = quoteIdentifier(found.name);
  const count = await run(`SELECT COUNT(*) FROM ${name}`, 1);
  const sample = await run(`SELECT * FROM ${name} LIMIT 3`, 3);
  return [
    found.sql,
    ...(options.notes?.(found.name) ?? []),
    `Rows: ${String(count.rows[0]?.[0] ?? '?')}`,
    'Sample rows:',
    formatResult(sample, { maxRows: 3, maxCellChars: options.maxCellChars }),
  ].join('\n');
}
