/**
 * Agent-RLVR's guidance on sql: after a failed attempt the agent reads the submitted query's error
 * (or that its result differs) and the tables the gold query reads with their columns; never
 * the gold query or its result.
 */
import { Environment, withFeedback } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import sql, { schemaItems, type SqlAnswer, sqlGuidance } from '../src/index.ts';

const tables = [
  { name: 'orders', columns: ['id', 'customer_id', 'total'] },
  { name: 'customers', columns: ['id', 'name'] },
];

describe('sqlGuidance on fixtures', () => {
  it("says the submitted query's error, then the tables to use", () => {
    expect(
      sqlGuidance(
        { sql: 'SELECT nme FROM customers', submitted: true, error: 'sql_error: no such column: nme' },
        tables,
      ),
    ).toBe(
      'The submitted query did not run: sql_error: no such column: nme\n' +
        'The answer uses these 2 tables:\n' +
        'orders(id, customer_id, total)\ncustomers(id, name)',
    );
  });

  it('says a query that ran returned another result, with its own row count only', () => {
    const text = sqlGuidance({ sql: 'SELECT 1', submitted: true, rows: [[1], [2]] }, tables.slice(1));
    expect(text).toBe(
      'The submitted query ran and returned 2 row(s), but not the expected result.\nThe answer uses this table:\ncustomers(id, name)',
    );
  });

  it('says so when nothing was submitted, and leaves the plan out without tables', () => {
    expect(sqlGuidance(undefined, [])).toBe('No query was submitted.');
  });
});

describe('sql with guidance after a failed attempt', () => {
  const wrapped = withFeedback(sql, {
    tryAgain: 1,
    guidance: true,
    correct: 'execution',
    decay: 1,
    repetitionPenalty: 0,
  });
  const env = new Environment(wrapped, wrapped.parseConfig({}));

  it('shows the error and the gold tables, not the gold query or its rows; the guided re-attempt earns its whole grade', async () => {
    const task = (await env.tasks()).find((t) => /\bJOIN\b/.test((t.answer as SqlAnswer).sql))!;
    const gold = (task.answer as SqlAnswer).sql;
    const goldTables = [...schemaItems(gold)!].filter((i) => i.startsWith('table:')).map((i) => i.slice(6));
    expect(goldTables.length).toBeGreaterThan(1);

    // The gold rows, as execute_sql shows them, to check none reaches the guidance.
    const peek = await env.openEpisode({ taskId: task.id });
    const goldShown = (await peek.callTool('execute_sql', { sql: gold })).content;
    await peek.end();

    const episode = await env.openEpisode({ taskId: task.id });
    const failed = await episode.callTool('submit_answer', { sql: 'SELECT nope FROM nowhere' });
    expect(failed.terminated).toBe(false);
    expect(failed.content).toMatch(
      /^Let's try again\.\nThe submitted query did not run: .*no such table: nowhere/,
    );
    for (const table of goldTables)
      expect(failed.content.toLowerCase()).toMatch(new RegExp(`\\n${table}\\(\\w+(, \\w+)*\\)`));
    expect(failed.content).not.toContain(gold);
    // After the row count, the header and the rule: the rows.
    const goldRows = goldShown
      .split('\n')
      .slice(3)
      .filter((line) => /\w/.test(line) && !line.startsWith('['));
    expect(goldRows.length).toBeGreaterThan(0);
    for (const line of goldRows) expect(failed.content).not.toContain(line);

    const guided = await episode.callTool('submit_answer', { sql: gold });
    expect(guided.terminated).toBe(true);
    const { reward } = await episode.end();
    expect(reward.components).toMatchObject({ execution: 1, attempts: 2 });
    expect(reward.total).toBe(1);
  });

  it('says a wrong result ran, with its own row count, and ends at the second wrong answer', async () => {
    const task = (await env.tasks())[0]!;
    const episode = await env.openEpisode({ taskId: task.id });
    const first = await episode.callTool('submit_answer', { sql: 'SELECT 1 UNION SELECT 2' });
    expect(first.content).toContain(
      'The submitted query ran and returned 2 row(s), but not the expected result.',
    );
    expect((await episode.callTool('submit_answer', { sql: 'SELECT 3' })).terminated).toBe(true);
    const { reward } = await episode.end();
    expect(reward.components.execution).toBe(0);
  });
});
