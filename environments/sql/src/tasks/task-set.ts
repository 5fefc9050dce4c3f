import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hashString } from '@toolgym/protocol';
import type { Task } from '@toolgym/protocol';
import type { SqlConfig } from '../config.ts';
import { BUILTIN_DESCRIPTIONS, type BuiltinDatabase, buildBuiltinDatabase } from '../databases/catalog.ts';
import { GENERATED_DIR } from '../databases/sqlite-file.ts';
import { type BenchmarkKind, loadBenchmarkTasks } from './benchmark-loader.ts';
import { builtinTasks, TEMPLATES } from './builtin-tasks.ts';

/** `spider:/path` → { kind: 'spider', dir: '/path' }; undefined for 'builtin'. */
export function parseDataset(dataset: string): { kind: BenchmarkKind; dir: string } | undefined {
  const match = /^(spider|bird):(.+)$/.exec(dataset);
  return match ? { kind: match[1] as BenchmarkKind, dir: match[2] as string } : undefined;
}

/**
 * The task set of a config. Built-in tasks are cached on disk, keyed by everything that shapes
 * them (the options and the templates' own source), since every stdio server process asks for them.
 */
export function sqlTasks(config: SqlConfig): Task[] {
  const benchmark = parseDataset(config.dataset);
  if (benchmark) return loadBenchmarkTasks(benchmark.kind, benchmark.dir);
  const key = hashString(
    JSON.stringify({
      databases: config.databases,
      seed: config.seed,
      questionsPerDatabase: config.questionsPerDatabase,
      testDatabase: config.testDatabase,
      testIidFraction: config.testIidFraction,
      templates: Object.values(TEMPLATES).map((list) =>
        list.map((t) => [t.id, t.params, t.sql.toString(), t.phrasings.map(String)]),
      ),
      about: BUILTIN_DESCRIPTIONS,
    }),
  ).toString(36);
  const file = path.join(GENERATED_DIR, `tasks-${key}.json`);
  if (existsSync(file)) {
    // The databases must exist too (a cleaned data dir keeps no stale task list alive).
    for (const database of config.databases) buildBuiltinDatabase(database, config.seed);
    return JSON.parse(readFileSync(file, 'utf8')) as Task[];
  }
  const tasks = builtinTasks(config);
  mkdirSync(GENERATED_DIR, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(tasks));
  renameSync(temporary, file);
  return tasks;
}

/** Built-in database files already checked in this process, by `name:seed`. */
const builtFiles = new Map<string, string>();

/** The SQLite file a task runs against (built-in files are built or checked once per process). */
export function databaseFileOf(task: Task, config: SqlConfig): string {
  const meta = task.meta as { database?: string; databasePath?: string };
  if (meta.databasePath) return meta.databasePath;
  const key = `${meta.database}:${config.seed}`;
  let file = builtFiles.get(key);
  if (!file) {
    file = buildBuiltinDatabase(meta.database as BuiltinDatabase, config.seed);
    builtFiles.set(key, file);
  }
  return file;
}
