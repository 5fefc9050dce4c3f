import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatZodIssues } from '@toolgym/env-kit';
import type { Task } from '@toolgym/protocol';
import { z } from 'zod';
import { type DatabaseDocs, readColumnDescriptions, readTablesJson, type TablesEntry } from './benchmark-schema.ts';
import { type SqlAnswer, taskPrompt } from './sql-task.ts';

export type BenchmarkKind = 'spider' | 'bird';

/** One Spider question (train_spider.json, train_others.json, dev.json). */
const SpiderEntrySchema = z.object({ db_id: z.string(), question: z.string(), query: z.string() });
/** One BIRD question (train.json, dev.json). */
const BirdEntrySchema = z.object({
  question_id: z.number().int().optional(),
  db_id: z.string(),
  question: z.string(),
  evidence: z.string().optional(),
  SQL: z.string(),
  difficulty: z.string().optional(),
});

/**
 * The question files of each release and the split they feed. Spider keeps all databases in
 * `database/`; BIRD keeps them next to each question file in `<stem>_databases/` (we also
 * accept `database/`).
 */
const LAYOUTS: Record<
  BenchmarkKind,
  Array<{ file: string; split: 'train' | 'test'; databaseDirs: string[] }>
> = {
  spider: [
    { file: 'train_spider.json', split: 'train', databaseDirs: ['database'] },
    { file: 'train_others.json', split: 'train', databaseDirs: ['database'] },
    { file: 'dev.json', split: 'test', databaseDirs: ['database'] },
  ],
  bird: [
    { file: 'train.json', split: 'train', databaseDirs: ['train_databases', 'database'] },
    { file: 'dev.json', split: 'test', databaseDirs: ['dev_databases', 'database'] },
  ],
};

/** The schema files of each release (`tables.json` format), read for keys and column names. */
const TABLES_FILES: Record<BenchmarkKind, string[]> = {
  spider: ['tables.json'],
  bird: ['dev_tables.json', 'train_tables.json'],
};

const tablesByDir = new Map<string, Map<string, TablesEntry>>();
const descriptionsByFile = new Map<string, DatabaseDocs['descriptions']>();

/**
 * What a release says about one of its databases beyond the SQLite file: its `tables.json` entry
 * and, for BIRD, `database_description/*.csv` next to the file. Read once per process.
 */
export function benchmarkDocs(kind: BenchmarkKind, dir: string, dbId: string, databaseFile: string): DatabaseDocs {
  const root = path.resolve(dir);
  let tables = tablesByDir.get(root);
  if (!tables) {
    tables = readTablesJson(TABLES_FILES[kind].map((f) => path.join(root, f)));
    tablesByDir.set(root, tables);
  }
  let descriptions = descriptionsByFile.get(databaseFile);
  if (!descriptions) {
    descriptions = readColumnDescriptions(databaseFile);
    descriptionsByFile.set(databaseFile, descriptions);
  }
  const entry = tables.get(dbId);
  return { ...(entry ? { tables: entry } : {}), descriptions };
}

/**
 * Loads a Spider or BIRD directory as tasks: each question becomes a task whose gold answer is
 * the released SQL, run against `<databases>/<db_id>/<db_id>.sqlite`. Missing files fail at once
 * with the paths that were looked for.
 */
export function loadBenchmarkTasks(kind: BenchmarkKind, dir: string): Task[] {
  const root = path.resolve(dir);
  if (!existsSync(root))
    throw new ConfigError(
      `${kind} directory '${root}' does not exist`,
      `pass --dataset ${kind}:<directory of the ${kind} release>`,
    );
  const found = LAYOUTS[kind].filter((layout) => existsSync(path.join(root, layout.file)));
  if (found.length === 0) {
    throw new ConfigError(
      `no ${kind} question files in '${root}'`,
      `expected one of ${LAYOUTS[kind].map((l) => l.file).join(', ')} (the layout of the official ${kind} release)`,
    );
  }
  const tasks: Task[] = [];
  for (const layout of found) {
    const file = path.join(root, layout.file);
    const shape = `the official ${kind} ${layout.file} is one JSON array of questions`;
    let entries: unknown;
    try {
      entries = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`${file} is not JSON: ${(error as Error).message}`, shape);
    }
    if (!Array.isArray(entries)) throw new ConfigError(`${file} is not a JSON array of questions`, shape);
    const stem = layout.file.replace(/\.json$/, '');
    const databaseFile = (dbId: string) => {
      for (const databaseDir of layout.databaseDirs) {
        const candidate = path.join(root, databaseDir, dbId, `${dbId}.sqlite`);
        if (existsSync(candidate)) return candidate;
      }
      throw new ConfigError(
        `${kind}: database '${dbId}' (used by ${layout.file}) not found`,
        `looked for ${layout.databaseDirs.map((d) => path.join(root, d, dbId, `${dbId}.sqlite`)).join(' and ')}`,
      );
    };
    const files = new Map<string, string>();
    entries.forEach((raw, index) => {
      const where = `${layout.file}[${index}]`;
      const entry =
        kind === 'spider'
          ? (() => {
              const e = SpiderEntrySchema.safeParse(raw);
              if (!e.success)
                throw new ConfigError(
                  `${where} is not a Spider question: ${formatZodIssues(e.error)}`,
                  'is this a BIRD directory? use bird:<dir>',
                );
              return {
                id: String(index),
                dbId: e.data.db_id,
                question: e.data.question,
                sql: e.data.query,
                meta: {},
              };
            })()
          : (() => {
              const e = BirdEntrySchema.safeParse(raw);
              if (!e.success)
                throw new ConfigError(
                  `${where} is not a BIRD question: ${formatZodIssues(e.error)}`,
                  'is this a Spider directory? use spider:<dir>',
                );
              const { evidence, difficulty } = e.data;
              return {
                id: String(e.data.question_id ?? index),
                dbId: e.data.db_id,
                question: e.data.question,
                sql: e.data.SQL,
                meta: { ...(evidence ? { evidence } : {}), ...(difficulty ? { difficulty } : {}) },
              };
            })();
      let databasePath = files.get(entry.dbId);
      if (!databasePath) {
        databasePath = databaseFile(entry.dbId);
        files.set(entry.dbId, databasePath);
      }
      const answer: SqlAnswer = { sql: entry.sql, database: entry.dbId };
      const evidence = (entry.meta as { evidence?: string }).evidence;
      tasks.push({
        id: `${kind}/${stem}/${entry.id}`,
        split: layout.split,
        prompt: taskPrompt({
          question: entry.question,
          database: entry.dbId,
          ...(evidence ? { evidence } : {}),
        }),
        answer,
        meta: { database: entry.dbId, databasePath, question: entry.question, source: kind, ...entry.meta },
      });
    });
  }
  return tasks;
}
