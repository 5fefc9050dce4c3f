import { describe, expect, it } from 'vitest';
import { SqlConfigSchema } from '../config.ts';
import { gradeSql } from './sql-reward.ts';

const weights = SqlConfigSchema.parse({}).weights;
const gold = "SELECT name FROM countries WHERE region = 'Asia' ORDER BY name";
const goldRows = [['China'], ['India']];

describe('the Reasoning-SQL reward', () => {
  it('uses the paper weighting by default: execution 3, each partial reward 1', () => {
    expect(weights).toEqual({ execution: 3, syntax: 1, schema_linking: 1, ngram: 1, format: 1 });
  });

  it('gives a correct submitted answer the full reward, even if written differently', () => {
    const r = gradeSql({
      goldSql: gold,
      goldRows,
      predicted: {
        sql: "select c.name from countries c where c.region='Asia' order by 1",
        rows: goldRows,
        submitted: true,
      },
      semantics: 'spider',
      weights,
    });
    expect(r.components.execution).toBe(1);
    expect(r.components.ngram).toBeLessThan(1);
    expect(r.total).toBe(1);
  });

  it('lets partial rewards separate wrong answers but never reach a right one', () => {
    const close = gradeSql({
      goldSql: gold,
      goldRows,
      predicted: { sql: gold.replace('Asia', 'Europe'), rows: [['France']], submitted: true },
      semantics: 'spider',
      weights,
    });
    const broken = gradeSql({
      goldSql: gold,
      goldRows,
      predicted: { sql: 'SELECT nme FROM countrie', error: 'sql_error: no such table', submitted: true },
      semantics: 'spider',
      weights,
    });
    expect(close.components).toMatchObject({ execution: 0, syntax: 1, schema_linking: 1, format: 1 });
    expect(broken.components).toMatchObject({ execution: 0, syntax: 0, format: 1 });
    expect(close.total).toBeGreaterThan(broken.total);
    // The best a wrong answer can do: every partial reward at 1 → 4 of 7.
    expect(close.total).toBeLessThanOrEqual(4 / 7);
    expect(close.total).toBeGreaterThan(3 / 7);
  });

  it('scores no answer 0 and an answer read from the final text without the format reward', () => {
    expect(gradeSql({ goldSql: gold, goldRows, semantics: 'spider', weights }).total).toBe(0);
    const fromText = gradeSql({
      goldSql: gold,
      goldRows,
      predicted: { sql: gold, rows: goldRows, submitted: false },
      semantics: 'spider',
      weights,
    });
    expect(fromText.components.format).toBe(0);
    expect(fromText.total).toBeCloseTo(6 / 7);
  });

  it('follows configured weights (execution only)', () => {
    const only = { execution: 1, syntax: 0, schema_linking: 0, ngram: 0, format: 0 };
    const r = gradeSql({
      goldSql: gold,
      goldRows,
      predicted: { sql: gold, rows: [['China']], submitted: true },
      semantics: 'spider',
      weights: only,
    });
    expect(r.total).toBe(0);
    expect(r.components.syntax).toBe(1);
  });

  it('applies the selected semantics: duplicates count under Spider only', () => {
    const dup = { sql: gold, rows: [['China'], ['India'], ['India']], submitted: true };
    expect(
      gradeSql({
        goldSql: 'SELECT name FROM countries',
        goldRows,
        predicted: dup,
        semantics: 'bird',
        weights,
      }).components.execution,
    ).toBe(1);
    expect(
      gradeSql({
        goldSql: 'SELECT name FROM countries',
        goldRows,
        predicted: dup,
        semantics: 'spider',
        weights,
      }).components.execution,
    ).toBe(0);
  });
});
