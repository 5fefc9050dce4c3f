import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, Environment } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import sql, { loadBenchmarkTasks, type SqlAnswer } from '../src/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const spiderDir = path.join(fixtures, 'spider');
const birdDir = path.join(fixtures, 'bird');

async function oracleReward(env: Environment, taskId: string) {
  const episode = await env.openEpisode({ taskId });
  for (const call of sql.oracle?.(episode.task, env.config) ?? [])
    await episode.callTool(call.name, call.arguments);
  return (await episode.end()).reward;
}

describe('Spider loader', () => {
  it('reads train_spider.json as train and dev.json as test, with databases from database/<db_id>/', () => {
    const tasks = loadBenchmarkTasks('spider', spiderDir);
    expect(tasks.map((t) => [t.id, t.split])).toEqual([
      ['spider/train_spider/0', 'train'],
      ['spider/train_spider/1', 'train'],
      ['spider/train_spider/2', 'train'],
      ['spider/dev/0', 'test'],
      ['spider/dev/1', 'test'],
    ]);
    const first = tasks[0];
    expect(first?.answer).toEqual({ sql: 'SELECT count(*) FROM singer', database: 'concert_singer' });
    expect(first?.prompt).toContain(
      'Database: concert_singer (SQLite).\nQuestion: How many singers do we have?',
    );
    expect(first?.meta.databasePath).toBe(
      path.join(spiderDir, 'database/concert_singer/concert_singer.sqlite'),
    );
  });

  it('plays episodes through the environment with Spider semantics', async () => {
    const env = new Environment(sql, sql.parseConfig({ dataset: `spider:${spiderDir}` }));
    expect((await env.tasksOf('test')).length).toBe(2);
    const reward = await oracleReward(env, 'spider/dev/1');
    expect(reward.total).toBe(1);
    expect(reward.info.semantics).toBe('spider');
    // Column order may differ under Spider semantics.
    const episode = await env.openEpisode({ taskId: 'spider/dev/0' });
    await episode.callTool('submit_answer', { sql: 'SELECT Capacity, Name FROM stadium' });
    expect((await episode.end()).reward.components.execution).toBe(1);
    // Order matters when the gold query has ORDER BY.
    const ordered = await env.openEpisode({ taskId: 'spider/train_spider/1' });
    await ordered.callTool('submit_answer', {
      sql: "SELECT Name FROM singer WHERE Country = 'France' ORDER BY Age DESC",
    });
    expect((await ordered.end()).reward.components.execution).toBe(0);
  });
});

describe('BIRD loader', () => {
  it('reads dev.json as test with databases from dev_databases/<db_id>/ and shows the evidence', () => {
    const tasks = loadBenchmarkTasks('bird', birdDir);
    expect(tasks).toHaveLength(2);
    const task = tasks[0];
    expect(task).toMatchObject({
      id: 'bird/dev/0',
      split: 'test',
      meta: { database: 'superhero', difficulty: 'simple', source: 'bird' },
    });
    expect(task?.prompt).toContain(
      "Hint: published by Marvel Comics refers to publisher_name = 'Marvel Comics'",
    );
    expect((task?.answer as SqlAnswer | undefined)?.sql).toMatch(/^SELECT COUNT\(T1.id\)/);
  });

  it('plays episodes with BIRD semantics: row order and duplicates ignored, column order kept', async () => {
    const env = new Environment(sql, sql.parseConfig({ dataset: `bird:${birdDir}` }));
    const reward = await oracleReward(env, 'bird/dev/1');
    expect(reward.total).toBe(1);
    expect(reward.info.semantics).toBe('bird');
    const episode = await env.openEpisode({ taskId: 'bird/dev/1' });
    await episode.callTool('submit_answer', {
      sql: 'SELECT full_name FROM superhero WHERE height_cm > 185 AND weight_kg IS NOT NULL UNION ALL SELECT full_name FROM superhero WHERE id = 2 ORDER BY 1 DESC',
    });
    expect((await episode.end()).reward.components.execution).toBe(1);
  });

  it('fails at once, naming what is missing', () => {
    expect(() => loadBenchmarkTasks('spider', path.join(fixtures, 'nowhere'))).toThrow(ConfigError);
    expect(() => loadBenchmarkTasks('spider', path.join(fixtures, 'nowhere'))).toThrow(
      /spider directory '.*nowhere' does not exist/,
    );
    expect(() => loadBenchmarkTasks('bird', fixtures)).toThrow(/no bird question files in '.*fixtures'/);
    // A BIRD directory read as Spider: the first question names the field that does not fit.
    expect(() => loadBenchmarkTasks('spider', birdDir)).toThrow(
      /dev.json\[0\] is not a Spider question: 'query': /,
    );
  });

  it('names the database file it could not find', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spider-'));
    try {
      cpSync(path.join(spiderDir, 'dev.json'), path.join(dir, 'dev.json'));
      expect(() => loadBenchmarkTasks('spider', dir)).toThrow(
        /spider: database 'concert_singer' \(used by dev.json\) not found/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
