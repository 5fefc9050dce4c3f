import { describe, expect, it } from 'vitest';
import { QueryError } from './errors.ts';
import { checkReadOnlyQuery } from './sql-guard.ts';

function refusal(sql: string): QueryError {
  try {
    checkReadOnlyQuery(sql);
  } catch (error) {
    if (error instanceof QueryError) return error;
    throw error;
  }
  throw new Error(`'${sql}' was not refused`);
}

describe('the read-only guard', () => {
  const refused: Array<[string, RegExp]> = [
    ['DROP TABLE countries', /DROP statements are refused.*read-only/],
    ["UPDATE countries SET name = 'x'", /UPDATE statements are refused/],
    ["INSERT INTO countries (code) VALUES ('X')", /INSERT statements are refused/],
    ['DELETE FROM countries', /DELETE statements are refused/],
    ["REPLACE INTO languages VALUES ('x', 'y')", /REPLACE statements are refused/],
    ['CREATE TABLE x (a)', /CREATE statements are refused/],
    ['CREATE TEMP TABLE x AS SELECT 1', /CREATE statements are refused/],
    ['ALTER TABLE countries ADD COLUMN x', /ALTER statements are refused/],
    ["VACUUM INTO '/tmp/copy.sqlite'", /VACUUM statements are refused/],
    ['BEGIN', /BEGIN statements are refused/],
    [
      "ATTACH DATABASE '/tmp/other.sqlite' AS other",
      /ATTACH is refused: an episode may only read its own database/,
    ],
    ['detach other', /DETACH is refused/],
    ['PRAGMA journal_mode = WAL', /PRAGMA journal_mode = … is refused/],
    ['PRAGMA query_only = 0', /PRAGMA query_only = … is refused/],
    ['PRAGMA writable_schema=1', /PRAGMA writable_schema = … is refused/],
    ['PRAGMA optimize', /PRAGMA optimize is refused.*Read-only pragmas: table_info/],
    ["SELECT load_extension('/tmp/evil.so')", /load_extension\(\) is refused/],
    ["select * from t where x = LOAD_EXTENSION ('a')", /load_extension\(\) is refused/],
    ['SELECT 1; DROP TABLE countries', /Only one statement per call is allowed; got 2/],
    ['EXPLAIN SELECT 1', /Statements starting with 'EXPLAIN' are not supported/],
  ];
  for (const [sql, message] of refused) {
    it(`refuses ${sql}`, () => {
      const error = refusal(sql);
      expect(error.code).toBe('sql_refused');
      expect(error.message).toMatch(message);
    });
  }

  it('says an empty query is empty', () => {
    expect(refusal('  -- nothing\n ;').code).toBe('empty_query');
  });

  const allowed = [
    'SELECT name FROM countries',
    'select 1;',
    '  -- a comment\nWITH x AS (SELECT 1) SELECT * FROM x',
    'VALUES (1), (2)',
    'PRAGMA table_info(countries)',
    "SELECT 'DROP TABLE countries; ATTACH' AS text",
    'SELECT "load_extension" FROM t',
  ];
  for (const sql of allowed) {
    it(`allows ${sql.replace(/\s+/g, ' ')}`, () => {
      expect(() => checkReadOnlyQuery(sql)).not.toThrow();
    });
  }
});
