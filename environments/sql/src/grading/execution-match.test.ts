import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { SqlValue } from '../executor/messages.ts';
import { birdMatch, executionMatch, orderMatters, spiderMatch } from './execution-match.ts';

// A real SQLite database, so the pairs below compare what SQLite actually returns.
const db = new Database(':memory:');
db.exec(`
  CREATE TABLE t (id INTEGER, name TEXT, score REAL, team TEXT);
  INSERT INTO t VALUES (1, 'ann', 1.0, 'red'), (2, 'bob', 2.5, NULL), (3, 'cy', 2.5, 'blue'), (4, 'dee', NULL, 'red');
`);
afterAll(() => db.close());
const rows = (sql: string) => db.prepare(sql).raw(true).all() as SqlValue[][];

/** [gold, predicted, bird verdict, spider verdict] — the right answer is known for each pair. */
const PAIRS: Array<[string, string, string, boolean, boolean]> = [
  [
    'row order differs, gold unordered',
    'SELECT name FROM t',
    'SELECT name FROM t ORDER BY name DESC',
    true,
    true,
  ],
  ['column order differs', 'SELECT id, name FROM t', 'SELECT name, id FROM t', false, true],
  [
    'duplicates differ',
    'SELECT team FROM t WHERE team IS NOT NULL',
    'SELECT DISTINCT team FROM t WHERE team IS NOT NULL',
    true,
    false,
  ],
  [
    'NULL rows kept',
    'SELECT team FROM t',
    'SELECT team FROM t WHERE team IS NOT NULL UNION ALL SELECT NULL',
    true,
    true,
  ],
  ['NULL is not a value', 'SELECT team FROM t WHERE id = 2', "SELECT '' ", false, false],
  ['1 vs 1.0', 'SELECT score FROM t WHERE id = 1', 'SELECT 1', true, true],
  ['integer vs text', 'SELECT 1', "SELECT '1'", false, false],
  // Python compares floats exactly: BIRD's set(...) == set(...) and Spider's result_eq both say no.
  ['0.1 + 0.2 is not 0.3', 'SELECT 0.3', 'SELECT 0.1 + 0.2', false, false],
  ['the same double twice', 'SELECT 0.1 + 0.2', 'SELECT 0.2 + 0.1', true, true],
  ['real numeric difference', 'SELECT 2.0 / 3', 'SELECT ROUND(2.0 / 3, 2)', false, false],
  [
    'gold ORDER BY, wrong order',
    'SELECT name FROM t ORDER BY id',
    'SELECT name FROM t ORDER BY id DESC',
    true,
    false,
  ],
  [
    'gold ORDER BY, same order other columns order',
    'SELECT name, id FROM t ORDER BY id',
    'SELECT id, name FROM t ORDER BY id',
    false,
    true,
  ],
  ['extra column', 'SELECT name FROM t', 'SELECT name, id FROM t', false, false],
  ['missing row', 'SELECT name FROM t', 'SELECT name FROM t WHERE id < 4', false, false],
  ['both empty', 'SELECT name FROM t WHERE id > 9', 'SELECT id FROM t WHERE 0', true, true],
];

describe('execution accuracy on hand-built pairs', () => {
  for (const [what, gold, predicted, bird, spider] of PAIRS) {
    it(`${what}: bird ${bird}, spider ${spider}`, () => {
      expect(executionMatch(rows(gold), rows(predicted), 'bird', gold)).toBe(bird);
      expect(executionMatch(rows(gold), rows(predicted), 'spider', gold)).toBe(spider);
    });
  }

  it("Spider orders exactly when the gold query contains 'order by' (any case, one space), as its evaluator tests", () => {
    expect(orderMatters('select a from t ORDER BY a')).toBe(true);
    expect(orderMatters("SELECT a FROM t WHERE b = 'order by'")).toBe(true);
    expect(orderMatters('SELECT a FROM t ORDER\nBY a')).toBe(false);
    expect(orderMatters('SELECT border_by FROM t')).toBe(false);
  });

  it('Spider finds the column permutation even when two columns share values', () => {
    const gold: SqlValue[][] = [
      [1, 1, 'a'],
      [2, 1, 'b'],
    ];
    const predicted: SqlValue[][] = [
      ['a', 1, 1],
      ['b', 1, 2],
    ];
    expect(spiderMatch(gold, predicted, false)).toBe(true);
    expect(
      spiderMatch(
        gold,
        [
          ['a', 2, 1],
          ['b', 1, 1],
        ],
        false,
      ),
    ).toBe(false);
  });

  it('BIRD is a set comparison: duplicates collapse, column order counts', () => {
    expect(birdMatch([[1], [1], [2]], [[2], [1]])).toBe(true);
    expect(birdMatch([[1, 'x']], [['x', 1]])).toBe(false);
  });

  it('blobs compare by content', () => {
    expect(birdMatch([[new Uint8Array([1, 2])]], [[new Uint8Array([1, 2])]])).toBe(true);
    expect(birdMatch([[new Uint8Array([1, 2])]], [[new Uint8Array([2, 1])]])).toBe(false);
  });
});
