import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSplits, ConfigError, Environment } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import sql, {
  cellKey,
  doubleQuotedStringsExtension,
  loadBenchmarkTasks,
  parseCsv,
  readColumnDescriptions,
  schemaItems,
  sharedQueryPool,
  type SqlAnswer,
  type SqlValue,
  spiderExecutedSql,
} from '../src/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const spiderDir = path.join(fixtures, 'spider');
const birdDir = path.join(fixtures, 'bird');
const spider = (options: Record<string, unknown> = {}) =>
  new Environment(sql, sql.parseConfig({ dataset: `spider:${spiderDir}`, ...options }));
const bird = (options: Record<string, unknown> = {}) =>
  new Environment(sql, sql.parseConfig({ dataset: `bird:${birdDir}`, ...options }));

async function oracleReward(env: Environment, taskId: string) {
  const episode = await env.openEpisode({ taskId });
  for (const call of sql.oracle?.(episode.task, env.config) ?? [])
    await episode.callTool(call.name, call.arguments);
  return (await episode.end()).reward;
}

async function submit(env: Environment, taskId: string, query: string) {
  const episode = await env.openEpisode({ taskId });
  await episode.callTool('submit_answer', { sql: query });
  return (await episode.end()).reward;
}

const idOf = (env: Environment, question: RegExp) =>
  env.tasks().then((tasks) => tasks.find((t) => question.test(t.meta.question as string))!.id);

/** Rows as Python's sqlite3 returns them: the engine both official evaluators run. */
function pythonRows(database: string, query: string): SqlValue[][] {
  const script =
    'import json, sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nprint(json.dumps(c.execute(sys.argv[2]).fetchall()))';
  const run = spawnSync('python3', ['-c', script, database, query], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as SqlValue[][];
}

/** Rows as this environment's query processes return them, double-quoted literals read as the evaluators read them. */
async function ourRows(database: string, query: string): Promise<SqlValue[][]> {
  const request = {
    session: 'loader-test',
    database,
    sql: query,
    maxRows: 1000,
    maxRowsCounted: 1000,
    maxCellChars: 1000,
  };
  const result = await sharedQueryPool(1).run(
    { ...request, doubleQuotedStrings: doubleQuotedStringsExtension() },
    10_000,
  );
  return result.rows;
}

const sameSet = (a: SqlValue[][], b: SqlValue[][]) =>
  JSON.stringify(a.map((r) => JSON.stringify(r.map(cellKey))).sort()) ===
  JSON.stringify(b.map((r) => JSON.stringify(r.map(cellKey))).sort());

describe('Spider files', () => {
  it('reads train_spider.json and train_others.json as train and dev.json as test, every record, with its database', () => {
    const tasks = loadBenchmarkTasks('spider', spiderDir);
    const count = (prefix: string) => tasks.filter((t) => t.id.startsWith(prefix)).length;
    expect([count('spider/train_spider/'), count('spider/train_others/'), count('spider/dev/')]).toEqual([
      10, 5, 33,
    ]);
    expect(tasks.filter((t) => t.split === 'test').every((t) => t.id.startsWith('spider/dev/'))).toBe(true);
    const first = tasks.find((t) => t.id === 'spider/dev/2')!;
    expect(first.answer).toEqual({ sql: 'SELECT count(*) FROM singer', database: 'concert_singer' });
    expect(first.prompt).toContain(
      'Database: concert_singer (SQLite).\nQuestion: How many singers do we have?',
    );
    expect(first.meta.databasePath).toBe(
      path.join(spiderDir, 'database/concert_singer/concert_singer.sqlite'),
    );
  });

  it('holds out its dev databases: the split check finds none of them in train', async () => {
    const report = await checkSplits(spider());
    expect(report).toMatchObject({
      unit: 'database',
      heldOutUnits: ['concert_singer', 'flight_2', 'pets_1'],
      ok: true,
    });
  });

  it('every gold query, irregular ones included, earns the full reward when the oracle submits it', async () => {
    const env = spider();
    for (const task of await env.tasks()) expect((await oracleReward(env, task.id)).total, task.id).toBe(1);
  });

  it('reads double-quoted string literals as the official SQLite does, and double-quoted identifiers as columns', async () => {
    const env = spider();
    const france = await idOf(env, /average, minimum, and maximum age/);
    expect(
      (await submit(env, france, 'SELECT avg(age), min(age), max(age) FROM singer WHERE country = "France"'))
        .components.execution,
    ).toBe(1);
    expect(
      (await submit(env, france, "SELECT avg(age), min(age), max(age) FROM singer WHERE country = 'France'"))
        .components.execution,
    ).toBe(1);
    // Both kinds in one query: "Country" and "Age" name columns, "France" is a string.
    const database = path.join(spiderDir, 'database/concert_singer/concert_singer.sqlite');
    for (const query of [
      'SELECT Name FROM singer WHERE "Country" = "France" AND "Age" > 30',
      'SELECT "Name", "Song_Name" FROM singer WHERE "Is_male" = "T"',
      'SELECT "Name" FROM singer WHERE Name = "Name"',
      'SELECT T1.Airline FROM airlines AS T1 WHERE T1."Abbreviation" = "UAL"',
    ]) {
      const file = query.includes('airlines')
        ? path.join(spiderDir, 'database/flight_2/flight_2.sqlite')
        : database;
      expect(await ourRows(file, query), query).toEqual(pythonRows(file, query));
    }
    // "Name" names a column wherever one is in scope, so this compares the column with itself.
    expect(await ourRows(database, 'SELECT "Name" FROM singer WHERE Name = "Name"')).toHaveLength(6);
    expect((await ourRows(database, 'SELECT "Name" FROM singer ORDER BY Age LIMIT 1'))[0]).toEqual([
      'Tribal King',
    ]);
  });

  it('with doubleQuotedStrings off, SQLite is strict: a double-quoted literal is an unknown column', async () => {
    const env = spider({ doubleQuotedStrings: false });
    const episode = await env.openEpisode({ taskId: await idOf(env, /average, minimum, and maximum age/) });
    const result = await episode.callTool('execute_sql', {
      sql: 'SELECT count(*) FROM singer WHERE country = "France"',
    });
    expect(result).toMatchObject({ isError: true, errorCode: 'sql_error' });
    expect(result.content).toMatch(/no such column/);
    await episode.close();
  });

  it('parses INTERSECT, EXCEPT, UNION and nested set operations for schema linking', async () => {
    const tasks = loadBenchmarkTasks('spider', spiderDir);
    const setOps = tasks.filter((t) => /\b(INTERSECT|EXCEPT|UNION)\b/i.test((t.answer as SqlAnswer).sql));
    expect(setOps.length).toBeGreaterThanOrEqual(8);
    for (const task of tasks) expect(schemaItems((task.answer as SqlAnswer).sql), task.id).toBeDefined();
    expect(
      schemaItems(
        'SELECT a FROM t WHERE x IN (SELECT y FROM u EXCEPT SELECT z FROM v INTERSECT SELECT w FROM r)',
      ),
    ).toEqual(
      new Set([
        'table:t',
        'table:u',
        'table:v',
        'table:r',
        'column:a',
        'column:x',
        'column:y',
        'column:z',
        'column:w',
      ]),
    );
    const env = spider();
    const both = await idOf(env, /both a singer older than 40 and a singer younger than 30/);
    const wrong = await submit(
      env,
      both,
      'SELECT count(*) FROM (SELECT country FROM singer WHERE age > 40 UNION SELECT country FROM singer WHERE age < 30)',
    );
    expect(wrong.components).toMatchObject({ execution: 0, schema_linking: 1 });
  });

  it('strips DISTINCT by default, as the evaluator does, and keeps it with keepDistinct (--keep_distinct)', async () => {
    const stripped = spider();
    const kept = spider({ keepDistinct: true });
    const countries = await idOf(stripped, /all distinct countries where singers above age 20/);
    const themes = await idOf(stripped, /How many different themes/);
    const noDistinct = 'SELECT country FROM singer WHERE age > 20';
    expect((await submit(stripped, countries, noDistinct)).components.execution).toBe(1);
    expect((await submit(kept, countries, noDistinct)).components.execution).toBe(0);
    expect(
      (await submit(kept, countries, 'SELECT DISTINCT country FROM singer WHERE age > 20')).components
        .execution,
    ).toBe(1);
    expect((await submit(stripped, themes, 'SELECT count(theme) FROM concert')).components.execution).toBe(1);
    expect((await submit(kept, themes, 'SELECT count(theme) FROM concert')).components.execution).toBe(0);
    expect((await oracleReward(kept, themes)).total).toBe(1);
  });

  it('runs a query as the evaluator rewrites it: spaced comparison operators, DISTINCT, YEAR(CURDATE())', () => {
    expect(
      spiderExecutedSql("SELECT DISTINCT a FROM t WHERE b > = 2 AND c ! = 'distinct'", {
        keepDistinct: false,
      }),
    ).toBe("SELECT  a FROM t WHERE b >= 2 AND c != 'distinct'");
    expect(spiderExecutedSql('SELECT count(Distinct x) FROM t', { keepDistinct: false })).toBe(
      'SELECT count( x) FROM t',
    );
    expect(spiderExecutedSql('SELECT DISTINCT "distinct" FROM t', { keepDistinct: true })).toBe(
      'SELECT DISTINCT "distinct" FROM t',
    );
    expect(spiderExecutedSql('SELECT a FROM t WHERE y < year(curdate( ) ) ', { keepDistinct: true })).toBe(
      'SELECT a FROM t WHERE y < 2020',
    );
  });

  it('shows column names, keys and foreign keys from tables.json with the schema', async () => {
    const env = spider();
    const episode = await env.openEpisode({ taskId: 'spider/dev/1' });
    const student = (await episode.callTool('describe_table', { table: 'student' })).content;
    expect(student).toContain(
      'Columns (tables.json): StuID (number, "student id"), LName (text, "last name"), Fname (text, "first name"), Age (number)',
    );
    expect(student).toContain('Primary key: StuID');
    const hasPet = (await episode.callTool('describe_table', { table: 'Has_Pet' })).content;
    expect(hasPet).toContain('Foreign keys: StuID → Student.StuID, PetID → Pets.PetID');
    await episode.close();
    const concert = await env.openEpisode({ taskId: 'spider/dev/0' });
    expect((await concert.callTool('describe_table', { table: 'concert' })).content).toContain(
      'Foreign keys: Stadium_ID → stadium.Stadium_ID',
    );
    await concert.close();
  });
});

describe('BIRD files', () => {
  it('reads dev.json as test and train.json as train (records without question_id or difficulty), and shows evidence', () => {
    const tasks = loadBenchmarkTasks('bird', birdDir);
    expect(tasks.filter((t) => t.split === 'test')).toHaveLength(30);
    expect(tasks.filter((t) => t.split === 'train').map((t) => t.id)).toEqual([
      'bird/train/0',
      'bird/train/1',
      'bird/train/2',
      'bird/train/3',
      'bird/train/4',
    ]);
    const task = tasks.find((t) => t.id === 'bird/dev/0')!;
    expect(task).toMatchObject({
      split: 'test',
      meta: { database: 'superhero', difficulty: 'simple', source: 'bird' },
    });
    expect(task.prompt).toContain(
      "Hint: published by Marvel Comics refers to publisher_name = 'Marvel Comics'",
    );
    expect(tasks.find((t) => t.id === 'bird/dev/6')!.prompt).not.toContain('Hint:');
    expect(tasks.find((t) => t.id === 'bird/train/0')!.meta).not.toHaveProperty('difficulty');
  });

  it('every gold query earns the full reward from the oracle, and returns what Python sqlite3 returns', async () => {
    const env = bird();
    for (const task of await env.tasks()) {
      expect((await oracleReward(env, task.id)).total, task.id).toBe(1);
      const database = task.meta.databasePath as string;
      const gold = (task.answer as SqlAnswer).sql;
      expect(sameSet(await ourRows(database, gold), pythonRows(database, gold)), task.id).toBe(true);
    }
  });

  it('compares results as BIRD does: sets of tuples of exact values, so 0.1 + 0.2 is not 0.3', async () => {
    const env = bird();
    const january = await idOf(env, /total consumption of customer 3 in January and February 2012/);
    expect((await submit(env, january, 'SELECT 0.3')).components.execution).toBe(0);
    expect((await submit(env, january, 'SELECT 0.1 + 0.2')).components.execution).toBe(1);
    const summed = await idOf(env, /added one month at a time/);
    expect((await submit(env, summed, 'SELECT 0.6')).components.execution).toBe(0);
    expect(
      (await submit(env, summed, "SELECT SUM(Consumption) FROM yearmonth WHERE Date IN ('201201', '201202')"))
        .components.execution,
    ).toBe(0);
    // Sets: duplicates and row order do not count; 1 = 1.0; column order does.
    const lister = await idOf(env, /heavier than 100 kg and their publisher/);
    expect(
      (
        await submit(
          env,
          lister,
          "SELECT superhero_name, 'DC Comics' FROM superhero WHERE weight_kg > 100 AND publisher_id = 2 UNION ALL SELECT 'Hulk', 'Marvel Comics' UNION ALL SELECT 'Hulk', 'Marvel Comics'",
        )
      ).components.execution,
    ).toBe(1);
    expect(
      (
        await submit(
          env,
          lister,
          'SELECT T2.publisher_name, T1.superhero_name FROM superhero AS T1 JOIN publisher AS T2 ON T1.publisher_id = T2.id WHERE T1.weight_kg > 100',
        )
      ).components.execution,
    ).toBe(0);
    const count = await idOf(env, /How many heroes have no recorded weight/);
    expect((await submit(env, count, 'SELECT 1.0')).components.execution).toBe(1);
  });

  it('shows each column meaning from database_description/*.csv, whatever the encoding, BOM, line ends or file-name case', async () => {
    const env = bird();
    const hero = await env.openEpisode({ taskId: 'bird/dev/0' });
    const superhero = (await hero.callTool('describe_table', { table: 'superhero' })).content;
    expect(superhero).toContain('Column meanings (database_description):');
    expect(superhero).toContain('  id — the unique identifier of the superhero');
    expect(superhero).toContain(
      '  height_cm — height cm; the height of the superhero; values: the unit is cm, e.g. 188',
    );
    expect(superhero).toContain(
      '  full_name — full name; the full name of the superhero; values: commonsense evidence: the full name of a person',
    );
    expect(superhero).toContain('values: the unit is kg; NULL or 0 means "unknown"');
    expect(superhero).toContain('Foreign keys: eye_colour_id → colour.id, publisher_id → publisher.id');
    expect((await hero.callTool('describe_table', { table: 'publisher' })).content).toContain(
      '  publisher_name — publisher name; the name of the publisher',
    );
    await hero.close();
    const card = await env.openEpisode({ taskId: 'bird/dev/20' });
    const customers = (await card.callTool('describe_table', { table: 'customers' })).content;
    expect(customers).toContain('values: SME: small and medium enterprises (société)');
    const yearmonth = (await card.callTool('describe_table', { table: 'yearmonth' })).content;
    expect(yearmonth).toContain('Primary key: Date + CustomerID');
    expect(yearmonth).toContain('  Consumption — consumption; values: in kWh·month');
    expect((await card.callTool('describe_table', { table: 'transactions_1k' })).content).toContain(
      '  CustomerID — Customer ID',
    );
    await card.close();
  });

  it('reads description rows that are short, empty or hold quoted line breaks', () => {
    const file = path.join(birdDir, 'dev_databases/superhero/superhero.sqlite');
    const tables = readColumnDescriptions(file);
    expect([...tables.keys()].sort()).toEqual([
      'colour',
      'hero_power',
      'publisher',
      'superhero',
      'superpower',
    ]);
    expect(tables.get('hero_power')?.get('hero_id')).toEqual({
      column: 'hero_id',
      name: 'hero id',
      description: 'the id of the hero Maps to superhero(id)',
      format: 'integer',
      values: '',
    });
    expect(tables.get('publisher')?.size).toBe(2);
    expect(parseCsv('a,"b,""c""\r\nd",e\r\n\r\n,,\nx')).toEqual([
      ['a', 'b,"c"\r\nd', 'e'],
      ['', '', ''],
      ['x'],
    ]);
    expect(
      readFileSync(
        path.join(birdDir, 'dev_databases/debit_card_specializing/database_description/customers.csv'),
      ).includes(0xe9),
    ).toBe(true);
  });
});

describe('loading errors', () => {
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
