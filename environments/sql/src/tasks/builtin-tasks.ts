import { hashString, Rng, splitOf } from '@toolgym/protocol';
import type { Task } from '@toolgym/protocol';
import Database from 'better-sqlite3';
import type { SqlConfig } from '../config.ts';
import { BUILTIN_DESCRIPTIONS, type BuiltinDatabase, buildBuiltinDatabase } from '../databases/catalog.ts';
import { COMPANY_TEMPLATES } from './company-questions.ts';
import { FLIGHTS_TEMPLATES } from './flights-questions.ts';
import { GEOGRAPHY_TEMPLATES } from './geography-questions.ts';
import { LIBRARY_TEMPLATES } from './library-questions.ts';
import { RETAIL_TEMPLATES } from './retail-questions.ts';
import { type SqlAnswer, taskPrompt } from './sql-task.ts';
import type { QuestionTemplate, TemplateParams } from './template.ts';

export const TEMPLATES: Record<BuiltinDatabase, QuestionTemplate[]> = {
  geography: GEOGRAPHY_TEMPLATES,
  retail: RETAIL_TEMPLATES,
  library: LIBRARY_TEMPLATES,
  company: COMPANY_TEMPLATES,
  flights: FLIGHTS_TEMPLATES,
};

/** Gold results larger than this make poor questions (nobody reads 300 rows); such instances are skipped. */
const MAX_GOLD_ROWS = 60;

/**
 * Questions for one built-in database: templates take turns (so every kind of question is
 * represented), each instance's gold SQL is executed, and instances whose answer is empty, all
 * NULL or too long are skipped. The test database's questions are all `test`; the others' are
 * `train`, or `test-iid` by hash. Deterministic for a given seed.
 */
export function generateDatabaseTasks(
  database: BuiltinDatabase,
  config: Pick<SqlConfig, 'seed' | 'questionsPerDatabase' | 'testDatabase' | 'testIidFraction'>,
): Task[] {
  const file = buildBuiltinDatabase(database, config.seed);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const queues = TEMPLATES[database].map((template) => {
      const rng = new Rng(hashString(`${database}:${template.id}:${config.seed}`));
      const params = db.prepare(template.params).all() as TemplateParams[];
      return { template, rng, params: rng.shuffle(params) };
    });
    const tasks: Task[] = [];
    const seenSql = new Set<string>();
    while (tasks.length < config.questionsPerDatabase && queues.some((q) => q.params.length > 0)) {
      for (const queue of queues) {
        if (tasks.length >= config.questionsPerDatabase) break;
        const params = queue.params.shift();
        if (!params) continue;
        const { template, rng } = queue;
        const sql = template.sql(params);
        if (seenSql.has(sql) || !isGoodGold(db, sql)) continue;
        seenSql.add(sql);
        const question = rng.pick(template.phrasings)(params);
        const id = `${database}/${template.id}/${hashString(sql).toString(36)}`;
        const answer: SqlAnswer = { sql, database };
        tasks.push({
          id,
          split:
            database === config.testDatabase
              ? 'test'
              : splitOf(id, config.testIidFraction, `sql:${config.seed}`) === 'test'
                ? 'test-iid'
                : 'train',
          prompt: taskPrompt({ question, database, about: BUILTIN_DESCRIPTIONS[database] }),
          answer,
          meta: {
            database,
            question,
            template: template.id,
            difficulty: template.difficulty,
            skill: template.skill,
            source: 'builtin',
          },
        });
      }
    }
    return tasks;
  } finally {
    db.close();
  }
}

function isGoodGold(db: Database.Database, sql: string): boolean {
  const rows = db.prepare(sql).raw(true).all() as unknown[][];
  if (rows.length === 0 || rows.length > MAX_GOLD_ROWS) return false;
  return !rows.every((row) => row.every((v) => v === null));
}

export function builtinTasks(config: SqlConfig): Task[] {
  return config.databases.flatMap((database) => generateDatabaseTasks(database, config));
}
