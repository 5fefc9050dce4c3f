import {
  defineEnvironment,
  Environment,
  playAttack,
  probeEnvironment,
  weightedReward,
} from '@toolgym/env-kit';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sqlAttacks } from '../redteam/index.ts';
import sql, { cellKey, type SqlAnswer, type SqlValue } from '../src/index.ts';

describe('sql red-team', () => {
  it('holds every attack family to its ceiling', async () => {
    const environment = new Environment(sql, sql.parseConfig({}));
    const report = await probeEnvironment(environment, { tasks: 3 });
    expect(new Set(report.rows.map((r) => r.family))).toEqual(
      new Set(['whole-table', 'union', 'errors', 'write', 'stopped-call', 'generic']),
    );
    for (const row of report.rows) {
      expect(row.verdict, `${row.attack}: ${row.error ?? JSON.stringify(row.worst)}`).toBe('pass');
      expect(row.episodes).toBeGreaterThan(0);
      // No attack is ever graded as executing right.
      expect(row.worst?.components.execution ?? 0).toBe(0);
    }
    // A query that does not run earns no syntax credit.
    for (const name of ['failing-query', 'refused-query-as-text', 'runaway-query'])
      expect(report.rows.find((r) => r.attack === name)?.worst?.components.syntax).toBe(0);
  });

  it('beats a grade that accepts any result containing the gold rows', async () => {
    const contains = (gold: SqlValue[][], predicted: SqlValue[][]) => {
      const have = new Set(predicted.map((r) => JSON.stringify(r.map(cellKey))));
      return gold.every((r) => have.has(JSON.stringify(r.map(cellKey))));
    };
    const supersetGrade = defineEnvironment({
      ...sql,
      // only the attack this grade falls to: the others add minutes (runaway-query waits out its timeout)
      redteam: async (config) => sqlAttacks(config).filter((a) => a.name === 'union-of-candidates'),
      grade: ({ episode }) => {
        const state = episode.state as { databaseFile: string; submitted?: { rows?: SqlValue[][] } };
        const db = new Database(state.databaseFile, { readonly: true });
        try {
          const gold = db
            .prepare((episode.task.answer as SqlAnswer).sql)
            .raw(true)
            .all() as SqlValue[][];
          const rows = state.submitted?.rows;
          return weightedReward({ execution: rows && contains(gold, rows) ? 1 : 0 }, { execution: 1 });
        } finally {
          db.close();
        }
      },
    });
    const report = await probeEnvironment(new Environment(supersetGrade, supersetGrade.parseConfig({})), {
      tasks: 12,
    });
    expect(report.rows.find((r) => r.attack === 'union-of-candidates')).toMatchObject({
      verdict: 'above ceiling',
      max: 1,
    });
  });

  it('grades the query submitted after a stopped submit, never the stopped one landing late', async () => {
    // submit_answer's deadline made shorter than its query, on one query process: the stopped
    // submit's query runs on, and the execute_sql queued behind it returns only once it has ended.
    const shortSubmit = defineEnvironment({
      ...sql,
      tools: { ...sql.tools, submit_answer: { ...sql.tools.submit_answer!, timeoutMs: 50 } },
    });
    const config = shortSubmit.parseConfig({ executors: 1 });
    const environment = new Environment(shortSubmit, config);
    const attack = sqlAttacks(config).find((a) => a.name === 'stopped-submit')!;
    const task = (await environment.tasksOf('train'))[0]!;
    const reward = await playAttack(environment, attack, task, { principal: 'trainer' });
    expect(reward.info.predicted).toMatch(/^SELECT \* FROM /);
    expect(reward.components.format).toBe(1);
  });
});
