import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { RetrievalConfigError } from './types.ts';

/** Adds items one at a time; `finish` makes the file. */
export interface FileWriter<T> {
  add(item: T): void;
  finish(): void;
}

const BATCH = 10_000;

/**
 * A new SQLite file filled row by row in batched transactions, without a journal (a build that
 * fails is thrown away, not recovered). It is written under a temporary name and renamed when
 * `finish` is done, so a crash or an error never leaves a file that opens.
 */
export function sqliteFileWriter<T>(
  file: string,
  options: {
    schema: string;
    insert: string;
    /** The values of `insert` for the item at `position` (0, 1, …). */
    row(item: T, position: number): unknown[];
    /** Runs before the file is renamed into place (indexes, checks, optimisation). */
    complete?(db: Database.Database): void;
  },
): FileWriter<T> {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const db = new Database(tmp);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.exec(options.schema);
  const insert = db.prepare(options.insert);
  let position = 0;
  let batch: T[] = [];
  const flush = db.transaction((items: T[]) => {
    for (const item of items) insert.run(...options.row(item, position++));
  });
  const guarded = (work: () => void) => {
    try {
      work();
    } catch (error) {
      if (db.open) db.close();
      rmSync(tmp, { force: true });
      throw error;
    }
  };
  return {
    add(item) {
      batch.push(item);
      if (batch.length < BATCH) return;
      guarded(() => flush(batch));
      batch = [];
    },
    finish() {
      guarded(() => {
        flush(batch);
        options.complete?.(db);
        db.close();
        renameSync(tmp, file);
      });
    },
  };
}

/** Opens a file `sqliteFileWriter` made, read-only; a missing file is an error naming its builder. */
export function openSqliteFile(
  file: string,
  missing: { code: string; what: string; builder: string },
): Database.Database {
  if (!existsSync(file)) {
    throw new RetrievalConfigError(
      missing.code,
      `no ${missing.what} at ${file}`,
      `build it with ${missing.builder}`,
    );
  }
  return new Database(file, { readonly: true, fileMustExist: true });
}
