/**
 * The query process outlives its pool's interest: when the pool goes away while a query runs
 * (its trainer stopped waiting or ended), the reply it cannot deliver ends the process quietly
 * (exit 0), never as an uncaught EPIPE / ERR_IPC_CHANNEL_CLOSED printed into the trainer's stderr.
 */
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { buildBuiltinDatabase } from '../src/index.ts';

const ENTRY = fileURLToPath(new URL('../src/executor/query-process.ts', import.meta.url));
const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** About a second of SQLite work: long enough for the pool to leave while it runs. */
/** Never ends on its own: counts forever. */
const RUNAWAY = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
const SLOW =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c';

it('exits cleanly when its pool disconnects while a query runs', { timeout: 60_000 }, async () => {
  const database = buildBuiltinDatabase('geography', 7);
  const child = fork(ENTRY, [], {
    execArgv: ['--import', loader],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise((resolve) => child.once('message', resolve));
  child.send({
    kind: 'query',
    id: 1,
    session: 's',
    database,
    sql: SLOW,
    maxRows: 5,
    maxRowsCounted: 10,
    maxCellChars: 100,
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  child.disconnect();
  expect(await exited).toBe(0);
  expect(stderr).toBe('');
});

/** Gone, or a zombie waiting to be reaped: either way it no longer runs. */
function stopped(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

it('dies with its pool when the pool is killed mid-query (a runaway query would otherwise run forever)', {
  timeout: 60_000,
}, async () => {
  const database = buildBuiltinDatabase('geography', 7);
  // The pool's stand-in: forks the query process, starts a query that never ends, prints the pid.
  const pool = spawn(
    process.execPath,
    [
      '-e',
      `const { fork } = require('node:child_process');
       const [entry, loader, database] = process.argv.slice(1);
       const child = fork(entry, [], { execArgv: ['--import', loader], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
       child.once('message', () => {
         child.send({ kind: 'query', id: 1, session: 's', database, sql: ${JSON.stringify(RUNAWAY)}, maxRows: 5, maxRowsCounted: 10, maxCellChars: 100 });
         setTimeout(() => console.log(child.pid), 300);
       });`,
      ENTRY,
      loader,
      database,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const pid = await new Promise<number>((resolve) =>
    pool.stdout?.once('data', (chunk) => resolve(Number(String(chunk).trim()))),
  );
  expect(Number.isInteger(pid) && pid > 0).toBe(true);
  try {
    expect(stopped(pid)).toBe(false);
    pool.kill('SIGKILL');
    const deadline = Date.now() + 30_000;
    while (!stopped(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped(pid)).toBe(true);
  } finally {
    if (!stopped(pid)) process.kill(pid, 'SIGKILL');
  }
});
