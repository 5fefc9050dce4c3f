import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** `environments/sql/data/generated/` — gitignored, rebuilt on demand. */
export const GENERATED_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../data/generated',
);

/**
 * Builds a SQLite file once: an existing file whose `user_version` equals `version` is reused.
 * The file is written under a temporary name and renamed, so concurrent builders (several
 * stdio servers starting at once) never see a half-written database.
 */
export function buildSqliteFile(
  file: string,
  version: number,
  fill: (db: Database.Database) => void,
): string {
  if (existsSync(file) && fileVersion(file) === version) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  const db = new Database(temporary);
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('foreign_keys = ON');
    db.transaction(() => fill(db))();
    const violations = db.pragma('foreign_key_check') as unknown[];
    if (violations.length > 0)
      throw new Error(`${path.basename(file)}: ${violations.length} foreign key violations`);
    db.pragma(`user_version = ${version}`);
    db.exec('VACUUM');
  } catch (error) {
    db.close();
    rmSync(temporary, { force: true });
    throw error;
  }
  db.close();
  renameSync(temporary, file);
  return file;
}

function fileVersion(file: string): number | undefined {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.pragma('user_version', { simple: true }) as number;
    } finally {
      db.close();
    }
  } catch {
    return undefined;
  }
}

/** Inserts rows given as objects whose keys are the column names. */
export function insertRows(
  db: Database.Database,
  table: string,
  rows: readonly Record<string, unknown>[],
): void {
  const first = rows[0];
  if (!first) return;
  const columns = Object.keys(first);
  const statement = db.prepare(
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
  );
  for (const row of rows) statement.run(row);
}

/** A date as the built-in databases store it: ISO 'YYYY-MM-DD' (UTC). */
export const isoDate = (d: Date): string => d.toISOString().slice(0, 10);

/** One day in milliseconds, for generated date arithmetic. */
export const DAY_MS = 86_400_000;
