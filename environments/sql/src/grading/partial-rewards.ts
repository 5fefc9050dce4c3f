import parserModule from 'node-sql-parser';
import { lexSql, rewriteTokens } from '../sql-lexer.ts';

const parser = new parserModule.Parser();

/** |A ∩ B| / |A ∪ B|; two empty sets are identical (1). */
export function jaccard<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let shared = 0;
  for (const item of a) if (b.has(item)) shared++;
  return shared / (a.size + b.size - shared);
}

/**
 * The query in a form node-sql-parser's SQLite grammar reads, with the same tables and columns.
 * The grammar lacks INTERSECT and EXCEPT (read as UNION: which set operation joins two selects does
 * not change what they refer to, nested or not) and windows without PARTITION BY (given a
 * `PARTITION BY NULL`, which names nothing).
 */
export function parsableSql(sql: string): string {
  return rewriteTokens(sql, (token, i, tokens) => {
    const word = token.kind === 'word' ? token.text.toUpperCase() : '';
    if (word === 'INTERSECT' || word === 'EXCEPT') return 'UNION';
    const opensWindow = token.text === '(' && tokens[i - 1]?.text.toUpperCase() === 'OVER';
    const next = tokens[i + 1];
    if (!opensWindow || (next?.kind === 'word' && next.text.toUpperCase() === 'PARTITION')) return undefined;
    return next?.text === ')' ? '(PARTITION BY NULL' : '(PARTITION BY NULL ';
  });
}

/**
 * The tables and columns a query refers to, from node-sql-parser's AST (aliases resolved to
 * table names): `table:countries`, `column:name`. Columns are keyed by name alone because the
 * parser cannot always tell which table an unqualified column belongs to. Undefined when the
 * parser cannot read the query.
 */
export function schemaItems(sql: string): Set<string> | undefined {
  try {
    // One parse gives both lists (tableList/columnList would parse twice).
    const { tableList, columnList } = parser.parse(parsableSql(sql), { database: 'sqlite' });
    const items = new Set<string>();
    for (const entry of tableList) {
      const table = entry.split('::')[2];
      if (table && table !== 'null') items.add(`table:${table.toLowerCase()}`);
    }
    for (const entry of columnList) {
      const column = entry.split('::')[2];
      if (column && column !== '(.*)' && column !== '*') items.add(`column:${column.toLowerCase()}`);
    }
    return items;
  } catch {
    return undefined;
  }
}

/** Gold queries repeat across the episodes of a task: their schema items are parsed once. */
const goldItems = new Map<string, Set<string> | undefined>();
const GOLD_ITEMS_LIMIT = 10_000;

function goldSchemaItems(sql: string): Set<string> | undefined {
  if (goldItems.has(sql)) return goldItems.get(sql);
  if (goldItems.size >= GOLD_ITEMS_LIMIT) goldItems.clear();
  const items = schemaItems(sql);
  goldItems.set(sql, items);
  return items;
}

/**
 * Reasoning-SQL's schema-linking reward (Pourreza et al. 2025, arXiv:2503.23157, §3): Jaccard
 * similarity of the schema items used by the predicted and the gold query. A query the parser
 * cannot read scores 0 (if the gold itself is unreadable, nothing can be linked: 0 as well).
 */
export function schemaLinkingReward(predictedSql: string, goldSql: string): number {
  const predicted = schemaItems(predictedSql);
  const gold = goldSchemaItems(goldSql);
  if (!predicted || !gold) return 0;
  return jaccard(predicted, gold);
}

/** Lower-cased tokens (keywords and identifiers case-folded; string literals kept as written). */
export function sqlTokens(sql: string): string[] {
  return lexSql(sql).map((t) => (t.kind === 'string' ? t.text : t.text.toLowerCase()));
}

function bigrams(tokens: readonly string[]): Set<string> {
  const grams = new Set<string>();
  for (let i = 0; i + 1 < tokens.length; i++) grams.add(`${tokens[i]}\u0000${tokens[i + 1]}`);
  return grams;
}

/**
 * Reasoning-SQL's n-gram similarity reward (arXiv:2503.23157, §3): Jaccard similarity of the
 * token bigrams of the predicted and gold queries.
 */
export function ngramReward(predictedSql: string, goldSql: string): number {
  return jaccard(bigrams(sqlTokens(predictedSql)), bigrams(sqlTokens(goldSql)));
}
