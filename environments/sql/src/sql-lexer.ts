/**
 * A small SQLite lexer: enough to find statement boundaries and keywords for the read-only
 * guard, and to cut queries into tokens for the n-gram reward. It does not parse; schema
 * linking uses node-sql-parser.
 */
export type SqlTokenKind = 'word' | 'quoted' | 'string' | 'number' | 'symbol' | 'parameter';

export interface SqlToken {
  kind: SqlTokenKind;
  /** Source text; for `word`, as written (compare case-insensitively). */
  text: string;
  /** Offset of the token's first character in the source. */
  start: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;
const TWO_CHAR_SYMBOLS = new Set(['<=', '>=', '<>', '!=', '==', '||', '<<', '>>', '->']);

/** Tokens of `sql`, comments and whitespace dropped. Unterminated strings run to the end. */
export function lexSql(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  const n = sql.length;
  const readQuoted = (close: string) => {
    const start = i;
    i++;
    while (i < n) {
      if (sql[i] === close) {
        if (close !== ']' && sql[i + 1] === close) {
          i += 2;
          continue;
        }
        i++;
        break;
      }
      i++;
    }
    return sql.slice(start, i);
  };
  while (i < n) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'") {
      tokens.push({ kind: 'string', start: i, text: readQuoted("'") });
    } else if (c === '"' || c === '`') {
      tokens.push({ kind: 'quoted', start: i, text: readQuoted(c) });
    } else if (c === '[') {
      tokens.push({ kind: 'quoted', start: i, text: readQuoted(']') });
    } else if (DIGIT.test(c) || (c === '.' && DIGIT.test(sql[i + 1] ?? ''))) {
      const start = i;
      while (i < n && /[0-9A-Za-z_.]/.test(sql[i] as string)) {
        if ((sql[i] === 'e' || sql[i] === 'E') && (sql[i + 1] === '+' || sql[i + 1] === '-')) i++;
        i++;
      }
      tokens.push({ kind: 'number', start, text: sql.slice(start, i) });
    } else if (WORD_START.test(c)) {
      const start = i;
      while (i < n && WORD_PART.test(sql[i] as string)) i++;
      tokens.push({ kind: 'word', start, text: sql.slice(start, i) });
    } else if ((c === '?' || c === ':' || c === '@' || c === '$') && i + 1 <= n) {
      const start = i;
      i++;
      while (i < n && WORD_PART.test(sql[i] as string)) i++;
      tokens.push({ kind: 'parameter', start, text: sql.slice(start, i) });
    } else {
      const two = sql.slice(i, i + 2);
      if (TWO_CHAR_SYMBOLS.has(two)) {
        tokens.push({ kind: 'symbol', start: i, text: two });
        i += 2;
      } else {
        tokens.push({ kind: 'symbol', start: i, text: c });
        i++;
      }
    }
  }
  return tokens;
}

/**
 * `sql` with some tokens replaced and everything else (whitespace, comments, other tokens) kept
 * as written: `replace` returns the new text of a token, or undefined to keep it.
 */
export function rewriteTokens(
  sql: string,
  replace: (token: SqlToken, index: number, tokens: readonly SqlToken[]) => string | undefined,
): string {
  const tokens = lexSql(sql);
  let out = '';
  let at = 0;
  tokens.forEach((token, index) => {
    const text = replace(token, index, tokens);
    if (text === undefined) return;
    out += sql.slice(at, token.start) + text;
    at = token.start + token.text.length;
  });
  return out + sql.slice(at);
}

/** The statements of `sql` (split on `;` outside strings), each as its tokens; empty ones dropped. */
export function splitStatements(tokens: readonly SqlToken[]): SqlToken[][] {
  const statements: SqlToken[][] = [[]];
  for (const token of tokens) {
    if (token.kind === 'symbol' && token.text === ';') statements.push([]);
    else statements[statements.length - 1]?.push(token);
  }
  return statements.filter((s) => s.length > 0);
}
