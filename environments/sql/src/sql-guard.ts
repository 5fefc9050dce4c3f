import { QueryError } from './errors.ts';
import { lexSql, splitStatements } from './sql-lexer.ts';

/** Pragmas that only read the schema; every other pragma (and any assignment) is refused. */
const READ_ONLY_PRAGMAS = new Set([
  'table_info',
  'table_xinfo',
  'table_list',
  'index_list',
  'index_info',
  'index_xinfo',
  'foreign_key_list',
]);

const WRITE_KEYWORDS = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'REPLACE',
  'UPSERT',
  'DROP',
  'CREATE',
  'ALTER',
  'VACUUM',
  'REINDEX',
  'ANALYZE',
  'BEGIN',
  'COMMIT',
  'END',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
]);

const ONLY_QUERIES = 'The database is read-only: only SELECT queries (optionally starting with WITH) run.';

/**
 * The first line of the read-only defence, run before a query reaches SQLite: one statement,
 * and it must be a query. The executor adds the second line (`stmt.readonly`, a read-only
 * connection with `query_only`), which also catches `WITH … DELETE`.
 */
export function checkReadOnlyQuery(sql: string): void {
  const statements = splitStatements(lexSql(sql));
  const first = statements[0];
  if (!first) throw new QueryError('empty_query', 'The query is empty. Pass one SELECT statement in `sql`.');
  if (statements.length > 1) {
    throw new QueryError(
      'sql_refused',
      `Only one statement per call is allowed; got ${statements.length}. Remove the extra statements.`,
    );
  }
  for (let i = 0; i < first.length; i++) {
    const token = first[i];
    if (
      token?.kind === 'word' &&
      token.text.toLowerCase() === 'load_extension' &&
      first[i + 1]?.text === '('
    ) {
      throw new QueryError(
        'sql_refused',
        'load_extension() is refused: queries may not load code into the database engine.',
      );
    }
  }
  const keyword = first[0]?.kind === 'word' ? (first[0].text.toUpperCase() ?? '') : '';
  if (keyword === 'SELECT' || keyword === 'WITH' || keyword === 'VALUES') return;
  if (keyword === 'ATTACH' || keyword === 'DETACH') {
    throw new QueryError('sql_refused', `${keyword} is refused: an episode may only read its own database.`);
  }
  if (keyword === 'PRAGMA') {
    const name = (first[1]?.text ?? '').toLowerCase();
    const assigns = first.some((t) => t.kind === 'symbol' && t.text === '=');
    if (assigns || !READ_ONLY_PRAGMAS.has(name)) {
      throw new QueryError(
        'sql_refused',
        `PRAGMA ${name || '(none)'}${assigns ? ' = …' : ''} is refused: pragmas that change settings are not allowed. Read-only pragmas: ${[...READ_ONLY_PRAGMAS].join(', ')}.`,
      );
    }
    return;
  }
  if (WRITE_KEYWORDS.has(keyword))
    throw new QueryError('sql_refused', `${keyword} statements are refused. ${ONLY_QUERIES}`);
  throw new QueryError(
    'sql_refused',
    `Statements starting with '${first[0]?.text ?? ''}' are not supported. ${ONLY_QUERIES}`,
  );
}
