import type Database from 'better-sqlite3';
import { type FileWriter, openSqliteFile, sqliteFileWriter } from './sqlite-file-writer.ts';
import { DocumentStore, RetrievalConfigError, type RetrievalDocument } from './types.ts';

type Row = { position: number; id: string; title: string; url: string; text: string };

/**
 * Documents in a SQLite file, read one at a time: the store of a corpus too large to hold in
 * memory (a million passages are about a gigabyte of JavaScript strings). Positions are row ids,
 * so the `at` a ranking needs is one primary-key lookup; ids have a unique index.
 */
export class SqliteDocumentStore extends DocumentStore {
  readonly size: number;
  private readonly byPosition: Database.Statement<[number], Row>;
  private readonly byId: Database.Statement<[string], Row>;

  private constructor(private readonly db: Database.Database) {
    super();
    this.byPosition = db.prepare('SELECT * FROM documents WHERE position = ?');
    this.byId = db.prepare('SELECT * FROM documents WHERE id = ?');
    this.size = (db.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n;
  }

  /**
   * Starts a store in `file`: add documents in order (their positions), then `finish` (see
   * `sqliteFileWriter`); a repeated id fails the build.
   */
  static writer(file: string): FileWriter<RetrievalDocument> {
    return sqliteFileWriter(file, {
      schema:
        'CREATE TABLE documents (position INTEGER PRIMARY KEY, id TEXT NOT NULL, title TEXT NOT NULL, url TEXT NOT NULL, text TEXT NOT NULL)',
      insert: 'INSERT INTO documents VALUES (?, ?, ?, ?, ?)',
      row: (d, position) => [position, d.id, d.title, d.url, d.text],
      complete(db) {
        const dup = db.prepare('SELECT id FROM documents GROUP BY id HAVING count(*) > 1 LIMIT 1').get() as
          | { id: string }
          | undefined;
        if (dup)
          throw new RetrievalConfigError('duplicate_document', `two documents have the id '${dup.id}'`);
        // Built after the rows: one sorted pass instead of an index grown row by row.
        db.exec('CREATE UNIQUE INDEX documents_id ON documents(id)');
      },
    });
  }

  static open(file: string): SqliteDocumentStore {
    return new SqliteDocumentStore(
      openSqliteFile(file, {
        code: 'store_missing',
        what: 'document store',
        builder: 'SqliteDocumentStore.writer',
      }),
    );
  }

  get(id: string): RetrievalDocument | undefined {
    const row = this.byId.get(id);
    return row && document(row);
  }

  indexOf(id: string): number | undefined {
    return this.byId.get(id)?.position;
  }

  at(index: number): RetrievalDocument {
    const row = this.byPosition.get(index);
    if (!row) throw new RetrievalConfigError('bad_document_index', `no document at position ${index}`);
    return document(row);
  }

  *all(): IterableIterator<RetrievalDocument> {
    for (const row of this.db
      .prepare('SELECT * FROM documents ORDER BY position')
      .iterate() as IterableIterator<Row>)
      yield document(row);
  }

  close(): void {
    this.db.close();
  }
}

const document = (row: Row): RetrievalDocument => ({
  id: row.id,
  title: row.title,
  url: row.url,
  text: row.text,
});
