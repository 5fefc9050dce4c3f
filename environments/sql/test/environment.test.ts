import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkSplits, ConfigError, Environment, type Episode } from '@toolgym/env-kit';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sql, {
  BUILTIN_DATABASES,
  type BuiltinDatabase,
  buildBuiltinDatabase,
  generateDatabaseTasks,
  schemaItems,
  type SqlAnswer,
  TEMPLATES,
  type TemplateParams,
} from '../src/index.ts';

const env = new Environment(sql, sql.parseConfig({ queryTimeoutMs: 1_500 }));
const RUNAWAY = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function playOracle(episode: Episode) {
  let last: Awaited<ReturnType<Episode['callTool']>> | undefined;
  for (const call of sql.oracle?.(episode.task, env.config) ?? [])
    last = await episode.callTool(call.name, call.arguments);
  return { last, end: await episode.end() };
}

describe('sql environment: tasks', () => {
  it('has at least 120 templates over at least 5 databases, each with 4 different phrasings and some instances', async () => {
    const tasks = await env.tasks();
    const templates = Object.entries(TEMPLATES).flatMap(([database, list]) => list.map((t) => ({ database, ...t })));
    expect(BUILTIN_DATABASES.length).toBeGreaterThanOrEqual(5);
    expect(templates.length).toBeGreaterThanOrEqual(120);
    const played = new Set(tasks.map((t) => `${t.meta.database}/${t.meta.template}`));
    for (const template of templates) {
      const key = `${template.database}/${template.id}`;
      expect(played.has(key), `${key} yields no question`).toBe(true);
      const db = new Database(buildBuiltinDatabase(template.database as BuiltinDatabase, 7), { readonly: true });
      const params = db.prepare(template.params).get() as TemplateParams;
      db.close();
      expect(new Set(template.phrasings.map((phrase) => phrase(params))).size, key).toBeGreaterThanOrEqual(4);
    }
    expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
  });

  it('needs several joins where it says multi-join, and a window function where it says window', async () => {
    const tasks = await env.tasks();
    for (const [database, list] of Object.entries(TEMPLATES)) {
      const skills = new Set(list.map((t) => t.skill));
      expect(skills, database).toContain('multi-join');
      expect(skills, database).toContain('window');
    }
    for (const task of tasks) {
      const gold = (task.answer as SqlAnswer).sql;
      if (task.meta.skill === 'multi-join') expect(gold.match(/\bJOIN\b/g)?.length ?? 0, task.id).toBeGreaterThanOrEqual(3);
      if (task.meta.skill === 'window') expect(gold, task.id).toMatch(/\bOVER \(/);
    }
  });

  it('holds one whole database out for test, at every difficulty and skill; the others split into train and test-iid', async () => {
    const tasks = await env.tasks();
    expect(env.config.testDatabase).toBe('library');
    const test = tasks.filter((t) => t.split === 'test');
    expect(new Set(test.map((t) => t.meta.database))).toEqual(new Set(['library']));
    expect(tasks.filter((t) => t.meta.database === 'library' && t.split !== 'test')).toEqual([]);
    expect(test.length).toBeGreaterThanOrEqual(300);
    expect(new Set(test.map((t) => t.meta.difficulty))).toEqual(new Set(['easy', 'medium', 'hard']));
    expect(new Set(test.map((t) => t.meta.skill))).toEqual(new Set(Object.values(TEMPLATES).flat().map((t) => t.skill)));
    const trainTemplates = new Set(tasks.filter((t) => t.split === 'train').map((t) => `${t.meta.database}/${t.meta.template}`));
    const iid = tasks.filter((t) => t.split === 'test-iid');
    expect(iid.length).toBeGreaterThan(200);
    expect(iid.every((t) => trainTemplates.has(`${t.meta.database}/${t.meta.template}`))).toBe(true);
    const report = await checkSplits(env);
    expect(report).toMatchObject({ unit: 'database', heldOutUnits: ['library'], ok: true });
    const other = await checkSplits(new Environment(sql, sql.parseConfig({ testDatabase: 'company' })));
    expect(other).toMatchObject({ heldOutUnits: ['company'], ok: true });
  });

  it('every gold query is read by the schema-linking parser', async () => {
    for (const task of await env.tasks()) expect(schemaItems((task.answer as SqlAnswer).sql), task.id).toBeDefined();
  });

  it('every gold query runs and has a non-empty answer', async () => {
    const tasks = await env.tasks();
    const connections = new Map<string, Database.Database>();
    for (const task of tasks) {
      const { sql: gold, database } = task.answer as SqlAnswer;
      let db = connections.get(database);
      if (!db) {
        db = new Database(buildBuiltinDatabase(database as (typeof BUILTIN_DATABASES)[number], 7), {
          readonly: true,
        });
        connections.set(database, db);
      }
      expect(db.prepare(gold).all().length, task.id).toBeGreaterThan(0);
    }
    for (const db of connections.values()) db.close();
  });

  it('generates the same databases and questions from the same seed', () => {
    const dirs = [mkdtempSync(path.join(tmpdir(), 'sql-a-')), mkdtempSync(path.join(tmpdir(), 'sql-b-'))];
    try {
      const dumps = dirs.map((dir) => {
        const db = new Database(buildBuiltinDatabase('retail', 11, dir), { readonly: true });
        const dump = ['customers', 'products', 'orders', 'order_items'].map((t) =>
          db.prepare(`SELECT * FROM ${t}`).raw(true).all(),
        );
        db.close();
        return JSON.stringify(dump);
      });
      expect(dumps[0]).toBe(dumps[1]);
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
    const config = { seed: 7, questionsPerDatabase: 40, testDatabase: 'library' as const, testIidFraction: 0.2 };
    expect(generateDatabaseTasks('library', config)).toEqual(generateDatabaseTasks('library', config));
  });

  it('fails at once on a bad dataset option', () => {
    expect(() => sql.parseConfig({ dataset: 'wikisql:/x' })).toThrow(ConfigError);
    expect(() => sql.parseConfig({ dataset: 'wikisql:/x' })).toThrow(
      /dataset must be 'builtin', 'spider:<dir>' or 'bird:<dir>'/,
    );
  });
});

describe('sql environment: episodes', () => {
  const files = BUILTIN_DATABASES.map((name) => buildBuiltinDatabase(name, 7));
  let hashesBefore: string[] = [];
  beforeAll(() => {
    hashesBefore = files.map(sha256);
  });

  it('the oracle (execute the gold query, then submit it) earns the full reward on every database', async () => {
    for (const database of BUILTIN_DATABASES) {
      const tasks = (await env.tasks()).filter((t) => t.meta.database === database);
      for (const task of [tasks[0], tasks[tasks.length - 1]]) {
        const { last, end } = await playOracle(await env.openEpisode({ taskId: task?.id }));
        expect(last?.terminated).toBe(true);
        expect(end.reward.total, task?.id).toBe(1);
        expect(end.reward.components).toEqual({
          execution: 1,
          syntax: 1,
          schema_linking: 1,
          ngram: 1,
          format: 1,
        });
      }
    }
  });

  it('shows the schema with descriptions and says which tables exist when one is unknown', async () => {
    const episode = await env.openEpisode({
      taskId: (await env.tasks()).find((t) => t.meta.database === 'geography')?.id,
    });
    const tables = await episode.callTool('list_tables', {});
    expect(tables.content).toContain('borders — land borders, stored in both directions');
    const described = await episode.callTool('describe_table', { table: 'countries' });
    expect(described.content).toContain('capital TEXT,                 -- first listed capital');
    expect(described.content).toMatch(/Rows: 250\nSample rows:\n3 rows\ncode | iso2/);
    const unknown = await episode.callTool('describe_table', { table: 'nations' });
    expect(unknown).toMatchObject({ isError: true, errorCode: 'unknown_table' });
    expect(unknown.content).toContain("No table 'nations'. Tables: borders, countries, country_currencies");
    await episode.close();
  });

  it('cuts large results and says so', async () => {
    const geography = await env.openEpisode({
      taskId: (await env.tasks()).find((t) => t.meta.database === 'geography')?.id,
    });
    const borders = await geography.callTool('execute_sql', { sql: 'SELECT * FROM borders ORDER BY 1, 2' });
    expect(borders.isError).toBe(false);
    expect(borders.content.split('\n')[0]).toBe('649 rows (showing the first 20)');
    expect(borders.content).toContain('[truncated: 629 more rows not shown]');
    await geography.close();
  });

  it('refuses every writing statement with a clear error, and the episode goes on', async () => {
    const task = (await env.tasks()).find((t) => t.meta.database === 'retail');
    const episode = await env.openEpisode({ taskId: task?.id });
    const attempts: Array<[string, RegExp]> = [
      ['DROP TABLE customers', /DROP statements are refused/],
      ['UPDATE products SET price = 0', /UPDATE statements are refused/],
      ['DELETE FROM orders', /DELETE statements are refused/],
      ["INSERT INTO products (name) VALUES ('x')", /INSERT statements are refused/],
      ["ATTACH DATABASE '/tmp/x.sqlite' AS x", /ATTACH is refused/],
      ['PRAGMA journal_mode = WAL', /PRAGMA journal_mode = … is refused/],
      ["SELECT load_extension('/tmp/x.so')", /load_extension\(\) is refused/],
      [
        'WITH gone AS (SELECT id FROM orders) DELETE FROM orders WHERE id IN gone',
        /would change the database/,
      ],
      ['SELECT 1; DELETE FROM orders', /Only one statement per call/],
    ];
    for (const [statement, message] of attempts) {
      const result = await episode.callTool('execute_sql', { sql: statement });
      expect(result.isError, statement).toBe(true);
      expect(result.errorCode, statement).toBe('sql_refused');
      expect(result.content).toMatch(message);
      expect(result.terminated).toBe(false);
    }
    const bad = await episode.callTool('execute_sql', { sql: 5 });
    expect(bad).toMatchObject({ isError: true, errorCode: 'invalid_arguments' });
    const ok = await episode.callTool('execute_sql', { sql: 'SELECT COUNT(*) AS n FROM orders' });
    expect(ok.content).toContain('1200');
    const { end } = await playOracle(episode);
    expect(end.reward.total).toBe(1);
  });

  it('stops a runaway query at the limit, reports it, and the episode goes on', async () => {
    const task = (await env.tasks()).find((t) => t.meta.database === 'library');
    const episode = await env.openEpisode({ taskId: task?.id });
    const slow = await episode.callTool('execute_sql', { sql: RUNAWAY });
    expect(slow).toMatchObject({ isError: true, errorCode: 'query_timeout', terminated: false });
    expect(slow.content).toMatch(/ran longer than 1500 ms and was stopped/);
    const cross = await episode.callTool('execute_sql', {
      sql: 'SELECT COUNT(*) FROM loans a, loans b, loans c, loans d',
    });
    expect(cross.errorCode).toBe('query_timeout');
    const { end } = await playOracle(episode);
    expect(end.reward.total).toBe(1);
  });

  it('grades a missing answer 0 and an answer left in the final text without the format reward', async () => {
    const task = (await env.tasks()).find((t) => t.meta.database === 'geography');
    const none = await env.openEpisode({ taskId: task?.id });
    const nothing = await none.end('I do not know.');
    expect(nothing.reward.total).toBe(0);
    expect(nothing.reward.info.reason).toBe('no_answer');
    const text = await env.openEpisode({ taskId: task?.id });
    const graded = await text.end(
      `Here it is:\n\`\`\`sql\n${(task?.answer as SqlAnswer | undefined)?.sql}\n\`\`\``,
    );
    expect(graded.reward.components).toMatchObject({ execution: 1, format: 0 });
    expect(graded.reward.total).toBeCloseTo(6 / 7);
  });

  it('submitting a refused or broken query ends the episode with no execution reward', async () => {
    const task = (await env.tasks()).find((t) => t.meta.database === 'retail');
    const episode = await env.openEpisode({ taskId: task?.id });
    const submitted = await episode.callTool('submit_answer', { sql: 'DROP TABLE orders' });
    expect(submitted.terminated).toBe(true);
    expect(submitted.content).toMatch(/did not run \(sql_refused/);
    const after = await episode.callTool('execute_sql', { sql: 'SELECT 1' });
    expect(after.errorCode).toBe('episode_ended');
    const { reward } = await episode.end();
    expect(reward.components).toMatchObject({ execution: 0, syntax: 0, format: 1 });
  });

  afterAll(() => {
    // The shared database files are byte-identical after all of the above (writes, ATTACH, PRAGMA, timeouts).
    expect(files.map(sha256)).toEqual(hashesBefore);
    for (const file of files) {
      expect(existsSync(`${file}-journal`)).toBe(false);
      expect(existsSync(`${file}-wal`)).toBe(false);
    }
  });
});
