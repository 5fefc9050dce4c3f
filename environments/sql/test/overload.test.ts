/**
 * Many episodes at once against one query process that keeps failing: runaway queries past their
 * limit queue behind each other, and the busy process is killed (SIGKILL, by the pid this test's
 * pool started) while others wait. Every call ends as an `isError` result with its code, every
 * episode is graded, and nothing reaches the process as an unhandled rejection.
 */
import { Environment } from '@toolgym/env-kit';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import sql, { sharedQueryPool } from '../src/index.ts';

const EPISODES = 12;
const env = new Environment(sql, sql.parseConfig({ queryTimeoutMs: 400, executors: 1 }));
const RUNAWAY = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
afterAll(() => sharedQueryPool(1).close());

const unhandled: unknown[] = [];
const record = (reason: unknown) => unhandled.push(reason);
beforeEach(() => process.on('unhandledRejection', record));
afterEach(() => {
  process.off('unhandledRejection', record);
});

it('ends every call of many episodes as an isError result while its query process times out and is killed', { timeout: 120_000 }, async () => {
  const tasks = (await env.tasksOf('train')).slice(0, EPISODES);
  const episodes = await Promise.all(tasks.map((task) => env.openEpisode({ taskId: task.id })));
  const calls = Promise.all(episodes.map((episode) => episode.callTool('execute_sql', { sql: RUNAWAY })));
  // Kill the process running the first query while the other episodes queue behind it.
  const pool = sharedQueryPool(1);
  for (let i = 0; i < 200 && pool.processIds({ busy: true }).length === 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 10));
  const [busy] = pool.processIds({ busy: true });
  if (busy !== undefined) process.kill(busy, 'SIGKILL');
  const outcomes = await calls;
  const codes = outcomes.map((outcome) => outcome.errorCode);
  expect(outcomes.filter((outcome) => !outcome.isError)).toEqual([]);
  // Calls still queued when the tool's own limit passes end as tool_timeout.
  expect(codes.filter((code) => !['query_timeout', 'executor_crashed', 'tool_timeout'].includes(code ?? ''))).toEqual([]);
  expect(busy).toBeTypeOf('number');
  expect(codes).toContain('executor_crashed');
  const ends = await Promise.all(episodes.map((episode) => episode.end()));
  expect(ends).toHaveLength(EPISODES);
  expect(ends.every((end) => end.reward.total === 0 && end.toolCalls === 1)).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(unhandled).toEqual([]);
});

