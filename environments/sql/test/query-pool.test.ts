import { afterAll, describe, expect, it } from 'vitest';
import { buildBuiltinDatabase, QueryError, QueryPool, type QueryRequest } from '../src/index.ts';

const database = buildBuiltinDatabase('geography', 7);
const pool = new QueryPool(2);
afterAll(() => pool.close());

const request = (sql: string, session = 'a', extra: Partial<QueryRequest> = {}): QueryRequest => ({
  session,
  database,
  sql,
  maxRows: 20,
  maxRowsCounted: 100_000,
  maxCellChars: 1000,
  ...extra,
});
/** Never ends on its own: counts forever. */
const RUNAWAY = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function failure(promise: Promise<unknown>): Promise<QueryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QueryError) return error;
    throw error;
  }
  throw new Error('the query did not fail');
}

describe('QueryPool', () => {
  it('runs a query in a separate process', async () => {
    const result = await pool.run(request("SELECT name FROM countries WHERE code = 'FRA'"), 10_000);
    expect(result).toMatchObject({
      columns: ['name'],
      rows: [['France']],
      rowCount: 1,
      rowCountComplete: true,
    });
    expect(pool.processIds().every((pid) => pid !== process.pid)).toBe(true);
  });

  it('kills a runaway query at the limit, and the next query runs', async () => {
    const before = pool.processIds();
    const started = performance.now();
    const error = await failure(pool.run(request(RUNAWAY), 1_000));
    const elapsed = performance.now() - started;
    expect(error.code).toBe('query_timeout');
    expect(error.message).toMatch(/ran longer than 1000 ms and was stopped/);
    // Stopped at the limit, not whenever the query would have ended (never).
    expect(elapsed).toBeLessThan(5_000);
    // The process that ran it is really gone (not left burning a core).
    await new Promise((r) => setTimeout(r, 200));
    const killed = before.filter((pid) => !pool.processIds().includes(pid));
    expect(killed).toHaveLength(1);
    expect(alive(killed[0] as number)).toBe(false);
    const next = await pool.run(request('SELECT COUNT(*) FROM countries'), 10_000);
    expect(next.rows).toEqual([[250]]);
  });

  it('keeps other sessions going while one query runs away', async () => {
    let runawayEnded = false;
    const runaway = failure(pool.run(request(RUNAWAY, 'slow'), 8_000)).finally(() => {
      runawayEnded = true;
    });
    const fast = await pool.run(request("SELECT capital FROM countries WHERE code = 'JPN'", 'fast'), 10_000);
    expect(fast.rows).toEqual([['Tokyo']]);
    // The fast query did not wait for the runaway one to be stopped.
    expect(runawayEnded).toBe(false);
    expect((await runaway).code).toBe('query_timeout');
  });

  it('reports a crashed query process and recovers', async () => {
    const running = failure(pool.run(request(RUNAWAY, 'crash'), 20_000));
    // Wait until the runaway query is running (its process may still be starting).
    let busy = pool.processIds({ busy: true });
    for (let waited = 0; busy.length === 0 && waited < 30_000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      busy = pool.processIds({ busy: true });
    }
    expect(busy).toHaveLength(1);
    process.kill(busy[0] as number, 'SIGKILL');
    const error = await running;
    expect(error.code).toBe('executor_crashed');
    expect(error.message).toMatch(/query process stopped \(SIGKILL\)/);
    expect((await pool.run(request('SELECT 1'), 10_000)).rows).toEqual([[1]]);
  });

  it('counts huge results only up to the bound and keeps only the rows asked for', async () => {
    const result = await pool.run(
      request(
        'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5000000) SELECT x FROM c',
        'big',
        { maxRowsCounted: 50_000 },
      ),
      10_000,
    );
    expect(result.rows).toHaveLength(20);
    expect(result.rowCount).toBe(50_000);
    expect(result.rowCountComplete).toBe(false);
  });

  it('cuts huge text cells inside the query process', async () => {
    const result = await pool.run(
      request("SELECT printf('%.*c', 5000000, 'x') AS big", 'big', { maxCellChars: 100 }),
      10_000,
    );
    expect(String(result.rows[0]?.[0]).length).toBe(100);
    expect(result.cellsCut).toBe(true);
  });

  it('refuses writes at the connection even past the guard (WITH … DELETE, CREATE TEMP)', async () => {
    for (const sql of [
      'WITH x AS (SELECT 1) DELETE FROM borders',
      'CREATE TEMP TABLE t AS SELECT 1',
      'PRAGMA journal_mode = WAL',
    ]) {
      const error = await failure(pool.run(request(sql), 10_000));
      expect(error.code).toBe('sql_refused');
    }
    const loader = await failure(pool.run(request("SELECT load_extension('x')"), 10_000));
    expect(loader.code).toBe('sql_error');
    expect(loader.message).toMatch(/not authorized/);
  });

  it('lets a query cancelled while it waits for a process leave the queue, and close fails the rest', async () => {
    const small = new QueryPool(1);
    try {
      let held = true;
      const holding = failure(small.run(request(RUNAWAY, 'holder'), 60_000)).finally(() => {
        held = false;
      });
      const cancel = new AbortController();
      let settled = false;
      const queued = failure(small.run(request('SELECT 1', 'queued'), 60_000, cancel.signal)).finally(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).toBe(false);
      cancel.abort();
      // Rejected as soon as it is cancelled, without waiting for the runaway query's process.
      const error = await queued;
      expect(error.code).toBe('query_timeout');
      expect(error.message).toMatch(/cancelled/);
      expect(held).toBe(true);
      expect(small.processIds()).toHaveLength(1);
      // A caller already cancelled never queues.
      expect((await failure(small.run(request('SELECT 1'), 60_000, AbortSignal.abort()))).message).toMatch(
        /cancelled/,
      );
      const waiting = failure(small.run(request('SELECT 2', 'late'), 60_000));
      small.close();
      expect((await waiting).code).toBe('executor_crashed');
      expect((await holding).code).toBe('executor_crashed');
    } finally {
      small.close();
    }
  });
});
