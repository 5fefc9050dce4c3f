/**
 * The query process: holds read-only SQLite connections and runs one query at a time. It is a
 * separate process because better-sqlite3 is synchronous and a running SQLite statement cannot
 * be interrupted from JavaScript; the pool kills this process when a query overruns its limit.
 */
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { FromExecutor, QueryRequest, QueryResult, SqlValue, ToExecutor } from './messages.ts';

const connections = new Map<string, Database.Database>();
/** How often the watchdog checks that the pool's process is still this one's parent. */
const PARENT_POLL_MS = 500;

function connectionFor(
  session: string,
  database: string,
  doubleQuotedStrings: string | undefined,
): Database.Database {
  const key = `${session}\u0000${database}\u0000${doubleQuotedStrings ?? ''}`;
  let db = connections.get(key);
  if (!db) {
    db = new Database(database, { readonly: true, fileMustExist: true });
    // Second lock on the same door: even a statement SQLite thinks is harmless may not write.
    db.pragma('query_only = ON');
    if (doubleQuotedStrings) db.loadExtension(doubleQuotedStrings);
    connections.set(key, db);
  }
  return db;
}

function runQuery(request: QueryRequest): QueryResult {
  const db = connectionFor(request.session, request.database, request.doubleQuotedStrings);
  const statement = db.prepare(request.sql);
  if (!statement.readonly)
    throw Object.assign(new Error('This statement would change the database; only read-only queries run.'), {
      refused: true,
    });
  if (!statement.reader)
    throw Object.assign(new Error('This statement returns no rows; only queries run.'), { refused: true });
  statement.raw(true);
  const columns = statement.columns().map((c) => c.name);
  const rows: SqlValue[][] = [];
  let rowCount = 0;
  let cellsCut = false;
  for (const row of statement.iterate() as IterableIterator<SqlValue[]>) {
    if (rowCount < request.maxRows) {
      rows.push(
        row.map((value) => {
          if (typeof value === 'string' && value.length > request.maxCellChars) {
            cellsCut = true;
            return value.slice(0, request.maxCellChars);
          }
          return value;
        }),
      );
    }
    rowCount++;
    if (rowCount >= request.maxRowsCounted) {
      return { columns, rows, rowCount, rowCountComplete: false, cellsCut };
    }
  }
  return { columns, rows, rowCount, rowCountComplete: true, cellsCut };
}

process.on('message', (message: ToExecutor) => {
  if (message.kind === 'release') {
    for (const [key, db] of connections) {
      if (key.startsWith(`${message.session}\u0000`)) {
        db.close();
        connections.delete(key);
      }
    }
    return;
  }
  let reply: FromExecutor;
  try {
    reply = { id: message.id, ok: true, result: runQuery(message) };
  } catch (error) {
    const refused = (error as { refused?: boolean }).refused === true;
    reply = {
      id: message.id,
      ok: false,
      code: refused ? 'sql_refused' : 'sql_error',
      message: error instanceof Error ? error.message : String(error),
    };
  }
  // The pool may have gone while the query ran (it stopped waiting, or its process ended): a reply
  // it cannot take fails in the callback, where it ends this process quietly instead of as an
  // uncaught 'error' (EPIPE, ERR_IPC_CHANNEL_CLOSED).
  process.send?.(reply, (error: Error | null) => {
    if (error) process.exit(0);
  });
});

process.send?.({ ready: true } satisfies FromExecutor);

// The pool went away (its process exited): nothing is left to serve.
process.on('disconnect', () => process.exit(0));

/**
 * A runaway query blocks this thread, so 'disconnect' never fires while it runs: a pool whose
 * process was killed would leave it burning a core forever. A watchdog thread notices that the
 * parent is gone (this process was re-parented) and kills the whole process from there.
 */
const watchdog = new Worker(
  `const { workerData: parent } = require('node:worker_threads');
   setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL'); }, ${PARENT_POLL_MS});`,
  { eval: true, execArgv: [], workerData: process.ppid },
);
watchdog.unref();
