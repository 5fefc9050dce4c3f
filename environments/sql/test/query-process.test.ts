/**
 * The query process outlives its pool's interest: when the pool goes away while a query runs
 * (its trainer stopped waiting or ended), the reply it cannot deliver ends the process quietly
 * (exit 0), never as an uncaught EPIPE / ERR_IPC_CHANNEL_CLOSED printed into the trainer's stderr.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { buildBuiltinDatabase } from '../src/index.ts';

const ENTRY = fileURLToPath(new URL('../src/executor/query-process.ts', import.meta.url));
const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** About a second of SQLite work: long enough for the pool to leave while it runs. */
const SLOW = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c';

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
  child.send({ kind: 'query', id: 1, session: 's', database, sql: SLOW, maxRows: 5, maxRowsCounted: 10, maxCellChars: 100 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  child.disconnect();
  expect(await exited).toBe(0);
  expect(stderr).toBe('');
});
