/** The IPC messages between the query pool and a query process. */

export type SqlValue = number | string | null | bigint | Uint8Array;

/** Rows of one query: the first `maxRows`, and how many there were (counted up to a bound). */
export interface QueryResult {
  columns: string[];
  rows: SqlValue[][];
  /** Rows counted; equals the real count when `rowCountComplete`. */
  rowCount: number;
  /** False when counting stopped at `maxRowsCounted`. */
  rowCountComplete: boolean;
  /** Some text cells were cut to `maxCellChars`. */
  cellsCut: boolean;
}

export interface QueryRequest {
  /** Whose connection runs it (one read-only connection per session and database). */
  session: string;
  database: string;
  sql: string;
  maxRows: number;
  maxRowsCounted: number;
  /** Text cells longer than this are cut (keeps huge strings out of memory and IPC). */
  maxCellChars: number;
  /**
   * The SQLite extension to load into the connection so that double-quoted string literals read
   * as Python's sqlite3 reads them (`doubleQuotedStringsExtension`); absent: SQLite's strict rule.
   */
  doubleQuotedStrings?: string;
}

export type ToExecutor =
  | ({ kind: 'query'; id: number } & QueryRequest)
  | { kind: 'release'; session: string };

export type FromExecutor =
  /** Sent once at start-up: the query clock starts only after it, so start-up time never counts against a query. */
  | { ready: true }
  | { id: number; ok: true; result: QueryResult }
  | { id: number; ok: false; code: 'sql_error' | 'sql_refused'; message: string };
