import { describe, expect, it } from 'vitest';
import { jaccard, ngramReward, schemaItems, schemaLinkingReward, sqlTokens } from './partial-rewards.ts';

describe('schema linking (Jaccard of tables and columns, parsed by node-sql-parser)', () => {
  it('resolves aliases to table names', () => {
    const items = schemaItems('SELECT c.name FROM countries AS c JOIN borders b ON b.country_code = c.code');
    expect(items).toEqual(
      new Set(['table:countries', 'table:borders', 'column:name', 'column:country_code', 'column:code']),
    );
  });

  it('scores identical schema use 1 whatever the aliases and formatting', () => {
    expect(
      schemaLinkingReward(
        'select x.name from countries x where x.region = 1',
        'SELECT name FROM countries WHERE region = 2',
      ),
    ).toBe(1);
  });

  it('scores partial overlap as |A∩B| / |A∪B|', () => {
    // pred {table:countries, column:name}; gold {table:countries, column:name, column:region}
    expect(
      schemaLinkingReward('SELECT name FROM countries', "SELECT name FROM countries WHERE region = 'Asia'"),
    ).toBeCloseTo(2 / 3);
    // pred {table:borders, column:country_code}; gold {table:countries, column:name}
    expect(schemaLinkingReward('SELECT country_code FROM borders', 'SELECT name FROM countries')).toBe(0);
  });

  it('gives 0 to a query the parser cannot read', () => {
    expect(schemaItems('SELEC name FROM countries')).toBeUndefined();
    expect(schemaLinkingReward('SELEC name FROM countries', 'SELECT name FROM countries')).toBe(0);
  });
});

describe('n-gram similarity (Jaccard of token bigrams)', () => {
  it('ignores case, whitespace and comments', () => {
    expect(ngramReward('select  name\nFROM countries -- hi', 'SELECT name FROM countries')).toBe(1);
  });

  it('counts shared bigrams', () => {
    // a: {select name, name from, from t}; b: {select name, name from, from u}
    expect(ngramReward('SELECT name FROM t', 'SELECT name FROM u')).toBeCloseTo(2 / 4);
    expect(ngramReward('SELECT 1', 'DELETE FROM x')).toBe(0);
  });

  it('keeps string literals as written', () => {
    expect(sqlTokens("SELECT 'Asia' FROM T")).toEqual(['select', "'Asia'", 'from', 't']);
  });

  it('treats two empty sets as identical', () => {
    expect(jaccard(new Set(), new Set())).toBe(1);
  });
});
