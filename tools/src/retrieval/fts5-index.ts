import type Database from 'better-sqlite3';
import { analyze } from './analyzer.ts';
import { indexedText, type ScoredDocument } from './bm25-index.ts';
import { type FileWriter, openSqliteFile, sqliteFileWriter } from './sqlite-file-writer.ts';
import type { RetrievalDocument } from './types.ts';

/**
 * A term as an FTS5 token: ASCII terms stay as they are, any other becomes `_` + the hex of its
 * UTF-8 bytes. Every token is then made of [a-z0-9_], which FTS5's tokenizer (with `_` as a
 * token character) splits exactly where `analyze` did, and `_` never starts a plain term.
 */
export function fts5Token(term: string): string {
  return /^[a-z0-9]+$/.test(term) ? term : `_${Buffer.from(term, 'utf8').toString('hex')}`;
}

const TABLE = 'passages';
const TOKENIZE = `unicode61 remove_diacritics 0 tokenchars '_'`;

/**
 * SQLite FTS5 with its own bm25() ranking (Robertson/Spärck Jones IDF floored at 1e-6, k1 = 1.2,
 * b = 0.75, compiled into SQLite). Documents are stored pre-analysed — the terms of this
 * package's `analyze`, one token each (see `fts5Token`) — so FTS5 sees exactly the terms, term
 * frequencies and document lengths the other indexes see; only the scoring formula is FTS5's.
 * Its exact reference is `scanBm25` with `FTS5_BM25_SCORING`. Row ids are positions + 1.
 */
export class Fts5Bm25Index {
  private readonly query: Database.Statement<[string, number], { rowid: number; score: number }>;

  private constructor(private readonly db: Database.Database) {
    this.query = db.prepare(
      `SELECT rowid, bm25(${TABLE}) AS score FROM ${TABLE} WHERE ${TABLE} MATCH ? ORDER BY score, rowid LIMIT ?`,
    );
  }

  /** Starts an index in `file`: add documents in order, then `finish` (see `sqliteFileWriter`). */
  static writer(file: string): FileWriter<Pick<RetrievalDocument, 'title' | 'text'>> {
    return sqliteFileWriter(file, {
      schema: `CREATE VIRTUAL TABLE ${TABLE} USING fts5(terms, tokenize="${TOKENIZE}", content='')`,
      insert: `INSERT INTO ${TABLE}(rowid, terms) VALUES (?, ?)`,
      row: (doc, position) => [position + 1, analyze(indexedText(doc)).map(fts5Token).join(' ')],
      // One b-tree per term instead of many segments: fewer pages a query reads.
      complete: (db) => db.exec(`INSERT INTO ${TABLE}(${TABLE}) VALUES ('optimize')`),
    });
  }

  static open(file: string): Fts5Bm25Index {
    return new Fts5Bm25Index(
      openSqliteFile(file, { code: 'index_missing', what: 'FTS5 index', builder: 'Fts5Bm25Index.build' }),
    );
  }

  /** The top `k` documents for `query`, best first (scores are −bm25(), so higher is better). */
  search(query: string, k: number): ScoredDocument[] {
    const terms = analyze(query).map((t) => `"${fts5Token(t)}"`);
    if (terms.length === 0 || k <= 0) return [];
    return this.query.all(terms.join(' OR '), k).map((row) => ({ index: row.rowid - 1, score: -row.score }));
  }

  close(): void {
    this.db.close();
  }
}
